// Gradient flow through time: how large ∂L/∂h_t (and, for the LSTM, ∂L/∂c_t) is at each step t
// when the loss sits at the last step, for an LSTM and a tanh RNN of about the same parameter
// count on the adding problem (tasks.ts), at initialisation and after training (compare.ts).
//
// One BPTT gives every step's state gradient: the recurrent layer's weights are copied into a
// float64 model on the ts backend, whose kernels record ∂L/∂h_t, ∂L/∂c_t as they go
// (Recurrent.stateGradients). The loss is the task's MSE on a fixed batch; its gradient reaches
// the recurrent layer as ∂L/∂output at the last step only (the LastStep and Linear head, applied
// here by hand: ∂L/∂h_T = ∂L/∂y · W). The reported norm at distance k = T-1-t is the Frobenius
// norm of ∂L/∂h_t over the batch and units. The decay per step is 10^s, s the least-squares
// slope of log10(norm) against k over k = 1 .. T-1 (k = 0 left out: it has no recurrence in it).

import { LSTM, RNN, Tensor, type Sequential } from 'cellstate';
import type { Task, TaskBatch } from './tasks';
import type { ModelKind } from './compare';

export interface FlowProfile {
  dh: number[]; // [T] by distance k = 0 .. T-1 from the loss
  dc: number[] | null; // [T] (LSTM)
  dhDecayPerStep: number; // 10^slope of the fit
  dcDecayPerStep: number | null;
  loss: number; // the batch's MSE
}

/** Least-squares slope of log10(v[k]) against k over k >= 1 with v[k] > 0 (NaN if fewer than 2). */
export function logSlope(v: readonly number[]): number {
  const pts = v.map((y, k) => [k, y] as const).filter(([k, y]) => k >= 1 && y > 0 && Number.isFinite(y));
  if (pts.length < 2) return NaN;
  const n = pts.length;
  const mx = pts.reduce((s, [k]) => s + k, 0) / n, my = pts.reduce((s, [, y]) => s + Math.log10(y), 0) / n;
  let sxy = 0, sxx = 0;
  for (const [k, y] of pts) { sxy += (k - mx) * (Math.log10(y) - my); sxx += (k - mx) ** 2; }
  return sxy / sxx;
}

/** The state-gradient profile of a buildModel() net ([recurrent, LastStep, Linear]) on one batch. */
export function flowProfile(net: Sequential, kind: ModelKind, batch: TaskBatch, task: Task): FlowProfile {
  const rec = net.layers[0] as LSTM | RNN, head = net.layers[2];
  const H = rec.hiddenSize, T = task.T, B = batch.x.shape[1];
  // The recurrent layer in float64 on ts: the same weights, per-step gradients recorded.
  const o = { inputSize: rec.inputSize, hiddenSize: H, seed: 1, dtype: 'float64' as const, backend: 'ts' as const };
  const m = kind === 'lstm' ? new LSTM(o) : new RNN({ ...o, nonlinearity: 'tanh' });
  m.loadStateDict(Object.fromEntries(Object.entries(rec.stateDict()).map(([k, t]) => [k, new Tensor(Float64Array.from(t.data), t.shape)])));
  const x = new Tensor(Float64Array.from(batch.x.data), batch.x.shape);
  const { output, cache } = m.forwardTrain(x);
  // Head: y = h_T W^T + b; MSE over B outputs: ∂L/∂y = 2 (y - target) / B; ∂L/∂h_T = ∂L/∂y W.
  const sd = head.stateDict();
  const W = sd.weight.data, bias = sd.bias.data, target = batch.values!.data;
  const dOut = new Float64Array(T * B * H);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    let y = bias[0];
    for (let j = 0; j < H; j++) y += W[j] * output.data[((T - 1) * B + b) * H + j];
    const e = y - target[b];
    loss += (e * e) / B;
    for (let j = 0; j < H; j++) dOut[((T - 1) * B + b) * H + j] = (2 * e / B) * W[j];
  }
  const g = m.stateGradients(cache, { dOutput: new Tensor(dOut, [T, B, H]) });
  const norms = (t: Tensor): number[] => {
    const out: number[] = [];
    for (let k = 0; k < T; k++) {
      const t0 = T - 1 - k;
      let s = 0;
      for (let i = t0 * B * H; i < (t0 + 1) * B * H; i++) s += t.data[i] * t.data[i];
      out.push(Math.sqrt(s));
    }
    return out;
  };
  const dh = norms(g.steps[0].dH), dc = g.steps[0].dC ? norms(g.steps[0].dC) : null;
  return { dh, dc, dhDecayPerStep: 10 ** logSlope(dh), dcDecayPerStep: dc ? 10 ** logSlope(dc) : null, loss };
}
