// Trainer.step, the one training step fit() and the apps' loops (the character model, the
// experiments) use: the same arithmetic as the steps written out by hand, the same weights as fit()
// on the same batch, the non-finite policy outside fit(), argument checks; and the error codes the
// policy switches on (CELLSTATE_NON_FINITE, CELLSTATE_OVERFLOW) instead of matching messages.
import { expect } from 'chai';
import {
  Adam, availableBackends, clipGradNorm, crossEntropy, Embedding, GRU, LastStep, Linear, LSTM, mseLoss, NonFiniteError, RNN, Sequential, SGD, StaleCacheError, Tensor, Trainer,
} from 'cellstate';
import { RELEASE_CACHE } from '../dist/nn/layer.js';

const V = 5, T = 6, B = 3;
const charModel = (backend) => new Sequential([
  new Embedding({ numEmbeddings: V, embeddingDim: 4, seed: 1 }), new LSTM({ inputSize: 4, hiddenSize: 8, seed: 2, backend }), new Linear({ inFeatures: 8, outFeatures: V, seed: 3 }),
]);
const weights = (m) => Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, Array.from(t.data)]));
/** Sequences of ids (one per batch entry) and their next ids, time-major: x [T, B], classes row t*B + b. */
function batch(seed) {
  const seqs = Array.from({ length: B }, (_, b) => Array.from({ length: T + 1 }, (_, t) => (seed * 7 + b * 3 + t * (b + 2)) % V));
  const x = new Float32Array(T * B), y = new Int32Array(T * B);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) { x[t * B + b] = seqs[b][t]; y[t * B + b] = seqs[b][t + 1]; }
  return { seqs, x: new Tensor(x, [T, B]), y };
}

describe('Trainer.step', function () {
  for (const backend of availableBackends()) {
    it(`${backend}: the same weights as forwardTrain -> crossEntropy -> backward -> clipGradNorm -> Adam.step written out`, function () {
      const a = charModel(backend), b = charModel(backend);
      const optA = new Adam(a, { lr: 0.01 }), optB = new Adam(b, { lr: 0.01 });
      const trainer = new Trainer({ model: a, optimizer: optA, loss: 'crossEntropy', clipNorm: 0.5, seed: 1 });
      for (let s = 0; s < 4; s++) {
        const { x, y } = batch(s);
        const r = trainer.step({ x, targets: { classes: y } });
        const f = b.forwardTrain(x);
        const L = crossEntropy(f.output, y);
        const g = b.backward(f.cache, { dOutput: L.grad }).grads;
        const norm = clipGradNorm(g, 0.5);
        optB.step(g);
        expect(r).to.include({ loss: L.loss, count: L.count, gradNorm: norm, updated: true, skipped: null });
        expect(r.output.shape).to.deep.equal([T, B, V]);
        expect(weights(a)).to.deep.equal(weights(b));
      }
      expect(optA.stepCount).to.equal(4);
    });

    it(`${backend}: fit() on one unshuffled batch takes exactly this step`, async function () {
      const a = charModel(backend), b = charModel(backend);
      const { seqs, x, y } = batch(3);
      const samples = seqs.map((s) => ({ x: s.slice(0, T), y: s.slice(1) }));
      const fitter = new Trainer({ model: a, optimizer: new SGD(a, { lr: 0.1 }), loss: 'crossEntropy', seed: 1 });
      const log = await fitter.fit(samples, { epochs: 1, batchSize: B, shuffle: false, progress: 'none' });
      const stepper = new Trainer({ model: b, optimizer: new SGD(b, { lr: 0.1 }), loss: 'crossEntropy', seed: 1 });
      const r = stepper.step({ x, targets: { classes: y }, lengths: Int32Array.from({ length: B }, () => T) });
      expect(log[0].loss).to.equal(r.loss);
      expect(weights(a)).to.deep.equal(weights(b));
    });
  }

  // Trainer.step gives each step's training caches back (RELEASE_CACHE) and the native backend hands
  // their memory to the next training forward of the same size: the reused, unzeroed buffers must
  // give the bits fresh ones give (the written-out steps never release), with and without lengths,
  // for every kind, stacked and bidirectional, and across a change of T (a miss, then hits).
  for (const backend of availableBackends()) {
    for (const Kind of [LSTM, GRU, RNN]) {
      it(`${backend}: ${Kind.name}, 2 layers, bidirectional: steps on recycled training caches give the bits of fresh ones`, function () {
        const make = () => new Sequential([new Kind({ inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true, seed: 4, backend }), new LastStep(), new Linear({ inFeatures: 10, outFeatures: 2, seed: 5 })]);
        const a = make(), b = make();
        const optA = new Adam(a, { lr: 0.01 }), optB = new Adam(b, { lr: 0.01 });
        const trainer = new Trainer({ model: a, optimizer: optA, loss: 'mse', clipNorm: 1, seed: 1 });
        const plan = [[7, null], [7, [7, 3, 5, 1]], [7, [2, 7, 7, 4]], [9, null], [7, [6, 6, 1, 7]], [9, [9, 2, 8, 5]]];
        plan.forEach(([T, lengths], s) => {
          const x = new Tensor(Float32Array.from({ length: T * 4 * 3 }, (_, i) => Math.sin(i * 0.37 + s)), [T, 4, 3]);
          const y = new Tensor(Float32Array.from({ length: 8 }, (_, i) => Math.cos(i + s)), [4, 2]);
          const lens = lengths && Int32Array.from(lengths);
          trainer.step({ x, lengths: lens, targets: { values: y } });
          const f = b.forwardTrain(x, { lengths: lens });
          const L = mseLoss(f.output, y);
          const g = b.backward(f.cache, { dOutput: L.grad }).grads;
          clipGradNorm(g, 1);
          optB.step(g);
          expect(weights(a), `step ${s}`).to.deep.equal(weights(b));
        });
      });
    }
  }

  it('a released training cache is refused by backward with StaleCacheError, not read', function () {
    for (const backend of availableBackends()) {
      const m = new Sequential([new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1, backend }), new LastStep()]);
      const x = new Tensor(new Float32Array(2 * 5 * 2).fill(0.5), [5, 2, 2]);
      const f = m.forwardTrain(x);
      m[RELEASE_CACHE](f.cache);
      expect(() => m.backward(f.cache, { dOutput: f.output }), backend).to.throw(StaleCacheError, /released after its backward/);
      const lstm = new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1, backend });
      const r = lstm.forwardTrain(x);
      lstm[RELEASE_CACHE](r.cache);
      expect(() => lstm.backward(r.cache), backend).to.throw(StaleCacheError, /released after its backward/);
    }
  });

  it('carries the state it ends in: two chunks with the state passed equal fit with tbptt', async function () {
    const a = charModel('ts'), b = charModel('ts');
    const { seqs, x, y } = batch(1);
    const samples = seqs.map((s) => ({ x: s.slice(0, T), y: s.slice(1) }));
    await new Trainer({ model: a, optimizer: new SGD(a, { lr: 0.1 }), loss: 'crossEntropy', seed: 1 }).fit(samples, { epochs: 1, batchSize: B, shuffle: false, tbptt: 3, progress: 'none' });
    const t = new Trainer({ model: b, optimizer: new SGD(b, { lr: 0.1 }), loss: 'crossEntropy', seed: 1 });
    const half = (k) => ({ x: new Tensor(x.data.slice(k * 3 * B, (k + 1) * 3 * B), [3, B]), classes: y.slice(k * 3 * B, (k + 1) * 3 * B) });
    const lengths = Int32Array.from({ length: B }, () => 3);
    const r1 = t.step({ x: half(0).x, targets: { classes: half(0).classes }, lengths });
    t.step({ x: half(1).x, targets: { classes: half(1).classes }, lengths, state: r1.state });
    expect(weights(a)).to.deep.equal(weights(b));
  });

  it('a non-finite loss: NonFiniteError (epoch and batch 0), or with nonFinite: skip, a skipped step; weights unchanged', function () {
    const model = new Sequential([new Linear({ inFeatures: 2, outFeatures: 1, seed: 1 })]);
    const before = weights(model);
    const x = new Tensor(Float32Array.of(1, 2, 3, 4), [2, 2]);
    const nan = (y, t) => ({ ...mseLoss(y, t.values), loss: NaN });
    const t = new Trainer({ model, optimizer: new SGD(model, { lr: 0.1 }), loss: nan, seed: 1 });
    const err = (() => { try { t.step({ x, targets: { values: new Tensor(Float32Array.of(0, 1), [2, 1]) } }); } catch (e) { return e; } })();
    expect(err).to.be.instanceOf(NonFiniteError).and.include({ what: 'loss', epoch: 0, batch: 0, step: 1 });
    expect(err.message).to.equal("Trainer.step: the loss is NaN at optimizer step 1; the weights were not updated (nonFinite: 'skip' drops such steps instead; see docs/training.md#trainer-options)");
    const skip = new Trainer({ model, optimizer: new SGD(model, { lr: 0.1 }), loss: nan, seed: 1, nonFinite: 'skip' });
    expect(skip.step({ x, targets: { values: new Tensor(Float32Array.of(0, 1), [2, 1]) } })).to.include({ updated: false, skipped: 'loss', state: null });
    expect(weights(model)).to.deep.equal(before);
    // A non-finite target is the caller's error, not a diverging model: thrown as it is, policy or not.
    const inf = new Trainer({ model, optimizer: new SGD(model, { lr: 0.1 }), loss: 'mse', seed: 1, nonFinite: 'skip' });
    expect(() => inf.step({ x, targets: { values: new Tensor(Float32Array.of(0, Infinity), [2, 1]) } })).to.throw(RangeError, /^mseLoss: target: expected finite values/);
  });

  it('checks its argument, naming it', function () {
    const model = charModel('ts');
    const t = new Trainer({ model, optimizer: new SGD(model, { lr: 0.1 }), loss: 'crossEntropy', seed: 1 });
    const { x, y } = batch(0);
    expect(() => t.step()).to.throw(TypeError, /Trainer\.step: batch\.x: expected a Tensor \[T, B\]/);
    expect(() => t.step({ x: [1, 2], targets: { classes: y } })).to.throw(TypeError, /Trainer\.step: batch\.x: expected a Tensor/);
    expect(() => t.step({ x })).to.throw(TypeError, /Trainer\.step: batch\.targets: expected \{ classes \}/);
    expect(() => t.step({ x, targets: { classes: Array.from(y) } })).to.throw(TypeError, /batch\.targets\.classes: expected an Int32Array/);
    expect(() => t.step({ x, targets: { labels: y } })).to.throw(TypeError, /batch\.targets\.labels: expected one of the known keys of targets/);
    expect(() => t.step({ x, targets: { classes: y }, extra: 1 })).to.throw(TypeError, /batch\.extra/);
  });
});

describe('error codes', function () {
  const codeOf = (f) => { try { f(); } catch (e) { return [e.constructor.name, e.code, e.argument]; } return null; };
  it('a non-finite argument: RangeError CELLSTATE_NON_FINITE naming the argument', function () {
    expect(codeOf(() => mseLoss(new Tensor(Float32Array.of(NaN), [1, 1]), new Tensor(Float32Array.of(0), [1, 1])))).to.deep.equal(['RangeError', 'CELLSTATE_NON_FINITE', 'output']);
    expect(codeOf(() => mseLoss(new Tensor(Float32Array.of(0), [1, 1]), new Tensor(Float32Array.of(Infinity), [1, 1])))).to.deep.equal(['RangeError', 'CELLSTATE_NON_FINITE', 'target']);
    const lin = new Linear({ inFeatures: 1, outFeatures: 1, seed: 1 });
    const r = lin.forwardTrain(new Tensor(Float32Array.of(1), [1, 1]));
    expect(codeOf(() => lin.backward(r.cache, { dOutput: new Tensor(Float32Array.of(NaN), [1, 1]) }))).to.deep.equal(['RangeError', 'CELLSTATE_NON_FINITE', 'dOutput']);
    for (const backend of availableBackends()) {
      expect(codeOf(() => new LSTM({ inputSize: 1, hiddenSize: 2, seed: 1, backend }).forward(new Tensor(Float32Array.of(NaN), [1, 1, 1])))).to.deep.equal(['RangeError', 'CELLSTATE_NON_FINITE', 'x']);
    }
  });
  it('finite arguments whose loss or gradient overflows: RangeError CELLSTATE_OVERFLOW', function () {
    expect(codeOf(() => mseLoss(new Tensor(Float32Array.of(3.4e38), [1, 1]), new Tensor(Float32Array.of(-1), [1, 1])))).to.deep.equal(['RangeError', 'CELLSTATE_OVERFLOW', 'output']);
  });
  it('argument errors without a code stay uncoded (the policy does not take them for overflow)', function () {
    expect(codeOf(() => mseLoss(new Tensor(Float32Array.of(0), [1, 1]), new Tensor(Float32Array.of(0, 1), [1, 2])))).to.deep.equal(['RangeError', undefined, undefined]);
  });
});
