// The layer interface Sequential composes (lib/nn/sequential.ts), and how it tells recurrent
// layers apart. Every layer (Linear, Embedding, the activations, Dropout, LayerNorm, LastStep,
// LSTM, GRU, RNN) has the same method shapes:
//
//   forward(x, opts?)        -> { output, ... }             inference, keeps nothing
//   forwardTrain(x, opts?)   -> { output, cache, ... }      training forward
//   backward(cache, { dOutput }) -> { dX, grads }           grads keyed by parameter name
//   namedParameters(), commitParameters(), stateDict(), loadStateDict()
//
// A *recurrent* layer is recognised by its shape, not its class (so GRU and RNN plug in without
// changes here): it has numeric `hiddenSize` and `numLayers`, takes `{ h0, c0?, lengths }` and
// returns `hN` (and `cN` if it has a cell state). Layers that want the batch's `lengths` without
// being recurrent (LastStep) say so with `usesLengths = true`.

import type { DType, Tensor } from '../tensor';
import type { StateDictInput } from './params';

export interface LayerForwardOptions {
  lengths?: ArrayLike<number> | null;
  h0?: Tensor | null;
  c0?: Tensor | null;
}

export interface LayerOutput {
  output: Tensor;
  hN?: Tensor;
  cN?: Tensor;
}

export interface LayerGradients {
  dX: Tensor;
  grads: Record<string, Tensor>;
}

export interface Layer {
  /** absent on layers without parameters (they compute in their input's dtype) */
  readonly dtype?: DType;
  forward(x: Tensor, options?: LayerForwardOptions): LayerOutput;
  forwardTrain(x: Tensor, options?: LayerForwardOptions): LayerOutput & { cache: unknown };
  backward(cache: never, gradOutputs?: { dOutput?: Tensor | null }): LayerGradients;
  namedParameters(): [string, Tensor][];
  commitParameters(): unknown;
  stateDict(): Record<string, Tensor>;
  loadStateDict(weights: StateDictInput): unknown;
  /** A JSON description of the layer's construction options (recurrent layers may omit it). */
  config?(): LayerConfig;
  readonly usesLengths?: boolean;
}

export interface LayerConfig {
  type: string;
  [option: string]: unknown;
}

export interface RecurrentLayer extends Layer {
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly inputSize: number;
  readonly batchFirst: boolean;
  readonly bidirectional: boolean;
}

export function isRecurrent(layer: unknown): layer is RecurrentLayer {
  const l = layer as Partial<RecurrentLayer> | null;
  return !!l && typeof l.hiddenSize === 'number' && typeof l.numLayers === 'number';
}

export function isLayer(v: unknown): v is Layer {
  const l = v as Record<string, unknown> | null;
  if (!l || typeof l !== 'object') return false;
  for (const m of ['forward', 'forwardTrain', 'backward', 'namedParameters', 'commitParameters', 'stateDict', 'loadStateDict']) {
    if (typeof l[m] !== 'function') return false;
  }
  return true;
}

/** The construction options of any layer: its own config(), or, for a recurrent layer, its public fields. */
export function layerConfig(layer: Layer): LayerConfig {
  if (typeof layer.config === 'function') return layer.config();
  if (isRecurrent(layer)) {
    const r = layer as RecurrentLayer & { bias?: boolean };
    return {
      type: layer.constructor.name, inputSize: r.inputSize, hiddenSize: r.hiddenSize, numLayers: r.numLayers,
      bias: r.bias, batchFirst: r.batchFirst, bidirectional: r.bidirectional, dtype: r.dtype,
    };
  }
  return { type: layer.constructor.name };
}
