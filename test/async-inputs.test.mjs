// What an async call reads is what the caller passed at call time (docs/security.md, Concurrency):
// every caller buffer may be written or detached the moment the call returns its promise, on every
// backend, and the result is that of an undisturbed synchronous call. Native code never sees a
// buffer a caller can reach: inputs and upstream gradients are copied at the call, and a training
// cache exposes none of the buffers it hands to the backend. Weight updates while calls are in
// flight release the old packed weights only when the last call using them has settled.
import { expect } from 'chai';
import { Adam, GRU, LSTM, RNN, Rng, setThreads, backend as backendInfo, availableBackends, Tensor } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';

const cases = backendCases().filter((c) => c.dtype === 'float32');
const rand = (rng, shape) => new Tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-1, 1)), shape);
const copy = (t) => new Tensor(t.data.slice(), t.shape);
const detach = (t) => structuredClone(t.data.buffer, { transfer: [t.data.buffer] });
const trash = (t, mode) => (mode === 'detach' ? detach(t) : t.data.fill(mode === 'nan' ? NaN : 1e30));
const eq = (a, b, what) => {
  expect(a.length, what).to.equal(b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) expect.fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
};
const sameGrads = (got, want) => {
  eq(got.dX.data, want.dX.data, 'dX');
  eq(got.dH0.data, want.dH0.data, 'dH0');
  if (want.dC0) eq(got.dC0.data, want.dC0.data, 'dC0');
  for (const k of Object.keys(want.grads)) eq(got.grads[k].data, want.grads[k].data, k);
};
// Every typed array reachable from an object's own properties (the cache must hold none).
function reachableBuffers(o, seen = new Set()) {
  if (o === null || typeof o !== 'object' || seen.has(o)) return [];
  seen.add(o);
  if (ArrayBuffer.isView(o) || o instanceof ArrayBuffer) return [o];
  return Reflect.ownKeys(o).flatMap((k) => { try { return reachableBuffers(o[k], seen); } catch { return []; } });
}

for (const { backend } of cases) {
  describe(`async calls on ${backend}: caller buffers changed or detached mid-call`, function () {
    this.timeout(60000);
    const models = [
      ['a 2-layer bidirectional LSTM', () => new LSTM({ inputSize: 6, hiddenSize: 24, numLayers: 2, bidirectional: true, seed: 3, backend })],
      ['a 2-layer GRU', () => new GRU({ inputSize: 6, hiddenSize: 24, numLayers: 2, seed: 4, backend })],
      ['a bidirectional RNN', () => new RNN({ inputSize: 6, hiddenSize: 24, bidirectional: true, seed: 5, backend })],
    ];
    for (const [name, make] of models) {
      for (const mode of ['write', 'nan', 'detach']) {
        it(`${name}: backwardAsync with dOutput, dHN, dCN ${mode === 'detach' ? 'detached' : `overwritten (${mode})`} right after the call`, async function () {
          const rng = new Rng(11);
          const m = make();
          const x = rand(rng, [7, 3, 6]);
          const f = m.forwardTrain(x);
          const g = { dOutput: rand(rng, f.output.shape), dHN: rand(rng, f.hN.shape) };
          if (f.cN) g.dCN = rand(rng, f.cN.shape);
          const keep = Object.fromEntries(Object.entries(g).map(([k, t]) => [k, copy(t)]));
          const want = m.backward(m.forwardTrain(x).cache, keep);
          const p = m.backwardAsync(f.cache, g);
          for (const t of Object.values(g)) trash(t, mode);
          sameGrads(await p, want);
        });
        it(`${name}: forwardAsync and forwardTrainAsync with x, h0, c0 ${mode === 'detach' ? 'detached' : `overwritten (${mode})`} right after the call`, async function () {
          const rng = new Rng(12);
          const m = make();
          const L = m.numLayers * m.numDirections;
          const mk = () => {
            const o = { x: rand(rng, [5, 2, 6]), h0: rand(rng, [L, 2, m.outSize]) };
            if (m instanceof LSTM) o.c0 = rand(rng, [L, 2, m.hiddenSize]);
            return o;
          };
          for (const train of [false, true]) {
            const a = mk();
            const keep = { x: copy(a.x), h0: copy(a.h0), c0: a.c0 && copy(a.c0) };
            const want = m.forward(keep.x, { h0: keep.h0, c0: keep.c0 });
            const p = train ? m.forwardTrainAsync(a.x, { h0: a.h0, c0: a.c0 }) : m.forwardAsync(a.x, { h0: a.h0, c0: a.c0 });
            for (const t of Object.values(a)) if (t) trash(t, mode);
            const r = await p;
            eq(r.output.data, want.output.data, 'output');
            eq(r.hN.data, want.hN.data, 'hN');
            if (train) {
              // The cache kept its own copy of x: the backward is that of the original input.
              const wantG = m.backward(m.forwardTrain(keep.x, { h0: keep.h0, c0: keep.c0 }).cache, { dOutput: want.output });
              sameGrads(await m.backwardAsync(r.cache, { dOutput: r.output }), wantG);
            }
          }
        });
      }
    }

    it('a training cache exposes no buffer (nothing a caller could detach or write under a backward)', function () {
      const m = new LSTM({ inputSize: 3, hiddenSize: 8, numLayers: 2, bidirectional: true, dropout: 0.5, seed: 1, backend });
      const { cache } = m.forwardTrain(rand(new Rng(1), [4, 2, 3]));
      expect(reachableBuffers(cache)).to.deep.equal([]);
    });

    it('an optimizer step while backwardAsync and multi-layer forwardAsync calls are in flight: each finishes with the weights of its call', async function () {
      const rng = new Rng(13);
      const m = new LSTM({ inputSize: 6, hiddenSize: 32, numLayers: 3, bidirectional: true, seed: 7, backend });
      const opt = new Adam(m, { lr: 0.05 });
      const x = rand(rng, [9, 4, 6]);
      const f = m.forwardTrain(x);
      const wantG = m.backward(m.forwardTrain(x).cache, { dOutput: f.output });
      const wantY = m.forward(x);
      const pg = m.backwardAsync(f.cache, { dOutput: f.output });
      const py = m.forwardAsync(x);
      opt.step(wantG.grads); // repacks (and releases) the weights both calls still use
      opt.step(wantG.grads);
      sameGrads(await pg, wantG);
      eq((await py).output.data, wantY.output.data, 'output');
      const now = m.forward(x).output.data;
      expect(now.some((v, i) => v !== wantY.output.data[i]), 'the steps changed the weights').to.equal(true);
      eq((await m.forwardAsync(x)).output.data, now, 'a call after the steps');
    });
  });
}

describe('clip: both backends take the same values', function () {
  for (const b of availableBackends()) {
    it(`${b}: up to the largest float32, refused beyond`, function () {
      const x = rand(new Rng(2), [3, 1, 2]);
      for (const clip of [1e-30, 3.4e38, 3.4028234663852886e38]) {
        const m = new LSTM({ inputSize: 2, hiddenSize: 3, clip, seed: 1, backend: b });
        const plain = new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1, backend: b });
        // A clip no pre-activation reaches changes nothing (native's clipped path is a different
        // kernel, so equal up to rounding).
        const got = m.forward(x).output.data, want = plain.forward(x).output.data;
        if (clip > 1) got.forEach((v, i) => expect(v, `clip ${clip} [${i}]`).to.be.closeTo(want[i], 1e-6));
      }
      for (const clip of [3.4028236e38, 1e300, Infinity]) {
        expect(() => new LSTM({ inputSize: 2, hiddenSize: 3, clip, backend: b })).to.throw(RangeError, /^LSTM: clip: expected a positive finite number <= 3.4028234663852886e\+38/);
      }
    });
  }
});

(availableBackends().includes('native') ? describe : describe.skip)('native: setThreads during a call', function () {
  this.timeout(60000);
  it('returns at once while a long call holds the pool; the next call runs with the new size', async function () {
    const hw = backendInfo('native').threads;
    const m = new LSTM({ inputSize: 256, hiddenSize: 512, seed: 2, backend: 'native' });
    const x = rand(new Rng(3), [200, 64, 256]);
    const want = m.forward(x).output.data;
    try {
      const t0 = performance.now();
      const p = m.forwardAsync(x);
      await new Promise((r) => setTimeout(r, 20)); // the worker has the pool now
      const s0 = performance.now();
      setThreads(1);
      const blocked = performance.now() - s0;
      const r = await p;
      const took = performance.now() - t0;
      expect(took, 'the call is long enough to show a block').to.be.above(60);
      expect(blocked, `setThreads took ${blocked.toFixed(1)} ms during a ${took.toFixed(0)} ms call`).to.be.below(15);
      expect(backendInfo('native').threads).to.equal(1);
      eq(r.output.data, want, 'the call in flight');
      eq(m.forward(x).output.data, want, 'a call on the resized pool');
    } finally {
      setThreads(hw);
    }
  });
});
