// fromOnnx returns a Sequential for a graph that is a chain of layers (lib/interop/onnx-chain.ts):
// every chain toOnnx writes comes back with a forward bit-identical to the exported model's (the
// weights are copied exactly; same backend), on both layouts and every backend; a graph laid out as
// torch.onnx.export writes nn.LSTM(batch_first=True) + out[:, -1] + nn.Linear comes back as the
// same Sequential, checked against ONNX Runtime running the same bytes. Graphs that are not chains
// stay OnnxModels, and everything that needs a Sequential says why and what to do.
import { expect } from 'chai';
import { createRequire } from 'node:module';
import {
  Adam, availableBackends, createBatcher, decodeOnnxModel, Dropout, Embedding, encodeOnnxModel, fromOnnx, GRU, LastStep, Linear, LSTM,
  OnnxModel, ReLU, RNN, Sequential, Sigmoid, Softmax, Tanh, toOnnx, Trainer, UnsupportedModelError,
} from 'cellstate';
import { randomTensor, Rng } from './helpers/random.mjs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const FLOAT = 1, INT64 = 7;
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 };

const bits = (t) => Array.from(t.data);
/** Token ids [.., ..] as a float Tensor of integers (what an Embedding reads). */
function ids(rng, shape, n) {
  const t = randomTensor(rng, shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = Math.floor((t.data[i] + 1) / 2 * n) % n;
  return t;
}

// Each chain: a function of (batchFirst, backend) -> a Sequential, and its input kind.
const CHAINS = [
  ['LSTM x2 bidirectional -> LastStep(finalStates) -> Linear -> Softmax', 'seq', (bf, backend) => new Sequential([
    new LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, batchFirst: bf, seed: 1, backend }),
    new LastStep({ batchFirst: bf, finalStates: true }), new Linear({ inFeatures: 8, outFeatures: 3, seed: 2 }), new Softmax()])],
  ['GRU (ONNX default formula) -> Linear per step -> Tanh', 'seq', (bf, backend) => new Sequential([
    new GRU({ inputSize: 3, hiddenSize: 5, linearBeforeReset: false, batchFirst: bf, seed: 3, backend }),
    new Linear({ inFeatures: 5, outFeatures: 2, seed: 4 }), new Tanh()])],
  ['Embedding -> RNN relu x3 -> LastStep -> Linear without bias -> Sigmoid', 'ids', (bf, backend) => new Sequential([
    new Embedding({ numEmbeddings: 11, embeddingDim: 3, seed: 5 }),
    new RNN({ inputSize: 3, hiddenSize: 4, numLayers: 3, nonlinearity: 'relu', batchFirst: bf, seed: 6, backend }),
    new LastStep({ batchFirst: bf }), new Linear({ inFeatures: 4, outFeatures: 2, bias: false, seed: 7 }), new Sigmoid()])],
  ['LSTM peephole -> ReLU -> LSTM (another size) -> Linear', 'seq', (bf, backend) => new Sequential([
    new LSTM({ inputSize: 2, hiddenSize: 3, peephole: true, batchFirst: bf, seed: 8, backend }), new ReLU(),
    new LSTM({ inputSize: 3, hiddenSize: 5, bidirectional: true, batchFirst: bf, seed: 9, backend }),
    new Linear({ inFeatures: 10, outFeatures: 1, seed: 10 })])],
  ['reverse RNN -> GRU x2 bidirectional -> LastStep', 'seq', (bf, backend) => new Sequential([
    new RNN({ inputSize: 4, hiddenSize: 3, reverse: true, batchFirst: bf, seed: 11, backend }),
    new GRU({ inputSize: 3, hiddenSize: 2, numLayers: 2, bidirectional: true, batchFirst: bf, seed: 12, backend }),
    new LastStep({ batchFirst: bf })])],
  ['Linear -> Tanh -> Linear on [B, F]', 'vec', () => new Sequential([
    new Linear({ inFeatures: 3, outFeatures: 4, seed: 13 }), new Tanh(), new Linear({ inFeatures: 4, outFeatures: 2, seed: 14 })])],
];

function inputFor(kind, model, rng, bf, T, B) {
  const first = model.layers[0];
  if (kind === 'ids') return ids(rng, bf ? [B, T] : [T, B], first.numEmbeddings);
  if (kind === 'vec') return randomTensor(rng, [B, first.inFeatures]);
  return randomTensor(rng, bf ? [B, T, first.inputSize] : [T, B, first.inputSize]);
}

describe('fromOnnx: a chain comes back as a Sequential', function () {
  for (const backend of availableBackends()) {
    describe(backend, function () {
      let seed = 1;
      for (const [name, kind, make] of CHAINS) {
        for (const bf of kind === 'vec' ? [false] : [false, true]) {
          for (const withLengths of kind === 'vec' ? [false] : [false, true]) {
            const s = seed++;
            it(`${name}, ${bf ? 'batch-first' : 'time-major'}${withLengths ? ', lengths' : ''}: forward bit-identical; ONNX Runtime agrees`, async function () {
              const model = make(bf, backend);
              const bytes = toOnnx(model, { lengths: withLengths });
              const back = fromOnnx(bytes, { backend });
              expect(back).to.be.instanceOf(Sequential);
              expect(back.batchFirst).to.equal(model.batchFirst);
              // Same layers and options, but Dropout (written as Identity) and consecutive layers merged.
              expect(back.layers.map((l) => l.constructor.name)).to.deep.equal(model.layers.map((l) => l.constructor.name));
              expect(back.config()).to.deep.equal(model.config());
              const rng = new Rng(s);
              const T = 5, B = 3;
              const x = inputFor(kind, model, rng, bf, T, B);
              const opts = withLengths ? { lengths: [5, 2, 4] } : undefined;
              const want = model.forward(x, opts), got = back.forward(x, opts);
              expect(got.output.shape).to.deep.equal(want.output.shape);
              expect(bits(got.output), 'output').to.deep.equal(bits(want.output));
              want.state.forEach((st, i) => {
                if (!st) return expect(got.state[i]).to.equal(null);
                expect(bits(got.state[i].h), `state[${i}].h`).to.deep.equal(bits(st.h));
                if (st.c) expect(bits(got.state[i].c), `state[${i}].c`).to.deep.equal(bits(st.c));
              });
              // The independent reference: ONNX Runtime on the same bytes.
              const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
              const feeds = { x: kind === 'ids' ? new ort.Tensor('int64', BigInt64Array.from(x.data, (v) => BigInt(v)), x.shape) : new ort.Tensor('float32', x.data, x.shape) };
              if (withLengths) feeds.lengths = new ort.Tensor('int32', Int32Array.from(opts.lengths), [B]);
              const r = (await session.run(feeds)).output;
              expect(Array.from(r.dims)).to.deep.equal(got.output.shape);
              const err = Math.max(...Array.from(r.data, (v, i) => Math.abs(v - got.output.data[i])));
              expect(err).to.be.below(1e-5);
            });
          }
        }
      }

      it('Dropout (written as Identity) is left out; the forward is the same', function () {
        const model = new Sequential([new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1, backend }), new Dropout({ p: 0.3, seed: 1 }), new Linear({ inFeatures: 3, outFeatures: 1, seed: 2 })]);
        const back = fromOnnx(toOnnx(model), { backend });
        expect(back.layers.map((l) => l.constructor.name)).to.deep.equal(['LSTM', 'Linear']);
        const x = randomTensor(new Rng(3), [4, 2, 2]);
        expect(bits(back.forward(x).output)).to.deep.equal(bits(model.forward(x).output));
      });

      it('a lone recurrent layer (outputs output, h_n, c_n) is a Sequential of that layer; its final states are forward\'s state', function () {
        const lstm = new LSTM({ inputSize: 3, hiddenSize: 2, numLayers: 2, bidirectional: true, batchFirst: true, peephole: true, seed: 4, backend });
        for (const layout of [0, 1]) {
          const back = fromOnnx(toOnnx(lstm, { layout }), { backend });
          expect(back).to.be.instanceOf(Sequential);
          expect(back.config()).to.deep.equal({ type: 'Sequential', layers: [lstm.config()] });
          const x = randomTensor(new Rng(5), [2, 4, 3]);
          const want = lstm.forward(x), got = back.forward(x);
          expect(bits(got.output)).to.deep.equal(bits(want.output));
          expect(bits(got.state[0].h)).to.deep.equal(bits(want.hN));
          expect(bits(got.state[0].c)).to.deep.equal(bits(want.cN));
        }
      });
    });
  }
});

/**
 * The graph torch.onnx.export writes for
 *   lstm = nn.LSTM(I, H, num_layers=L, batch_first=True, bidirectional=D == 2); fc = nn.Linear(D*H, O)
 *   forward(x): out, _ = lstm(x); return fc(out[:, -1, :])
 * (torch/onnx/symbolic_opset9.py `_generic_rnn`): Transpose to time-major, one LSTM node per layer
 * with constant zero initial states, Squeeze of the direction axis (one direction) or
 * Transpose(0, 2, 1, 3) + Reshape(0, 0, -1) (two), Transpose back, Gather(-1, axis 1), Gemm(transB 1).
 * Glue constants are Constant nodes, as the exporter writes them. Weights: from our own model's
 * ONNX tensors (the exporter writes the same W [D, 4H, I], R, B in ONNX gate order).
 */
function torchStyleGraph(lstm, fc, B, opset) {
  const H = lstm.hiddenSize, D = lstm.numDirections, L = lstm.numLayers;
  const ours = decodeOnnxModel(toOnnx(lstm)).graph.initializer;
  const init = (name) => ours.find((t) => t.name === name);
  const initializer = [], node = [];
  let n = 0;
  const add = (opType, input, output, attribute = []) => node.push({ name: `/${opType}_${n++}`, opType, domain: '', input, output, attribute });
  const constant = (name, dims, data) => add('Constant', [], [name], [{ name: 'value', type: 4, t: { name: '', dims, dataType: INT64, data } }]);
  add('Transpose', ['input'], ['/lstm/Transpose_output_0'], [{ name: 'perm', type: ATTR.INTS, ints: [1, 0, 2] }]);
  let x = '/lstm/Transpose_output_0';
  for (let k = 0; k < L; k++) {
    for (const w of ['W', 'R', 'B']) initializer.push({ ...init(`${w}_l${k}`), name: `onnx::LSTM_${w}_${k}` });
    initializer.push({ name: `zeros_${k}`, dims: [D, B, H], dataType: FLOAT, data: new Float32Array(D * B * H) });
    const attribute = [{ name: 'hidden_size', type: ATTR.INT, i: H }];
    if (D === 2) attribute.push({ name: 'direction', type: ATTR.STRING, s: 'bidirectional' });
    add('LSTM', [x, `onnx::LSTM_W_${k}`, `onnx::LSTM_R_${k}`, `onnx::LSTM_B_${k}`, '', `zeros_${k}`, `zeros_${k}`], [`/lstm/LSTM_${k}_Y`, `/lstm/LSTM_${k}_Y_h`, `/lstm/LSTM_${k}_Y_c`], attribute);
    if (D === 2) {
      add('Transpose', [`/lstm/LSTM_${k}_Y`], [`/lstm/T_${k}`], [{ name: 'perm', type: ATTR.INTS, ints: [0, 2, 1, 3] }]);
      constant(`/lstm/shape_${k}`, [3], [0, 0, -1]);
      add('Reshape', [`/lstm/T_${k}`, `/lstm/shape_${k}`], [`/lstm/out_${k}`]);
    } else if (opset >= 13) {
      constant(`/lstm/axes_${k}`, [1], [1]);
      add('Squeeze', [`/lstm/LSTM_${k}_Y`, `/lstm/axes_${k}`], [`/lstm/out_${k}`]);
    } else {
      add('Squeeze', [`/lstm/LSTM_${k}_Y`], [`/lstm/out_${k}`], [{ name: 'axes', type: ATTR.INTS, ints: [1] }]);
    }
    x = `/lstm/out_${k}`;
  }
  add('Transpose', [x], ['/lstm/out_bf'], [{ name: 'perm', type: ATTR.INTS, ints: [1, 0, 2] }]);
  constant('/Constant_last', [], [-1]);
  add('Gather', ['/lstm/out_bf', '/Constant_last'], ['/Gather_output_0'], [{ name: 'axis', type: ATTR.INT, i: 1 }]);
  const fsd = fc.stateDict();
  initializer.push({ name: 'fc.weight', dims: fsd.weight.shape, dataType: FLOAT, data: fsd.weight.data }, { name: 'fc.bias', dims: fsd.bias.shape, dataType: FLOAT, data: fsd.bias.data });
  add('Gemm', ['/Gather_output_0', 'fc.weight', 'fc.bias'], ['output'], [{ name: 'alpha', type: ATTR.FLOAT, f: 1 }, { name: 'beta', type: ATTR.FLOAT, f: 1 }, { name: 'transB', type: ATTR.INT, i: 1 }]);
  return encodeOnnxModel({
    irVersion: 7, producerName: 'pytorch', producerVersion: '2.1.0', docString: '', metadata: {}, opsetImport: [{ domain: '', version: opset }],
    graph: { name: 'main_graph', node, initializer, valueInfo: [], input: [{ name: 'input', elemType: FLOAT, shape: [B, 'T', lstm.inputSize] }], output: [{ name: 'output', elemType: FLOAT, shape: [B, fc.outFeatures] }] },
  });
}

describe('fromOnnx: a graph laid out as torch.onnx.export writes nn.LSTM(batch_first=True) + nn.Linear', function () {
  for (const backend of availableBackends()) {
    for (const [L, bidirectional, opset] of [[1, false, 11], [2, false, 17], [2, true, 14], [3, true, 17]]) {
      it(`${backend}: ${L} layer(s)${bidirectional ? ', bidirectional' : ''}, opset ${opset}: one LSTM of ${L} layers, as ONNX Runtime computes`, async function () {
        const B = 2, T = 6;
        const lstm = new LSTM({ inputSize: 3, hiddenSize: 4, numLayers: L, bidirectional, batchFirst: true, seed: 20 + L, backend });
        const fc = new Linear({ inFeatures: lstm.numDirections * 4, outFeatures: 2, seed: 30 });
        const bytes = torchStyleGraph(lstm, fc, B, opset);
        const model = fromOnnx(bytes, { backend });
        expect(model).to.be.instanceOf(Sequential);
        expect(model.config()).to.deep.equal({ type: 'Sequential', layers: [lstm.config(), { type: 'LastStep', batchFirst: true }, fc.config()] });
        const x = randomTensor(new Rng(L), [B, T, 3]);
        // PyTorch's nn.Module as we build it by hand: the same forward, bit for bit.
        const want = new Sequential([lstm, new LastStep({ batchFirst: true }), fc]).forward(x).output;
        const got = model.forward(x).output;
        expect(bits(got)).to.deep.equal(bits(want));
        const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
        const r = (await session.run({ input: new ort.Tensor('float32', x.data, x.shape) })).output;
        expect(Array.from(r.dims)).to.deep.equal([B, 2]);
        expect(Math.max(...Array.from(r.data, (v, i) => Math.abs(v - got.data[i])))).to.be.below(1e-5);
      });
    }
  }
});

describe('fromOnnx: graphs that are not chains', function () {
  /** toOnnx(LSTM) with a head on its final state h_n: a branch, not a chain. */
  function headOnState() {
    const m = decodeOnnxModel(toOnnx(new LSTM({ inputSize: 3, hiddenSize: 4, seed: 21 })));
    const g = m.graph;
    g.initializer.push({ name: 'W1', dims: [2, 4], dataType: FLOAT, data: new Float32Array(8).fill(0.5) }, { name: 'sq_axes', dims: [1], dataType: INT64, data: [0] });
    g.node.push(
      { name: 'sq', opType: 'Squeeze', domain: '', input: ['h_n', 'sq_axes'], output: ['h_last'], attribute: [] },
      { name: 'fc', opType: 'Gemm', domain: '', input: ['h_last', 'W1'], output: ['y'], attribute: [{ name: 'transB', type: ATTR.INT, i: 1 }] },
    );
    g.output = [{ name: 'y', elemType: FLOAT, shape: null }];
    return encodeOnnxModel(m);
  }

  it('stay OnnxModels that say why (naming the node); as: \'sequential\' refuses them with that reason', function () {
    const m = fromOnnx(headOnState());
    expect(m).to.be.instanceOf(OnnxModel);
    expect(m.notChain).to.match(/^node \d+ \(Squeeze "sq"\): /);
    expect(() => fromOnnx(headOnState(), { as: 'sequential' })).to.throw(UnsupportedModelError, /^fromOnnx: options\.as: expected a graph that is a chain of layers \(a Sequential\), got one that is not: node \d+ \(Squeeze "sq"\)/);
  });

  it('initial-state inputs make an OnnxModel (a Sequential takes states in forward, not as graph inputs)', function () {
    const m = fromOnnx(toOnnx(new GRU({ inputSize: 2, hiddenSize: 3, seed: 1 }), { initialState: true }));
    expect(m).to.be.instanceOf(OnnxModel);
    expect(m.notChain).to.include('graph input "h0"');
  });

  it('as: \'graph\' returns an OnnxModel for a chain too; as must be one of the three', function () {
    const bytes = toOnnx(new Sequential([new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1 }), new Linear({ inFeatures: 3, outFeatures: 1, seed: 2 })]));
    expect(fromOnnx(bytes, { as: 'graph' })).to.be.instanceOf(OnnxModel);
    expect(fromOnnx(bytes, { as: 'auto' })).to.be.instanceOf(Sequential);
    expect(() => fromOnnx(bytes, { as: 'seq' })).to.throw(TypeError, "fromOnnx: options.as: expected 'auto', 'sequential' or 'graph', got \"seq\"");
  });

  it('an OnnxModel handed to Trainer, an optimizer, toOnnx or createBatcher: an error saying it is not a chain and what to do', function () {
    const m = fromOnnx(headOnState());
    const said = /got an OnnxModel, which runs inference only: not a chain of layers \(node \d+ \(Squeeze "sq"\): .*\); fromOnnx returns a Sequential, which trains, saves, exports and serves, for a graph that is a chain/;
    expect(() => new Adam(m)).to.throw(TypeError, /^Adam: model: expected a model with namedParameters\(\) and commitParameters\(\), /).with.property('message').that.matches(said);
    expect(() => new Trainer({ model: m, optimizer: null, loss: 'mse' })).to.throw(TypeError, said);
    expect(() => toOnnx(m)).to.throw(TypeError, said);
    expect(() => createBatcher(m)).to.throw(TypeError, said);
  });
});
