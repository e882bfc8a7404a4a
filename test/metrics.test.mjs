// Metrics in Trainer.fit / evaluate, and Trainer's tensor data and typed predict. The model for the
// hand-checked numbers is an Embedding whose weight is the 3×3 identity (then a LastStep for
// many-to-one): its output row is the one-hot of the token, so argmax = the token and every
// accuracy below is counted by hand from the data.
import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { Adam, Embedding, LastStep, Linear, LSTM, SGD, Sequential, Trainer, tensor } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
import { Rng } from './helpers/random.mjs';

const I3 = { weight: { shape: [3, 3], data: [1, 0, 0, 0, 1, 0, 0, 0, 1] } };

function oneHotModel({ last = true, batchFirst = false, dtype = 'float32' } = {}) {
  const emb = new Embedding({ numEmbeddings: 3, embeddingDim: 3, seed: 1, dtype }).loadStateDict(I3);
  return new Sequential(last ? [emb, new LastStep({ batchFirst })] : [emb]);
}

const trainerFor = (model, extra = {}) => new Trainer({ model, optimizer: new SGD(model, { lr: 0 }), loss: 'crossEntropy', seed: 1, ...extra });

// Many-to-one: the prediction is the last valid token. Correct: s0, s1, s4 (3 of 5). s2 and s3 are
// shorter than others in their batch: reading a padded step (token 0) instead would flip them.
const M2O = [
  { x: [0, 1, 2], y: 2 }, // last 2: correct
  { x: [1], y: 1 }, // correct
  { x: [2, 0], y: 2 }, // last 0: wrong (padding would also say 0)
  { x: [0, 0, 1], y: 0 }, // last 1: wrong
  { x: [2], y: 2 }, // correct; padded to T=3 in a full batch it would read token 0
];
// Per step: 2 of 3 for s0, 1 of 1 for s1, 0 of 2 for s2: 3 of 6 counted steps.
const PER_STEP = [
  { x: [0, 1, 2], y: [0, 1, 0] },
  { x: [2], y: [2] },
  { x: [1, 1], y: [0, 2] },
];

/** Mean of the target class over the counted rows (a user metric whose value is checkable by hand). */
const meanClass = (output, t) => {
  let s = 0, n = 0;
  t.classes.forEach((c, r) => { if (!t.mask || t.mask[r]) { s += c; n++; } });
  return s / n;
};

describe('metrics', function () {
  this.timeout(60000);

  for (const batchFirst of [false, true]) {
    it(`accuracy many-to-one honours lengths; batches are weighted by their counted rows (${batchFirst ? 'batch-first' : 'time-major'})`, function () {
      const t = trainerFor(oneHotModel({ batchFirst }));
      for (const batchSize of [1, 2, 3, 5]) {
        const r = t.evaluate(M2O, { batchSize, metrics: ['accuracy', meanClass] });
        expect(r.metrics.accuracy, `batchSize ${batchSize}`).to.equal(3 / 5);
        // y = 2, 1, 2, 0, 2: mean 7/5 whatever the batches (batchSize 2: (1.5·2 + 1·2 + 2·1) / 5, not the batch mean 1.5).
        expect(r.metrics.meanClass, `batchSize ${batchSize}`).to.be.closeTo(7 / 5, 1e-15);
      }
    });
  }

  it('accuracy per step counts only the valid steps', function () {
    const t = trainerFor(oneHotModel({ last: false }));
    for (const batchSize of [1, 2, 3]) {
      const r = t.evaluate(PER_STEP, { batchSize, metrics: ['accuracy', { name: 'meanTarget', fn: meanClass }] });
      expect(r.metrics.accuracy, `batchSize ${batchSize}`).to.equal(3 / 6);
      expect(r.metrics.meanTarget).to.be.closeTo((0 + 1 + 0 + 2 + 0 + 2) / 6, 1e-15);
      expect(Object.keys(r.metrics)).to.deep.equal(['accuracy', 'meanTarget']);
    }
    expect(t.evaluate(PER_STEP).metrics).to.deep.equal({});
  });

  it('fit reports each metric per epoch for training and validation, in the log, the JSON lines and the bar', async function () {
    const model = oneHotModel();
    const t = trainerFor(model);
    const json = new PassThrough();
    let out = '';
    json.on('data', (d) => { out += d; });
    const h = await t.fit(M2O, { epochs: 2, batchSize: 2, validation: M2O.slice(0, 2), metrics: ['accuracy', meanClass], progress: 'json', progressStream: json });
    for (const log of h) {
      expect(log.metrics).to.deep.equal({ accuracy: 3 / 5, meanClass: 7 / 5 });
      expect(log.valMetrics).to.deep.equal({ accuracy: 1, meanClass: 1.5 });
    }
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[1].metrics.accuracy).to.equal(0.6);
    expect(lines[1].valMetrics.accuracy).to.equal(1);
    const bar = new PassThrough();
    let text = '';
    bar.on('data', (d) => { text += d; });
    await t.fit(M2O, { epochs: 1, batchSize: 5, validation: M2O, metrics: ['accuracy'], progress: 'bar', progressStream: bar });
    expect(text).to.match(/loss \d\.\d{4} accuracy 0\.6000 val \d\.\d{4} val_accuracy 0\.6000 /);
    // Without metrics the log has no metrics keys (as before).
    expect(Object.keys((await t.fit(M2O, { epochs: 1, progress: 'none' }))[0])).to.not.include('metrics');
  });

  it('training accuracy is measured on the outputs each step trained on (rises as the model learns)', async function () {
    // A 3-class task the LSTM learns: the class is the first token. Seeded; accuracy from 1/3-ish to 1.
    const rng = new Rng(5);
    const data = Array.from({ length: 48 }, () => {
      const x = Array.from({ length: 4 }, () => Math.floor(rng.next() * 3));
      return { x, y: x[0] };
    });
    const model = new Sequential([new Embedding({ numEmbeddings: 3, embeddingDim: 4, seed: 1 }), new LSTM({ inputSize: 4, hiddenSize: 8, seed: 2 }), new LastStep(), new Linear({ inFeatures: 8, outFeatures: 3, seed: 3 })]);
    const t = new Trainer({ model, optimizer: new Adam(model, { lr: 0.05 }), loss: 'crossEntropy', seed: 4 });
    const h = await t.fit(data, { epochs: 25, batchSize: 8, metrics: ['accuracy'], progress: 'none' });
    expect(h[0].metrics.accuracy).to.be.below(0.8);
    expect(h.at(-1).metrics.accuracy).to.equal(1);
    expect(t.evaluate(data, { metrics: ['accuracy'] }).metrics.accuracy).to.equal(1);
  });

  it('refuses bad metrics naming them', async function () {
    const t = trainerFor(oneHotModel());
    expect(() => t.evaluate(M2O, { metrics: 'accuracy' })).to.throw(TypeError, /Trainer.evaluate: metrics: expected an array of metrics/);
    expect(() => t.evaluate(M2O, { metrics: ['acc'] })).to.throw(TypeError, /Trainer.evaluate: metrics\[0\]: expected 'accuracy', a function \(output, targets\) => number, or \{ name, fn \}, got "acc"/);
    expect(() => t.evaluate(M2O, { metrics: [meanClass, meanClass] })).to.throw(TypeError, /metrics\[1\]: expected a metric name not already used.*got "meanClass"/);
    expect(() => t.evaluate(M2O, { metrics: [{ name: 'nan', fn: () => NaN }] })).to.throw(RangeError, /Trainer.evaluate: metric 'nan': expected a finite number for the batch, got NaN/);
    const reg = new Sequential([new LSTM({ inputSize: 1, hiddenSize: 2, seed: 1 })]);
    const mse = new Trainer({ model: reg, optimizer: new SGD(reg, { lr: 0 }), loss: 'mse' });
    await mse.fit([{ x: [[1]], y: [[1, 1]] }], { epochs: 1, progress: 'none', metrics: ['accuracy'] }).then(() => expect.fail('resolved'), (e) => {
      expect(e).to.be.instanceOf(TypeError);
      expect(e.message).to.match(/Trainer.fit: metrics\[0\]: expected 'accuracy' with class targets \(loss 'crossEntropy', or classTargets: true\)/);
    });
  });
});

describe('Trainer with tensor data', function () {
  this.timeout(60000);

  for (const { backend, dtype } of backendCases()) {
    it(`fit / evaluate / predict on { x: Tensor, y, lengths } compute exactly what the same Sample[] does (${backend}, ${dtype})`, async function () {
      const rng = new Rng(8);
      const N = 6, T = 5, F = 2;
      const lengths = [5, 3, 1, 5, 4, 2];
      const xd = Array.from({ length: N * T * F }, () => rng.uniform(-1, 1));
      const yd = Array.from({ length: N * T }, () => rng.uniform(-1, 1));
      const samples = lengths.map((len, i) => ({
        x: Array.from({ length: len }, (_, t) => xd.slice((i * T + t) * F, (i * T + t + 1) * F)),
        y: yd.slice(i * T, i * T + len),
      }));
      const tdata = { x: tensor(xd, [N, T, F], dtype), y: tensor(yd, [N, T], dtype), lengths };
      const run = async (data) => {
        const model = new Sequential([new LSTM({ inputSize: F, hiddenSize: 4, batchFirst: true, seed: 2, dtype, backend }), new Linear({ inFeatures: 4, outFeatures: 1, seed: 3, dtype })]);
        const t = new Trainer({ model, optimizer: new Adam(model, { lr: 0.01 }), loss: 'mse', seed: 4 });
        const h = await t.fit(data, { epochs: 2, batchSize: 4, validation: data, progress: 'none' });
        return { loss: h.map((l) => [l.loss, l.valLoss]), ev: t.evaluate(data), p: t.predict(data, { perStep: true }) };
      };
      const a = await run(samples), b = await run(tdata);
      expect(b).to.deep.equal(a);
      expect(a.p.map((s) => s.length)).to.deep.equal(lengths);
    });
  }

  it('class targets as a Tensor [N] or an array, token ids [N, T]; predict per sequence typed by perStep: false', function () {
    const t = trainerFor(oneHotModel());
    const x = tensor([[0, 1, 2], [1, 0, 0], [2, 0, 0], [0, 0, 1], [2, 0, 0]]);
    const lengths = [3, 1, 2, 3, 1];
    const y = [2, 1, 2, 0, 2];
    expect(t.evaluate({ x, y: tensor(y), lengths }, { metrics: ['accuracy'] }).metrics.accuracy).to.equal(3 / 5);
    expect(t.evaluate({ x, y, lengths }, { metrics: ['accuracy'] }).metrics.accuracy).to.equal(3 / 5);
    const p = t.predict({ x, lengths }, { perStep: false });
    expect(p).to.deep.equal([[0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    expect(() => t.predict({ x, lengths }, { perStep: true })).to.throw(RangeError, /Trainer.predict: options.perStep: expected false \(the model's output is per sequence, \[B, C\]\), got true/);
  });

  it('refuses malformed tensor data naming the part', async function () {
    const t = trainerFor(oneHotModel());
    const x = tensor([[0, 1], [1, 2]]);
    expect(() => t.evaluate({ x: [[0, 1]], y: [1, 2] })).to.throw(TypeError, /Trainer.evaluate: data.x: expected a Tensor \[N, T\] \(token ids\) or \[N, T, F\] \(features\)/);
    expect(() => t.evaluate({ x })).to.throw(TypeError, /Trainer.evaluate: data.y: expected targets/);
    expect(() => t.evaluate({ x, y: tensor([1, 2, 0]) })).to.throw(RangeError, /data.y: expected shape \[2, \.\.\.\]/);
    expect(() => t.evaluate({ x, y: [1, 2], lengths: [1, 3] })).to.throw(RangeError, /data.lengths\[1\]: expected an integer in \[1, 2\], got 3/);
    expect(() => t.evaluate({ x, y: [1, 2], extra: 1 })).to.throw(TypeError, /data.extra/);
    expect(() => t.evaluate(x)).to.throw(TypeError, /Trainer.evaluate: data: expected an array of samples \{ x, y \}, or tensor data/);
    expect(t.evaluate({ x, y: [1, 2] }).count).to.equal(2);
  });
});
