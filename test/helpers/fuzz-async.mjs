// Fuzz targets for the async model calls (docs/security.md, Concurrency): forwardAsync,
// forwardTrainAsync and backwardAsync with every caller buffer (x, h0, c0, dOutput, dHN, dCN)
// written, NaN-filled or detached right after the call, and weight updates (optimizer steps,
// loadStateDict, commitParameters) while calls are in flight, several calls at once. The property:
// each call returns exactly what a synchronous call with the call-time inputs and weights returned
// (computed before the async call started), never a crash or a mix. Used by fuzz-api.mjs.
import { Adam, GRU, LSTM, RNN, Tensor } from 'cellstate';

class AsyncPropertyError extends Error {}

export function makeAsyncTargets(r, backends, fail = (m) => { throw new AsyncPropertyError(m); }) {
  const FAMILIES = { LSTM, GRU, RNN };
  const rand = (shape) => new Tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.num(-1, 1)), shape);
  const copy = (t) => t && new Tensor(t.data.slice(), t.shape.slice());
  function disturb(t) {
    if (!t || t.data.buffer.byteLength === 0) return;
    const k = r.int(4);
    if (k === 0) structuredClone(t.data.buffer, { transfer: [t.data.buffer] });
    else if (k === 1) t.data.fill(NaN);
    else if (k === 2) t.data.fill(r.pick([1e30, -3.4e38, 0]));
    else for (let i = 0; i < t.data.length; i++) t.data[i] = r.num(-100, 100);
  }
  function same(got, want, what) {
    if (got.length !== want.length) fail(`${what}: ${got.length} values, expected ${want.length}`);
    for (let i = 0; i < want.length; i++) if (got[i] !== want[i] && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) fail(`${what}[${i}]: ${got[i]}, expected ${want[i]} (what a synchronous call gave)`);
  }
  function setup() {
    const kind = r.pick(Object.keys(FAMILIES));
    const o = { inputSize: 1 + r.int(5), hiddenSize: 1 + r.int(12), numLayers: 1 + r.int(3), bidirectional: r.chance(0.5), batchFirst: r.chance(0.3), seed: r.int(1000), backend: r.pick(backends) };
    if (kind === 'LSTM' && r.chance(0.2) && o.hiddenSize > 1) o.projSize = 1 + r.int(o.hiddenSize - 1);
    const m = new FAMILIES[kind](o);
    const T = 1 + r.int(6), B = 1 + r.int(3), L = m.numLayers * m.numDirections;
    const inputs = () => {
      const a = { x: rand(m.batchFirst ? [B, T, m.inputSize] : [T, B, m.inputSize]) };
      if (r.chance(0.5)) a.h0 = rand([L, B, m.outSize]);
      if (kind === 'LSTM' && r.chance(0.5)) a.c0 = rand([L, B, m.hiddenSize]);
      if (r.chance(0.3)) a.lengths = Array.from({ length: B }, () => 1 + r.int(T));
      return a;
    };
    // A weight update while calls are in flight (each call must keep the weights of its start).
    const update = () => {
      const k = r.int(3);
      if (k === 0) {
        const f = m.forwardTrain(rand(m.batchFirst ? [B, T, m.inputSize] : [T, B, m.inputSize]));
        new Adam(m, { lr: 0.1 }).step(m.backward(f.cache, { dOutput: f.output }).grads);
      } else if (k === 1) m.loadStateDict(new FAMILIES[kind]({ ...o, seed: o.seed + 1 }).stateDict());
      else { for (const [, t] of m.namedParameters()) t.data[0] += 0.5; m.commitParameters(); }
    };
    return { kind, o, m, inputs, update };
  }
  const opts = (a) => ({ h0: a.h0, c0: a.c0, lengths: a.lengths });
  const keepOf = (a) => ({ x: copy(a.x), h0: copy(a.h0), c0: copy(a.c0), lengths: a.lengths && a.lengths.slice() });

  return [
    {
      name: 'async calls disturbed mid-call',
      make() {
        const { kind, o, m, inputs, update } = setup();
        const n = 1 + r.int(4);
        return {
          desc: `${kind} ${JSON.stringify(o)} x${n}`,
          async call() {
            const jobs = [];
            for (let j = 0; j < n; j++) {
              const a = inputs(), keep = keepOf(a);
              const what = r.pick(['forward', 'train', 'backward']);
              if (what === 'backward') {
                const f = m.forwardTrain(keep.x, opts(keep));
                const g = { dOutput: rand(f.output.shape) };
                if (r.chance(0.5)) g.dHN = rand(f.hN.shape);
                if (f.cN && r.chance(0.5)) g.dCN = rand(f.cN.shape);
                const want = m.backward(m.forwardTrain(keep.x, opts(keep)).cache, { dOutput: copy(g.dOutput), dHN: copy(g.dHN), dCN: copy(g.dCN) });
                const p = m.backwardAsync(f.cache, g);
                for (const t of Object.values(g)) if (r.chance(0.7)) disturb(t);
                jobs.push(p.then((got) => {
                  same(got.dX.data, want.dX.data, 'backwardAsync dX');
                  for (const k of Object.keys(want.grads)) same(got.grads[k].data, want.grads[k].data, `backwardAsync ${k}`);
                }));
              } else {
                const want = m.forward(keep.x, opts(keep));
                const p = what === 'train' ? m.forwardTrainAsync(a.x, opts(a)) : m.forwardAsync(a.x, opts(a));
                for (const t of [a.x, a.h0, a.c0]) if (r.chance(0.7)) disturb(t);
                if (a.lengths && r.chance(0.5)) a.lengths.fill(0);
                jobs.push(p.then((got) => { same(got.output.data, want.output.data, `${what} output`); same(got.hN.data, want.hN.data, `${what} hN`); }));
              }
              if (r.chance(0.3)) update();
            }
            await Promise.all(jobs);
          },
        };
      },
    },
  ];
}
