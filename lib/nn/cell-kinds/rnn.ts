// The Elman RNN cell kind (kind.ts): one gate block, h' = f(W_ih x + b_ih + W_hh h + b_hh) with
// f = tanh (default) or relu, no cell state. Kernels: lib/backend/ts/rnn.ts,
// native/cell/rnn_cell.cc; equations: docs/equations.md (RNN).

import { oneOf } from '../options';
import type { CellDescriptor } from './kind';

export interface RnnSettings {
  nonlinearity: 'tanh' | 'relu';
}

export const rnnCell: CellDescriptor<RnnSettings> = {
  name: 'RNN',
  optionKeys: ['nonlinearity'],
  hasCellState: false,
  read: (o) => ({ nonlinearity: oneOf('RNN', 'nonlinearity', o.nonlinearity, ['tanh', 'relu'] as const, 'tanh') }),
  validate: () => {},
  kind: (s) => (s.nonlinearity === 'tanh' ? 'rnn_tanh' : 'rnn_relu'),
  outSize: (_s, H) => H,
  outSizeOption: () => 'hiddenSize',
  extraParams: () => [],
  params: (s) => ({
    kind: s.nonlinearity === 'tanh' ? 'rnn_tanh' : 'rnn_relu', projSize: 0, weightHr: null, peephole: null, inputForget: false,
    linearBeforeReset: true, // not an RNN option; the value every non-GRU kind has always passed
    flags: {},
  }),
  grads: () => ({ dWeightHr: null, dPeephole: null }),
  config: (s) => (s.nonlinearity === 'relu' ? { nonlinearity: 'relu' } : {}),
};
