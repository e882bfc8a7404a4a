// Elman RNN layer-direction forward and BPTT for the ts backend. Equations: docs/equations.md.
//
//   h_t = f(clip(X·W_ihᵀ + b_ih + h_{t-1}·W_hhᵀ + b_hh)),   f = tanh or relu (or any gate
//   activation, gate-act.ts)
//
// Sizes: T, B, I, H, N = T*B rows. The input projection (both biases summed) is one product over
// all rows; one recurrent product per step. The backward reads f' from the cached h_t (tanh:
// 1 - h²; relu: h > 0) and, with clip, from the cached pre-activation.

import { allocate, type FloatArray } from '../../tensor';
import type { CellBackwardArgs, CellCache, CellForwardArgs, SeqLayout, CacheStates } from '../types';
import { gemm } from './gemm';
import { productWt } from './quant';
import { act, actD, tsActs } from './gate-act';
import { addColumnSums, clamp, inputProjection, stepTime, zeroPaddedRows, type TsPrepared } from './util';

/** h_t [N, H] of a training cache: the RNN's one gate block (CacheStates). */
export function rnnCacheStates(k: CellCache): CacheStates {
  return { gates: (k as RnnCache).h, c: null };
}

interface RnnCache extends CellCache {
  readonly seq: SeqLayout;
  readonly x: FloatArray; readonly xOffset: number; readonly ldx: number;
  readonly h: FloatArray; // [N, H] h_t of each row
  readonly pre: FloatArray | null; // [N, H] pre-activation before clipping (clip only)
  readonly hPrev: FloatArray; // [N, H]
}

export function rnnForward(w: TsPrepared, a: CellForwardArgs, train: boolean): CellCache | null {
  const p = w.params;
  const { T, B, rowT, rowB } = a;
  const H = p.hiddenSize, N = T * B;
  const relu = p.kind === 'rnn_relu', clip = p.clip;
  const fA = tsActs(p, w.dtype === 'float32')?.[0]; // undefined: the kind's tanh / relu
  const gx = inputProjection(w, a); // [N, H]; in training it becomes the h_t cache
  const pre = train && clip !== null ? allocate(w.dtype, N * H) : null;
  const hPrev = train ? allocate(w.dtype, N * H) : null;
  const h = allocate(w.dtype, B * H);
  if (a.h0) h.set(a.h0.subarray(0, B * H));
  const hr = allocate(w.dtype, B * H);
  for (let s = 0; s < T; s++) {
    productWt(B, H, H, h, 0, H, p.weightHh, p.qWeightHh, 0, hr, 0, H);
    for (let b = 0; b < B; b++) {
      const t = stepTime(a, s, b);
      if (t < 0) continue;
      const row = t * rowT + b * rowB;
      for (let j = 0; j < H; j++) {
        let v = gx[row * H + j] + hr[b * H + j];
        if (pre) pre[row * H + j] = v;
        if (clip !== null) v = clamp(v, clip);
        const hn = fA ? act(fA, v) : relu ? (v > 0 ? v : 0) : Math.tanh(v);
        if (hPrev) { hPrev[row * H + j] = h[b * H + j]; gx[row * H + j] = hn; }
        h[b * H + j] = hn;
        a.y[a.yOffset + row * a.ldy + j] = hn;
      }
    }
  }
  zeroPaddedRows(a, H);
  a.hN.set(h);
  if (!train) return null;
  const cache: RnnCache = {
    backend: 'ts', seq: { T, B, rowT, rowB, reverse: a.reverse, lengths: a.lengths },
    x: a.x, xOffset: a.xOffset, ldx: a.ldx, h: gx, pre, hPrev: hPrev!,
  };
  return cache;
}

export function rnnBackward(w: TsPrepared, cacheIn: CellCache, g: CellBackwardArgs): void {
  const k = cacheIn as RnnCache;
  const p = w.params;
  const { T, B, rowT, rowB } = k.seq;
  const I = p.inputSize, H = p.hiddenSize, N = T * B;
  const relu = p.kind === 'rnn_relu', clip = p.clip;
  const fA = tsActs(p, w.dtype === 'float32')?.[0];
  const dh = allocate(w.dtype, B * H);
  if (g.dhN) dh.set(g.dhN.subarray(0, B * H));
  const dA = allocate(w.dtype, N * H); // [N, H] row order
  const dAs = allocate(w.dtype, B * H); // [B, H] this step
  const dhNew = allocate(w.dtype, B * H);
  const rows = new Int32Array(B);
  for (let s = T - 1; s >= 0; s--) {
    dAs.fill(0);
    for (let b = 0; b < B; b++) {
      const t = stepTime(k.seq, s, b);
      const row = (rows[b] = t < 0 ? -1 : t * rowT + b * rowB);
      if (row < 0) continue;
      for (let j = 0; j < H; j++) {
        const dhj = dh[b * H + j] + (g.dy ? g.dy[g.dyOffset + row * g.lddy + j] : 0);
        if (g.dhSteps) g.dhSteps[row * H + j] = dhj;
        const hv = k.h[row * H + j];
        let d = dhj * (fA ? actD(fA, hv) : relu ? (hv > 0 ? 1 : 0) : 1 - hv * hv);
        if (k.pre && Math.abs(k.pre[row * H + j]) > clip!) d = 0;
        dA[row * H + j] = dAs[b * H + j] = d;
      }
    }
    gemm(false, false, B, H, H, dAs, 0, H, p.weightHh, 0, H, 0, dhNew, 0, H);
    for (let b = 0; b < B; b++) {
      if (rows[b] < 0) continue;
      for (let j = b * H; j < b * H + H; j++) dh[j] = dhNew[j];
    }
  }
  g.dh0.set(dh);
  gemm(true, false, H, I, N, dA, 0, H, k.x, k.xOffset, k.ldx, 1, g.dWeightIh, 0, I);
  gemm(true, false, H, H, N, dA, 0, H, k.hPrev, 0, H, 1, g.dWeightHh, 0, H);
  if (g.dBiasIh) addColumnSums(g.dBiasIh, dA, N, H);
  if (g.dBiasHh) addColumnSums(g.dBiasHh, dA, N, H);
  if (g.dx) gemm(false, false, N, I, H, dA, 0, H, p.weightIh, 0, I, 1, g.dx, g.dxOffset, g.lddx);
}
