// The low-precision products of the ts backend: the reference implementation of the bf16 and
// int8 contract (docs/equations.md, "Low precision"), used by the lstm/gru/rnn kernels for every
// y = a · Wᵀ with a quantized W. Forward only: a quantized cell is never trained.
//
// Sizes: M operand rows a (x, h, m or GRU's r*h), N output columns (rows j of W), K = W.cols.
//
//   bf16   a_b = bf16_rne(a) per operand row, once per product; y[i, j] = Σ_k a_b[i,k] * w_b[j,k]
//          (each product exact; summed in a JS double, rounded to fp32 once when stored: the
//          most accurate member of the contract's "fp32 accumulation, any order" family).
//   int8   per operand row: amax, s_a = f32(amax/127) (1 if amax = 0), inv = f32(127/amax),
//          q_a = clamp(rne(f32(a*inv)), -127, 127); acc = Σ_k q_a[k] * q_w[j,k] (exact: a JS
//          number holds any int32); y = f32(f32(acc) * f32(s_a * s_w[j])). Bit-identical to
//          every other implementation of the contract.
//
// Deliberately plain loops: this is the oracle the native kernels are checked against, not fast.

import type { FloatArray } from '../../tensor';
import type { Precision, QuantMatrix } from '../types';
import { gemm } from './gemm';

const f32 = Math.fround;
const box = new Float32Array(1);
const bits = new Uint32Array(box.buffer);

/** Round half to even (Math.round rounds halves up). */
export function rne(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The bf16 bit pattern of fp32 value v, rounded to nearest even on the bit pattern (NaN stays a quiet NaN). */
export function bf16Bits(v: number): number {
  box[0] = v;
  const u = bits[0];
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x007fffff) !== 0) return ((u >>> 16) | 0x0040) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** fp32 value of a bf16 bit pattern (exact: a 16-bit shift). */
export function bf16Value(b: number): number {
  bits[0] = (b & 0xffff) << 16;
  return box[0];
}

/** Every bf16 pattern's value, so widening a weight is one load. */
const BF16: Float32Array = (() => {
  const t = new Float32Array(65536);
  for (let b = 0; b < 65536; b++) t[b] = bf16Value(b);
  return t;
})();

/** Whether a bf16 pattern is ±Inf or NaN (exponent all ones). */
export function bf16IsFinite(b: number): boolean {
  return (b & 0x7f80) !== 0x7f80;
}

/** A row-major [rows, cols] fp32 matrix in bf16 (the caller refuses non-finite results). */
export function quantizeBf16(w: ArrayLike<number>, rows: number, cols: number): QuantMatrix {
  const data = new Uint16Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = bf16Bits(w[i]);
  return { rows, cols, data, scale: null };
}

/**
 * One row's symmetric int8 quantization (the contract's rule, for weights and activations
 * alike): writes q[qOff .. qOff+K) and returns the fp32 scale.
 */
export function quantizeRowInt8(a: ArrayLike<number>, aOff: number, K: number, q: Int8Array | Int32Array, qOff: number): number {
  let amax = 0;
  for (let k = 0; k < K; k++) {
    const v = Math.abs(a[aOff + k]);
    if (v > amax) amax = v;
  }
  if (amax === 0) {
    q.fill(0, qOff, qOff + K);
    return 1;
  }
  const inv = f32(127 / amax);
  for (let k = 0; k < K; k++) {
    const r = rne(f32(a[aOff + k] * inv));
    q[qOff + k] = r > 127 ? 127 : r < -127 ? -127 : r;
  }
  return f32(amax / 127);
}

/** A row-major [rows, cols] fp32 matrix in int8 with one scale per row. */
export function quantizeInt8(w: ArrayLike<number>, rows: number, cols: number): QuantMatrix {
  const data = new Int8Array(rows * cols);
  const scale = new Float32Array(rows);
  for (let j = 0; j < rows; j++) scale[j] = quantizeRowInt8(w, j * cols, cols, data, j * cols);
  return { rows, cols, data, scale };
}

/** The fp32 values a quantized matrix stands for: w_b as fp32, or q_w[j,k] * s_w[j] (rounded to fp32). */
export function dequantize(q: QuantMatrix): Float32Array {
  const out = new Float32Array(q.rows * q.cols);
  if (q.scale === null) {
    for (let i = 0; i < out.length; i++) out[i] = BF16[q.data[i]];
  } else {
    for (let j = 0; j < q.rows; j++) for (let k = 0; k < q.cols; k++) out[j * q.cols + k] = q.data[j * q.cols + k] * q.scale[j];
  }
  return out;
}

/** Bytes of a quantized matrix (weights and scales). */
export function quantBytes(q: QuantMatrix): number {
  return q.data.byteLength + (q.scale ? q.scale.byteLength : 0);
}

// One operand row at a time, reused across calls (synchronous and not re-entered), so the
// per-step products allocate nothing.
let rowF32 = new Float32Array(0);
let rowI32 = new Int32Array(0);

/**
 * c[i*ldc + cOff + j] = (a_i · W_{row0+j}) for i < M, j < N, K = q.cols, by the contract's rule for
 * q's precision (beta = 0: c is overwritten).
 */
export function quantProduct(
  M: number, N: number, a: FloatArray, aOff: number, lda: number,
  q: QuantMatrix, row0: number, c: FloatArray, cOff: number, ldc: number,
): void {
  const K = q.cols;
  if (q.scale === null) {
    const w = q.data;
    if (rowF32.length < K) rowF32 = new Float32Array(K);
    const ab = rowF32; // [K] this operand row in bf16, widened
    for (let i = 0; i < M; i++) {
      const a0 = aOff + i * lda;
      for (let k = 0; k < K; k++) ab[k] = BF16[bf16Bits(a[a0 + k])];
      for (let j = 0; j < N; j++) {
        const w0 = (row0 + j) * K;
        let s = 0;
        for (let k = 0; k < K; k++) s += ab[k] * BF16[w[w0 + k]];
        c[cOff + i * ldc + j] = s;
      }
    }
    return;
  }
  const w = q.data, sw = q.scale;
  if (rowI32.length < K) rowI32 = new Int32Array(K);
  const qa = rowI32; // [K] this operand row in int8
  for (let i = 0; i < M; i++) {
    const sa = quantizeRowInt8(a, aOff + i * lda, K, qa, 0);
    for (let j = 0; j < N; j++) {
      const w0 = (row0 + j) * K;
      let acc = 0;
      for (let k = 0; k < K; k++) acc += qa[k] * w[w0 + k];
      c[cOff + i * ldc + j] = f32(f32(acc) * f32(sa * sw[row0 + j]));
    }
  }
}

/**
 * c[M, N] (rows at cOff, stride ldc) = a[M, K] · W[row0 .. row0+N)ᵀ: the fp32 product when q is
 * null, else the quantized one. What every forward product of the kernels calls.
 */
export function productWt(
  M: number, N: number, K: number, a: FloatArray, aOff: number, lda: number,
  w: FloatArray, q: QuantMatrix | null, row0: number, c: FloatArray, cOff: number, ldc: number,
): void {
  if (q) quantProduct(M, N, a, aOff, lda, q, row0, c, cOff, ldc);
  else gemm(false, true, M, N, K, a, aOff, lda, w, row0 * K, K, 0, c, cOff, ldc);
}

/** The precision of a quantized matrix. */
export function precisionOf(q: QuantMatrix): Exclude<Precision, 'fp32'> {
  return q.scale === null ? 'bf16' : 'int8';
}
