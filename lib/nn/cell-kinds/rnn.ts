// The Elman RNN cell kind (kind.ts): one gate block, h' = f(W_ih x + b_ih + W_hh h + b_hh) with
// f = tanh (default) or relu (`nonlinearity`), or any gate activation (`activations`: ONNX's [f],
// gate-activations.ts), no cell state. Kernels: lib/backend/ts/rnn.ts, native/cell/rnn_cell.cc;
// equations: docs/equations.md (RNN, "Gate activations").
//
// `nonlinearity` is the shorthand of activations [tanh] / [relu]; both given must agree. The
// backend kind is rnn_relu for plain relu, else rnn_tanh with its activation.

import type { GateActivation } from '../../backend/types';
import { argTypeError } from '../../errors';
import { activationsConfig, gateActivation, readActivations, sameActivation } from '../gate-activations';
import { oneOf } from '../options';
import type { CellDescriptor } from './kind';

export interface RnnSettings {
  /** 'tanh' or 'relu' when f is exactly that, else null (f is activations[0]). */
  nonlinearity: 'tanh' | 'relu' | null;
  activations: GateActivation[]; // [f]
}

const isRelu = (s: RnnSettings) => sameActivation(s.activations[0], gateActivation('relu'));

export const rnnCell: CellDescriptor<RnnSettings> = {
  name: 'RNN',
  optionKeys: ['nonlinearity', 'activations'],
  hasCellState: false,
  read: (o) => {
    const nl = o.nonlinearity === undefined ? undefined : oneOf('RNN', 'nonlinearity', o.nonlinearity, ['tanh', 'relu'] as const, 'tanh');
    const acts = readActivations('RNN', o.activations, ['f'], [nl ?? 'tanh']);
    if (nl !== undefined && o.activations !== undefined && !sameActivation(acts[0], gateActivation(nl))) {
      throw argTypeError('RNN', 'activations', `['${nl}'] (as nonlinearity '${nl}' says), or no nonlinearity`, o.activations);
    }
    const f = acts[0];
    const plain = sameActivation(f, gateActivation(f.name)) && (f.name === 'tanh' || f.name === 'relu');
    return { nonlinearity: plain ? (f.name as 'tanh' | 'relu') : null, activations: acts };
  },
  validate: () => {},
  kind: (s) => (isRelu(s) ? 'rnn_relu' : 'rnn_tanh'),
  outSize: (_s, H) => H,
  outSizeOption: () => 'hiddenSize',
  extraParams: () => [],
  params: (s) => ({
    kind: isRelu(s) ? 'rnn_relu' : 'rnn_tanh', projSize: 0, weightHr: null, peephole: null, inputForget: false,
    linearBeforeReset: true, // not an RNN option; the value every non-GRU kind has always passed
    flags: {},
    activations: s.activations,
  }),
  grads: () => ({ dWeightHr: null, dPeephole: null }),
  activations: (s) => s.activations,
  config: (s) => (s.nonlinearity === 'relu' ? { nonlinearity: 'relu' } : s.nonlinearity === 'tanh' ? {} : { activations: activationsConfig(s.activations) }),
};
