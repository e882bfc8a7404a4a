// Gate activations as options of LSTM, GRU and RNN (issue #22): ONNX's RNN activation functions,
// in ONNX's slots and meaning (LSTM [f, g, h], GRU [f, g], RNN [f]; docs/equations.md, "Gate
// activations"). This file reads and checks the option and writes it back into a config; the
// functions themselves are the backends' (lib/backend/ts/gate-act.ts, native/simd/gate_act.h).
//
// An entry is a name ('hardSigmoid') or { name, alpha?, beta? }; an omitted alpha / beta takes the
// ONNX operator's default (ONNX: "Default values are the same as of corresponding ONNX operators"):
// HardSigmoid 0.2 / 0.5 (Keras' and TF.js's hard_sigmoid), Affine 1 / 0, LeakyRelu 0.01,
// ThresholdedRelu 1, Elu 1; ScaledTanh has no operator default in ONNX and takes 1 / 1 here.

import { ACTIVATIONS } from '../backend/schema.gen';
import type { ActivationName, GateActivation } from '../backend/types';
import { argRangeError, argTypeError, describe } from '../errors';
import { readOptions } from './options';

export type { ActivationName, GateActivation };

/** One gate activation as an option: a name, or the name with ONNX's alpha / beta. */
export type ActivationOption = ActivationName | {
  /** The function. */
  name: ActivationName;
  /**
   * ONNX's alpha, for a function that reads one.
   * @default ONNX's: hardSigmoid 0.2, affine 1, leakyRelu 0.01, thresholdedRelu 1, scaledTanh 1, elu 1
   */
  alpha?: number;
  /**
   * ONNX's beta, for a function that reads one.
   * @default ONNX's: hardSigmoid 0.5, affine 0, scaledTanh 1
   */
  beta?: number;
};

/** Every activation name, in the addon's code order. */
export const ACTIVATION_NAMES = Object.keys(ACTIVATIONS) as ActivationName[];

/** ONNX's defaults of alpha and beta (0 where the function reads none). */
export const ACTIVATION_DEFAULTS: Readonly<Record<ActivationName, { alpha: number; beta: number }>> = {
  sigmoid: { alpha: 0, beta: 0 }, tanh: { alpha: 0, beta: 0 }, relu: { alpha: 0, beta: 0 },
  hardSigmoid: { alpha: 0.2, beta: 0.5 }, affine: { alpha: 1, beta: 0 }, leakyRelu: { alpha: 0.01, beta: 0 },
  thresholdedRelu: { alpha: 1, beta: 0 }, scaledTanh: { alpha: 1, beta: 1 }, elu: { alpha: 1, beta: 0 },
  softsign: { alpha: 0, beta: 0 }, softplus: { alpha: 0, beta: 0 },
};

/** The activation with its parameters resolved: ONNX's defaults for the omitted ones, 0 for those it does not read. */
export function gateActivation(name: ActivationName, alpha?: number, beta?: number): GateActivation {
  const d = ACTIVATION_DEFAULTS[name], a = ACTIVATIONS[name];
  return { name, alpha: a.alpha ? alpha ?? d.alpha : 0, beta: a.beta ? beta ?? d.beta : 0 };
}

/** The activations of a kind's slots at their defaults. */
export function defaultActivations(names: readonly ActivationName[]): GateActivation[] {
  return names.map((n) => gateActivation(n));
}

export function sameActivation(a: GateActivation, b: GateActivation): boolean {
  return a.name === b.name && a.alpha === b.alpha && a.beta === b.beta;
}

export function isDefaultActivations(acts: readonly GateActivation[], defaults: readonly ActivationName[]): boolean {
  return acts.every((a, k) => sameActivation(a, gateActivation(defaults[k])));
}

/**
 * Reads the `activations` option of `where` (a kind with slots `slots`, e.g. ['f', 'g', 'h'],
 * defaults `defaults`): undefined gives the defaults. Throws a TypeError / RangeError naming
 * `activations` or `activations[k]` (`.alpha`, `.beta`).
 */
export function readActivations(where: string, value: unknown, slots: readonly string[], defaults: readonly ActivationName[]): GateActivation[] {
  if (value === undefined) return defaultActivations(defaults);
  const n = slots.length;
  const shape = `an array of ${n} gate activation${n > 1 ? 's' : ''} [${slots.join(', ')}] (names or { name, alpha?, beta? })`;
  if (!Array.isArray(value)) throw argTypeError(where, 'activations', shape, value);
  if (value.length !== n) throw argRangeError(where, 'activations', `${n} entr${n > 1 ? 'ies' : 'y'} [${slots.join(', ')}]`, `${value.length} entries`);
  const names = `one of ${ACTIVATION_NAMES.map((x) => `'${x}'`).join(', ')}`;
  return value.map((v: unknown, k) => {
    const arg = `activations[${k}]`;
    if (typeof v === 'string') {
      if (!(ACTIVATION_NAMES as string[]).includes(v)) throw argTypeError(where, arg, names, v);
      return check(where, arg, gateActivation(v as ActivationName));
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw argTypeError(where, arg, `${names}, or { name, alpha?, beta? }`, v);
    const o = readOptions(where, arg, v, ['name', 'alpha', 'beta'], 'activation fields');
    if (typeof o.name !== 'string' || !(ACTIVATION_NAMES as string[]).includes(o.name)) throw argTypeError(where, `${arg}.name`, names, o.name);
    const name = o.name as ActivationName;
    for (const p of ['alpha', 'beta'] as const) {
      const x = o[p];
      if (x === undefined) continue;
      // 0 is what a resolved activation (a layer's `activations`) holds there: accepted, so it can be passed back.
      if (!ACTIVATIONS[name][p]) {
        if (x === 0) continue;
        throw argTypeError(where, `${arg}.${p}`, `nothing or 0 (${name} reads no ${p})`, x);
      }
      if (typeof x !== 'number') throw argTypeError(where, `${arg}.${p}`, 'a finite number', x);
      if (!Number.isFinite(x) || Math.abs(x) > 3.4028234663852886e38) throw argRangeError(where, `${arg}.${p}`, 'a finite number (float32 range)', describe(x));
    }
    return check(where, arg, gateActivation(name, o.alpha as number | undefined, o.beta as number | undefined));
  });
}

// leakyRelu and elu read their derivative from the output (docs/equations.md), which needs alpha >= 0.
function check(where: string, arg: string, a: GateActivation): GateActivation {
  if ((a.name === 'leakyRelu' || a.name === 'elu') && !(a.alpha >= 0)) {
    throw argRangeError(where, `${arg}.alpha`, `a number >= 0 for ${a.name} (its derivative is read from the output)`, describe(a.alpha));
  }
  return a;
}

/** The option as a config writes it: a name where alpha / beta are ONNX's defaults, else { name, alpha?, beta? }. */
export function activationsConfig(acts: readonly GateActivation[]): ActivationOption[] {
  return acts.map((a) => {
    if (sameActivation(a, gateActivation(a.name))) return a.name;
    const out: { name: ActivationName; alpha?: number; beta?: number } = { name: a.name };
    if (ACTIVATIONS[a.name].alpha) out.alpha = a.alpha;
    if (ACTIVATIONS[a.name].beta) out.beta = a.beta;
    return out;
  });
}
