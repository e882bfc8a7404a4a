// Validation and layout of the sequence arguments every recurrent layer takes: the input x, the
// initial states, variable lengths and upstream gradients. Shared so LSTM, GRU and RNN check them
// the same way and say the same things.

import { argRangeError, argTypeError, codedRangeError, describe, formatShape, shapeError } from '../errors';
import { loadedAddon } from '../backend/native';
import { checkTensorArg, type DType, type FloatArray } from '../tensor';

export interface SeqShape {
  T: number;
  B: number;
  rowT: number; // row index r(t, b) = t*rowT + b*rowB (lib/backend/types.ts)
  rowB: number;
}

/** Check x: rank 3, [T, B, inputSize] (or [B, T, inputSize] batch-first), finite values. */
export function checkInput(where: string, x: unknown, inputSize: number, batchFirst: boolean, dtype: DType): { data: FloatArray; seq: SeqShape } {
  const { shape, data } = checkTensorArg(where, 'x', x, dtype);
  const want = batchFirst ? `[B, T, ${inputSize}] (batchFirst)` : `[T, B, ${inputSize}]`;
  if (shape.length !== 3) throw shapeError(where, 'x', `of rank 3, ${want}`, shape);
  if (shape[2] !== inputSize) throw shapeError(where, 'x', want, shape);
  const [T, B] = batchFirst ? [shape[1], shape[0]] : [shape[0], shape[1]];
  if (T < 1 || B < 1) throw shapeError(where, 'x', `${want} with T >= 1 and B >= 1`, shape);
  checkFinite(where, 'x', data);
  return { data, seq: batchFirst ? { T, B, rowT: 1, rowB: T } : { T, B, rowT: B, rowB: 1 } };
}

/** Check an optional state tensor of exact shape `expected`; returns null when absent. */
export function checkState(where: string, arg: string, v: unknown, expected: readonly number[], dims: string, dtype: DType): FloatArray | null {
  if (v === undefined || v === null) return null;
  const { shape, data } = checkTensorArg(where, arg, v, dtype);
  if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
    throw shapeError(where, arg, `${formatShape(expected)} (${dims})`, shape);
  }
  checkFinite(where, arg, data);
  return data;
}

/** Check `lengths`: B integers in [1, T], as an Int32Array (a copy; never the caller's array). */
export function checkLengths(where: string, v: unknown, T: number, B: number): Int32Array | null {
  if (v === undefined || v === null) return null;
  const isTyped = ArrayBuffer.isView(v) && !(v instanceof DataView);
  if (!Array.isArray(v) && !isTyped) throw argTypeError(where, 'lengths', `an array of ${B} integers`, v);
  const arr = v as ArrayLike<unknown>;
  if (arr.length !== B) throw argRangeError(where, 'lengths', `${B} entries (one per batch entry)`, `${arr.length}`);
  const out = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const n = arr[b];
    if (typeof n !== 'number' && typeof n !== 'bigint') throw argTypeError(where, `lengths[${b}]`, 'an integer', n);
    const len = Number(n);
    if (!Number.isInteger(len) || len < 1 || len > T) {
      throw argRangeError(where, `lengths[${b}]`, `an integer in [1, ${T}] (T = ${T})`, describe(n));
    }
    out[b] = len;
  }
  return out;
}

/** Check an optional upstream gradient of exact shape `expected`. */
export function checkGrad(where: string, arg: string, v: unknown, expected: readonly number[], dtype: DType): FloatArray | null {
  return checkState(where, arg, v, expected, 'the shape of the forward result', dtype);
}

/** Large float32 inputs are scanned by the addon when it is loaded (~30x faster than this loop). */
const NATIVE_SCAN_MIN = 4096;

export function checkFinite(where: string, arg: string, data: FloatArray): void {
  const addon = data instanceof Float32Array && data.length >= NATIVE_SCAN_MIN ? loadedAddon() : null;
  const i = addon ? addon.firstNonFinite(data as Float32Array) : firstNonFinite(data);
  if (i >= 0) throw codedRangeError('CELLSTATE_NON_FINITE', where, arg, 'finite values', `${data[i]} at flat index ${i}`);
}

function firstNonFinite(data: FloatArray): number {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) return i;
  }
  return -1;
}
