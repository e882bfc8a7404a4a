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
// Sums run in doubles. Stability: log-sum-exp subtracts the row maximum; the logistic terms are
// written so that no exp has a positive argument.

import { argRangeError, argTypeError, describe, formatShape, shapeError } from '../errors';
import { allocate, checkTensorArg, Tensor, type FloatArray } from '../tensor';
import { readOptions } from '../nn/options';

export interface LossResult {
  loss: number;
  grad: Tensor;
  count: number;
}

export interface MaskOption {
  mask?: ArrayLike<number> | null;
}

function output(where: string, y: unknown): { shape: readonly number[]; data: FloatArray; rows: number; F: number } {
  if (!(y instanceof Tensor)) throw argTypeError(where, 'output', 'a Tensor', y);
  const { shape, data } = checkTensorArg(where, 'output', y, y.dtype);
  if (shape.length < 1) throw shapeError(where, 'output', 'of rank >= 1', shape);
  const F = shape[shape.length - 1];
  return { shape, data, rows: F === 0 ? 0 : data.length / F, F };
}

function readMask(where: string, mask: unknown, rows: number): ArrayLike<number> | null {
  if (mask === undefined || mask === null) return null;
  const ok = Array.isArray(mask) || (ArrayBuffer.isView(mask) && !(mask instanceof DataView));
  if (!ok) throw argTypeError(where, 'mask', `an array of ${rows} weights (one per row)`, mask);
  const m = mask as ArrayLike<number>;
  if (m.length !== rows) throw argRangeError(where, 'mask', `${rows} entries (one per row of the output)`, `${m.length}`);
  for (let i = 0; i < rows; i++) {
    if (m[i] !== 0 && m[i] !== 1) throw argRangeError(where, `mask[${i}]`, '0 or 1', describe(m[i]));
  }
  return m;
}

function sameShapeTarget(where: string, target: unknown, shape: readonly number[]): FloatArray {
  if (!(target instanceof Tensor)) throw argTypeError(where, 'target', `a Tensor of shape ${formatShape(shape)}`, target);
  const t = checkTensorArg(where, 'target', target, target.dtype);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw shapeError(where, 'target', `${formatShape(shape)} (the output's)`, t.shape);
  return t.data;
}

/** Shared driver of the elementwise losses: term(d) and its derivative per element. */
function elementwise(where: string, y: unknown, target: unknown, options: unknown, extraKeys: string[],
  term: (y: number, t: number) => [number, number]): LossResult {
  const o = readOptions(where, 'options', options, ['mask', ...extraKeys]);
  const { shape, data, rows, F } = output(where, y);
  const t = sameShapeTarget(where, target, shape);
  const mask = readMask(where, o.mask, rows);
  const grad = allocate((y as Tensor).dtype, data.length);
  let valid = 0;
  for (let r = 0; r < rows; r++) if (!mask || mask[r]) valid++;
  const count = valid * F;
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    if (mask && !mask[r]) continue;
    for (let j = r * F; j < (r + 1) * F; j++) {
      const [l, dl] = term(data[j], t[j]);
      sum += l;
      grad[j] = dl / count;
    }
  }
  return { loss: count ? sum / count : 0, grad: new Tensor(grad, shape), count };
}

export function mseLoss(output: Tensor, target: Tensor, options?: MaskOption): LossResult {
  return elementwise('mseLoss', output, target, options, [], (y, t) => [(y - t) * (y - t), 2 * (y - t)]);
}

export function l1Loss(output: Tensor, target: Tensor, options?: MaskOption): LossResult {
  return elementwise('l1Loss', output, target, options, [], (y, t) => [Math.abs(y - t), y > t ? 1 : y < t ? -1 : 0]);
}

export function huberLoss(output: Tensor, target: Tensor, options?: MaskOption & { delta?: number }): LossResult {
  const where = 'huberLoss';
  // One read of the caller's options (readOptions guards getters); elementwise reads this snapshot.
  const o = readOptions(where, 'options', options, ['mask', 'delta']);
  const delta = o.delta ?? 1;
  if (typeof delta !== 'number' || !(delta > 0) || !Number.isFinite(delta)) throw argRangeError(where, 'delta', 'a positive finite number', describe(delta));
  return elementwise(where, output, target, o, ['delta'], (y, t) => {
    const d = y - t, a = Math.abs(d);
    return a < delta ? [0.5 * d * d, d] : [delta * (a - 0.5 * delta), delta * Math.sign(d)];
  });
}

/** Integer class targets, one per row: an array, a typed array, or a Tensor of integer values. */
function classTargets(where: string, target: unknown, rows: number): ArrayLike<number> {
  const data: unknown = target instanceof Tensor ? target.data : target;
  const ok = Array.isArray(data) || (ArrayBuffer.isView(data) && !(data instanceof DataView));
  if (!ok) throw argTypeError(where, 'target', `${rows} integer class indices (an array, typed array or Tensor)`, target);
  const t = data as ArrayLike<number>;
  if (t.length !== rows) throw argRangeError(where, 'target', `${rows} class indices (one per row of the logits)`, `${t.length}`);
  return t;
}

export interface CrossEntropyOptions extends MaskOption {
  ignoreIndex?: number; // default -100, as PyTorch
}

/** logits [..., C], target: one class index per row. */
export function crossEntropy(logits: Tensor, target: ArrayLike<number> | Tensor, options?: CrossEntropyOptions): LossResult {
  const where = 'crossEntropy';
  const o = readOptions(where, 'options', options, ['mask', 'ignoreIndex']);
  const { shape, data, rows, F: C } = output(where, logits);
  const t = classTargets(where, target, rows);
  const mask = readMask(where, o.mask, rows);
  const ignore = o.ignoreIndex === undefined ? -100 : o.ignoreIndex;
  if (typeof ignore !== 'number' || !Number.isInteger(ignore)) throw argTypeError(where, 'ignoreIndex', 'an integer', ignore);
  const grad = allocate(logits.dtype, data.length);
  const use = new Uint8Array(rows);
  let count = 0;
  for (let r = 0; r < rows; r++) {
    if ((mask && !mask[r]) || t[r] === ignore) continue;
    const k = t[r];
    if (!Number.isInteger(k) || k < 0 || k >= C) throw argRangeError(where, `target[${r}]`, `a class index in [0, ${C - 1}] or ignoreIndex (${ignore})`, describe(k));
    use[r] = 1;
    count++;
  }
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    if (!use[r]) continue;
    const base = r * C;
    let m = -Infinity;
    for (let j = 0; j < C; j++) if (data[base + j] > m) m = data[base + j];
    let z = 0;
    for (let j = 0; j < C; j++) z += Math.exp(data[base + j] - m);
    const lse = m + Math.log(z);
    sum += lse - data[base + t[r]];
    // ∂/∂z_j = softmax_j - [j = target], over the mean's count.
    for (let j = 0; j < C; j++) grad[base + j] = Math.exp(data[base + j] - lse) / count;
    grad[base + t[r]] -= 1 / count;
  }
  return { loss: count ? sum / count : 0, grad: new Tensor(grad, shape), count };
}

/** logits and targets (probabilities in [0, 1]) of the same shape. */
export function bceWithLogits(logits: Tensor, target: Tensor, options?: MaskOption): LossResult {
  const where = 'bceWithLogits';
  const t = (target instanceof Tensor) ? target.data : null;
  if (t) for (let i = 0; i < t.length; i++) if (!(t[i] >= 0 && t[i] <= 1)) throw argRangeError(where, 'target', 'values in [0, 1]', `${describe(t[i])} at flat index ${i}`);
  return elementwise(where, logits, target, options, [], (z, y) => {
    const loss = Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
    const s = z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
    return [loss, s - y];
  });
}
