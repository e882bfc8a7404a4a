// Embedding: torch.nn.Embedding's parameter (`weight` [numEmbeddings, embeddingDim]) and lookup,
// forward only. Indices of any shape -> [...indices shape, embeddingDim].
//
// Minimal on purpose, like Linear (lib/nn/linear.ts): it exists so imported TF.js / Keras models
// that start with an Embedding run. No padding_idx, max_norm or sparse gradients; no backward.
// Indices are integers given as an Int32Array / number[] with a shape, or a Tensor holding
// integral values (our Tensors are float): each is checked to be in [0, numEmbeddings).

import { argRangeError, argTypeError, describe, formatShape } from '../errors';
import { Rng } from '../rng';
import { allocate, shapeSize, Tensor, type DType } from '../tensor';
import { oneOf, optionalSeed, positiveInt, readOptions } from './options';
import { ParamSet, type StateDictInput } from './params';

export interface EmbeddingOptions {
  numEmbeddings: number;
  embeddingDim: number;
  seed?: number; // weight ~ N(0, 1) like PyTorch
  dtype?: DType;
}

/** Indices: a Tensor of integral values, or integers with an explicit shape. */
export type Indices = Tensor | { shape: readonly number[]; data: ArrayLike<number> };

export class Embedding {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly dtype: DType;
  private readonly params: ParamSet;

  constructor(options: EmbeddingOptions) {
    const where = 'Embedding';
    if (options === undefined || options === null) throw argTypeError(where, 'options', 'an options object with numEmbeddings and embeddingDim', options);
    const o = readOptions(where, 'options', options, ['numEmbeddings', 'embeddingDim', 'seed', 'dtype']);
    this.numEmbeddings = positiveInt(where, 'numEmbeddings', o.numEmbeddings);
    this.embeddingDim = positiveInt(where, 'embeddingDim', o.embeddingDim);
    this.dtype = oneOf(where, 'dtype', o.dtype, ['float32', 'float64'] as const, 'float32');
    this.params = new ParamSet([{ name: 'weight', shape: [this.numEmbeddings, this.embeddingDim] }], this.dtype);
    const rng = new Rng(optionalSeed(where, 'seed', o.seed) ?? 0);
    const w = this.params.get('weight');
    for (let i = 0; i < w.length; i++) {
      // Box-Muller: N(0, 1) from two uniforms (1 - u keeps the log argument in (0, 1]).
      w[i] = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    }
  }

  stateDict(): Record<string, Tensor> {
    return this.params.stateDict();
  }

  loadStateDict(weights: StateDictInput): this {
    this.params.load('Embedding.loadStateDict', weights);
    return this;
  }

  /** indices [...] -> [..., embeddingDim]. */
  forward(indices: Indices): Tensor {
    const where = 'Embedding.forward';
    if (indices === null || typeof indices !== 'object') throw argTypeError(where, 'indices', 'a Tensor of integers, or { shape, data } with integer data', indices);
    const { shape, data } = indices as { shape: readonly number[]; data: ArrayLike<number> };
    if (!Array.isArray(shape)) throw argTypeError(where, 'indices.shape', 'an array of dimensions', shape);
    if (!Array.isArray(data) && !(ArrayBuffer.isView(data) && !(data instanceof DataView))) throw argTypeError(where, 'indices.data', 'an array or typed array of integers', data);
    const n = shapeSize(shape, where, 'indices.shape');
    if ((data as ArrayLike<number>).length !== n) throw argRangeError(where, 'indices', `${n} values for shape ${formatShape(shape)}`, `${(data as ArrayLike<number>).length}`);
    const E = this.embeddingDim, w = this.params.get('weight');
    const out = allocate(this.dtype, n * E);
    for (let k = 0; k < n; k++) {
      const v = Number(data[k]);
      if (!Number.isInteger(v) || v < 0 || v >= this.numEmbeddings) {
        throw argRangeError(where, `indices[${k}]`, `an integer in [0, ${this.numEmbeddings - 1}]`, describe(data[k]));
      }
      out.set(w.subarray(v * E, v * E + E), k * E);
    }
    return new Tensor(out, [...shape, E]);
  }
}
