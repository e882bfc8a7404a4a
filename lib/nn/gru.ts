// GRU: torch.nn.GRU semantics, parameter names, shapes and gate order (r, z, n). The shared
// machinery is in recurrent.ts; equations in docs/equations.md.
//
//   linearBeforeReset  true (default, PyTorch = ONNX linear_before_reset=1): n = tanh(W_in x + b_in
//                      + r * (W_hn h + b_hn));  false (ONNX default): n = tanh(W_in x + b_in
//                      + W_hn (r * h) + b_hn)
//   clip               every gate pre-activation bounded to [-clip, clip] (ONNX)

import { optionalBool } from './options';
import { Recurrent, type RecurrentOptions } from './recurrent';

export interface GRUOptions extends RecurrentOptions {
  linearBeforeReset?: boolean; // default true
}

export class GRU extends Recurrent {
  constructor(options: GRUOptions) {
    super(options, ['linearBeforeReset'], (o) => ({
      name: 'GRU', kind: 'gru', linearBeforeReset: optionalBool('GRU', 'linearBeforeReset', o.linearBeforeReset, true),
    }));
  }

  get linearBeforeReset(): boolean { return this.cell.linearBeforeReset; }
}
