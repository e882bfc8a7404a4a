// Embedding: a lookup table, PyTorch's torch.nn.Embedding (weight [num, dim] initialised N(0, 1)
// from a seed; an optional paddingIdx row starts at zero and gets no gradient). Indices come as a
// float Tensor of integer values of any shape [*] (so a batch of token ids is [T, B]); the output
// is [*, dim]. Indices are not differentiable: backward's dX is zeros of the index shape.

import { ParamModule } from './module';
import { argRangeError, argTypeError, describe } from '../errors';
import { freshSeed, Rng } from '../rng';
import { allocate, checkTensorArg, Tensor, type DType, type FloatArray } from '../tensor';
import { checkCache, readDOutput } from './dense';
import type { LayerConfig } from './layer';
import { oneOf, optionalSeed, positiveInt, readOptions } from './options';
import { ParamSet, type StateDictInput } from './params';

/** Embedding construction options (torch.nn.Embedding's). */
export interface EmbeddingOptions {
  /** Rows of the table: token ids are in [0, numEmbeddings). */
  numEmbeddings: number;
  /** Features per row. */
  embeddingDim: number;
  /**
   * A row that starts at zero and gets no gradient (padding tokens); null for none.
   * @default null
   */
  paddingIdx?: number | null;
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

/** What Embedding.backward needs from a training forward (opaque). */
export class EmbeddingCache {
  /**
   * @internal
   * @param owner The layer that made it.
   * @param version The layer's parameter version at the forward.
   * @param idx The token ids looked up.
   * @param shape The index tensor's shape.
   */
  constructor(readonly owner: Embedding, readonly version: number, readonly idx: Int32Array, readonly shape: readonly number[]) {}
}

const KEYS = ['numEmbeddings', 'embeddingDim', 'paddingIdx', 'seed', 'dtype'] as const;

/**
 * A lookup table, torch.nn.Embedding (weight [numEmbeddings, embeddingDim], N(0, 1) from the
 * seed): token ids of any shape [*] (a float Tensor of integer values, e.g. [T, B]) -> [*, embeddingDim].
 * Ids are not differentiable: backward's dX is zeros of their shape.
 */
export class Embedding extends ParamModule {
  protected readonly moduleName = 'Embedding';
  /** Rows of the table. */
  readonly numEmbeddings: number;
  /** Features per row. */
  readonly embeddingDim: number;
  /** The padding row, or null. */
  readonly paddingIdx: number | null;
  /** Element type of the table and outputs. */
  readonly dtype: DType;
  /** The seed the table was drawn from. */
  readonly seed: number;
  protected readonly params: ParamSet;

  constructor(options: EmbeddingOptions) {
    super();
    const where = 'Embedding';
    if (options === undefined || options === null) throw argTypeError(where, 'options', 'an options object with numEmbeddings and embeddingDim', options);
    const o = readOptions(where, 'options', options, KEYS);
    this.numEmbeddings = positiveInt(where, 'numEmbeddings', o.numEmbeddings);
    this.embeddingDim = positiveInt(where, 'embeddingDim', o.embeddingDim);
    this.dtype = oneOf(where, 'dtype', o.dtype, ['float32', 'float64'] as const, 'float32');
    this.seed = optionalSeed(where, 'seed', o.seed) ?? freshSeed();
    if (o.paddingIdx === undefined || o.paddingIdx === null) this.paddingIdx = null;
    else {
      const p = o.paddingIdx;
      if (typeof p !== 'number') throw argTypeError(where, 'paddingIdx', 'an integer index or null', p);
      if (!Number.isInteger(p) || p < 0 || p >= this.numEmbeddings) throw argRangeError(where, 'paddingIdx', `an integer in [0, ${this.numEmbeddings - 1}]`, describe(p));
      this.paddingIdx = p;
    }
    this.params = new ParamSet([{ name: 'weight', shape: [this.numEmbeddings, this.embeddingDim] }], this.dtype, 'Embedding');
    const w = this.params.get('weight');
    const rng = new Rng(this.seed);
    // N(0, 1) by Box-Muller, two values per pair of uniforms (1 - u keeps the log finite).
    for (let i = 0; i < w.length; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - rng.next())), th = 2 * Math.PI * rng.next();
      w[i] = r * Math.cos(th);
      if (i + 1 < w.length) w[i + 1] = r * Math.sin(th);
    }
    if (this.paddingIdx !== null) w.fill(0, this.paddingIdx * this.embeddingDim, (this.paddingIdx + 1) * this.embeddingDim);
  }

  /** Its type and construction options as JSON, as model files save them. */
  config(): LayerConfig {
    return { type: 'Embedding', numEmbeddings: this.numEmbeddings, embeddingDim: this.embeddingDim, paddingIdx: this.paddingIdx, dtype: this.dtype };
  }

  /** Inference: the output for x, keeping nothing for backward. */
  forward(x: Tensor): {
    /** The output. */
    output: Tensor;
  } {
    const { idx, shape } = this.indices('Embedding.forward', x);
    return { output: this.lookup(idx, shape) };
  }

  /** Training forward: the output and the cache backward needs. */
  forwardTrain(x: Tensor): {
    /** The output. */
    output: Tensor;
    /** What backward needs. */
    cache: EmbeddingCache;
  } {
    const { idx, shape } = this.indices('Embedding.forwardTrain', x);
    return { output: this.lookup(idx, shape), cache: new EmbeddingCache(this, this.version, idx, shape) };
  }

  /** Backward from gradOutputs.dOutput (required: ∂loss/∂output, the output's shape): x's gradient and the parameters'. */
  backward(cache: EmbeddingCache, gradOutputs?: { dOutput?: Tensor | null }): {
    /** ∂loss/∂x, the shape of x. */
    dX: Tensor;
    /** ∂loss/∂parameter by parameter name (empty for a layer without parameters). */
    grads: Record<string, Tensor>;
  } {
    const where = 'Embedding.backward';
    checkCache(where, cache, this, this.version, EmbeddingCache);
    const D = this.embeddingDim;
    const dy = readDOutput(where, gradOutputs, [...cache.shape, D], this.dtype);
    const dW = allocate(this.dtype, this.numEmbeddings * D); // rows scatter-added by index
    for (let r = 0; r < cache.idx.length; r++) {
      const k = cache.idx[r];
      if (k === this.paddingIdx) continue;
      for (let j = 0; j < D; j++) dW[k * D + j] += dy[r * D + j];
    }
    return { dX: new Tensor(allocate(this.dtype, cache.idx.length), cache.shape), grads: { weight: new Tensor(dW, [this.numEmbeddings, D]) } };
  }





  private indices(where: string, x: unknown): { idx: Int32Array; shape: readonly number[] } {
    let shape: readonly number[], data: FloatArray;
    try {
      ({ shape, data } = checkTensorArg(where, 'x', x, 'float32'));
    } catch {
      ({ shape, data } = checkTensorArg(where, 'x', x, 'float64'));
    }
    const idx = new Int32Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (!Number.isInteger(v) || v < 0 || v >= this.numEmbeddings) {
        throw argRangeError(where, 'x', `integer indices in [0, ${this.numEmbeddings - 1}]`, `${describe(v)} at flat index ${i}`);
      }
      idx[i] = v;
    }
    return { idx, shape };
  }

  private lookup(idx: Int32Array, shape: readonly number[]): Tensor {
    const D = this.embeddingDim, w = this.params.get('weight');
    const y = allocate(this.dtype, idx.length * D);
    for (let r = 0; r < idx.length; r++) y.set(w.subarray(idx[r] * D, (idx[r] + 1) * D), r * D);
    return new Tensor(y, [...shape, D]);
  }
}
