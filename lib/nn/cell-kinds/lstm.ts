// The LSTM cell kind (kind.ts): gates i, f, g, o and a cell state, with the ONNX options PyTorch
// lacks. Kernels: lib/backend/ts/lstm.ts, native/cell/lstm_cell.cc (and native/lstm/, the fused
// plain LSTM); equations: docs/equations.md (LSTM forward, backward, variants).
//
//   projSize     h = weight_hr · (o * tanh(c)), weight_hr [P, H] (PyTorch's proj_size)
//   peephole     ONNX peepholes: i and f see c_{t-1}, o sees c_t; peephole_{i,f,o} [H]
//   inputForget  coupled input-forget gate, f = 1 - i (the f rows of the weights are unused)
//   forgetBias, chronoInit  the initial forget-gate biases (forget-init.ts; not with inputForget)
//   activations  ONNX's [f, g, h]: f on i, f, o; g on the candidate; h on c (gate-activations.ts)

import { argRangeError, argTypeError, describe } from '../../errors';
import { forgetInitConfig, initForgetBias, readForgetInit, type ForgetInit } from './forget-init';
import type { GateActivation } from '../../backend/types';
import { activationsConfig, isDefaultActivations, readActivations } from '../gate-activations';
import { optionalBool } from '../options';
import type { CellDescriptor } from './kind';

export interface LstmSettings extends ForgetInit {
  projSize: number; // 0 = none
  peephole: boolean;
  inputForget: boolean;
  activations: GateActivation[]; // [f, g, h]
}

const DEFAULT_ACTS = ['sigmoid', 'tanh', 'tanh'] as const;

const PEEPHOLES = ['i', 'f', 'o'] as const;

export const lstmCell: CellDescriptor<LstmSettings> = {
  name: 'LSTM',
  optionKeys: ['projSize', 'peephole', 'inputForget', 'forgetBias', 'chronoInit', 'activations'],
  hasCellState: true,
  read(o) {
    let projSize = 0;
    if (o.projSize !== undefined && o.projSize !== 0) {
      if (typeof o.projSize !== 'number') throw argTypeError('LSTM', 'projSize', 'a non-negative integer', o.projSize);
      if (!Number.isSafeInteger(o.projSize) || o.projSize < 0) throw argRangeError('LSTM', 'projSize', 'a non-negative integer', describe(o.projSize));
      projSize = o.projSize;
    }
    const { forgetBias, chronoInit } = readForgetInit('LSTM', o);
    const inputForget = optionalBool('LSTM', 'inputForget', o.inputForget, false);
    if (inputForget && (forgetBias !== null || chronoInit !== null)) {
      throw argTypeError('LSTM', forgetBias !== null ? 'forgetBias' : 'chronoInit', 'null with inputForget (a coupled gate f = 1 - i has no forget-gate bias of its own)', forgetBias ?? chronoInit);
    }
    return {
      projSize,
      peephole: optionalBool('LSTM', 'peephole', o.peephole, false),
      inputForget,
      forgetBias,
      chronoInit,
      activations: readActivations('LSTM', o.activations, ['f', 'g', 'h'], DEFAULT_ACTS),
    };
  },
  validate(s, hiddenSize) {
    if (s.projSize && s.projSize >= hiddenSize) {
      throw argRangeError('LSTM', 'projSize', `a positive integer below hiddenSize (${hiddenSize})`, describe(s.projSize));
    }
  },
  kind: () => 'lstm',
  outSize: (s, H) => s.projSize || H,
  outSizeOption: (s) => (s.projSize ? 'projSize' : 'hiddenSize'),
  extraParams(s, H, P) {
    const specs: { name: string; shape: number[] }[] = [];
    if (s.projSize) specs.push({ name: 'weight_hr', shape: [P, H] });
    if (s.peephole) for (const g of PEEPHOLES) specs.push({ name: `peephole_${g}`, shape: [H] });
    return specs;
  },
  params: (s, get) => ({
    kind: 'lstm',
    projSize: s.projSize,
    weightHr: s.projSize ? get('weight_hr') : null,
    peephole: s.peephole ? { i: get('peephole_i'), f: get('peephole_f'), o: get('peephole_o') } : null,
    inputForget: s.inputForget,
    linearBeforeReset: true, // not an LSTM option; the value every non-GRU kind has always passed
    flags: { peephole: s.peephole, inputForget: s.inputForget },
    activations: s.activations,
  }),
  grads: (s, get) => ({
    dWeightHr: s.projSize ? get('weight_hr') : null,
    dPeephole: s.peephole ? { i: get('peephole_i'), f: get('peephole_f'), o: get('peephole_o') } : null,
  }),
  activations: (s) => s.activations,
  config(s) {
    const out: { projSize?: number; peephole?: boolean; inputForget?: boolean; forgetBias?: number; chronoInit?: number; activations?: unknown } = {};
    if (s.projSize) out.projSize = s.projSize;
    if (s.peephole) out.peephole = true;
    if (s.inputForget) out.inputForget = true;
    Object.assign(out, forgetInitConfig(s));
    if (!isDefaultActivations(s.activations, DEFAULT_ACTS)) out.activations = activationsConfig(s.activations);
    return out;
  },
  init: (s, H, get, rng) => initForgetBias('LSTM', s, H, get, rng),
};
