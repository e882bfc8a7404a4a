// LSTM: torch.nn.LSTM semantics, parameter names, shapes and gate order (i, f, g, o), plus the
// ONNX LSTM options PyTorch lacks. The kind (options, parameters) is cell-kinds/lstm.ts, the shared
// machinery recurrent.ts; equations in docs/equations.md. This file is the typed public class.
//
//   projSize     h = weight_hr · (o * tanh(c)), weight_hr_l{k} [P, H] (PyTorch's proj_size)
//   peephole     ONNX peepholes: i and f see c_{t-1}, o sees c_t; peephole_{i,f,o}_l{k} [H]
//   inputForget  coupled input-forget gate, f = 1 - i (the f rows of the weights are unused)
//   clip         every gate pre-activation bounded to [-clip, clip] (never the cell state)

import type { Tensor } from '../tensor';
import { lstmCell, type LstmSettings } from './cell-kinds/lstm';
import { Recurrent, RecurrentCache, type ForwardOptions, type GradOutputs, type RecurrentGradients, type RecurrentOptions, type StepState } from './recurrent';

/** LSTM construction options: the common ones and the LSTM's own (PyTorch's proj_size, ONNX's peepholes and input_forget). */
export interface LSTMOptions extends RecurrentOptions {
  /**
   * Projection size P (PyTorch's proj_size): h = weight_hr · (o * tanh(c)), weight_hr_l{k} [P, H],
   * so h, hN and output have P units per direction; 0 for none. Less than hiddenSize.
   * @default 0
   */
  projSize?: number;
  /**
   * ONNX peepholes: the i and f gates see c_{t-1}, o sees c_t, through peephole_{i,f,o}_l{k} [H].
   * @default false
   */
  peephole?: boolean;
  /**
   * ONNX input_forget: a coupled gate, f = 1 - i (the f rows of the weights are unused).
   * @default false
   */
  inputForget?: boolean;
  /**
   * Initial forget-gate bias (Gers et al. 2000; Jozefowicz et al. 2015 recommend 1): the f rows
   * of bias_ih start at this value and those of bias_hh at 0, so b_f = b_ih + b_hh = forgetBias.
   * Only the initial values; null for PyTorch's uniform draw. Needs bias; not with inputForget
   * or chronoInit.
   * @default null
   */
  forgetBias?: number | null;
  /**
   * Chrono initialisation (Tallec & Ollivier 2018) for dependencies up to Tmax steps (> 2): per
   * unit, b_f = log(u) with u ~ U(1, Tmax - 1) and b_i = -b_f, in bias_ih (those rows of bias_hh
   * start at 0). Only the initial values; null for none. Needs bias; not with inputForget or
   * forgetBias.
   * @default null
   */
  chronoInit?: number | null;
}

/** Options of an LSTM forward: h0, c0, lengths (see ForwardOptions). */
export type LSTMForwardOptions = ForwardOptions;
/** What an LSTM forward returns: RecurrentOutput with the cell state always present. */
export interface LSTMOutput {
  /** The last layer's hidden state at every step, [T, B, D*Hout] ([B, T, D*Hout] with batchFirst). */
  output: Tensor;
  /** Final hidden states, [L*D, B, Hout] (Hout = projSize || hiddenSize). */
  hN: Tensor;
  /** Final cell states, [L*D, B, H]. */
  cN: Tensor;
}
/** The loss's gradients with respect to an LSTM forward's outputs (see GradOutputs). */
export type LSTMGradOutputs = GradOutputs;
/** What LSTM backward returns: RecurrentGradients with ∂loss/∂c0 always present. */
export interface LSTMGradients extends RecurrentGradients {
  /** ∂loss/∂c0, [L*D, B, H]. */
  dC0: Tensor;
}
export { RecurrentCache as LSTMCache };

/** What forwardTrain returns for an LSTM-family layer: its outputs and what backward needs. */
export type LSTMTrainOutput = LSTMOutput & {
  /** What backward needs; stale once the weights or backend change. */
  cache: RecurrentCache;
};

/** What step returns for an LSTM-family layer. */
export interface LSTMStepResult {
  /** The last layer's hidden state after this step, [B, Hout]. */
  output: Tensor;
  /** The state to pass to the next step (h and c). */
  state: Required<StepState>;
}

/**
 * Long short-term memory, torch.nn.LSTM's semantics, parameter names (weight_ih_l{k} [4H, I],
 * weight_hh_l{k} [4H, Hout], bias_ih_l{k}, bias_hh_l{k} [4H], gate order i, f, g, o) and shapes,
 * plus ONNX's peepholes, input_forget and clip. Equations in docs/equations.md.
 *
 * @example
 * ```ts
 * const lstm = new LSTM({ inputSize: 8, hiddenSize: 16, numLayers: 2, batchFirst: true });
 * const { output, hN, cN } = lstm.forward(x); // x [B, T, 8] -> output [B, T, 16], hN and cN [2, B, 16]
 * ```
 */
export class LSTM extends Recurrent<LstmSettings> {
  constructor(options: LSTMOptions) {
    super(options, lstmCell);
  }

  /** Projection size P, or 0 for none (LSTMOptions.projSize). */
  get projSize(): number { return this.settings.projSize; }
  /** Whether the gates have ONNX peepholes. */
  get peephole(): boolean { return this.settings.peephole; }
  /** Whether the forget gate is coupled, f = 1 - i. */
  get inputForget(): boolean { return this.settings.inputForget; }

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
