// LayerNormLSTM: the layer-normalised LSTM of TF Addons' LayerNormLSTMCell (Ba, Kiros & Hinton
// 2016) with torch.nn.LSTM's shapes, gate order (i, f, g, o), options (layers, bidirectional,
// batchFirst, lengths, dropout, clip) and parameter names, plus the layer norms' gains and biases
// ln_{ih,hh}_{weight,bias}_l{k} [4H] and ln_c_{weight,bias}_l{k} [H]. The kind is
// cell-kinds/lnlstm.ts, the shared machinery recurrent.ts; equations in docs/equations.md.
//
//   normEpsilon  1e-3 (default, TF Addons) or 1e-5 (PyTorch's LayerNorm)

import type { Tensor } from '../tensor';
import { lnLstmCell, type LnLstmSettings } from './cell-kinds/lnlstm';
import type { LSTMForwardOptions, LSTMGradients, LSTMGradOutputs, LSTMOutput, LSTMStepResult, LSTMTrainOutput } from './lstm';
import { Recurrent, RecurrentCache, type RecurrentOptions, type StepState } from './recurrent';

/** Options of LayerNormLSTM: those of every recurrent layer, plus the layer norms' epsilon. */
export interface LayerNormLSTMOptions extends RecurrentOptions {
  /**
   * The epsilon of every layer norm: 1e-3 (TF Addons' LayerNormLSTMCell) or 1e-5 (PyTorch's LayerNorm).
   * @default 1e-3
   */
  normEpsilon?: 1e-3 | 1e-5;
  /**
   * Initial forget-gate bias, as LSTMOptions.forgetBias: the f rows of bias_ih start at this value
   * and those of bias_hh at 0, added after the input and recurrent layer norms. Only the initial
   * values; null for PyTorch's uniform draw. Needs bias; not with chronoInit.
   * @default null
   */
  forgetBias?: number | null;
  /**
   * Chrono initialisation for dependencies up to Tmax steps (> 2), as LSTMOptions.chronoInit: per
   * unit, b_f = log(u) with u ~ U(1, Tmax - 1) and b_i = -b_f, in bias_ih. Only the initial
   * values; null for none. Needs bias; not with forgetBias.
   * @default null
   */
  chronoInit?: number | null;
}

/**
 * The layer-normalised LSTM (TF Addons' LayerNormLSTMCell; Ba, Kiros & Hinton 2016): layer norms on
 * the input and recurrent pre-activations and on the cell state, with learnable gains and biases.
 * Shapes, options and outputs as LSTM's; equations in docs/equations.md.
 */
export class LayerNormLSTM extends Recurrent<LnLstmSettings> {
  constructor(options: LayerNormLSTMOptions) {
    super(options, lnLstmCell);
  }

  /** The layer norms' epsilon (LayerNormLSTMOptions.normEpsilon). */
  get normEpsilon(): number { return this.settings.normEpsilon; }

  override forward(x: Tensor, options?: LSTMForwardOptions): LSTMOutput {
    return super.forward(x, options) as LSTMOutput;
  }
  override forwardAsync(x: Tensor, options?: LSTMForwardOptions): Promise<LSTMOutput> {
    return super.forwardAsync(x, options) as Promise<LSTMOutput>;
  }
  override forwardTrain(x: Tensor, options?: LSTMForwardOptions): LSTMTrainOutput {
    return super.forwardTrain(x, options) as LSTMTrainOutput;
  }
  override forwardTrainAsync(x: Tensor, options?: LSTMForwardOptions): Promise<LSTMTrainOutput> {
    return super.forwardTrainAsync(x, options) as Promise<LSTMTrainOutput>;
  }
  override backward(cache: RecurrentCache, gradOutputs?: LSTMGradOutputs): LSTMGradients {
    return super.backward(cache, gradOutputs) as LSTMGradients;
  }
  override backwardAsync(cache: RecurrentCache, gradOutputs?: LSTMGradOutputs): Promise<LSTMGradients> {
    return super.backwardAsync(cache, gradOutputs) as Promise<LSTMGradients>;
  }
  override step(x: Tensor, state?: StepState | null): LSTMStepResult {
    return super.step(x, state) as LSTMStepResult;
  }
}
