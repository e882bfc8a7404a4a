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

/** What Sequential hands a layer's forward (each layer reads the options it knows). */
export interface LayerForwardOptions {
  /**
   * Valid steps per batch entry, [B] (recurrent layers and LastStep).
   * @default every entry has T steps
   */
  lengths?: ArrayLike<number> | null;
  /**
   * A recurrent layer's initial hidden state, [L*D, B, Hout].
   * @default zeros
   */
  h0?: Tensor | null;
  /**
   * A recurrent layer's initial cell state, [L*D, B, H] (LSTM).
   * @default zeros
   */
  c0?: Tensor | null;
}

/** What a layer's forward returns. */
export interface LayerOutput {
  /** The layer's output (the next layer's input). */
  output: Tensor;
  /** A recurrent layer's final hidden state, [L*D, B, Hout]. */
  hN?: Tensor;
  /** A recurrent layer's final cell state, [L*D, B, H] (LSTM). */
  cN?: Tensor;
}

/** What a layer's backward returns. */
export interface LayerGradients {
  /** ∂loss/∂x, the shape of x. */
  dX: Tensor;
  /** ∂loss/∂parameter by parameter name. */
  grads: Record<string, Tensor>;
}

/**
 * What Sequential composes: every layer (Linear, Embedding, the activations, Dropout, LayerNorm,
 * LastStep, LSTM, GRU, RNN) has these methods; so may your own.
 */
export interface Layer {
  /** absent on layers without parameters (they compute in their input's dtype) */
  readonly dtype?: DType;
  /** Inference forward. */
  forward(x: Tensor, options?: LayerForwardOptions): LayerOutput;
  /** Training forward: the output and what backward needs. */
  forwardTrain(x: Tensor, options?: LayerForwardOptions): LayerOutput & {
    /** What backward needs. */
    cache: unknown;
  };
  /** Gradients from ∂loss/∂output (gradOutputs.dOutput). */
  backward(cache: never, gradOutputs?: { dOutput?: Tensor | null }): LayerGradients;
  /** The live parameters by name (what an optimizer updates in place). */
  namedParameters(): [string, Tensor][];
  /** Apply in-place parameter changes. */
  commitParameters(): unknown;
  /** Copies of the parameters by name. */
  stateDict(): Record<string, Tensor>;
  /** Replace the parameters by name. */
  loadStateDict(weights: StateDictInput): unknown;
  /** A JSON description of the layer's construction options (recurrent layers may omit it). */
  config?(): LayerConfig;
  /** True when the layer wants the batch's lengths without being recurrent (LastStep). */
  readonly usesLengths?: boolean;
}

/** A layer's type and construction options as JSON (model files store these). */
export interface LayerConfig {
  /** The layer class, e.g. 'LSTM', 'Linear'. */
  type: string;
  [option: string]: unknown;
}

/**
 * A recurrent layer as Sequential recognises it, by shape rather than class: numeric hiddenSize
 * and numLayers; it takes { h0, c0?, lengths } and returns hN (and cN with a cell state).
 */
export interface RecurrentLayer extends Layer {
  /** H. */
  readonly hiddenSize: number;
  /** L. */
  readonly numLayers: number;
  /** I. */
  readonly inputSize: number;
  /** Input and output are [B, T, ·]. */
  readonly batchFirst: boolean;
  /** D = 2. */
  readonly bidirectional: boolean;
}

/**
 * @internal A layer's (or model's) `[RELEASE_CACHE](cache)`: its owner will never pass this
 * training cache to backward again, so the backend may reuse its memory (Trainer calls it after
 * each step). Optional; not part of the public Layer interface.
 */
export const RELEASE_CACHE: unique symbol = Symbol('cellstate.releaseCache');

/** @internal Tell `model` that `cache` is done with, if it can use the news. */
export function releaseCache(model: unknown, cache: unknown): void {
  const f = (model as { [RELEASE_CACHE]?: (c: unknown) => void } | null)?.[RELEASE_CACHE];
  if (typeof f === 'function') f.call(model, cache);
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
