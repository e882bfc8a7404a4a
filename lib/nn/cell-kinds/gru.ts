// The GRU cell kind (kind.ts): gates r, z, n, no cell state. Kernels: lib/backend/ts/gru.ts,
// native/cell/gru_cell.cc; equations: docs/equations.md (GRU).
//
//   linearBeforeReset  true (default, PyTorch = ONNX linear_before_reset=1): n = tanh(W_in x + b_in
//                      + r * (W_hn h + b_hn));  false (ONNX default): n = tanh(W_in x + b_in
//                      + W_hn (r * h) + b_hn)

import { optionalBool } from '../options';
import type { CellDescriptor } from './kind';

export interface GruSettings {
  linearBeforeReset: boolean;
}

export const gruCell: CellDescriptor<GruSettings> = {
  name: 'GRU',
  optionKeys: ['linearBeforeReset'],
  hasCellState: false,
  read: (o) => ({ linearBeforeReset: optionalBool('GRU', 'linearBeforeReset', o.linearBeforeReset, true) }),
  validate: () => {},
  kind: () => 'gru',
  outSize: (_s, H) => H,
  outSizeOption: () => 'hiddenSize',
  extraParams: () => [],
  params: (s) => ({ kind: 'gru', projSize: 0, weightHr: null, peephole: null, inputForget: false, linearBeforeReset: s.linearBeforeReset,
    flags: { linearBeforeReset: s.linearBeforeReset } }),
  grads: () => ({ dWeightHr: null, dPeephole: null }),
  config: (s) => (s.linearBeforeReset ? {} : { linearBeforeReset: false }),
};
