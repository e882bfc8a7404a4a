// Small shared helpers of the ts backend kernels.

import type { SeqLayout } from '../types';

/** Logistic sigmoid without overflow: exp is only ever taken of a non-positive number. */
export function sigmoid(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
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
