// Fuzz targets for the losses and gradient clipping (issue #18, items 9 and 10), run by the API
// fuzzer (test/helpers/fuzz-api.mjs, makeTargets). Inputs: NaN / ±Infinity and huge finite values
// (near the float32 and float64 limits), masks and class targets that answer differently at each
// read (Proxies), output and target buffers on a SharedArrayBuffer overwritten mid-call (from a
// mask Proxy's get trap, as another thread could), gradient records whose getters answer a
// different tensor at each read. Properties:
//
//   finite inputs give a finite loss and gradient (of the output's shape and dtype) or a named
//   RangeError; a non-finite input is refused; the result is computed from the values as they
//   were when read, once: equal to the loss of a clean copy of those values; clipping reads each
//   record entry once, returns a finite norm for finite gradients, and leaves the global norm
//   within maxNorm (clipGradNorm) or every element within ±clipValue (clipGradValue).
import {
  bceWithLogits, clipGradNorm, clipGradValue, crossEntropy, gradNorm, huberLoss, l1Loss, Linear, LSTM, mseLoss, Sequential, Tensor,
} from 'cellstate';

/** A property violated by a result: its name is not an allowed error class, so the fuzzer reports it. */
class LossPropertyError extends Error {}
function fail(msg) { throw new LossPropertyError(msg); }

const ELEMENTWISE = [mseLoss, l1Loss, huberLoss, bceWithLogits];
const HUGE = { float32: [3.4e38, -3.4e38, 3e38, -1e38, 1e30], float64: [1.7e308, -1.7e308, 1e300, -1e200, 1e154, 3e38] };

export function makeLossesTargets(r, backends) {
  const T = [];
  const add = (name, make) => T.push({ name, make });
  const allFinite = (a) => { for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false; return true; };
  const shapeOf = () => Array.from({ length: 1 + r.int(3) }, () => 1 + r.int(4));
  /** n values: moderate, some huge finite, a few non-finite; on a SharedArrayBuffer sometimes. */
  function values(n, dtype, { unit = false, nonFinite = 0.08, huge = 0.25 } = {}) {
    const C = dtype === 'float64' ? Float64Array : Float32Array;
    const a = r.chance(0.3) ? new C(new SharedArrayBuffer(Math.max(1, n) * C.BYTES_PER_ELEMENT), 0, n) : new C(n);
    const big = r.chance(huge);
    for (let i = 0; i < n; i++) {
      if (unit) a[i] = r.chance(0.3) ? r.pick([0, 1]) : r.num(0, 1);
      else a[i] = big && r.chance(0.5) ? r.pick(HUGE[dtype]) : r.num(-3, 3);
    }
    if (n > 0 && r.chance(nonFinite)) a[r.int(n)] = r.pick([NaN, Infinity, -Infinity]);
    return a;
  }
  const maskOf = (rows) => (r.chance(0.5) ? Uint8Array.from({ length: rows }, () => (r.chance(0.8) ? 1 : 0)) : Array.from({ length: rows }, () => (r.chance(0.8) ? 1 : 0)));
  /**
   * A Proxy over the array `arr` whose entries answer their value at the first read and later()
   * after; `reads` counts the reads per entry; onFirst(i) runs at each entry's first read.
   */
  const changing = (label, arr, reads, later, onFirst) => new Proxy(arr, {
    get(a, k) {
      if (typeof k !== 'string' || !/^\d+$/.test(k)) return a[k];
      const key = `${label}[${k}]`, n = (reads.get(key) ?? 0) + 1;
      reads.set(key, n);
      if (n > 1) return later();
      onFirst?.(Number(k));
      return a[k];
    },
  });
  const checkResult = (res, shape, dtype) => {
    if (!Number.isFinite(res.loss)) fail(`loss ${res.loss} from finite inputs`);
    if (!(res.grad instanceof Tensor) || res.grad.dtype !== dtype || res.grad.shape.join() !== shape.join()) fail(`grad ${res.grad} for an output ${dtype} [${shape}]`);
    if (!allFinite(res.grad.data)) fail('a non-finite gradient from finite inputs');
    if (!(Number.isInteger(res.count) && res.count >= 0)) fail(`count ${res.count}`);
  };

  /** One random loss call: fn, output, target (and the clean copies a reference call can use). */
  function lossCall() {
    const fn = r.pick([...ELEMENTWISE, crossEntropy]);
    const dtype = r.chance(0.5) ? 'float64' : 'float32';
    const shape = shapeOf();
    const n = shape.reduce((a, b) => a * b, 1), F = shape[shape.length - 1], rows = n / F;
    const out = new Tensor(values(n, dtype), shape);
    const target = fn === crossEntropy
      ? Array.from({ length: rows }, () => (r.chance(0.1) ? -100 : r.int(F)))
      : new Tensor(values(n, r.chance(0.8) ? dtype : 'float32', { unit: fn === bceWithLogits }), shape);
    const opts = {};
    if (r.chance(0.4)) opts.mask = maskOf(rows);
    if (fn === huberLoss && r.chance(0.5)) opts.delta = r.pick([0.5, 1, 3e38, 1e300]);
    return { fn, dtype, shape, rows, out, target, opts };
  }
  const finiteInputs = (c) => allFinite(c.out.data) && (c.fn === crossEntropy || allFinite(c.target.data));
  const copyOf = (c) => ({ out: new Tensor(c.out.data.slice(), c.shape), target: c.fn === crossEntropy ? c.target.slice() : new Tensor(c.target.data.slice(), c.shape) });

  add('losses: extreme and non-finite values', () => {
    const c = lossCall();
    const finite = finiteInputs(c);
    return {
      desc: `${c.fn.name} ${c.dtype} [${c.shape}] ${finite ? 'finite' : 'non-finite'} opts {${Object.keys(c.opts)}}`,
      call: () => c.fn(c.out, c.target, c.opts),
      check: (res) => {
        if (!finite) fail('a non-finite output or target was accepted');
        checkResult(res, c.shape, c.dtype);
      },
    };
  });

  add('losses: values that change while the loss runs', () => {
    const c = lossCall();
    const clean = copyOf(c);
    const firstMask = c.opts.mask ? Array.from(c.opts.mask) : Array.from({ length: c.rows }, () => 1);
    // The mask (always given here) and, for crossEntropy, the targets answer differently after
    // their first read; the first read of the mask also overwrites the caller's buffers, as
    // another thread could.
    const reads = new Map();
    const scribble = (i) => {
      if (i !== 0) return;
      c.out.data.fill(r.pick([NaN, Infinity, 1e38, 0]));
      if (c.fn !== crossEntropy) c.target.data.fill(r.pick([NaN, 7, -1e30]));
    };
    const opts = { ...c.opts, mask: changing('mask', firstMask.slice(), reads, () => r.pick([0, 1, 2, NaN, -1]), scribble) };
    const target = c.fn === crossEntropy ? changing('target', c.target.slice(), reads, () => r.pick([c.shape[c.shape.length - 1], -1, NaN, 0.5, 0])) : c.target;
    const finite = finiteInputs(clean);
    return {
      desc: `${c.fn.name} ${c.dtype} [${c.shape}] changing mask${c.fn === crossEntropy ? ' and targets' : ''}`,
      call: () => c.fn(c.out, target, opts),
      check: (res) => {
        for (const [entry, n] of reads) if (n !== 1) fail(`${entry} was read ${n} times`);
        if (!finite) fail('a non-finite output or target was accepted');
        checkResult(res, c.shape, c.dtype);
        const ref = c.fn(clean.out, clean.target, { ...c.opts, mask: firstMask });
        if (ref.loss !== res.loss || ref.count !== res.count) fail(`loss ${res.loss} (count ${res.count}) differs from the values read (${ref.loss}, count ${ref.count})`);
        for (let i = 0; i < ref.grad.data.length; i++) if (!Object.is(ref.grad.data[i], res.grad.data[i])) fail(`grad[${i}] ${res.grad.data[i]} differs from the values read (${ref.grad.data[i]})`);
      },
    };
  });

  add('clipping: extreme values and re-reading records', () => {
    const dtype = r.chance(0.5) ? 'float64' : 'float32';
    const fn = r.pick([clipGradNorm, clipGradValue, gradNorm]);
    const names = ['a', 'b', 'c'].slice(0, 1 + r.int(3));
    const tensors = Object.fromEntries(names.map((k) => { const s = shapeOf(); return [k, new Tensor(values(s.reduce((a, b) => a * b, 1), dtype, { huge: 0.4 }), s)]; }));
    const reads = {};
    const grads = {};
    for (const k of names) {
      // A getter answering the real tensor at the first read and a decoy after.
      if (r.chance(0.4)) Object.defineProperty(grads, k, { enumerable: true, get: () => ((reads[k] = (reads[k] ?? 0) + 1) === 1 ? tensors[k] : new Tensor(new Float32Array(1).fill(1e30), [1])) });
      else grads[k] = tensors[k];
    }
    const limit = r.pick([1e-3, 1, 5, 1e30]);
    const before = Object.values(tensors).map((t) => Array.from(t.data));
    const finite = before.every(allFinite);
    return {
      desc: `${fn.name} ${dtype} ${names.length} tensors limit ${limit}`,
      call: () => fn(grads, limit),
      check: (res) => {
        for (const [k, n] of Object.entries(reads)) if (n !== 1) fail(`grads.${k} read ${n} times`);
        const after = Object.values(tensors).map((t) => Array.from(t.data));
        if (fn === clipGradValue) {
          const c = dtype === 'float32' ? Math.fround(limit) : limit; // the clamp is stored in the gradient's type
          for (const a of after) for (const v of a) if (Math.abs(v) > c) fail(`|${v}| > clipValue ${limit} after clipGradValue`);
          return;
        }
        if (!finite) return; // NaN / Infinity norm, nothing scaled: the trainer's policy decides
        if (!Number.isFinite(res)) fail(`norm ${res} from finite gradients`);
        if (fn === clipGradNorm && limit / (res + 1e-6) < 1) {
          const now = gradNorm(tensors);
          if (!(now <= limit * (1 + 1e-5))) fail(`global norm ${now} after clipGradNorm to ${limit} (was ${res})`);
        } else if (after.some((a, i) => a.some((v, j) => !Object.is(v, before[i][j])))) fail('gradients changed without clipping');
      },
    };
  });

  add('losses: forwardTrain -> loss -> backward -> clip', () => {
    const backend = r.pick(backends);
    const m = new Sequential([new LSTM({ inputSize: 2, hiddenSize: 3, seed: r.int(99), backend }), new Linear({ inFeatures: 3, outFeatures: 2, seed: 2 })]);
    const T = 1 + r.int(4), B = 1 + r.int(3);
    const x = new Tensor(values(T * B * 2, 'float32', { nonFinite: 0, huge: 0 }), [T, B, 2]);
    const fn = r.pick([...ELEMENTWISE, crossEntropy]);
    const shape = [T, B, 2];
    // Moderate targets: a huge finite dOutput may overflow inside backward, which is the layers' matter.
    const target = fn === crossEntropy ? Array.from({ length: T * B }, () => r.int(2)) : new Tensor(values(T * B * 2, 'float32', { unit: fn === bceWithLogits, huge: 0 }), shape);
    const finite = fn === crossEntropy || allFinite(target.data);
    return {
      desc: `${backend} ${fn.name} [${shape}]`,
      call: () => {
        const f = m.forwardTrain(x);
        const L = fn(f.output, target);
        const { grads } = m.backward(f.cache, { dOutput: L.grad });
        return { L, norm: clipGradNorm(grads, 1), grads };
      },
      check: ({ L, norm, grads }) => {
        if (!finite) fail('a non-finite target was accepted');
        checkResult(L, shape, 'float32');
        if (!Number.isFinite(norm)) fail(`gradient norm ${norm}`);
        if (!(gradNorm(grads) <= 1 + 1e-5)) fail(`norm ${gradNorm(grads)} after clipping to 1`);
      },
    };
  });
  return T;
}
