// toTfjs / encodeTfjs against TF.js itself: every model TF.js can express is exported, loaded by
// @tensorflow/tfjs's loadLayersModel (pure-JS cpu backend; tfjs-node is not installed, so the
// files on disk are handed to it by a small IOHandler that reads them as file:// would), and its
// predict must match our forward within float32 tolerance. loadTfjsModel reads the export back
// bit for bit. What TF.js cannot express is refused by name, before anything is written.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  Dropout, Embedding, encodeTfjs, GRU, LastStep, LayerNorm, Linear, loadTfjsModel, LSTM, ReLU, RNN, Rng, Sequential, Sigmoid, Softmax,
  Tanh, tensor, toTfjs, UnsupportedModelError,
} from 'cellstate';
import { backendCases } from './helpers/backends.mjs';

const ATOL = 1e-5; // float32: different summation orders, exp/tanh implementations
tf.env().set('PROD', true); // silences tfjs's "install tfjs-node" banner

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-tfjs-export-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const BACKENDS = backendCases().filter((c) => c.dtype === 'float32').map((c) => c.backend);

function randomData(seed, n, ints = 0) {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => (ints ? rng.nextU32() % ints : rng.uniform(-1.5, 1.5)));
}

/** [T, B, ...F] row-major -> [B, T, ...F] (F = the product of the trailing dims). */
function swap01(data, T, B, F) {
  const out = new Float32Array(data.length);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) out.set(data.subarray((t * B + b) * F, (t * B + b + 1) * F), (b * T + t) * F);
  return out;
}

/** TF.js loads the artifacts (model.json object + weight bytes) as its io.fromMemory handler gives them. */
function tfLoad(a) {
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: a.modelJson.modelTopology, weightSpecs: a.modelJson.weightsManifest[0].weights, weightData: a.weightData }));
}

/** TF.js loads a folder written by toTfjs: model.json and its shards read from disk, as file:// does. */
function tfLoadDir(d) {
  return tf.loadLayersModel({
    load: async () => {
      const mj = JSON.parse(fs.readFileSync(path.join(d, 'model.json'), 'utf8'));
      const g = mj.weightsManifest[0];
      const bytes = Buffer.concat(g.paths.map((p) => fs.readFileSync(path.join(d, p))));
      return { modelTopology: mj.modelTopology, weightSpecs: g.weights, weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) };
    },
  });
}

function maxAbsDiff(a, b) {
  expect(a.length).to.equal(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/**
 * A model, its input in our layout and TF.js's, and our output in TF.js's layout. `ids`: token ids
 * in [0, ids). Time-major models take (and give) the transpose of what the TF.js model does.
 */
function io(model, { B, T, I, ids = 0, seed }) {
  const batchFirst = model.batchFirst;
  const feat = ids ? 1 : I;
  const x = randomData(seed, B * T * feat, ids);
  const ourShape = ids ? (batchFirst ? [B, T] : [T, B]) : (batchFirst ? [B, T, I] : [T, B, I]);
  const tfX = batchFirst ? x : swap01(x, T, B, feat);
  const y = model.forward(tensor(x, ourShape)).output;
  const F = y.shape[y.shape.length - 1];
  const sequence = y.shape.length === 3;
  return { x, ourShape, tfX, tfShape: ids ? [B, T] : [B, T, I], y, want: sequence && !batchFirst ? swap01(y.data, T, B, F) : y.data };
}

// [label, make(backend) -> model, input sizes]
const CASES = [
  ['LSTM (lone, time-major)', (backend) => new LSTM({ inputSize: 3, hiddenSize: 5, seed: 1, backend }), { B: 3, T: 6, I: 3 }],
  ['LSTM (lone, batch-first, H = 1, T = 1)', (backend) => new LSTM({ inputSize: 2, hiddenSize: 1, batchFirst: true, seed: 2, backend }), { B: 1, T: 1, I: 2 }],
  ['LSTM without bias, bidirectional, batch-first', (backend) => new LSTM({ inputSize: 4, hiddenSize: 3, bias: false, bidirectional: true, batchFirst: true, seed: 3, backend }), { B: 2, T: 5, I: 4 }],
  ['LSTM, 3 stacked layers, bidirectional, dropout 0.3 (time-major, H = 17)', (backend) => new LSTM({ inputSize: 3, hiddenSize: 17, numLayers: 3, bidirectional: true, dropout: 0.3, seed: 4, backend }), { B: 3, T: 4, I: 3 }],
  ['GRU linearBeforeReset false (lone, batch-first, H = 8)', (backend) => new GRU({ inputSize: 5, hiddenSize: 8, linearBeforeReset: false, batchFirst: true, seed: 5, backend }), { B: 3, T: 7, I: 5 }],
  ['GRU linearBeforeReset false, no bias, 2 layers, bidirectional', (backend) => new GRU({ inputSize: 3, hiddenSize: 4, numLayers: 2, bias: false, bidirectional: true, linearBeforeReset: false, batchFirst: true, seed: 6, backend }), { B: 2, T: 3, I: 3 }],
  ['RNN tanh (lone, time-major, H = 9)', (backend) => new RNN({ inputSize: 4, hiddenSize: 9, seed: 7, backend }), { B: 3, T: 5, I: 4 }],
  ['RNN relu, 2 layers, bidirectional', (backend) => new RNN({ inputSize: 3, hiddenSize: 4, numLayers: 2, nonlinearity: 'relu', bidirectional: true, batchFirst: true, seed: 8, backend }), { B: 2, T: 6, I: 3 }],
  ['Embedding -> bidirectional LSTM (2 layers) -> LastStep(finalStates) -> Linear -> Softmax', (backend) => new Sequential([
    new Embedding({ numEmbeddings: 11, embeddingDim: 4, seed: 9 }),
    new LSTM({ inputSize: 4, hiddenSize: 5, numLayers: 2, bidirectional: true, batchFirst: true, seed: 10, backend }),
    new LastStep({ batchFirst: true, finalStates: true }),
    new Linear({ inFeatures: 10, outFeatures: 3, seed: 11 }), new Softmax(),
  ]), { B: 4, T: 6, ids: 11 }],
  ['Embedding -> GRU -> Linear per step (TimeDistributed) -> Tanh, time-major', (backend) => new Sequential([
    new Embedding({ numEmbeddings: 7, embeddingDim: 3, paddingIdx: 0, seed: 12 }),
    new GRU({ inputSize: 3, hiddenSize: 6, linearBeforeReset: false, seed: 13, backend }),
    new Linear({ inFeatures: 6, outFeatures: 2, seed: 14 }), new Tanh(),
  ]), { B: 3, T: 5, ids: 7 }],
  ['Linear -> ReLU -> RNN -> Dropout -> LSTM -> LastStep -> Linear (no bias) -> Sigmoid, named layers', (backend) => new Sequential({
    proj: new Linear({ inFeatures: 3, outFeatures: 4, seed: 15 }), act: new ReLU(),
    rnn: new RNN({ inputSize: 4, hiddenSize: 3, batchFirst: true, seed: 16, backend }), drop: new Dropout({ p: 0.2 }),
    lstm: new LSTM({ inputSize: 3, hiddenSize: 4, batchFirst: true, seed: 17, backend }), last: new LastStep({ batchFirst: true }),
    head: new Linear({ inFeatures: 4, outFeatures: 2, bias: false, seed: 18 }), out: new Sigmoid(),
  }), { B: 2, T: 4, I: 3 }],
  ['LSTM -> LayerNorm -> Linear per step -> LayerNorm (no affine, eps 1e-3), time-major', (backend) => {
    const ln = new LayerNorm({ normalizedShape: 6 });
    ln.loadStateDict({ weight: tensor(randomData(21, 6), [6]), bias: tensor(randomData(22, 6), [6]) }); // not the identity's ones and zeros
    return new Sequential([new LSTM({ inputSize: 3, hiddenSize: 6, seed: 23, backend }), ln,
      new Linear({ inFeatures: 6, outFeatures: 4, seed: 24 }), new LayerNorm({ normalizedShape: 4, elementwiseAffine: false, eps: 1e-3 })]);
  }, { B: 3, T: 4, I: 3 }],
  ['bidirectional RNN -> LastStep(finalStates) -> LayerNorm (weight only)', (backend) => {
    const ln = new LayerNorm({ normalizedShape: 8, bias: false });
    ln.loadStateDict({ weight: tensor(randomData(25, 8), [8]) });
    return new Sequential([new RNN({ inputSize: 2, hiddenSize: 4, bidirectional: true, batchFirst: true, seed: 26, backend }), new LastStep({ batchFirst: true, finalStates: true }), ln]);
  }, { B: 2, T: 5, I: 2 }],
  // Gate activations TF.js can express (issue #22): written as activation / recurrent_activation.
  ['LSTM with TF.js\'s defaults (hardSigmoid, tanh, tanh), bidirectional', (backend) => new LSTM({ inputSize: 3, hiddenSize: 5, bidirectional: true, activations: ['hardSigmoid', 'tanh', 'tanh'], seed: 31, backend }), { B: 2, T: 6, I: 3 }],
  ['GRU hardSigmoid / softsign, RNN elu, LSTM linear / relu', (backend) => new Sequential([
    new GRU({ inputSize: 3, hiddenSize: 4, linearBeforeReset: false, activations: ['hardSigmoid', 'softsign'], batchFirst: true, seed: 32, backend }),
    new RNN({ inputSize: 4, hiddenSize: 3, activations: ['elu'], batchFirst: true, seed: 33, backend }),
    new LSTM({ inputSize: 3, hiddenSize: 3, activations: [{ name: 'affine', alpha: 1, beta: 0 }, 'relu', 'relu'], batchFirst: true, seed: 34, backend }),
  ]), { B: 2, T: 5, I: 3 }],
  ['GRU -> LastStep (one direction) -> Linear, time-major', (backend) => new Sequential([
    new GRU({ inputSize: 2, hiddenSize: 3, linearBeforeReset: false, seed: 19, backend }), new LastStep(),
    new Linear({ inFeatures: 3, outFeatures: 1, seed: 20 }),
  ]), { B: 3, T: 8, I: 2 }],
];

describe('toTfjs: TF.js loads the export and its predict matches our forward', function () {
  before(async function () {
    await tf.setBackend('cpu');
  });

  CASES.forEach(([label, make, sizes], idx) => {
    it(label, async function () {
      for (const backend of BACKENDS) {
        const model = make(backend);
        const { tfX, tfShape, y, want, x, ourShape } = io(model, { ...sizes, seed: 100 + idx });
        const a = encodeTfjs(model);
        const tm = await tfLoad(a);
        const got = tm.predict(tf.tensor(tfX, tfShape));
        const diff = maxAbsDiff(got.dataSync(), want);
        expect(diff, `${backend}: max |TF.js - ours|`).to.be.below(ATOL);
        got.dispose();
        tm.dispose();
        // Back through loadTfjsModel (batch-first, as Keras layers are): the same numbers bit for bit,
        // except through a GRU: its b_hn moves into the one Keras bias (b_in + b_hn, summed once here,
        // added at another point of the kernel's sum), which may change the last bit.
        const back = loadTfjsModel({ modelJson: JSON.stringify(a.modelJson), weights: a.weightData }, { backend });
        const again = back.forward(tensor(tfX, tfShape)).output;
        if (label.includes('GRU')) expect(maxAbsDiff(again.data, want), `${backend}: round trip`).to.be.below(1e-6);
        else expect(again.data, `${backend}: round trip`).to.deep.equal(want);
        if (model.batchFirst) expect(again.shape).to.deep.equal(y.shape);
        expect(x.length).to.equal(ourShape.reduce((p, q) => p * q, 1));
        // And the imported model exports to the same bytes: the export is a fixed point from there on.
        const a2 = encodeTfjs(back);
        expect(Buffer.from(a2.weightData), `${backend}: re-export`).to.deep.equal(Buffer.from(a.weightData));
        expect(loadTfjsModel({ modelJson: a2.modelJson, weights: a2.weightData }, { backend }).forward(tensor(tfX, tfShape)).output.data).to.deep.equal(again.data);
      }
    });
  });

  it('writes model.json and the shards to a folder (created), which TF.js and loadTfjsModel load', async function () {
    const model = new Sequential([
      new LSTM({ inputSize: 3, hiddenSize: 8, bidirectional: true, batchFirst: true, seed: 30 }),
      new Linear({ inFeatures: 16, outFeatures: 2, seed: 31 }),
    ]);
    const out = path.join(dir, 'nested', 'model-a');
    // 100-byte shards: weights straddle shard boundaries, as TF.js's own 4 MiB shards do in big models.
    toTfjs(model, out, { shardBytes: 100 });
    const mj = JSON.parse(fs.readFileSync(path.join(out, 'model.json'), 'utf8'));
    const paths = mj.weightsManifest[0].paths;
    const total = mj.weightsManifest[0].weights.reduce((s, w) => s + 4 * w.shape.reduce((p, q) => p * q, 1), 0);
    expect(paths.length).to.equal(Math.ceil(total / 100));
    expect(paths[0]).to.equal(`group1-shard1of${paths.length}.bin`);
    paths.forEach((p, i) => expect(fs.statSync(path.join(out, p)).size).to.equal(i < paths.length - 1 ? 100 : total - 100 * (paths.length - 1)));
    expect(fs.readdirSync(out).filter((f) => f.includes('.tmp-'))).to.deep.equal([]);
    const { tfX, tfShape, want } = io(model, { B: 2, T: 5, I: 3, seed: 32 });
    const tm = await tfLoadDir(out);
    const got = tm.predict(tf.tensor(tfX, tfShape));
    expect(maxAbsDiff(got.dataSync(), want)).to.be.below(ATOL);
    got.dispose();
    tm.dispose();
    expect(loadTfjsModel(out).forward(tensor(tfX, tfShape)).output.data).to.deep.equal(want);
    // The in-memory form is the same bytes: its manifest names the shards toTfjs writes with the same options.
    const a = encodeTfjs(model, { shardBytes: 100 });
    expect(a.modelJson).to.deep.equal(mj);
    expect(Buffer.from(a.weightData)).to.deep.equal(Buffer.concat(paths.map((p) => fs.readFileSync(path.join(out, p)))));
    // Default shards: one file for a small model.
    const out2 = path.join(dir, 'model-b');
    toTfjs(model, out2);
    expect(fs.readdirSync(out2).sort()).to.deep.equal(['group1-shard1of1.bin', 'model.json']);
  });

  it('a float64 model is written as float32 (rounded): TF.js matches it within float32 tolerance', async function () {
    const model = new LSTM({ inputSize: 2, hiddenSize: 3, batchFirst: true, dtype: 'float64', backend: 'ts', seed: 33 });
    const x = randomData(34, 2 * 4 * 2);
    const want = model.forward(tensor(Float64Array.from(x), [2, 4, 2])).output.data;
    const tm = await tfLoad(encodeTfjs(model));
    const got = tm.predict(tf.tensor(x, [2, 4, 2]));
    expect(maxAbsDiff(got.dataSync(), want)).to.be.below(ATOL);
    got.dispose();
    tm.dispose();
  });

  it('TF.js trains the exported model (its config is a complete Keras config)', async function () {
    const model = new Sequential([new GRU({ inputSize: 2, hiddenSize: 4, linearBeforeReset: false, batchFirst: true, seed: 35 }), new LastStep({ batchFirst: true }), new Linear({ inFeatures: 4, outFeatures: 1, seed: 36 })]);
    const tm = await tfLoad(encodeTfjs(model));
    tm.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    const xs = tf.tensor(randomData(37, 8 * 5 * 2), [8, 5, 2]), ys = tf.tensor(randomData(38, 8), [8, 1]);
    const h = await tm.fit(xs, ys, { epochs: 5, batchSize: 8, verbose: 0, shuffle: false });
    expect(h.history.loss[4]).to.be.below(h.history.loss[0]);
    tf.dispose([xs, ys]);
    tm.dispose();
  });
});

describe('toTfjs: what TF.js cannot express is refused by name', function () {
  const seq = (...layers) => new Sequential(layers);
  const REFUSED = [
    ['LSTM projSize', () => new LSTM({ inputSize: 2, hiddenSize: 4, projSize: 2 }), /projSize: TF\.js LSTM has no projection/],
    ['LSTM peephole', () => new LSTM({ inputSize: 2, hiddenSize: 4, peephole: true }), /peephole: TF\.js LSTM has no peephole/],
    ['LSTM inputForget', () => new LSTM({ inputSize: 2, hiddenSize: 4, inputForget: true }), /inputForget: TF\.js LSTM has no coupled input-forget gate/],
    ['clip', () => new GRU({ inputSize: 2, hiddenSize: 4, clip: 3, linearBeforeReset: false }), /clip: TF\.js recurrent layers do not clip/],
    ['reverse', () => new RNN({ inputSize: 2, hiddenSize: 4, reverse: true }), /reverse: a lone reversed layer/],
    ["GRU with PyTorch's linearBeforeReset (the default)", () => new GRU({ inputSize: 2, hiddenSize: 4 }), /linearBeforeReset: TF\.js's GRU applies the reset gate before the recurrent matmul/],
    ['a GRU inside a chain names its position', () => seq(new Linear({ inFeatures: 2, outFeatures: 2 }), new GRU({ inputSize: 2, hiddenSize: 3 })), /model\.layers\[1\] \(GRU\(.*\)\): linearBeforeReset/],
    ['a quantized model', () => new LSTM({ inputSize: 2, hiddenSize: 4 }).quantize('int8'), /quantized model .* cannot be exported/],
    ['a quantized Sequential', () => seq(new LSTM({ inputSize: 2, hiddenSize: 4 }), new Linear({ inFeatures: 4, outFeatures: 1 })).quantize('bf16'), /quantized model .* cannot be exported/],
    ['a LayerNorm of the wrong size', () => seq(new LSTM({ inputSize: 2, hiddenSize: 4 }), new LayerNorm({ normalizedShape: 3 })), /model\.layers\[1\]: expected a layer reading 4 features/, RangeError],
    ['a LastStep not right after a recurrent layer', () => seq(new LSTM({ inputSize: 2, hiddenSize: 4 }), new Linear({ inFeatures: 4, outFeatures: 4 }), new LastStep()), /model\.layers\[2\] \(LastStep.*\): TF\.js expresses LastStep as return_sequences false/],
    ['a plain LastStep after a bidirectional layer', () => seq(new LSTM({ inputSize: 2, hiddenSize: 4, bidirectional: true }), new LastStep()), /use LastStep\(\{ finalStates: true \}\)/],
    ['finalStates after one direction', () => seq(new LSTM({ inputSize: 2, hiddenSize: 4 }), new LastStep({ finalStates: true })), /finalStates: true after a one-direction layer/],
    ['an Embedding not first', () => seq(new Linear({ inFeatures: 2, outFeatures: 2 }), new Embedding({ numEmbeddings: 3, embeddingDim: 2 })), /an Embedding must come first/],
    ['an activation first', () => seq(new Tanh(), new Linear({ inFeatures: 2, outFeatures: 2 })), /expected an Embedding, LSTM, GRU, RNN or Linear first/],
    ['an activation TF.js lacks (leakyRelu)', () => new RNN({ inputSize: 2, hiddenSize: 4, activations: ['leakyRelu'] }), /activations\[0\]: \{"name":"leakyRelu","alpha":0\.01,"beta":0\} has no TF\.js form/],
    ['hardSigmoid with other parameters', () => new LSTM({ inputSize: 2, hiddenSize: 4, activations: [{ name: 'hardSigmoid', alpha: 0.25 }, 'tanh', 'tanh'] }), /activations\[0\]: .* has no TF\.js form/],
    ['an LSTM whose g and h differ', () => new LSTM({ inputSize: 2, hiddenSize: 4, activations: ['sigmoid', 'tanh', 'relu'] }), /activations: Keras' LSTM has one activation for the candidate and the cell output; activations\[1\] \(tanh\) and activations\[2\] \(relu\) differ/],
    ['a recurrent layer after a LastStep', () => seq(new LSTM({ inputSize: 2, hiddenSize: 4 }), new LastStep(), new RNN({ inputSize: 4, hiddenSize: 2 })), /after a LastStep has no sequence to read/],
  ];
  for (const [label, make, msg, cls = UnsupportedModelError] of REFUSED) {
    it(label, function () {
      const model = make();
      expect(() => encodeTfjs(model)).to.throw(cls, msg);
      const out = path.join(dir, `refused-${label.replace(/\W+/g, '-')}`);
      expect(() => toTfjs(model, out)).to.throw(cls, msg);
      expect(fs.existsSync(out), 'nothing written').to.equal(false);
    });
  }

  it('bad arguments are TypeErrors / RangeErrors naming them', function () {
    const m = new LSTM({ inputSize: 2, hiddenSize: 3 });
    expect(() => encodeTfjs({})).to.throw(TypeError, /toTfjs: model: expected an LSTM, GRU or RNN, or a Sequential of exportable layers, got an object/);
    expect(() => toTfjs(m, '')).to.throw(TypeError, /toTfjs: dir: expected a folder path, got ""/);
    expect(() => toTfjs(m, 7)).to.throw(TypeError, /toTfjs: dir: expected a folder path, got 7/);
    expect(() => encodeTfjs(m, { shardBytes: 0 })).to.throw(TypeError, /options\.shardBytes: expected a positive integer number of bytes, got 0/);
    expect(() => encodeTfjs(m, { shardbytes: 10 })).to.throw(TypeError, /shardbytes/);
    expect(() => encodeTfjs(new Sequential([new LSTM({ inputSize: 2, hiddenSize: 3 }), new Linear({ inFeatures: 4, outFeatures: 1 })])))
      .to.throw(RangeError, /model\.layers\[1\]: expected a layer reading 3 features/);
    // A file where the folder should be: the file-system error names the call.
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, 'x');
    expect(() => toTfjs(m, file)).to.throw(/toTfjs: file: .*EEXIST|toTfjs: file: .*ENOTDIR/);
  });
});

describe('loadTfjsModel: LayerNormalization from TF.js', function () {
  before(async function () {
    await tf.setBackend('cpu');
  });

  /** A model saved by TF.js itself: the layer's axis is written resolved ([2] for [B, T, F]). */
  async function saved(m) {
    let art;
    await m.save(tf.io.withSaveHandler(async (a) => { art = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
    return { modelJson: { modelTopology: art.modelTopology, weightsManifest: [{ paths: ['w.bin'], weights: art.weightSpecs }] }, weights: new Uint8Array(art.weightData) };
  }

  it('TF.js-built LayerNormalization (scale and center, center only, after a sequence and after the last step) matches its predict', async function () {
    const m = tf.sequential();
    m.add(tf.layers.lstm({ units: 5, recurrentActivation: 'sigmoid', returnSequences: true, inputShape: [4, 3] }));
    m.add(tf.layers.layerNormalization({ epsilon: 1e-4 }));
    m.add(tf.layers.gru({ units: 4, recurrentActivation: 'sigmoid' }));
    m.add(tf.layers.layerNormalization({ scale: false }));
    m.setWeights(m.getWeights().map((w, i) => tf.tensor(randomData(60 + i, w.size), w.shape)));
    const x = randomData(70, 2 * 4 * 3);
    const y = m.predict(tf.tensor(x, [2, 4, 3]));
    const want = y.dataSync();
    const art = await saved(m);
    expect(art.modelJson.modelTopology.config.layers[1].config.axis).to.deep.equal([2]);
    for (const backend of BACKENDS) {
      const ours = loadTfjsModel(art, { backend });
      expect(maxAbsDiff(ours.forward(tensor(x, [2, 4, 3])).output.data, want), backend).to.be.below(ATOL);
    }
    // Another axis than the last is refused, naming it.
    const bad = structuredClone(art.modelJson);
    bad.modelTopology.config.layers[1].config.axis = [1];
    expect(() => loadTfjsModel({ modelJson: bad, weights: art.weights })).to.throw(UnsupportedModelError, /LayerNormalization layer .*: axis: only the last axis is supported, got \[1\] for a rank-3 input/);
    y.dispose();
    m.dispose();
  });
});
