// Shared pieces of the ts backend kernels: the prepared-weights snapshot, the input projection
// over all rows, and small numeric helpers.

import { allocate, type DType, type FloatArray } from '../../tensor';
import type { CellForwardArgs, CellParams, PreparedCell, SeqLayout } from '../types';
import { gateCount } from '../types';
import { productWt } from './quant';

export interface TsPrepared extends PreparedCell {
  readonly params: CellParams; // copies of every fp32 array: a snapshot (quantized matrices are never written, so shared)
  readonly biasX: FloatArray; // [G*H] bias added to X·W_ihᵀ (see prepareTs)
}

function copy<T extends FloatArray | null>(a: T): T {
  return (a ? a.slice() : null) as T;
}

/**
 * Snapshot the parameters and pre-sum the biases that can be added once to the input projection:
 * b_ih for every gate column, b_hh for the first `hhCols` only (the kind's choice: GRU's n gate
 * keeps b_hn inside r * (W_hn h + b_hn), with the recurrent product; docs/equations.md).
 */
export function prepareTs(p: CellParams, hhCols: number): TsPrepared {
  const dtype: DType = p.weightIh instanceof Float64Array ? 'float64' : 'float32';
  const precision = p.precision ?? 'fp32';
  if (precision !== 'fp32' && (dtype !== 'float32' || !p.qWeightIh || !p.qWeightHh || (p.projSize > 0 && !p.qWeightHr))) {
    throw new TypeError(`ts backend: ${precision} cell params need float32 storage and qWeightIh, qWeightHh${p.projSize > 0 ? ', qWeightHr' : ''}`);
  }
  const G = gateCount(p.kind) * p.hiddenSize;
  const biasX = allocate(dtype, G);
  for (let j = 0; j < G; j++) biasX[j] = (p.biasIh ? p.biasIh[j] : 0) + (p.biasHh && j < hhCols ? p.biasHh[j] : 0);
  const params: CellParams = {
    ...p,
    weightIh: copy(p.weightIh), weightHh: copy(p.weightHh), biasIh: copy(p.biasIh), biasHh: copy(p.biasHh),
    weightHr: copy(p.weightHr),
    precision, qWeightIh: p.qWeightIh ?? null, qWeightHh: p.qWeightHh ?? null, qWeightHr: p.qWeightHr ?? null,
    peephole: p.peephole && { i: p.peephole.i.slice(), f: p.peephole.f.slice(), o: p.peephole.o.slice() },
  };
  return {
    backend: 'ts', dtype, kind: p.kind, inputSize: p.inputSize, hiddenSize: p.hiddenSize,
    outSize: p.projSize || p.hiddenSize, params, biasX,
  };
}

/** Whether a prepared cell holds quantized weights (inference only). */
export function isQuantized(w: TsPrepared): boolean {
  return w.params.precision !== 'fp32';
}

/** Gx [N, G*H] = X · W_ihᵀ + biasX for every row at once (the quantized product for bf16 / int8). */
export function inputProjection(w: TsPrepared, a: CellForwardArgs): FloatArray {
  const p = w.params;
  const G = gateCount(p.kind) * p.hiddenSize, N = a.T * a.B;
  const gx = allocate(w.dtype, N * G);
  productWt(N, G, p.inputSize, a.x, a.xOffset, a.ldx, p.weightIh, p.qWeightIh ?? null, 0, gx, 0, G);
  for (let r = 0; r < N; r++) {
    const o = r * G;
    for (let j = 0; j < G; j++) gx[o + j] += w.biasX[j];
  }
  return gx;
}

/** out[j] += Σ_r m[r*cols + j] */
export function addColumnSums(out: FloatArray, m: FloatArray, rows: number, cols: number, col0 = 0, width = cols): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols + col0;
    for (let j = 0; j < width; j++) out[j] += m[o + j];
  }
}

/** Logistic sigmoid without overflow: exp is only ever taken of a non-positive number. */
export function sigmoid(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

export function clamp(v: number, bound: number): number {
  return v > bound ? bound : v < -bound ? -bound : v;
}

/**
 * The time index that step s (0-based, in processing order) visits for batch entry b, or -1 when
 * entry b has no step s (its length is shorter). A reverse direction starts at lengths[b]-1.
 */
export function stepTime(q: SeqLayout, s: number, b: number): number {
  const len = q.lengths ? q.lengths[b] : q.T;
  if (s >= len) return -1;
  return q.reverse ? len - 1 - s : s;
}

/** Outputs at t >= lengths[b] are exactly 0 (PyTorch's pad_packed_sequence convention). */
export function zeroPaddedRows(a: CellForwardArgs, width: number): void {
  if (!a.lengths) return;
  for (let b = 0; b < a.B; b++) {
    for (let t = a.lengths[b]; t < a.T; t++) {
      const y0 = a.yOffset + (t * a.rowT + b * a.rowB) * a.ldy;
      a.y.fill(0, y0, y0 + width);
    }
  }
}
