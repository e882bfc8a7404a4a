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

/** GRU construction options: the common ones and linearBeforeReset. */
export interface GRUOptions extends RecurrentOptions {
  /**
   * true (PyTorch; ONNX linear_before_reset=1): n = tanh(W_in x + b_in + r * (W_hn h + b_hn));
   * false (ONNX's default): n = tanh(W_in x + b_in + W_hn (r * h) + b_hn).
   * @default true
   */
  linearBeforeReset?: boolean;
}

/**
 * Gated recurrent unit, torch.nn.GRU's semantics, parameter names (weight_ih_l{k} [3H, I],
 * weight_hh_l{k} [3H, H], gate order r, z, n) and shapes; no cell state. Equations in
 * docs/equations.md.
 */
export class GRU extends Recurrent<GruSettings> {
  constructor(options: GRUOptions) {
    super(options, gruCell);
  }

  /** Where the reset gate applies (GRUOptions.linearBeforeReset). */
  get linearBeforeReset(): boolean { return this.settings.linearBeforeReset; }
}
