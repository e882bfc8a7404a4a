// Serving under failure and hostile callers (issue #18, items 7, 8 and 1 for serving):
//   - a batch that fails anywhere (its packed input over the element limit, the call, cutting a
//     result out) gives each request exactly what it would get alone;
//   - every request settles exactly once whatever throws, and close() resolves only after all have;
//   - the ts worker pool enforces the main thread's element limit at the call;
//   - what a call reads is what the caller passed at the call: inputs mutated, detached or read
//     through getters that change their answer do not change a result.
import { expect } from 'chai';
import {
  GRU, LSTM, MAX_ELEMENTS, Rng, createBatcher, createSession, createTsWorkerPool, setMaxElements, tensor,
} from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
import { expectExact, forwardOne, gate, randomSequences, spyRunner } from './helpers/serve.mjs';

/** The promise's outcome, or a test failure if it has not settled within ms (a lost request). */
function settleWithin(p, ms, what) {
  let timer;
  const hang = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms); });
  return Promise.race([p.then((value) => ({ value }), (error) => ({ error })), hang]).finally(() => clearTimeout(timer));
}

/** Detach a typed array's buffer (as a transfer to another thread would). */
const detach = (a) => structuredClone(a.buffer, { transfer: [a.buffer] });

/** What one request gets alone: run through a batcher of its own. */
async function alone(model, x, opts) {
  const b = createBatcher(model, { maxDelayMs: 0 });
  try {
    return await b.run(x, opts).then((value) => ({ value }), (error) => ({ error }));
  } finally {
    await b.close();
  }
}

function expectSameOutcome(got, want, what) {
  if (want.error) {
    expect(got.error, `${what}: rejected`).to.be.instanceOf(want.error.constructor);
    expect(got.error.message, what).to.equal(want.error.message);
  } else {
    expect(got.error, `${what}: ${got.error?.message}`).to.equal(undefined);
    expectExact(got.value.output.data, want.value.output.data, `${what} output`);
    expectExact(got.value.hN.data, want.value.hN.data, `${what} hN`);
  }
}

describe('serve: hardening', function () {
  this.timeout(30000);
  afterEach(() => setMaxElements(MAX_ELEMENTS));

  for (const { backend, dtype } of backendCases()) {
    describe(`${backend} ${dtype}`, () => {
      it('a batch whose packed input is over the element limit: each request gets what it gets alone', async () => {
        // Alone: x = 16*T and the gate pre-activations 32*T elements; T = 30 fits 1000, T = 40
        // does not. Together the packed input [40, 3, 16] = 1920 elements fails before any call.
        const model = new LSTM({ inputSize: 16, hiddenSize: 8, seed: 3, backend, dtype });
        const [a, b2, c] = randomSequences(new Rng(71), 3, 16, 30, 30, dtype);
        const long = randomSequences(new Rng(72), 1, 16, 40, 40, dtype)[0];
        const xs = [a, long, b2, c];
        setMaxElements(1000);
        const want = [];
        for (const x of xs) want.push(await alone(model, x));
        expect(want.map((w) => !!w.error)).to.deep.equal([false, true, false, false]);
        expect(want[1].error).to.be.instanceOf(RangeError);
        const b = createBatcher(model, { maxBatch: 8, maxDelayMs: 5 });
        const got = await Promise.all(xs.map((x) => settleWithin(b.run(x), 5000, 'request')));
        got.forEach((g, i) => expectSameOutcome(g, want[i], `request ${i}`));
        await b.close();
        setMaxElements(MAX_ELEMENTS);
        expectExact(want[0].value.output.data, forwardOne(model, a).output, 'alone = forward');
      });

      it('inputs and states mutated or detached right after the call do not change any result', async () => {
        const rng = new Rng(73);
        const model = new LSTM({ inputSize: 5, hiddenSize: 7, numLayers: 2, seed: 4, backend, dtype });
        const xs = randomSequences(rng, 6, 5, 2, 9, dtype);
        const [h0, c0] = randomSequences(rng, 2, 7, 2, 2, dtype);
        const want = xs.map((x, i) => forwardOne(model, x, i % 2 ? { h0, c0 } : {}));
        const b = createBatcher(model, { maxBatch: 8, maxDelayMs: 2 });
        const owned = xs.map((x) => tensor(x.data.slice(), x.shape));
        const states = xs.map((_, i) => (i % 2 ? { h0: tensor(h0.data.slice(), h0.shape), c0: tensor(c0.data.slice(), c0.shape) } : {}));
        const ps = owned.map((x, i) => b.run(x, states[i]));
        owned.forEach((x, i) => {
          if (i % 3 === 0) detach(x.data);
          else x.data.fill(i % 3 === 1 ? NaN : 1e30);
          if (states[i].h0) { detach(states[i].h0.data); states[i].c0.data.fill(NaN); }
        });
        const rs = await Promise.all(ps);
        rs.forEach((r, i) => {
          expectExact(r.output.data, want[i].output, `request ${i} output`);
          expectExact(r.cN.data, want[i].cN, `request ${i} cN`);
        });
        // Results never share memory with each other (each caller owns its rows).
        const buffers = rs.flatMap((r) => [r.output.data.buffer, r.hN.data.buffer, r.cN.data.buffer]);
        expect(new Set(buffers).size).to.equal(buffers.length);
        await b.close();
      });

      it('sessions: steps and states mutated or detached after the call, and results mutated, change nothing', async () => {
        const rng = new Rng(74);
        const model = new GRU({ inputSize: 4, hiddenSize: 6, seed: 5, backend, dtype });
        const [x] = randomSequences(rng, 1, 4, 6, 6, dtype);
        const [h0] = randomSequences(rng, 1, 6, 1, 1, dtype);
        const want = forwardOne(model, x, { h0 });
        const b = createBatcher(model, { maxDelayMs: 1 });
        for (const target of [model, b]) {
          const h = tensor(h0.data.slice(), h0.shape);
          const s = createSession(target, { h0: h });
          h.data.fill(NaN);
          const ys = [];
          for (let t = 0; t < 6; t++) {
            const step = x.data.slice(t * 4, t * 4 + 4);
            const p = s.step(t % 2 ? step : tensor(step, [1, 4]));
            if (t % 3 === 0) detach(step);
            else step.fill(1e30);
            const y = await p;
            ys.push(y.data.slice());
            y.data.fill(NaN); // the caller owns its result: the session's state is elsewhere
          }
          ys.forEach((y, t) => expectExact(y, want.output.subarray(t * 6, t * 6 + 6), `${target === b ? 'batched' : 'direct'} step ${t}`));
          const st = s.state;
          st.h.data.fill(NaN); // a copy
          expectExact(s.state.h.data, want.hN, 'state');
          const r = tensor(h0.data.slice(), h0.shape);
          const reset = s.reset({ h0: r });
          detach(r.data);
          await reset;
          expectExact(s.state.h.data, h0.data, 'reset state');
        }
        await b.close();
      });
    });
  }

  describe('every request settles exactly once', () => {
    const model = new LSTM({ inputSize: 3, hiddenSize: 5, seed: 1 });

    it('a result that cannot be cut out rejects its request (no hang), and close() waits for every request', async () => {
      // The element limit is lowered while a batch computes: cutting each result out (T*5 > 10
      // elements) throws, and so does each request alone (its packed input, T*3 > 10).
      const lowering = {
        ...spyRunner(model),
        async forwardAsync(x, options) {
          const r = await model.forwardAsync(x, options);
          setMaxElements(10);
          return r;
        },
      };
      const b = createBatcher(lowering, { maxBatch: 4, maxDelayMs: 5 });
      const xs = randomSequences(new Rng(75), 5, 3, 4, 6);
      const settled = [];
      const ps = xs.map((x, i) => b.run(x).then(() => 'fulfilled', (e) => { settled.push(i); return e; }));
      await b.close();
      expect(settled.sort(), 'settled before close() resolved').to.deep.equal([0, 1, 2, 3, 4]);
      for (const e of await Promise.all(ps)) expect(e).to.be.instanceOf(RangeError);
      expect(b.stats()).to.include({ queued: 0, running: 0 });
    });

    it('close() resolves only once a computing batch has answered its requests', async () => {
      const g = gate();
      const b = createBatcher(spyRunner(model, { hold: g.wait }), { maxDelayMs: 0 });
      const [x] = randomSequences(new Rng(76), 1, 3, 4, 4);
      let answered = false;
      const p = b.run(x).then(() => { answered = true; });
      await new Promise((r) => setImmediate(r));
      let closed = false;
      const c = b.close().then(() => { closed = true; });
      await new Promise((r) => setTimeout(r, 20));
      expect(closed).to.equal(false);
      g.open();
      await c;
      expect(answered).to.equal(true);
      await p;
    });

    it('the ts worker pool refuses what model.forward refuses under a lowered element limit, and settles', async () => {
      const m = new LSTM({ inputSize: 1, hiddenSize: 64, seed: 2, backend: 'ts' });
      const pool = createTsWorkerPool(m, { workers: 1 });
      try {
        const x = randomSequences(new Rng(77), 1, 1, 20, 20)[0]; // output 20 x 64 = 1280 elements
        const x3 = tensor(x.data, [20, 1, 1]);
        setMaxElements(1000);
        let refused;
        try { m.forward(x3); } catch (e) { refused = e; }
        expect(refused).to.be.instanceOf(RangeError);
        const direct = await settleWithin(pool.forwardAsync(x3), 5000, 'pool.forwardAsync');
        expect(direct.error).to.be.instanceOf(RangeError);
        expect(direct.error.message).to.equal(refused.message);
        const b = createBatcher(pool, { maxDelayMs: 0 });
        const viaBatcher = await settleWithin(b.run(x), 5000, 'Batcher.run over the pool');
        expect(viaBatcher.error).to.be.instanceOf(RangeError);
        expect(viaBatcher.error.message).to.match(/expected at most 1000 elements/);
        await settleWithin(b.close(), 5000, 'close()');
        // The limit is the one at each call: raised again, the same request succeeds.
        setMaxElements(MAX_ELEMENTS);
        expectExact((await pool.forwardAsync(x3)).output.data, m.forward(x3).output.data, 'after raising the limit');
      } finally {
        await pool.close();
      }
    });
  });

  describe('the caller\'s objects are read once, at the call', () => {
    it('ts worker pool: inputs and states mutated or detached after the call, and a shape getter that changes, change nothing', async () => {
      const m = new LSTM({ inputSize: 4, hiddenSize: 6, seed: 6, backend: 'ts' });
      const pool = createTsWorkerPool(m, { workers: 2 });
      try {
        const rng = new Rng(78);
        const [xd] = randomSequences(rng, 1, 24, 1, 1); // 24 values: [2, 3, 4] or [3, 2, 4]
        const [hd, cd] = randomSequences(rng, 2, 18, 1, 1);
        const x = tensor(xd.data, [2, 3, 4]);
        const opts = () => ({ lengths: Int32Array.of(2, 1, 2), h0: tensor(hd.data.slice(), [1, 3, 6]), c0: tensor(cd.data.slice(), [1, 3, 6]) });
        const want = m.forward(x, opts());
        const runs = [];
        for (let k = 0; k < 6; k++) {
          const xs = tensor(x.data.slice(), x.shape), o = opts();
          runs.push(pool.forwardAsync(xs, o));
          if (k % 2) { detach(xs.data); detach(o.h0.data); o.lengths.fill(9); } else { xs.data.fill(NaN); o.c0.data.fill(1e30); o.lengths.fill(1); }
        }
        for (const [k, r] of (await Promise.all(runs)).entries()) {
          expectExact(r.output.data, want.output.data, `call ${k} output`);
          expectExact(r.cN.data, want.cN.data, `call ${k} cN`);
        }
        // A shape read twice could differ from the one checked: [2, 3, 4] first, [3, 2, 4] after.
        let reads = 0;
        const flipping = { get shape() { return reads++ ? [3, 2, 4] : [2, 3, 4]; }, data: x.data.slice() };
        const r = await pool.forwardAsync(flipping);
        expect(r.output.shape).to.deep.equal([2, 3, 6]);
        expectExact(r.output.data, m.forward(x).output.data, 'the shape as first read');
        // Through a batcher over the pool.
        const b = createBatcher(pool, { maxBatch: 4, maxDelayMs: 2 });
        const seqs = randomSequences(rng, 4, 4, 2, 7);
        const mine = seqs.map((s) => tensor(s.data.slice(), s.shape));
        const ps = mine.map((s) => b.run(s));
        mine.forEach((s, i) => (i % 2 ? detach(s.data) : s.data.fill(NaN)));
        (await Promise.all(ps)).forEach((res, i) => expectExact(res.output.data, forwardOne(m, seqs[i]).output, `batched request ${i}`));
        await b.close();
      } finally {
        await pool.close();
      }
    });

    it('Session.step reads its input once: a getter that changes its data after the first read changes nothing', async () => {
      const model = new LSTM({ inputSize: 3, hiddenSize: 4, seed: 7 });
      const [x, other] = randomSequences(new Rng(79), 2, 3, 2, 2);
      let reads = 0;
      const changing = { shape: [2, 3], get data() { return reads++ ? other.data : x.data; } };
      const s = createSession(model);
      expectExact((await s.step(changing)).data, forwardOne(model, x).output, 'the data as first read');
    });
  });
});
