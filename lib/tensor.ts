// Tensor: a contiguous row-major Float32Array (or Float64Array) plus a shape. Nothing more.
//
// A Tensor never copies on construction: `new Tensor(data, shape)` wraps the typed array as
// given, including a view with a non-zero byteOffset. Arithmetic lives in the backends, not here.

import { argRangeError, argTypeError, describe, formatShape, isArgumentError } from './errors';
import { allocBytesUninit, envVar } from './host';

/** A tensor's element type: 'float32' (the default everywhere) or 'float64' (ts backend, gradient checks). */
export type DType = 'float32' | 'float64';
/** The typed array behind a Tensor of either dtype. */
export type FloatArray = Float32Array | Float64Array;
/** A number or nested arrays of numbers, as tensor() takes and Tensor.toArray() returns. */
export type NestedNumbers = number | readonly NestedNumbers[];

/** Anything with a shape and flat row-major data: a Tensor, or `{shape, data}` as in JSON files. */
export interface TensorLike {
  /** The dimensions. */
  shape: readonly number[];
  /** The elements, row-major (product of shape many). */
  data: ArrayLike<number>;
}

export function dtypeOf(data: FloatArray): DType {
  return data instanceof Float64Array ? 'float64' : 'float32';
}

// Size limits (docs/security.md#limits). Every buffer the library allocates, and every tensor it accepts, holds
// at most `maxElements()` elements: 2^31 by default (so every element index fits an int32; the
// native addon enforces the same bound), lowered for a process with CELLSTATE_MAX_ELEMENTS=n or
// setMaxElements(n). Sizes are checked before anything is allocated, with a RangeError naming the
// argument; the check is on element counts, so a float64 buffer may take twice the bytes.

/** The hard ceiling on the element count of any tensor or buffer: 2^31. */
export const MAX_ELEMENTS = 2 ** 31;

function envLimit(): number {
  const v = envVar('CELLSTATE_MAX_ELEMENTS');
  if (v === undefined || v === '') return MAX_ELEMENTS;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_ELEMENTS) {
    throw argRangeError('cellstate', 'CELLSTATE_MAX_ELEMENTS', `an integer in [1, ${MAX_ELEMENTS}]`, describe(v));
  }
  return n;
}

let elementLimit = envLimit();

/** The current element-count limit of any tensor or buffer (see MAX_ELEMENTS). */
export function maxElements(): number {
  return elementLimit;
}

/** Lower (or restore) the element-count limit for this process: an integer in [1, MAX_ELEMENTS]. */
export function setMaxElements(n: number): void {
  if (typeof n !== 'number') throw argTypeError('setMaxElements', 'n', `an integer in [1, ${MAX_ELEMENTS}]`, n);
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_ELEMENTS) throw argRangeError('setMaxElements', 'n', `an integer in [1, ${MAX_ELEMENTS}]`, describe(n));
  elementLimit = n;
}

/**
 * Check that a buffer of `n` elements (a product of sizes; `what` says which) is within the limit,
 * before allocating it. Returns n.
 */
export function checkElements(where: string, arg: string, n: number, what = `${n} elements`): number {
  if (!(n <= elementLimit)) {
    throw argRangeError(where, arg, `at most ${elementLimit} elements per buffer (the size limit, see docs/security.md#limits)`, `${what}${Number.isFinite(n) ? ` = ${n}` : ''}`);
  }
  return n;
}

/** A zero-filled buffer; `n` must be within the size limit (checked before allocating). */
export function allocate(dtype: DType, n: number, where = 'cellstate', arg = 'a buffer'): FloatArray {
  checkElements(where, arg, n);
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

/** Below this many elements allocateUninit zero-fills like allocate (small buffers cost little). */
const UNINIT_MIN = 16384;
/** Test mode (any size): see allocateUninit. */
const POISON_UNINIT = envVar('CELLSTATE_POISON_UNINIT') === '1';

/**
 * Like allocate, but the contents are unspecified (recycled heap memory, not zero-filled): only
 * for buffers a kernel then writes completely. A large fresh zeroed buffer costs a zero-fill and
 * a page fault per 4 KB on first touch; measured here 0.34 -> 0.11 ms for 1.6 MB (M's output)
 * and 2.3 -> 1.1 ms for 19.7 MB (T2's training cache). CELLSTATE_POISON_UNINIT=1 fills every
 * such buffer with NaN instead, so a test run under it shows that nothing reads an element it
 * did not write first (CI runs the suite so).
 */
export function allocateUninit(dtype: DType, n: number, where = 'cellstate', arg = 'a buffer'): FloatArray {
  if (n < UNINIT_MIN && !POISON_UNINIT) return allocate(dtype, n, where, arg);
  checkElements(where, arg, n);
  const bytes = n * (dtype === 'float64' ? 8 : 4);
  const buf = allocBytesUninit(bytes); // its own ArrayBuffer, byteOffset 0
  const a = dtype === 'float64' ? new Float64Array(buf.buffer, buf.byteOffset, n) : new Float32Array(buf.buffer, buf.byteOffset, n);
  if (POISON_UNINIT) a.fill(NaN);
  return a;
}

/** A recycled buffer handed out as allocateUninit's are: under CELLSTATE_POISON_UNINIT=1, NaN-filled. */
export function reuseUninit<A extends FloatArray>(a: A): A {
  if (POISON_UNINIT) a.fill(NaN);
  return a;
}

/**
 * Product of dims; checks each is a non-negative integer and that the shape describes at most
 * maxElements() positions (its product with zero dims left out, so [2^40, 0] is refused too).
 */
export function shapeSize(shape: readonly number[], where = 'tensor', arg = 'shape'): number {
  return sizeOf(readShape(shape, where, arg), where, arg);
}

/**
 * A private copy of a user's shape array, each entry read once: a Proxy or getter that throws is
 * a TypeError naming the argument, and one that changes its answer between reads cannot make the
 * validated shape differ from the one used.
 */
export function readShape(shape: unknown, where = 'tensor', arg = 'shape'): number[] {
  if (!Array.isArray(shape)) throw argTypeError(where, arg, 'an array of non-negative integers', shape);
  try {
    return Array.from(shape as unknown[]) as number[];
  } catch (e) {
    throw argTypeError(where, arg, `a readable array of dimensions (reading it threw: ${(e as Error)?.message ?? e})`, undefined);
  }
}

function sizeOf(shape: readonly number[], where: string, arg: string): number {
  let n = 1, positions = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw argRangeError(where, arg, 'non-negative integer dimensions', `${describe(d)} at axis ${i}`);
    }
    n *= d;
    if (d > 0) positions *= d;
  }
  if (!(positions <= elementLimit)) {
    throw argRangeError(where, arg, `at most ${elementLimit} elements (the size limit, see docs/security.md#limits)`, formatShape(shape));
  }
  return n;
}

/**
 * A dense row-major n-dimensional array: a Float32Array or Float64Array and a frozen shape. The
 * data is the caller's buffer (not copied); every result the library returns is a new Tensor.
 */
export class Tensor {
  /** The elements, row-major. */
  readonly data: FloatArray;
  /** The dimensions (frozen); [] for a scalar. */
  readonly shape: readonly number[];

  constructor(data: FloatArray, shape: readonly number[]) {
    if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) {
      throw argTypeError('Tensor', 'data', 'a Float32Array or Float64Array', data);
    }
    const dims = readShape(shape, 'Tensor');
    const n = sizeOf(dims, 'Tensor', 'shape');
    if (n !== data.length) {
      throw argRangeError('Tensor', 'data', `${n} elements for shape ${formatShape(dims)}`, `${data.length}`);
    }
    this.data = data;
    this.shape = Object.freeze(dims);
  }

  /** 'float32' or 'float64', from the data's type. */
  get dtype(): DType {
    return dtypeOf(this.data);
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** Nested arrays of numbers (a scalar for rank 0). */
  toArray(): NestedNumbers {
    const build = (axis: number, offset: number): NestedNumbers => {
      if (axis === this.shape.length) return this.data[offset];
      let stride = 1;
      for (let a = axis + 1; a < this.shape.length; a++) stride *= this.shape[a];
      const out: NestedNumbers[] = [];
      for (let i = 0; i < this.shape[axis]; i++) out.push(build(axis + 1, offset + i * stride));
      return out;
    };
    return build(0, 0);
  }

  /** A deep copy (new buffer), optionally converted to another dtype. */
  clone(dtype: DType = this.dtype): Tensor {
    const out = allocate(dtype, this.data.length);
    out.set(this.data);
    return new Tensor(out, this.shape);
  }

  /** Its dtype and shape, e.g. `Tensor(float32, [2, 3])` (not the values). */
  toString(): string {
    return `Tensor(${this.dtype}, ${formatShape(this.shape)})`;
  }
}

/**
 * Internal: a Tensor over data and a shape the library computed itself (already consistent), with
 * no re-validation. Never for user input.
 */
export function trustedTensor(data: FloatArray, shape: number[]): Tensor {
  const t = Object.create(Tensor.prototype) as { data: FloatArray; shape: readonly number[] };
  t.data = data;
  t.shape = Object.freeze(shape);
  return t as unknown as Tensor;
}

function inferShape(values: NestedNumbers, where: string): number[] {
  const shape: number[] = [];
  let v: NestedNumbers = values;
  while (Array.isArray(v)) {
    shape.push(v.length);
    if (v.length === 0) break;
    v = v[0];
  }
  return shape;
}

function flattenInto(values: NestedNumbers, shape: readonly number[], axis: number, out: FloatArray, pos: { i: number }, where: string): void {
  if (axis === shape.length) {
    if (typeof values !== 'number') throw argTypeError(where, 'values', `a number at depth ${axis}`, values);
    out[pos.i++] = values;
    return;
  }
  if (!Array.isArray(values) || values.length !== shape[axis]) {
    throw argRangeError(where, 'values', `a regular nested array of shape ${formatShape(shape)}`,
      `a ragged array (axis ${axis} has ${Array.isArray(values) ? values.length : describe(values)} entries)`);
  }
  for (const v of values) flattenInto(v, shape, axis + 1, out, pos, where);
}

/**
 * Build a Tensor from nested arrays, a flat array with a shape, or a typed array with a shape.
 *   tensor([[1, 2], [3, 4]])                 -> float32 [2, 2]
 *   tensor(new Float32Array(6), [2, 3])      -> wraps the array (no copy)
 *   tensor([1, 2, 3, 4], [2, 2], 'float64')  -> float64 [2, 2]
 * A typed array of the requested dtype is wrapped as is (views with a byteOffset included);
 * any other array-like is copied into a new buffer.
 */
export function tensor(values: NestedNumbers | ArrayLike<number> | FloatArray, shape?: readonly number[], dtype?: DType): Tensor {
  try {
    return buildTensor(values, shape, dtype);
  } catch (e) {
    // Our own checks' errors pass; anything else was thrown while reading the caller's values (a
    // getter or Proxy), and is reported as such rather than escaping unexplained.
    if (isArgumentError(e)) throw e;
    throw argTypeError('tensor', 'values', `readable nested arrays or array-likes of numbers (reading them threw: ${(e as Error)?.message ?? e})`, undefined);
  }
}

function buildTensor(values: NestedNumbers | ArrayLike<number> | FloatArray, shape?: readonly number[], dtype?: DType): Tensor {
  const where = 'tensor';
  if (dtype !== undefined && dtype !== 'float32' && dtype !== 'float64') {
    throw argTypeError(where, 'dtype', "'float32' or 'float64'", dtype);
  }
  if (values instanceof Float32Array || values instanceof Float64Array) {
    const want = dtype ?? dtypeOf(values);
    const s = shape ?? [values.length];
    if (dtypeOf(values) === want) return new Tensor(values, s);
    const out = allocate(want, values.length, where, 'values');
    out.set(values);
    return new Tensor(out, s);
  }
  if (shape !== undefined) {
    shape = readShape(shape, where);
    const n = shapeSize(shape, where);
    const src = values as ArrayLike<number>;
    if (src === null || typeof src !== 'object' || typeof src.length !== 'number') {
      throw argTypeError(where, 'values', 'an array or typed array', values);
    }
    if (src.length !== n) throw argRangeError(where, 'values', `${n} elements for shape ${formatShape(shape)}`, `${src.length}`);
    const out = allocate(dtype ?? 'float32', n, where, 'values');
    for (let i = 0; i < n; i++) {
      const v = src[i];
      if (typeof v !== 'number') throw argTypeError(where, `values[${i}]`, 'a number', v);
      out[i] = v;
    }
    return new Tensor(out, shape);
  }
  if (typeof values === 'number') {
    const out = allocate(dtype ?? 'float32', 1);
    out[0] = values;
    return new Tensor(out, []);
  }
  if (!Array.isArray(values)) throw argTypeError(where, 'values', 'nested arrays of numbers, or a typed array with a shape', values);
  const inferred = inferShape(values as NestedNumbers, where);
  const out = allocate(dtype ?? 'float32', shapeSize(inferred, where));
  flattenInto(values as NestedNumbers, inferred, 0, out, { i: 0 }, where);
  return new Tensor(out, inferred);
}

/** A Tensor of the given shape filled with zeros. */
export function zeros(shape: readonly number[], dtype: DType = 'float32'): Tensor {
  if (dtype !== 'float32' && dtype !== 'float64') throw argTypeError('zeros', 'dtype', "'float32' or 'float64'", dtype);
  const dims = readShape(shape, 'zeros');
  return new Tensor(allocate(dtype, sizeOf(dims, 'zeros', 'shape'), 'zeros', 'shape'), dims);
}

/**
 * Check a user-supplied tensor for a numeric call: a Tensor (or {shape, data} with a typed array)
 * of the given dtype. Returns the shape and data without copying.
 */
export function checkTensorArg(where: string, arg: string, value: unknown, dtype: DType): { shape: readonly number[]; data: FloatArray } {
  if (value === null || typeof value !== 'object') throw argTypeError(where, arg, `a ${dtype} Tensor`, value);
  // Nested arrays are a common first try: say what takes them instead of "x.shape: got undefined".
  if (Array.isArray(value)) throw argTypeError(where, arg, `a ${dtype} Tensor (for nested arrays use tensor(${arg}), or model.predict(${arg}))`, value);
  let shape: unknown;
  let data: unknown;
  try {
    shape = (value as TensorLike).shape;
    data = (value as TensorLike).data;
  } catch (e) {
    throw argTypeError(where, arg, `a ${dtype} Tensor (reading it threw: ${(e as Error)?.message ?? e})`, value);
  }
  if (!Array.isArray(shape)) throw argTypeError(where, `${arg}.shape`, 'an array of dimensions', shape);
  const Want = dtype === 'float64' ? Float64Array : Float32Array;
  if (!(data instanceof Want)) {
    throw argTypeError(where, `${arg}.data`, `a ${Want.name} (the model's dtype is ${dtype})`, data);
  }
  const dims = readShape(shape, where, `${arg}.shape`);
  const n = sizeOf(dims, where, `${arg}.shape`);
  // A detached buffer (transferred or structuredClone'd away) reads as length 0: refused here.
  if (n !== data.length) {
    throw argRangeError(where, arg, `${n} elements for shape ${formatShape(dims)}`, `${data.length} elements in data${data.buffer.byteLength === 0 && n > 0 ? ' (a detached buffer?)' : ''}`);
  }
  // Zero elements: hand on a fresh empty array, since a detached one cannot even be sliced.
  return { shape: dims, data: n === 0 ? new Want(0) : data };
}
