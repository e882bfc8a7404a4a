// The LSTM cell kind (kind.ts): gates i, f, g, o and a cell state, with the ONNX options PyTorch
// lacks. Kernels: lib/backend/ts/lstm.ts, native/cell/lstm_cell.cc (and native/lstm/, the fused
// plain LSTM); equations: docs/equations.md (LSTM forward, backward, variants).
//
//   projSize     h = weight_hr · (o * tanh(c)), weight_hr [P, H] (PyTorch's proj_size)
//   peephole     ONNX peepholes: i and f see c_{t-1}, o sees c_t; peephole_{i,f,o} [H]
//   inputForget  coupled input-forget gate, f = 1 - i (the f rows of the weights are unused)
//   forgetBias   initial forget-gate bias b_f = value (Gers et al. 2000; Jozefowicz et al. 2015)
//   chronoInit   chrono initialisation for dependencies up to Tmax steps (Tallec & Ollivier 2018):
//                b_f = log(u), u ~ U(1, Tmax - 1), and b_i = -b_f, per unit
// Both set the sum b_ih + b_hh of the rows they name: the value goes into bias_ih, those rows of
// bias_hh start at 0. They decide only the initial values, so they do not change a model file's
// weights; they stay in its config to say how it began.
//   activations  ONNX's [f, g, h]: f on i, f, o; g on the candidate; h on c (gate-activations.ts)

import { argRangeError, argTypeError, describe } from '../../errors';
import type { GateActivation } from '../../backend/types';
import { activationsConfig, isDefaultActivations, readActivations } from '../gate-activations';
import { optionalBool } from '../options';
import type { CellDescriptor } from './kind';

export interface LstmSettings {
  projSize: number; // 0 = none
  peephole: boolean;
  inputForget: boolean;
  forgetBias: number | null;
  chronoInit: number | null; // Tmax
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
    let forgetBias: number | null = null, chronoInit: number | null = null;
    if (o.forgetBias !== undefined && o.forgetBias !== null) {
      if (typeof o.forgetBias !== 'number') throw argTypeError('LSTM', 'forgetBias', 'a finite number (the initial forget-gate bias) or null', o.forgetBias);
      if (!Number.isFinite(o.forgetBias)) throw argRangeError('LSTM', 'forgetBias', 'a finite number', describe(o.forgetBias));
      forgetBias = o.forgetBias;
    }
    if (o.chronoInit !== undefined && o.chronoInit !== null) {
      if (typeof o.chronoInit !== 'number') throw argTypeError('LSTM', 'chronoInit', 'a number Tmax > 2 (the longest dependency, in steps) or null', o.chronoInit);
      if (!(o.chronoInit > 2 && Number.isFinite(o.chronoInit))) throw argRangeError('LSTM', 'chronoInit', 'a finite number Tmax > 2 (b_f = log U(1, Tmax - 1))', describe(o.chronoInit));
      chronoInit = o.chronoInit;
    }
    if (forgetBias !== null && chronoInit !== null) throw argTypeError('LSTM', 'chronoInit', 'null when forgetBias is given (both set the forget-gate bias)', chronoInit);
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
    if (s.forgetBias !== null) out.forgetBias = s.forgetBias;
    if (s.chronoInit !== null) out.chronoInit = s.chronoInit;
    if (!isDefaultActivations(s.activations, DEFAULT_ACTS)) out.activations = activationsConfig(s.activations);
    return out;
  },
  init(s, H, get, rng) {
    if (s.forgetBias === null && s.chronoInit === null) return;
    const bIh = get('bias_ih'), bHh = get('bias_hh');
    if (!bIh || !bHh) throw argTypeError('LSTM', s.forgetBias !== null ? 'forgetBias' : 'chronoInit', 'null when bias is false (there is no bias to set)', s.forgetBias ?? s.chronoInit);
    // Gate rows: i [0, H), f [H, 2H) (PyTorch order i, f, g, o).
    for (let j = 0; j < H; j++) {
      const bf = s.forgetBias ?? Math.log(rng.uniform(1, s.chronoInit! - 1));
      bIh[H + j] = bf;
      bHh[H + j] = 0;
      if (s.chronoInit !== null) {
        bIh[j] = -bf;
        bHh[j] = 0;
      }
    }
  },
};
