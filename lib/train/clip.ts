// Gradient clipping, in place on a gradients record (name -> Tensor), PyTorch's
// torch.nn.utils.clip_grad_norm_ and clip_grad_value_.
//
//   clipGradNorm: total = √(Σ g²) over every gradient; if total > maxNorm every gradient is
//                 scaled by maxNorm / (total + 1e-6). Returns total (before clipping), which is
//                 NaN or Infinity when a gradient is not finite (nothing is scaled then; the
//                 trainer's non-finite policy decides what happens).
//   clipGradValue: every element clamped to [-clipValue, clipValue].
//
// Each gradient value is read once: the record's entries are listed once, clipGradNorm computes
// the norm from a private copy of the values and writes the scaled copy back, and clipGradValue
// reads each element once before writing it. So a buffer that changes during the call (another
// thread writing a SharedArrayBuffer) cannot make the values scaled differ from those measured.
// The norm is computed in doubles and rescaled when the squares overflow, so finite gradients
// give a finite norm unless it exceeds the largest double (a RangeError then).

import { argRangeError, argTypeError, describe } from '../errors';
import { allocateUninit, checkTensorArg, Tensor, type FloatArray } from '../tensor';

/** The gradients' data arrays: the record's entries and each Tensor's data read once. */
function gradArrays(where: string, grads: unknown): FloatArray[] {
  if (grads === null || typeof grads !== 'object') throw argTypeError(where, 'grads', 'an object mapping names to gradient Tensors', grads);
  let entries: [string, unknown][];
  try {
    entries = Object.entries(grads);
  } catch (e) {
    throw argTypeError(where, 'grads', `an object whose entries can be read (reading them threw: ${(e as Error)?.message ?? e})`, undefined);
  }
  return entries.map(([k, t]) => {
    if (!(t instanceof Tensor)) throw argTypeError(where, `grads['${k}']`, 'a Tensor', t);
    let data: unknown;
    try {
      data = t.data;
    } catch (e) {
      throw argTypeError(where, `grads['${k}']`, `a Tensor (reading it threw: ${(e as Error)?.message ?? e})`, undefined);
    }
    // Its data against its shape: a buffer detached since the Tensor was made is refused.
    return checkTensorArg(where, `grads['${k}']`, t, data instanceof Float64Array ? 'float64' : 'float32').data;
  });
}

function positive(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw argTypeError(where, name, 'a positive number', v);
  if (!(v > 0) || !Number.isFinite(v)) throw argRangeError(where, name, 'a positive finite number', describe(v));
  return v;
}

/**
 * √(Σ v²) over the arrays, in doubles: NaN if a value is NaN, Infinity if one is infinite. When
 * the squares of finite values overflow, the sum is taken again scaled by the largest magnitude.
 */
function norm(where: string, arrays: FloatArray[]): number {
  let s = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  if (s !== Infinity) return Math.sqrt(s);
  let max = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]));
  if (max === Infinity) return Infinity; // a gradient is infinite
  let q = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) q += (a[i] / max) * (a[i] / max);
  const total = max * Math.sqrt(q);
  if (total === Infinity) throw argRangeError(where, 'grads', 'finite gradients whose global norm fits a double', `a norm above ${Number.MAX_VALUE}`);
  return total;
}

/** The global L2 norm of all gradients (a double). */
export function gradNorm(grads: Record<string, Tensor>): number {
  return norm('gradNorm', gradArrays('gradNorm', grads));
}

/**
 * Scale all gradients in place so their global L2 norm is at most maxNorm (torch's
 * clip_grad_norm_, coefficient maxNorm / (norm + 1e-6)); returns the norm before clipping.
 */
export function clipGradNorm(grads: Record<string, Tensor>, maxNorm: number): number {
  const where = 'clipGradNorm';
  const data = gradArrays(where, grads);
  const max = positive(where, 'maxNorm', maxNorm);
  // A private copy (same dtype): the values measured are the values scaled.
  const copies = data.map((a) => {
    const c = allocateUninit(a instanceof Float64Array ? 'float64' : 'float32', a.length, where, 'grads');
    c.set(a);
    return c;
  });
  const total = norm(where, copies);
  if (!Number.isFinite(total)) return total;
  const coef = max / (total + 1e-6);
  if (coef < 1) data.forEach((a, k) => { const c = copies[k]; for (let i = 0; i < a.length; i++) a[i] = c[i] * coef; });
  return total;
}

/** Clamp every gradient element in place to [-clipValue, clipValue] (torch's clip_grad_value_). */
export function clipGradValue(grads: Record<string, Tensor>, clipValue: number): void {
  const where = 'clipGradValue';
  const data = gradArrays(where, grads);
  const c = positive(where, 'clipValue', clipValue);
  for (const a of data) for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v > c) a[i] = c;
    else if (v < -c) a[i] = -c;
  }
}
