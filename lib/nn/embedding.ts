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

export interface EmbeddingOptions {
  numEmbeddings: number;
  embeddingDim: number;
  paddingIdx?: number | null;
  seed?: number;
  dtype?: DType;
}

export class EmbeddingCache {
  /** @internal */ constructor(readonly owner: Embedding, readonly version: number, readonly idx: Int32Array, readonly shape: readonly number[]) {}
}

const KEYS = ['numEmbeddings', 'embeddingDim', 'paddingIdx', 'seed', 'dtype'] as const;

export class Embedding extends ParamModule {
  protected readonly moduleName = 'Embedding';
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | null;
  readonly dtype: DType;
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

  config(): LayerConfig {
    return { type: 'Embedding', numEmbeddings: this.numEmbeddings, embeddingDim: this.embeddingDim, paddingIdx: this.paddingIdx, dtype: this.dtype };
  }

  forward(x: Tensor): { output: Tensor } {
    const { idx, shape } = this.indices('Embedding.forward', x);
    return { output: this.lookup(idx, shape) };
  }

  forwardTrain(x: Tensor): { output: Tensor; cache: EmbeddingCache } {
    const { idx, shape } = this.indices('Embedding.forwardTrain', x);
    return { output: this.lookup(idx, shape), cache: new EmbeddingCache(this, this.version, idx, shape) };
  }

  backward(cache: EmbeddingCache, gradOutputs?: { dOutput?: Tensor | null }): { dX: Tensor; grads: Record<string, Tensor> } {
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
