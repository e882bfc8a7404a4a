// The gate activations of a cell as they cross to the addon and the wasm module: three slots of
// (code, alpha, beta) (cellPrepare's act0..beta2, scripts/addon-schema.js), the slots a kind does
// not use, and an absent CellParams.activations, at the kind's defaults.

import { ACTIVATIONS } from './schema.gen';
import type { CellKind, CellParams } from './types';

function defaultCode(kind: CellKind, k: number): number {
  if (kind === 'rnn_relu') return ACTIVATIONS.relu.code;
  if (kind === 'rnn_tanh') return ACTIVATIONS.tanh.code;
  return k === 0 ? ACTIVATIONS.sigmoid.code : ACTIVATIONS.tanh.code;
}

/** [code0, alpha0, beta0, code1, alpha1, beta1, code2, alpha2, beta2]. */
export function actTriples(p: CellParams): number[] {
  const out: number[] = [];
  for (let k = 0; k < 3; k++) {
    const a = p.activations?.[k];
    out.push(a ? ACTIVATIONS[a.name].code : defaultCode(p.kind, k), a ? a.alpha : 0, a ? a.beta : 0);
  }
  return out;
}

/** The same as cellPrepare's header fields. */
export function actHeader(p: CellParams): { act0: number; alpha0: number; beta0: number; act1: number; alpha1: number; beta1: number; act2: number; alpha2: number; beta2: number } {
  const t = actTriples(p);
  return { act0: t[0], alpha0: t[1], beta0: t[2], act1: t[3], alpha1: t[4], beta1: t[5], act2: t[6], alpha2: t[7], beta2: t[8] };
}
