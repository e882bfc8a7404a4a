// toOnnx -> ONNX Runtime (onnxruntime-node, CPU) and back through fromOnnx: the exported graph
// must compute what our model computes, for every family member, both layouts, bidirectional,
// multi-layer, variable lengths and initial states. Seeded; tolerances are float32 rounding.
import { expect } from 'chai';
import { createRequire } from 'node:module';
import * as cellstate from 'cellstate';
import { GRU, LSTM, RNN, Rng, fromOnnx, toOnnx, decodeOnnxModel, UnsupportedModelError } from 'cellstate';
import { randomTensor } from './helpers/random.mjs';
import { backendCases } from './helpers/backends.mjs';
import { allclose } from './helpers/reference.mjs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const TOL = { rtol: 1e-4, atol: 1e-5 };

const FAMILY = [
  ['LSTM', LSTM, {}],
  ['LSTM peephole + clip', LSTM, { peephole: true, clip: 0.8 }],
  ['LSTM inputForget', LSTM, { inputForget: true }],
  ['LSTM no bias, peephole', LSTM, { bias: false, peephole: true }],
  ['LSTM reverse', LSTM, { reverse: true }],
  ['GRU (linearBeforeReset, PyTorch)', GRU, {}],
  ['GRU ONNX default formula + clip', GRU, { linearBeforeReset: false, clip: 1.2 }],
  ['GRU no bias', GRU, { bias: false }],
  ['RNN tanh', RNN, {}],
  ['RNN relu', RNN, { nonlinearity: 'relu' }],
  ['RNN reverse relu', RNN, { reverse: true, nonlinearity: 'relu' }],
];

function ortFeeds(feeds) {
  const out = {};
  for (const [k, v] of Object.entries(feeds)) {
    out[k] = k === 'lengths' ? new ort.Tensor('int32', Int32Array.from(v), [v.length]) : new ort.Tensor('float32', v.data, v.shape);
  }
  return out;
}

async function runOrt(bytes, feeds) {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  return session.run(ortFeeds(feeds));
}

function expectClose(got, want, what) {
  expect(got.dims ?? got.shape, `${what} shape`).to.deep.equal(want.shape);
  expect(allclose(got.data, want.data, TOL), what).to.equal(null);
}

describe('toOnnx: the exported model runs in ONNX Runtime and matches ours', function () {
  let seed = 100;
  for (const { backend, dtype } of backendCases().filter((c) => c.dtype === 'float32')) {
    describe(`${backend}`, function () {
      for (const [name, Cls, extra] of FAMILY) {
        const dirsList = extra.reverse ? [false] : [false, true];
        for (const bidirectional of dirsList) {
          for (const batchFirst of [false, true]) {
            for (const withExtras of [false, true]) {
              const numLayers = withExtras ? 2 : 1 + (seed % 2);
              const s = seed++;
              const label = `${name}${bidirectional ? ', bidirectional' : ''}, ${batchFirst ? 'batch-first' : 'time-major'}, L=${numLayers}${withExtras ? ', lengths + h0' : ''}`;
              it(label, async function () {
                const rng = new Rng(s);
                const I = 3 + (s % 3), H = 2 + (s % 4), T = 4, B = 3;
                const model = new Cls({ inputSize: I, hiddenSize: H, numLayers, bidirectional, batchFirst, seed: s, backend, dtype, ...extra });
                const D = bidirectional ? 2 : 1;
                const x = randomTensor(rng, batchFirst ? [B, T, I] : [T, B, I]);
                const feeds = { x };
                const opts = {};
                if (withExtras) {
                  feeds.lengths = opts.lengths = [4, 1, 3];
                  feeds.h0 = opts.h0 = randomTensor(rng, [numLayers * D, B, H]);
                  if (Cls === LSTM) feeds.c0 = opts.c0 = randomTensor(rng, [numLayers * D, B, H]);
                }
                const bytes = toOnnx(model, { lengths: withExtras, initialState: withExtras });
                const ours = model.forward(x, opts);
                const theirs = await runOrt(bytes, feeds);
                expectClose(theirs.output, ours.output, 'output');
                expectClose(theirs.h_n, ours.hN, 'h_n');
                if (Cls === LSTM) expectClose(theirs.c_n, ours.cN, 'c_n');
                else expect(theirs.c_n).to.equal(undefined);
                // ... and our importer reads our exporter back to the same numbers.
                const back = fromOnnx(bytes, { backend, as: 'graph' }).forward(feeds);
                expectClose(back.output, ours.output, 'round-trip output');
                expectClose(back.h_n, ours.hN, 'round-trip h_n');
                // Without initial-state inputs the graph is a chain: a Sequential of the same layer.
                const seq = fromOnnx(bytes, { backend });
                expect(seq.constructor.name, 'fromOnnx of a chain').to.equal(withExtras ? 'OnnxModel' : 'Sequential');
                if (!withExtras) {
                  const r = seq.forward(x);
                  expectClose(r.output, ours.output, 'Sequential output');
                  expectClose(r.state[0].h, ours.hN, 'Sequential h_n');
                  // Bit-identical when every number was copied exactly (ONNX stores clip as a float32).
                  if (extra.clip === undefined || Math.fround(extra.clip) === extra.clip) expect(Array.from(r.output.data), 'bit-identical').to.deep.equal(Array.from(ours.output.data));
                }
              });
            }
          }
        }
      }
    });
  }

  it('opsets 14 and 21 both run in ONNX Runtime; the opset is recorded', async function () {
    const rng = new Rng(7);
    const model = new LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, seed: 7 });
    const x = randomTensor(rng, [5, 2, 3]);
    const ours = model.forward(x);
    for (const opset of [14, 21]) {
      const bytes = toOnnx(model, { opset });
      expect(decodeOnnxModel(bytes).opsetImport).to.deep.equal([{ domain: '', version: opset }]);
      const theirs = await runOrt(bytes, { x });
      expectClose(theirs.output, ours.output, `opset ${opset} output`);
    }
  });

  it('the batch-first option overrides the model layout (graph takes [B, T, I])', async function () {
    const rng = new Rng(8);
    const model = new GRU({ inputSize: 2, hiddenSize: 3, seed: 8 });
    const x = randomTensor(rng, [4, 2, 2]);
    const ours = model.forward(x);
    const xb = randomTensor(rng, [2, 4, 2]);
    // xb[b, t] = x[t, b]
    for (let t = 0; t < 4; t++) for (let b = 0; b < 2; b++) for (let i = 0; i < 2; i++) xb.data[(b * 4 + t) * 2 + i] = x.data[(t * 2 + b) * 2 + i];
    const theirs = await runOrt(toOnnx(model, { batchFirst: true }), { x: xb });
    expect(theirs.output.dims).to.deep.equal([2, 4, 3]);
    for (let t = 0; t < 4; t++) for (let b = 0; b < 2; b++) for (let j = 0; j < 3; j++) {
      expect(theirs.output.data[(b * 4 + t) * 3 + j]).to.be.closeTo(ours.output.data[(t * 2 + b) * 3 + j], 1e-5);
    }
  });

  it('layout: 1 writes the ONNX layout attribute instead of transposes (checked through our importer)', function () {
    const rng = new Rng(9);
    const model = new LSTM({ inputSize: 3, hiddenSize: 2, numLayers: 2, bidirectional: true, batchFirst: true, seed: 9 });
    const bytes = toOnnx(model, { layout: 1, lengths: true, initialState: true });
    const graph = decodeOnnxModel(bytes).graph;
    const lstmNodes = graph.node.filter((n) => n.opType === 'LSTM');
    expect(lstmNodes).to.have.length(2);
    for (const n of lstmNodes) expect(n.attribute.find((a) => a.name === 'layout').i).to.equal(1);
    const x = randomTensor(rng, [3, 4, 3]);
    const h0 = randomTensor(rng, [4, 3, 2]), c0 = randomTensor(rng, [4, 3, 2]);
    const ours = model.forward(x, { lengths: [2, 4, 1], h0, c0 });
    const back = fromOnnx(bytes).forward({ x, lengths: [2, 4, 1], h0, c0 });
    expectClose(back.output, ours.output, 'output');
    expectClose(back.h_n, ours.hN, 'h_n');
    expectClose(back.c_n, ours.cN, 'c_n');
  });

  it('a float64 model exports float32 weights that ONNX Runtime runs', async function () {
    const rng = new Rng(10);
    const model = new RNN({ inputSize: 2, hiddenSize: 3, seed: 10, dtype: 'float64' });
    const x = randomTensor(rng, [3, 1, 2]);
    const ours = model.forward(randomTensor(new Rng(10), [3, 1, 2], 'float64'));
    const theirs = await runOrt(toOnnx(model), { x });
    expect(allclose(theirs.output.data, ours.output.data, { rtol: 1e-4, atol: 1e-5 })).to.equal(null);
  });

  describe('refusals', function () {
    const cases = [
      [() => toOnnx(new LSTM({ inputSize: 3, hiddenSize: 4, projSize: 2, seed: 1 })), UnsupportedModelError, 'projSize: ONNX\'s LSTM operator has no projection'],
      [() => toOnnx({}), TypeError, 'toOnnx: model: expected an LSTM, GRU or RNN'],
      [() => toOnnx(new GRU({ inputSize: 1, hiddenSize: 1, seed: 1 }), { opset: 13 }), RangeError, 'options.opset: expected an opset in [14, 21], got 13'],
      [() => toOnnx(new GRU({ inputSize: 1, hiddenSize: 1, seed: 1 }), { opset: '17' }), TypeError, 'options.opset'],
      [() => toOnnx(new GRU({ inputSize: 1, hiddenSize: 1, seed: 1 }), { layout: 2 }), TypeError, 'options.layout: expected 0 or 1'],
      [() => toOnnx(new GRU({ inputSize: 1, hiddenSize: 1, seed: 1 }), { lenghts: true }), TypeError, 'options.lenghts'],
    ];
    for (const [fn, cls, frag] of cases) {
      it(`${cls.name}: ${frag}`, function () {
        expect(fn).to.throw(cls, frag);
      });
    }
    it('UnsupportedModelError is a TypeError', function () {
      expect(new UnsupportedModelError('x')).to.be.instanceOf(TypeError);
    });
  });
});

describe('toOnnx of a Sequential chain: ONNX Runtime computes what the model computes', function () {
  const { Sequential, Embedding, Linear, LastStep, Tanh, Sigmoid, ReLU, Softmax, Dropout } = cellstate;
  let seed = 500;
  const chains = [
    ['Embedding -> 2-layer bidirectional LSTM -> LastStep -> Linear (a many-to-one classifier)', (bf, backend, s) => [
      new Embedding({ numEmbeddings: 11, embeddingDim: 5, seed: s }),
      new LSTM({ inputSize: 5, hiddenSize: 6, numLayers: 2, bidirectional: true, batchFirst: bf, seed: s + 1, backend }),
      new LastStep({ batchFirst: bf }), new Linear({ inFeatures: 12, outFeatures: 3, seed: s + 2 })], 'ids'],
    ['LSTM -> Tanh -> Linear per step', (bf, backend, s) => [
      new LSTM({ inputSize: 4, hiddenSize: 5, batchFirst: bf, seed: s, backend }), new Tanh(), new Linear({ inFeatures: 5, outFeatures: 2, seed: s + 1 })], 'floats'],
    ['GRU -> ReLU -> Linear (no bias) -> Sigmoid', (bf, backend, s) => [
      new GRU({ inputSize: 4, hiddenSize: 5, batchFirst: bf, seed: s, backend }), new ReLU(), new Linear({ inFeatures: 5, outFeatures: 3, bias: false, seed: s + 1 }), new Sigmoid()], 'floats'],
    ['bidirectional LSTM -> LastStep finalStates (Keras return_sequences=False) -> Dropout -> Linear -> Softmax', (bf, backend, s) => [
      new LSTM({ inputSize: 4, hiddenSize: 3, bidirectional: true, batchFirst: bf, seed: s, backend }), new LastStep({ batchFirst: bf, finalStates: true }),
      new Dropout({ p: 0.3 }), new Linear({ inFeatures: 6, outFeatures: 3, seed: s + 1 }), new Softmax()], 'floats'],
    ['RNN -> GRU (bidirectional) -> LastStep -> Linear', (bf, backend, s) => [
      new RNN({ inputSize: 4, hiddenSize: 3, batchFirst: bf, seed: s, backend }), new GRU({ inputSize: 3, hiddenSize: 4, bidirectional: true, batchFirst: bf, seed: s + 1, backend }),
      new LastStep({ batchFirst: bf }), new Linear({ inFeatures: 8, outFeatures: 1, seed: s + 2 })], 'floats'],
  ];
  for (const { backend } of backendCases().filter((c) => c.dtype === 'float32')) {
    for (const [name, layers, input] of chains) {
      for (const bf of [false, true]) {
        for (const withLengths of [false, true]) {
          const s = seed++;
          it(`${backend}: ${name}, ${bf ? 'batch-first' : 'time-major'}${withLengths ? ', lengths' : ''}`, async function () {
            const rng = new Rng(s);
            const model = new Sequential(layers(bf, backend, s));
            const T = 5, B = 3, lengths = [5, 2, 4];
            const shape = input === 'ids' ? (bf ? [B, T] : [T, B]) : (bf ? [B, T, 4] : [T, B, 4]);
            const n = shape.reduce((a, b) => a * b, 1);
            const x = input === 'ids' ? new cellstate.Tensor(Float32Array.from({ length: n }, () => Math.floor(rng.next() * 11)), shape) : randomTensor(rng, shape);
            const ours = model.forward(x, withLengths ? { lengths } : undefined).output;
            const bytes = toOnnx(model, { lengths: withLengths });
            const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
            const feeds = { x: input === 'ids' ? new ort.Tensor('int64', BigInt64Array.from(x.data, (v) => BigInt(v)), shape) : new ort.Tensor('float32', x.data, shape) };
            if (withLengths) feeds.lengths = new ort.Tensor('int32', Int32Array.from(lengths), [B]);
            const theirs = (await session.run(feeds)).output;
            expectClose(theirs, ours, 'output');
          });
        }
      }
    }
  }
  it('layers with no ONNX form, and options that do not apply to a chain, are refused by name', function () {
    const m = new Sequential([new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1 }), new Linear({ inFeatures: 3, outFeatures: 1, seed: 2 })]);
    expect(() => toOnnx(m, { initialState: true })).to.throw(TypeError, /^toOnnx: options\.initialState: expected false for a Sequential/);
    expect(() => toOnnx(m, { layout: 1 })).to.throw(TypeError, /^toOnnx: options\.layout: expected 0 for a Sequential/);
    const custom = { forward: (x) => ({ output: x }), forwardTrain: (x) => ({ output: x, cache: null }), backward: () => ({ dX: null, grads: {} }),
      namedParameters: () => [], commitParameters() {}, stateDict: () => ({}), loadStateDict() {} };
    expect(() => toOnnx(new Sequential([new LSTM({ inputSize: 2, hiddenSize: 3 }), custom]))).to.throw(UnsupportedModelError, /^toOnnx: model\.layers\[1\]: .* has no ONNX export/);
    expect(() => toOnnx(new Sequential([new LSTM({ inputSize: 2, hiddenSize: 4, projSize: 2 })]))).to.throw(UnsupportedModelError, /projSize/);
  });
});

// Gate activations (issue #22): every ONNX activation through toOnnx, run by ONNX Runtime (its
// own implementation of each function, rnn_helpers.h) on the same weights; and fromOnnx of graphs
// whose activations / activation_alpha / activation_beta attributes were written by hand.
describe('gate activations: toOnnx -> ONNX Runtime, and fromOnnx of the attributes', function () {
  const NAMES = ['sigmoid', 'tanh', 'relu', 'hardSigmoid', 'affine', 'leakyRelu', 'thresholdedRelu', 'scaledTanh', 'elu', 'softsign', 'softplus'];
  const PARAMS = { hardSigmoid: { alpha: 0.3, beta: 0.45 }, affine: { alpha: 0.7, beta: 0.1 }, leakyRelu: { alpha: 0.05 }, thresholdedRelu: { alpha: 0.2 }, scaledTanh: { alpha: 1.2, beta: 0.8 }, elu: { alpha: 0.7 } };
  const act = (n) => (PARAMS[n] ? { name: n, ...PARAMS[n] } : n);
  const SLOTS = { LSTM: 3, GRU: 2, RNN: 1 };
  const Cls = { LSTM, GRU, RNN };
  const { decodeOnnxModel: decode, encodeOnnxModel: encode } = cellstate;
  for (const { backend } of backendCases().filter((c) => c.dtype === 'float32')) {
    for (const kind of Object.keys(Cls)) {
      it(`${backend} ${kind}: each activation in slot f (the others cycling), bidirectional, with lengths: ONNX Runtime agrees`, async function () {
        for (const [i, name] of NAMES.entries()) {
          const rng = new Rng(500 + i);
          const activations = Array.from({ length: SLOTS[kind] }, (_, k) => act(k === 0 ? name : NAMES[(i + 4 * k) % NAMES.length]));
          const opts = { inputSize: 3, hiddenSize: 5, bidirectional: true, numLayers: 2, activations, seed: 40 + i, backend, ...(kind === 'GRU' ? { linearBeforeReset: i % 2 === 0 } : {}) };
          const model = new Cls[kind](opts);
          const x = randomTensor(rng, [4, 3, 3], 'float32', 2);
          const feeds = { x, lengths: [4, 2, 3] };
          const ours = model.forward(x, { lengths: feeds.lengths });
          const bytes = toOnnx(model, { lengths: true });
          const theirs = await runOrt(bytes, feeds);
          expectClose(theirs.output, ours.output, `${JSON.stringify(activations)} output`);
          expectClose(theirs.h_n, ours.hN, `${JSON.stringify(activations)} h_n`);
          // The attributes as written, and our importer reading them back to the same layer.
          const node = decode(bytes).graph.node.find((n) => n.opType === kind);
          const back = fromOnnx(bytes, { backend, as: 'graph' });
          expectClose(back.forward(feeds).output, ours.output, 'round trip');
          if (!(kind === 'RNN' && name === 'tanh')) expect(node.attribute.find((a) => a.name === 'activations').strings).to.have.length(2 * SLOTS[kind]);
        }
      });
    }
  }

  it('fromOnnx reads hand-written attributes as onnxruntime does: alpha / beta consumed in order by the functions that read them, defaults past the end', async function () {
    const rng = new Rng(9);
    const model = new LSTM({ inputSize: 3, hiddenSize: 4, bidirectional: true, seed: 3 });
    const x = randomTensor(rng, [5, 2, 3], 'float32', 2);
    const base = toOnnx(model);
    const withAttrs = (attrs) => {
      const m = decode(base);
      const node = m.graph.node.find((n) => n.opType === 'LSTM');
      node.attribute = node.attribute.filter((a) => !a.name.startsWith('activation')).concat(attrs);
      return encode(m);
    };
    const STRINGS = 8, FLOATS = 6;
    const cases = [
      // Keras' defaults: alpha, beta given once per direction for HardSigmoid.
      [[{ name: 'activations', type: STRINGS, strings: ['HardSigmoid', 'Tanh', 'Tanh', 'HardSigmoid', 'Tanh', 'Tanh'] }, { name: 'activation_alpha', type: FLOATS, floats: [0.2, 0.2] }, { name: 'activation_beta', type: FLOATS, floats: [0.5, 0.5] }],
        [{ name: 'hardSigmoid', alpha: 0.2, beta: 0.5 }, { name: 'tanh', alpha: 0, beta: 0 }, { name: 'tanh', alpha: 0, beta: 0 }]],
      // Lower case names; LeakyRelu and Elu take the alphas in order (float32 values, as stored).
      [[{ name: 'activations', type: STRINGS, strings: ['leakyrelu', 'elu', 'softsign', 'leakyrelu', 'elu', 'softsign'] }, { name: 'activation_alpha', type: FLOATS, floats: [0.1, 0.6, 0.1, 0.6] }],
        [{ name: 'leakyRelu', alpha: Math.fround(0.1), beta: 0 }, { name: 'elu', alpha: Math.fround(0.6), beta: 0 }, { name: 'softsign', alpha: 0, beta: 0 }]],
      // No alpha list: ONNX's operator defaults (LeakyRelu 0.01, HardSigmoid 0.2 / 0.5), which are onnxruntime's too for these.
      [[{ name: 'activations', type: STRINGS, strings: ['HardSigmoid', 'LeakyRelu', 'Softplus', 'HardSigmoid', 'LeakyRelu', 'Softplus'] }],
        [{ name: 'hardSigmoid', alpha: 0.2, beta: 0.5 }, { name: 'leakyRelu', alpha: 0.01, beta: 0 }, { name: 'softplus', alpha: 0, beta: 0 }]],
    ];
    for (const [attrs, want] of cases) {
      const bytes = withAttrs(attrs);
      const m = fromOnnx(bytes);
      expect(m.layers[0].activations).to.deep.equal(want);
      const theirs = await runOrt(bytes, { x });
      expectClose(theirs.output, m.forward(x).output, JSON.stringify(attrs[0].strings));
    }
    // The two directions disagree: refused, naming the attribute that differs.
    expect(() => fromOnnx(withAttrs([{ name: 'activations', type: STRINGS, strings: ['Sigmoid', 'Tanh', 'Tanh', 'HardSigmoid', 'Tanh', 'Tanh'] }])))
      .to.throw(UnsupportedModelError, /LSTM activations: the reverse direction's \{"name":"hardSigmoid".*differs from the forward's \{"name":"sigmoid".*one set of gate activations/);
    expect(() => fromOnnx(withAttrs([{ name: 'activations', type: STRINGS, strings: ['Elu', 'Tanh', 'Tanh', 'Elu', 'Tanh', 'Tanh'] }, { name: 'activation_alpha', type: FLOATS, floats: [1, 0.5] }])))
      .to.throw(UnsupportedModelError, /LSTM activation_alpha: the reverse direction's/);
    expect(() => fromOnnx(withAttrs([{ name: 'activations', type: STRINGS, strings: ['Sigmoid', 'Tanh', 'Swish', 'Sigmoid', 'Tanh', 'Tanh'] }])))
      .to.throw(UnsupportedModelError, /LSTM activations: "Swish" at position 2 is not an ONNX activation/);
    expect(() => fromOnnx(withAttrs([{ name: 'activations', type: STRINGS, strings: ['Sigmoid', 'Tanh', 'Tanh', 'Sigmoid', 'Tanh', 'Tanh'] }, { name: 'activation_alpha', type: FLOATS, floats: [1] }])))
      .to.throw(UnsupportedModelError, /LSTM activation_alpha: 1 values, but the activations read 0/);
    expect(() => fromOnnx(withAttrs([{ name: 'activations', type: STRINGS, strings: ['LeakyRelu', 'Tanh', 'Tanh', 'LeakyRelu', 'Tanh', 'Tanh'] }, { name: 'activation_alpha', type: FLOATS, floats: [-0.5, -0.5] }])))
      .to.throw(UnsupportedModelError, /LSTM activation_alpha \/ activation_beta: LSTM: activations\[0\]\.alpha: expected a number >= 0 for leakyRelu/);
  });
});
