// The machinery every recurrent layer shares, whatever its cell kind: options, PyTorch-named
// parameters, stacking layers, directions, variable lengths, dropout between layers, and the
// sync/async plans that turn one call into one backend call per layer-direction
// (lib/backend/types.ts). It names no kind: a subclass hands it its kind's descriptor
// (lib/nn/cell-kinds/kind.ts: options, gate count, extra parameters, cell state, config).
//
// Shapes (PyTorch): x [T, B, I] ([B, T, I] with batchFirst); output [T, B, D*Hout];
// hN [L*D, B, Hout], cN [L*D, B, H] (kinds with a cell state) — never batch-first; index of layer
// k, direction d is k*D + d. Hout = the descriptor's outSize (hiddenSize, or an LSTM's projSize).

import type { ActivationOption, GateActivation } from './gate-activations';
import { defaultBackendName, getBackend, BACKEND_NAMES_TEXT, isBackendName } from '../backend';
import type { Backend, BackendName, CellBackwardArgs, CellCache, CellForwardArgs, CellParams, Precision, PreparedCell, QuantMatrix } from '../backend/types';
import { gateCount } from '../backend/types';
import { argRangeError, argTypeError, describe, shapeError, StaleCacheError } from '../errors';
import { freshSeed, Rng } from '../rng';
import { emitWarning } from '../host';
import { allocate, allocateUninit, checkElements, checkTensorArg, Tensor, trustedTensor, type DType, type FloatArray } from '../tensor';
import { oneOf, optionalBool, optionalSeed, positiveInt, readOptions, type Options } from './options';
import { initBound, ParamSet, type ParamSpec, type StateDictInput } from './params';
import { checkFinite, checkGrad, checkInput, checkLengths, checkState, type SeqShape } from './sequence';
import { saveModel } from '../io/model-file';
import type { RawTensor } from '../io/safetensors';
import { predict, type PredictInput, type PredictOptions } from './predict';
import { RELEASE_CACHE, type LayerConfig } from './layer';
import { describeLayer, parameterCount } from './summary';
import type { CellDescriptor } from './cell-kinds/kind';
import { dequantize } from '../backend/ts/quant';
import { checkQuantizedEntries, isQuantizedName, quantizeMatrix, quantizedTrainingError, readPrecision, type FileEntry } from './quantize';

/**
 * Construction options every recurrent layer (LSTM, GRU, RNN) takes, with PyTorch's names and
 * meanings. Shapes below: T steps, B batch, I inputSize, H hiddenSize, L numLayers, D directions.
 */
export interface RecurrentOptions {
  /** Features per step of the input x (I). */
  inputSize: number;
  /** Units of the hidden state per layer and direction (H). */
  hiddenSize: number;
  /**
   * Stacked layers (L); layer k > 0 reads layer k-1's output. At most MAX_LAYERS.
   * @default 1
   */
  numLayers?: number;
  /**
   * Whether each layer has the biases bias_ih and bias_hh.
   * @default true
   */
  bias?: boolean;
  /**
   * Input and output are [B, T, ·] instead of [T, B, ·]; hN and cN are never batch-first.
   * @default false
   */
  batchFirst?: boolean;
  /**
   * Run each layer both ways (D = 2) and concatenate the two outputs per step.
   * @default false
   */
  bidirectional?: boolean;
  /**
   * Dropout probability on each layer's output but the last, in training forwards only.
   * @default 0
   */
  dropout?: number;
  /**
   * Bound every gate pre-activation to [-clip, clip] (ONNX's `clip`); null for none.
   * @default null
   */
  clip?: number | null;
  /**
   * Gate activations in ONNX's slots and meaning (docs/equations.md, "Gate activations"): LSTM
   * [f, g, h] (f on the i, f, o gates, g on the candidate, h on c before o *), GRU [f, g] (f on z
   * and r, g on the candidate n), RNN [f]. Each a name ('sigmoid', 'tanh', 'relu', 'hardSigmoid',
   * 'affine', 'leakyRelu', 'thresholdedRelu', 'scaledTanh', 'elu', 'softsign', 'softplus') or
   * `{ name, alpha?, beta? }` (ONNX's defaults for the omitted ones, e.g. hardSigmoid 0.2 / 0.5,
   * TF.js's). A LayerNormLSTM takes only the defaults.
   * @default LSTM ['sigmoid', 'tanh', 'tanh'], GRU ['sigmoid', 'tanh'], RNN [nonlinearity]
   */
  activations?: readonly ActivationOption[];
  /**
   * Low level (ONNX direction 'reverse'): the single direction runs from the last step to the
   * first. Not with bidirectional.
   * @default false
   */
  reverse?: boolean;
  /**
   * Seed of the initial weights, drawn from U(-1/sqrt(H), 1/sqrt(H)), and of the dropout stream.
   * @default undefined (a fresh seed; the model's `seed` reports it)
   */
  seed?: number;
  /**
   * Element type of the weights and every result; 'float64' (ts backend only) for gradient checks.
   * @default 'float32'
   */
  dtype?: DType;
  /**
   * Which backend computes: 'native' (the C++ addon) or 'ts' (pure TypeScript).
   * @default the process default: 'native' when the addon loads, else 'ts' (CELLSTATE_BACKEND overrides); see backend()
   */
  backend?: BackendName;
}

/** Options of a whole-sequence forward. */
export interface ForwardOptions {
  /**
   * Initial hidden state, [L*D, B, Hout] (Hout: hiddenSize, or an LSTM's projSize).
   * @default zeros
   */
  h0?: Tensor | null;
  /**
   * Initial cell state, [L*D, B, H] (kinds with a cell state: LSTM).
   * @default zeros
   */
  c0?: Tensor | null;
  /**
   * Valid steps per sequence, [B], each in [1, T]: a variable-length (padded) batch. Steps past a
   * sequence's length output 0, and hN/cN hold its state after its own last step (docs/equations.md).
   * @default every sequence has T steps
   */
  lengths?: ArrayLike<number> | null;
}

/** What a forward returns. */
export interface RecurrentOutput {
  /** The last layer's hidden state at every step, [T, B, D*Hout] ([B, T, D*Hout] with batchFirst). */
  output: Tensor;
  /** Each layer-direction's final hidden state, [L*D, B, Hout]; index of layer k, direction d is k*D + d. */
  hN: Tensor;
  /** Each layer-direction's final cell state, [L*D, B, H] (kinds with a cell state: LSTM). */
  cN?: Tensor;
}

/** The loss's gradients with respect to a forward's outputs; an omitted one counts as zeros. */
export interface GradOutputs {
  /** ∂loss/∂output, the shape of `output`. */
  dOutput?: Tensor | null;
  /** ∂loss/∂hN, [L*D, B, Hout]. */
  dHN?: Tensor | null;
  /** ∂loss/∂cN, [L*D, B, H] (kinds with a cell state). */
  dCN?: Tensor | null;
}

/** What backward returns: the gradients with respect to the inputs and to every parameter. */
export interface RecurrentGradients {
  /** ∂loss/∂x, the shape of x. */
  dX: Tensor;
  /** ∂loss/∂h0, [L*D, B, Hout]. */
  dH0: Tensor;
  /** ∂loss/∂c0, [L*D, B, H] (kinds with a cell state). */
  dC0?: Tensor;
  /** ∂loss/∂parameter for every parameter, keyed by its PyTorch name (weight_ih_l0, ...). */
  grads: Record<string, Tensor>;
}

/**
 * What inspect recorded for one layer-direction: each quantity at every step, as a Tensor
 * [T, B, units] (time-major whatever batchFirst; steps past a sequence's length hold 0).
 */
export interface InspectedLayer {
  /** The layer, k in [0, numLayers). */
  layer: number;
  /** The direction: 0, or 1 for the reverse half of a bidirectional layer. */
  direction: number;
  /** Whether this direction runs from the last step to the first (bidirectional d = 1, or a `reverse` model). */
  reverse: boolean;
  /**
   * The quantities by name: the activated gates (LSTM and LayerNormLSTM i, f, g, o; GRU r, z, n;
   * none for RNN), each [T, B, H]; `c` the cell state c_t [T, B, H] (kinds with one); `h` the
   * hidden state h_t [T, B, Hout] (the layer's output for this direction).
   */
  values: Record<string, Tensor>;
}

/** What inspect returns: the forward's results and every layer-direction's recorded steps. */
export interface Inspection extends RecurrentOutput {
  /** One entry per layer-direction, index k*D + d (as hN). */
  layers: InspectedLayer[];
}

/** What stateGradients returns: backward's results and the state gradient of every step. */
export interface StateGradients extends RecurrentGradients {
  /**
   * One entry per layer-direction, index k*D + d: `dH` ∂loss/∂h_t [T, B, Hout] and, for kinds with
   * a cell state, `dC` ∂loss/∂c_t [T, B, H], the total gradient of the state step t leaves
   * (through every later step and the upstream gradients), time-major whatever batchFirst.
   */
  steps: StepGradients[];
}

/** The state gradients of one layer-direction at every step (StateGradients.steps). */
export interface StepGradients {
  /** ∂loss/∂h_t, [T, B, Hout]. */
  dH: Tensor;
  /** ∂loss/∂c_t, [T, B, H] (kinds with a cell state). */
  dC?: Tensor;
}

/** Gate names of each kind's gate blocks, in the weight rows' order (RNN: its one block is h). */
const GATE_NAMES: Record<string, readonly string[]> = {
  lstm: ['i', 'f', 'g', 'o'], lnlstm: ['i', 'f', 'g', 'o'], gru: ['r', 'z', 'n'], rnn_tanh: [], rnn_relu: [],
};

/** Streaming state for `step`: h [L, B, Hout] and, for kinds with a cell state, c [L, B, H]. */
export interface StepState {
  /** Hidden state, [L, B, Hout]. */
  h: Tensor;
  /** Cell state, [L, B, H] (kinds with a cell state: LSTM). */
  c?: Tensor;
}

/**
 * Everything one training forward keeps for its backward. Independent of the model's other
 * calls, so several forwards may be in flight; tied to the weights it was computed with.
 */
export class RecurrentCache {
  /** @internal */ constructor(state: CacheState) {
    cacheState.set(this, state);
  }

  /** @internal Copies of the dropout masks applied to each layer's output but the last (tests). */
  get dropoutMasks(): (FloatArray | null)[] {
    return cacheState.get(this)!.dropoutMasks.map((m) => m && m.slice());
  }
}

/**
 * What a RecurrentCache holds, out of the caller's reach: the backend caches are handed to native
 * code (possibly on a worker thread), so no caller may detach or write them.
 */
interface CacheState {
  model: Recurrent;
  seq: SeqShape;
  caches: CellCache[]; // [L*D] backend caches (each keeps its layer's input rows)
  prepared: PreparedWeights; // the weights the forward used
  dropoutMasks: (FloatArray | null)[]; // [L-1] masks applied to layer k's output (scaled)
}
const cacheState = new WeakMap<RecurrentCache, CacheState>();
const released = new WeakSet<RecurrentCache>(); // caches given back by RELEASE_CACHE, for a clear error

/**
 * One preparation of the weights for a backend. The model replaces it at every
 * weight update; the old one is released (native: its packed copy freed at once, not when the
 * garbage collector gets to it) as soon as no async call still uses it. Synchronous calls never
 * overlap an update; a training cache from before an update is stale and never reaches a backend.
 */
class PreparedWeights {
  private users = 0;
  private retired = false;
  constructor(readonly backend: Backend, readonly cells: readonly PreparedCell[]) {}

  /** Run an async call that uses these weights; they stay valid until it settles. */
  async hold<T>(call: () => Promise<T>): Promise<T> {
    this.users++;
    try {
      return await call();
    } finally {
      this.users--;
      this.releaseIfDone();
    }
  }

  /** Keep these weights valid until the returned function is called (once; later calls do nothing). */
  pin(): () => void {
    this.users++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.users--;
      this.releaseIfDone();
    };
  }

  /** The model has moved on to new weights. */
  retire(): void {
    this.retired = true;
    this.releaseIfDone();
  }

  private releaseIfDone(): void {
    if (this.retired && this.users === 0) for (const c of this.cells) this.backend.release?.(c);
  }
}

interface ForwardPlan {
  out: RecurrentOutput;
  layers: { w: PreparedCell; args: CellForwardArgs }[][]; // [L][D] backend calls, in order
  after: ((() => void) | null)[]; // [L] run after layer k (dropout on its output)
  seq: SeqShape;
  prepared: PreparedWeights; // taken at call time
  masks: (FloatArray | null)[];
}

interface BackwardPlan {
  out: RecurrentGradients;
  prepared: PreparedWeights; // the forward's, held by an async backward until it settles
  layers: { w: PreparedCell; cache: CellCache; args: CellBackwardArgs }[][]; // last layer first
  after: ((() => void) | null)[]; // run after each entry of `layers` (dropout on ∂input)
}

/** The most stacked layers a recurrent model may have (docs/security.md#limits). */
export const MAX_LAYERS = 1024;

export const COMMON_KEYS = ['inputSize', 'hiddenSize', 'numLayers', 'bias', 'batchFirst', 'bidirectional', 'dropout', 'clip', 'reverse', 'seed', 'dtype', 'backend'] as const;
const FORWARD_KEYS = ['h0', 'c0', 'lengths'] as const;
const GRAD_KEYS = ['dOutput', 'dHN', 'dCN'] as const;

/**
 * The base of LSTM, GRU and RNN: a stack of recurrent layers of one cell kind with PyTorch's
 * parameter names, shapes and semantics. The option properties below are the constructor's,
 * resolved (see RecurrentOptions).
 */
export abstract class Recurrent<S = unknown> {
  /** Features per input step (I). */
  readonly inputSize: number;
  /** Hidden units per layer and direction (H). */
  readonly hiddenSize: number;
  /** Stacked layers (L). */
  readonly numLayers: number;
  /** Whether the layers have biases. */
  readonly bias: boolean;
  /** Input and output are [B, T, ·]. */
  readonly batchFirst: boolean;
  /** Each layer runs both ways (D = 2). */
  readonly bidirectional: boolean;
  /** Dropout probability between layers in training forwards. */
  readonly dropout: number;
  /** Gate pre-activation bound, or null for none. */
  readonly clip: number | null;
  /** The single direction runs backwards in time (ONNX 'reverse'). */
  readonly reverse: boolean;
  /** Element type of the weights and results. */
  readonly dtype: DType;
  /** The seed the initial weights (and the dropout stream) were drawn from. */
  readonly seed: number;
  /** The cell kind, and this model's settings of it (the kind's own options). */
  protected readonly cell: CellDescriptor<S>;
  protected readonly settings: S;
  private params: ParamSet; // every parameter; only the fp32 ones (biases, peepholes) once quantized
  /** The quantized weight matrices by name (weight_ih/hh/hr_l{k}...), or null for an fp32 model. */
  private quant: Map<string, QuantMatrix> | null = null;
  private precisionValue: Precision = 'fp32';
  private backendObj: Backend;
  private prepared: PreparedWeights | null = null;
  private readonly dropoutRng: Rng;

  protected constructor(options: unknown, cell: CellDescriptor<S>) {
    const where0 = new.target.name;
    if (options === undefined || options === null) throw argTypeError(where0, 'options', 'an options object with inputSize and hiddenSize', options);
    const o: Options = readOptions(where0, 'options', options, [...COMMON_KEYS, ...cell.optionKeys]);
    const where = cell.name;
    this.cell = cell;
    this.settings = cell.read(o);
    this.inputSize = positiveInt(where, 'inputSize', o.inputSize);
    this.hiddenSize = positiveInt(where, 'hiddenSize', o.hiddenSize);
    this.numLayers = o.numLayers === undefined ? 1 : positiveInt(where, 'numLayers', o.numLayers);
    // Each layer-direction costs JS objects (parameter specs, prepared weights), not just typed
    // arrays: without a bound, numLayers = 2^31 exhausts the JS heap, which aborts the process.
    if (this.numLayers > MAX_LAYERS) throw argRangeError(where, 'numLayers', `an integer in [1, ${MAX_LAYERS}] (the layer limit, see docs/security.md#limits)`, describe(this.numLayers));
    this.bias = optionalBool(where, 'bias', o.bias, true);
    this.batchFirst = optionalBool(where, 'batchFirst', o.batchFirst, false);
    this.bidirectional = optionalBool(where, 'bidirectional', o.bidirectional, false);
    this.reverse = optionalBool(where, 'reverse', o.reverse, false);
    if (this.reverse && this.bidirectional) throw argTypeError(where, 'reverse', 'false when bidirectional is true', true);
    this.dropout = optionalProbability(where, 'dropout', o.dropout);
    if (this.dropout > 0 && this.numLayers === 1) {
      emitWarning(`${where}: dropout=${this.dropout} applies between layers, so it has no effect with numLayers=1 (see docs/training.md#options-every-recurrent-layer-takes)`, 'CELLSTATE_DROPOUT_ONE_LAYER');
    }
    this.clip = optionalClip(where, o.clip);
    cell.validate(this.settings, this.hiddenSize);
    this.dtype = oneOf(where, 'dtype', o.dtype, ['float32', 'float64'] as const, 'float32');
    this.seed = optionalSeed(where, 'seed', o.seed) ?? freshSeed();
    if (o.backend !== undefined && !isBackendName(o.backend)) throw argTypeError(where, 'backend', BACKEND_NAMES_TEXT, o.backend);
    this.backendObj = this.pickBackend(o.backend as BackendName | undefined);
    this.params = new ParamSet(this.paramSpecs(), this.dtype, where);
    const rng = new Rng(this.seed);
    this.params.initUniform(rng, initBound(this.hiddenSize));
    const fixed = this.cell.extraParams(this.settings, this.hiddenSize, this.outSize).filter((e) => e.init !== undefined);
    for (const s of this.params.specs) {
      for (const e of fixed) if (s.name.startsWith(`${e.name}_l`)) this.params.get(s.name).fill(e.init!);
    }
    if (cell.init) {
      const initRng = new Rng(this.seed ^ 0x2545f491); // its own stream: the other draws stay as they were
      for (let k = 0; k < this.numLayers; k++) {
        for (let d = 0; d < this.numDirections; d++) {
          const s = this.suffix(k, d);
          cell.init(this.settings, this.hiddenSize, (n) => (this.params.has(`${n}${s}`) ? this.params.get(`${n}${s}`) : null), initRng);
        }
      }
    }
    this.dropoutRng = new Rng(rng.nextU32() ^ 0x5bd1e995);
    this.prepare();
  }

  /** D: 2 when bidirectional, else 1. */
  get numDirections(): number {
    return this.bidirectional ? 2 : 1;
  }

  /** Units of h (and of each direction's output): the kind's, e.g. an LSTM's projSize || hiddenSize. */
  get outSize(): number {
    return this.cell.outSize(this.settings, this.hiddenSize);
  }

  /** The gate activations, resolved (ONNX's slots: LSTM [f, g, h], GRU [f, g], RNN [f]). */
  get activations(): readonly GateActivation[] {
    return this.cell.activations(this.settings);
  }

  /** Name of the backend this model computes on. */
  get backend(): BackendName {
    return this.backendObj.name;
  }

  /** Whether the kind carries a cell state c beside h (LSTM, LayerNormLSTM): c0/cN, dCN/dC0. */
  get hasCellState(): boolean {
    return this.cell.hasCellState;
  }

  /**
   * How the weight matrices W_ih, W_hh (and W_hr) are held and multiplied: 'fp32', or 'bf16' /
   * 'int8' for a model made by quantize() (inference only; docs/equations.md, "Low precision").
   */
  get precision(): Precision {
    return this.precisionValue;
  }

  /**
   * A new model of this class computing with its weight matrices in bf16 or int8 (this one is
   * untouched): W_ih, W_hh and W_hr are held only in that form (1/2 or about 1/4 of the bytes),
   * biases, peepholes, the state and every elementwise step stay fp32. Inference only: forward,
   * forwardAsync, step, predict, serving, save/load; training it is refused (train the fp32 model
   * and quantize again). It runs on this model's backend when that backend computes the
   * precision, else on the default backend if that one does (native when the addon loads: the
   * wasm module has no bf16/int8 kernels yet), else on ts.
   */
  quantize(precision: 'bf16' | 'int8'): this {
    const where = `${this.cell.name}.quantize`;
    const p = readPrecision(where, precision);
    if (this.precisionValue !== 'fp32') throw argTypeError(where, 'this', `an fp32 model (this one is already ${this.precisionValue}: quantize the fp32 model it came from; see docs/low-precision.md#what-quantize-does)`, this);
    if (this.dtype !== 'float32') throw argTypeError(where, 'this', 'a float32 model (quantize converts fp32 weights)', `a ${this.dtype} model`);
    const q = new Map<string, QuantMatrix>();
    for (const s of this.params.specs) if (isQuantizedName(s.name)) q.set(s.name, quantizeMatrix(where, s.name, p, this.params.get(s.name), s.shape[0], s.shape[1]));
    const rest = new Map<string, FloatArray>();
    for (const s of this.params.specs) if (!isQuantizedName(s.name)) rest.set(s.name, this.params.get(s.name).slice());
    const { type: _type, ...options } = this.config();
    const Ctor = this.constructor as new (o: unknown) => this;
    const model = new Ctor({ ...options, seed: this.seed, backend: this.backendObj.supports('float32', p) ? this.backendObj.name : undefined });
    model.adoptQuantized(p, q, rest);
    return model;
  }

  /** @internal Become a quantized model with these matrices and fp32 parameters (owned from now on). */
  adoptQuantized(precision: Exclude<Precision, 'fp32'>, q: Map<string, QuantMatrix>, rest: Map<string, FloatArray>): void {
    const fp32 = new ParamSet(this.params.specs.filter((s) => !isQuantizedName(s.name)).map((s) => ({ name: s.name, shape: s.shape.slice() })), this.dtype, this.cell.name);
    for (const s of fp32.specs) fp32.get(s.name).set(rest.get(s.name)!);
    this.params = fp32;
    this.quant = q;
    this.precisionValue = precision;
    if (!this.backendObj.supports(this.dtype, precision)) this.backendObj = getBackend('ts');
    this.prepare();
  }

  /**
   * @internal What a model file holds for this layer: the fp32 parameters as Tensors and, once
   * quantized, each matrix as BF16 or I8 with its `<name>.scale` F32 [rows] (int8), in
   * named_parameters() order.
   */
  fileTensors(): Map<string, Tensor | RawTensor> {
    const out = new Map<string, Tensor | RawTensor>();
    for (const s of this.paramSpecs()) {
      const q = this.quant?.get(s.name);
      if (!q) out.set(s.name, new Tensor(this.params.get(s.name).slice(), s.shape));
      else {
        out.set(s.name, (q.scale ? { dtype: 'I8', shape: s.shape.slice(), data: q.data } : { dtype: 'BF16', shape: s.shape.slice(), data: q.data }) as RawTensor);
        if (q.scale) out.set(`${s.name}.scale`, new Tensor(q.scale.slice(), [q.rows]));
      }
    }
    return out;
  }

  /**
   * @internal Load a quantized model's file tensors (what fileTensors wrote): every name, dtype,
   * shape and value checked (lib/nn/quantize.ts) before anything is replaced.
   */
  loadFileTensors(where: string, entries: ReadonlyMap<string, FileEntry>): void {
    if (this.precisionValue === 'fp32') throw new Error('internal: loadFileTensors on an fp32 model');
    const { quant, fp32 } = checkQuantizedEntries(where, this.precisionValue, this.paramSpecs(), entries);
    for (const [n, v] of fp32) this.params.get(n).set(v);
    this.quant = quant;
    this.prepare();
  }

  /** Move the model to another backend (weights are re-prepared for it). */
  useBackend(name: BackendName): this {
    if (!isBackendName(name)) throw argTypeError(`${this.cell.name}.useBackend`, 'name', BACKEND_NAMES_TEXT, name);
    this.backendObj = this.pickBackend(name);
    this.prepare();
    return this;
  }

  /** Write the layer (its options and weights) to one safetensors file; `load(file)` rebuilds it. */
  save(file: string): void {
    saveModel(file, this);
  }

  /** The number of parameters (trainable values). */
  numParameters(): number {
    return parameterCount(this);
  }

  /**
   * The construction options that define the computation (not the seed or backend): what a model
   * file or checkpoint records and `load` rebuilds from. Options at their defaults are left out
   * past the common ones, so a plain layer's config is as it always was.
   */
  config(): LayerConfig {
    const out: LayerConfig = {
      type: this.cell.name, inputSize: this.inputSize, hiddenSize: this.hiddenSize, numLayers: this.numLayers,
      bias: this.bias, batchFirst: this.batchFirst, bidirectional: this.bidirectional, dtype: this.dtype,
      ...this.cell.config(this.settings),
    };
    if (this.dropout) out.dropout = this.dropout;
    if (this.clip !== null) out.clip = this.clip;
    if (this.reverse) out.reverse = true;
    if (this.precisionValue !== 'fp32') out.precision = this.precisionValue;
    return out;
  }

  /** Its type and construction options, e.g. `LSTM(inputSize=5, hiddenSize=4, ...)`. */
  toString(): string {
    return describeLayer(this);
  }

  /** Parameter names and shapes in PyTorch's named_parameters() order. */
  paramSpecs(): ParamSpec[] {
    const H = this.hiddenSize, D = this.numDirections, P = this.outSize, GH = gateCount(this.cell.kind(this.settings)) * H;
    const extra = this.cell.extraParams(this.settings, H, P);
    const specs: ParamSpec[] = [];
    for (let k = 0; k < this.numLayers; k++) {
      const I = k === 0 ? this.inputSize : D * P;
      for (let d = 0; d < D; d++) {
        const s = this.suffix(k, d);
        specs.push({ name: `weight_ih${s}`, shape: [GH, I] }, { name: `weight_hh${s}`, shape: [GH, P] });
        if (this.bias) specs.push({ name: `bias_ih${s}`, shape: [GH] }, { name: `bias_hh${s}`, shape: [GH] });
        for (const e of extra) specs.push({ name: `${e.name}${s}`, shape: e.shape });
      }
    }
    return specs;
  }

  /**
   * The live parameters, in named_parameters() order: Tensors viewing the model's own storage (no
   * copies), for optimizers. After changing their data in place, call `commitParameters()`.
   */
  namedParameters(): [string, Tensor][] {
    if (this.quant) throw quantizedTrainingError(`${this.cell.name}.namedParameters`, this.precisionValue, 'optimizers and Trainer need its parameters');
    return this.params.specs.map((s) => [s.name, new Tensor(this.params.get(s.name), s.shape)]);
  }

  /** Apply in-place parameter changes: re-prepare the backend's weights (invalidates caches). */
  commitParameters(): this {
    this.prepare();
    return this;
  }

  /**
   * Copies of every parameter keyed by its PyTorch name. A quantized model gives the fp32 values
   * its bf16 / int8 matrices stand for (dequantized), e.g. to load into an fp32 model.
   */
  stateDict(): Record<string, Tensor> {
    if (!this.quant) return this.params.stateDict();
    const out: Record<string, Tensor> = {};
    for (const s of this.paramSpecs()) {
      const q = this.quant.get(s.name);
      out[s.name] = new Tensor(q ? dequantize(q) : this.params.get(s.name).slice(), s.shape);
    }
    return out;
  }

  /** Replace all weights (PyTorch names and shapes; every name required, none unknown). */
  loadStateDict(weights: StateDictInput): this {
    if (this.quant) throw quantizedTrainingError(`${this.cell.name}.loadStateDict`, this.precisionValue, 'its weights come from quantize() or a model file');
    this.params.load(`${this.cell.name}.loadStateDict`, weights);
    this.prepare();
    return this;
  }

  /** Inference: keeps nothing for backward. */
  forward(x: Tensor, options?: ForwardOptions): RecurrentOutput {
    const plan = this.planForward(`${this.cell.name}.forward`, x, options, false);
    plan.layers.forEach((layer) => this.runLayer(layer, false));
    return plan.out;
  }

  /**
   * Every step's gate activations and states, per layer and direction (see InspectedLayer), with
   * the forward's results. It runs a training forward without dropout and reads what the backend
   * keeps for BPTT anyway (so a plain forward pays nothing for this method's existence); about
   * the cost of forwardTrain. The `h` it records equals `output` exactly, the last step's `c` cN.
   * fp32 models only: a quantized model has no training forward.
   */
  inspect(x: Tensor, options?: ForwardOptions): Inspection {
    const where = `${this.cell.name}.inspect`;
    if (this.quant) throw argTypeError(where, 'this', `an fp32 model (inspection reads the training forward's cache, which a quantized model has none of: inspect the fp32 model it came from)`, `a ${this.precisionValue} model`);
    const plan = this.planForward(where, x, options, true, false, false, null, false);
    const { T, B, rowT, rowB } = plan.seq;
    const H = this.hiddenSize, P = this.outSize;
    const kind = this.cell.kind(this.settings), names = GATE_NAMES[kind], G = gateCount(kind) * H;
    const be = plan.prepared.backend;
    const lengths = plan.layers[0][0].args.lengths;
    // [T, B, U] from rows r(t, b) of src: U values from src[off + r*ld]; 0 past a length (what a
    // backend keeps on those rows is its own business: ts leaves the input projection there).
    const gather = (src: FloatArray, off: number, ld: number, U: number): Tensor => {
      const out = allocate(this.dtype, T * B * U);
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < B; b++) {
          if (lengths && t >= lengths[b]) continue;
          const s0 = off + (t * rowT + b * rowB) * ld, o0 = (t * B + b) * U;
          for (let j = 0; j < U; j++) out[o0 + j] = src[s0 + j];
        }
      }
      return trustedTensor(out, [T, B, U]);
    };
    const layers: InspectedLayer[] = [];
    plan.layers.forEach((layer, k) => {
      const caches = this.runLayer(layer, true);
      layer.forEach((call, d) => {
        const st = be.cacheStates(call.w, caches[d]!);
        const values: Record<string, Tensor> = {};
        names.forEach((n, q) => { values[n] = gather(st.gates, q * H, G, H); });
        if (st.c) values.c = gather(st.c, 0, H, H);
        values.h = gather(call.args.y, call.args.yOffset, call.args.ldy, P);
        layers.push({ layer: k, direction: d, reverse: call.args.reverse, values });
      });
    });
    return { ...plan.out, layers };
  }

  /**
   * backward that also returns ∂loss/∂h_t (and ∂loss/∂c_t) of every step, per layer-direction
   * (StateGradients): how the gradient reaching each step decays with its distance from the loss.
   * One BPTT computes them all. Needs the 'ts' backend (its kernels record them as they go);
   * move the model there with useBackend('ts') (float64 works too).
   */
  stateGradients(cache: RecurrentCache, gradOutputs?: GradOutputs): StateGradients {
    const where = `${this.cell.name}.stateGradients`;
    if (this.backendObj.name !== 'ts') throw argTypeError(where, 'this', "a model on the 'ts' backend (useBackend('ts'), then forwardTrain): only the ts kernels record the per-step state gradients", `a model on '${this.backendObj.name}'`);
    const plan = this.planBackward(where, cache, gradOutputs);
    const seq = cacheState.get(cache)!.seq;
    const { T, B, rowT, rowB } = seq;
    const H = this.hiddenSize, P = this.outSize, D = this.numDirections, L = this.numLayers, N = T * B;
    const rowsH: FloatArray[] = [], rowsC: (FloatArray | null)[] = [];
    plan.layers.forEach((layer, i) => {
      const k = L - 1 - i;
      layer.forEach((c, d) => {
        c.args.dhSteps = rowsH[k * D + d] = allocate(this.dtype, N * P);
        c.args.dcSteps = rowsC[k * D + d] = this.hasCellState ? allocate(this.dtype, N * H) : null;
      });
    });
    const be = this.backendObj;
    plan.layers.forEach((layer, i) => {
      for (const c of layer) be.backward(c.w, c.cache, c.args);
      plan.after[i]?.();
    });
    const timeMajor = (src: FloatArray, U: number): Tensor => {
      const out = allocate(this.dtype, N * U);
      for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) out.set(src.subarray((t * rowT + b * rowB) * U, (t * rowT + b * rowB + 1) * U), (t * B + b) * U);
      return trustedTensor(out, [T, B, U]);
    };
    const steps = rowsH.map((h, i) => {
      const e: StepGradients = { dH: timeMajor(h, P) };
      if (rowsC[i]) e.dC = timeMajor(rowsC[i]!, H);
      return e;
    });
    return { ...plan.out, steps };
  }

  /** One layer's directions: together when the backend can (one per core), else in turn. */
  private runLayer(layer: ForwardPlan['layers'][number], train: boolean): (CellCache | null)[] {
    const be = this.backendObj;
    if (layer.length === 2 && be.forwardPair) return be.forwardPair([layer[0].w, layer[1].w], [layer[0].args, layer[1].args], train);
    return layer.map((c) => be.forward(c.w, c.args, train));
  }

  private async runLayerAsync(layer: ForwardPlan['layers'][number], train: boolean, be: Backend = this.backendObj): Promise<(CellCache | null)[]> {
    if (layer.length === 2 && be.forwardPairAsync) return be.forwardPairAsync([layer[0].w, layer[1].w], [layer[0].args, layer[1].args], train);
    return Promise.all(layer.map((c) => be.forwardAsync(c.w, c.args, train)));
  }

  /** One layer's backward: both directions at once into separate ∂input buffers, else in turn. */
  private pairedBackward(layer: BackwardPlan['layers'][number]): boolean {
    return layer.length === 2 && !!this.backendObj.backwardPair;
  }

  /**
   * Inference off the event loop (native: on a worker thread; ts: computed before the promise
   * settles). The input is copied and the weights are those at the call, so the caller may change
   * either while the promise is pending.
   */
  async forwardAsync(x: Tensor, options?: ForwardOptions): Promise<RecurrentOutput> {
    const plan = this.planForward(`${this.cell.name}.forwardAsync`, x, options, false, true);
    return plan.prepared.hold(async () => {
      for (const layer of plan.layers) await this.runLayerAsync(layer, false);
      return plan.out;
    });
  }

  /**
   * @internal The weights as they are now, held until `release()`: `run` is forwardAsync with
   * them, whenever it is called (a model's later layers run after its earlier ones, and every
   * layer must compute with the weights of the model's call).
   */
  pinWeights(): { run: (x: Tensor, options?: ForwardOptions) => Promise<RecurrentOutput>; release: () => void } {
    const prepared = this.prepared!;
    const release = prepared.pin();
    const run = async (x: Tensor, options?: ForwardOptions): Promise<RecurrentOutput> => {
      const plan = this.planForward(`${this.cell.name}.forwardAsync`, x, options, false, true, false, prepared);
      for (const layer of plan.layers) await this.runLayerAsync(layer, false, prepared.backend);
      return plan.out;
    };
    return { run, release };
  }

  /**
   * Inference on a Tensor ([T, B, I], or [B, T, I] batch-first), nested arrays (one per
   * sequence; ragged ones are padded with lengths) or a typed array with options.shape: the
   * output, as Sequential.predict (lib/nn/predict.ts).
   */
  predict(x: PredictInput, options?: PredictOptions): Tensor {
    return predict({ layers: [this], dtype: this.dtype, batchFirst: this.batchFirst, forward: (t, o) => this.forward(t, o) }, x, options, this.cell.name);
  }

  /** Training forward (dropout active): also returns the cache that `backward` needs. */
  forwardTrain(x: Tensor, options?: ForwardOptions): RecurrentOutput & {
    /** What backward needs; stale (refused) once the weights or backend change. */
    cache: RecurrentCache;
  } {
    const plan = this.planForward(`${this.cell.name}.forwardTrain`, x, options, true);
    const caches: CellCache[] = [];
    plan.layers.forEach((layer, k) => {
      caches.push(...this.runLayer(layer, true).map((c) => c!));
      plan.after[k]?.();
    });
    return { ...plan.out, cache: this.makeCache(plan, caches) };
  }

  /** forwardTrain off the event loop (see forwardAsync). */
  async forwardTrainAsync(x: Tensor, options?: ForwardOptions): Promise<RecurrentOutput & {
    /** What backwardAsync (or backward) needs; stale once the weights or backend change. */
    cache: RecurrentCache;
  }> {
    const plan = this.planForward(`${this.cell.name}.forwardTrainAsync`, x, options, true, true);
    return plan.prepared.hold(async () => {
      const caches: CellCache[] = [];
      for (let k = 0; k < plan.layers.length; k++) {
        caches.push(...(await this.runLayerAsync(plan.layers[k], true)).map((c) => c!));
        plan.after[k]?.();
      }
      return { ...plan.out, cache: this.makeCache(plan, caches) };
    });
  }

  /**
   * Full backpropagation through time of one training forward. Upstream gradients default to 0.
   * Returns gradients for x, h0 (c0) and every parameter (by PyTorch name).
   */
  backward(cache: RecurrentCache, gradOutputs?: GradOutputs): RecurrentGradients {
    const plan = this.planBackward(`${this.cell.name}.backward`, cache, gradOutputs);
    const be = this.backendObj;
    plan.layers.forEach((layer, i) => {
      if (this.pairedBackward(layer)) {
        be.backwardPair!([layer[0].w, layer[1].w], [layer[0].cache, layer[1].cache], [layer[0].args, layer[1].args]);
      } else {
        for (const c of layer) be.backward(c.w, c.cache, c.args);
      }
      plan.after[i]?.();
    });
    return plan.out;
  }

  /** @internal See RELEASE_CACHE (lib/nn/layer.ts): the backend may reuse this cache's memory. */
  [RELEASE_CACHE](cache: unknown): void {
    const st = cache instanceof RecurrentCache ? cacheState.get(cache) : undefined;
    if (!st || st.model !== this) return;
    cacheState.delete(cache as RecurrentCache);
    released.add(cache as RecurrentCache);
    // Not st.prepared === this.prepared: the Trainer releases after its update has re-prepared.
    for (const c of st.caches) if (c.backend === this.backendObj.name) this.backendObj.releaseCache?.(c);
  }

  /**
   * backward off the event loop (see forwardAsync). The upstream gradients are copied at the call,
   * so the caller may change or detach them while the promise is pending.
   */
  async backwardAsync(cache: RecurrentCache, gradOutputs?: GradOutputs): Promise<RecurrentGradients> {
    const plan = this.planBackward(`${this.cell.name}.backwardAsync`, cache, gradOutputs, true);
    const be = this.backendObj;
    return plan.prepared.hold(async () => {
      for (let i = 0; i < plan.layers.length; i++) {
        const layer = plan.layers[i];
        if (this.pairedBackward(layer)) {
          await be.backwardPairAsync!([layer[0].w, layer[1].w], [layer[0].cache, layer[1].cache], [layer[0].args, layer[1].args]);
        } else {
          // Without a pair call the directions add into one ∂input buffer, one after the other.
          for (const c of layer) await be.backwardAsync(c.w, c.cache, c.args);
        }
        plan.after[i]?.();
      }
      return plan.out;
    });
  }

  /**
   * One step of streaming inference: x [B, inputSize] and the state from the previous step (zeros
   * when omitted) -> the output [B, Hout] and the new state. Feeding a sequence one step at a time
   * gives the same outputs as one whole-sequence forward. Unidirectional models only.
   */
  step(x: Tensor, state?: StepState | null): {
    /** The last layer's hidden state after this step, [B, Hout]. */
    output: Tensor;
    /** The state to pass to the next step. */
    state: StepState;
  } {
    const where = `${this.cell.name}.step`;
    if (this.bidirectional || this.reverse) throw argTypeError(where, 'this', 'a model that runs forward in time (not bidirectional or reverse)', this);
    const { shape, data } = checkStepInput(where, x, this.inputSize, this.dtype);
    const B = shape[0];
    const o = readOptions(where, 'state', state, ['h', 'c']);
    // [1, B, I] and [B, 1, I] are the same memory: x needs no copy, and no second check.
    const x3 = trustedTensor(data, this.batchFirst ? [B, 1, this.inputSize] : [1, B, this.inputSize]);
    const plan = this.planForward(where, x3, { h0: o.h as Tensor | undefined, c0: o.c as Tensor | undefined }, false, false, true);
    plan.layers.forEach((layer) => this.runLayer(layer, false));
    const r = plan.out;
    const next: StepState = { h: r.hN };
    if (r.cN) next.c = r.cN;
    return { output: trustedTensor(r.output.data, [B, this.outSize]), state: next };
  }

  /** Validate, allocate every buffer and lay out one backend call per layer-direction. */
  private planForward(where: string, x: Tensor, options: ForwardOptions | undefined, train: boolean, copyInput = false, xChecked = false, pinned: PreparedWeights | null = null, dropout = train): ForwardPlan {
    if (train && this.quant) throw quantizedTrainingError(where, this.precisionValue, 'training needs an fp32 model');
    const o = readOptions(where, 'options', options, FORWARD_KEYS);
    const { data: xData, seq } = xChecked ? trustedSeq(x, this.batchFirst) : checkInput(where, x, this.inputSize, this.batchFirst, this.dtype);
    const { T, B, rowT, rowB } = seq;
    const H = this.hiddenSize, P = this.outSize, D = this.numDirections, L = this.numLayers, N = T * B;
    const hShape = [L * D, B, P], cShape = [L * D, B, H];
    // Size limits before anything is allocated: each layer's output rows and gate pre-activations.
    const G = gateCount(this.cell.kind(this.settings)) * H;
    checkElements(where, 'x', N * D * P, `the output of T*B = ${N} rows of ${D * P}`);
    checkElements(where, 'x', N * G, `the gate pre-activations of T*B = ${N} rows of ${G}`);
    const h0 = checkState(where, 'h0', o.h0, hShape, 'numLayers*numDirections, B, ' + this.cell.outSizeOption(this.settings), this.dtype);
    if (!this.hasCellState && o.c0 !== undefined && o.c0 !== null) throw argTypeError(where, 'options.c0', `nothing (a ${this.cell.name} has no cell state)`, o.c0);
    const c0 = this.hasCellState ? checkState(where, 'c0', o.c0, cShape, 'numLayers*numDirections, B, hiddenSize', this.dtype) : null;
    const lengths = checkLengths(where, o.lengths, T, B);

    const prepared = pinned ?? this.prepared!; // snapshot: later weight updates do not reach this call
    const out = prepared.backend.writesAllOutputs ? allocateUninit : allocate; // the kernels fill them
    const hN = out(this.dtype, L * D * B * P);
    const cN = this.hasCellState ? out(this.dtype, L * D * B * H) : null;
    const layers: ForwardPlan['layers'] = [];
    const after: ForwardPlan['after'] = [];
    const masks: (FloatArray | null)[] = [];
    // Layer 0 reads x; training (and async) keeps a private copy so later changes to x cannot leak in.
    let input: FloatArray = train || copyInput ? xData.slice() : xData;
    let ldx = this.inputSize;
    let y: FloatArray = input;
    const view = (a: FloatArray | null, i: number, n: number) => (a ? (copyInput ? a.slice(i * n, i * n + n) : a.subarray(i * n, i * n + n)) : null);
    for (let k = 0; k < L; k++) {
      y = out(this.dtype, N * D * P); // [N, D*P] layer k output rows
      const calls = [];
      for (let d = 0; d < D; d++) {
        const i = k * D + d;
        calls.push({ w: prepared.cells[i], args: {
          T, B, rowT, rowB, reverse: d === 1 || this.reverse, lengths,
          x: input, xOffset: 0, ldx,
          y, yOffset: d * P, ldy: D * P,
          h0: view(h0, i, B * P), c0: view(c0, i, B * H),
          hN: hN.subarray(i * B * P, (i + 1) * B * P),
          cN: cN ? cN.subarray(i * B * H, (i + 1) * B * H) : null,
        } });
      }
      layers.push(calls);
      const mask = dropout && this.dropout > 0 && k < L - 1 ? this.dropoutMask(N * D * P) : null;
      masks.push(mask);
      const yk = y;
      after.push(mask ? () => { for (let j = 0; j < yk.length; j++) yk[j] *= mask[j]; } : null);
      input = y;
      ldx = D * P;
    }
    const result: RecurrentOutput = {
      output: trustedTensor(y, this.batchFirst ? [B, T, D * P] : [T, B, D * P]),
      hN: trustedTensor(hN, hShape),
    };
    if (cN) result.cN = trustedTensor(cN, cShape);
    return { out: result, layers, after, seq, prepared, masks };
  }

  /** Inverted dropout: 0 with probability p, else 1/(1-p). Seeded stream, advances per call. */
  private dropoutMask(n: number): FloatArray {
    const m = allocate(this.dtype, n);
    const keep = 1 - this.dropout, scale = 1 / keep;
    for (let i = 0; i < n; i++) m[i] = this.dropoutRng.next() < keep ? scale : 0;
    return m;
  }

  private makeCache(plan: ForwardPlan, caches: CellCache[]): RecurrentCache {
    // The weights the forward used (call time), not the current ones: an update while
    // forwardTrainAsync was in flight must make this cache stale.
    return new RecurrentCache({ model: this, seq: plan.seq, caches, prepared: plan.prepared, dropoutMasks: plan.masks });
  }

  private planBackward(where: string, cacheArg: RecurrentCache, gradOutputs: GradOutputs | undefined, copyInput = false): BackwardPlan {
    if (this.quant) throw quantizedTrainingError(where, this.precisionValue, 'backward needs an fp32 model');
    const cache = cacheArg instanceof RecurrentCache ? cacheState.get(cacheArg) : undefined;
    if (!cache && released.has(cacheArg)) throw new StaleCacheError(`${where}: cache: it was released after its backward (Trainer does after each step); run forwardTrain again`);
    if (!cache) throw argTypeError(where, 'cache', 'the cache returned by forwardTrain', cacheArg);
    if (cache.model !== this) throw new StaleCacheError(`${where}: cache: it belongs to another model`);
    if (cache.prepared !== this.prepared) {
      throw new StaleCacheError(`${where}: cache: the weights or backend changed after forwardTrain; run forwardTrain again`);
    }
    const g = readOptions(where, 'gradOutputs', gradOutputs, GRAD_KEYS);
    const { T, B } = cache.seq;
    const H = this.hiddenSize, P = this.outSize, D = this.numDirections, L = this.numLayers, N = T * B;
    const outShape = this.batchFirst ? [B, T, D * P] : [T, B, D * P];
    const hShape = [L * D, B, P], cShape = [L * D, B, H];
    // Async: private copies, read by later layers after the caller has had the event loop back.
    const own = (a: FloatArray | null) => (a && copyInput ? a.slice() : a);
    let dy = own(checkGrad(where, 'dOutput', g.dOutput, outShape, this.dtype));
    const dhN = own(checkGrad(where, 'dHN', g.dHN, hShape, this.dtype));
    if (!this.hasCellState && g.dCN !== undefined && g.dCN !== null) throw argTypeError(where, 'gradOutputs.dCN', `nothing (a ${this.cell.name} has no cell state)`, g.dCN);
    const dcN = this.hasCellState ? own(checkGrad(where, 'dCN', g.dCN, cShape, this.dtype)) : null;

    const grads = new Map(this.params.specs.map((s) => [s.name, allocate(this.dtype, this.params.get(s.name).length)]));
    const extra = this.cell.extraParams(this.settings, H, P);
    const dH0 = allocate(this.dtype, L * D * B * P);
    const dC0 = this.hasCellState ? allocate(this.dtype, L * D * B * H) : null;
    const layers: BackwardPlan['layers'] = [];
    const after: BackwardPlan['after'] = [];
    let dIn: FloatArray = allocate(this.dtype, 0);
    const part = (a: FloatArray | null, i: number, n: number) => (a ? a.subarray(i * n, i * n + n) : null);
    const paired = D === 2 && !!this.backendObj.backwardPair;
    for (let k = L - 1; k >= 0; k--) {
      const Ik = k === 0 ? this.inputSize : D * P;
      dIn = allocate(this.dtype, N * Ik); // ∂ of layer k's input rows; both directions add into it
      // Directions run at once need separate ∂input buffers; the reverse one is added afterwards.
      const dInRev = paired ? allocate(this.dtype, N * Ik) : null;
      const calls = [];
      for (let d = 0; d < D; d++) {
        const i = k * D + d, s = this.suffix(k, d);
        calls.push({ w: cache.prepared.cells[i], cache: cache.caches[i], args: {
          dy, dyOffset: d * P, lddy: D * P,
          dhN: part(dhN, i, B * P), dcN: part(dcN, i, B * H),
          dx: d === 1 && dInRev ? dInRev : dIn, dxOffset: 0, lddx: Ik,
          dh0: part(dH0, i, B * P)!, dc0: part(dC0, i, B * H),
          dWeightIh: grads.get(`weight_ih${s}`)!,
          dWeightHh: grads.get(`weight_hh${s}`)!,
          dBiasIh: this.bias ? grads.get(`bias_ih${s}`)! : null,
          dBiasHh: this.bias ? grads.get(`bias_hh${s}`)! : null,
          ...this.cell.grads(this.settings, (n) => grads.get(`${n}${s}`)!),
          dExtra: Object.fromEntries(extra.map((e) => [e.name, grads.get(`${e.name}${s}`)!])),
        } });
      }
      layers.push(calls);
      // Layer k's input was layer k-1's output times its dropout mask: scale ∂input likewise.
      const mask = k > 0 ? cache.dropoutMasks[k - 1] : null;
      const dInK = dIn;
      after.push(mask || dInRev ? () => {
        if (dInRev) for (let j = 0; j < dInK.length; j++) dInK[j] += dInRev[j];
        if (mask) for (let j = 0; j < dInK.length; j++) dInK[j] *= mask[j];
      } : null);
      dy = dIn;
    }
    const gradTensors: Record<string, Tensor> = {};
    for (const s of this.params.specs) gradTensors[s.name] = new Tensor(grads.get(s.name)!, s.shape);
    const xShape = this.batchFirst ? [B, T, this.inputSize] : [T, B, this.inputSize];
    const out: RecurrentGradients = { dX: new Tensor(dIn, xShape), dH0: new Tensor(dH0, hShape), grads: gradTensors };
    if (dC0) out.dC0 = new Tensor(dC0, cShape);
    return { out, layers, after, prepared: cache.prepared };
  }

  protected suffix(k: number, d: number): string {
    return `_l${k}${d === 1 ? '_reverse' : ''}`;
  }

  private pickBackend(name: BackendName | undefined): Backend {
    const b = getBackend(name ?? (this.dtype === 'float64' ? 'ts' : defaultBackendName()));
    if (!b.supports(this.dtype)) {
      throw argTypeError(this.cell.name, 'dtype', `a dtype the '${b.name}' backend computes in (float32)`, this.dtype);
    }
    // A quantized model asked onto a backend without kernels for its precision: say so (the
    // default choice falls back to ts instead, as float64 does).
    if (!b.supports(this.dtype, this.precisionValue)) {
      if (name === undefined) return getBackend('ts');
      throw argTypeError(this.cell.name, 'backend', `a backend that computes ${this.precisionValue} weights ('ts'; '${b.name}' has no ${this.precisionValue} kernels here)`, name);
    }
    return b;
  }

  /** Rebuild the backend's prepared weights; invalidates outstanding training caches. */
  private prepare(): void {
    const D = this.numDirections;
    const extra = this.cell.extraParams(this.settings, this.hiddenSize, this.outSize);
    const cells: PreparedCell[] = [];
    for (let k = 0; k < this.numLayers; k++) {
      for (let d = 0; d < D; d++) {
        const s = this.suffix(k, d);
        const quant = this.quant;
        // Quantized matrices have no fp32 storage: the backend gets empty arrays and qWeight*.
        const get = (n: string) => (quant?.has(`${n}${s}`) ? new Float32Array(0) : this.params.get(`${n}${s}`));
        const q = (n: string) => quant?.get(`${n}${s}`) ?? null;
        const params: CellParams = {
          ...this.cell.params(this.settings, get),
          extra: Object.fromEntries(extra.map((e) => [e.name, get(e.name)])),
          inputSize: k === 0 ? this.inputSize : D * this.outSize,
          hiddenSize: this.hiddenSize,
          weightIh: get('weight_ih'),
          weightHh: get('weight_hh'),
          biasIh: this.bias ? get('bias_ih') : null,
          biasHh: this.bias ? get('bias_hh') : null,
          clip: this.clip,
          precision: this.precisionValue,
          qWeightIh: q('weight_ih'), qWeightHh: q('weight_hh'), qWeightHr: q('weight_hr'),
        };
        cells.push(this.backendObj.prepare(params));
      }
    }
    this.prepared?.retire();
    this.prepared = new PreparedWeights(this.backendObj, cells);
  }
}

/** The sequence layout of an input the caller has already validated (step's own view). */
function trustedSeq(x: Tensor, batchFirst: boolean): { data: FloatArray; seq: SeqShape } {
  const [a, b] = x.shape;
  const [T, B] = batchFirst ? [b, a] : [a, b];
  return { data: x.data, seq: batchFirst ? { T, B, rowT: 1, rowB: T } : { T, B, rowT: B, rowB: 1 } };
}

function optionalProbability(where: string, name: string, v: unknown): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number') throw argTypeError(where, name, 'a probability in [0, 1)', v);
  if (!(v >= 0 && v < 1)) throw argRangeError(where, name, 'a probability in [0, 1)', describe(v));
  return v;
}

const FLOAT32_MAX = 3.4028234663852886e38;

function optionalClip(where: string, v: unknown): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number') throw argTypeError(where, 'clip', 'a positive number or null', v);
  // Up to the largest finite float32: native compares in float32, and both backends agree.
  if (!(v > 0 && v <= FLOAT32_MAX)) throw argRangeError(where, 'clip', `a positive finite number <= ${FLOAT32_MAX} (the largest float32)`, describe(v));
  return v;
}

function checkStepInput(where: string, x: unknown, inputSize: number, dtype: DType): { shape: readonly number[]; data: FloatArray } {
  const { shape, data } = checkTensorArg(where, 'x', x, dtype);
  if (shape.length !== 2 || shape[1] !== inputSize || shape[0] < 1) throw shapeError(where, 'x', `[B, ${inputSize}] with B >= 1`, shape);
  checkFinite(where, 'x', data);
  return { shape, data };
}
