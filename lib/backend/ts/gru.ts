// GRU layer-direction forward and BPTT for the ts backend. Equations: docs/equations.md (GRU).
//
// Sizes: T, B, I, H, N = T*B rows, G = 3H gate columns (r, z, n).
// Two formulas for the candidate n:
//   linearBeforeReset (PyTorch):  n = tanh(Gx_n + r * (h·W_hnᵀ + b_hn))    one product per step
//   ONNX default:                 n = tanh(Gx_n + (r*h)·W_hnᵀ + b_hn)      the reset gate must be
//     known before the n product, so a step makes two products: [r, z] first, then n.
// h' = (1-z)*n + z*h. Gx = X·W_ihᵀ + b_ih (+ b_hh for r and z) for all rows at once.

import { allocate, type FloatArray } from '../../tensor';
import type { CellBackwardArgs, CellCache, CellForwardArgs, SeqLayout, CacheStates } from '../types';
import { gemm } from './gemm';
import { productWt } from './quant';
import { act, actD, tsActs } from './gate-act';
import { addColumnSums, clamp, inputProjection, sigmoid, stepTime, zeroPaddedRows, type TsPrepared } from './util';

/** The activated gates r, z, n [N, 3H] of a training cache (CacheStates). */
export function gruCacheStates(k: CellCache): CacheStates {
  return { gates: (k as GruCache).gates, c: null };
}

interface GruCache extends CellCache {
  readonly seq: SeqLayout;
  readonly x: FloatArray; readonly xOffset: number; readonly ldx: number;
  readonly gates: FloatArray; // [N, 3H] activated r, z, n
  readonly pre: FloatArray | null; // [N, 3H] pre-activations before clipping (clip only)
  readonly hn: FloatArray; // [N, H] linearBeforeReset: h·W_hnᵀ + b_hn;  ONNX: r*h (input of W_hn)
  readonly hPrev: FloatArray; // [N, H]
}

export function gruForward(w: TsPrepared, a: CellForwardArgs, train: boolean): CellCache | null {
  const p = w.params;
  const { T, B, rowT, rowB } = a;
  const H = p.hiddenSize, G = 3 * H, N = T * B;
  const dt = w.dtype;
  const lbr = p.linearBeforeReset, clip = p.clip;
  const bHn = p.biasHh ? p.biasHh.subarray(2 * H, 3 * H) : null;
  const acts = tsActs(p, dt === 'float32'); // null: the default sigmoid / tanh
  const fA = acts?.[0], gA = acts?.[1];

  const gx = inputProjection(w, a); // [N, 3H]; in training it becomes the gate cache
  const pre = train && clip !== null ? allocate(dt, N * G) : null;
  const hnAll = train ? allocate(dt, N * H) : null;
  const hPrev = train ? allocate(dt, N * H) : null;
  const h = allocate(dt, B * H);
  if (a.h0) h.set(a.h0.subarray(0, B * H));
  const hr = allocate(dt, B * G); // [B, 3H] recurrent products of this step
  const rh = lbr ? null : allocate(dt, B * H); // [B, H] r * h (ONNX formula)
  const rows = new Int32Array(B);
  const cl = (v: number) => (clip === null ? v : clamp(v, clip));

  for (let s = 0; s < T; s++) {
    for (let b = 0; b < B; b++) {
      const t = stepTime(a, s, b);
      rows[b] = t < 0 ? -1 : t * rowT + b * rowB;
    }
    // [r, z] (and, with linearBeforeReset, n) recurrent products from h_{t-1}.
    productWt(B, lbr ? G : 2 * H, H, h, 0, H, p.weightHh, p.qWeightHh, 0, hr, 0, G);
    for (let b = 0; b < B; b++) {
      const row = rows[b];
      if (row < 0) continue;
      const g0 = row * G, r0 = b * G;
      for (let j = 0; j < H; j++) {
        const ar = gx[g0 + j] + hr[r0 + j], az = gx[g0 + H + j] + hr[r0 + H + j];
        if (pre) { pre[g0 + j] = ar; pre[g0 + H + j] = az; }
        gx[g0 + j] = fA ? act(fA, cl(ar)) : sigmoid(cl(ar)); // r and z overwrite their Gx columns (no longer needed)
        gx[g0 + H + j] = fA ? act(fA, cl(az)) : sigmoid(cl(az));
        if (rh) rh[b * H + j] = gx[g0 + j] * h[b * H + j];
      }
    }
    // ONNX formula: the n product takes r*h, known only now.
    if (rh) productWt(B, H, H, rh, 0, H, p.weightHh, p.qWeightHh, 2 * H, hr, 2 * H, G);
    for (let b = 0; b < B; b++) {
      const row = rows[b];
      if (row < 0) continue;
      const g0 = row * G, r0 = b * G;
      for (let j = 0; j < H; j++) {
        const r = gx[g0 + j], z = gx[g0 + H + j];
        const hn = hr[r0 + 2 * H + j] + (bHn ? bHn[j] : 0);
        const an = gx[g0 + 2 * H + j] + (lbr ? r * hn : hn);
        if (pre) pre[g0 + 2 * H + j] = an;
        const n = gA ? act(gA, cl(an)) : Math.tanh(cl(an));
        const hp = h[b * H + j];
        const hNew = (1 - z) * n + z * hp;
        if (hnAll) {
          gx[g0 + 2 * H + j] = n;
          hnAll[row * H + j] = lbr ? hn : rh![b * H + j];
          hPrev![row * H + j] = hp;
        }
        h[b * H + j] = hNew;
        a.y[a.yOffset + row * a.ldy + j] = hNew;
      }
    }
  }
  zeroPaddedRows(a, H);
  a.hN.set(h);
  if (!train) return null;
  const cache: GruCache = {
    backend: 'ts', seq: { T, B, rowT, rowB, reverse: a.reverse, lengths: a.lengths },
    x: a.x, xOffset: a.xOffset, ldx: a.ldx, gates: gx, pre, hn: hnAll!, hPrev: hPrev!,
  };
  return cache;
}

export function gruBackward(w: TsPrepared, cacheIn: CellCache, g: CellBackwardArgs): void {
  const k = cacheIn as GruCache;
  const p = w.params;
  const { T, B, rowT, rowB } = k.seq;
  const I = p.inputSize, H = p.hiddenSize, G = 3 * H, N = T * B;
  const dt = w.dtype;
  const lbr = p.linearBeforeReset, clip = p.clip;
  const gates = k.gates, pre = k.pre;
  const pass = (v: number) => (clip === null || Math.abs(v) <= clip ? 1 : 0);
  const acts = tsActs(p, dt === 'float32');
  const fA = acts?.[0], gA = acts?.[1];

  const dh = allocate(dt, B * H);
  if (g.dhN) dh.set(g.dhN.subarray(0, B * H));
  const dGx = allocate(dt, N * G); // [N, 3H] ∂ of Gx (= ∂ pre-activations as seen from X·W_ihᵀ + b_ih)
  const dGh = allocate(dt, N * G); // [N, 3H] ∂ of the recurrent products (+ b_hh)
  const dGs = allocate(dt, B * G); // [B, 3H] this step's ∂ recurrent products, batch order
  const dhDirect = allocate(dt, B * H); // [B, H] ∂h_{t-1} through z*h (and r*h)
  const dhNew = allocate(dt, B * H);
  const drh = lbr ? null : allocate(dt, B * H); // [B, H] ∂(r*h) (ONNX)
  const rows = new Int32Array(B);

  for (let s = T - 1; s >= 0; s--) {
    dGs.fill(0);
    // Phase 1: everything that does not need ∂(r*h).
    for (let b = 0; b < B; b++) {
      const t = stepTime(k.seq, s, b);
      const row = (rows[b] = t < 0 ? -1 : t * rowT + b * rowB);
      if (row < 0) continue;
      const g0 = row * G, d0 = b * G;
      for (let j = 0; j < H; j++) {
        const dhj = dh[b * H + j] + (g.dy ? g.dy[g.dyOffset + row * g.lddy + j] : 0);
        if (g.dhSteps) g.dhSteps[row * H + j] = dhj;
        const r = gates[g0 + j], z = gates[g0 + H + j], n = gates[g0 + 2 * H + j];
        const hp = k.hPrev[row * H + j], hn = k.hn[row * H + j];
        const an = (gA ? dhj * (1 - z) * actD(gA, n) : dhj * (1 - z) * (1 - n * n)) * (pre ? pass(pre[g0 + 2 * H + j]) : 1);
        const az = (fA ? dhj * (hp - n) * actD(fA, z) : dhj * (hp - n) * z * (1 - z)) * (pre ? pass(pre[g0 + H + j]) : 1);
        dGx[g0 + H + j] = dGh[g0 + H + j] = dGs[d0 + H + j] = az;
        dGx[g0 + 2 * H + j] = an;
        dhDirect[b * H + j] = dhj * z;
        if (lbr) {
          const ar = (fA ? an * hn * actD(fA, r) : an * hn * r * (1 - r)) * (pre ? pass(pre[g0 + j]) : 1);
          dGx[g0 + j] = dGh[g0 + j] = dGs[d0 + j] = ar;
          dGh[g0 + 2 * H + j] = dGs[d0 + 2 * H + j] = an * r;
        } else {
          dGh[g0 + 2 * H + j] = dGs[d0 + 2 * H + j] = an;
        }
      }
    }
    if (drh) {
      // ONNX: ∂(r*h) = ∂A_n · W_hn, then phase 2: ∂r and the r-path into ∂h_{t-1}.
      gemm(false, false, B, H, H, dGs, 2 * H, G, p.weightHh, 2 * H * H, H, 0, drh, 0, H);
      for (let b = 0; b < B; b++) {
        const row = rows[b];
        if (row < 0) continue;
        const g0 = row * G, d0 = b * G;
        for (let j = 0; j < H; j++) {
          const r = gates[g0 + j], hp = k.hPrev[row * H + j], d = drh[b * H + j];
          const ar = (fA ? d * hp * actD(fA, r) : d * hp * r * (1 - r)) * (pre ? pass(pre[g0 + j]) : 1);
          dGx[g0 + j] = dGh[g0 + j] = dGs[d0 + j] = ar;
          dhDirect[b * H + j] += d * r;
        }
      }
    }
    // ∂h_{t-1} = direct paths + (∂ recurrent products) · W_hh over the blocks that saw h itself.
    gemm(false, false, B, H, lbr ? G : 2 * H, dGs, 0, G, p.weightHh, 0, H, 0, dhNew, 0, H);
    for (let b = 0; b < B; b++) {
      if (rows[b] < 0) continue;
      for (let j = b * H; j < b * H + H; j++) dh[j] = dhDirect[j] + dhNew[j];
    }
  }
  g.dh0.set(dh);

  gemm(true, false, G, I, N, dGx, 0, G, k.x, k.xOffset, k.ldx, 1, g.dWeightIh, 0, I);
  if (lbr) {
    gemm(true, false, G, H, N, dGh, 0, G, k.hPrev, 0, H, 1, g.dWeightHh, 0, H);
  } else {
    gemm(true, false, 2 * H, H, N, dGh, 0, G, k.hPrev, 0, H, 1, g.dWeightHh, 0, H);
    gemm(true, false, H, H, N, dGh, 2 * H, G, k.hn, 0, H, 1, g.dWeightHh, 2 * H * H, H);
  }
  if (g.dBiasIh) addColumnSums(g.dBiasIh, dGx, N, G);
  if (g.dBiasHh) addColumnSums(g.dBiasHh, dGh, N, G);
  if (g.dx) gemm(false, false, N, I, G, dGx, 0, G, p.weightIh, 0, I, 1, g.dx, g.dxOffset, g.lddx);
}
