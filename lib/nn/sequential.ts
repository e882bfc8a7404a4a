// Sequential: a chain of layers (recurrent and feed-forward) run forward in order and backward in
// reverse, PyTorch's torch.nn.Sequential with its parameter naming (`0.weight_ih_l0`, `2.weight`).
// Layers given as an object or Map are named instead (`{ lstm, last, fc }` -> `lstm.weight_ih_l0`,
// `fc.weight`), as a PyTorch module's attributes name its state_dict, so one loads as it is.
//
// Data flow. x goes to layer 0, each layer's `output` to the next. Layers that take the batch's
// `lengths` (recurrent ones and LastStep; lib/nn/layer.ts) receive it; a recurrent layer also
// receives its entry of `state` as { h0, c0 } and leaves its { hN, cN } in the returned `state`,
// which the caller hands back for the next chunk of a long sequence (truncated BPTT: the state
// is carried as plain values, so no gradient flows across chunks). Many-to-many: a Linear after a
// recurrent layer applies per time step. Many-to-one: put a LastStep between them.
//
// Deliberately no automatic shape inference and no branching: a chain, each layer checking its
// own input.

import { argRangeError, argTypeError, formatShape, StaleCacheError } from '../errors';
import { checkTensorArg, Tensor, type DType } from '../tensor';
import { isLayer, isRecurrent, layerConfig, RELEASE_CACHE, releaseCache, type Layer, type LayerConfig, type LayerForwardOptions, type LayerOutput } from './layer';
import { readEntries, readOptions } from './options';
import type { StateDictInput } from './params';
import { saveModel } from '../io/model-file';
import type { RawTensor } from '../io/safetensors';
import { formatSummary, parameterCount, summarizeLayers } from './summary';
import { predict, type PredictInput, type PredictOptions } from './predict';
import type { Precision } from '../backend/types';
import { modelFromConfig } from './from-config';
import { readPrecision, type FileEntry } from './quantize';
import { Recurrent, type ForwardOptions, type InspectedLayer } from './recurrent';

/** Carried state of one recurrent layer ({ h } alone for layers without a cell state). */
export interface RecurrentState {
  /** Hidden state, [L*D, B, Hout]. */
  h: Tensor;
  /** Cell state, [L*D, B, H] (LSTM). */
  c?: Tensor;
}
/** One entry per layer; null for feed-forward layers and for a zero initial state. */
export type SequentialState = (RecurrentState | null)[];

/** Options of a Sequential forward. */
export interface SequentialForwardOptions {
  /**
   * Valid steps per batch entry, [B], handed to the recurrent layers and LastStep.
   * @default every entry has T steps
   */
  lengths?: ArrayLike<number> | null;
  /**
   * Each layer's initial state (one entry per layer; null entries for zeros), e.g. where the
   * previous chunk of a long sequence ended.
   * @default zeros for every layer
   */
  state?: SequentialState | null;
}

/** What Sequential.backward needs from a training forward (opaque). */
export class SequentialCache {
  /**
   * @internal
   * @param owner The layer that made it.
   * @param version The layer's parameter version at the forward (a later update makes the cache stale).
   * @param caches Each layer's own cache, in order.
   * @param xShape The input's shape.
   */
  constructor(readonly owner: Sequential, readonly version: number, readonly caches: unknown[], readonly xShape: readonly number[]) {}
  /** @internal Given back by RELEASE_CACHE: backward refuses it. */
  released = false;
}

const FORWARD_KEYS = ['lengths', 'state'] as const;

/**
 * A chain of layers, torch.nn.Sequential with its parameter naming (`0.weight_ih_l0`, `2.weight`;
 * layers given as an object or Map are named: `lstm.weight_ih_l0`). x goes to the first layer,
 * each output to the next; recurrent layers and LastStep get the batch's lengths, and each
 * recurrent layer its entry of `state`.
 *
 * @example
 * ```ts
 * const model = new Sequential({
 *   lstm: new LSTM({ inputSize: 3, hiddenSize: 16, batchFirst: true }),
 *   last: new LastStep({ batchFirst: true }),
 *   fc: new Linear({ inFeatures: 16, outFeatures: 2 }),
 * }); // [B, T, 3] -> [B, 2]
 * ```
 */
export class Sequential {
  /** The layers, in order. */
  readonly layers: readonly Layer[];
  /** Each layer's name: its prefix in parameter names ('0', '1', ... unless the layers were named). */
  readonly layerNames: readonly string[];
  /** Element type of its parameters (all layers with parameters agree; 'float32' when none has). */
  readonly dtype: DType;
  /** Whether the chain takes [B, T, ...] (every layout-aware layer agrees; false without one). */
  readonly batchFirst: boolean;
  /** A Sequential inside a Sequential gets the batch's lengths. */
  readonly usesLengths = true;
  /** Its recurrent layers' precision ('fp32' without any): one for the chain, like dtype. */
  readonly precision: Precision;
  private readonly named: boolean;
  private version = 0;

  constructor(layers: Layer[] | Record<string, Layer> | ReadonlyMap<string, Layer>) {
    const where = 'Sequential';
    let names: string[] | null = null;
    if (layers !== null && typeof layers === 'object' && !Array.isArray(layers)) {
      const entries = readEntries<Layer>(where, 'layers', layers);
      names = entries.map(([k]) => k);
      names.forEach((n, i) => {
        // PyTorch's rule for submodule names: non-empty, no dot (the dot separates name and parameter).
        if (n === '' || n.includes('.')) throw argTypeError(where, `layers (name ${i})`, 'a non-empty name without dots', n);
      });
      layers = entries.map(([, l]) => l);
    }
    if (!Array.isArray(layers) || layers.length === 0) throw argTypeError(where, 'layers', 'a non-empty array of layers, or an object or Map of named layers', layers);
    let dtype: DType | undefined;
    let precision: { p: Precision; at: number } | null = null;
    let layout = null as { batchFirst: boolean; at: number } | null;
    layers.forEach((l, i) => {
      if (!isLayer(l)) throw argTypeError(where, `layers[${i}]`, 'a layer (forward, forwardTrain, backward, namedParameters, commitParameters, stateDict, loadStateDict)', l);
      // One layout for the chain: a layer that reads [T, B, ...] after one that wrote [B, T, ...]
      // (say a LastStep after a batch-first LSTM) would take the wrong axis, a silent wrong shape.
      const bf = (l as { batchFirst?: unknown }).batchFirst;
      if (typeof bf === 'boolean') {
        if (layout && bf !== layout.batchFirst) {
          throw argRangeError(where, `layers[${i}].batchFirst`, `${layout.batchFirst} like layers[${layout.at}] (one layout for the chain: pass batchFirst: ${layout.batchFirst} to it; see docs/training.md#models)`, String(bf));
        }
        layout ??= { batchFirst: bf, at: i };
      }
      const p = isRecurrent(l) ? (l as { precision?: unknown }).precision : undefined;
      if (p === 'fp32' || p === 'bf16' || p === 'int8') {
        if (precision && p !== precision.p) throw argRangeError(where, `layers[${i}].precision`, `'${precision.p}' like layers[${precision.at}] (one precision for the chain: quantize the whole model)`, `'${p}'`);
        precision ??= { p, at: i };
      }
      if (l.dtype === undefined) return;
      if (dtype !== undefined && l.dtype !== dtype) throw argRangeError(where, `layers[${i}].dtype`, `'${dtype}' like the layers before it`, `'${l.dtype}'`);
      dtype = l.dtype;
    });
    this.layers = Object.freeze(layers.slice());
    this.layerNames = Object.freeze(names ?? this.layers.map((_, i) => String(i)));
    this.named = names !== null;
    this.dtype = dtype ?? 'float32';
    this.batchFirst = layout?.batchFirst ?? false;
    this.precision = (precision as { p: Precision } | null)?.p ?? 'fp32';
  }

  /**
   * A new model computing with every recurrent layer's weight matrices in bf16 or int8
   * (Recurrent.quantize); the other layers (Linear, Embedding, LayerNorm, ...) are copies, still
   * fp32. This model is untouched. Inference only: training the result is refused.
   */
  quantize(precision: 'bf16' | 'int8'): Sequential {
    const where = 'Sequential.quantize';
    const p = readPrecision(where, precision);
    if (this.precision !== 'fp32') throw argTypeError(where, 'this', `an fp32 model (this one is already ${this.precision}: quantize the fp32 model it came from; see docs/low-precision.md#what-quantize-does)`, this);
    const layers = this.layers.map((l, i) => {
      if (isRecurrent(l)) return (l as unknown as { quantize(p: string): Layer }).quantize(p);
      // A copy: training the original must not reach the quantized model.
      const copy = modelFromConfig(`${where}: layers[${i}]`, layerConfig(l)) as Layer;
      if (l.namedParameters().length) copy.loadStateDict(l.stateDict());
      return copy;
    });
    return new Sequential(this.named ? new Map(this.layerNames.map((n, i) => [n, layers[i]])) : layers);
  }

  /** @internal A model file's tensors: each layer's own (quantized layers: BF16 / I8 and scales), prefixed. */
  fileTensors(): Map<string, Tensor | RawTensor> {
    const out = new Map<string, Tensor | RawTensor>();
    this.layers.forEach((l, i) => {
      const own = (l as { fileTensors?: () => Map<string, Tensor | RawTensor> }).fileTensors;
      const entries = typeof own === 'function' ? own.call(l) : new Map(Object.entries(l.stateDict()));
      for (const [n, t] of entries) out.set(`${this.layerNames[i]}.${n}`, t);
    });
    return out;
  }

  /**
   * @internal Load a quantized model's file tensors (a freshly built model, lib/io/load-model.ts):
   * each layer's part, quantized recurrent layers checked by Recurrent.loadFileTensors, the others
   * as F32 Tensors through loadStateDict.
   */
  loadFileTensors(where: string, entries: ReadonlyMap<string, FileEntry>): void {
    const parts: Map<string, FileEntry>[] = this.layers.map(() => new Map());
    const index = new Map(this.layerNames.map((n, i) => [n, i]));
    const unexpected: string[] = [];
    for (const [key, v] of entries) {
      const dot = key.indexOf('.');
      const i = dot > 0 ? index.get(key.slice(0, dot)) : undefined;
      if (i === undefined || dot === key.length - 1) unexpected.push(key);
      else parts[i].set(key.slice(dot + 1), v);
    }
    if (unexpected.length) throw new TypeError(`${where}: weights: unexpected: ${unexpected.join(', ')}`);
    this.layers.forEach((l, i) => {
      const tag = (e: unknown) => {
        if (e instanceof Error) e.message = `layer ${this.layerNames[i]}: ${e.message}`;
        return e;
      };
      const own = (l as { loadFileTensors?: (w: string, e: ReadonlyMap<string, FileEntry>) => void }).loadFileTensors;
      try {
        if (typeof own === 'function' && (l as { precision?: string }).precision !== 'fp32') { own.call(l, where, parts[i]); return; }
        const dict: Record<string, Tensor> = Object.create(null);
        for (const [n, e] of parts[i]) {
          if (!(e.data instanceof Float32Array)) throw new RangeError(`${where}: weights: ${n}: expected dtype F32, got ${e.dtype}`);
          dict[n] = new Tensor(e.data, [...e.shape]);
        }
        l.loadStateDict(dict);
      } catch (e) {
        throw tag(e);
      }
    });
    this.version++;
  }

  /** The layers' construction options, e.g. for a checkpoint. */
  config(): LayerConfig {
    const c: LayerConfig = { type: 'Sequential', layers: this.layers.map((l) => layerConfig(l)) };
    if (this.named) c.names = this.layerNames.slice();
    return c;
  }

  /** Inference. Returns the last layer's output and every recurrent layer's final state. */
  forward(x: Tensor, options?: SequentialForwardOptions): {
    /** The last layer's output. */
    output: Tensor;
    /** Each layer's final state (null for layers without one). */
    state: SequentialState;
  } {
    const { lengths, state } = this.readForward('Sequential.forward', options);
    let h = x;
    const next: SequentialState = this.layers.map(() => null);
    this.layers.forEach((layer, i) => {
      const r = layer.forward(h, this.layerOptions(layer, i, lengths, state));
      if (isRecurrent(layer)) next[i] = carried(r);
      h = r.output;
    });
    return { output: h, state: next };
  }

  /**
   * forward that also records, for every recurrent layer, each step's gate activations and states
   * (Recurrent.inspect): `layers[i]` is layer i's InspectedLayer list (one per layer-direction of
   * that recurrent layer), null for the others. The output equals forward's.
   */
  inspect(x: Tensor, options?: SequentialForwardOptions): {
    /** The last layer's output. */
    output: Tensor;
    /** Each layer's final state (null for layers without one). */
    state: SequentialState;
    /** Per layer: what its inspect recorded, or null for a layer that is not recurrent. */
    layers: (InspectedLayer[] | null)[];
  } {
    const where = 'Sequential.inspect';
    const { lengths, state } = this.readForward(where, options);
    let h = x;
    const next: SequentialState = this.layers.map(() => null);
    const layers: (InspectedLayer[] | null)[] = this.layers.map(() => null);
    this.layers.forEach((layer, i) => {
      const opts = this.layerOptions(layer, i, lengths, state);
      let r: LayerOutput;
      if (layer instanceof Recurrent) {
        const ins = layer.inspect(h, opts as ForwardOptions);
        layers[i] = ins.layers;
        r = ins;
      } else {
        r = layer.forward(h, opts);
      }
      if (isRecurrent(layer)) next[i] = carried(r);
      h = r.output;
    });
    return { output: h, state: next, layers };
  }

  /**
   * forward off the event loop: recurrent layers run as their forwardAsync (native: on worker
   * threads), the light layers between them (embeddings, dense heads, activations) on the event
   * loop. Everything is read at the call — x, lengths, state and every layer's weights — so the
   * caller may change any of them, or train the model, while the promise is pending. Results equal
   * forward's exactly (same backend).
   */
  async forwardAsync(x: Tensor, options?: SequentialForwardOptions): Promise<{
    /** The last layer's output. */
    output: Tensor;
    /** Each layer's final state (null for layers without one). */
    state: SequentialState;
  }> {
    const where = 'Sequential.forwardAsync';
    const read = this.readForward(where, options);
    const lengths = copyLengths(read.lengths);
    const state = read.state ? read.state.map((s, i) => copyState(where, i, s, this.dtype)) : null;
    // The weights of this moment: recurrent layers pin their prepared weights, later layers with
    // parameters are copied (layers before the first recurrent one run now, on the caller's x).
    const first = this.layers.findIndex((l) => isRecurrent(l));
    const pins = this.layers.map((l) => (isRecurrent(l) && isPinnable(l) ? l.pinWeights() : null));
    const layers = this.layers.map((l, i) => (first >= 0 && i > first && isFreezable(l) ? l.frozen() : l));
    try {
      let h = x;
      const next: SequentialState = this.layers.map(() => null);
      for (let i = 0; i < layers.length; i++) {
        const layer = layers[i], pin = pins[i];
        const opts = this.layerOptions(layer, i, lengths, state);
        let r;
        if (pin) r = await pin.run(h, opts as never);
        else if (typeof (layer as { forwardAsync?: unknown }).forwardAsync === 'function') r = await (layer as unknown as { forwardAsync(x: Tensor, o: unknown): Promise<LayerOutput> }).forwardAsync(h, opts);
        else r = layer.forward(h, opts);
        if (isRecurrent(layer)) next[i] = carried(r);
        h = r.output;
      }
      return { output: h, state: next };
    } finally {
      for (const p of pins) p?.release();
    }
  }

  /** Training forward: the output and the cache backward needs. */
  forwardTrain(x: Tensor, options?: SequentialForwardOptions): {
    /** The last layer's output. */
    output: Tensor;
    /** Each layer's final state (null for layers without one). */
    state: SequentialState;
    /** What backward needs. */
    cache: SequentialCache;
  } {
    const { lengths, state } = this.readForward('Sequential.forwardTrain', options);
    let h = x;
    const caches: unknown[] = [];
    const next: SequentialState = this.layers.map(() => null);
    this.layers.forEach((layer, i) => {
      const r = layer.forwardTrain(h, this.layerOptions(layer, i, lengths, state));
      if (isRecurrent(layer)) next[i] = carried(r);
      caches.push(r.cache);
      h = r.output;
    });
    return { output: h, state: next, cache: new SequentialCache(this, this.version, caches, x.shape) };
  }

  /** Backward through every layer in reverse. Gradients keyed `${index}.${name}`; dX is x's gradient. */
  backward(cache: SequentialCache, gradOutputs?: { dOutput?: Tensor | null }): {
    /** ∂loss/∂x, the shape of x. */
    dX: Tensor;
    /** ∂loss/∂parameter by parameter name (empty for a layer without parameters). */
    grads: Record<string, Tensor>;
  } {
    const where = 'Sequential.backward';
    if (!(cache instanceof SequentialCache)) throw argTypeError(where, 'cache', "the cache of this model's forwardTrain", cache);
    if (cache.owner !== this) throw new StaleCacheError(`${where}: cache: it belongs to another model`);
    if (cache.version !== this.version) throw new StaleCacheError(`${where}: cache: the weights changed after forwardTrain; run forwardTrain again`);
    if (cache.released) throw new StaleCacheError(`${where}: cache: it was released after its backward (Trainer does after each step); run forwardTrain again`);
    const g = readOptions(where, 'gradOutputs', gradOutputs, ['dOutput']);
    let d = g.dOutput as Tensor;
    const grads: Record<string, Tensor> = {};
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const r = this.layers[i].backward(cache.caches[i] as never, { dOutput: d });
      for (const [name, t] of Object.entries(r.grads)) grads[`${this.layerNames[i]}.${name}`] = t;
      d = r.dX;
    }
    // Present the gradients in namedParameters() order.
    const ordered: Record<string, Tensor> = {};
    for (const [name] of this.namedParameters()) if (grads[name]) ordered[name] = grads[name];
    return { dX: d, grads: ordered };
  }

  /** @internal See RELEASE_CACHE (lib/nn/layer.ts): each layer may reuse its part of the cache. */
  [RELEASE_CACHE](cache: unknown): void {
    if (!(cache instanceof SequentialCache) || cache.owner !== this || cache.released) return;
    cache.released = true;
    this.layers.forEach((layer, i) => releaseCache(layer, cache.caches[i]));
  }

  /** Write the whole model (architecture and weights) to one safetensors file; `load(file)` rebuilds it. */
  save(file: string): void {
    saveModel(file, this);
  }

  /** The number of parameters (trainable values) of every layer. */
  numParameters(): number {
    return parameterCount(this);
  }

  /** One row per layer: its name, construction options, output shape and parameter count (Keras's summary()). */
  summary(): string {
    const precision = this.precision === 'fp32' ? '' : `, ${this.precision} weights`;
    return formatSummary(`Sequential (${this.batchFirst ? 'batch-first' : 'time-major'}, ${this.dtype}${precision})`, summarizeLayers(this.layers, this.batchFirst, this.layerNames));
  }

  /** PyTorch's module repr: the chain and each layer's options. */
  toString(): string {
    return `Sequential(\n${summarizeLayers(this.layers, this.batchFirst, this.layerNames).map((r) => `  (${r.name}): ${r.layer}`).join('\n')}\n)`;
  }

  /** Live parameters of every layer, prefixed with the layer's name (its index unless named). */
  namedParameters(): [string, Tensor][] {
    return this.layers.flatMap((l, i) => l.namedParameters().map(([n, t]): [string, Tensor] => [`${this.layerNames[i]}.${n}`, t]));
  }

  /** Apply in-place parameter changes in every layer (invalidates outstanding caches). */
  commitParameters(): this {
    for (const l of this.layers) l.commitParameters();
    this.version++;
    return this;
  }

  /** Copies of every parameter, keyed `${layerName}.${name}`. */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    this.layers.forEach((l, i) => {
      for (const [n, t] of Object.entries(l.stateDict())) out[`${this.layerNames[i]}.${n}`] = t;
    });
    return out;
  }

  /** All-or-nothing: if any layer rejects its part, every layer is put back as it was. */
  loadStateDict(weights: StateDictInput): this {
    const where = 'Sequential.loadStateDict';
    if (weights === null || typeof weights !== 'object' || Array.isArray(weights)) {
      throw argTypeError(where, 'weights', 'an object mapping parameter names to tensors', weights);
    }
    // Each layer's part is a null-prototype record: a name like "0.__proto__" is just a name there.
    const parts: StateDictInput[] = this.layers.map(() => Object.create(null));
    const index = new Map(this.layerNames.map((n, i) => [n, i]));
    const unexpected: string[] = [];
    for (const [key, v] of readEntries(where, 'weights', weights)) {
      const dot = key.indexOf('.');
      const i = dot > 0 ? index.get(key.slice(0, dot)) : undefined;
      if (i === undefined || dot === key.length - 1) { unexpected.push(key); continue; }
      (parts[i] as Record<string, unknown>)[key.slice(dot + 1)] = v;
    }
    // One report for the whole model, by full name, before any layer is touched.
    const expected = this.namedParameters();
    const given = new Set<string>();
    const misShaped: string[] = [];
    parts.forEach((p, i) => {
      const own = new Map(this.layers[i].namedParameters().map(([n, t]) => [n, t.shape]));
      for (const [n, v] of Object.entries(p)) {
        const full = `${this.layerNames[i]}.${n}`;
        given.add(full);
        const want = own.get(n);
        if (!want) unexpected.push(full);
        else {
          const got = shapeOf(v);
          if (got && (got.length !== want.length || got.some((d, k) => d !== want[k]))) misShaped.push(`${full} (expected ${formatShape(want)}, got ${formatShape(got)})`);
        }
      }
    });
    const missing = expected.map(([n]) => n).filter((n) => !given.has(n));
    if (unexpected.length || missing.length || misShaped.length) {
      const problems = [
        missing.length ? `missing: ${missing.join(', ')}` : '',
        unexpected.length ? `unexpected: ${unexpected.join(', ')}` : '',
        misShaped.length ? `mis-shaped: ${misShaped.join(', ')}` : '',
      ].filter(Boolean).join('; ');
      const err = misShaped.length && !missing.length && !unexpected.length ? RangeError : TypeError;
      throw new err(`${where}: weights: ${problems} (expected the names ${expected.map(([n]) => n).join(', ') || '(none)'})`);
    }
    const before = this.layers.map((l) => l.stateDict());
    try {
      this.layers.forEach((l, i) => {
        try {
          l.loadStateDict(parts[i]);
        } catch (e) {
          (e as Error).message = `${where}: layer ${this.layerNames[i]}: ${(e as Error).message}`;
          throw e;
        }
      });
    } catch (e) {
      this.layers.forEach((l, i) => l.loadStateDict(before[i]));
      this.version++;
      throw e;
    }
    this.version++;
    return this;
  }

  private readForward(where: string, options: unknown): { lengths: ArrayLike<number> | null; state: SequentialState | null } {
    const o = readOptions(where, 'options', options, FORWARD_KEYS);
    const state = (o.state ?? null) as SequentialState | null;
    if (state !== null && (!Array.isArray(state) || state.length !== this.layers.length)) {
      throw argTypeError(where, 'state', `an array of ${this.layers.length} entries (one per layer, as returned by forward)`, state);
    }
    return { lengths: (o.lengths ?? null) as ArrayLike<number> | null, state };
  }

  private layerOptions(layer: Layer, i: number, lengths: ArrayLike<number> | null, state: SequentialState | null): Record<string, unknown> | undefined {
    if (isRecurrent(layer)) {
      const o: Record<string, unknown> = { lengths };
      const s = state?.[i];
      if (s) {
        o.h0 = s.h;
        if (s.c) o.c0 = s.c;
      }
      return o;
    }
    return layer.usesLengths ? { lengths } : undefined;
  }

  /** Inference on a Tensor, nested arrays (one per sequence; ragged is padded) or a typed array with a shape: lib/nn/predict.ts. */
  predict(x: PredictInput, options?: PredictOptions): Tensor {
    return predict(this, x, options);
  }
}

/** A state-dict value's shape when it has a readable one (the layer checks it properly). */
function shapeOf(v: unknown): number[] | null {
  try {
    const shape = (v as { shape?: unknown } | null)?.shape;
    return Array.isArray(shape) && shape.every((d) => typeof d === 'number') ? shape as number[] : null;
  } catch {
    return null;
  }
}

interface Pinnable {
  pinWeights(): { run: (x: Tensor, options?: LayerForwardOptions) => Promise<LayerOutput>; release: () => void };
}
const isPinnable = (l: Layer): l is Layer & Pinnable => typeof (l as Partial<Pinnable>).pinWeights === 'function';
const isFreezable = (l: Layer): l is Layer & { frozen(): Layer } => typeof (l as { frozen?: unknown }).frozen === 'function' && l.namedParameters().length > 0;

/** A private copy of `lengths` when it is an array (anything else is left for the layers to refuse). */
function copyLengths(v: ArrayLike<number> | null): ArrayLike<number> | null {
  return v !== null && (Array.isArray(v) || ArrayBuffer.isView(v)) ? Array.prototype.slice.call(v) as number[] : v;
}

/** A private copy of one layer's carried state (the layer checks the shapes). */
function copyState(where: string, i: number, s: RecurrentState | null, dtype: DType): RecurrentState | null {
  if (s === null || s === undefined) return null;
  if (typeof s !== 'object') throw argTypeError(where, `state[${i}]`, 'null or { h, c? } (as returned by forward)', s);
  const copy = (arg: string, t: unknown): Tensor => {
    const { shape, data } = checkTensorArg(where, `state[${i}].${arg}`, t, dtype);
    return new Tensor(data.slice(), [...shape]);
  };
  return s.c === undefined || s.c === null ? { h: copy('h', s.h) } : { h: copy('h', s.h), c: copy('c', s.c) };
}

function carried(r: { hN?: Tensor; cN?: Tensor }): RecurrentState | null {
  if (!r.hN) return null;
  return r.cN ? { h: r.hN, c: r.cN } : { h: r.hN };
}
