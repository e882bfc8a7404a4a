// Concurrency semantics, on every backend:
//   - async calls snapshot everything at call time: the prepared weights (an optimizer step or a
//     loadStateDict while a call is in flight does not reach it) and the input (copied);
//   - so every in-flight forwardAsync returns exactly what a synchronous forward with the
//     weights of its call time returns, never a mix ("torn" result);
//   - a training cache from before a weight update is refused by backward with StaleCacheError
//     (a clear error, not gradients of mixed weights);
//   - hundreds of overlapping calls on one model and on many models all return their own results.
import { expect } from 'chai';
import { Adam, GRU, LSTM, Rng, Sequential, StaleCacheError, Tensor } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';

const cases = backendCases().filter((c) => c.dtype === 'float32');

function input(rng, shape) {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Float32Array.from({ length: n }, () => rng.uniform(-1, 1)), shape);
}
const same = (a, b, what) => {
  expect(a.length, what).to.equal(b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Math.abs(a[i] - b[i]) <= 1e-6 * (1 + Math.abs(b[i])))) expect.fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
};
const differs = (a, b) => a.some((v, i) => Math.abs(v - b[i]) > 1e-3);

for (const { backend } of cases) {
  describe(`concurrency on ${backend}`, function () {
    this.timeout(60000);

    it('300 overlapping forwardAsync calls on one model each return their own input\'s result', async function () {
      const rng = new Rng(1);
      const m = new LSTM({ inputSize: 5, hiddenSize: 24, numLayers: 2, bidirectional: true, seed: 2, backend });
      const xs = Array.from({ length: 300 }, (_, i) => input(rng, [2 + (i % 7), 1 + (i % 3), 5]));
      const got = await Promise.all(xs.map((x, i) => m.forwardAsync(x, i % 4 === 0 ? { lengths: Array.from({ length: x.shape[1] }, () => 1 + (i % x.shape[0])) } : undefined)));
      xs.forEach((x, i) => {
        const want = m.forward(x, i % 4 === 0 ? { lengths: Array.from({ length: x.shape[1] }, () => 1 + (i % x.shape[0])) } : undefined);
        same(got[i].output.data, want.output.data, `call ${i} output`);
        same(got[i].hN.data, want.hN.data, `call ${i} hN`);
      });
    });

    it('40 models x 8 overlapping calls each (forward, training forward + backward) keep to their own model', async function () {
      const rng = new Rng(3);
      const models = Array.from({ length: 40 }, (_, k) => (k % 2 ? new GRU({ inputSize: 3, hiddenSize: 8 + (k % 5), seed: k, backend }) : new LSTM({ inputSize: 3, hiddenSize: 8 + (k % 5), seed: k, backend })));
      const jobs = [];
      for (const m of models) {
        for (let j = 0; j < 8; j++) {
          const x = input(rng, [4, 2, 3]);
          jobs.push(j % 2
            ? m.forwardAsync(x).then((r) => ({ m, x, r }))
            : m.forwardTrainAsync(x).then(async (f) => ({ m, x, r: f, g: await m.backwardAsync(f.cache, { dOutput: f.output }) })));
        }
      }
      for (const { m, x, r, g } of await Promise.all(jobs)) {
        same(r.output.data, m.forward(x).output.data, 'output');
        if (g) {
          const f = m.forwardTrain(x);
          same(g.dX.data, m.backward(f.cache, { dOutput: f.output }).dX.data, 'dX');
        }
      }
    });

    it('an optimizer step while forwardAsync calls are in flight: each call sees the weights of its call time, exactly', async function () {
      const rng = new Rng(5);
      const lstm = new LSTM({ inputSize: 4, hiddenSize: 32, numLayers: 2, seed: 6, backend });
      const net = new Sequential([lstm]);
      const opt = new Adam(net, { lr: 0.05 });
      const xs = Array.from({ length: 200 }, () => input(rng, [6, 3, 4]));
      const oldWant = xs.map((x) => lstm.forward(x).output.data);
      // Gradients for one step, computed before any async call starts.
      const f = net.forwardTrain(xs[0]);
      const { grads } = net.backward(f.cache, { dOutput: f.output });

      const before = xs.slice(0, 100).map((x) => lstm.forwardAsync(x));
      const staleTrain = lstm.forwardTrainAsync(xs[0]);
      opt.step(grads); // updates the parameters in place and commits them (re-prepares the weights)
      const after = xs.slice(100).map((x) => lstm.forwardAsync(x));
      const newWant = xs.map((x) => lstm.forward(x).output.data);

      const got = await Promise.all([...before, ...after]);
      got.forEach((r, i) => {
        const want = i < 100 ? oldWant[i] : newWant[i];
        same(r.output.data, want, `call ${i} (${i < 100 ? 'before' : 'after'} the step)`);
        expect(differs(oldWant[i], newWant[i]), 'the step changed the outputs').to.equal(true);
      });
      // The training forward started before the step: its cache is refused, not mixed.
      const t = await staleTrain;
      expect(() => lstm.backward(t.cache, { dOutput: t.output })).to.throw(StaleCacheError, 'weights or backend changed after forwardTrain');
      await lstm.backwardAsync(t.cache).then(() => expect.fail('stale cache accepted'), (e) => expect(e).to.be.instanceOf(StaleCacheError));
    });

    it('loadStateDict and input mutation while calls are in flight do not reach them', async function () {
      const rng = new Rng(9);
      const m = new GRU({ inputSize: 3, hiddenSize: 16, bidirectional: true, seed: 1, backend });
      const other = new GRU({ inputSize: 3, hiddenSize: 16, bidirectional: true, seed: 2, backend }).stateDict();
      const x = input(rng, [5, 2, 3]);
      const keep = new Tensor(x.data.slice(), x.shape);
      const want = m.forward(keep).output.data;
      const pending = Array.from({ length: 50 }, () => m.forwardAsync(x));
      x.data.fill(100); // the caller reuses its buffer at once
      m.loadStateDict(other);
      for (const r of await Promise.all(pending)) same(r.output.data, want, 'output');
      same((await m.forwardAsync(keep)).output.data, m.forward(keep).output.data, 'after the load');
      expect(differs(m.forward(keep).output.data, want)).to.equal(true);
    });
  });
}
