// Linear: y = x · Wᵀ + b over the last axis, PyTorch's torch.nn.Linear (weight [out, in],
// bias [out], both initialised U(-1/√in, 1/√in) from a seed). x [..., in] -> y [..., out]: a
// [T, B, H] recurrent output gets the same dense head at every step.
//
// Computes on the ts GEMM in the model's dtype (the dense head is small next to the recurrent
// layers); deliberately no native path.

import { ParamModule } from './module';
import { gemm } from '../backend/ts/gemm';
import { argTypeError } from '../errors';
import { freshSeed, Rng } from '../rng';
import { allocate, Tensor, type DType, type FloatArray } from '../tensor';
import { checkCache, checkFeatures, readDOutput } from './dense';
import type { LayerConfig } from './layer';
import { oneOf, optionalBool, optionalSeed, positiveInt, readOptions } from './options';
import { ParamSet, type StateDictInput } from './params';

/** Linear construction options (torch.nn.Linear's). */
export interface LinearOptions {
  /** Features of the input's last axis. */
  inFeatures: number;
  /** Features of the output's last axis. */
  outFeatures: number;
  /**
   * Whether it adds a bias [out].
   * @default true
   */
  bias?: boolean;
  /**
   * Seed of the initial weights.
   * @default undefined (a fresh seed; the layer's `seed` reports it)
   */
  seed?: number;
  /**
   * Element type of the weights and outputs.
   * @default 'float32'
   */
  dtype?: DType;
}

/** What Linear.backward needs from a training forward (opaque). */
export class LinearCache {
  /**
   * @internal
   * @param owner The layer that made it.
   * @param version The layer's parameter version at the forward (a later update makes it stale).
   * @param x A copy of the input rows, [rows, in].
   * @param shape The input's shape.
   * @param rows Rows of x (the product of all but the last axis).
   */
  constructor(readonly owner: Linear, readonly version: number, readonly x: FloatArray, readonly shape: readonly number[], readonly rows: number) {}
}

const KEYS = ['inFeatures', 'outFeatures', 'bias', 'seed', 'dtype'] as const;

/**
 * y = x · Wᵀ + b over the last axis, torch.nn.Linear (weight [out, in], bias [out], both
 * U(-1/√in, 1/√in) from the seed): x [..., in] -> y [..., out], so a recurrent output [T, B, H]
 * gets the same dense head at every step.
 */
export class Linear extends ParamModule {
  protected readonly moduleName = 'Linear';
  /** Input features. */
  readonly inFeatures: number;
  /** Output features. */
  readonly outFeatures: number;
  /** Whether it has a bias. */
  readonly bias: boolean;
  /** Element type of the weights and outputs. */
  readonly dtype: DType;
  /** The seed the initial weights were drawn from. */
  readonly seed: number;
  protected readonly params: ParamSet;

  constructor(options: LinearOptions) {
    super();
    const where = 'Linear';
    if (options === undefined || options === null) throw argTypeError(where, 'options', 'an options object with inFeatures and outFeatures', options);
    const o = readOptions(where, 'options', options, KEYS);
    this.inFeatures = positiveInt(where, 'inFeatures', o.inFeatures);
    this.outFeatures = positiveInt(where, 'outFeatures', o.outFeatures);
    this.bias = optionalBool(where, 'bias', o.bias, true);
    this.dtype = oneOf(where, 'dtype', o.dtype, ['float32', 'float64'] as const, 'float32');
    this.seed = optionalSeed(where, 'seed', o.seed) ?? freshSeed();
    const specs = [{ name: 'weight', shape: [this.outFeatures, this.inFeatures] }];
    if (this.bias) specs.push({ name: 'bias', shape: [this.outFeatures] });
    this.params = new ParamSet(specs, this.dtype, where);
    // PyTorch: kaiming_uniform_(a=√5) on the weight is U(-1/√in, 1/√in); the bias uses the same bound.
    this.params.initUniform(new Rng(this.seed), 1 / Math.sqrt(this.inFeatures));
  }

  /** Its type and construction options as JSON, as model files save them. */
  config(): LayerConfig {
    return { type: 'Linear', inFeatures: this.inFeatures, outFeatures: this.outFeatures, bias: this.bias, dtype: this.dtype };
  }

  /** Inference: the output for x, keeping nothing for backward. */
  forward(x: Tensor): {
    /** The output. */
    output: Tensor;
  } {
    const { shape, data, rows } = checkFeatures('Linear.forward', x, this.inFeatures, this.dtype);
    return { output: this.apply(data, shape, rows) };
  }

  /** Training forward: the output and the cache backward needs. */
  forwardTrain(x: Tensor): {
    /** The output. */
    output: Tensor;
    /** What backward needs. */
    cache: LinearCache;
  } {
    const { shape, data, rows } = checkFeatures('Linear.forwardTrain', x, this.inFeatures, this.dtype);
    const xs = data.slice(); // a private copy: the caller may reuse x before backward
    return { output: this.apply(xs, shape, rows), cache: new LinearCache(this, this.version, xs, shape, rows) };
  }

  /** Backward from gradOutputs.dOutput (required: ∂loss/∂output, the output's shape): x's gradient and the parameters'. */
  backward(cache: LinearCache, gradOutputs?: { dOutput?: Tensor | null }): {
    /** ∂loss/∂x, the shape of x. */
    dX: Tensor;
    /** ∂loss/∂parameter by parameter name (empty for a layer without parameters). */
    grads: Record<string, Tensor>;
  } {
    const where = 'Linear.backward';
    checkCache(where, cache, this, this.version, LinearCache);
    const I = this.inFeatures, O = this.outFeatures, N = cache.rows;
    const outShape = [...cache.shape.slice(0, -1), O];
    const dy = readDOutput(where, gradOutputs, outShape, this.dtype); // [N, O]
    const W = this.params.get('weight');
    const dX = allocate(this.dtype, N * I); // [N, I] = dY · W
    const dW = allocate(this.dtype, O * I); // [O, I] = dYᵀ · X
    if (N > 0) {
      gemm(false, false, N, I, O, dy, 0, O, W, 0, I, 0, dX, 0, I);
      gemm(true, false, O, I, N, dy, 0, O, cache.x, 0, I, 0, dW, 0, I);
    }
    const grads: Record<string, Tensor> = { weight: new Tensor(dW, [O, I]) };
    if (this.bias) {
      const db = allocate(this.dtype, O); // [O] = Σ_rows dY
      for (let r = 0; r < N; r++) for (let j = 0; j < O; j++) db[j] += dy[r * O + j];
      grads.bias = new Tensor(db, [O]);
    }
    return { dX: new Tensor(dX, cache.shape), grads };
  }





  /** y [N, O] = x [N, I] · Wᵀ + b */
  private apply(x: FloatArray, shape: readonly number[], N: number): Tensor {
    const I = this.inFeatures, O = this.outFeatures;
    const y = allocate(this.dtype, N * O);
    if (this.bias) {
      const b = this.params.get('bias');
      for (let r = 0; r < N; r++) y.set(b, r * O);
    }
    if (N > 0) gemm(false, true, N, O, I, x, 0, I, this.params.get('weight'), 0, I, this.bias ? 1 : 0, y, 0, O);
    return new Tensor(y, [...shape.slice(0, -1), O]);
  }
}
