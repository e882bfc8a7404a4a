// Gradient clipping, in place on a gradients record (name -> Tensor), PyTorch's
// torch.nn.utils.clip_grad_norm_ and clip_grad_value_.
//
//   clipGradNorm: total = √(Σ g²) over every gradient; if total > maxNorm every gradient is
//                 scaled by maxNorm / (total + 1e-6). Returns total (before clipping), which is
//                 NaN or Infinity when a gradient is not finite (nothing is scaled then; the
//                 trainer's non-finite policy decides what happens).
//   clipGradValue: every element clamped to [-clipValue, clipValue].

import { argRangeError, argTypeError, describe } from '../errors';
import { Tensor } from '../tensor';

function tensors(where: string, grads: unknown): Tensor[] {
  if (grads === null || typeof grads !== 'object') throw argTypeError(where, 'grads', 'an object mapping names to gradient Tensors', grads);
  let entries: [string, unknown][];
  try {
    entries = Object.entries(grads);
  } catch (e) {
    throw argTypeError(where, 'grads', `an object whose entries can be read (reading them threw: ${(e as Error)?.message ?? e})`, undefined);
  }
  return entries.map(([k, t]) => {
    if (!(t instanceof Tensor)) throw argTypeError(where, `grads['${k}']`, 'a Tensor', t);
    return t;
  });
}

function positive(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw argTypeError(where, name, 'a positive number', v);
  if (!(v > 0) || !Number.isFinite(v)) throw argRangeError(where, name, 'a positive finite number', describe(v));
  return v;
}

/** The global L2 norm of all gradients (a double). */
export function gradNorm(grads: Record<string, Tensor>): number {
  let s = 0;
  for (const t of tensors('gradNorm', grads)) for (let i = 0; i < t.data.length; i++) s += t.data[i] * t.data[i];
  return Math.sqrt(s);
}

export function clipGradNorm(grads: Record<string, Tensor>, maxNorm: number): number {
  const where = 'clipGradNorm';
  const ts = tensors(where, grads);
  const max = positive(where, 'maxNorm', maxNorm);
  const total = gradNorm(grads);
  if (!Number.isFinite(total)) return total;
  const coef = max / (total + 1e-6);
  if (coef < 1) for (const t of ts) for (let i = 0; i < t.data.length; i++) t.data[i] *= coef;
  return total;
}

export function clipGradValue(grads: Record<string, Tensor>, clipValue: number): void {
  const where = 'clipGradValue';
  const ts = tensors(where, grads);
  const c = positive(where, 'clipValue', clipValue);
  for (const t of ts) for (let i = 0; i < t.data.length; i++) {
    const v = t.data[i];
    if (v > c) t.data[i] = c;
    else if (v < -c) t.data[i] = -c;
  }
}
