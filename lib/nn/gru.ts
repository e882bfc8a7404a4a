// GRU: torch.nn.GRU semantics, parameter names, shapes and gate order (r, z, n). The kind
// (options, parameters) is cell-kinds/gru.ts, the shared machinery recurrent.ts; equations in
// docs/equations.md.
//
//   linearBeforeReset  true (default, PyTorch = ONNX linear_before_reset=1): n = tanh(W_in x + b_in
//                      + r * (W_hn h + b_hn));  false (ONNX default): n = tanh(W_in x + b_in
//                      + W_hn (r * h) + b_hn)
//   clip               every gate pre-activation bounded to [-clip, clip] (ONNX)

import { gruCell, type GruSettings } from './cell-kinds/gru';
import { Recurrent, type RecurrentOptions } from './recurrent';

export interface GRUOptions extends RecurrentOptions {
  linearBeforeReset?: boolean; // default true
}

export class GRU extends Recurrent<GruSettings> {
  constructor(options: GRUOptions) {
    super(options, gruCell);
  }

  get linearBeforeReset(): boolean { return this.settings.linearBeforeReset; }
}
