// RNN: torch.nn.RNN (Elman) semantics and parameter names: h' = f(W_ih x + b_ih + W_hh h + b_hh)
// with f = tanh (default) or relu. The shared machinery is in recurrent.ts.

import { oneOf } from './options';
import { Recurrent, type RecurrentOptions } from './recurrent';

export interface RNNOptions extends RecurrentOptions {
  nonlinearity?: 'tanh' | 'relu'; // default 'tanh'
}

export class RNN extends Recurrent {
  readonly nonlinearity: 'tanh' | 'relu';

  constructor(options: RNNOptions) {
    let nl: 'tanh' | 'relu' = 'tanh';
    super(options, ['nonlinearity'], (o) => {
      nl = oneOf('RNN', 'nonlinearity', o.nonlinearity, ['tanh', 'relu'] as const, 'tanh');
      return { name: 'RNN', kind: nl === 'tanh' ? 'rnn_tanh' : 'rnn_relu' };
    });
    this.nonlinearity = nl;
  }
}
