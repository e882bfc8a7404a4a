// Single matrix product for the ts backend, in float32 or float64 storage.
//
//   C[M, N] = beta*C + op(A)[M, K] · op(B)[K, N]        (beta is 0 or 1)
//   op(A)(i, k) = transA ? A[aOff + k*lda + i] : A[aOff + i*lda + k]
//   op(B)(k, j) = transB ? B[bOff + j*ldb + k] : B[bOff + k*ldb + j]
//
// One strided kernel serves every transpose case: element (i, k) of op(A) sits at
// aOff + i*aRow + k*aCol, so the transposes only swap the two strides. It computes 4x4 blocks of C
// with 16 scalar accumulators (the JIT keeps them in registers), loading 4 values of A and 4 of B
// per 16 multiply-adds; the j-blocks are the outer loop so a K x 4 strip of B stays in cache while
// every row of A streams past it. Rows past the last multiple of 4 (every row at batch 1) take
// 8 columns at a time. Each element is one sum over k in order, accumulated in a JS double and
// rounded once when stored, so the blocking never changes a result.
// Deliberately no SIMD, threads or packing: this is the portable fallback and the oracle.

import type { FloatArray } from '../../tensor';

export function gemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number,
  A: FloatArray, aOff: number, lda: number,
  B: FloatArray, bOff: number, ldb: number,
  beta: 0 | 1, C: FloatArray, cOff: number, ldc: number,
): void {
  const aRow = transA ? 1 : lda; // step in A for i+1
  const aCol = transA ? lda : 1; // step in A for k+1
  const bRow = transB ? 1 : ldb; // step in B for k+1
  const bCol = transB ? ldb : 1; // step in B for j+1
  const M4 = M - (M % 4);
  const N4 = N - (N % 4);
  for (let j = 0; j < N4; j += 4) {
    const b0 = bOff + j * bCol;
    for (let i = 0; i < M4; i += 4) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      let pa = aOff + i * aRow;
      let pb = b0;
      for (let k = 0; k < K; k++) {
        const a0 = A[pa], a1 = A[pa + aRow], a2 = A[pa + 2 * aRow], a3 = A[pa + 3 * aRow];
        const v0 = B[pb], v1 = B[pb + bCol], v2 = B[pb + 2 * bCol], v3 = B[pb + 3 * bCol];
        c00 += a0 * v0; c01 += a0 * v1; c02 += a0 * v2; c03 += a0 * v3;
        c10 += a1 * v0; c11 += a1 * v1; c12 += a1 * v2; c13 += a1 * v3;
        c20 += a2 * v0; c21 += a2 * v1; c22 += a2 * v2; c23 += a2 * v3;
        c30 += a3 * v0; c31 += a3 * v1; c32 += a3 * v2; c33 += a3 * v3;
        pa += aCol;
        pb += bRow;
      }
      let pc = cOff + i * ldc + j;
      if (beta === 0) {
        C[pc] = c00; C[pc + 1] = c01; C[pc + 2] = c02; C[pc + 3] = c03; pc += ldc;
        C[pc] = c10; C[pc + 1] = c11; C[pc + 2] = c12; C[pc + 3] = c13; pc += ldc;
        C[pc] = c20; C[pc + 1] = c21; C[pc + 2] = c22; C[pc + 3] = c23; pc += ldc;
        C[pc] = c30; C[pc + 1] = c31; C[pc + 2] = c32; C[pc + 3] = c33;
      } else {
        C[pc] += c00; C[pc + 1] += c01; C[pc + 2] += c02; C[pc + 3] += c03; pc += ldc;
        C[pc] += c10; C[pc + 1] += c11; C[pc + 2] += c12; C[pc + 3] += c13; pc += ldc;
        C[pc] += c20; C[pc + 1] += c21; C[pc + 2] += c22; C[pc + 3] += c23; pc += ldc;
        C[pc] += c30; C[pc + 1] += c31; C[pc + 2] += c32; C[pc + 3] += c33;
      }
    }
  }
  // Rows left over below the last 4-row block (all rows when M < 4, e.g. a batch of 1): one row
  // at a time against 8 columns, then 4 (8 independent sums hide the add latency: 1.22x faster
  // than 4 at M = 1, N = 1024, K = 256).
  for (let i = M4; i < M; i++) {
    let j = 0;
    for (; j + 8 <= N4; j += 8) {
      let c0 = 0, c1 = 0, c2 = 0, c3 = 0, c4 = 0, c5 = 0, c6 = 0, c7 = 0;
      let pa = aOff + i * aRow;
      let pb = bOff + j * bCol;
      for (let k = 0; k < K; k++) {
        const a = A[pa];
        c0 += a * B[pb]; c1 += a * B[pb + bCol]; c2 += a * B[pb + 2 * bCol]; c3 += a * B[pb + 3 * bCol];
        c4 += a * B[pb + 4 * bCol]; c5 += a * B[pb + 5 * bCol]; c6 += a * B[pb + 6 * bCol]; c7 += a * B[pb + 7 * bCol];
        pa += aCol;
        pb += bRow;
      }
      const pc = cOff + i * ldc + j;
      if (beta === 0) {
        C[pc] = c0; C[pc + 1] = c1; C[pc + 2] = c2; C[pc + 3] = c3; C[pc + 4] = c4; C[pc + 5] = c5; C[pc + 6] = c6; C[pc + 7] = c7;
      } else {
        C[pc] += c0; C[pc + 1] += c1; C[pc + 2] += c2; C[pc + 3] += c3; C[pc + 4] += c4; C[pc + 5] += c5; C[pc + 6] += c6; C[pc + 7] += c7;
      }
    }
    for (; j < N4; j += 4) {
      let c0 = 0, c1 = 0, c2 = 0, c3 = 0;
      let pa = aOff + i * aRow;
      let pb = bOff + j * bCol;
      for (let k = 0; k < K; k++) {
        const a = A[pa];
        c0 += a * B[pb]; c1 += a * B[pb + bCol]; c2 += a * B[pb + 2 * bCol]; c3 += a * B[pb + 3 * bCol];
        pa += aCol;
        pb += bRow;
      }
      const pc = cOff + i * ldc + j;
      if (beta === 0) { C[pc] = c0; C[pc + 1] = c1; C[pc + 2] = c2; C[pc + 3] = c3; }
      else { C[pc] += c0; C[pc + 1] += c1; C[pc + 2] += c2; C[pc + 3] += c3; }
    }
  }
  // Columns left over right of the last 4-column block: plain dot products.
  for (let j = N4; j < N; j++) {
    for (let i = 0; i < M; i++) {
      let s = 0;
      let pa = aOff + i * aRow;
      let pb = bOff + j * bCol;
      for (let k = 0; k < K; k++) {
        s += A[pa] * B[pb];
        pa += aCol;
        pb += bRow;
      }
      const pc = cOff + i * ldc + j;
      C[pc] = beta === 0 ? s : C[pc] + s;
    }
  }
}
