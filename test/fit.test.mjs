// Trainer mechanics: batching and bucketing, truncated BPTT and stateful carry, the non-finite
// policy, early stopping, callbacks, progress output, exact resume from a checkpoint.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import {
  Adam, availableBackends, cosineLR, Embedding, LastStep, Linear, LSTM, mseLoss, NonFiniteError, Sequential, SGD, Trainer, warmup,
} from 'cellstate';
import { planBatches } from '../dist/train/batch.js';
import { sineData } from './helpers/data.mjs';
import { Rng } from './helpers/random.mjs';

const makeModel = (backend, seed = 1) => new Sequential([
  new LSTM({ inputSize: 1, hiddenSize: 8, seed, backend }), new Linear({ inFeatures: 8, outFeatures: 1, seed: seed + 1 }),
]);
const weights = (m) => Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, Array.from(t.data)]));

class Collect extends Writable {
  constructor(isTTY) { super(); this.text = ''; this.isTTY = isTTY; this.columns = 200; }
  _write(chunk, _enc, cb) { this.text += chunk.toString(); cb(); }
}

describe('Trainer', function () {
  const data = sineData(40, 11);

  it('plans seeded batches; bucketing groups similar lengths', function () {
    const samples = data;
    const a = planBatches(samples, 8, true, false, new Rng(1)), b = planBatches(samples, 8, true, false, new Rng(1));
    expect(a).to.deep.equal(b);
    expect(a.flat().sort((x, y) => x - y)).to.deep.equal(samples.map((_, i) => i));
    const spread = (batches) => batches.reduce((s, bt) => s + Math.max(...bt.map((i) => samples[i].x.length)) - Math.min(...bt.map((i) => samples[i].x.length)), 0);
    const bucketed = planBatches(samples, 8, true, true, new Rng(1));
    expect(bucketed.flat().sort((x, y) => x - y)).to.deep.equal(samples.map((_, i) => i));
    expect(spread(bucketed)).to.be.below(spread(a) / 2);
  });

  for (const backend of availableBackends()) {
    it(`${backend}: fit trains on the data as passed at the call; changing it while fit runs changes nothing`, async function () {
      const train = async (disturb) => {
        const m = makeModel(backend, 3);
        const t = new Trainer({ model: m, optimizer: new Adam(m, { lr: 0.01 }), loss: 'mse', seed: 4 });
        const d = data.map((s) => ({ x: s.x.map((v) => (Array.isArray(v) ? v.slice() : v)), y: Array.isArray(s.y) ? s.y.slice() : s.y }));
        const p = t.fit(d, { epochs: 2, batchSize: 8, progress: 'none' });
        if (disturb) for (const s of d) { s.x.fill(s.x[0] instanceof Array ? [NaN] : NaN); if (Array.isArray(s.y)) s.y.fill(1e6); else s.y = 1e6; }
        await p;
        return weights(m);
      };
      expect(await train(true)).to.deep.equal(await train(false));
    });
    it(`${backend}: non-finite targets are refused before training, naming the sample`, async function () {
      const m = makeModel(backend);
      const t = new Trainer({ model: m, optimizer: new SGD(m, { lr: 0.1 }), loss: 'mse', seed: 1 });
      const d = data.slice(0, 4).map((s) => ({ x: s.x, y: Array.isArray(s.y) ? s.y.slice() : s.y }));
      if (Array.isArray(d[2].y)) d[2].y[1] = NaN; else d[2].y = NaN;
      const before = weights(m);
      await t.fit(d, { epochs: 1, progress: 'none' }).then(() => expect.fail('NaN target accepted'),
        (e) => { expect(e).to.be.instanceOf(RangeError); expect(e.message).to.match(/^Trainer\.fit: data\[2\]\.y(\[1\])?: expected finite target values, got NaN/); });
      expect(weights(m)).to.deep.equal(before);
    });
    it(`${backend}: save, load and continue gives bit-identical weights to an uninterrupted run`, async function () {

      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-resume-'));
      const ck = path.join(dir, 'run.safetensors');
      const setup = () => {
        const model = makeModel(backend);
        const optimizer = new Adam(model, { lr: 0.01 });
        return new Trainer({ model, optimizer, loss: 'mse', seed: 5, clipNorm: 1, schedule: warmup({ steps: 5, then: cosineLR({ tMax: 40 }) }) });
      };
      const opts = { batchSize: 8, progress: 'none', bucketing: true, tbptt: 10 };
      const straight = setup();
      await straight.fit(data, { ...opts, epochs: 4 });
      const first = setup();
      await first.fit(data, { ...opts, epochs: 2 });
      first.saveCheckpoint(ck);
      const resumed = setup(); // fresh objects: everything comes from the file
      resumed.loadCheckpoint(ck);
      expect(resumed.epoch).to.equal(2);
      expect(resumed.optimizer.stepCount).to.equal(first.optimizer.stepCount);
      const h = await resumed.fit(data, { ...opts, epochs: 2 });
      expect(h.map((e) => e.epoch)).to.deep.equal([3, 4]);
      expect(weights(resumed.model)).to.deep.equal(weights(straight.model));
      expect(resumed.optimizer.stepCount).to.equal(straight.optimizer.stepCount);
      fs.rmSync(dir, { recursive: true });
    });
  }

  it('truncated BPTT takes one step per chunk; k >= T equals full BPTT exactly', async function () {
    const run = async (tbptt) => {
      const model = makeModel('ts');
      const t = new Trainer({ model, optimizer: new SGD(model, { lr: 0.05 }), loss: 'mse', seed: 2 });
      const h = await t.fit(data.slice(0, 8), { epochs: 1, batchSize: 8, tbptt, progress: 'none' });
      return { h, w: weights(model), T: Math.max(...data.slice(0, 8).map((s) => s.x.length)) };
    };
    const full = await run(null), big = await run(1000), k5 = await run(5);
    expect(big.w).to.deep.equal(full.w);
    expect(full.h[0].steps).to.equal(1);
    expect(k5.h[0].steps).to.equal(Math.ceil(k5.T / 5));
    expect(k5.w).to.not.deep.equal(full.w);
  });

  it('stateful training carries the state across batches (and differs from stateless)', async function () {
    const eq = data.map((s) => ({ x: s.x.slice(0, 16), y: s.y.slice(0, 16) }));
    const run = async (stateful) => {
      const model = makeModel('ts');
      const t = new Trainer({ model, optimizer: new SGD(model, { lr: 0.05 }), loss: 'mse', seed: 2 });
      await t.fit(eq, { epochs: 1, batchSize: 8, shuffle: false, stateful, tbptt: 8, progress: 'none' });
      return weights(model);
    };
    expect(await run(true)).to.not.deep.equal(await run(false));
  });

  it('many-to-one with LastStep and per-sequence targets', async function () {
    const seqs = data.map((s) => ({ x: s.x, y: s.y.at(-1) }));
    const model = new Sequential([new LSTM({ inputSize: 1, hiddenSize: 8, seed: 3 }), new LastStep(), new Linear({ inFeatures: 8, outFeatures: 1, seed: 4 })]);
    const t = new Trainer({ model, optimizer: new Adam(model, { lr: 0.02 }), loss: 'huber', seed: 1 });
    const h = await t.fit(seqs, { epochs: 8, batchSize: 8, progress: 'none' });
    expect(h.at(-1).loss).to.be.below(h[0].loss);
    const p = t.predict(seqs.slice(0, 3));
    expect(p.length).to.equal(3);
    expect(p[0].length).to.equal(1);
  });

  describe('non-finite loss or gradients', function () {
    /** mse, except that call number `bad` returns a NaN loss (what: 'loss') or gradient. */
    const poisoned = (bad, what) => {
      let calls = 0;
      return (y, t) => {
        const r = mseLoss(y, t.values, { mask: t.mask });
        if (++calls === bad) {
          if (what === 'loss') r.loss = NaN; else r.grad.data[0] = NaN;
        }
        return r;
      };
    };
    for (const what of ['loss', 'gradient']) {
      it(`stops with NonFiniteError naming the step (${what}); the weights stay those of the step before`, async function () {
        const model = makeModel('ts');
        const t = new Trainer({ model, optimizer: new SGD(model, { lr: 0.05 }), loss: poisoned(3, what), seed: 1 });
        let before = null;
        const err = await t.fit(data, { epochs: 1, batchSize: 8, progress: 'none', callbacks: [{ onBatchEnd: () => { before = weights(model); } }] }).catch((e) => e);
        expect(err).to.be.instanceOf(NonFiniteError);
        expect(err.message).to.match(what === 'loss' ? /loss is NaN at epoch 1, batch 3 \(optimizer step 3\)/ : /gradient is not finite at epoch 1, batch 3 \(optimizer step 3\)/);
        expect(err).to.include({ what, epoch: 1, batch: 3, step: 3 });
        expect(weights(model)).to.deep.equal(before);
        expect(t.optimizer.stepCount).to.equal(2);
      });
      it(`with nonFinite: 'skip' drops that step (${what}) and goes on`, async function () {
        const model = makeModel('ts');
        const t = new Trainer({ model, optimizer: new SGD(model, { lr: 0.05 }), loss: poisoned(3, what), seed: 1, nonFinite: 'skip' });
        const h = await t.fit(data, { epochs: 1, batchSize: 8, progress: 'none' });
        expect(h[0]).to.include({ steps: 4, skipped: 1 });
        for (const v of Object.values(weights(model)).flat()) expect(Number.isFinite(v)).to.equal(true);
      });
    }
    it('an output the loss refuses (its float32 gradient would overflow) is a non-finite loss under the policy', async function () {
      for (const backend of availableBackends()) {
        const model = new Sequential([new LSTM({ inputSize: 1, hiddenSize: 2, seed: 1, backend }), new Linear({ inFeatures: 2, outFeatures: 1, seed: 2 })]);
        const sd = model.stateDict();
        sd['1.bias'].data.fill(3.4e38); // output ≈ 3.4e38 against a target of -1: ∂mse = 6.8e38
        model.loadStateDict(sd);
        const before = weights(model);
        const one = [{ x: [[0.5]], y: [-1] }];
        const t = new Trainer({ model, optimizer: new SGD(model, { lr: 0.1 }), loss: 'mse', seed: 1 });
        const err = await t.fit(one, { epochs: 1, batchSize: 1, progress: 'none' }).catch((e) => e);
        expect(err, backend).to.be.instanceOf(NonFiniteError);
        expect(err).to.include({ what: 'loss', epoch: 1, batch: 1, step: 1 });
        expect(err.message).to.match(/the loss cannot be computed \(mseLoss: output: expected values whose loss and gradient are finite, got a gradient of 6\.\d+e\+38/);
        expect(weights(model)).to.deep.equal(before);
        const skip = new Trainer({ model, optimizer: new SGD(model, { lr: 0.1 }), loss: 'mse', seed: 1, nonFinite: 'skip' });
        expect((await skip.fit(one, { epochs: 1, batchSize: 1, progress: 'none' }))[0]).to.include({ steps: 0, skipped: 1 });
      }
    });
    it('an update that overflows the weights is undone and reported', async function () {
      const model = makeModel('ts');
      const before = weights(model);
      const t = new Trainer({ model, optimizer: new SGD(model, { lr: 1e300 }), loss: 'mse', seed: 1 });
      const err = await t.fit(data, { epochs: 1, batchSize: 8, progress: 'none' }).catch((e) => e);
      expect(err).to.be.instanceOf(NonFiniteError);
      expect(err.message).to.match(/weight non-finite at epoch 1, batch 1 .*restored/);
      expect(weights(model)).to.deep.equal(before);
    });
  });

  it('early stopping stops after `patience` epochs without improvement and restores the best weights', async function () {
    const model = makeModel('ts');
    const t = new Trainer({ model, optimizer: new SGD(model, { lr: 0 }), loss: 'mse', seed: 1 });
    const h = await t.fit(data, { epochs: 10, batchSize: 8, progress: 'none', validation: data.slice(0, 8), earlyStopping: { patience: 2 } });
    expect(h.length).to.equal(3);
  });

  it('callbacks see every batch and epoch and can stop training', async function () {
    const model = makeModel('ts');
    const t = new Trainer({ model, optimizer: new Adam(model), loss: 'mse', seed: 1 });
    const seen = [];
    const h = await t.fit(data, { epochs: 5, batchSize: 16, progress: 'none', callbacks: [
      { onBatchEnd: (b) => seen.push(`b${b.epoch}.${b.batch}`), onEpochEnd: (log, tr) => { seen.push(`e${log.epoch}`); if (log.epoch === 2) tr.stop(); } },
    ] });
    expect(h.length).to.equal(2);
    expect(seen).to.deep.equal(['b1.1', 'b1.2', 'b1.3', 'e1', 'b2.1', 'b2.2', 'b2.3', 'e2']);
  });

  it('progress: JSON lines per epoch off a TTY; a bar with loss, seq/s, tok/s and ETA on a TTY', async function () {
    const model = makeModel('ts');
    const t = new Trainer({ model, optimizer: new Adam(model), loss: 'mse', seed: 1 });
    const json = new Collect(false);
    await t.fit(data, { epochs: 2, batchSize: 16, progressStream: json, validation: data.slice(0, 4) });
    const lines = json.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.epoch)).to.deep.equal([1, 2]);
    for (const l of lines) expect(l).to.have.all.keys('epoch', 'loss', 'valLoss', 'steps', 'skipped', 'lr', 'seconds', 'seqPerSec', 'tokPerSec');
    const tty = new Collect(true);
    await t.fit(data, { epochs: 1, batchSize: 16, progressStream: tty });
    expect(tty.text).to.match(/epoch 3\/3 \[=+\] 3\/3 loss \d+\.\d{4} \S+ seq\/s \S+ tok\/s ETA/);
    expect(tty.text).to.match(/\n$/);
  });

  it('rejects bad data and options, naming them', async function () {
    const model = makeModel('ts');
    const t = new Trainer({ model, optimizer: new Adam(model), loss: 'mse', seed: 1 });
    const fit = (d, o) => t.fit(d, { epochs: 1, progress: 'none', ...o }).then(() => null, (e) => e);
    expect(await fit([{ x: [], y: [] }])).to.be.instanceOf(TypeError).and.match(/data\[0\].x/);
    expect(await fit([{ x: [[1], [NaN]], y: [1, 2] }])).to.be.instanceOf(RangeError).and.match(/data\[0\].x\[1\]/);
    expect(await fit([{ x: [[1], [2]], y: [1] }])).to.be.instanceOf(RangeError).and.match(/data\[0\].y: expected 2 per-step targets/);
    expect(await fit(data, { epochs: 0 })).to.be.instanceOf(RangeError).and.match(/epochs/);
    expect(await fit(data, { batchsize: 3 })).to.be.instanceOf(TypeError).and.match(/batchsize/);
    expect(() => new Trainer({ model, optimizer: new Adam(model), loss: 'hinge' })).to.throw(TypeError, /loss/);
  });

  // Batch-first models were refused; batch_first=True then out[:, -1] then a dense head is how
  // most PyTorch models are written.
  for (const backend of availableBackends()) {
    for (const [kind, tbptt] of [['many-to-many', null], ['many-to-many', 3], ['many-to-one', null]]) {
      it(`${backend}: a batch-first model trains as its time-major twin (${kind}${tbptt ? `, tbptt ${tbptt}` : ''}) and predicts the same`, async function () {
        const make = (batchFirst) => new Sequential([
          new LSTM({ inputSize: 1, hiddenSize: 6, numLayers: 2, bidirectional: true, batchFirst, seed: 3, backend }),
          ...(kind === 'many-to-one' ? [new LastStep({ batchFirst })] : []),
          new Linear({ inFeatures: 12, outFeatures: 1, seed: 4 }),
        ]);
        const d = kind === 'many-to-one' ? data.map((s) => ({ x: s.x, y: [s.y.at(-1)] })) : data;
        const run = async (batchFirst) => {
          const m = make(batchFirst);
          const t = new Trainer({ model: m, optimizer: new Adam(m, { lr: 0.02 }), loss: 'mse', seed: 5 });
          const log = await t.fit(d, { epochs: 2, batchSize: 8, progress: 'none', ...(tbptt ? { tbptt } : {}) });
          return { w: weights(m), loss: log.at(-1).loss, p: t.predict(d.slice(0, 5)), ev: t.evaluate(d) };
        };
        const bf = await run(true), tm = await run(false);
        expect(bf.loss).to.be.closeTo(tm.loss, 1e-5 * (1 + tm.loss));
        for (const k of Object.keys(tm.w)) tm.w[k].forEach((v, i) => expect(bf.w[k][i], `${k}[${i}]`).to.be.closeTo(v, 1e-4));
        expect(bf.p.flat(2).length).to.equal(tm.p.flat(2).length);
        bf.p.flat(2).forEach((v, i) => expect(v).to.be.closeTo(tm.p.flat(2)[i], 1e-4));
        expect(bf.ev.count).to.equal(tm.ev.count);
      });
    }
    it(`${backend}: a batch-first model with an Embedding takes token ids as [B, T]`, async function () {
      const rng = new Rng(8);
      const ids = Array.from({ length: 24 }, () => { const n = 3 + Math.floor(rng.next() * 5); return Array.from({ length: n }, () => Math.floor(rng.next() * 5)); });
      const d = ids.map((x) => ({ x, y: x.map((v) => (v + 1) % 5) }));
      const run = async (batchFirst) => {
        const m = new Sequential([new Embedding({ numEmbeddings: 5, embeddingDim: 4, seed: 1 }), new LSTM({ inputSize: 4, hiddenSize: 6, batchFirst, seed: 2, backend }), new Linear({ inFeatures: 6, outFeatures: 5, seed: 3 })]);
        const t = new Trainer({ model: m, optimizer: new Adam(m, { lr: 0.05 }), loss: 'crossEntropy', seed: 5 });
        await t.fit(d, { epochs: 3, batchSize: 6, progress: 'none' });
        return weights(m);
      };
      const bf = await run(true), tm = await run(false);
      for (const k of Object.keys(tm)) tm[k].forEach((v, i) => expect(bf[k][i], `${k}[${i}]`).to.be.closeTo(v, 1e-4));
    });
  }
});
