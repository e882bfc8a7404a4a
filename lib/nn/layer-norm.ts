// LayerNorm: PyTorch's torch.nn.LayerNorm over the last axis. x [..., D] -> y [..., D], each row
// (the leading axes flattened, N rows) normalised on its own:
//
//   mean = Σ_j x_j / D      var = Σ_j (x_j - mean)² / D  (biased, as PyTorch)
//   rstd = 1 / √(var + eps)  x̂_j = (x_j - mean) · rstd    y_j = x̂_j · weight_j + bias_j
//
// weight starts at 1 and bias at 0 (names `weight`, `bias` as in a PyTorch state_dict);
// elementwiseAffine: false has neither, bias: false only the weight. Backward (llm.c's
// layernorm_backward, derived once in docs there):
//
//   dx̂_j = dy_j · weight_j
//   dx_j = rstd · (dx̂_j - mean_k(dx̂_k) - x̂_j · mean_k(dx̂_k · x̂_k))
//   dweight_j = Σ_rows dy_j · x̂_j      dbias_j = Σ_rows dy_j
//
// Sums and the per-row statistics are accumulated in doubles whatever the dtype. Deliberately
// only the last axis (PyTorch's normalized_shape of one dimension): a recurrent model normalises
// features, not steps.

import { ParamModule } from './module';
import { argRangeError, argTypeError, describe } from '../errors';
import { allocate, Tensor, type DType, type FloatArray } from '../tensor';
import { checkCache, checkFeatures, readDOutput } from './dense';
import type { LayerConfig } from './layer';
import { oneOf, optionalBool, positiveInt, readOptions } from './options';
import { ParamSet } from './params';

/** LayerNorm construction options (torch.nn.LayerNorm's, over the last axis only). */
export interface LayerNormOptions {
  /** D, the size of the last axis (a number, or a one-element array as PyTorch's normalized_shape). */
  normalizedShape: number | readonly [number];
  /**
   * Added to the variance before the square root, > 0.
   * @default 1e-5
   */
  eps?: number;
  /**
   * A learnable weight [D] (starting at 1) and, unless bias is false, bias [D] (starting at 0).
   * @default true
   */
  elementwiseAffine?: boolean;
  /**
   * Whether the affine part has a bias (only with elementwiseAffine).
   * @default true
   */
  bias?: boolean;
  /**
   * Element type of the parameters and outputs.
   * @default 'float32'
   */
  dtype?: DType;
}

/** What LayerNorm.backward needs from a training forward (opaque). */
export class LayerNormCache {
  /**
   * @internal
   * @param owner The layer that made it.
   * @param version The layer's parameter version at the forward (a later update makes the cache stale).
   * @param xhat The normalised rows x̂, [N, D].
   * @param rstd Each row's 1/√(var + eps), [N].
   * @param shape The input's shape.
   */
  constructor(readonly owner: LayerNorm, readonly version: number, readonly xhat: Float64Array, readonly rstd: Float64Array, readonly shape: readonly number[]) {}
}

const KEYS = ['normalizedShape', 'eps', 'elementwiseAffine', 'bias', 'dtype'] as const;

/**
 * torch.nn.LayerNorm over the last axis: x [..., D] -> y [..., D], each row normalised to zero
 * mean and unit (biased) variance, then y = x̂ · weight + bias.
 */
export class LayerNorm extends ParamModule {
  protected readonly moduleName = 'LayerNorm';
  /** D, the size of the last axis. */
  readonly normalizedShape: number;
  /** Variance epsilon. */
  readonly eps: number;
  /** Whether it has a learnable weight. */
  readonly elementwiseAffine: boolean;
  /** Whether it has a learnable bias. */
  readonly bias: boolean;
  /** Element type of the parameters and outputs. */
  readonly dtype: DType;
  protected readonly params: ParamSet;

  constructor(options: LayerNormOptions) {
    super();
    const where = 'LayerNorm';
    if (options === undefined || options === null) throw argTypeError(where, 'options', 'an options object with normalizedShape', options);
    const o = readOptions(where, 'options', options, KEYS);
    let d = o.normalizedShape;
    if (Array.isArray(d)) {
      if (d.length !== 1) throw argRangeError(where, 'normalizedShape', 'a size D or [D] (the last axis only)', `an array of ${d.length} sizes`);
      d = d[0];
    }
    this.normalizedShape = positiveInt(where, 'normalizedShape', d);
    const eps = o.eps === undefined ? 1e-5 : o.eps;
    if (typeof eps !== 'number') throw argTypeError(where, 'eps', 'a positive finite number', eps);
    if (!(eps > 0) || !Number.isFinite(eps)) throw argRangeError(where, 'eps', 'a positive finite number', describe(eps));
    this.eps = eps;
    this.elementwiseAffine = optionalBool(where, 'elementwiseAffine', o.elementwiseAffine, true);
    this.bias = this.elementwiseAffine && optionalBool(where, 'bias', o.bias, true);
    this.dtype = oneOf(where, 'dtype', o.dtype, ['float32', 'float64'] as const, 'float32');
    const D = this.normalizedShape;
    const specs = this.elementwiseAffine ? [{ name: 'weight', shape: [D] }] : [];
    if (this.bias) specs.push({ name: 'bias', shape: [D] });
    this.params = new ParamSet(specs, this.dtype, where);
    if (this.elementwiseAffine) this.params.get('weight').fill(1); // PyTorch's reset_parameters: ones, zeros
  }

  /** Its type and construction options as JSON, as model files save them. */
  config(): LayerConfig {
    return { type: 'LayerNorm', normalizedShape: this.normalizedShape, eps: this.eps, elementwiseAffine: this.elementwiseAffine, bias: this.bias, dtype: this.dtype };
  }

  /** Inference: the output for x, keeping nothing for backward. */
  forward(x: Tensor): {
    /** The output. */
    output: Tensor;
  } {
    const { shape, data, rows } = checkFeatures('LayerNorm.forward', x, this.normalizedShape, this.dtype);
    return { output: this.apply(data, shape, rows, null, null) };
  }

  /** Training forward: the output and the cache backward needs. */
  forwardTrain(x: Tensor): {
    /** The output. */
    output: Tensor;
    /** What backward needs. */
    cache: LayerNormCache;
  } {
    const { shape, data, rows } = checkFeatures('LayerNorm.forwardTrain', x, this.normalizedShape, this.dtype);
    const xhat = new Float64Array(data.length); // [N, D]
    const rstd = new Float64Array(rows); // [N]
    const y = this.apply(data, shape, rows, xhat, rstd);
    return { output: y, cache: new LayerNormCache(this, this.version, xhat, rstd, shape) };
  }

  /** Backward from gradOutputs.dOutput (required: ∂loss/∂output, the output's shape): x's gradient and the parameters'. */
  backward(cache: LayerNormCache, gradOutputs?: { dOutput?: Tensor | null }): {
    /** ∂loss/∂x, the shape of x. */
    dX: Tensor;
    /** ∂loss/∂parameter by parameter name (empty for a layer without parameters). */
    grads: Record<string, Tensor>;
  } {
    const where = 'LayerNorm.backward';
    checkCache(where, cache, this, this.version, LayerNormCache);
    const D = this.normalizedShape, N = cache.rstd.length, { xhat, rstd } = cache;
    const dy = readDOutput(where, gradOutputs, cache.shape, this.dtype); // [N, D]
    const w = this.elementwiseAffine ? this.params.get('weight') : null;
    const dx = allocate(this.dtype, N * D); // [N, D]
    const dw = new Float64Array(D), db = new Float64Array(D); // [D], summed over rows in doubles
    for (let r = 0; r < N; r++) {
      const o = r * D;
      let mean = 0, meanDot = 0; // mean_k dx̂_k, mean_k dx̂_k·x̂_k
      for (let j = 0; j < D; j++) {
        const g = dy[o + j] * (w ? w[j] : 1);
        mean += g;
        meanDot += g * xhat[o + j];
        dw[j] += dy[o + j] * xhat[o + j];
        db[j] += dy[o + j];
      }
      mean /= D; meanDot /= D;
      for (let j = 0; j < D; j++) dx[o + j] = rstd[r] * (dy[o + j] * (w ? w[j] : 1) - mean - xhat[o + j] * meanDot);
    }
    const grads: Record<string, Tensor> = {};
    const asDtype = (a: Float64Array): FloatArray => { const t = allocate(this.dtype, D); t.set(a); return t; };
    if (this.elementwiseAffine) grads.weight = new Tensor(asDtype(dw), [D]);
    if (this.bias) grads.bias = new Tensor(asDtype(db), [D]);
    return { dX: new Tensor(dx, cache.shape), grads };
  }

  /** y [N, D] from x [N, D]; keeps x̂ and rstd when asked (training). */
  private apply(x: FloatArray, shape: readonly number[], N: number, xhatOut: Float64Array | null, rstdOut: Float64Array | null): Tensor {
    const D = this.normalizedShape;
    const w = this.elementwiseAffine ? this.params.get('weight') : null;
    const b = this.bias ? this.params.get('bias') : null;
    const y = allocate(this.dtype, N * D);
    for (let r = 0; r < N; r++) {
      const o = r * D;
      let mean = 0;
      for (let j = 0; j < D; j++) mean += x[o + j];
      mean /= D;
      let v = 0; // two passes: the variance of the centred values (no cancellation)
      for (let j = 0; j < D; j++) v += (x[o + j] - mean) * (x[o + j] - mean);
      const rs = 1 / Math.sqrt(v / D + this.eps);
      if (rstdOut) rstdOut[r] = rs;
      for (let j = 0; j < D; j++) {
        const xh = (x[o + j] - mean) * rs;
        if (xhatOut) xhatOut[o + j] = xh;
        y[o + j] = xh * (w ? w[j] : 1) + (b ? b[j] : 0);
      }
    }
    return new Tensor(y, shape.slice());
  }
}
