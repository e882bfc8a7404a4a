// The public LSTM layer: PyTorch's torch.nn.LSTM semantics, parameter names, shapes and gate
// order (i, f, g, o), over any backend. This file validates and lays out buffers; the numbers are
// computed by the backend, one call per layer-direction per sequence (lib/backend/types.ts).
//
// Shapes: x [T, B, I] ([B, T, I] with batchFirst); output [T, B, D*H]; hN, cN [L*D, B, H]
// (never batch-first, as in PyTorch); index of layer k, direction d in hN is k*D + d.

import { getBackend, defaultBackendName, isBackendName } from '../backend';
import type { Backend, BackendName, LstmBackwardArgs, LstmCache, LstmForwardArgs, PreparedLstm } from '../backend/types';
import { argTypeError, StaleCacheError } from '../errors';
import { freshSeed, Rng } from '../rng';
import { allocate, Tensor, type DType, type FloatArray } from '../tensor';
import { oneOf, optionalBool, optionalSeed, positiveInt, readOptions } from './options';
import { initBound, ParamSet, type ParamSpec, type StateDictInput } from './params';
import { checkGrad, checkInput, checkLengths, checkState, type SeqShape } from './sequence';

export interface LSTMOptions {
  inputSize: number;
  hiddenSize: number;
  numLayers?: number; // default 1
  bias?: boolean; // default true
  batchFirst?: boolean; // default false
  bidirectional?: boolean; // default false
  seed?: number; // weights are U(-1/sqrt(H), 1/sqrt(H)) from this seed; a fresh one if omitted
  dtype?: DType; // default 'float32'; 'float64' (ts backend only) for gradient checks
  backend?: BackendName; // default: see backend()
}

export interface LSTMForwardOptions {
  h0?: Tensor | null; // [L*D, B, H]
  c0?: Tensor | null; // [L*D, B, H]
  lengths?: ArrayLike<number> | null; // [B], each in [1, T]: a variable-length batch
}

export interface LSTMOutput {
  output: Tensor; // [T, B, D*H] or [B, T, D*H]
  hN: Tensor; // [L*D, B, H]
  cN: Tensor; // [L*D, B, H]
}

export interface LSTMGradOutputs {
  dOutput?: Tensor | null; // shape of output
  dHN?: Tensor | null; // shape of hN
  dCN?: Tensor | null; // shape of cN
}

export interface LSTMGradients {
  dX: Tensor; // shape of x
  dH0: Tensor; // [L*D, B, H]
  dC0: Tensor; // [L*D, B, H]
  grads: Record<string, Tensor>; // every parameter, keyed by its PyTorch name
}

/**
 * Everything one training forward keeps for its backward. Independent of the model's other
 * calls, so several forwards may be in flight; tied to the weights it was computed with.
 */
export class LSTMCache {
  /** @internal */ constructor(
    readonly model: LSTM,
    readonly version: number,
    readonly seq: SeqShape,
    readonly lengths: Int32Array | null,
    readonly caches: LstmCache[], // [L*D] backend caches (each keeps its layer's input rows)
    readonly backendName: BackendName,
    readonly prepared: readonly PreparedLstm[], // the weights the forward used
  ) {}
}

interface ForwardPlan {
  out: LSTMOutput;
  layers: { w: PreparedLstm; args: LstmForwardArgs }[][]; // [L][D] backend calls, in order
  seq: SeqShape;
  lengths: Int32Array | null;
  prepared: readonly PreparedLstm[];
}

interface BackwardPlan {
  out: LSTMGradients;
  layers: { w: PreparedLstm; cache: LstmCache; args: LstmBackwardArgs }[][]; // last layer first
}

function copyIf(copy: boolean, a: FloatArray): FloatArray {
  return copy ? a.slice() : a;
}

const OPTION_KEYS = ['inputSize', 'hiddenSize', 'numLayers', 'bias', 'batchFirst', 'bidirectional', 'seed', 'dtype', 'backend'] as const;
const FORWARD_KEYS = ['h0', 'c0', 'lengths'] as const;
const GRAD_KEYS = ['dOutput', 'dHN', 'dCN'] as const;

export class LSTM {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly bidirectional: boolean;
  readonly dtype: DType;
  /** The seed the initial weights were drawn from. */
  readonly seed: number;
  private readonly params: ParamSet;
  private backendObj: Backend;
  private prepared: PreparedLstm[] = [];
  private version = 0;

  constructor(options: LSTMOptions) {
    const where = 'LSTM';
    if (options === undefined || options === null) throw argTypeError(where, 'options', 'an options object with inputSize and hiddenSize', options);
    const o = readOptions(where, 'options', options, OPTION_KEYS);
    this.inputSize = positiveInt(where, 'inputSize', o.inputSize);
    this.hiddenSize = positiveInt(where, 'hiddenSize', o.hiddenSize);
    this.numLayers = o.numLayers === undefined ? 1 : positiveInt(where, 'numLayers', o.numLayers);
    this.bias = optionalBool(where, 'bias', o.bias, true);
    this.batchFirst = optionalBool(where, 'batchFirst', o.batchFirst, false);
    this.bidirectional = optionalBool(where, 'bidirectional', o.bidirectional, false);
    this.dtype = oneOf(where, 'dtype', o.dtype, ['float32', 'float64'] as const, 'float32');
    const seed = optionalSeed(where, 'seed', o.seed);
    this.seed = seed ?? freshSeed();
    if (o.backend !== undefined && !isBackendName(o.backend)) throw argTypeError(where, 'backend', "'ts' or 'native'", o.backend);
    this.backendObj = this.pickBackend(o.backend as BackendName | undefined);

    this.params = new ParamSet(this.paramSpecs(), this.dtype);
    this.params.initUniform(new Rng(this.seed), initBound(this.hiddenSize));
    this.prepare();
  }

  get numDirections(): number {
    return this.bidirectional ? 2 : 1;
  }

  /** Name of the backend this model computes on. */
  get backend(): BackendName {
    return this.backendObj.name;
  }

  /** Move the model to another backend (weights are re-prepared for it). */
  useBackend(name: BackendName): this {
    if (!isBackendName(name)) throw argTypeError('LSTM.useBackend', 'name', "'ts' or 'native'", name);
    this.backendObj = this.pickBackend(name);
    this.prepare();
    return this;
  }

  /** Parameter names and shapes in PyTorch's named_parameters() order. */
  paramSpecs(): ParamSpec[] {
    const H = this.hiddenSize, D = this.numDirections;
    const specs: ParamSpec[] = [];
    for (let k = 0; k < this.numLayers; k++) {
      const I = k === 0 ? this.inputSize : D * H;
      for (let d = 0; d < D; d++) {
        const s = `_l${k}${d === 1 ? '_reverse' : ''}`;
        specs.push({ name: `weight_ih${s}`, shape: [4 * H, I] }, { name: `weight_hh${s}`, shape: [4 * H, H] });
        if (this.bias) specs.push({ name: `bias_ih${s}`, shape: [4 * H] }, { name: `bias_hh${s}`, shape: [4 * H] });
      }
    }
    return specs;
  }

  /**
   * The live parameters, in PyTorch's named_parameters() order: Tensors viewing the model's own
   * storage (no copies), for optimizers. After changing their data in place, call
   * `commitParameters()` so the backend re-prepares (re-packs) the weights once.
   */
  namedParameters(): [string, Tensor][] {
    return this.params.specs.map((s) => [s.name, new Tensor(this.params.get(s.name), s.shape)]);
  }

  /** Apply in-place parameter changes: re-prepare the backend's weights (invalidates caches). */
  commitParameters(): this {
    this.prepare();
    return this;
  }

  /** Copies of every parameter keyed by its PyTorch name. */
  stateDict(): Record<string, Tensor> {
    return this.params.stateDict();
  }

  /** Replace all weights (PyTorch names and shapes; every name required, none unknown). */
  loadStateDict(weights: StateDictInput): this {
    this.params.load('LSTM.loadStateDict', weights);
    this.prepare();
    return this;
  }

  /** Inference: keeps nothing for backward. */
  forward(x: Tensor, options?: LSTMForwardOptions): LSTMOutput {
    const plan = this.planForward('LSTM.forward', x, options, false);
    for (const layer of plan.layers) for (const c of layer) this.backendObj.lstmForward(c.w, c.args, false);
    return plan.out;
  }

  /**
   * Inference off the event loop (native: on a worker thread; ts: computed before the promise
   * settles). The input is copied and the weights are used as they were at the call, so the
   * caller may change either while the promise is pending.
   */
  async forwardAsync(x: Tensor, options?: LSTMForwardOptions): Promise<LSTMOutput> {
    const plan = this.planForward('LSTM.forwardAsync', x, options, false, true);
    const be = this.backendObj;
    for (const layer of plan.layers) await Promise.all(layer.map((c) => be.lstmForwardAsync(c.w, c.args, false)));
    return plan.out;
  }

  /** Training forward: also returns the cache that `backward` needs. */
  forwardTrain(x: Tensor, options?: LSTMForwardOptions): LSTMOutput & { cache: LSTMCache } {
    const plan = this.planForward('LSTM.forwardTrain', x, options, true);
    const caches: LstmCache[] = [];
    for (const layer of plan.layers) for (const c of layer) caches.push(this.backendObj.lstmForward(c.w, c.args, true)!);
    return { ...plan.out, cache: this.makeCache(plan, caches) };
  }

  /** forwardTrain off the event loop (see forwardAsync). */
  async forwardTrainAsync(x: Tensor, options?: LSTMForwardOptions): Promise<LSTMOutput & { cache: LSTMCache }> {
    const plan = this.planForward('LSTM.forwardTrainAsync', x, options, true);
    const be = this.backendObj;
    const caches: LstmCache[] = [];
    for (const layer of plan.layers) caches.push(...(await Promise.all(layer.map((c) => be.lstmForwardAsync(c.w, c.args, true)))).map((c) => c!));
    return { ...plan.out, cache: this.makeCache(plan, caches) };
  }

  /**
   * Full backpropagation through time of one training forward. Upstream gradients default to 0.
   * Returns gradients for x, h0, c0 and every parameter (by PyTorch name).
   */
  backward(cache: LSTMCache, gradOutputs?: LSTMGradOutputs): LSTMGradients {
    const plan = this.planBackward('LSTM.backward', cache, gradOutputs);
    for (const layer of plan.layers) for (const c of layer) this.backendObj.lstmBackward(c.w, c.cache, c.args);
    return plan.out;
  }

  /** backward off the event loop (see forwardAsync). */
  async backwardAsync(cache: LSTMCache, gradOutputs?: LSTMGradOutputs): Promise<LSTMGradients> {
    const plan = this.planBackward('LSTM.backwardAsync', cache, gradOutputs);
    const be = this.backendObj;
    // Directions of one layer add into the same ∂input buffer, so they run one after the other.
    for (const layer of plan.layers) for (const c of layer) await be.lstmBackwardAsync(c.w, c.cache, c.args);
    return plan.out;
  }

  /** Validate, allocate every buffer and lay out one backend call per layer-direction. */
  private planForward(where: string, x: Tensor, options: LSTMForwardOptions | undefined, train: boolean, copyInput = false): ForwardPlan {
    const o = readOptions(where, 'options', options, FORWARD_KEYS);
    const { data: xData, seq } = checkInput(where, x, this.inputSize, this.batchFirst, this.dtype);
    const { T, B, rowT, rowB } = seq;
    const H = this.hiddenSize, D = this.numDirections, L = this.numLayers, N = T * B;
    const stateShape = [L * D, B, H];
    const h0 = checkState(where, 'h0', o.h0, stateShape, 'numLayers*numDirections, B, hiddenSize', this.dtype);
    const c0 = checkState(where, 'c0', o.c0, stateShape, 'numLayers*numDirections, B, hiddenSize', this.dtype);
    const lengths = checkLengths(where, o.lengths, T, B);

    const prepared = this.prepared; // snapshot: later weight updates do not reach this call
    const hN = allocate(this.dtype, L * D * B * H);
    const cN = allocate(this.dtype, L * D * B * H);
    const layers: { w: PreparedLstm; args: LstmForwardArgs }[][] = [];
    // Layer 0 reads x; training (and async) keeps a private copy so later changes to x cannot leak in.
    let input: FloatArray = train || copyInput ? xData.slice() : xData;
    let ldx = this.inputSize;
    let y: FloatArray = input;
    for (let k = 0; k < L; k++) {
      y = allocate(this.dtype, N * D * H); // [N, D*H] layer k output rows
      const calls = [];
      for (let d = 0; d < D; d++) {
        const i = k * D + d, st = i * B * H;
        calls.push({ w: prepared[i], args: {
          T, B, rowT, rowB, reverse: d === 1, lengths,
          x: input, xOffset: 0, ldx,
          y, yOffset: d * H, ldy: D * H,
          h0: h0 ? copyIf(copyInput, h0.subarray(st, st + B * H)) : null,
          c0: c0 ? copyIf(copyInput, c0.subarray(st, st + B * H)) : null,
          hN: hN.subarray(st, st + B * H),
          cN: cN.subarray(st, st + B * H),
        } });
      }
      layers.push(calls);
      input = y;
      ldx = D * H;
    }
    const out: LSTMOutput = {
      output: new Tensor(y, this.batchFirst ? [B, T, D * H] : [T, B, D * H]),
      hN: new Tensor(hN, stateShape),
      cN: new Tensor(cN, stateShape),
    };
    return { out, layers, seq, lengths, prepared };
  }

  private makeCache(plan: ForwardPlan, caches: LstmCache[]): LSTMCache {
    return new LSTMCache(this, this.version, plan.seq, plan.lengths, caches, this.backendObj.name, plan.prepared);
  }

  private planBackward(where: string, cache: LSTMCache, gradOutputs: LSTMGradOutputs | undefined): BackwardPlan {
    if (!(cache instanceof LSTMCache)) throw argTypeError(where, 'cache', 'the cache returned by forwardTrain', cache);
    if (cache.model !== this) throw new StaleCacheError(`${where}: cache: it belongs to another model`);
    if (cache.version !== this.version || cache.backendName !== this.backendObj.name) {
      throw new StaleCacheError(`${where}: cache: the weights or backend changed after forwardTrain; run forwardTrain again`);
    }
    const g = readOptions(where, 'gradOutputs', gradOutputs, GRAD_KEYS);
    const { T, B } = cache.seq;
    const H = this.hiddenSize, D = this.numDirections, L = this.numLayers, N = T * B;
    const outShape = this.batchFirst ? [B, T, D * H] : [T, B, D * H];
    const stateShape = [L * D, B, H];
    let dy = checkGrad(where, 'dOutput', g.dOutput, outShape, this.dtype);
    const dhN = checkGrad(where, 'dHN', g.dHN, stateShape, this.dtype);
    const dcN = checkGrad(where, 'dCN', g.dCN, stateShape, this.dtype);

    const grads = new Map(this.params.specs.map((s) => [s.name, allocate(this.dtype, this.params.get(s.name).length)]));
    const dH0 = allocate(this.dtype, L * D * B * H);
    const dC0 = allocate(this.dtype, L * D * B * H);
    const layers: { w: PreparedLstm; cache: LstmCache; args: LstmBackwardArgs }[][] = [];
    let dIn: FloatArray = allocate(this.dtype, 0);
    for (let k = L - 1; k >= 0; k--) {
      const Ik = k === 0 ? this.inputSize : D * H;
      dIn = allocate(this.dtype, N * Ik); // ∂ of layer k's input rows; both directions add into it
      const calls = [];
      for (let d = 0; d < D; d++) {
        const i = k * D + d, s = this.suffix(k, d), st = i * B * H;
        calls.push({ w: cache.prepared[i], cache: cache.caches[i], args: {
          dy, dyOffset: d * H, lddy: D * H,
          dhN: dhN ? dhN.subarray(st, st + B * H) : null,
          dcN: dcN ? dcN.subarray(st, st + B * H) : null,
          dx: dIn, dxOffset: 0, lddx: Ik,
          dh0: dH0.subarray(st, st + B * H),
          dc0: dC0.subarray(st, st + B * H),
          dWeightIh: grads.get(`weight_ih${s}`)!,
          dWeightHh: grads.get(`weight_hh${s}`)!,
          dBiasIh: this.bias ? grads.get(`bias_ih${s}`)! : null,
          dBiasHh: this.bias ? grads.get(`bias_hh${s}`)! : null,
        } });
      }
      layers.push(calls);
      dy = dIn;
    }
    const gradTensors: Record<string, Tensor> = {};
    for (const s of this.params.specs) gradTensors[s.name] = new Tensor(grads.get(s.name)!, s.shape);
    const xShape = this.batchFirst ? [B, T, this.inputSize] : [T, B, this.inputSize];
    const out: LSTMGradients = {
      dX: new Tensor(dIn, xShape),
      dH0: new Tensor(dH0, stateShape),
      dC0: new Tensor(dC0, stateShape),
      grads: gradTensors,
    };
    return { out, layers };
  }

  private suffix(k: number, d: number): string {
    return `_l${k}${d === 1 ? '_reverse' : ''}`;
  }

  private pickBackend(name: BackendName | undefined): Backend {
    const b = getBackend(name ?? (this.dtype === 'float64' ? 'ts' : defaultBackendName()));
    if (!b.supports(this.dtype)) {
      throw argTypeError('LSTM', 'dtype', `a dtype the '${b.name}' backend computes in (float32)`, this.dtype);
    }
    return b;
  }

  /** Rebuild the backend's prepared weights; invalidates outstanding training caches. */
  private prepare(): void {
    const D = this.numDirections;
    this.prepared = [];
    for (let k = 0; k < this.numLayers; k++) {
      for (let d = 0; d < D; d++) {
        const s = this.suffix(k, d);
        this.prepared.push(this.backendObj.lstmPrepare({
          inputSize: k === 0 ? this.inputSize : D * this.hiddenSize,
          hiddenSize: this.hiddenSize,
          weightIh: this.params.get(`weight_ih${s}`),
          weightHh: this.params.get(`weight_hh${s}`),
          biasIh: this.bias ? this.params.get(`bias_ih${s}`) : null,
          biasHh: this.bias ? this.params.get(`bias_hh${s}`) : null,
        }));
      }
    }
    this.version++;
  }
}
