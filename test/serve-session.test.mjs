// Streaming sessions: state kept per client, steps and chunks equal one whole-sequence forward
// bit for bit, many sessions' steps batched together, and a failed or aborted step leaving the
// state as it was.
import { expect } from 'chai';
import { GRU, LSTM, Rng, createBatcher, createSession, tensor, RequestAbortedError } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
import { expectExact, forwardOne, gate, randomSequences, spyRunner } from './helpers/serve.mjs';

const rowsOf = (x, t0, t1) => tensor(x.data.slice(t0 * x.shape[1], t1 * x.shape[1]), [t1 - t0, x.shape[1]]);

describe('serve: Session', () => {
  for (const { backend, dtype } of backendCases()) {
    it(`${backend} ${dtype}: many sessions stepping together are batched, and each equals its own forward`, async () => {
      const rng = new Rng(21);
      const model = new LSTM({ inputSize: 6, hiddenSize: 19, numLayers: 2, seed: 4, backend, dtype });
      const spy = spyRunner(model);
      const b = createBatcher(spy, { maxBatch: 64, maxDelayMs: 1 });
      const xs = randomSequences(rng, 12, 6, 3, 14, dtype);
      const sessions = xs.map(() => b.session());
      const outs = xs.map(() => []);
      // Every session advances one step per round (a chunk of 2 for even ones), all at once.
      const pos = xs.map(() => 0);
      while (pos.some((p, i) => p < xs[i].shape[0])) {
        await Promise.all(xs.map(async (x, i) => {
          if (pos[i] >= x.shape[0]) return;
          const n = i % 2 === 0 ? Math.min(2, x.shape[0] - pos[i]) : 1;
          const input = n === 1 && i % 4 === 1 ? x.data.slice(pos[i] * 6, pos[i] * 6 + 6) : rowsOf(x, pos[i], pos[i] + n);
          pos[i] += n;
          const y = await sessions[i].step(input);
          outs[i].push(y.data);
        }));
      }
      expect(Math.max(...spy.calls.map((c) => c.length))).to.be.greaterThan(1);
      xs.forEach((x, i) => {
        const want = forwardOne(model, x);
        const got = new (dtype === 'float64' ? Float64Array : Float32Array)(want.output.length);
        let o = 0;
        for (const y of outs[i]) { got.set(y, o); o += y.length; }
        expectExact(got, want.output, `session ${i} outputs`);
        expectExact(sessions[i].state.h.data, want.hN, `session ${i} h`);
        expectExact(sessions[i].state.c.data, want.cN, `session ${i} c`);
      });
    });
  }

  it('on a model: steps called without waiting run in order; a single step returns [Hout]', async () => {
    const model = new GRU({ inputSize: 3, hiddenSize: 8, seed: 2 });
    const x = randomSequences(new Rng(3), 1, 3, 9, 9)[0];
    const s = createSession(model);
    const ys = await Promise.all(Array.from({ length: 9 }, (_, t) => s.step(Array.from(x.data.slice(t * 3, t * 3 + 3)))));
    expect(ys[0].shape).to.deep.equal([8]);
    const want = forwardOne(model, x);
    ys.forEach((y, t) => expectExact(y.data, want.output.subarray(t * 8, t * 8 + 8), `step ${t}`));
    expect(s.state.c).to.equal(undefined);
  });

  it('starts from h0/c0, reset() replaces the state after pending steps', async () => {
    const rng = new Rng(4);
    const model = new LSTM({ inputSize: 3, hiddenSize: 5, seed: 2 });
    const [x] = randomSequences(rng, 1, 3, 6, 6);
    const [h0, c0] = randomSequences(rng, 2, 5, 1, 1);
    const s = createSession(model, { h0, c0 });
    const y = await s.step(x);
    expectExact(y.data, forwardOne(model, x, { h0, c0 }).output, 'from h0/c0');
    const pending = s.step(x);
    await s.reset();
    await pending;
    expect(Array.from(s.state.h.data)).to.deep.equal([0, 0, 0, 0, 0]);
    expectExact((await s.step(x)).data, forwardOne(model, x).output, 'after reset');
  });

  it('a rejected or aborted step leaves the state unchanged and later steps still run', async () => {
    const model = new LSTM({ inputSize: 3, hiddenSize: 5, seed: 2 });
    const g = gate();
    const spy = spyRunner(model, { hold: g.wait });
    const b = createBatcher(spy, { maxDelayMs: 0 });
    const s = b.session();
    const [x] = randomSequences(new Rng(5), 1, 3, 4, 4);
    const ac = new AbortController();
    const aborted = s.step(rowsOf(x, 0, 2), { signal: ac.signal }).then(() => null, (e) => e);
    const bad = s.step(tensor(new Float32Array(4), [4])).then(() => null, (e) => e);
    const good = s.step(rowsOf(x, 0, 4));
    await new Promise((r) => setImmediate(r));
    ac.abort();
    g.open();
    expect(await aborted).to.be.instanceOf(RequestAbortedError);
    expect(await bad).to.be.instanceOf(RangeError);
    expectExact((await good).data, forwardOne(model, x).output, 'after the failures');
  });

  it('refuses models that look ahead in time, and states of the wrong shape', () => {
    expect(() => createSession(new LSTM({ inputSize: 2, hiddenSize: 3, bidirectional: true }))).to.throw(TypeError, /createSession: model: expected a model that runs forward in time/);
    expect(() => createSession(new LSTM({ inputSize: 2, hiddenSize: 3 }), { h0: tensor(new Float32Array(3), [3]) })).to.throw(RangeError, /h0: expected shape \[1, 3\]/);
    expect(() => createSession(new GRU({ inputSize: 2, hiddenSize: 3 }), { c0: tensor(new Float32Array(3), [1, 3]) })).to.throw(TypeError, /no cell state/);
  });
});
