// Layer-normalised LSTM layer-direction forward and BPTT for the ts backend: the executable
// specification of the kind lib/nn/cell-kinds/lnlstm.ts declares (TF Addons' LayerNormLSTMCell).
// Equations and symbol names: docs/equations.md ("Layer-normalised LSTM"). Row addressing r(t, b):
// lib/backend/types.ts.
//
// Sizes: T steps, B batch, I inputs, H hidden units (= Hout: no projection), N = T*B rows,
// G = 4H gate columns (i, f, g, o).
//   A   = LN_ih(X·W_ihᵀ) + LN_hh(h_{t-1}·W_hhᵀ) + b_ih + b_hh   (each LN over the G columns of a row)
//   c_t = LN_c(f * c_{t-1} + i * g)                             (over H; the normalised c is carried)
//   h_t = o * tanh(c_t)
// The input product is one GEMM over all N rows (no bias: it must not pass through LN_ih), the
// recurrent one one GEMM per step. BPTT runs LN_hh's backward inside the loop (it feeds ∂h_{t-1});
// LN_ih's backward, dW, db, the gains' and LN biases' gradients and dX are done over all rows after
// the loop. Clip (optional) bounds A before the activations, as for the LSTM.
// Works in float32 or float64 storage (the arithmetic itself is JS doubles).

import { allocate, type FloatArray } from '../../tensor';
import { lnEpsilon } from '../../nn/cell-kinds/lnlstm';
import type { CellBackwardArgs, CellCache, CellForwardArgs, SeqLayout, CacheStates } from '../types';
import { gemm } from './gemm';
import { productWt } from './quant';
import { addColumnSums, clamp, sigmoid, stepTime, zeroPaddedRows, type TsPrepared } from './util';

/** The activated gates i, f, g, o [N, 4H] and c_t [N, H] of a training cache (CacheStates). */
export function lnLstmCacheStates(k: CellCache): CacheStates {
  return { gates: (k as LnLstmCache).gates, c: (k as LnLstmCache).c };
}

interface LnLstmCache extends CellCache {
  readonly seq: SeqLayout;
  readonly x: FloatArray; readonly xOffset: number; readonly ldx: number; // input rows (kept by reference)
  readonly gates: FloatArray; // [N, 4H] activated i, f, g, o
  readonly pre: FloatArray | null; // [N, 4H] A before clipping (clip only)
  readonly c: FloatArray; // [N, H] c_t (normalised, the carried state)
  readonly xhIh: FloatArray; readonly rsIh: FloatArray; // [N, 4H] normalised X·W_ihᵀ, [N] its 1/σ
  readonly xhHh: FloatArray; readonly rsHh: FloatArray; // [N, 4H] normalised h·W_hhᵀ, [N]
  readonly xhC: FloatArray; readonly rsC: FloatArray; // [N, H] normalised c̃, [N]
  readonly hPrev: FloatArray; // [N, H] h_{t-1} entering each row's step (0 on padded rows)
  readonly c0: FloatArray; // [B, H]
}

/**
 * x̂ = (z - mean z) / sqrt(var z + eps) over z[o .. o+n) (biased variance) into xh[xo .. xo+n);
 * returns 1 / sqrt(var + eps).
 */
function normalise(z: FloatArray, o: number, n: number, eps: number, xh: FloatArray, xo: number): number {
  let mean = 0;
  for (let j = 0; j < n; j++) mean += z[o + j];
  mean /= n;
  let v = 0;
  for (let j = 0; j < n; j++) { const d = z[o + j] - mean; v += d * d; }
  const rs = 1 / Math.sqrt(v / n + eps);
  for (let j = 0; j < n; j++) xh[xo + j] = (z[o + j] - mean) * rs;
  return rs;
}

/**
 * LN's backward for one row: ∂z = rs * (∂x̂ - mean ∂x̂ - x̂ * mean(∂x̂ * x̂)), ∂x̂ = ∂y * gain;
 * dy at dy[dOff ..], x̂ at xh[o ..], ∂z into dz[zOff ..].
 */
function normaliseBackward(dy: FloatArray, dOff: number, gain: FloatArray, xh: FloatArray, o: number, rs: number, n: number,
  dz: FloatArray, zOff: number): void {
  let m1 = 0, m2 = 0;
  for (let j = 0; j < n; j++) { const d = dy[dOff + j] * gain[j]; m1 += d; m2 += d * xh[o + j]; }
  m1 /= n; m2 /= n;
  for (let j = 0; j < n; j++) dz[zOff + j] = rs * (dy[dOff + j] * gain[j] - m1 - xh[o + j] * m2);
}

export function lnLstmForward(w: TsPrepared, a: CellForwardArgs, train: boolean): CellCache | null {
  const p = w.params;
  const { T, B, rowT, rowB } = a;
  const H = p.hiddenSize, G = 4 * H, N = T * B;
  const dt = w.dtype, clip = p.clip, eps = lnEpsilon(p.flags);
  const e = p.extra;
  const gIh = e.ln_ih_weight, bIh = e.ln_ih_bias, gHh = e.ln_hh_weight, bHh = e.ln_hh_bias, gC = e.ln_c_weight, bC = e.ln_c_bias;
  const bias = allocate(dt, G); // b_ih + b_hh, added after the layer norms
  for (let j = 0; j < G; j++) bias[j] = (p.biasIh ? p.biasIh[j] : 0) + (p.biasHh ? p.biasHh[j] : 0);

  const zx = allocate(dt, N * G); // [N, 4H] X·W_ihᵀ; in training it becomes the gate cache
  productWt(N, G, p.inputSize, a.x, a.xOffset, a.ldx, p.weightIh, p.qWeightIh, 0, zx, 0, G);
  const h = allocate(dt, B * H); // [B, H] running state
  const c = allocate(dt, B * H); // [B, H]
  if (a.h0) h.set(a.h0.subarray(0, B * H));
  if (a.c0) c.set(a.c0.subarray(0, B * H));
  const c0 = train ? c.slice() : null;
  // Normalised values: the caches in training, one row's worth of scratch in inference.
  const xhIh = allocate(dt, train ? N * G : G), xhHh = allocate(dt, train ? N * G : G), xhC = allocate(dt, train ? N * H : H);
  const rsIh = allocate(dt, train ? N : 0), rsHh = allocate(dt, train ? N : 0), rsC = allocate(dt, train ? N : 0);
  const pre = train && clip !== null ? allocate(dt, N * G) : null;
  const cAll = train ? allocate(dt, N * H) : null;
  const hPrev = train ? allocate(dt, N * H) : null;
  const hr = allocate(dt, B * G); // [B, 4H] h_{t-1} · W_hhᵀ
  const ct = allocate(dt, H); // [H] c̃ of one row

  for (let s = 0; s < T; s++) {
    productWt(B, G, H, h, 0, H, p.weightHh, p.qWeightHh, 0, hr, 0, G);
    for (let b = 0; b < B; b++) {
      const t = stepTime(a, s, b);
      if (t < 0) continue; // entry b has ended
      const row = t * rowT + b * rowB;
      const g0 = row * G, s0 = b * H;
      const xo = train ? g0 : 0, co = train ? row * H : 0; // where this row's x̂ go
      const rI = normalise(zx, g0, G, eps, xhIh, xo);
      const rH = normalise(hr, b * G, G, eps, xhHh, xo);
      if (train) { rsIh[row] = rI; rsHh[row] = rH; }
      for (let j = 0; j < G; j++) {
        let v = gIh[j] * xhIh[xo + j] + bIh[j] + gHh[j] * xhHh[xo + j] + bHh[j] + bias[j];
        if (pre) pre[g0 + j] = v;
        if (clip !== null) v = clamp(v, clip);
        zx[g0 + j] = j >= 2 * H && j < 3 * H ? Math.tanh(v) : sigmoid(v); // i, f, o: σ; g: tanh
      }
      for (let j = 0; j < H; j++) ct[j] = zx[g0 + H + j] * c[s0 + j] + zx[g0 + j] * zx[g0 + 2 * H + j];
      const rC = normalise(ct, 0, H, eps, xhC, co);
      if (train) rsC[row] = rC;
      for (let j = 0; j < H; j++) {
        const cn = gC[j] * xhC[co + j] + bC[j];
        const hn = zx[g0 + 3 * H + j] * Math.tanh(cn);
        if (cAll) cAll[row * H + j] = cn;
        if (hPrev) hPrev[row * H + j] = h[s0 + j];
        c[s0 + j] = cn;
        h[s0 + j] = hn;
        a.y[a.yOffset + row * a.ldy + j] = hn;
      }
    }
  }
  zeroPaddedRows(a, H);
  a.hN.set(h);
  if (a.cN) a.cN.set(c);
  if (!train) return null;
  const cache: LnLstmCache = {
    backend: 'ts', seq: { T, B, rowT, rowB, reverse: a.reverse, lengths: a.lengths },
    x: a.x, xOffset: a.xOffset, ldx: a.ldx, gates: zx, pre, c: cAll!,
    xhIh, rsIh, xhHh, rsHh, xhC, rsC, hPrev: hPrev!, c0: c0!,
  };
  return cache;
}

export function lnLstmBackward(w: TsPrepared, cacheIn: CellCache, g: CellBackwardArgs): void {
  const k = cacheIn as LnLstmCache;
  const p = w.params;
  const { T, B, rowT, rowB } = k.seq;
  const I = p.inputSize, H = p.hiddenSize, G = 4 * H, N = T * B;
  const dt = w.dtype, clip = p.clip;
  const e = p.extra, de = g.dExtra;
  const gIh = e.ln_ih_weight, gHh = e.ln_hh_weight, gC = e.ln_c_weight;
  const gates = k.gates, cAll = k.c, pre = k.pre;

  const dh = allocate(dt, B * H); // [B, H] carried ∂h
  const dc = allocate(dt, B * H); // [B, H] carried ∂c (of the normalised c)
  if (g.dhN) dh.set(g.dhN.subarray(0, B * H));
  if (g.dcN) dc.set(g.dcN.subarray(0, B * H));
  const dA = allocate(dt, N * G); // [N, 4H] ∂A, row order (0 on padded rows); becomes ∂(X·W_ihᵀ)
  const dZh = allocate(dt, N * G); // [N, 4H] ∂(h·W_hhᵀ), row order
  const dCt = allocate(dt, N * H); // [N, H] ∂c_t (LN_c's output), row order
  const dct = allocate(dt, H); // [H] ∂c̃ of one row
  const dZs = allocate(dt, B * G); // [B, 4H] this step's ∂(h·W_hhᵀ), batch order
  const dhNew = allocate(dt, B * H); // [B, H] ∂Z_h · W_hh
  const rows = new Int32Array(B);
  const pass = (i: number) => (pre === null || Math.abs(pre[i]) <= clip! ? 1 : 0); // clip's derivative

  for (let s = T - 1; s >= 0; s--) {
    dZs.fill(0);
    for (let b = 0; b < B; b++) {
      const t = stepTime(k.seq, s, b);
      rows[b] = t < 0 ? -1 : t * rowT + b * rowB;
      const row = rows[b];
      if (row < 0) continue;
      const tPrev = s > 0 ? stepTime(k.seq, s - 1, b) : -1;
      const cp = tPrev >= 0 ? cAll : k.c0; // where c_{t-1} lives
      const cp0 = tPrev >= 0 ? (tPrev * rowT + b * rowB) * H : b * H;
      const g0 = row * G, s0 = b * H;
      for (let j = 0; j < H; j++) {
        const dhj = dh[s0 + j] + (g.dy ? g.dy[g.dyOffset + row * g.lddy + j] : 0);
        if (g.dhSteps) g.dhSteps[row * H + j] = dhj;
        const og = gates[g0 + 3 * H + j], tc = Math.tanh(cAll[row * H + j]);
        dA[g0 + 3 * H + j] = dhj * tc * og * (1 - og) * pass(g0 + 3 * H + j);
        dCt[row * H + j] = dc[s0 + j] + dhj * og * (1 - tc * tc);
        if (g.dcSteps) g.dcSteps[row * H + j] = dCt[row * H + j];
      }
      normaliseBackward(dCt, row * H, gC, k.xhC, row * H, k.rsC[row], H, dct, 0); // ∂c̃
      for (let j = 0; j < H; j++) {
        const ig = gates[g0 + j], fg = gates[g0 + H + j], gg = gates[g0 + 2 * H + j];
        const d = dct[j];
        dA[g0 + j] = d * gg * ig * (1 - ig) * pass(g0 + j);
        dA[g0 + H + j] = d * cp[cp0 + j] * fg * (1 - fg) * pass(g0 + H + j);
        dA[g0 + 2 * H + j] = d * ig * (1 - gg * gg) * pass(g0 + 2 * H + j);
        dc[s0 + j] = d * fg;
      }
      normaliseBackward(dA, g0, gHh, k.xhHh, g0, k.rsHh[row], G, dZh, g0);
      dZs.set(dZh.subarray(g0, g0 + G), b * G);
    }
    gemm(false, false, B, H, G, dZs, 0, G, p.weightHh, 0, H, 0, dhNew, 0, H);
    for (let b = 0; b < B; b++) {
      if (rows[b] < 0) continue; // an entry that has not started yet keeps ∂hN
      for (let j = b * H; j < b * H + H; j++) dh[j] = dhNew[j];
    }
  }
  g.dh0.set(dh);
  if (g.dc0) g.dc0.set(dc);

  // The layer norms' parameters: ∂gain = Σ ∂y * x̂, ∂bias = Σ ∂y over every valid row (padded rows
  // hold zeros); both gate LNs see ∂A, LN_c sees ∂c_t.
  const dgIh = de.ln_ih_weight, dbIh = de.ln_ih_bias, dgHh = de.ln_hh_weight, dbHh = de.ln_hh_bias, dgC = de.ln_c_weight, dbC = de.ln_c_bias;
  for (let r = 0; r < N; r++) {
    for (let j = 0; j < G; j++) {
      const d = dA[r * G + j];
      dgIh[j] += d * k.xhIh[r * G + j];
      dgHh[j] += d * k.xhHh[r * G + j];
    }
    for (let j = 0; j < H; j++) dgC[j] += dCt[r * H + j] * k.xhC[r * H + j];
  }
  addColumnSums(dbIh, dA, N, G);
  addColumnSums(dbHh, dA, N, G);
  addColumnSums(dbC, dCt, N, H);
  if (g.dBiasIh) addColumnSums(g.dBiasIh, dA, N, G);
  if (g.dBiasHh) addColumnSums(g.dBiasHh, dA, N, G);
  // ∂(X·W_ihᵀ) through LN_ih, in place (each row's ∂A is read before it is overwritten).
  const dzx = allocate(dt, G);
  for (let r = 0; r < N; r++) {
    if (k.rsIh[r] === 0) continue; // a padded row (rs > 0 on every valid row)
    normaliseBackward(dA, r * G, gIh, k.xhIh, r * G, k.rsIh[r], G, dzx, 0);
    dA.set(dzx, r * G);
  }
  gemm(true, false, G, I, N, dA, 0, G, k.x, k.xOffset, k.ldx, 1, g.dWeightIh, 0, I);
  gemm(true, false, G, H, N, dZh, 0, G, k.hPrev, 0, H, 1, g.dWeightHh, 0, H);
  if (g.dx) gemm(false, false, N, I, G, dA, 0, G, p.weightIh, 0, I, 1, g.dx, g.dxOffset, g.lddx);
}
