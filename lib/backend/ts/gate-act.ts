// The gate activations of the ts backend (docs/equations.md, "Gate activations"): ONNX's RNN set,
// y = f(x) and f' written from y alone (the kernels keep the activated gates, not the
// pre-activations). The same functions and derivative choices as native/simd/gate_act.h:
// relu'(0) = hardSigmoid'(kinks) = thresholdedRelu'(0) = 0 (PyTorch's relu'(0) = 0), leakyRelu'(0)
// = elu'(0) = alpha; leakyRelu and elu need alpha >= 0 (the layer checks it).
//
// In float32 storage alpha and beta are float32 values, and hardSigmoid / affine round x and
// alpha*x to float32 before adding beta, as TF.js computes Keras' hard_sigmoid (clip(0.2 x + 0.5)).
// One switch per element (V8 inlines it), never a call through a function value.

import { ACTIVATIONS } from '../schema.gen';
import type { CellKind, CellParams, GateActivation } from '../types';
import { sigmoid } from './util';

export interface TsAct {
  readonly code: number;
  readonly alpha: number;
  readonly beta: number;
  readonly f32: boolean;
}

const C = Object.fromEntries(Object.entries(ACTIVATIONS).map(([n, a]) => [n, a.code])) as Record<keyof typeof ACTIVATIONS, number>;

/** The kind's default activation of slot k. */
function defaultName(kind: CellKind, k: number): keyof typeof ACTIVATIONS {
  if (kind === 'rnn_relu') return 'relu';
  if (kind === 'rnn_tanh') return 'tanh';
  return k === 0 ? 'sigmoid' : 'tanh';
}

/** The cell's activations for the kernels, or null when every slot is the kind's default (the original code path). */
export function tsActs(p: CellParams, f32: boolean): TsAct[] | null {
  const acts = p.activations;
  if (!acts) return null;
  const isDefault = (a: GateActivation, k: number) => a.name === defaultName(p.kind, k) && a.alpha === 0 && a.beta === 0;
  if (acts.every(isDefault)) return null;
  const r = f32 ? Math.fround : (v: number) => v;
  const out = acts.map((a) => ({ code: C[a.name], alpha: r(a.alpha), beta: r(a.beta), f32 }));
  while (out.length < 3) out.push({ code: C[defaultName(p.kind, out.length)], alpha: 0, beta: 0, f32 });
  return out;
}

/** y = f(x). */
export function act(a: TsAct, v: number): number {
  switch (a.code) {
    case 0: return sigmoid(v);
    case 1: return Math.tanh(v);
    case 2: return v > 0 ? v : 0;
    case 3: { // hardSigmoid: min(max(alpha x + beta, 0), 1)
      const y = a.f32 ? Math.fround(Math.fround(a.alpha * Math.fround(v)) + a.beta) : a.alpha * v + a.beta;
      return y < 0 ? 0 : y > 1 ? 1 : y;
    }
    case 4: return a.f32 ? Math.fround(Math.fround(a.alpha * Math.fround(v)) + a.beta) : a.alpha * v + a.beta; // affine
    case 5: return v < 0 ? a.alpha * v : v; // leakyRelu
    case 6: return a.alpha < v ? v : 0; // thresholdedRelu
    case 7: return a.alpha * Math.tanh(a.beta * v); // scaledTanh
    case 8: return v < 0 ? a.alpha * Math.expm1(v) : v; // elu
    case 9: return v / (1 + Math.abs(v)); // softsign
    case 10: return Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))); // softplus, no overflow
    default: throw new RangeError(`ts backend: activation code ${a.code}`);
  }
}

/** f'(x), from y = f(x). */
export function actD(a: TsAct, y: number): number {
  switch (a.code) {
    case 0: return y * (1 - y);
    case 1: return 1 - y * y;
    case 2: return y > 0 ? 1 : 0;
    case 3: return y > 0 && y < 1 ? a.alpha : 0;
    case 4: return a.alpha;
    case 5: return y > 0 ? 1 : a.alpha;
    case 6: return y !== 0 ? 1 : 0;
    case 7: { // alpha beta (1 - (y/alpha)^2)
      if (a.alpha === 0) return 0;
      const t = y / a.alpha;
      return a.alpha * a.beta * (1 - t * t);
    }
    case 8: return y > 0 ? 1 : y + a.alpha;
    case 9: return (1 - Math.abs(y)) * (1 - Math.abs(y));
    case 10: return -Math.expm1(-y);
    default: throw new RangeError(`ts backend: activation code ${a.code}`);
  }
}
