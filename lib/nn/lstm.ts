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

export interface LSTMOptions extends RecurrentOptions {
  projSize?: number; // default 0 (none)
  peephole?: boolean; // default false
  inputForget?: boolean; // default false
}

export type LSTMForwardOptions = ForwardOptions;
export interface LSTMOutput { output: Tensor; hN: Tensor; cN: Tensor }
export type LSTMGradOutputs = GradOutputs;
export interface LSTMGradients extends RecurrentGradients { dC0: Tensor }
export { RecurrentCache as LSTMCache };

export class LSTM extends Recurrent<LstmSettings> {
  constructor(options: LSTMOptions) {
    super(options, lstmCell);
  }

  get projSize(): number { return this.settings.projSize; }
  get peephole(): boolean { return this.settings.peephole; }
  get inputForget(): boolean { return this.settings.inputForget; }

  override forward(x: Tensor, options?: LSTMForwardOptions): LSTMOutput {
    return super.forward(x, options) as LSTMOutput;
  }
  override forwardAsync(x: Tensor, options?: LSTMForwardOptions): Promise<LSTMOutput> {
    return super.forwardAsync(x, options) as Promise<LSTMOutput>;
  }
  override forwardTrain(x: Tensor, options?: LSTMForwardOptions): LSTMOutput & { cache: RecurrentCache } {
    return super.forwardTrain(x, options) as LSTMOutput & { cache: RecurrentCache };
  }
  override forwardTrainAsync(x: Tensor, options?: LSTMForwardOptions): Promise<LSTMOutput & { cache: RecurrentCache }> {
    return super.forwardTrainAsync(x, options) as Promise<LSTMOutput & { cache: RecurrentCache }>;
  }
  override backward(cache: RecurrentCache, gradOutputs?: LSTMGradOutputs): LSTMGradients {
    return super.backward(cache, gradOutputs) as LSTMGradients;
  }
  override backwardAsync(cache: RecurrentCache, gradOutputs?: LSTMGradOutputs): Promise<LSTMGradients> {
    return super.backwardAsync(cache, gradOutputs) as Promise<LSTMGradients>;
  }
  override step(x: Tensor, state?: StepState | null): { output: Tensor; state: Required<StepState> } {
    return super.step(x, state) as { output: Tensor; state: Required<StepState> };
  }
}
