// A seeded property-based fuzzer of the public API (both backends). Each round picks a target (a
// public function or constructor), builds arguments that are mostly valid with a few hostile
// mutations (wrong ranks and sizes, zero / negative / huge / non-integer dimensions, NaN, ±Infinity
// and -0 in data and options, lengths > T, typed arrays of the wrong type, views with a byteOffset,
// detached buffers, SharedArrayBuffer, frozen objects, throwing getters and proxies, prototype
// pollution attempts), calls it, and checks the property:
//
//   the call returns a correct result, or throws TypeError / RangeError (or a documented library
//   class) whose message starts with the function or argument it names — never another error, an
//   engine error (a TypeError "Cannot read properties of undefined" is a bug too), a hang, a
//   crash, non-finite outputs from finite inputs, or native results that differ from ts.
//
// Shared by test/fuzz.test.mjs (a short budget in `npm test`) and scripts/fuzz-api.mjs (longer runs
// by hand or in scripts/harden.sh). Same seed, same sequence of inputs.
import {
  Adam, bceWithLogits, clipGradNorm, clipGradValue, crossEntropy, decodeOnnxModel, decodeSafetensors, Embedding, encodeSafetensors,
  fromOnnx, GRU, GRUCell, huberLoss, l1Loss, LastStep, Linear, loadTfjsModel, LSTM, LSTMCell, mseLoss, ReLU, RMSprop, RNN, RNNCell,
  Rng, Sequential, setMaxElements, SGD, Sigmoid, Tanh, Tensor, tensor, toOnnx, Trainer, zeros, maxElements, encodeModel, load,
} from 'cellstate';
import { makeAsyncTargets } from './fuzz-async.mjs';
import { makeServeTargets } from './fuzz-serve.mjs';
import { makeServeModelTargets } from './fuzz-serve-model.mjs';
import { makeLossesTargets } from './fuzz-losses.mjs';
import { makeFilesTargets } from './fuzz-files.mjs';
import { makeOnnxTargets } from './fuzz-onnx.mjs';

// Errors the API may throw for bad input: argument errors and the library's documented classes.
const ALLOWED = new Set(['TypeError', 'RangeError', 'SafetensorsError', 'UnsupportedModelError', 'StaleCacheError', 'BackendUnavailableError', 'NonFiniteError']);
// Messages that come from the engine, not from a library check: a bug wherever they surface.
const ENGINE = /Cannot read properties|is not a function|is not iterable|Invalid typed array length|Array buffer allocation failed|Maximum call stack|detached ArrayBuffer|out of bounds|Cannot convert|Cannot mix BigInt|undefined is not|null is not|is not a constructor|Invalid array length|Cannot perform/;
// Library messages start with the function or argument they name ("LSTM.forward: x: ...").
const NAMED = /^[^\s:]+( \([^)]*\))?: /;
const SLOW_MS = 3000;

class Boom extends Error {}

/** A fuzzing run. `backends`: names to fuzz; `ms`: time budget; `limit`: element limit during the run. */
export async function fuzzApi({ seed = 1, ms = 2000, backends = ['ts'], limit = 1 << 22, maxRounds = Infinity, onFailure } = {}) {
  const rng = new Rng(seed);
  const stats = { tried: 0, ok: 0, threw: {}, failures: [], perTarget: {} };
  const r = {
    int: (n) => Math.floor(rng.next() * n),
    pick: (a) => a[Math.floor(rng.next() * a.length)],
    chance: (p) => rng.next() < p,
    num: (lo, hi) => rng.uniform(lo, hi),
  };
  const oldLimit = maxElements();
  // A low limit keeps random huge sizes from allocating gigabytes, and exercises the limit checks.
  setMaxElements(limit);
  const targets = makeTargets(r, backends);
  const deadline = Date.now() + ms;
  try {
    for (let round = 0; round < maxRounds && Date.now() < deadline; round++) {
      const t = r.pick(targets);
      stats.tried++;
      stats.perTarget[t.name] = (stats.perTarget[t.name] ?? 0) + 1;
      let desc = '', c;
      try {
        c = t.make();
        desc = c.desc ?? '';
      } catch (e) {
        // Building the arguments failed (a hostile value met the harness itself): not an API call.
        stats.harness = (stats.harness ?? 0) + 1;
        if (process.env.CELLSTATE_FUZZ_DEBUG) console.error('harness:', t.name, e);
        continue;
      }
      const t0 = Date.now();
      if (process.env.CELLSTATE_FUZZ_TRACE) process.stderr.write(`trace ${seed} ${round} ${t.name} ${desc}\n`);
      try {
        const out = await c.call();
        if (c.check) c.check(out);
        stats.ok++;
      } catch (e) {
        const name = e?.name ?? typeof e;
        stats.threw[name] = (stats.threw[name] ?? 0) + 1;
        const msg = String(e?.message ?? e);
        let bad = null;
        if (e instanceof PropertyError) bad = e.message;
        else if (e instanceof Boom) bad = `a user getter's error escaped unwrapped: ${msg}`;
        else if (!(e instanceof Error) || !ALLOWED.has(e.name)) bad = `threw ${name}: ${msg}`;
        else if (ENGINE.test(msg)) bad = `engine error: ${name}: ${msg}`;
        else if (!NAMED.test(msg)) bad = `message does not name the function/argument: ${name}: ${msg}`;
        if (bad) {
          const f = { seed, round, target: t.name, desc, error: bad, stack: String(e?.stack ?? '').split('\n').slice(0, 6).join('\n') };
          stats.failures.push(f);
          onFailure?.(f);
        }
      }
      const took = Date.now() - t0;
      if (took > SLOW_MS) stats.failures.push({ seed, round, target: t.name, desc, error: `took ${took} ms (a hang?)` });
      if (Object.keys(Object.prototype).length || ({}).hiddenSize !== undefined || ({}).polluted !== undefined) {
        stats.failures.push({ seed, round, target: t.name, desc, error: 'Object.prototype was polluted' });
        for (const k of Object.keys(Object.prototype)) delete Object.prototype[k];
      }
    }
  } finally {
    setMaxElements(oldLimit);
  }
  return stats;
}

/** A property violated by a result (not by an exception the API threw). */
class PropertyError extends Error {}
function fail(msg) { throw new PropertyError(msg); }

function makeTargets(r, backends) {
  // ------------------------------------------------------------------ hostile values
  const HOSTILE_NUMS = [0, -0, 1, -1, 2, 3, 7, 2.5, 0.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 31 - 1, 2 ** 32 + 1, 2 ** 53, 2 ** 53 + 2, 1e300, -5, 1e-300, Number.MIN_VALUE];
  const weird = () => r.pick([
    undefined, null, true, false, '', '3', 'float32', 3n, Symbol('s'), {}, [], [[]], () => 1, new Date(0), /x/, new Map(), new Set(),
    new Proxy({}, { get() { throw new Boom('proxy get'); }, ownKeys() { throw new Boom('proxy keys'); } }),
    Object.create(null), new Int8Array(3), new DataView(new ArrayBuffer(8)), new ArrayBuffer(8),
  ]);
  const hostileNum = () => (r.chance(0.8) ? r.pick(HOSTILE_NUMS) : weird());
  const dim = () => (r.chance(0.85) ? 1 + r.int(r.chance(0.8) ? 4 : 9) : hostileNum());
  const value = () => (r.chance(0.9) ? r.num(-2, 2) : r.pick([NaN, Infinity, -Infinity, -0, 1e38, -1e38, 3.4e38]));

  /** A Float32Array (or Float64Array) of n values, sometimes a view with a byteOffset or on a SharedArrayBuffer. */
  function floats(n, dtype = 'float32', hostile = 0.15) {
    const C = dtype === 'float64' ? Float64Array : Float32Array;
    let a;
    const k = r.chance(hostile) ? r.int(4) : -1;
    if (k === 0) { const off = 1 + r.int(3); a = new C(new ArrayBuffer((n + off + 2) * C.BYTES_PER_ELEMENT), off * C.BYTES_PER_ELEMENT, n); }
    else if (k === 1) a = new C(new SharedArrayBuffer(Math.max(1, n) * C.BYTES_PER_ELEMENT), 0, n);
    else a = new C(n);
    for (let i = 0; i < n; i++) a[i] = r.num(-2, 2);
    // Non-finite and extreme values only in marked cases, so "finite in, finite out" can be checked.
    if (k === 2 && n > 0) a[r.int(n)] = r.pick([NaN, Infinity, -Infinity, 3.4e38, -0]);
    return a;
  }
  /** Mutate a typed array into something hostile (wrong type, detached, wrong length). */
  function hostileData(a) {
    switch (r.int(7)) {
      case 0: return new (a instanceof Float64Array ? Float32Array : Float64Array)(a.length);
      case 1: return Int32Array.from(a, (v) => v | 0);
      case 2: { const c = a.slice(); structuredClone(c.buffer, { transfer: [c.buffer] }); return c; } // detached
      case 3: return a.subarray(0, Math.max(0, a.length - 1 - r.int(2)));
      case 4: return Array.from(a);
      case 5: { const big = new (a.constructor)(a.length + 3); big.set(a); return big; }
      default: return weird();
    }
  }
  /** A tensor-like argument of `shape` (as given), mutated with probability p. */
  function tensorArg(shape, dtype = 'float32', p = 0.25) {
    const n = shape.reduce((x, y) => x * y, 1);
    const data = floats(n, dtype);
    if (!r.chance(p)) return new Tensor(data, shape);
    switch (r.int(9)) {
      case 0: return { shape, data: hostileData(data) };
      case 1: return { shape: mutateShape(shape), data };
      case 2: return Object.freeze(new Tensor(data, shape));
      case 3: return { get shape() { throw new Boom('shape getter'); }, data };
      case 4: return { shape, get data() { throw new Boom('data getter'); } };
      case 5: return { shape: new Proxy(shape.slice(), { get(t, k) { if (k === '0') throw new Boom('shape[0]'); return t[k]; } }), data };
      case 6: { let calls = 0; return { shape: new Proxy(shape.slice(), { get(t, k) { if (k === '0' && calls++ > 0) return 1e6; return t[k]; } }), data }; }
      case 7: { const d = data.slice(); structuredClone(d.buffer, { transfer: [d.buffer] }); return new Tensor(d, shape.map((x, i) => (i === 0 ? 0 : x))); }
      default: return weird();
    }
  }
  function mutateShape(shape) {
    const s = shape.slice();
    switch (r.int(5)) {
      case 0: s.push(1 + r.int(3)); break;
      case 1: s.pop(); break;
      case 2: if (s.length) s[r.int(s.length)] = hostileNum(); break;
      case 3: if (s.length) s[r.int(s.length)] += 1; break;
      default: return weird();
    }
    return s;
  }
  /** An options object with some keys hostile: unknown keys, pollution attempts, throwing getters, frozen. */
  function hostileOptions(base, p = 0.3) {
    let o = { ...base };
    if (!r.chance(p)) return o;
    switch (r.int(8)) {
      case 0: { const k = r.pick(Object.keys(o).concat(['x'])); o[k] = r.chance(0.5) ? hostileNum() : weird(); break; }
      case 1: o = Object.assign(JSON.parse('{"__proto__": {"polluted": 1, "hiddenSize": 3}}'), o); break;
      case 2: o.constructor = { prototype: { polluted: 1 } }; break;
      case 3: Object.defineProperty(o, r.pick(Object.keys(o).concat(['hiddenSize'])), { get() { throw new Boom('option getter'); }, enumerable: true }); break;
      case 4: o = Object.freeze(o); break;
      case 5: o = Object.assign(Object.create({ inheritedOption: 1, hiddenSize: 999 }), o); break;
      case 6: o = new Proxy(o, { ownKeys() { throw new Boom('ownKeys'); } }); break;
      default: delete o[r.pick(Object.keys(o).concat(['x']))]; break;
    }
    return o;
  }
  const backendName = () => r.pick(backends);
  const closeTo = (a, b, atol, rtol, what) => {
    if (a.length !== b.length) fail(`${what}: length ${a.length} vs ${b.length}`);
    for (let i = 0; i < a.length; i++) {
      if (!(Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]))) fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
    }
  };
  const finite = (a, what) => { for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) fail(`${what}[${i}] = ${a[i]} from finite inputs`); };
  const sameShape = (t, s, what) => { if (!(t instanceof Tensor) || t.shape.length !== s.length || t.shape.some((d, i) => d !== s[i])) fail(`${what}: shape ${t?.shape} expected ${s}`); };

  // ------------------------------------------------------------------ models
  const FAMILIES = { LSTM, GRU, RNN };
  function modelOptions() {
    const kind = r.pick(['LSTM', 'GRU', 'RNN']);
    const o = { inputSize: 1 + r.int(5), hiddenSize: 1 + r.int(r.chance(0.2) ? 18 : 6), seed: r.int(1000), backend: backendName() };
    if (r.chance(0.3)) o.numLayers = 1 + r.int(3);
    if (r.chance(0.3)) o.bidirectional = true;
    if (r.chance(0.3)) o.batchFirst = true;
    if (r.chance(0.15)) o.bias = false;
    if (r.chance(0.15)) o.clip = r.num(0.1, 3);
    if (r.chance(0.1) && !o.bidirectional) o.reverse = true;
    if (kind === 'LSTM' && r.chance(0.15) && o.hiddenSize > 1) o.projSize = 1 + r.int(o.hiddenSize - 1);
    if (kind === 'LSTM' && r.chance(0.15)) o.peephole = true;
    if (kind === 'LSTM' && r.chance(0.1)) o.inputForget = true;
    if (kind === 'GRU' && r.chance(0.3)) o.linearBeforeReset = false;
    if (kind === 'RNN' && r.chance(0.3)) o.nonlinearity = 'relu';
    if (o.backend === 'ts' && r.chance(0.2)) o.dtype = 'float64';
    return { kind, o };
  }
  function model() {
    const { kind, o } = modelOptions();
    return { kind, o, m: new FAMILIES[kind](o) };
  }
  /** The same model on ts (float64, the oracle) when the model runs on native. */
  function oracle(kind, o) {
    return new FAMILIES[kind]({ ...o, backend: 'ts' });
  }
  function seqInput(m, { hostile = 0.25 } = {}) {
    const T = 1 + r.int(r.chance(0.1) ? 40 : 6), B = 1 + r.int(4);
    const shape = m.batchFirst ? [B, T, m.inputSize] : [T, B, m.inputSize];
    const opts = {};
    if (r.chance(0.4)) {
      const lens = Array.from({ length: B }, () => 1 + r.int(T));
      opts.lengths = r.chance(0.15) ? lens.map((l) => r.pick([l, T + 1, 0, -1, 2.5, NaN, hostileNum()])) : r.chance(0.3) ? Int32Array.from(lens) : lens;
      if (r.chance(0.05)) opts.lengths = lens.map(BigInt);
    }
    const L = m.numLayers * m.numDirections;
    if (r.chance(0.3)) opts.h0 = tensorArg([L, B, m.outSize], m.dtype, hostile);
    if (r.chance(0.2) && m instanceof LSTM) opts.c0 = tensorArg([L, B, m.hiddenSize], m.dtype, hostile);
    return { x: tensorArg(shape, m.dtype, hostile), opts: hostileOptions(opts, hostile / 2), T, B, shape };
  }
    // Values far from 1 overflow float32 differently on each backend (ts computes in doubles
  // between float32 stores): compare backends only on moderate inputs.
  const moderate = (t) => t === undefined || (t instanceof Tensor && t.data.length === t.size && t.data.buffer.byteLength > 0 && t.data.every((v) => Math.abs(v) <= 1e4));
  const cleanSeq = (s) => s.x instanceof Tensor && !Object.isFrozen(s.x) && moderate(s.x) && moderate(s.opts.h0) && moderate(s.opts.c0);
  function describeSeq(kind, o, s) { return `${kind} ${JSON.stringify(o)} x ${JSON.stringify(s.shape)} opts ${safeKeys(s.opts)}`; }

  // Checks a forward's result against the ts oracle (native) or for finiteness and shapes (ts).
  function checkForward(kind, o, m, s, res) {
    const P = m.outSize, D = m.numDirections, L = m.numLayers;
    const outShape = m.batchFirst ? [s.B, s.T, D * P] : [s.T, s.B, D * P];
    sameShape(res.output, outShape, 'output');
    sameShape(res.hN, [L * D, s.B, P], 'hN');
    finite(res.output.data, 'output');
    finite(res.hN.data, 'hN');
    if (m.backend === 'native') {
      const ref = oracle(kind, o).forward(cloneT(s.x), plainOpts(s.opts));
      closeTo(res.output.data, ref.output.data, 2e-4, 2e-3, 'native vs ts output');
      closeTo(res.hN.data, ref.hN.data, 2e-4, 2e-3, 'native vs ts hN');
    }
  }
  const cloneT = (x) => new Tensor(x.data.slice(), x.shape.slice());
  const plainOpts = (o) => { const p = {}; for (const k of Object.keys(o)) p[k] = o[k] instanceof Tensor ? cloneT(o[k]) : o[k]; return p; };

  // ------------------------------------------------------------------ files for the parsers
  let onnxBytes = null, stBytes = null;
  const validOnnx = () => onnxBytes ?? (onnxBytes = toOnnx(new LSTM({ inputSize: 2, hiddenSize: 3, seed: 5, backend: 'ts' }), { lengths: true }));
  const validSt = () => stBytes ?? (stBytes = Buffer.concat(encodeSafetensors({ a: tensor([[1, 2], [3, 4]]), b: zeros([3], 'float64') }, { note: 'x' })));
  function mutateBytes(src) {
    const b = Uint8Array.from(src);
    const k = r.int(5);
    if (k === 0) return b.subarray(0, r.int(b.length));
    const flips = 1 + r.int(8);
    for (let i = 0; i < flips; i++) {
      const at = r.int(b.length);
      b[at] = k === 1 ? b[at] ^ (1 << r.int(8)) : k === 2 ? r.pick([0, 0xff, 0x7f, 0x80]) : r.int(256);
    }
    if (k === 4) return Uint8Array.from([...b.subarray(0, 40), ...b.subarray(40 + r.int(40))]);
    return b;
  }

  // ------------------------------------------------------------------ targets
  const T = [];
  const add = (name, make) => T.push({ name, make });

  add('tensor', () => {
    const k = r.int(4);
    const shape = Array.from({ length: r.int(4) }, dim);
    if (k === 0) return { desc: `tensor(nested)`, call: () => tensor(nested(r.int(4))) };
    if (k === 1) return { desc: `tensor(flat, ${String(shape)})`, call: () => tensor(Array.from({ length: r.int(10) }, value), r.chance(0.8) ? shape : weird(), r.chance(0.8) ? undefined : r.pick(['float64', 'float16', weird()])) };
    if (k === 2) return { desc: `tensor(typed)`, call: () => tensor(floats(r.int(8)), r.chance(0.5) ? undefined : shape) };
    return { desc: 'tensor(weird)', call: () => tensor(weird(), r.chance(0.5) ? undefined : shape) };
  });
  function nested(depth) {
    if (depth === 0) return r.chance(0.95) ? value() : weird();
    const n = r.int(4);
    const first = Array.from({ length: n }, () => nested(depth - 1));
    if (r.chance(0.1) && n) first[r.int(n)] = nested(Math.max(0, depth - 2)); // ragged
    return first;
  }
  add('zeros', () => { const s = Array.from({ length: r.int(4) }, dim); return { desc: `zeros(${String(s)})`, call: () => zeros(r.chance(0.9) ? s : weird(), r.chance(0.9) ? undefined : weird()) }; });
  add('new Tensor', () => {
    const s = Array.from({ length: r.int(4) }, () => 1 + r.int(3));
    const n = s.reduce((a, b) => a * b, 1);
    return { desc: `Tensor(${s})`, call: () => new Tensor(r.chance(0.6) ? floats(n) : hostileData(floats(n)), r.chance(0.6) ? s : mutateShape(s)), check: (t) => { if (t.size !== t.shape.reduce((a, b) => a * b, 1)) fail('size mismatch'); t.toArray(); } };
  });
  add('new Recurrent', () => {
    const { kind, o } = modelOptions();
    const h = hostileOptions(o, 0.6);
    return { desc: `${kind}(${safeKeys(h)})`, call: () => new FAMILIES[kind](r.chance(0.95) ? h : weird()), check: (m) => { for (const [n, t] of Object.entries(m.stateDict())) finite(t.data, n); } };
  });
  add('forward', () => {
    const { kind, o, m } = model();
    const s = seqInput(m);
    return { desc: describeSeq(kind, o, s), call: () => m.forward(s.x, s.opts), check: (res) => { if (cleanSeq(s)) checkForward(kind, o, m, s, res); } };
  });
  add('forwardAsync', () => {
    const { kind, o, m } = model();
    const s = seqInput(m);
    return { desc: describeSeq(kind, o, s), call: () => m.forwardAsync(s.x, s.opts), check: (res) => { if (cleanSeq(s)) checkForward(kind, o, m, s, res); } };
  });
  add('forwardTrain+backward', () => {
    const { kind, o, m } = model();
    const s = seqInput(m, { hostile: 0.1 });
    return {
      desc: describeSeq(kind, o, s),
      call: async () => {
        const f = r.chance(0.5) ? m.forwardTrain(s.x, s.opts) : await m.forwardTrainAsync(s.x, s.opts);
        const g = {};
        if (r.chance(0.8)) g.dOutput = tensorArg(f.output.shape.slice(), m.dtype, 0.2);
        if (r.chance(0.3)) g.dHN = tensorArg(f.hN.shape.slice(), m.dtype, 0.2);
        if (r.chance(0.2) && f.cN) g.dCN = tensorArg(f.cN.shape.slice(), m.dtype, 0.2);
        const cache = r.chance(0.95) ? f.cache : r.pick([weird(), { ...f.cache }]);
        const grads = r.chance(0.5) ? m.backward(cache, hostileOptions(g, 0.1)) : await m.backwardAsync(cache, hostileOptions(g, 0.1));
        return { f, grads, tame: cleanSeq(s) && moderate(g.dOutput) && moderate(g.dHN) && moderate(g.dCN) };
      },
      check: ({ f, grads, tame }) => {
        if (!tame) return; // extreme upstream values may overflow float32 legitimately
        finite(f.output.data, 'output');
        sameShape(grads.dX, s.shape, 'dX');
        finite(grads.dX.data, 'dX');
        for (const [n, t] of Object.entries(grads.grads)) finite(t.data, n);
      },
    };
  });
  add('step', () => {
    const { kind, o, m } = model();
    const B = 1 + r.int(3);
    const L = m.numLayers;
    const state = r.chance(0.5) ? undefined : hostileOptions({ h: tensorArg([L, B, m.outSize], m.dtype, 0.2), ...(kind === 'LSTM' && r.chance(0.7) ? { c: tensorArg([L, B, m.hiddenSize], m.dtype, 0.2) } : {}) }, 0.2);
    return { desc: `${kind} ${JSON.stringify(o)} step B=${B}`, call: () => m.step(tensorArg([B, m.inputSize], m.dtype, 0.3), state), check: (res) => { sameShape(res.output, [B, m.outSize], 'output'); finite(res.output.data, 'output'); } };
  });
  add('cells', () => {
    const C = r.pick([LSTMCell, GRUCell, RNNCell]);
    const o = hostileOptions({ inputSize: 1 + r.int(4), hiddenSize: 1 + r.int(5), seed: r.int(99), backend: backendName() }, 0.2);
    return {
      desc: `${C.name}(${safeKeys(o)})`,
      call: () => {
        const c = new C(o);
        const B = 1 + r.int(3);
        const st = r.chance(0.5) ? undefined : hostileOptions({ h: tensorArg([B, c.hiddenSize], 'float32', 0.2), ...(C === LSTMCell ? { c: tensorArg([B, c.hiddenSize], 'float32', 0.2) } : {}) }, 0.2);
        return c.forward(tensorArg([B, c.inputSize], 'float32', 0.3), st);
      },
      check: (res) => finite(res.h.data, 'h'),
    };
  });
  add('loadStateDict', () => {
    const { kind, o, m } = model();
    const sd = m.stateDict();
    const names = Object.keys(sd);
    const bad = { ...sd };
    const k = r.int(6);
    const n = r.pick(names);
    if (k === 0) bad[n] = tensorArg(sd[n].shape.slice(), m.dtype, 0.8);
    else if (k === 1) bad[n] = { shape: sd[n].shape, data: Array.from(sd[n].data, (v) => (r.chance(0.1) ? value() : v)) };
    else if (k === 2) delete bad[n];
    else if (k === 3) bad[r.pick(['__proto__', 'constructor', 'x', n + '_'])] = sd[n];
    else if (k === 4) Object.defineProperty(bad, n, { get() { throw new Boom('weight getter'); }, enumerable: true });
    const before = m.stateDict();
    return {
      desc: `${kind} loadStateDict case ${k} on ${n}`,
      call: () => { try { return m.loadStateDict(k === 5 ? weird() : bad); } catch (e) { const now = m.stateDict(); for (const q of names) closeTo(now[q].data, before[q].data, 0, 0, `partial load of ${q}`); throw e; } },
    };
  });
  add('dense layers', () => {
    const k = r.int(5);
    const F = 1 + r.int(4), rows = [1 + r.int(3), 1 + r.int(3)];
    let layer;
    if (k === 0) layer = new Linear(hostileOptions({ inFeatures: F, outFeatures: 1 + r.int(4), seed: 3 }, 0.2));
    else if (k === 1) layer = new Embedding(hostileOptions({ numEmbeddings: 1 + r.int(6), embeddingDim: F, seed: 3 }, 0.2));
    else if (k === 2) layer = new (r.pick([Tanh, Sigmoid, ReLU]))();
    else if (k === 3) layer = new LastStep(hostileOptions(r.chance(0.5) ? {} : { batchFirst: true }, 0.2));
    else layer = new Sequential([new LSTM({ inputSize: F, hiddenSize: 3, seed: 1, backend: backendName() }), new Tanh(), new Linear({ inFeatures: 3, outFeatures: 2, seed: 2 })]);
    const x = k === 1
      ? (r.chance(0.7) ? tensor(Array.from({ length: rows[0] * rows[1] }, () => r.pick([0, 1, 2, 3, -1, 2.5, NaN, 1e9])), rows) : tensorArg(rows, 'float32', 0.5))
      : tensorArg(k === 4 || k === 3 ? [...rows, F] : [...rows, F], 'float32', 0.3);
    return {
      desc: `${layer.constructor.name} x ${String(x?.shape)}`,
      call: () => {
        const opts = k === 3 && r.chance(0.5) ? { lengths: Array.from({ length: rows[1] }, () => r.pick([1, rows[0], rows[0] + 1, 0])) } : undefined;
        const f = layer.forwardTrain(x, opts);
        const b = layer.backward(f.cache, hostileOptions({ dOutput: tensorArg(f.output.shape.slice(), 'float32', 0.2) }, 0.1));
        return { f, b };
      },
      check: ({ f }) => { if (moderate(x)) finite(f.output.data, 'output'); },
    };
  });
  add('losses', () => {
    const shape = [1 + r.int(3), 1 + r.int(3), 1 + r.int(4)];
    const out = tensorArg(shape, 'float32', 0.2);
    const fn = r.pick([mseLoss, l1Loss, huberLoss, bceWithLogits, crossEntropy]);
    const rows = shape[0] * shape[1];
    const target = fn === crossEntropy
      ? (r.chance(0.8) ? Array.from({ length: rows }, () => (r.chance(0.9) ? r.int(shape[2]) : hostileNum())) : weird())
      : tensorArg(shape, 'float32', 0.2);
    const opts = r.chance(0.3) ? hostileOptions(r.chance(0.5) ? { mask: Uint8Array.from({ length: rows }, () => r.int(2)) } : fn === huberLoss ? { delta: hostileNum() } : fn === crossEntropy ? { ignoreIndex: hostileNum() } : {}, 0.3) : undefined;
    return { desc: `${fn.name} ${shape}`, call: () => fn(out, target, opts), check: (res) => { if (!Number.isFinite(res.loss) && moderate(out) && (fn === crossEntropy || moderate(target))) fail(`loss ${res.loss}`); } };
  });
  add('optimizers', () => {
    const m = new Sequential([new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1, backend: backendName() }), new Linear({ inFeatures: 3, outFeatures: 1, seed: 2 })]);
    const Opt = r.pick([SGD, Adam, RMSprop]);
    const base = Opt === SGD ? { lr: 0.1, momentum: 0.5 } : { lr: 0.01 };
    const o = hostileOptions(base, 0.4);
    const grads = {};
    for (const [n, t] of m.namedParameters()) grads[n] = tensorArg(t.shape.slice(), 'float32', 0.05);
    const k = r.int(4);
    if (k === 0) delete grads[r.pick(Object.keys(grads))];
    if (k === 1) Object.defineProperty(grads, r.pick(Object.keys(grads)), { get() { throw new Boom('grad getter'); }, enumerable: true });
    return { desc: `${Opt.name}(${safeKeys(o)}) case ${k}`, call: () => { const opt = new Opt(m, o); opt.step(k === 2 ? weird() : grads); return opt; } };
  });
  add('clip', () => {
    const grads = { a: tensorArg([2, 3], 'float32', 0.2), b: tensorArg([4], 'float32', 0.2) };
    const fn = r.pick([clipGradNorm, clipGradValue]);
    return { desc: fn.name, call: () => fn(r.chance(0.9) ? grads : weird(), hostileNum()) };
  });
  add('decodeSafetensors', () => {
    const b = r.chance(0.9) ? mutateBytes(validSt()) : weird();
    return { desc: 'mutated safetensors', call: () => decodeSafetensors(b), check: (f) => { for (const [, t] of f.tensors) if (t.data instanceof Float32Array && t.shape.reduce((x, y) => x * y, 1) !== t.data.length) fail('tensor length mismatch'); } };
  });
  add('encodeSafetensors', () => {
    const ts = { a: tensorArg([2, 2], 'float32', 0.5) };
    if (r.chance(0.2)) ts[r.pick(['', '__metadata__', '__proto__', 'a'.repeat(300)])] = zeros([1]);
    const meta = r.chance(0.3) ? hostileOptions({ k: r.chance(0.8) ? 'v' : weird() }, 0.3) : undefined;
    return { desc: 'encode', call: () => decodeSafetensors(Buffer.concat(encodeSafetensors(ts, meta))) };
  });
  add('fromOnnx', () => {
    const b = r.chance(0.95) ? mutateBytes(validOnnx()) : weird();
    return {
      desc: 'mutated onnx',
      call: () => {
        const m = fromOnnx(b, r.chance(0.9) ? { backend: backendName() } : weird());
        const x = tensorArg([2, 1, 2], 'float32', 0.3);
        return m.forward(r.chance(0.7) ? { x, lengths: r.pick([[2], [1], [3], [0], Int32Array.of(2)]) } : x);
      },
    };
  });
  let modelBytes = null;
  const validModel = () => modelBytes ?? (modelBytes = encodeModel(new Sequential([
    new LSTM({ inputSize: 2, hiddenSize: 3, bidirectional: true, seed: 5, backend: 'ts' }), new LastStep({ finalStates: true }), new Linear({ inFeatures: 6, outFeatures: 2, seed: 6 })])));
  add('load (mutated model file)', () => {
    const b = mutateBytes(validModel());
    return { desc: 'mutated model file', call: () => { const m = load(b, r.chance(0.9) ? { backend: backendName() } : weird()); return m.forward(tensorArg([2, 1, 2], 'float32', 0.3)); } };
  });
  add('decodeOnnxModel', () => { const b = mutateBytes(validOnnx()); return { desc: 'mutated onnx bytes', call: () => decodeOnnxModel(b) }; });
  add('toOnnx', () => {
    const { kind, o, m } = model();
    const opts = hostileOptions({ opset: r.pick([14, 17, 21, 13, 22, 17.5]), lengths: r.chance(0.5), initialState: r.chance(0.5) }, 0.3);
    return { desc: `toOnnx ${kind} ${JSON.stringify(o)}`, call: () => fromOnnx(toOnnx(m, opts)) };
  });
  add('loadTfjsModel', () => {
    const units = 2;
    const modelJson = { modelTopology: { class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'LSTM', config: { name: 'l', units, activation: 'tanh', recurrent_activation: 'sigmoid', use_bias: true, return_sequences: true, batch_input_shape: [null, 3, 2] } }] } },
      weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'l/kernel', shape: [2, 4 * units], dtype: 'float32' }, { name: 'l/recurrent_kernel', shape: [units, 4 * units], dtype: 'float32' }, { name: 'l/bias', shape: [4 * units], dtype: 'float32' }] }] };
    const n = 2 * 8 + 2 * 8 + 8;
    let json = JSON.stringify(modelJson);
    if (r.chance(0.5)) {
      const at = r.int(json.length);
      json = json.slice(0, at) + r.pick(['', '9', '-1', 'null', '1e9', '"x"', ']', '{}', 'NaN']) + json.slice(at + r.int(4));
    }
    let parsed;
    try { parsed = JSON.parse(json); } catch { parsed = json; }
    const weights = r.chance(0.8) ? floats(n).buffer : weird();
    return { desc: 'tfjs', call: () => { const m = loadTfjsModel({ modelJson: parsed, weights }, r.chance(0.9) ? { backend: backendName() } : weird()); return m.forward(tensorArg([1, 3, 2], 'float32', 0.3)); } };
  });
  add('Trainer', () => {
    const m = new Sequential([new LSTM({ inputSize: 1, hiddenSize: 2, seed: 1, backend: backendName() }), new Linear({ inFeatures: 2, outFeatures: 1, seed: 2 })]);
    const o = hostileOptions({ model: m, optimizer: new SGD(m, { lr: 0.1 }), loss: r.pick(['mse', 'l1', 'huber', 'nope']), seed: 1, clipNorm: r.pick([1, undefined]) }, 0.4);
    const data = [{ x: [[0.1], [0.2], [r.chance(0.9) ? 0.3 : value()]], y: [0.1, 0.2, 0.3] }];
    const d = r.chance(0.9) ? data : weird();
    const fo = hostileOptions({ epochs: 1, progress: 'none', progressStream: { write() { return true; } } }, 0.3);
    // 2^32 epochs is a valid (long) request, not a hang: keep the work bounded.
    try { if (Number.isInteger(fo.epochs) && fo.epochs > 2) fo.epochs = 2; } catch { /* a throwing getter stays */ }
    return { desc: `Trainer ${safeKeys(o)} loss ${String(o.loss)} fit(${d === data ? 'data' : typeof d}, ${safeKeys(fo)} epochs ${String(fo.epochs)} progress ${String(fo.progress)})`, call: async () => { const t = new Trainer(o); await t.fit(d, fo); return t; } };
  });
  T.push(...makeServeTargets(r, backends));
  T.push(...makeServeModelTargets(r, backends));
  T.push(...makeAsyncTargets(r, backends, fail));
  T.push(...makeLossesTargets(r, backends));
  T.push(...makeFilesTargets(r, backends));
  T.push(...makeOnnxTargets(r, backends));
  return T;
}

function safeKeys(o) {
  try { return o === null || typeof o !== 'object' ? String(typeof o) : `{${Object.keys(o).join(',')}}`; } catch { return '{unlistable}'; }
}
