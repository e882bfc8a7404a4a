// How much of a wasm backend call is not the kernels: every copy into and out of the module's
// linear memory, its allocations, and the layer's own work (input checks, the output tensor).
//
//   node bench/wasm-copies.mjs [--only M,L,XL,T2] [--reps 11]
//
// Method: the same model calls with the module's two kernel entry points (cs_cell_forward,
// cs_cell_backward) replaced by no-ops that return at once, interleaved with the real calls in
// one process (medians). What remains in a no-op call is everything the kernels do not do. The
// "first touch" column times only allocating the call's fresh output (and, for training, the
// cache) and writing it once: the page faults any backend pays for a new result, native too.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const args = { only: ['M', 'L', 'XL', 'T2'], reps: 11 };
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--only') args.only = process.argv[++i].split(',');
  else if (process.argv[i] === '--reps') args.reps = Number(process.argv[++i]);
  else throw new Error(`wasm-copies: unknown argument ${process.argv[i]}`);
}

// Wrap the module's instance before the library instantiates it (CELLSTATE_BACKEND=wasm loads it lazily).
const Instance = WebAssembly.Instance;
let noop = false, cacheFloats = 0;
WebAssembly.Instance = function (module, imports) {
  const inst = new Instance(module, imports);
  const ex = { ...inst.exports };
  for (const k of ['cs_cell_forward', 'cs_cell_backward']) ex[k] = (...a) => (noop ? 0 : inst.exports[k](...a));
  ex.cs_cell_cache_floats = (...a) => (cacheFloats = inst.exports.cs_cell_cache_floats(...a));
  return { exports: ex };
};
const c = require('../dist/index.js');
const { allocateUninit } = require('../dist/tensor.js');
const { WORKLOADS } = await import('./workloads.mjs');

const median = (a) => { const s = [...a].sort((p, q) => p - q); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
console.log('row   real ms   no-op kernels ms (share)   first touch of the result ms');
for (const name of args.only) {
  const w = WORKLOADS.find((x) => x.name === name);
  if (!w || w.layers || w.bidir || w.kind === 'stream') throw new Error(`wasm-copies: ${name}: expected a single-layer LSTM/GRU row of bench/workloads.mjs`);
  const Cls = w.cell === 'gru' ? c.GRU : c.LSTM;
  const model = new Cls({ inputSize: w.I, hiddenSize: w.H, seed: 1, backend: 'wasm', ...(w.cell === 'gru' ? { linearBeforeReset: false } : {}) });
  const rng = new c.Rng(2);
  const rnd = (n) => { const d = new Float32Array(n); for (let i = 0; i < n; i++) d[i] = rng.uniform(-1, 1); return d; };
  const x = c.tensor(rnd(w.T * w.B * w.I), [w.T, w.B, w.I]), dOutput = c.tensor(rnd(w.T * w.B * w.H), [w.T, w.B, w.H]);
  const train = w.kind === 'train';
  const run = train ? () => model.backward(model.forwardTrain(x).cache, { dOutput }) : () => model.forward(x);
  // The fresh buffers a call returns: y (T*B*H); training also the cache (its size from one call) and dx.
  run();
  const fresh = train ? [w.T * w.B * w.H, cacheFloats, w.T * w.B * w.I] : [w.T * w.B * w.H];
  const touch = () => { for (const n of fresh) if (n) allocateUninit('float32', n).fill(1); };
  noop = true; run(); noop = false;
  const t = { real: [], noop: [], touch: [] };
  for (let r = 0; r < args.reps; r++) {
    for (const mode of ['real', 'noop', 'touch']) {
      noop = mode === 'noop';
      const t0 = performance.now();
      if (mode === 'touch') touch(); else run();
      t[mode].push(performance.now() - t0);
    }
  }
  noop = false;
  const [a, b, f] = [median(t.real), median(t.noop), median(t.touch)];
  console.log(`${name.padEnd(5)} ${a.toFixed(2).padStart(8)}   ${b.toFixed(2).padStart(8)} (${(100 * b / a).toFixed(1)}%)            ${f.toFixed(2).padStart(8)}`);
}
