// Fuzz targets for serving (batcher, sessions, the ts worker pool), spread into makeTargets
// (test/helpers/fuzz-api.mjs). Each round is a scenario: concurrent requests on a random small
// model, some hostile (NaN, wrong shapes or dtypes, detached buffers, throwing getters, ragged
// arrays), some aborted, their buffers mutated or detached right after the call, the element
// limit sometimes lowered, close() sometimes called mid-flight. The property, for every promise:
//
//   it settles (within HANG_MS), exactly as it would alone: a fulfilled request equals the
//   model's own forward of what the caller passed at the call (bit for bit, same backend); a
//   valid request is refused only by back-pressure, an abort, close() or the element limit;
//   every rejection is a TypeError / RangeError / QueueFullError / AbortError / ServeClosedError
//   whose message names the function; close() resolves only after every request has settled.
//
// A violation throws ServeFuzzViolation, which the API fuzzer reports as a failure.
import {
  GRU, LSTM, RNN, Tensor, createBatcher, createSession, createTsWorkerPool, maxElements, setMaxElements, tensor,
} from 'cellstate';

const HANG_MS = 2000;
const ALLOWED = new Set(['TypeError', 'RangeError', 'QueueFullError', 'AbortError', 'ServeClosedError']);
const NAMED = /^[^\s:]+( \([^)]*\))?: /;
const ENGINE = /Cannot read properties|is not a function|is not iterable|detached ArrayBuffer|out of bounds|undefined is not|null is not|Invalid typed array length|Invalid array length/;

class ServeFuzzViolation extends Error {
  constructor(msg) { super(msg); this.name = 'ServeFuzzViolation'; }
}
export const violation = (msg) => { throw new ServeFuzzViolation(msg); };

/** A rejection must be an allowed, named library error, never an engine error. */
export function checkError(e, where, allowed = ALLOWED) {
  const name = e?.name ?? typeof e;
  const msg = String(e?.message ?? e);
  if (!(e instanceof Error) || !allowed.has(name)) violation(`${where}: threw ${name}: ${msg}`);
  if (ENGINE.test(msg)) violation(`${where}: engine error: ${name}: ${msg}`);
  if (!NAMED.test(msg)) violation(`${where}: message does not name the function: ${msg}`);
}
/** Bit-for-bit equality of two typed arrays, or a violation naming the first difference. */
export function same(got, want, what) {
  if (!got || got.length !== want.length) violation(`${what}: length ${got?.length} vs ${want.length}`);
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) violation(`${what}[${i}]: ${got[i]} vs ${want[i]} (not bit-identical)`);
}
/** Every promise's outcome, or a violation if any is still pending after ms. */
export async function settleAll(ps, what, ms = HANG_MS) {
  let timer;
  const hang = new Promise((_, reject) => { timer = setTimeout(() => reject(new ServeFuzzViolation(`${what}: a promise was still pending after ${ms} ms`)), ms); });
  try {
    return await Promise.race([Promise.allSettled(ps), hang]);
  } finally {
    clearTimeout(timer);
  }
}

export function makeServeTargets(r, backends) {
  const FAMILIES = { LSTM, GRU, RNN };
  function makeModel({ streamable = false } = {}) {
    const kind = r.pick(['LSTM', 'GRU', 'RNN']);
    const o = { inputSize: 1 + r.int(4), hiddenSize: 1 + r.int(6), seed: r.int(1000), backend: r.pick(backends) };
    if (r.chance(0.3)) o.numLayers = 2;
    if (!streamable && r.chance(0.2)) o.bidirectional = true;
    if (r.chance(0.3)) o.batchFirst = true;
    if (kind === 'LSTM' && r.chance(0.2) && o.hiddenSize > 1) o.projSize = 1 + r.int(o.hiddenSize - 1);
    if (o.backend === 'ts' && r.chance(0.3)) o.dtype = 'float64';
    return { desc: `${kind} ${JSON.stringify(o)}`, m: new FAMILIES[kind](o) };
  }
  const arrayOf = (m, n) => (m.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n));
  function randomRows(m, T, width) {
    const a = arrayOf(m, T * width);
    for (let i = 0; i < a.length; i++) a[i] = r.num(-1, 1);
    return a;
  }
  const detach = (a) => { if (a.buffer.byteLength) structuredClone(a.buffer, { transfer: [a.buffer] }); };

  /** A request input: valid (with its private copy for the oracle) or one of many hostile kinds. */
  function requestInput(m, width, maxT) {
    const T = 1 + r.int(maxT);
    const data = randomRows(m, T, width);
    const want = data.slice();
    if (!r.chance(0.2)) return { x: new Tensor(data, [T, width]), data, want, T, valid: true };
    const k = r.int(9);
    const hostile = [
      () => { const d = data.slice(); d[r.int(d.length)] = r.pick([NaN, Infinity, -Infinity]); return new Tensor(d, [T, width]); },
      () => ({ shape: [T, width + 1], data }),
      () => new Tensor(m.dtype === 'float64' ? Float32Array.from(data) : Float64Array.from(data), [T, width]),
      () => { const d = data.slice(); detach(d); return { shape: [T, width], data: d }; },
      () => ({ get shape() { throw new Error('shape getter'); }, data }),
      () => [[1, 2], [3]],
      () => r.pick([null, undefined, 'x', 3, {}, [], Symbol('s')]),
      () => ({ shape: [0, width], data: arrayOf(m, 0) }),
      () => ({ shape: new Proxy([T, width], { get(t, key) { if (key === '0') throw new Error('shape[0]'); return t[key]; } }), data }),
    ];
    return { x: hostile[k](), data, want, T, valid: false };
  }

  /** After the call: leave the input alone, change it, or detach it (results must not change). */
  function disturb(a) {
    const k = r.int(4);
    if (k === 1) a.fill(r.pick([NaN, 1e30, 0]));
    else if (k === 2) detach(a);
  }

  /** The model's own forward of one sequence (and initial states) under the full limit. */
  function oracle(m, want, T, h0, c0) {
    const I = m.inputSize, LD = m.numLayers * m.numDirections;
    const o = {};
    if (h0) o.h0 = new Tensor(h0, [LD, 1, m.outSize]);
    if (c0) o.c0 = new Tensor(c0, [LD, 1, m.hiddenSize]);
    return m.forward(new Tensor(want, m.batchFirst ? [1, T, I] : [T, 1, I]), o);
  }
  /** Run f with the element limit lowered to `limit` (or as is), restoring the fuzzer's limit after. */
  async function underLimit(limit, f) {
    const own = maxElements();
    if (limit) setMaxElements(limit);
    try {
      return await f();
    } finally {
      setMaxElements(own);
    }
  }

  // Pools are slow to start: one per dtype, kept for the whole run
  // (idle workers do not keep the process alive).
  const pools = new Map();
  function poolFor() {
    const dtype = r.pick(['float32', 'float64']);
    if (!pools.has(dtype)) {
      const m = new LSTM({ inputSize: 3, hiddenSize: 5, numLayers: 2, seed: 11, backend: 'ts', dtype });
      const pool = createTsWorkerPool(m, { workers: 2 });
      // Workers load the library before their first job (seconds on a loaded machine): a first
      // call that waits for that is not a hang, so the scenarios start on a warm pool.
      const warm = Promise.all([0, 1].map(() => pool.forwardAsync(new Tensor(new (dtype === 'float32' ? Float32Array : Float64Array)(3), [1, 1, 3]), {})));
      pools.set(dtype, { m, pool, warm });
    }
    return pools.get(dtype);
  }

  /** One batcher scenario on `runner` (a model or a pool) whose numbers are those of `m`. */
  async function batcherScenario(m, runner, opts, plan) {
    const b = createBatcher(runner, opts);
    const reqs = [];
    const LD = m.numLayers * m.numDirections;
    let closing = null;
    for (let i = 0; i < plan.n; i++) {
      if (plan.closeAt === i) closing = b.close(); // mid-flight: the rest are refused
      const q = requestInput(m, m.inputSize, plan.maxT);
      q.valid &&= !(q.T > opts.maxLength);
      const o = {};
      if (r.chance(0.25)) {
        const good = r.chance(0.9);
        q.hData = randomRows(m, LD, m.outSize);
        q.h0 = q.hData.slice();
        o.h0 = new Tensor(q.hData, good ? [LD, m.outSize] : [LD * m.outSize]);
        q.valid &&= good;
      }
      if (r.chance(0.15)) { q.ac = new AbortController(); o.signal = q.ac.signal; }
      const nested = q.valid && r.chance(0.1);
      q.p = b.run(nested ? Array.from({ length: q.T }, (_, t) => Array.from(q.data.subarray(t * m.inputSize, (t + 1) * m.inputSize))) : q.x, o);
      q.p.then(() => { q.done = true; }, () => { q.done = true; });
      reqs.push(q);
      disturb(q.data);
      if (q.hData) disturb(q.hData);
      if (q.ac && r.chance(0.5)) q.ac.abort();
    }
    const late = reqs.filter((q) => q.ac && !q.ac.signal.aborted);
    const timers = [];
    if (late.length) timers.push(setTimeout(() => { for (const q of late) q.ac.abort(); }, r.int(3)));
    if (plan.midLimit) timers.push(setTimeout(() => setMaxElements(plan.midLimit), 0));
    closing ??= r.chance(0.3) ? b.close() : null;
    try {
      const outcomes = await settleAll(reqs.map((q) => q.p), 'Batcher.run');
      // close(), early or late, resolves only once every request has settled.
      const [c] = await settleAll([(closing ?? b.close()).then(() => reqs.every((q) => q.done))], 'Batcher.close');
      if (c.status === 'rejected') violation(`close() rejected: ${c.reason}`);
      if (!c.value) violation('close() resolved while a request was still pending');
      return { reqs, outcomes };
    } finally {
      for (const t of timers) clearTimeout(t);
    }
  }

  function checkBatcherOutcomes(m, { reqs, outcomes }, plan) {
    outcomes.forEach((o, i) => {
      const q = reqs[i];
      if (o.status === 'rejected') {
        checkError(o.reason, `request ${i}`);
        const benign = ['QueueFullError', 'AbortError', 'ServeClosedError'].includes(o.reason.name) || plan.limit || plan.midLimit;
        if (q.valid && !benign) violation(`request ${i}: a valid request was rejected: ${o.reason.name}: ${o.reason.message}`);
        return;
      }
      if (!q.valid) violation(`request ${i}: a hostile request resolved`);
      const want = oracle(m, q.want, q.T, q.h0, null);
      same(o.value.output.data, want.output.data, `request ${i} output`);
      same(o.value.hN.data, want.hN.data, `request ${i} hN`);
    });
  }

  /** Under a lowered limit, each valid request must get exactly what it gets alone (same limit, same options). */
  async function checkAlone(m, runner, opts, plan, res) {
    for (const [i, q] of res.reqs.entries()) {
      const o = res.outcomes[i];
      if (!q.valid || (o.status === 'rejected' && o.reason.name !== 'RangeError')) continue;
      const solo = await underLimit(plan.limit, async () => {
        const b = createBatcher(runner, { ...opts, maxDelayMs: 0 });
        const h0 = q.h0 ? new Tensor(q.h0.slice(), [m.numLayers * m.numDirections, m.outSize]) : undefined;
        const [s] = await settleAll([b.run(new Tensor(q.want.slice(), [q.T, m.inputSize]), { h0 })], 'alone');
        await b.close();
        return s;
      });
      if (solo.status !== o.status) violation(`request ${i}: ${o.status} in a batch, ${solo.status} alone (${o.reason?.message ?? solo.reason?.message})`);
      if (o.status === 'rejected' && o.reason.message !== solo.reason.message) violation(`request ${i}: "${o.reason.message}" in a batch, "${solo.reason.message}" alone`);
    }
  }

  const T = [];
  T.push({
    name: 'serve: Batcher',
    make: () => {
      const { desc, m } = makeModel();
      const opts = { maxBatch: 1 + r.int(6), maxDelayMs: r.pick([0, 0, 1, 2]) };
      if (r.chance(0.2)) opts.maxQueue = 1 + r.int(6);
      if (r.chance(0.1)) opts.maxLength = 1 + r.int(6);
      const plan = { n: 1 + r.int(10), maxT: 1 + r.int(8), closeAt: r.chance(0.15) ? r.int(6) : -1 };
      // A lowered limit between one request's and a whole batch's size: batches fail, requests alone may not.
      const rowElems = Math.max(m.inputSize, 4 * m.hiddenSize, m.numDirections * m.outSize);
      if (r.chance(0.3)) plan.limit = rowElems * (1 + r.int(2 * plan.maxT));
      else if (r.chance(0.1)) plan.midLimit = rowElems * (1 + r.int(plan.maxT));
      return {
        desc: `${desc} ${JSON.stringify(opts)} ${JSON.stringify(plan)}`,
        call: async () => {
          const res = await underLimit(plan.limit, () => batcherScenario(m, m, opts, plan));
          if (plan.limit) await checkAlone(m, m, opts, plan, res);
          checkBatcherOutcomes(m, res, plan);
          return res;
        },
      };
    },
  });

  T.push({
    name: 'serve: Session',
    make: () => {
      const { desc, m } = makeModel({ streamable: true });
      const onBatcher = r.chance(0.5);
      const n = 1 + r.int(8);
      return {
        desc: `${desc} ${onBatcher ? 'on a batcher' : 'on the model'} ${n} steps`,
        call: async () => {
          const b = onBatcher ? createBatcher(m, { maxBatch: 1 + r.int(4), maxDelayMs: r.pick([0, 1]) }) : null;
          const s = createSession(b ?? m);
          const steps = [];
          for (let i = 0; i < n; i++) {
            const single = r.chance(0.4);
            const inp = single ? { ...requestInput(m, m.inputSize, 1) } : requestInput(m, m.inputSize, 3);
            let x = inp.x;
            if (single && inp.valid) x = r.chance(0.5) ? inp.data : Array.from(inp.data);
            let ac = null;
            if (r.chance(0.15)) ac = new AbortController();
            const p = s.step(x, ac ? { signal: ac.signal } : undefined);
            steps.push({ ...inp, single: single && inp.valid, p, ac });
            disturb(inp.data);
            if (ac && r.chance(0.5)) ac.abort();
          }
          const late = steps.filter((q) => q.ac && !q.ac.signal.aborted);
          if (late.length) setTimeout(() => { for (const q of late) q.ac.abort(); }, r.int(3));
          const outcomes = await settleAll(steps.map((q) => q.p), 'Session.step');
          if (b) await settleAll([b.close()], 'Batcher.close');
          // The successful steps, in order, are one sequence: their outputs are its forward.
          const ok = [];
          outcomes.forEach((o, i) => {
            const q = steps[i];
            if (o.status === 'rejected') {
              checkError(o.reason, `step ${i}`);
              if (q.valid && o.reason.name !== 'AbortError') violation(`step ${i}: a valid step was rejected: ${o.reason.message}`);
            } else {
              if (!q.valid) violation(`step ${i}: a hostile step resolved`);
              if (q.single !== (o.value.shape.length === 1)) violation(`step ${i}: output shape ${o.value.shape}`);
              ok.push({ q, y: o.value.data });
            }
          });
          if (ok.length) {
            const Tall = ok.reduce((t, { q }) => t + q.T, 0);
            const all = arrayOf(m, Tall * m.inputSize);
            let at = 0;
            for (const { q } of ok) { all.set(q.want, at); at += q.want.length; }
            const want = oracle(m, all, Tall, null, null);
            const got = arrayOf(m, want.output.data.length);
            at = 0;
            for (const { y } of ok) { got.set(y, at); at += y.length; }
            same(got, want.output.data, 'session outputs');
            same(s.state.h.data, want.hN.data, 'session state');
          }
          return outcomes;
        },
      };
    },
  });

  T.push({
    name: 'serve: TsWorkerPool',
    make: () => {
      const { m, pool, warm } = poolFor();
      const opts = { maxBatch: 1 + r.int(5), maxDelayMs: r.pick([0, 1]) };
      const plan = { n: 1 + r.int(8), maxT: 1 + r.int(6), closeAt: r.chance(0.1) ? r.int(5) : -1 };
      // Rows of 3 inputs, 5 outputs and 20 gate values: limits around them (the workers must enforce it).
      if (r.chance(0.3)) plan.limit = (3 + r.int(18)) * (1 + r.int(plan.maxT));
      return {
        desc: `pool ${m.dtype} ${JSON.stringify(opts)} ${JSON.stringify(plan)}`,
        call: async () => {
          await warm;
          const res = await underLimit(plan.limit, () => batcherScenario(m, pool, opts, plan));
          if (plan.limit) await checkAlone(m, pool, opts, plan, res);
          checkBatcherOutcomes(m, res, plan);
          if (r.chance(0.3)) {
            // The pool's own entry point: inputs disturbed right after the call change nothing.
            const x = randomRows(m, 6, 3), want = m.forward(new Tensor(x.slice(), [3, 2, 3]));
            const p = pool.forwardAsync(tensor(x, [3, 2, 3]));
            disturb(x);
            const [o] = await settleAll([p], 'TsWorkerPool.forwardAsync');
            if (o.status === 'rejected') violation(`pool.forwardAsync rejected a valid call: ${o.reason}`);
            same(o.value.output.data, want.output.data, 'pool output');
          }
          return res;
        },
      };
    },
  });
  return T;
}
