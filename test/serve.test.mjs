// The dynamic batcher: results equal one forward per request bit for bit (every backend; CI runs
// this on every native ISA tier), FIFO batch composition and delivery, back-pressure,
// cancellation, and a bad request rejecting only itself. No timings are asserted.
import { getEventListeners } from 'node:events';
import { expect } from 'chai';
import { GRU, LSTM, RNN, Rng, createBatcher, tensor, QueueFullError, RequestAbortedError, ServeClosedError } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';
import { expectExact, forwardOne, gate, randomSequences, spyRunner } from './helpers/serve.mjs';

const MODELS = [
  ['LSTM 2 layers', (o) => new LSTM({ inputSize: 7, hiddenSize: 33, numLayers: 2, ...o })],
  ['LSTM I=64 H=256', (o) => new LSTM({ inputSize: 64, hiddenSize: 256, ...o })],
  ['LSTM projSize, batchFirst', (o) => new LSTM({ inputSize: 5, hiddenSize: 17, projSize: 6, batchFirst: true, ...o })],
  ['GRU bidirectional', (o) => new GRU({ inputSize: 9, hiddenSize: 16, bidirectional: true, ...o })],
  ['RNN relu', (o) => new RNN({ inputSize: 9, hiddenSize: 15, nonlinearity: 'relu', ...o })],
];

describe('serve: Batcher', () => {
  for (const { backend, dtype } of backendCases()) {
    describe(`${backend} ${dtype}`, () => {
      for (const [name, make] of MODELS) {
        it(`${name}: each result equals the request's own forward exactly`, async () => {
          const rng = new Rng(11);
          const model = make({ seed: 5, backend, dtype });
          const xs = randomSequences(rng, 37, model.inputSize, 1, name.includes('256') ? 60 : 25, dtype);
          const b = createBatcher(model, { maxBatch: 16, maxDelayMs: 1 });
          const rs = await Promise.all(xs.map((x) => b.run(x)));
          expect(b.stats().maxBatchSize).to.be.greaterThan(1); // they were batched
          xs.forEach((x, i) => {
            const want = forwardOne(model, x);
            expect(rs[i].output.shape).to.deep.equal([x.shape[0], model.numDirections * model.outSize]);
            expectExact(rs[i].output.data, want.output, `request ${i} output`);
            expectExact(rs[i].hN.data, want.hN, `request ${i} hN`);
            if (want.cN) expectExact(rs[i].cN.data, want.cN, `request ${i} cN`);
            else expect(rs[i].cN).to.equal(undefined);
          });
          await b.close();
        });
      }

      it('per-request initial states (some given, some not) equal their own forwards', async () => {
        const rng = new Rng(12);
        const model = new LSTM({ inputSize: 4, hiddenSize: 9, numLayers: 2, seed: 2, backend, dtype });
        const xs = randomSequences(rng, 9, 4, 1, 12, dtype);
        const states = xs.map((_, i) => (i % 3 === 0 ? {} : {
          h0: randomSequences(rng, 1, 9, 2, 2, dtype)[0], c0: i % 2 ? randomSequences(rng, 1, 9, 2, 2, dtype)[0] : undefined,
        }));
        const b = createBatcher(model, { maxBatch: 9, maxDelayMs: 5 });
        const rs = await Promise.all(xs.map((x, i) => b.run(x, states[i])));
        xs.forEach((x, i) => {
          const want = forwardOne(model, x, states[i]);
          expectExact(rs[i].output.data, want.output, `request ${i} output`);
          expectExact(rs[i].cN.data, want.cN, `request ${i} cN`);
        });
      });
    });
  }

  describe('policy', () => {
    const model = new LSTM({ inputSize: 3, hiddenSize: 5, seed: 1 });
    const seqs = (n, seed = 1) => randomSequences(new Rng(seed), n, 3, 1, 6);

    it('packs requests in arrival order, maxBatch at a time, and each caller gets its own rows', async () => {
      const spy = spyRunner(model);
      const b = createBatcher(spy, { maxBatch: 4, maxDelayMs: 50 });
      const xs = seqs(10);
      const settled = [];
      const rs = await Promise.all(xs.map((x, i) => b.run(x).then((r) => { settled.push(i); return r; })));
      expect(spy.calls).to.deep.equal([xs.slice(0, 4), xs.slice(4, 8), xs.slice(8)].map((g) => g.map((x) => x.shape[0])));
      expect(settled).to.deep.equal([...Array(10).keys()]);
      xs.forEach((x, i) => expectExact(rs[i].output.data, forwardOne(model, x).output, `request ${i}`));
    });

    it('waits up to maxDelayMs for company, then runs what it has', async () => {
      const spy = spyRunner(model);
      const b = createBatcher(spy, { maxBatch: 100, maxDelayMs: 200 });
      const xs = seqs(3);
      const p = xs.map((x) => b.run(x));
      await new Promise((r) => setImmediate(r));
      p.push(b.run(xs[0])); // arrives within the delay (a later tick): same batch
      await Promise.all(p);
      expect(spy.calls.length).to.equal(1);
      expect(spy.calls[0].length).to.equal(4);
    });

    it('accepts nested arrays and copies the input at the call', async () => {
      const b = createBatcher(model, { maxDelayMs: 0 });
      const x = seqs(1)[0];
      const nested = x.toArray();
      const copy = tensor(x.data.slice(), x.shape);
      const p = b.run(copy);
      copy.data.fill(7); // must not reach the pending request
      const [r1, r2] = await Promise.all([p, b.run(nested)]);
      expectExact(r1.output.data, forwardOne(model, x).output, 'typed');
      expectExact(r2.output.data, forwardOne(model, x).output, 'nested');
    });

    it('refuses with QueueFullError once maxQueue requests wait, and recovers', async () => {
      const g = gate();
      const spy = spyRunner(model, { hold: g.wait });
      const b = createBatcher(spy, { maxBatch: 2, maxDelayMs: 0, maxQueue: 3 });
      const xs = seqs(6);
      const first = b.run(xs[0]);
      await new Promise((r) => setImmediate(r)); // the first batch is now computing (held)
      expect(b.stats().running).to.equal(1);
      const waiting = xs.slice(1, 4).map((x) => b.run(x));
      const err = await b.run(xs[4]).then(() => null, (e) => e);
      expect(err).to.be.instanceOf(QueueFullError);
      expect(err.code).to.equal('CELLSTATE_QUEUE_FULL');
      expect(err.limit).to.equal(3);
      expect(err.message).to.match(/maxQueue = 3/);
      g.open();
      await Promise.all([first, ...waiting]);
      await b.run(xs[5]); // room again
      expect(spy.calls.map((c) => c.length)).to.deep.equal([1, 2, 1, 1]);
    });

    it('an aborted waiting request leaves the queue and rejects at once; the others are unaffected', async () => {
      const g = gate();
      const spy = spyRunner(model, { hold: g.wait });
      const b = createBatcher(spy, { maxBatch: 8, maxDelayMs: 0 });
      const xs = seqs(4);
      const first = b.run(xs[0]);
      await new Promise((r) => setImmediate(r));
      const ac = new AbortController();
      const doomed = b.run(xs[1], { signal: ac.signal });
      const kept = [b.run(xs[2]), b.run(xs[3])];
      ac.abort(new Error('client went away'));
      const err = await doomed.then(() => null, (e) => e);
      expect(err).to.be.instanceOf(RequestAbortedError);
      expect(err.name).to.equal('AbortError');
      expect(err.code).to.equal('ABORT_ERR');
      expect(err.cause.message).to.equal('client went away');
      expect(b.stats().queued).to.equal(2);
      g.open();
      const rs = await Promise.all([first, ...kept]);
      expect(spy.calls.map((c) => c.length)).to.deep.equal([1, 2]); // the aborted one never computed
      expectExact(rs[2].output.data, forwardOne(model, xs[3]).output, 'kept request');
    });

    it('an abort during compute rejects at once; an already-aborted signal is refused; listeners are removed', async () => {
      const g = gate();
      const spy = spyRunner(model, { hold: g.wait });
      const b = createBatcher(spy, { maxDelayMs: 0 });
      const xs = seqs(3);
      const ac = new AbortController(), shared = new AbortController();
      const running = b.run(xs[0], { signal: ac.signal });
      const other = b.run(xs[1], { signal: shared.signal });
      await new Promise((r) => setImmediate(r));
      expect(b.stats().running).to.equal(1);
      ac.abort();
      expect(await running.then(() => null, (e) => e)).to.be.instanceOf(RequestAbortedError);
      const pre = await b.run(xs[2], { signal: AbortSignal.abort() }).then(() => null, (e) => e);
      expect(pre).to.be.instanceOf(RequestAbortedError);
      g.open();
      await other;
      expect(getEventListeners(shared.signal, 'abort')).to.have.length(0);
      expect(getEventListeners(ac.signal, 'abort')).to.have.length(0);
    });

    it('a bad request rejects alone, with the error the model would throw; its neighbours resolve', async () => {
      const spy = spyRunner(model);
      const b = createBatcher(spy, { maxBatch: 16, maxDelayMs: 5, maxLength: 50 });
      const xs = seqs(4);
      const nan = tensor(xs[0].data.slice(), xs[0].shape);
      nan.data[1] = NaN;
      const bad = [
        [nan, RangeError, /finite values, got NaN/],
        [tensor(new Float32Array(8), [2, 4]), RangeError, /expected shape \[T, 3\]/],
        [tensor(new Float64Array(6), [2, 3]), TypeError, /Float32Array/],
        [tensor(new Float32Array(51 * 3), [51, 3]), RangeError, /maxLength \(50\)/],
        ['nope', TypeError, /x/],
        [[[1, 2, 3], [4, 5]], TypeError, /nested arrays/],
      ];
      const runs = [...xs.map((x) => b.run(x)), ...bad.map(([x]) => b.run(x)), b.run(xs[0], { h0: tensor(new Float32Array(4), [1, 4]) })];
      const out = await Promise.allSettled(runs);
      xs.forEach((x, i) => {
        expect(out[i].status).to.equal('fulfilled');
        expectExact(out[i].value.output.data, forwardOne(model, x).output, `good request ${i}`);
      });
      bad.forEach(([, C, re], k) => {
        const r = out[xs.length + k];
        expect(r.status, `bad request ${k}`).to.equal('rejected');
        expect(r.reason).to.be.instanceOf(C);
        expect(r.reason.message).to.match(re);
        expect(r.reason.message).to.match(/^Batcher\.run: /);
      });
      expect(out.at(-1).reason.message).to.match(/h0: expected shape \[1, 5\]/);
      expect(spy.calls.map((c) => c.length)).to.deep.equal([4]);
    });

    it('when a batch call fails, its requests are retried alone and only the failing one rejects', async () => {
      const poison = (x) => { if (x.data.includes(42)) throw new RangeError('poisoned'); };
      const spy = spyRunner(model, { failIf: poison });
      const b = createBatcher(spy, { maxBatch: 8, maxDelayMs: 5 });
      const xs = seqs(5);
      const p = tensor(xs[2].data.slice(), xs[2].shape);
      p.data[0] = 42;
      const out = await Promise.allSettled([b.run(xs[0]), b.run(xs[1]), b.run(p), b.run(xs[3]), b.run(xs[4])]);
      expect(out.map((o) => o.status)).to.deep.equal(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      expect(out[2].reason.message).to.equal('poisoned');
      expectExact(out[4].value.output.data, forwardOne(model, xs[4]).output, 'survivor');
      expect(spy.calls.map((c) => c.length)).to.deep.equal([5, 1, 1, 1, 1, 1]);
    });

    it('close() runs what waits without delay, then refuses new requests', async () => {
      const b = createBatcher(model, { maxDelayMs: 10000 });
      const xs = seqs(3);
      const p = xs.map((x) => b.run(x));
      await b.close();
      expect((await Promise.all(p)).length).to.equal(3);
      const err = await b.run(xs[0]).then(() => null, (e) => e);
      expect(err).to.be.instanceOf(ServeClosedError);
      expect(err.code).to.equal('CELLSTATE_CLOSED');
      expect(b.closed).to.equal(true);
    });

    it('checks its options by name', () => {
      expect(() => createBatcher(model, { maxBatch: 0 })).to.throw(RangeError, /createBatcher: maxBatch: expected a positive integer, got 0/);
      expect(() => createBatcher(model, { maxDelayMs: -1 })).to.throw(RangeError, /maxDelayMs/);
      expect(() => createBatcher(model, { maxQueue: 1.5 })).to.throw(RangeError, /maxQueue/);
      expect(() => createBatcher(model, { maxBtach: 3 })).to.throw(TypeError, /options\.maxBtach/);
      expect(() => createBatcher({}, {})).to.throw(TypeError, /createBatcher: model: expected a model \(a Sequential, an LSTM, GRU or RNN\) or a TsWorkerPool/);
      const b = createBatcher(model);
      expect([b.maxBatch, b.maxDelayMs, b.maxQueue, b.concurrency]).to.deep.equal([32, 2, 1024, 1]);
      return b.run(seqs(1)[0], { signal: 'x' }).then(() => expect.fail('resolved'), (e) => expect(e).to.be.instanceOf(TypeError));
    });
  });
});
