// RNN: torch.nn.RNN (Elman) semantics and parameter names: h' = f(W_ih x + b_ih + W_hh h + b_hh)
// with f = tanh (default) or relu. The kind is cell-kinds/rnn.ts, the shared machinery recurrent.ts.

import { rnnCell, type RnnSettings } from './cell-kinds/rnn';
import { Recurrent, type RecurrentOptions } from './recurrent';

export interface RNNOptions extends RecurrentOptions {
  nonlinearity?: 'tanh' | 'relu'; // default 'tanh'
}

export class RNN extends Recurrent<RnnSettings> {
  readonly nonlinearity: 'tanh' | 'relu';

  constructor(options: RNNOptions) {
    super(options, rnnCell);
    this.nonlinearity = this.settings.nonlinearity;
  }
}
