// The forget-gate bias initialisations the LSTM family shares (LSTM, LayerNormLSTM):
//   forgetBias   initial forget-gate bias b_f = value (Gers et al. 2000; Jozefowicz et al. 2015)
//   chronoInit   chrono initialisation for dependencies up to Tmax steps (Tallec & Ollivier 2018):
//                b_f = log(u), u ~ U(1, Tmax - 1), and b_i = -b_f, per unit
// Both set the sum b_ih + b_hh of the rows they name: the value goes into bias_ih, those rows of
// bias_hh start at 0. They decide only the initial values, so they do not change a model file's
// weights; they stay in its config to say how it began. Gate rows in PyTorch's order i, f, g, o.

import { argRangeError, argTypeError, describe } from '../../errors';
import type { FloatArray } from '../../tensor';

export interface ForgetInit {
  forgetBias: number | null;
  chronoInit: number | null; // Tmax
}

/** Reads and checks forgetBias / chronoInit (at most one of them) for the kind `where`. */
export function readForgetInit(where: string, o: { forgetBias?: unknown; chronoInit?: unknown }): ForgetInit {
  let forgetBias: number | null = null, chronoInit: number | null = null;
  if (o.forgetBias !== undefined && o.forgetBias !== null) {
    if (typeof o.forgetBias !== 'number') throw argTypeError(where, 'forgetBias', 'a finite number (the initial forget-gate bias) or null', o.forgetBias);
    if (!Number.isFinite(o.forgetBias)) throw argRangeError(where, 'forgetBias', 'a finite number', describe(o.forgetBias));
    forgetBias = o.forgetBias;
  }
  if (o.chronoInit !== undefined && o.chronoInit !== null) {
    if (typeof o.chronoInit !== 'number') throw argTypeError(where, 'chronoInit', 'a number Tmax > 2 (the longest dependency, in steps) or null', o.chronoInit);
    if (!(o.chronoInit > 2 && Number.isFinite(o.chronoInit))) throw argRangeError(where, 'chronoInit', 'a finite number Tmax > 2 (b_f = log U(1, Tmax - 1))', describe(o.chronoInit));
    chronoInit = o.chronoInit;
  }
  if (forgetBias !== null && chronoInit !== null) throw argTypeError(where, 'chronoInit', 'null when forgetBias is given (both set the forget-gate bias)', chronoInit);
  return { forgetBias, chronoInit };
}

/** The config entries of a model file (only the options that are set). */
export function forgetInitConfig(s: ForgetInit): { forgetBias?: number; chronoInit?: number } {
  const out: { forgetBias?: number; chronoInit?: number } = {};
  if (s.forgetBias !== null) out.forgetBias = s.forgetBias;
  if (s.chronoInit !== null) out.chronoInit = s.chronoInit;
  return out;
}

/** Sets one layer-direction's initial i and f biases after the uniform draw (nothing if neither option is set). */
export function initForgetBias(where: string, s: ForgetInit, H: number, get: (name: string) => FloatArray | null, rng: { uniform(lo: number, hi: number): number }): void {
  if (s.forgetBias === null && s.chronoInit === null) return;
  const bIh = get('bias_ih'), bHh = get('bias_hh');
  if (!bIh || !bHh) throw argTypeError(where, s.forgetBias !== null ? 'forgetBias' : 'chronoInit', 'null when bias is false (there is no bias to set)', s.forgetBias ?? s.chronoInit);
  // Gate rows: i [0, H), f [H, 2H).
  for (let j = 0; j < H; j++) {
    const bf = s.forgetBias ?? Math.log(rng.uniform(1, s.chronoInit! - 1));
    bIh[H + j] = bf;
    bHh[H + j] = 0;
    if (s.chronoInit !== null) {
      bIh[j] = -bf;
      bHh[j] = 0;
    }
  }
}
