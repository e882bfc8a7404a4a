// The GRU cell kind (kind.ts): gates r, z, n, no cell state. Kernels: lib/backend/ts/gru.ts,
// native/cell/gru_cell.cc; equations: docs/equations.md (GRU).
//
//   linearBeforeReset  true (default, PyTorch = ONNX linear_before_reset=1): n = tanh(W_in x + b_in
//                      + r * (W_hn h + b_hn));  false (ONNX default): n = tanh(W_in x + b_in
//                      + W_hn (r * h) + b_hn)

import type { GateActivation } from '../../backend/types';
import { activationsConfig, isDefaultActivations, readActivations } from '../gate-activations';
import { optionalBool } from '../options';
import type { CellDescriptor } from './kind';

export interface GruSettings {
  linearBeforeReset: boolean;
  activations: GateActivation[]; // ONNX's [f, g]: f on r and z, g on the candidate n
}

const DEFAULT_ACTS = ['sigmoid', 'tanh'] as const;

export const gruCell: CellDescriptor<GruSettings> = {
  name: 'GRU',
  optionKeys: ['linearBeforeReset', 'activations'],
  hasCellState: false,
  read: (o) => ({
    linearBeforeReset: optionalBool('GRU', 'linearBeforeReset', o.linearBeforeReset, true),
    activations: readActivations('GRU', o.activations, ['f', 'g'], DEFAULT_ACTS),
  }),
  validate: () => {},
  kind: () => 'gru',
  outSize: (_s, H) => H,
  outSizeOption: () => 'hiddenSize',
  extraParams: () => [],
  params: (s) => ({ kind: 'gru', projSize: 0, weightHr: null, peephole: null, inputForget: false, linearBeforeReset: s.linearBeforeReset,
    flags: { linearBeforeReset: s.linearBeforeReset }, activations: s.activations }),
  grads: () => ({ dWeightHr: null, dPeephole: null }),
  activations: (s) => s.activations,
  config: (s) => ({
    ...(s.linearBeforeReset ? {} : { linearBeforeReset: false }),
    ...(isDefaultActivations(s.activations, DEFAULT_ACTS) ? {} : { activations: activationsConfig(s.activations) }),
  }),
};
