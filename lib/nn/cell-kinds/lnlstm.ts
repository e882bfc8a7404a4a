// The layer-normalised LSTM cell kind (kind.ts), TF Addons' LayerNormLSTMCell (Ba, Kiros & Hinton
// 2016): gates i, f, g, o from LN(W_ih x) + LN(W_hh h) + b_ih + b_hh (each LN over all 4H
// pre-activations), and the carried cell state c_t = LN_c(f * c_{t-1} + i * g) over H. Kernels:
// lib/backend/ts/lnlstm.ts, native/cell/lnlstm_cell.cc; equations: docs/equations.md
// ("Layer-normalised LSTM").
//
//   normEpsilon  1e-3 (default, TF Addons' norm_epsilon) or 1e-5 (PyTorch's LayerNorm eps): the
//                two values cross to the addon as the kind's `torchEpsilon` flag
//   forgetBias, chronoInit  the initial forget-gate biases, as LSTM's (forget-init.ts)
// Parameters beyond the common four: ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias [4H],
// ln_c_weight, ln_c_bias [H]; the gains start at 1 and the LN biases at 0 (TF Addons' defaults).

import type { GateActivation } from '../../backend/types';
import { argRangeError, describe } from '../../errors';
import { defaultActivations, isDefaultActivations, readActivations } from '../gate-activations';
import { forgetInitConfig, initForgetBias, readForgetInit, type ForgetInit } from './forget-init';
import type { CellDescriptor } from './kind';

export interface LnLstmSettings extends ForgetInit {
  normEpsilon: 1e-3 | 1e-5;
}

const DEFAULT_ACTS = ['sigmoid', 'tanh', 'tanh'] as const;
const ACTS: readonly GateActivation[] = defaultActivations(DEFAULT_ACTS);

export const LN_EPSILONS = [1e-3, 1e-5] as const;

export const lnLstmCell: CellDescriptor<LnLstmSettings> = {
  name: 'LayerNormLSTM',
  optionKeys: ['normEpsilon', 'forgetBias', 'chronoInit', 'activations'],
  hasCellState: true,
  read(o) {
    const e = o.normEpsilon === undefined ? 1e-3 : o.normEpsilon;
    if (e !== 1e-3 && e !== 1e-5) throw argRangeError('LayerNormLSTM', 'normEpsilon', '1e-3 (TF Addons) or 1e-5 (PyTorch)', describe(e));
    // Only the default gate activations: its fused row stages (native/cell/lnlstm_kernels.h) hard-wire them.
    if (!isDefaultActivations(readActivations('LayerNormLSTM', o.activations, ['f', 'g', 'h'], DEFAULT_ACTS), DEFAULT_ACTS)) {
      throw argRangeError('LayerNormLSTM', 'activations', "the defaults ['sigmoid', 'tanh', 'tanh'] (a LayerNormLSTM has no other gate activations; LSTM has)", describe(o.activations));
    }
    return { normEpsilon: e, ...readForgetInit('LayerNormLSTM', o) };
  },
  validate: () => {},
  kind: () => 'lnlstm',
  outSize: (_s, H) => H,
  outSizeOption: () => 'hiddenSize',
  extraParams: (_s, H) => [
    { name: 'ln_ih_weight', shape: [4 * H], init: 1 }, { name: 'ln_ih_bias', shape: [4 * H], init: 0 },
    { name: 'ln_hh_weight', shape: [4 * H], init: 1 }, { name: 'ln_hh_bias', shape: [4 * H], init: 0 },
    { name: 'ln_c_weight', shape: [H], init: 1 }, { name: 'ln_c_bias', shape: [H], init: 0 },
  ],
  params: (s) => ({
    kind: 'lnlstm', projSize: 0, weightHr: null, peephole: null, inputForget: false,
    linearBeforeReset: true, // not an option of this kind; the value every non-GRU kind passes
    flags: { torchEpsilon: s.normEpsilon === 1e-5 },
    activations: ACTS,
  }),
  grads: () => ({ dWeightHr: null, dPeephole: null }),
  activations: () => ACTS,
  config: (s) => ({ ...(s.normEpsilon === 1e-3 ? {} : { normEpsilon: s.normEpsilon }), ...forgetInitConfig(s) }),
  init: (s, H, get, rng) => initForgetBias('LayerNormLSTM', s, H, get, rng),
};

/** The epsilon a prepared cell's flags select (both backends read it this way). */
export function lnEpsilon(flags: Readonly<Record<string, boolean>>): number {
  return flags.torchEpsilon ? 1e-5 : 1e-3;
}
