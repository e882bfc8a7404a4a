// Linear: torch.nn.Linear's parameters and math, forward only. y = x · weightᵀ + bias over the
// last axis of x (any rank >= 1), weight [outFeatures, inFeatures], bias [outFeatures].
//
// Minimal on purpose: it exists so imported models (TF.js Dense / TimeDistributed(Dense)) have a
// head to run. Plain loops in TypeScript on either dtype, no backend, no training (no backward):
// a head is tiny next to the recurrent layers. The training toolkit's layer of the same name is
// expected to supersede this one when branches merge; the state dict names (`weight`, `bias`)
// and shapes are PyTorch's, so weights move between them unchanged.

import { argTypeError, shapeError } from '../errors';
import { Rng } from '../rng';
import { allocate, checkTensorArg, Tensor, type DType } from '../tensor';
import { oneOf, optionalBool, optionalSeed, positiveInt, readOptions } from './options';
import { ParamSet, type StateDictInput } from './params';

export interface LinearOptions {
  inFeatures: number;
  outFeatures: number;
  bias?: boolean; // default true
  seed?: number; // weights and bias U(-1/sqrt(in), 1/sqrt(in)) (PyTorch's default bounds)
  dtype?: DType; // default 'float32'
}

export class Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly bias: boolean;
  readonly dtype: DType;
  private readonly params: ParamSet;

  constructor(options: LinearOptions) {
    const where = 'Linear';
    if (options === undefined || options === null) throw argTypeError(where, 'options', 'an options object with inFeatures and outFeatures', options);
    const o = readOptions(where, 'options', options, ['inFeatures', 'outFeatures', 'bias', 'seed', 'dtype']);
    this.inFeatures = positiveInt(where, 'inFeatures', o.inFeatures);
    this.outFeatures = positiveInt(where, 'outFeatures', o.outFeatures);
    this.bias = optionalBool(where, 'bias', o.bias, true);
    this.dtype = oneOf(where, 'dtype', o.dtype, ['float32', 'float64'] as const, 'float32');
    const specs = [{ name: 'weight', shape: [this.outFeatures, this.inFeatures] }];
    if (this.bias) specs.push({ name: 'bias', shape: [this.outFeatures] });
    this.params = new ParamSet(specs, this.dtype);
    this.params.initUniform(new Rng(optionalSeed(where, 'seed', o.seed) ?? 0), 1 / Math.sqrt(this.inFeatures));
  }

  /** Copies of `weight` [out, in] and `bias` [out]. */
  stateDict(): Record<string, Tensor> {
    return this.params.stateDict();
  }

  /** Replace the parameters (PyTorch names and shapes; all-or-nothing, as for the recurrent layers). */
  loadStateDict(weights: StateDictInput): this {
    this.params.load('Linear.loadStateDict', weights);
    return this;
  }

  /** x [..., inFeatures] -> [..., outFeatures]. */
  forward(x: Tensor): Tensor {
    const where = 'Linear.forward';
    const { shape, data } = checkTensorArg(where, 'x', x, this.dtype);
    const I = this.inFeatures, O = this.outFeatures;
    if (shape.length < 1 || shape[shape.length - 1] !== I) throw shapeError(where, 'x', `[..., ${I}]`, shape);
    const rows = data.length / I;
    const w = this.params.get('weight'), b = this.bias ? this.params.get('bias') : null;
    const out = allocate(this.dtype, rows * O);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < O; o++) {
        let s = b ? b[o] : 0;
        for (let i = 0; i < I; i++) s += data[r * I + i] * w[o * I + i];
        out[r * O + o] = s;
      }
    }
    return new Tensor(out, [...shape.slice(0, -1), O]);
  }
}
