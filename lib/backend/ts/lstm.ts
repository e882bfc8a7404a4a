// LSTM layer-direction forward and BPTT for the ts backend: the executable specification.
// Equations and symbol names: docs/equations.md. Row addressing r(t, b): lib/backend/types.ts.
//
// Sizes: T steps, B batch, I inputs, H hidden units, N = T*B rows, H4 = 4H gate columns (i, f, g, o).
// The input projection is one product over all N rows, the recurrence one product per step plus a
// fused elementwise update; BPTT runs the per-step dh·W_hh product only and leaves dW_ih, dW_hh,
// db and dX to single products over all rows after the loop. Works in float32 or float64 storage
// (the arithmetic itself is JS doubles). Deliberately no allocation inside the step loops.

import { allocate, type FloatArray } from '../../tensor';
import type { LstmBackwardArgs, LstmCache, LstmForwardArgs, LstmParams, PreparedLstm, SeqLayout } from '../types';
import { gemm } from './gemm';
import { sigmoid, stepTime } from './util';

export interface TsPreparedLstm extends PreparedLstm {
  readonly weightIh: FloatArray; // [4H, I]
  readonly weightHh: FloatArray; // [4H, H]
  readonly bias: FloatArray; // [4H] b_ih + b_hh (zeros without bias)
}

interface TsLstmCache extends LstmCache {
  readonly w: TsPreparedLstm;
  readonly seq: SeqLayout;
  readonly x: FloatArray; readonly xOffset: number; readonly ldx: number; // the forward's input rows (kept by reference)
  readonly gates: FloatArray; // [N, 4H] activated i, f, g, o of each row
  readonly c: FloatArray; // [N, H] c_t of each row
  readonly hPrev: FloatArray; // [N, H] h_{t-1} that entered each row's step (0 on padded rows)
  readonly c0: FloatArray; // [B, H]
}

export function lstmPrepare(p: LstmParams): TsPreparedLstm {
  const H4 = 4 * p.hiddenSize;
  const bias = allocate(p.weightIh instanceof Float64Array ? 'float64' : 'float32', H4);
  for (let j = 0; j < H4; j++) bias[j] = (p.biasIh ? p.biasIh[j] : 0) + (p.biasHh ? p.biasHh[j] : 0);
  return {
    backend: 'ts',
    dtype: p.weightIh instanceof Float64Array ? 'float64' : 'float32',
    inputSize: p.inputSize,
    hiddenSize: p.hiddenSize,
    // Copies: prepared weights are a snapshot, as the native backend's packed ones are, so a call
    // in flight never sees a later weight update.
    weightIh: p.weightIh.slice(),
    weightHh: p.weightHh.slice(),
    bias,
  };
}

export function lstmForward(w: TsPreparedLstm, a: LstmForwardArgs, train: boolean): LstmCache | null {
  const { T, B, rowT, rowB } = a;
  const I = w.inputSize, H = w.hiddenSize, H4 = 4 * H, N = T * B;
  const dt = w.dtype;

  // Gx = X · W_ihᵀ + bias, all rows at once. In training this buffer becomes the gate cache.
  const gx = allocate(dt, N * H4); // [N, 4H]
  gemm(false, true, N, H4, I, a.x, a.xOffset, a.ldx, w.weightIh, 0, I, 0, gx, 0, H4);
  for (let r = 0; r < N; r++) {
    const o = r * H4;
    for (let j = 0; j < H4; j++) gx[o + j] += w.bias[j];
  }

  const h = allocate(dt, B * H); // [B, H] running state
  const c = allocate(dt, B * H); // [B, H]
  if (a.h0) h.set(a.h0.subarray(0, B * H));
  if (a.c0) c.set(a.c0.subarray(0, B * H));
  const c0 = train ? c.slice() : null;
  const cAll = train ? allocate(dt, N * H) : null; // [N, H]
  const hPrev = train ? allocate(dt, N * H) : null; // [N, H]
  const hr = allocate(dt, B * H4); // [B, 4H] h_{t-1} · W_hhᵀ

  for (let s = 0; s < T; s++) {
    gemm(false, true, B, H4, H, h, 0, H, w.weightHh, 0, H, 0, hr, 0, H4);
    for (let b = 0; b < B; b++) {
      const t = stepTime(a, s, b);
      if (t < 0) continue; // entry b has ended
      const row = t * rowT + b * rowB;
      const g0 = row * H4, r0 = b * H4, s0 = b * H, y0 = a.yOffset + row * a.ldy;
      for (let j = 0; j < H; j++) {
        const ig = sigmoid(gx[g0 + j] + hr[r0 + j]);
        const fg = sigmoid(gx[g0 + H + j] + hr[r0 + H + j]);
        const gg = Math.tanh(gx[g0 + 2 * H + j] + hr[r0 + 2 * H + j]);
        const og = sigmoid(gx[g0 + 3 * H + j] + hr[r0 + 3 * H + j]);
        const cn = fg * c[s0 + j] + ig * gg;
        const hn = og * Math.tanh(cn);
        if (cAll) {
          gx[g0 + j] = ig; gx[g0 + H + j] = fg; gx[g0 + 2 * H + j] = gg; gx[g0 + 3 * H + j] = og;
          cAll[row * H + j] = cn;
          hPrev![row * H + j] = h[s0 + j];
        }
        c[s0 + j] = cn;
        h[s0 + j] = hn;
        a.y[y0 + j] = hn;
      }
    }
  }
  zeroPaddedRows(a, H);
  a.hN.set(h);
  a.cN.set(c);
  if (!train) return null;
  const cache: TsLstmCache = {
    backend: 'ts', w, seq: { T, B, rowT, rowB, reverse: a.reverse, lengths: a.lengths },
    x: a.x, xOffset: a.xOffset, ldx: a.ldx, gates: gx, c: cAll!, hPrev: hPrev!, c0: c0!,
  };
  return cache;
}

/** Outputs at t >= lengths[b] are exactly 0 (PyTorch's pad_packed_sequence convention). */
function zeroPaddedRows(a: LstmForwardArgs, width: number): void {
  if (!a.lengths) return;
  for (let b = 0; b < a.B; b++) {
    for (let t = a.lengths[b]; t < a.T; t++) {
      const y0 = a.yOffset + (t * a.rowT + b * a.rowB) * a.ldy;
      a.y.fill(0, y0, y0 + width);
    }
  }
}

export function lstmBackward(w: TsPreparedLstm, cacheIn: LstmCache, g: LstmBackwardArgs): void {
  const k = cacheIn as TsLstmCache;
  const { T, B, rowT, rowB } = k.seq;
  const I = w.inputSize, H = w.hiddenSize, H4 = 4 * H, N = T * B;
  const dt = w.dtype;
  const gates = k.gates, cAll = k.c;

  const dh = allocate(dt, B * H); // [B, H] carried ∂h
  const dc = allocate(dt, B * H); // [B, H] carried ∂c
  if (g.dhN) dh.set(g.dhN.subarray(0, B * H));
  if (g.dcN) dc.set(g.dcN.subarray(0, B * H));
  const dA = allocate(dt, N * H4); // [N, 4H] ∂ pre-activations, row order (0 on padded rows)
  const dAs = allocate(dt, B * H4); // [B, 4H] this step's ∂A, batch order
  const dhNew = allocate(dt, B * H); // [B, H] ∂A_t · W_hh
  const active = new Uint8Array(B);

  for (let s = T - 1; s >= 0; s--) {
    dAs.fill(0);
    for (let b = 0; b < B; b++) {
      const t = stepTime(k.seq, s, b);
      active[b] = t >= 0 ? 1 : 0;
      if (t < 0) continue;
      const row = t * rowT + b * rowB;
      const tPrev = s > 0 ? stepTime(k.seq, s - 1, b) : -1;
      const cp = tPrev >= 0 ? cAll : k.c0; // where c_{t-1} lives
      const cp0 = tPrev >= 0 ? (tPrev * rowT + b * rowB) * H : b * H;
      const g0 = row * H4, s0 = b * H, d0 = b * H4;
      if (g.dy) {
        const y0 = g.dyOffset + row * g.lddy;
        for (let j = 0; j < H; j++) dh[s0 + j] += g.dy[y0 + j];
      }
      for (let j = 0; j < H; j++) {
        const ig = gates[g0 + j], fg = gates[g0 + H + j], gg = gates[g0 + 2 * H + j], og = gates[g0 + 3 * H + j];
        const tc = Math.tanh(cAll[row * H + j]);
        const dhj = dh[s0 + j];
        const dO = dhj * tc;
        const dC = dc[s0 + j] + dhj * og * (1 - tc * tc);
        const dI = dC * gg, dG = dC * ig, dF = dC * cp[cp0 + j];
        dc[s0 + j] = dC * fg;
        const ai = dI * ig * (1 - ig), af = dF * fg * (1 - fg), ag = dG * (1 - gg * gg), ao = dO * og * (1 - og);
        dA[g0 + j] = ai; dA[g0 + H + j] = af; dA[g0 + 2 * H + j] = ag; dA[g0 + 3 * H + j] = ao;
        dAs[d0 + j] = ai; dAs[d0 + H + j] = af; dAs[d0 + 2 * H + j] = ag; dAs[d0 + 3 * H + j] = ao;
      }
    }
    gemm(false, false, B, H, H4, dAs, 0, H4, w.weightHh, 0, H, 0, dhNew, 0, H);
    for (let b = 0; b < B; b++) {
      if (!active[b]) continue; // an entry that has not started yet keeps ∂hN
      for (let j = b * H; j < b * H + H; j++) dh[j] = dhNew[j];
    }
  }
  g.dh0.set(dh);
  g.dc0.set(dc);

  gemm(true, false, H4, I, N, dA, 0, H4, k.x, k.xOffset, k.ldx, 1, g.dWeightIh, 0, I);
  gemm(true, false, H4, H, N, dA, 0, H4, k.hPrev, 0, H, 1, g.dWeightHh, 0, H);
  if (g.dBiasIh || g.dBiasHh) {
    const db = allocate(dt, H4);
    for (let r = 0; r < N; r++) {
      const o = r * H4;
      for (let j = 0; j < H4; j++) db[j] += dA[o + j];
    }
    for (let j = 0; j < H4; j++) {
      if (g.dBiasIh) g.dBiasIh[j] += db[j];
      if (g.dBiasHh) g.dBiasHh[j] += db[j];
    }
  }
  if (g.dx) gemm(false, false, N, I, H4, dA, 0, H4, w.weightIh, 0, I, 1, g.dx, g.dxOffset, g.lddx);
}
