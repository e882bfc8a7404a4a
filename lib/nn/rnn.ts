// RNN: torch.nn.RNN (Elman) semantics and parameter names: h' = f(W_ih x + b_ih + W_hh h + b_hh)
// with f = tanh (default) or relu. The kind is cell-kinds/rnn.ts, the shared machinery recurrent.ts.

import { rnnCell, type RnnSettings } from './cell-kinds/rnn';
import { Recurrent, type RecurrentOptions } from './recurrent';

/** RNN construction options: the common ones and the nonlinearity. */
export interface RNNOptions extends RecurrentOptions {
  /**
   * f in h' = f(W_ih x + b_ih + W_hh h + b_hh).
   * @default 'tanh'
   */
  nonlinearity?: 'tanh' | 'relu';
}

/**
 * Elman RNN, torch.nn.RNN's semantics, parameter names (weight_ih_l{k} [H, I], weight_hh_l{k}
 * [H, H]) and shapes: h' = f(W_ih x + b_ih + W_hh h + b_hh); no cell state.
 */
export class RNN extends Recurrent<RnnSettings> {
  /** The activation f when it is plain 'tanh' or 'relu'; null for another (see `activations`). */
  readonly nonlinearity: 'tanh' | 'relu' | null;

  constructor(options: RNNOptions) {
    super(options, rnnCell);
    this.nonlinearity = this.settings.nonlinearity;
  }
}
