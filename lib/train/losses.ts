// Losses with their gradients, PyTorch's definitions with reduction='mean':
//
//   mseLoss            mean (y - t)²                                   torch.nn.MSELoss
//   l1Loss             mean |y - t|          (gradient sign(y - t), 0 at 0)   torch.nn.L1Loss
//   huberLoss          mean ½d² if |d| < δ else δ(|d| - ½δ)            torch.nn.HuberLoss
//   crossEntropy       mean over rows of logsumexp(z) - z[target]      torch.nn.CrossEntropyLoss
//   bceWithLogits      mean max(z,0) - z·t + log(1 + e^{-|z|})          torch.nn.BCEWithLogitsLoss
//
// Every loss returns { loss, grad, count }: the scalar loss (a JS double), ∂loss/∂output in the
// output's dtype and shape, and how many terms the mean is over. Masking for padded steps: `mask`
// has one entry per row (the output's leading dims flattened; for [T, B, F] outputs, row t*B + b)
// and rows with mask 0 take no part in the loss, the mean or the gradient. crossEntropy also
// skips rows whose target is `ignoreIndex` (default -100). When no row counts, the loss is 0 and
// the gradient 0 (PyTorch gives NaN there; a fully padded chunk is normal in truncated BPTT).
//
// Inputs are read once: every value of the output, target and mask is copied into a private
// buffer and checked there, so an array that changes while the loss runs (a getter, a Proxy, a
// SharedArrayBuffer written by another thread) cannot make the values used differ from the values
// checked. The output's copy is the gradient's buffer: each element is read, then overwritten by
// its gradient (no buffer beyond the gradient and the target's copy). Outputs, logits and targets must be finite (a RangeError
// naming the argument otherwise). Everything is computed in doubles, so finite inputs give a
// finite loss and gradient; where the true result does not fit (a float32 gradient above 3.4e38,
// e.g. mseLoss of 3e38 against -3e38; a loss above 1.8e308 from float64 inputs) the loss throws a
// RangeError naming the output and the overflow instead of returning Infinity. Stability:
// log-sum-exp subtracts the row maximum; the logistic terms are written so that no exp has a
// positive argument.

import { argRangeError, argTypeError, codedRangeError, describe, formatShape, shapeError } from '../errors';
import { readOptions } from '../nn/options';
import { checkFinite } from '../nn/sequence';
import { allocateUninit, checkTensorArg, Tensor, type DType, type FloatArray } from '../tensor';

/** What every loss returns (and what a custom LossFn must). */
export interface LossResult {
  /** The mean loss over the counted terms (0 when none counts). */
  loss: number;
  /** ∂loss/∂output, the output's shape and dtype. */
  grad: Tensor;
  /** How many terms the mean is over. */
  count: number;
}

/** Masking of padded rows, common to every loss. */
export interface MaskOption {
  /**
   * One entry per row (the output's leading dims flattened; row t*B + b of a [T, B, F] output);
   * rows with 0 take no part in the loss, the mean or the gradient. Default: every row counts.
   */
  mask?: ArrayLike<number> | null;
}

interface Values {
  shape: readonly number[];
  dtype: DType;
  values: FloatArray; // a private copy in the tensor's dtype, every value finite
}

/** A Tensor argument's values, read once into a private copy and checked finite. */
function readTensor(where: string, arg: string, v: unknown, expected: string): Values {
  if (!(v instanceof Tensor)) throw argTypeError(where, arg, expected, v);
  let data: unknown;
  try {
    data = v.data;
  } catch (e) {
    throw argTypeError(where, arg, `a Tensor (reading it threw: ${(e as Error)?.message ?? e})`, undefined);
  }
  const dtype: DType = data instanceof Float64Array ? 'float64' : 'float32';
  const t = checkTensorArg(where, arg, v, dtype);
  const values = allocateUninit(dtype, t.data.length, where, arg);
  values.set(t.data);
  checkFinite(where, arg, values);
  return { shape: t.shape, dtype, values };
}

/** The output (or logits): rank >= 1; rows are its leading dims flattened, F its last dim. */
function readOutput(where: string, arg: string, y: unknown): Values & { rows: number; F: number } {
  const o = readTensor(where, arg, y, 'a Tensor');
  if (o.shape.length < 1) throw shapeError(where, arg, 'of rank >= 1', o.shape);
  const F = o.shape[o.shape.length - 1];
  return { ...o, rows: F === 0 ? 0 : o.values.length / F, F };
}

/**
 * A private copy of an array or typed array of `n` entries (one per row): its length and every
 * entry read once; a getter or Proxy that throws is a TypeError naming the argument.
 */
function readList(where: string, arg: string, value: unknown, n: number, expected: string): unknown[] {
  const ok = Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
  if (!ok) throw argTypeError(where, arg, expected, value);
  const a = value as ArrayLike<unknown>;
  let len: unknown;
  try {
    len = a.length;
    if (len === n) return Array.from({ length: n }, (_, i) => a[i]);
  } catch (e) {
    throw argTypeError(where, arg, `${expected} that can be read (reading it threw: ${(e as Error)?.message ?? e})`, undefined);
  }
  throw argRangeError(where, arg, expected, `${describe(len)} entries`);
}

/** The mask as 0/1 bytes (null: every row counts). */
function readMask(where: string, mask: unknown, rows: number): Uint8Array | null {
  if (mask === undefined || mask === null) return null;
  const m = readList(where, 'mask', mask, rows, `${rows} entries (one 0 or 1 per row of the output)`);
  const out = new Uint8Array(rows);
  m.forEach((v, i) => {
    if (v !== 0 && v !== 1) throw argRangeError(where, `mask[${i}]`, '0 or 1', describe(v));
    out[i] = v;
  });
  return out;
}

/** The overflow error: finite inputs whose loss or gradient does not fit its type. */
function overflow(where: string, arg: string, what: string): RangeError {
  return codedRangeError('CELLSTATE_OVERFLOW', where, arg, 'values whose loss and gradient are finite', what);
}

/** Shared driver of the elementwise losses: term(y, t) -> [loss term, its derivative] per element. */
function elementwise(where: string, arg: string, y: unknown, target: unknown, mask: unknown,
  term: (y: number, t: number) => [number, number], checkTarget?: (t: FloatArray) => void): LossResult {
  const { shape, dtype, values: grad, rows, F } = readOutput(where, arg, y); // the output's copy becomes the gradient
  const t = readTensor(where, 'target', target, `a Tensor of shape ${formatShape(shape)}`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw shapeError(where, 'target', `${formatShape(shape)} (the ${arg}'s)`, t.shape);
  checkTarget?.(t.values);
  const m = readMask(where, mask, rows);
  let valid = 0;
  for (let r = 0; r < rows; r++) if (!m || m[r]) valid++;
  const count = valid * F;
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    if (m && !m[r]) { grad.fill(0, r * F, (r + 1) * F); continue; }
    for (let j = r * F; j < (r + 1) * F; j++) {
      const [l, dl] = term(grad[j], t.values[j]);
      loss += l / count; // over the count term by term: a mean of finite terms never overflows
      grad[j] = dl / count;
      if (grad[j] - grad[j] !== 0) throw overflow(where, arg, `a gradient of ${dl / count} at flat index ${j}, beyond the ${dtype} range (scale the values, or use float64)`);
    }
  }
  if (!Number.isFinite(loss)) throw overflow(where, arg, 'a loss term beyond the largest double');
  return { loss, grad: new Tensor(grad, shape), count };
}

/** Mean squared error, mean (y - t)² (torch.nn.MSELoss); output and target of one shape. */
export function mseLoss(output: Tensor, target: Tensor, options?: MaskOption): LossResult {
  const o = readOptions('mseLoss', 'options', options, ['mask']);
  return elementwise('mseLoss', 'output', output, target, o.mask, (y, t) => [(y - t) * (y - t), 2 * (y - t)]);
}

/** Mean absolute error, mean |y - t| (torch.nn.L1Loss; gradient 0 at y = t). */
export function l1Loss(output: Tensor, target: Tensor, options?: MaskOption): LossResult {
  const o = readOptions('l1Loss', 'options', options, ['mask']);
  return elementwise('l1Loss', 'output', output, target, o.mask, (y, t) => [Math.abs(y - t), y > t ? 1 : y < t ? -1 : 0]);
}

/**
 * Huber loss (torch.nn.HuberLoss): ½d² where |d| < delta, else delta·(|d| - ½delta), d = y - t.
 * `options.delta` defaults to 1.
 */
export function huberLoss(output: Tensor, target: Tensor, options?: MaskOption & { delta?: number }): LossResult {
  const where = 'huberLoss';
  const o = readOptions(where, 'options', options, ['mask', 'delta']);
  const delta = o.delta ?? 1;
  if (typeof delta !== 'number' || !(delta > 0) || !Number.isFinite(delta)) throw argRangeError(where, 'delta', 'a positive finite number', describe(delta));
  return elementwise(where, 'output', output, target, o.mask, (y, t) => {
    const d = y - t, a = Math.abs(d);
    return a < delta ? [0.5 * d * d, d] : [delta * (a - 0.5 * delta), delta * Math.sign(d)];
  });
}

/** crossEntropy's options: the mask, and a class id to ignore. */
export interface CrossEntropyOptions extends MaskOption {
  /**
   * Rows whose target is this class id do not count, as PyTorch's ignore_index.
   * @default -100
   */
  ignoreIndex?: number;
}

/** logits [..., C], target: one class index per row (an array, a typed array, or a Tensor of integer values). */
export function crossEntropy(logits: Tensor, target: ArrayLike<number> | Tensor, options?: CrossEntropyOptions): LossResult {
  const where = 'crossEntropy';
  const o = readOptions(where, 'options', options, ['mask', 'ignoreIndex']);
  const { shape, values: z, rows, F: C } = readOutput(where, 'logits', logits); // z becomes the gradient
  const ignore = o.ignoreIndex === undefined ? -100 : o.ignoreIndex;
  if (typeof ignore !== 'number' || !Number.isInteger(ignore)) throw argTypeError(where, 'ignoreIndex', 'an integer', ignore);
  let data: unknown = target;
  if (target instanceof Tensor) {
    try {
      data = target.data;
    } catch (e) {
      throw argTypeError(where, 'target', `a Tensor (reading it threw: ${(e as Error)?.message ?? e})`, undefined);
    }
  }
  const t = readList(where, 'target', data, rows, `${rows} class indices (integers, one per row of the logits: an array, typed array or Tensor)`);
  const m = readMask(where, o.mask, rows);
  // The class of each counted row, -1 for rows that take no part (masked or ignoreIndex).
  const cls = new Int32Array(rows).fill(-1);
  let count = 0;
  t.forEach((k, r) => {
    if ((m && !m[r]) || k === ignore) return;
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k >= C) throw argRangeError(where, `target[${r}]`, `a class index in [0, ${C - 1}] or ignoreIndex (${ignore})`, describe(k));
    cls[r] = k;
    count++;
  });
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * C;
    if (cls[r] < 0) { z.fill(0, base, base + C); continue; }
    let mx = -Infinity;
    for (let j = 0; j < C; j++) if (z[base + j] > mx) mx = z[base + j];
    let s = 0;
    for (let j = 0; j < C; j++) s += Math.exp(z[base + j] - mx);
    const lse = mx + Math.log(s);
    loss += (lse - z[base + cls[r]]) / count;
    // ∂/∂z_j = softmax_j - [j = target], over the mean's count (each in [-1, 1]: never overflows),
    // written over the row's logits once they are read.
    for (let j = 0; j < C; j++) z[base + j] = Math.exp(z[base + j] - lse) / count;
    z[base + cls[r]] -= 1 / count;
  }
  // A row's term is at most its spread max - min (+ log C): finite for float32 logits, beyond the
  // largest double for float64 logits spread wider than that.
  if (!Number.isFinite(loss)) throw overflow(where, 'logits', 'a loss term beyond the largest double');
  return { loss, grad: new Tensor(z, shape), count };
}

/** logits and targets (probabilities in [0, 1]) of the same shape. */
export function bceWithLogits(logits: Tensor, target: Tensor, options?: MaskOption): LossResult {
  const where = 'bceWithLogits';
  const o = readOptions(where, 'options', options, ['mask']);
  const inUnit = (t: FloatArray) => {
    for (let i = 0; i < t.length; i++) if (!(t[i] >= 0 && t[i] <= 1)) throw argRangeError(where, 'target', 'values in [0, 1]', `${describe(t[i])} at flat index ${i}`);
  };
  return elementwise(where, 'logits', logits, target, o.mask, (z, y) => {
    const loss = Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
    const s = z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
    return [loss, s - y];
  }, inUnit);
}
