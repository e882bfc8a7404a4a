// LSTM layer-direction forward and BPTT for the ts backend: the executable specification.
// Equations and symbol names: docs/equations.md. Row addressing r(t, b): lib/backend/types.ts.
//
// Sizes: T steps, B batch, I inputs, H hidden units, P = Hout state units (projSize or H),
// N = T*B rows, G = 4H gate columns (i, f, g, o).
// Variants: projection (h = W_hr · (o * tanh c)), peepholes (i, f see c_{t-1}, o sees c_t),
// coupled input-forget gate (f = 1 - i), clip (every gate pre-activation bounded to ±clip).
// The input projection is one product over all N rows, the recurrence one product per step plus a
// fused elementwise update (and, with projection, one more product per step); BPTT runs only the
// per-step products and leaves dW, db and dX to single products over all rows after the loop.
// Works in float32 or float64 storage (the arithmetic itself is JS doubles).

import { allocate, type FloatArray } from '../../tensor';
import type { CellBackwardArgs, CellCache, CellForwardArgs, CellParams, SeqLayout, CacheStates } from '../types';
import { gemm } from './gemm';
import { productWt } from './quant';
import { act, actD, tsActs } from './gate-act';
import { addColumnSums, clamp, inputProjection, sigmoid, stepTime, zeroPaddedRows, type TsPrepared } from './util';

/** The activated gates i, f, g, o [N, 4H] and c_t [N, H] of a training cache (CacheStates). */
export function lstmCacheStates(k: CellCache): CacheStates {
  return { gates: (k as LstmCache).gates, c: (k as LstmCache).c };
}

interface LstmCache extends CellCache {
  readonly seq: SeqLayout;
  readonly x: FloatArray; readonly xOffset: number; readonly ldx: number; // input rows (kept by reference)
  readonly gates: FloatArray; // [N, 4H] activated i, f, g, o (f = 1 - i with inputForget)
  readonly pre: FloatArray | null; // [N, 4H] pre-activations before clipping (clip only)
  readonly c: FloatArray; // [N, H] c_t
  readonly m: FloatArray | null; // [N, H] o * tanh(c_t) before projection (projection only)
  readonly hPrev: FloatArray; // [N, P] h_{t-1} entering each row's step (0 on padded rows)
  readonly c0: FloatArray; // [B, H]
}

export function lstmForward(w: TsPrepared, a: CellForwardArgs, train: boolean): CellCache | null {
  const p = w.params;
  const { T, B, rowT, rowB } = a;
  const H = p.hiddenSize, P = w.outSize, G = 4 * H, N = T * B;
  const dt = w.dtype;
  const proj = p.projSize > 0 ? p.weightHr! : null;
  const peep = p.peephole, cifg = p.inputForget, clip = p.clip;
  const acts = tsActs(p, dt === 'float32'); // null: the default sigmoid / tanh / tanh
  const fA = acts?.[0], gA = acts?.[1], hA = acts?.[2];

  const gx = inputProjection(w, a); // [N, 4H] Gx; in training it becomes the gate cache
  const pre = train && clip !== null ? allocate(dt, N * G) : null;
  const h = allocate(dt, B * P); // [B, P] running state
  const c = allocate(dt, B * H); // [B, H]
  if (a.h0) h.set(a.h0.subarray(0, B * P));
  if (a.c0) c.set(a.c0.subarray(0, B * H));
  const c0 = train ? c.slice() : null;
  const cAll = train ? allocate(dt, N * H) : null;
  const hPrev = train ? allocate(dt, N * P) : null;
  const mAll = train && proj ? allocate(dt, N * H) : null;
  const hr = allocate(dt, B * G); // [B, 4H] h_{t-1} · W_hhᵀ
  const mBuf = proj ? allocate(dt, B * H) : null; // [B, H] o * tanh(c_t)
  const hNew = proj ? allocate(dt, B * P) : null; // [B, P] projected state
  const rows = new Int32Array(B); // row of each entry at this step, -1 when ended

  for (let s = 0; s < T; s++) {
    productWt(B, G, P, h, 0, P, p.weightHh, p.qWeightHh, 0, hr, 0, G);
    for (let b = 0; b < B; b++) {
      const t = stepTime(a, s, b);
      rows[b] = t < 0 ? -1 : t * rowT + b * rowB;
      if (t < 0) continue; // entry b has ended
      const row = rows[b];
      const g0 = row * G, r0 = b * G, s0 = b * H;
      for (let j = 0; j < H; j++) {
        const cp = c[s0 + j];
        let ai = gx[g0 + j] + hr[r0 + j];
        let af = gx[g0 + H + j] + hr[r0 + H + j];
        let ag = gx[g0 + 2 * H + j] + hr[r0 + 2 * H + j];
        let ao = gx[g0 + 3 * H + j] + hr[r0 + 3 * H + j];
        if (peep) { ai += peep.i[j] * cp; af += peep.f[j] * cp; }
        if (pre) { pre[g0 + j] = ai; pre[g0 + H + j] = af; pre[g0 + 2 * H + j] = ag; }
        if (clip !== null) { ai = clamp(ai, clip); af = clamp(af, clip); ag = clamp(ag, clip); }
        const ig = fA ? act(fA, ai) : sigmoid(ai);
        const fg = cifg ? 1 - ig : fA ? act(fA, af) : sigmoid(af);
        const gg = gA ? act(gA, ag) : Math.tanh(ag);
        const cn = fg * cp + ig * gg;
        if (peep) ao += peep.o[j] * cn; // the output gate sees the NEW cell state
        if (pre) pre[g0 + 3 * H + j] = ao;
        if (clip !== null) ao = clamp(ao, clip);
        const og = fA ? act(fA, ao) : sigmoid(ao);
        const mn = og * (hA ? act(hA, cn) : Math.tanh(cn));
        if (cAll) {
          gx[g0 + j] = ig; gx[g0 + H + j] = fg; gx[g0 + 2 * H + j] = gg; gx[g0 + 3 * H + j] = og;
          cAll[row * H + j] = cn;
          if (mAll) mAll[row * H + j] = mn;
        }
        c[s0 + j] = cn;
        if (mBuf) mBuf[s0 + j] = mn;
        else {
          if (hPrev) hPrev[row * P + j] = h[s0 + j];
          h[s0 + j] = mn;
          a.y[a.yOffset + row * a.ldy + j] = mn;
        }
      }
    }
    if (proj) {
      // h_t = m_t · W_hrᵀ for every entry, kept only for those still running.
      productWt(B, P, H, mBuf!, 0, H, proj, p.qWeightHr, 0, hNew!, 0, P);
      for (let b = 0; b < B; b++) {
        const row = rows[b];
        if (row < 0) continue;
        for (let j = 0; j < P; j++) {
          if (hPrev) hPrev[row * P + j] = h[b * P + j];
          h[b * P + j] = hNew![b * P + j];
          a.y[a.yOffset + row * a.ldy + j] = hNew![b * P + j];
        }
      }
    }
  }
  zeroPaddedRows(a, P);
  a.hN.set(h);
  if (a.cN) a.cN.set(c);
  if (!train) return null;
  const cache: LstmCache = {
    backend: 'ts', seq: { T, B, rowT, rowB, reverse: a.reverse, lengths: a.lengths },
    x: a.x, xOffset: a.xOffset, ldx: a.ldx, gates: gx, pre, c: cAll!, m: mAll, hPrev: hPrev!, c0: c0!,
  };
  return cache;
}

export function lstmBackward(w: TsPrepared, cacheIn: CellCache, g: CellBackwardArgs): void {
  const k = cacheIn as LstmCache;
  const p = w.params;
  const { T, B, rowT, rowB } = k.seq;
  const I = p.inputSize, H = p.hiddenSize, P = w.outSize, G = 4 * H, N = T * B;
  const dt = w.dtype;
  const proj = p.projSize > 0 ? p.weightHr! : null;
  const peep = p.peephole, cifg = p.inputForget, clip = p.clip;
  const gates = k.gates, cAll = k.c, pre = k.pre;
  const acts = tsActs(p, dt === 'float32');
  const fA = acts?.[0], gA = acts?.[1], hA = acts?.[2];

  const dh = allocate(dt, B * P); // [B, P] carried ∂h
  const dc = allocate(dt, B * H); // [B, H] carried ∂c
  if (g.dhN) dh.set(g.dhN.subarray(0, B * P));
  if (g.dcN) dc.set(g.dcN.subarray(0, B * H));
  const dA = allocate(dt, N * G); // [N, 4H] ∂ pre-activations, row order (0 on padded rows)
  const dAs = allocate(dt, B * G); // [B, 4H] this step's ∂A, batch order
  const dhNew = allocate(dt, B * P); // [B, P] ∂A_t · W_hh
  const dm = proj ? allocate(dt, B * H) : dh; // [B, H] ∂(o * tanh c): through W_hr, or ∂h itself
  const dHrows = proj ? allocate(dt, N * P) : null; // [N, P] ∂h of each row (for ∂W_hr)
  const rows = new Int32Array(B);
  const pass = (v: number) => (clip === null || Math.abs(v) <= clip ? 1 : 0); // clip's derivative

  for (let s = T - 1; s >= 0; s--) {
    dAs.fill(0);
    for (let b = 0; b < B; b++) {
      const t = stepTime(k.seq, s, b);
      rows[b] = t < 0 ? -1 : t * rowT + b * rowB;
      if (t >= 0 && g.dy) {
        const y0 = g.dyOffset + rows[b] * g.lddy;
        for (let j = 0; j < P; j++) dh[b * P + j] += g.dy[y0 + j];
      }
      if (t >= 0 && g.dhSteps) g.dhSteps.set(dh.subarray(b * P, b * P + P), rows[b] * P);
    }
    if (proj) {
      gemm(false, false, B, H, P, dh, 0, P, proj, 0, H, 0, dm, 0, H); // ∂m = ∂h · W_hr
      for (let b = 0; b < B; b++) {
        if (rows[b] >= 0) for (let j = 0; j < P; j++) dHrows![rows[b] * P + j] = dh[b * P + j];
      }
    }
    for (let b = 0; b < B; b++) {
      const row = rows[b];
      if (row < 0) continue;
      const tPrev = s > 0 ? stepTime(k.seq, s - 1, b) : -1;
      const cp = tPrev >= 0 ? cAll : k.c0; // where c_{t-1} lives
      const cp0 = tPrev >= 0 ? (tPrev * rowT + b * rowB) * H : b * H;
      const g0 = row * G, s0 = b * H, d0 = b * G;
      for (let j = 0; j < H; j++) {
        const ig = gates[g0 + j], fg = gates[g0 + H + j], gg = gates[g0 + 2 * H + j], og = gates[g0 + 3 * H + j];
        const cn = cAll[row * H + j], cpj = cp[cp0 + j];
        const tc = hA ? act(hA, cn) : Math.tanh(cn);
        const dmj = dm[s0 + j];
        const ao = (fA ? dmj * tc * actD(fA, og) : dmj * tc * og * (1 - og)) * (pre ? pass(pre[g0 + 3 * H + j]) : 1);
        let dC = dc[s0 + j] + (hA ? dmj * og * actD(hA, tc) : dmj * og * (1 - tc * tc));
        if (peep) dC += ao * peep.o[j];
        if (g.dcSteps) g.dcSteps[row * H + j] = dC;
        let dI = dC * gg;
        let af = 0;
        if (cifg) dI -= dC * cpj; // f = 1 - i
        else af = (fA ? dC * cpj * actD(fA, fg) : dC * cpj * fg * (1 - fg)) * (pre ? pass(pre[g0 + H + j]) : 1);
        const ai = (fA ? dI * actD(fA, ig) : dI * ig * (1 - ig)) * (pre ? pass(pre[g0 + j]) : 1);
        const ag = (gA ? dC * ig * actD(gA, gg) : dC * ig * (1 - gg * gg)) * (pre ? pass(pre[g0 + 2 * H + j]) : 1);
        let dcPrev = dC * fg;
        if (peep) {
          dcPrev += ai * peep.i[j] + af * peep.f[j];
          g.dPeephole!.i[j] += ai * cpj;
          g.dPeephole!.f[j] += af * cpj;
          g.dPeephole!.o[j] += ao * cn;
        }
        dc[s0 + j] = dcPrev;
        dA[g0 + j] = ai; dA[g0 + H + j] = af; dA[g0 + 2 * H + j] = ag; dA[g0 + 3 * H + j] = ao;
        dAs[d0 + j] = ai; dAs[d0 + H + j] = af; dAs[d0 + 2 * H + j] = ag; dAs[d0 + 3 * H + j] = ao;
      }
    }
    gemm(false, false, B, P, G, dAs, 0, G, p.weightHh, 0, P, 0, dhNew, 0, P);
    for (let b = 0; b < B; b++) {
      if (rows[b] < 0) continue; // an entry that has not started yet keeps ∂hN
      for (let j = b * P; j < b * P + P; j++) dh[j] = dhNew[j];
    }
  }
  g.dh0.set(dh);
  if (g.dc0) g.dc0.set(dc);

  gemm(true, false, G, I, N, dA, 0, G, k.x, k.xOffset, k.ldx, 1, g.dWeightIh, 0, I);
  gemm(true, false, G, P, N, dA, 0, G, k.hPrev, 0, P, 1, g.dWeightHh, 0, P);
  if (proj) gemm(true, false, P, H, N, dHrows!, 0, P, k.m!, 0, H, 1, g.dWeightHr!, 0, H);
  if (g.dBiasIh) addColumnSums(g.dBiasIh, dA, N, G);
  if (g.dBiasHh) addColumnSums(g.dBiasHh, dA, N, G);
  if (g.dx) gemm(false, false, N, I, G, dA, 0, G, p.weightIh, 0, I, 1, g.dx, g.dxOffset, g.lddx);
}
