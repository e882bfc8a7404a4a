// loadTfjsModel against TF.js itself: Layers models are built and saved by @tensorflow/tfjs (pure-JS
// cpu backend) in the test, with seeded weights, and our import must match tfjs's own predictions.
// GRU reset_after=true cannot be built by TF.js (it refuses it), so that case is a Keras-converter
// style model.json written here from a PyTorch reference case and checked against PyTorch's output.
// Gate activations, hard_sigmoid (TF.js' default) included, are checked against model.predict and
// tfjs's gradients, and hostile manifests fail with named errors.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createBatcher, loadTfjsModel, tensor, Rng, UnsupportedModelError, Sequential, GRU } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
import { allclose, loadAllCases } from './helpers/reference.mjs';

const TOL = { rtol: 1e-4, atol: 1e-5 };
// Production mode only silences tfjs's "install tfjs-node" banner on the pure-JS cpu backend.
tf.env().set('PROD', true);

/** Replace every weight of a tfjs model with seeded uniform values (tfjs initializers are unseeded). */
function seedWeights(model, seed, scale = 0.6) {
  const rng = new Rng(seed);
  model.setWeights(model.getWeights().map((w) => {
    const n = w.size;
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) d[i] = rng.uniform(-scale, scale);
    return tf.tensor(d, w.shape);
  }));
}

/** model.json (as model.save('file://') writes it) and the weight bytes, via a custom save handler. */
async function saveArtifacts(model) {
  let art;
  await model.save(tf.io.withSaveHandler(async (a) => { art = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
  const modelJson = {
    modelTopology: art.modelTopology, format: art.format, generatedBy: art.generatedBy, convertedBy: art.convertedBy,
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: art.weightSpecs }],
  };
  return { modelJson, weights: new Uint8Array(art.weightData) };
}

function randomInput(seed, shape, { ints = 0 } = {}) {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = ints ? rng.nextU32() % ints : rng.uniform(-1, 1);
  return d;
}

function tfPredict(model, data, shape) {
  const y = model.predict(tf.tensor(data, shape));
  const out = { data: y.dataSync(), shape: y.shape };
  y.dispose();
  return out;
}

const MODELS = [
  ['Embedding -> Bidirectional(LSTM sigmoid, sequences) -> GRU (reset_after=false) -> Dense softmax', () => {
    const m = tf.sequential();
    m.add(tf.layers.embedding({ inputDim: 11, outputDim: 4, inputLength: 6 }));
    m.add(tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 5, recurrentActivation: 'sigmoid', returnSequences: true }) }));
    m.add(tf.layers.gru({ units: 3, recurrentActivation: 'sigmoid' }));
    m.add(tf.layers.dense({ units: 2, activation: 'softmax' }));
    return { m, shape: [3, 6], ints: 11 };
  }],
  ['LSTM (sequences) -> SimpleRNN relu (sequences) -> TimeDistributed(Dense tanh)', () => {
    const m = tf.sequential();
    m.add(tf.layers.lstm({ units: 4, recurrentActivation: 'sigmoid', returnSequences: true, inputShape: [7, 3] }));
    m.add(tf.layers.simpleRNN({ units: 6, activation: 'relu', returnSequences: true }));
    m.add(tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 2, activation: 'tanh' }) }));
    return { m, shape: [2, 7, 3] };
  }],
  ['Bidirectional(GRU, last state) -> Dense relu -> Dense linear', () => {
    const m = tf.sequential();
    m.add(tf.layers.bidirectional({ layer: tf.layers.gru({ units: 4, recurrentActivation: 'sigmoid' }), inputShape: [5, 2] }));
    m.add(tf.layers.dense({ units: 3, activation: 'relu' }));
    m.add(tf.layers.dense({ units: 2 }));
    return { m, shape: [4, 5, 2] };
  }],
  ['Bidirectional(SimpleRNN tanh, sequences) -> LSTM (last state, no bias) -> Dense sigmoid', () => {
    const m = tf.sequential();
    m.add(tf.layers.bidirectional({ layer: tf.layers.simpleRNN({ units: 3, returnSequences: true }), inputShape: [4, 3] }));
    m.add(tf.layers.lstm({ units: 3, recurrentActivation: 'sigmoid', useBias: false }));
    m.add(tf.layers.dense({ units: 1, activation: 'sigmoid' }));
    return { m, shape: [2, 4, 3] };
  }],
  ['functional chain: Input -> GRU (no bias) -> Dense', () => {
    const input = tf.input({ shape: [6, 2] });
    const h = tf.layers.gru({ units: 3, recurrentActivation: 'sigmoid', useBias: false }).apply(input);
    const out = tf.layers.dense({ units: 2 }).apply(h);
    return { m: tf.model({ inputs: input, outputs: out }), shape: [3, 6, 2] };
  }],
];

describe('loadTfjsModel: TF.js Layers models saved by @tensorflow/tfjs match its predictions', function () {
  before(async function () {
    await tf.setBackend('cpu');
  });

  MODELS.forEach(([label, make], idx) => {
    it(label, async function () {
      const { m, shape, ints } = make();
      seedWeights(m, 40 + idx);
      const x = randomInput(50 + idx, shape, { ints });
      const want = tfPredict(m, x, shape);
      const { modelJson, weights } = await saveArtifacts(m);
      for (const { backend } of backendCases().filter((c) => c.dtype === 'float32')) {
        const ours = loadTfjsModel({ modelJson: JSON.stringify(modelJson), weights }, { backend });
        expect(ours).to.be.instanceOf(Sequential);
        const got = ours.forward(tensor(x, shape)).output;
        expect(got.shape, `${backend} shape`).to.deep.equal(want.shape);
        expect(allclose(got.data, want.data, TOL), backend).to.equal(null);
        // The imported model serves as it is: each batched request equals its sequence alone, bit for bit.
        const [B, T] = shape, per = x.length / B, step = per / T;
        const batcher = createBatcher(ours, { maxBatch: B, maxDelayMs: 5 });
        const seqs = Array.from({ length: B }, (_, b) => x.slice(b * per, (b + 1) * per));
        const rs = await Promise.all(seqs.map((s) => batcher.run(ints ? Array.from(s) : tensor(s, [T, step]))));
        await batcher.close();
        seqs.forEach((s, b) => expect(rs[b].output.data, `${backend} request ${b}`).to.deep.equal(ours.forward(tensor(s, ints ? [1, T] : [1, T, step])).output.data));
      }
      m.dispose();
    });
  });

  it('loads from disk (model.json + two shard files) as model.save(\'file://\') lays them out', async function () {
    const { m, shape } = MODELS[1][1]();
    seedWeights(m, 60);
    const x = randomInput(61, shape);
    const want = tfPredict(m, x, shape);
    const { modelJson, weights } = await saveArtifacts(m);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-tfjs-'));
    try {
      const cut = 4 * Math.floor(weights.length / 8);
      modelJson.weightsManifest[0].paths = ['group1-shard1of2.bin', 'group1-shard2of2.bin'];
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJson));
      fs.writeFileSync(path.join(dir, 'group1-shard1of2.bin'), weights.subarray(0, cut));
      fs.writeFileSync(path.join(dir, 'group1-shard2of2.bin'), weights.subarray(cut));
      for (const src of [dir, path.join(dir, 'model.json')]) {
        const got = loadTfjsModel(src).forward(tensor(x, shape)).output;
        expect(allclose(got.data, want.data, TOL)).to.equal(null);
      }
      // The same shards handed over in memory, as an array and as an object keyed by path.
      const parts = [weights.slice(0, cut), weights.slice(cut)];
      expect(allclose(loadTfjsModel({ modelJson, weights: parts }).forward(tensor(x, shape)).output.data, want.data, TOL)).to.equal(null);
      expect(allclose(loadTfjsModel({ modelJson, weights: { 'group1-shard1of2.bin': parts[0], 'group1-shard2of2.bin': parts[1] } }).forward(tensor(x, shape)).output.data, want.data, TOL)).to.equal(null);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      m.dispose();
    }
  });

  // Gate activations (issue #22): TF.js's own defaults (recurrentActivation hardSigmoid) and the
  // other activations TF.js has, against model.predict, on every backend, with training (BPTT)
  // through the imported layer checked against tfjs's gradients.
  const ACT_MODELS = [
    ['default LSTM (hardSigmoid, tanh)', () => tf.layers.lstm({ units: 5, returnSequences: true, inputShape: [6, 3] })],
    ['default GRU (hardSigmoid, tanh)', () => tf.layers.gru({ units: 4, returnSequences: true, inputShape: [6, 3] })],
    ['default SimpleRNN (tanh)', () => tf.layers.simpleRNN({ units: 4, returnSequences: true, inputShape: [6, 3] })],
    ['LSTM relu / softsign', () => tf.layers.lstm({ units: 3, activation: 'relu', recurrentActivation: 'softsign', returnSequences: true, inputShape: [6, 3] })],
    ['GRU elu / sigmoid', () => tf.layers.gru({ units: 3, activation: 'elu', recurrentActivation: 'sigmoid', returnSequences: true, inputShape: [6, 3] })],
    ['LSTM softplus / linear', () => tf.layers.lstm({ units: 3, activation: 'softplus', recurrentActivation: 'linear', returnSequences: true, inputShape: [6, 3] })],
    ['SimpleRNN softsign', () => tf.layers.simpleRNN({ units: 3, activation: 'softsign', returnSequences: true, inputShape: [6, 3] })],
    ['SimpleRNN elu', () => tf.layers.simpleRNN({ units: 3, activation: 'elu', returnSequences: true, inputShape: [6, 3] })],
    ['Bidirectional default GRU', () => tf.layers.bidirectional({ layer: tf.layers.gru({ units: 3, returnSequences: true }), inputShape: [6, 3] })],
  ];
  for (const [label, make] of ACT_MODELS) {
    it(`gate activations: ${label} matches model.predict (forward) and tfjs's gradients (BPTT) on every backend`, async function () {
      const m = tf.sequential();
      m.add(make());
      seedWeights(m, 70 + label.length, 0.9);
      const shape = [2, 6, 3];
      const x = randomInput(80 + label.length, shape);
      for (let i = 0; i < x.length; i++) x[i] *= 2.5; // reach both sides of hard_sigmoid's and relu's kinks
      const want = tfPredict(m, x, shape);
      // d(sum(y * R))/dx from tfjs, R fixed.
      const R = randomInput(90, want.shape);
      const gx = tf.grad((xin) => tf.sum(tf.mul(m.apply(xin), tf.tensor(R, want.shape))))(tf.tensor(x, shape));
      const wantDx = gx.dataSync();
      gx.dispose();
      const { modelJson, weights } = await saveArtifacts(m);
      for (const { backend } of backendCases().filter((c) => c.dtype === 'float32')) {
        const ours = loadTfjsModel({ modelJson, weights }, { backend });
        const r = ours.forwardTrain(tensor(x, shape));
        expect(allclose(r.output.data, want.data, TOL), `${backend} forward`).to.equal(null);
        const g = ours.backward(r.cache, { dOutput: tensor(R, want.shape) });
        expect(allclose(g.dX.data, wantDx, { rtol: 1e-3, atol: 1e-4 }), `${backend} dX`).to.equal(null);
      }
      m.dispose();
    });
  }

  it('gate activations: hard_sigmoid is TF.js\'s clip(0.2 x + 0.5, 0, 1) bit for bit in float32 (multiply, then add)', async function () {
    // A one-unit SimpleRNN with W_hh = 0 and no bias is y = f(w x): x and w chosen so w x lands
    // everywhere, including where an FMA would round differently.
    const rng = new Rng(4);
    const T = 4096, shape = [1, T, 1];
    const x = new Float32Array(T);
    for (let i = 0; i < T; i++) x[i] = rng.uniform(-3, 3);
    const m = tf.sequential();
    m.add(tf.layers.simpleRNN({ units: 1, activation: 'hardSigmoid', useBias: false, returnSequences: true, inputShape: [T, 1] }));
    m.setWeights([tf.tensor([[1]]), tf.tensor([[0]])]);
    const want = tfPredict(m, x, shape).data;
    const { modelJson, weights } = await saveArtifacts(m);
    for (const { backend } of backendCases().filter((c) => c.dtype === 'float32')) {
      const got = loadTfjsModel({ modelJson, weights }, { backend }).forward(tensor(x, shape)).output.data;
      let diff = 0;
      for (let i = 0; i < T; i++) if (got[i] !== want[i]) diff++;
      expect(diff, `${backend}: values differing from tfjs`).to.equal(0);
    }
    m.dispose();
  });

  it('refuses an activation TF.js has and the gate set does not (selu), naming the key', async function () {
    const m = tf.sequential();
    m.add(tf.layers.lstm({ units: 2, activation: 'selu', recurrentActivation: 'sigmoid', inputShape: [3, 2] }));
    const { modelJson, weights } = await saveArtifacts(m);
    expect(() => loadTfjsModel({ modelJson, weights })).to.throw(UnsupportedModelError, /activation: .selu. is not supported \(supported: 'sigmoid', 'tanh', 'relu', 'elu', 'softsign', 'softplus', 'linear', 'hard_sigmoid'\)/);
    m.dispose();
  });
});

describe('loadTfjsModel: Keras GRU reset_after=true (converter-style model.json) against PyTorch', function () {
  // PyTorch's GRU is Keras' reset_after=true: build the Keras weights from a PyTorch reference case.
  const c = loadAllCases().find((k) => k.folder === 'pytorch' && k.name === 'gru_basic_zero_state');
  const cfg = c.config, I = cfg.input_size, H = cfg.hidden_size, T = cfg.seq_len, B = cfg.batch;

  /** PyTorch [3H, cols] blocks r, z, n -> Keras [cols, 3H] blocks z, r, h. */
  function kerasKernel(w, cols) {
    const out = new Float32Array(cols * 3 * H);
    const blocks = [1, 0, 2]; // keras block j is pytorch block blocks[j]
    for (let j = 0; j < 3; j++) for (let h = 0; h < H; h++) for (let i = 0; i < cols; i++) {
      out[i * 3 * H + j * H + h] = w.data[(blocks[j] * H + h) * cols + i];
    }
    return out;
  }
  const kerasBias = (b) => { const o = new Float32Array(3 * H); [1, 0, 2].forEach((p, j) => o.set(b.data.slice(p * H, p * H + H), j * H)); return o; };

  it('gru_basic_zero_state: outputs match PyTorch within the case\'s float32 tolerance', function () {
    const w = c.weights;
    const kernel = kerasKernel(w.weight_ih_l0, I), rk = kerasKernel(w.weight_hh_l0, H);
    const bias = new Float32Array(6 * H);
    bias.set(kerasBias(w.bias_ih_l0), 0);
    bias.set(kerasBias(w.bias_hh_l0), 3 * H);
    const specs = [
      { name: 'gru/gru_cell/kernel', shape: [I, 3 * H], dtype: 'float32' },
      { name: 'gru/gru_cell/recurrent_kernel', shape: [H, 3 * H], dtype: 'float32' },
      { name: 'gru/gru_cell/bias', shape: [2, 3 * H], dtype: 'float32' },
    ];
    const modelJson = {
      format: 'layers-model', generatedBy: 'keras v2.15.0', convertedBy: 'TensorFlow.js Converter v4.22.0',
      modelTopology: {
        keras_version: '2.15.0', backend: 'tensorflow',
        model_config: { class_name: 'Functional', config: { name: 'model', layers: [
          { class_name: 'InputLayer', config: { batch_input_shape: [null, T, I], dtype: 'float32', name: 'input_1' }, name: 'input_1', inbound_nodes: [] },
          { class_name: 'GRU', config: { name: 'gru', units: H, activation: 'tanh', recurrent_activation: 'sigmoid', use_bias: true, return_sequences: true, return_state: false, go_backwards: false, stateful: false, unroll: false, time_major: false, reset_after: true },
            name: 'gru', inbound_nodes: [[['input_1', 0, 0, {}]]] },
        ], input_layers: [['input_1', 0, 0]], output_layers: [['gru', 0, 0]] } },
      },
      weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: specs }],
    };
    const weights = new Uint8Array(new Float32Array([...kernel, ...rk, ...bias]).buffer);
    const model = loadTfjsModel({ modelJson, weights });
    const rec = model.layers[0];
    expect(rec).to.be.instanceOf(GRU);
    expect(rec.linearBeforeReset).to.equal(true);
    // Our imported weights are the case's PyTorch weights exactly.
    const sd = rec.stateDict();
    for (const [k, v] of Object.entries(c.weights)) expect(Array.from(sd[k].data), k).to.deep.equal(v.data);
    // x [T, B, I] -> Keras [B, T, I]; output [B, T, H] vs PyTorch [T, B, H].
    const xb = new Float32Array(T * B * I), want = new Array(T * B * H);
    for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) {
      for (let i = 0; i < I; i++) xb[(b * T + t) * I + i] = c.inputs.x.data[(t * B + b) * I + i];
      for (let h = 0; h < H; h++) want[(b * T + t) * H + h] = c.outputs.output.data[(t * B + b) * H + h];
    }
    const got = model.forward(tensor(xb, [B, T, I])).output;
    expect(got.shape).to.deep.equal([B, T, H]);
    expect(allclose(got.data, want, c.tolerance.float32.forward)).to.equal(null);
  });
});

describe('loadTfjsModel: hostile and unsupported inputs', function () {
  let base;
  before(async function () {
    await tf.setBackend('cpu');
    const m = tf.sequential();
    m.add(tf.layers.lstm({ units: 2, recurrentActivation: 'sigmoid', inputShape: [3, 2] }));
    m.add(tf.layers.dense({ units: 1 }));
    seedWeights(m, 70);
    base = await saveArtifacts(m);
    m.dispose();
  });
  const clone = () => ({ modelJson: JSON.parse(JSON.stringify(base.modelJson)), weights: base.weights.slice() });
  const layers = (s) => s.modelJson.modelTopology.config.layers;
  const edit = (fn) => { const s = clone(); fn(s); return s; };

  const cases = [
    ['truncated weight data', () => ({ ...clone(), weights: base.weights.slice(0, base.weights.length - 3) }), RangeError, "bytes (the manifest's weights), got"],
    ['extra weight bytes', () => ({ ...clone(), weights: new Uint8Array(base.weights.length + 4) }), RangeError, "bytes (the manifest's weights), got"],
    ['a truncated shard (array form)', () => ({ ...clone(), weights: [base.weights.slice(0, 10)] }), RangeError, 'its shards hold 10 bytes but its weights need'],
    ['too many shard buffers', () => ({ ...clone(), weights: [base.weights, base.weights] }), RangeError, 'expected 1 shard buffers'],
    ['a missing shard (object form)', () => ({ ...clone(), weights: { 'other.bin': base.weights } }), TypeError, 'missing the shard "group1-shard1of1.bin"'],
    ['a weight missing from the manifest', () => edit((s) => {
      const ws = s.modelJson.weightsManifest[0].weights;
      const i = ws.findIndex((w) => w.name.endsWith('/recurrent_kernel'));
      const before = ws.slice(0, i).reduce((a, w) => a + 4 * w.shape.reduce((p, q) => p * q, 1), 0);
      const n = 4 * ws[i].shape.reduce((p, q) => p * q, 1);
      ws.splice(i, 1);
      s.weights = new Uint8Array([...base.weights.slice(0, before), ...base.weights.slice(before + n)]);
    }), TypeError, 'recurrent_kernel, found none'],
    ['an int32 weight', () => edit((s) => { s.modelJson.weightsManifest[0].weights[0].dtype = 'int32'; }), UnsupportedModelError, "dtype: expected 'float32', got \"int32\""],
    ['a quantized weight', () => edit((s) => { s.modelJson.weightsManifest[0].weights[0].quantization = { dtype: 'uint8', min: 0, scale: 1 }; }), UnsupportedModelError, 'quantized weights are not supported'],
    ['a NaN weight', () => edit((s) => { new DataView(s.weights.buffer).setFloat32(0, NaN, true); }), RangeError, 'expected finite values, got NaN'],
    ['a lying kernel shape', () => edit((s) => { const w = s.modelJson.weightsManifest[0].weights[0]; w.shape = [4, 4]; }), RangeError, 'kernel: expected shape [I, 4*2], got [4, 4]'],
    ['an unsupported layer', () => edit((s) => { layers(s).push({ class_name: 'Conv1D', config: { name: 'conv' } }); }), UnsupportedModelError, 'layer class "Conv1D" is not supported'],
    ['go_backwards', () => edit((s) => { layers(s)[0].config.go_backwards = true; }), UnsupportedModelError, 'go_backwards'],
    ['stateful', () => edit((s) => { layers(s)[0].config.stateful = true; }), UnsupportedModelError, 'stateful'],
    ['return_state', () => edit((s) => { layers(s)[0].config.return_state = true; }), UnsupportedModelError, 'return_state'],
    ['a missing recurrent_activation', () => edit((s) => { delete layers(s)[0].config.recurrent_activation; }), UnsupportedModelError, 'recurrent_activation: missing'],
    ['a gelu LSTM activation', () => edit((s) => { layers(s)[0].config.activation = 'gelu'; }), UnsupportedModelError, "activation: \"gelu\" is not supported (supported: 'sigmoid', 'tanh', 'relu', 'elu', 'softsign', 'softplus', 'linear', 'hard_sigmoid')"],
    ['a swish recurrent_activation', () => edit((s) => { layers(s)[0].config.recurrent_activation = 'swish'; }), UnsupportedModelError, 'recurrent_activation: "swish" is not supported'],
    ['an elu Dense activation', () => edit((s) => { layers(s)[1].config.activation = 'elu'; }), UnsupportedModelError, 'activation: "elu" is not supported'],
    ['merge_mode sum', () => edit((s) => { const l = layers(s)[0]; layers(s)[0] = { class_name: 'Bidirectional', config: { name: 'bi', merge_mode: 'sum', layer: { class_name: 'LSTM', config: l.config } } }; }), UnsupportedModelError, "merge_mode: only 'concat' is supported"],
    ['a branching functional model', () => edit((s) => { s.modelJson.modelTopology = { class_name: 'Model', config: { layers: [
      { class_name: 'InputLayer', config: { name: 'in' }, inbound_nodes: [] },
      { class_name: 'Dense', config: { name: 'a' }, inbound_nodes: [[['in', 0, 0, {}]]] },
      { class_name: 'Dense', config: { name: 'b' }, inbound_nodes: [[['in', 0, 0, {}]]] }] } }; }), UnsupportedModelError, 'not fed by exactly the layer before it'],
    ['model.json that is not JSON', () => ({ modelJson: '{"modelTopology": ', weights: base.weights }), RangeError, 'modelJson: expected JSON'],
    ['no weightsManifest', () => edit((s) => { delete s.modelJson.weightsManifest; }), TypeError, 'weightsManifest: expected an array'],
    ['not a model at all', () => 42, TypeError, 'source: expected a path to model.json'],
    // A path listed twice would cost its bytes twice (the shards were concatenated before any check).
    ['a shard path listed twice', () => edit((s) => { s.modelJson.weightsManifest[0].paths.push('group1-shard1of1.bin'); s.weights = { 'group1-shard1of1.bin': base.weights }; }),
      TypeError, 'paths: expected each shard path listed once, got "group1-shard1of1.bin"'],
    ['a shard path repeated in another group', () => edit((s) => { s.modelJson.weightsManifest.push({ paths: ['group1-shard1of1.bin'], weights: [] }); s.weights = [base.weights, base.weights]; }),
      TypeError, 'weightsManifest[1].paths: expected each shard path listed once'],
    ['a weight name listed twice', () => edit((s) => { const ws = s.modelJson.weightsManifest[0].weights; ws.push({ ...ws[0] }); }), TypeError, 'name: expected each weight name listed once'],
    ['a huge declared shape with a small shard', () => edit((s) => { s.modelJson.weightsManifest[0].weights[0].shape = [2 ** 20, 2 ** 20]; s.weights = [base.weights]; }),
      RangeError, 'its shards hold'],
  ];
  for (const [label, make, cls, frag] of cases) {
    it(`${label}: ${cls.name} (${frag})`, function () {
      expect(() => loadTfjsModel(make())).to.throw(cls, frag);
    });
  }

  it('a shard path escaping the model directory is refused', function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-tfjs-'));
    try {
      const mj = JSON.parse(JSON.stringify(base.modelJson));
      mj.weightsManifest[0].paths = ['../../etc/passwd'];
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(mj));
      expect(() => loadTfjsModel(dir)).to.throw(TypeError, 'file names relative to model.json');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a symlink inside the model directory that leads outside it is refused; a symlinked model directory works', function () {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-tfjs-'));
    try {
      const dir = path.join(root, 'model'), outside = path.join(root, 'outside');
      fs.mkdirSync(dir);
      fs.mkdirSync(outside);
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(base.modelJson));
      fs.writeFileSync(path.join(outside, 'secret.bin'), base.weights);
      fs.symlinkSync(path.join(outside, 'secret.bin'), path.join(dir, 'group1-shard1of1.bin'));
      expect(() => loadTfjsModel(dir)).to.throw(TypeError, /weight shard "group1-shard1of1.bin": expected a file inside the model directory .*, got a link to .*secret\.bin/);
      // model.json found in a directory may not lead outside it either (a path to it is read as given).
      const dir2 = path.join(root, 'model2');
      fs.mkdirSync(dir2);
      fs.writeFileSync(path.join(outside, 'model.json'), JSON.stringify(base.modelJson));
      fs.symlinkSync(path.join(outside, 'model.json'), path.join(dir2, 'model.json'));
      expect(() => loadTfjsModel(dir2)).to.throw(TypeError, /model\.json: expected a file inside the model directory/);
      // A shard that is not a regular file (a FIFO would block the read forever) is refused.
      const dir3 = path.join(root, 'model3');
      fs.mkdirSync(dir3);
      fs.writeFileSync(path.join(dir3, 'model.json'), JSON.stringify(base.modelJson));
      fs.mkdirSync(path.join(dir3, 'group1-shard1of1.bin'));
      expect(() => loadTfjsModel(dir3)).to.throw(TypeError, 'weight shard "group1-shard1of1.bin": expected a regular file');
      // A symlink within the directory, and the model directory itself reached through a symlink, are fine.
      fs.rmSync(path.join(dir, 'group1-shard1of1.bin'));
      fs.writeFileSync(path.join(dir, 'real.bin'), base.weights);
      fs.symlinkSync('real.bin', path.join(dir, 'group1-shard1of1.bin'));
      fs.symlinkSync(dir, path.join(root, 'link'));
      const x = tensor(randomInput(3, [1, 3, 2]), [1, 3, 2]);
      const want = loadTfjsModel(base).forward(x).output.data;
      expect(Array.from(loadTfjsModel(path.join(root, 'link')).forward(x).output.data)).to.deep.equal(Array.from(want));
      expect(Array.from(loadTfjsModel(path.join(root, 'link', 'model.json')).forward(x).output.data)).to.deep.equal(Array.from(want));
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('a shard file larger than the manifest says is refused before it is read', function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-tfjs-'));
    try {
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(base.modelJson));
      fs.writeFileSync(path.join(dir, 'group1-shard1of1.bin'), new Uint8Array(base.weights.length + 8));
      expect(() => loadTfjsModel(dir)).to.throw(RangeError, `weightsManifest[0]: its shards hold ${base.weights.length + 8} bytes but its weights need ${base.weights.length}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('weights split across shards at any byte load the same as one buffer', function () {
    const x = tensor(randomInput(4, [2, 3, 2]), [2, 3, 2]);
    const want = Array.from(loadTfjsModel(base).forward(x).output.data);
    const b = base.weights, cuts = [0, 1, 7, 13, 13, b.length - 2, b.length];
    const paths = cuts.slice(1).map((_, i) => `s${i}.bin`);
    const parts = cuts.slice(1).map((c, i) => b.slice(cuts[i], c));
    const mj = JSON.parse(JSON.stringify(base.modelJson));
    mj.weightsManifest[0].paths = paths;
    expect(Array.from(loadTfjsModel({ modelJson: mj, weights: parts }).forward(x).output.data)).to.deep.equal(want);
    expect(Array.from(loadTfjsModel({ modelJson: mj, weights: Object.fromEntries(paths.map((p, i) => [p, parts[i]])) }).forward(x).output.data)).to.deep.equal(want);
  });
});

describe('loadTfjsModel: the imported model is a Sequential like any other', function () {
  this.timeout(60000);
  before(async function () {
    await tf.setBackend('cpu');
  });
  // LayerStack ran forward only: an imported model could be neither fine-tuned nor exported.
  it('fine-tunes with Trainer (loss falls), and exports to ONNX Runtime with its head (dropout and softmax included)', async function () {
    const { Adam, Trainer, toOnnx, Dropout, Softmax, LastStep } = await import('cellstate');
    const ort = (await import('onnxruntime-node')).default;
    const m = tf.sequential();
    m.add(tf.layers.bidirectional({ layer: tf.layers.gru({ units: 4, recurrentActivation: 'sigmoid' }), inputShape: [5, 2] }));
    m.add(tf.layers.dropout({ rate: 0.2 }));
    m.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
    seedWeights(m, 70);
    const { modelJson, weights } = await saveArtifacts(m);
    m.dispose();
    const model = loadTfjsModel({ modelJson, weights }, { backend: 'ts' });
    expect(model.batchFirst).to.equal(true);
    expect(model.layers.map((l) => l.constructor.name)).to.deep.equal(['GRU', 'LastStep', 'Dropout', 'Linear', 'Softmax']);
    expect(model.layers[1].finalStates).to.equal(true);
    expect(model.layers[2]).to.be.instanceOf(Dropout);
    expect(model.layers[4]).to.be.instanceOf(Softmax);
    expect(model.layers[1]).to.be.instanceOf(LastStep);

    // Export: ONNX Runtime computes what the imported model computes.
    const x = randomInput(71, [4, 5, 2]);
    const ours = model.forward(tensor(x, [4, 5, 2])).output;
    const session = await ort.InferenceSession.create(toOnnx(model), { intraOpNumThreads: 1 });
    const theirs = (await session.run({ x: new ort.Tensor('float32', x, [4, 5, 2]) })).output;
    expect(theirs.dims).to.deep.equal([4, 3]);
    expect(allclose(theirs.data, ours.data, TOL)).to.equal(null);

    // Fine-tune: a mean-squared loss on the softmax outputs falls (a fixed target class per sequence).
    const rng = new Rng(72);
    const data = Array.from({ length: 32 }, () => {
      const seq = Array.from({ length: 5 }, () => [rng.uniform(-1, 1), rng.uniform(-1, 1)]);
      const c = seq[0][0] > 0 ? 0 : 2;
      return { x: seq, y: [c === 0 ? 1 : 0, 0, c === 2 ? 1 : 0] };
    });
    const t = new Trainer({ model, optimizer: new Adam(model, { lr: 0.05 }), loss: 'mse', seed: 1 });
    const before = t.evaluate(data).loss;
    await t.fit(data, { epochs: 15, batchSize: 8, progress: 'none' });
    expect(t.evaluate(data).loss).to.be.below(before * 0.7);
  });
});
