// Serving whole models: Sequential.forwardAsync, the batcher, sessions and the ts worker pool on
// chains of embeddings, stacked / bidirectional recurrent layers and per-step or last-step heads.
// Every result is compared bit for bit with model.forward on that one sequence alone.
import { expect } from 'chai';
import {
  Embedding, GRU, LastStep, LayerNorm, Linear, LSTM, ReLU, RNN, Dropout, Softmax, Tanh, Rng, Sequential, SGD, Adam,
  createBatcher, createSession, createTsWorkerPool, tensor,
} from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
import { expectExact } from './helpers/serve.mjs';

const V = 11, E = 5, H = 6, C = 3;

/** The model kinds a user serves; `tokens` models start with an Embedding. */
const KINDS = {
  // Many-to-one classifier: Embedding, batch-first 2-layer bidirectional LSTM, LastStep, dense head.
  classifier: ({ backend, dtype, seed }) => new Sequential({
    emb: new Embedding({ numEmbeddings: V, embeddingDim: E, seed, dtype }),
    lstm: new LSTM({ inputSize: E, hiddenSize: H, numLayers: 2, bidirectional: true, batchFirst: true, backend, dtype, seed: seed + 1 }),
    last: new LastStep({ batchFirst: true, finalStates: true }),
    drop: new Dropout({ p: 0.3 }),
    fc: new Linear({ inFeatures: 2 * H, outFeatures: C, seed: seed + 2, dtype }),
  }),
  // Per-step tagger: features in, time-major GRU, per-step Linear + Softmax.
  tagger: ({ backend, dtype, seed }) => new Sequential([
    new GRU({ inputSize: 4, hiddenSize: H, backend, dtype, seed }),
    new Linear({ inFeatures: H, outFeatures: C, seed: seed + 1, dtype }),
    new Softmax(),
  ]),
  // A char-LM shape: Embedding, 2 unidirectional LSTM layers with a projection, per-step logits.
  lm: ({ backend, dtype, seed }) => new Sequential([
    new Embedding({ numEmbeddings: V, embeddingDim: E, seed, dtype }),
    new LSTM({ inputSize: E, hiddenSize: H, numLayers: 2, projSize: 4, backend, dtype, seed: seed + 1 }),
    new Linear({ inFeatures: 4, outFeatures: V, seed: seed + 2, dtype }),
  ]),
  // Features through a dense layer first, then two stacked recurrent layers of different kinds.
  stacked: ({ backend, dtype, seed }) => new Sequential([
    new Linear({ inFeatures: 4, outFeatures: 5, seed, dtype }),
    new Tanh(),
    new RNN({ inputSize: 5, hiddenSize: H, batchFirst: true, backend, dtype, seed: seed + 1 }),
    new LSTM({ inputSize: H, hiddenSize: H, batchFirst: true, backend, dtype, seed: seed + 2 }),
    new ReLU(),
    new LastStep({ batchFirst: true }),
    new Linear({ inFeatures: H, outFeatures: C, seed: seed + 3, dtype }),
  ]),
  // A normalised per-step head: LSTM, LayerNorm (its weight and bias changed from 1 and 0), Linear.
  normed: ({ backend, dtype, seed }) => {
    const ln = new LayerNorm({ normalizedShape: H, dtype });
    ln.loadStateDict({ weight: tensor(Array.from({ length: H }, (_, i) => 0.5 + i / H), [H], dtype), bias: tensor(Array.from({ length: H }, (_, i) => i / 10), [H], dtype) });
    return new Sequential([new LSTM({ inputSize: 4, hiddenSize: H, backend, dtype, seed }), ln, new Linear({ inFeatures: H, outFeatures: C, seed: seed + 1, dtype })]);
  },
};
const TOKENS = new Set(['classifier', 'lm']);

/** n requests of lengths in [1, maxT]: token id arrays or [T, 4] tensors. */
function requests(kind, rng, n, dtype, maxT = 9) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const T = 1 + Math.floor(rng.next() * maxT);
    if (TOKENS.has(kind)) out.push(Array.from({ length: T }, () => Math.floor(rng.next() * V)));
    else {
      const a = dtype === 'float64' ? new Float64Array(T * 4) : new Float32Array(T * 4);
      for (let j = 0; j < a.length; j++) a[j] = rng.uniform(-1, 1);
      out.push(tensor(a, [T, 4], dtype));
    }
  }
  return out;
}

/** model.forward on one request alone (a batch of one), as a batcher result would hold it. */
function forwardAlone(model, kind, x, state = null) {
  const ids = TOKENS.has(kind);
  const T = ids ? x.length : x.shape[0];
  const data = ids ? x : Array.from(x.data);
  const shape = ids ? (model.batchFirst ? [1, T] : [T, 1]) : model.batchFirst ? [1, T, 4] : [T, 1, 4];
  const st = state && state.map((s) => (s ? Object.fromEntries(Object.entries(s).map(([k, t]) => [k, tensor(t.data, [t.shape[0], 1, t.shape[1]], model.dtype)])) : null));
  return model.forward(tensor(data, shape, model.dtype), { state: st });
}

function expectSameAsAlone(res, alone, what) {
  expectExact(res.output.data, alone.output.data, `${what}: output`);
  alone.state.forEach((s, i) => {
    if (!s) return expect(res.state[i], `${what}: state[${i}]`).to.equal(null);
    expectExact(res.state[i].h.data, s.h.data, `${what}: state[${i}].h`);
    if (s.c) expectExact(res.state[i].c.data, s.c.data, `${what}: state[${i}].c`);
  });
}

for (const { backend, dtype } of backendCases()) {
  describe(`serving whole models on ${backend} (${dtype})`, () => {
    for (const kind of Object.keys(KINDS)) {
      it(`${kind}: forwardAsync equals forward exactly, and reads x, lengths, state and weights at the call`, async () => {
        const model = KINDS[kind]({ backend, dtype, seed: 3 });
        const rng = new Rng(7);
        const xs = requests(kind, rng, 4, dtype, 6);
        const T = Math.max(...xs.map((x) => (TOKENS.has(kind) ? x.length : x.shape[0])));
        const B = xs.length, bf = model.batchFirst, F = TOKENS.has(kind) ? 1 : 4;
        const data = dtype === 'float64' ? new Float64Array(T * B * F) : new Float32Array(T * B * F);
        xs.forEach((x, b) => {
          const vals = TOKENS.has(kind) ? x : Array.from(x.data);
          const Tb = vals.length / F;
          for (let t = 0; t < Tb; t++) for (let f = 0; f < F; f++) data[((bf ? b * T + t : t * B + b) * F) + f] = vals[t * F + f];
        });
        const x = tensor(data, TOKENS.has(kind) ? (bf ? [B, T] : [T, B]) : bf ? [B, T, F] : [T, B, F], dtype);
        const lengths = xs.map((v) => (TOKENS.has(kind) ? v.length : v.shape[0]));
        const want = model.forward(x, { lengths });
        const pending = model.forwardAsync(x, { lengths });
        // Everything the call read is changed at once: x, lengths, and every weight (an optimizer step).
        data.fill(0);
        lengths.fill(1);
        const grads = Object.fromEntries(model.namedParameters().map(([n, t]) => [n, tensor(new Array(t.size).fill(1), t.shape, dtype)]));
        new SGD(model, { lr: 0.5 }).step(grads); // commits the new weights
        const got = await pending;
        expectExact(got.output.data, want.output.data, 'output');
        want.state.forEach((s, i) => { if (s) expectExact(got.state[i].h.data, s.h.data, `state[${i}].h`); });
        expect(got.output.shape).to.deep.equal(want.output.shape);
      });

      it(`${kind}: a batcher answers concurrent requests of different lengths, each bit-identical to forward alone`, async () => {
        const model = KINDS[kind]({ backend, dtype, seed: 11 });
        const xs = requests(kind, new Rng(5), 23, dtype);
        const b = createBatcher(model, { maxBatch: 8, maxDelayMs: 5 });
        const rs = await Promise.all(xs.map((x) => b.run(x)));
        await b.close();
        expect(b.stats().batches).to.be.below(xs.length); // they were batched
        rs.forEach((r, i) => expectSameAsAlone(r, forwardAlone(model, kind, xs[i]), `request ${i}`));
        if (kind === 'classifier' || kind === 'stacked') expect(rs[0].output.shape).to.deep.equal([C]);
        else expect(rs[0].output.shape[0]).to.equal(TOKENS.has(kind) ? xs[0].length : xs[0].shape[0]);
      });
    }

    it('requests carry their own initial state; a result\'s state continues the sequence', async () => {
      const model = KINDS.lm({ backend, dtype, seed: 2 });
      const xs = requests('lm', new Rng(9), 6, dtype);
      const b = createBatcher(model, { maxBatch: 6, maxDelayMs: 5 });
      const first = await Promise.all(xs.map((x) => b.run(x)));
      const second = await Promise.all(xs.map((x, i) => b.run(x, { state: i % 2 ? first[i].state : null })));
      await b.close();
      second.forEach((r, i) => expectSameAsAlone(r, forwardAlone(model, 'lm', xs[i], i % 2 ? first[i].state : null), `request ${i}`));
      // Continuing equals one forward of both halves together.
      const whole = forwardAlone(model, 'lm', [...xs[1], ...xs[1]]);
      const T = xs[1].length, F = V;
      expectExact(second[1].output.data, whole.output.data.slice(T * F), 'continued output');
    });

    it('a bad request is refused at run() with a clear error, and never reaches a batch', async () => {
      const model = KINDS.classifier({ backend, dtype, seed: 1 });
      const b = createBatcher(model, { maxDelayMs: 50, maxLength: 20 });
      const good = b.run([1, 2, 3]);
      const bad = [
        [[1, 2, V], RangeError, /x\[2\]: expected a token id, an integer in \[0, 10\], got 11/],
        [[1.5], RangeError, /x\[0\]: expected a token id/],
        [[], RangeError, /x: expected shape \[T\] with T >= 1/],
        [new Array(21).fill(0), RangeError, /T <= maxLength \(20\)/],
        [[[1, 2]], RangeError, /x: expected shape \[T\]/],
        ['abc', TypeError, /x/],
      ];
      for (const [x, C2, re] of bad) {
        const e = await b.run(x).then(() => null, (err) => err);
        expect(e, String(x)).to.be.instanceOf(C2);
        expect(e.message).to.match(re);
        expect(e.message).to.match(/^Batcher\.run: /);
      }
      const st = await b.run([1], { state: [null] }).then(() => null, (err) => err);
      expect(st.message).to.match(/state: expected an array of 5 entries/);
      const st2 = await b.run([1], { state: [null, { h: tensor([1, 2], [1, 2], dtype) }, null, null, null] }).then(() => null, (err) => err);
      expect(st2).to.be.instanceOf(RangeError);
      expect(st2.message).to.match(/state\[1\]\.h/);
      const st3 = await b.run([1], { h0: tensor([1], [1, 1], dtype) }).then(() => null, (err) => err);
      expect(st3.message).to.match(/options\.h0/);
      await good;
      await b.close();
      expect(b.stats().requests).to.equal(1);
    });

    it('features models check each step\'s size', async () => {
      const model = KINDS.tagger({ backend, dtype, seed: 1 });
      const b = createBatcher(model);
      const e = await b.run([[1, 2, 3]]).then(() => null, (err) => err);
      expect(e).to.be.instanceOf(RangeError);
      expect(e.message).to.match(/x: expected shape \[T, 4\]/);
      const r = await b.run([[1, 2, 3, 4], [0, 0, 0, 1]]);
      expect(r.output.shape).to.deep.equal([2, C]);
      await b.close();
    });

    it('a session steps a unidirectional model token by token, as one forward of the whole sequence', async () => {
      const model = KINDS.lm({ backend, dtype, seed: 4 });
      const ids = [3, 1, 4, 1, 5, 9, 2, 6];
      const whole = forwardAlone(model, 'lm', ids);
      for (const target of [model, createBatcher(model, { maxDelayMs: 1 })]) {
        const s = createSession(target);
        const outs = await Promise.all(ids.map((id) => s.step(id)));
        outs.forEach((o, t) => {
          expect(o.shape).to.deep.equal([V]);
          expectExact(o.data, whole.output.data.slice(t * V, (t + 1) * V), `step ${t}`);
        });
        expectExact(s.state[1].h.data, whole.state[1].h.data, 'state h');
        expectExact(s.state[1].c.data, whole.state[1].c.data, 'state c');
        expect(s.state[0]).to.equal(null);
        // A chunk after a reset to the state of the first half equals the second half.
        await s.reset({ state: forwardAlone(model, 'lm', ids.slice(0, 4)).state.map((e) => e && { h: tensor(e.h.data, [e.h.shape[0], e.h.shape[2]], dtype), c: tensor(e.c.data, [e.c.shape[0], e.c.shape[2]], dtype) }) });
        const chunk = await s.step(ids.slice(4));
        expectExact(chunk.data, whole.output.data.slice(4 * V), 'chunk');
        if (target !== model) await target.close();
      }
      expect(() => createSession(KINDS.classifier({ backend, dtype, seed: 1 }))).to.throw(TypeError, /not bidirectional or reverse/);
    });
  });
}

describe('serving whole models on a ts worker pool', () => {
  for (const kind of Object.keys(KINDS)) {
    it(`${kind}: results equal model.forward on the ts backend exactly; refresh() brings new weights`, async () => {
      const model = KINDS[kind]({ backend: 'ts', dtype: 'float32', seed: 8 });
      const pool = createTsWorkerPool(model, { workers: 2 });
      try {
        const b = createBatcher(pool, { maxBatch: 5, maxDelayMs: 5 });
        expect(b.concurrency).to.equal(2);
        const xs = requests(kind, new Rng(3), 12, 'float32');
        const rs = await Promise.all(xs.map((x) => b.run(x)));
        rs.forEach((r, i) => expectSameAsAlone(r, forwardAlone(model, kind, xs[i]), `request ${i}`));
        // New weights reach the workers at refresh().
        new Adam(model, { lr: 0.1 }).step(Object.fromEntries(model.namedParameters().map(([n, t]) => [n, tensor(new Array(t.size).fill(0.5), t.shape)])));
        pool.refresh();
        const r2 = await b.run(xs[0]);
        expectSameAsAlone(r2, forwardAlone(model, kind, xs[0]), 'after refresh');
        await b.close();
      } finally {
        await pool.close();
      }
    });
  }
});

// What the batcher's promise rests on: a row's result does not depend on the batch it runs in.
// The native kernels choose by the batch size (tile rows, AMX's per-step x products from 32 rows,
// the thread split), so batches of 7 to 130 entries of different lengths are checked against each
// entry alone, for every recurrent kind and option, in fp32 and in the quantized precisions.
describe('a batch entry gives exactly what its sequence gives alone', () => {
  const CELLS = [
    ['LSTM', (o) => new LSTM(o)], ['LSTM with projection and peepholes', (o) => new LSTM({ ...o, projSize: 24, peephole: true })],
    ['GRU', (o) => new GRU(o)], ['GRU linearBeforeReset', (o) => new GRU({ ...o, linearBeforeReset: true })],
    ['RNN relu', (o) => new RNN({ ...o, nonlinearity: 'relu' })], ['LSTM, 2 layers, bidirectional', (o) => new LSTM({ ...o, numLayers: 2, bidirectional: true })],
  ];
  for (const backend of backendCases().filter((c) => c.dtype === 'float32').map((c) => c.backend)) {
    for (const precision of ['fp32', 'bf16', 'int8']) {
      const sizes = backend === 'ts' ? [7, 33] : [7, 33, 64, 130]; // ts: the reference, slow on big batches
      it(`${backend} ${precision}: every kind, B = ${sizes.join(', ')} with lengths`, function () {
        this.timeout(60000);
        const I = 48, Hd = 96, T = 4;
        for (const [name, make] of CELLS) {
          const fp32 = make({ inputSize: I, hiddenSize: Hd, backend, seed: 3 });
          const model = precision === 'fp32' ? fp32 : fp32.quantize(precision);
          for (const B of sizes) {
            const rng = new Rng(B);
            const d = Float32Array.from({ length: T * B * I }, () => rng.uniform(-1, 1));
            const lengths = Array.from({ length: B }, (_, b) => 1 + (b * 5) % T);
            const big = model.forward(tensor(d, [T, B, I]), { lengths });
            const W = big.output.shape[2];
            for (const b of [0, 1, B - 1]) {
              const L = lengths[b];
              const one = new Float32Array(L * I);
              for (let t = 0; t < L; t++) one.set(d.subarray((t * B + b) * I, (t * B + b + 1) * I), t * I);
              const alone = model.forward(tensor(one, [L, 1, I])).output.data;
              const rows = new Float32Array(L * W);
              for (let t = 0; t < L; t++) rows.set(big.output.data.subarray((t * B + b) * W, (t * B + b + 1) * W), t * W);
              expectExact(rows, alone, `${name}, B = ${B}, entry ${b}`);
            }
          }
        }
      });
    }
  }
});
