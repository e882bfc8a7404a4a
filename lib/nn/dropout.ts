// Dropout as a layer (PyTorch's torch.nn.Dropout): the identity at inference (forward); in a
// training forward each element is zeroed with probability p and the others scaled by 1/(1-p)
// (inverted dropout), from a seeded generator that advances with every training forward, and
// backward applies the same mask. No parameters.

import { argRangeError, argTypeError, describe } from '../errors';
import { freshSeed, Rng } from '../rng';
import { allocate, checkTensorArg, dtypeOf, Tensor, type FloatArray } from '../tensor';
import { checkCache, readDOutput } from './dense';
import type { LayerConfig } from './layer';
import { optionalSeed, readOptions } from './options';
import { ParameterFree } from './module';
import { checkFinite } from './sequence';

/** What Dropout.backward needs from a training forward (opaque). */
export class DropoutCache {
  /**
   * @internal
   * @param owner The layer that made it.
   * @param version The layer's parameter version at the forward (a later update makes the cache stale).
   * @param mask The scaled dropout mask applied, the input's shape.
   * @param shape The input's shape.
   */
  constructor(readonly owner: Dropout, readonly version: number, readonly mask: FloatArray, readonly shape: readonly number[]) {}
}

/**
 * torch.nn.Dropout as a layer: the identity in forward (inference); in forwardTrain each element
 * is zeroed with probability p and the rest scaled by 1/(1-p), from a seeded generator that
 * advances with every training forward. Any shape.
 */
export class Dropout extends ParameterFree {
  protected readonly moduleName = 'Dropout';
  /** Probability of zeroing an element. */
  readonly p: number;
  /** Seed of the mask stream. */
  readonly seed: number;
  private readonly rng: Rng;

  /**
   * @param options.p Probability of zeroing an element, in [0, 1) (default 0.5).
   * @param options.seed Seed of the mask stream (default: a fresh one).
   */
  constructor(options?: { p?: number; seed?: number }) {
    super();
    const o = readOptions('Dropout', 'options', options, ['p', 'seed']);
    const p = o.p === undefined ? 0.5 : o.p;
    if (typeof p !== 'number') throw argTypeError('Dropout', 'p', 'a probability in [0, 1)', p);
    if (!(p >= 0 && p < 1)) throw argRangeError('Dropout', 'p', 'a probability in [0, 1)', describe(p));
    this.p = p;
    this.seed = optionalSeed('Dropout', 'seed', o.seed) ?? freshSeed();
    this.rng = new Rng(this.seed);
  }

  /** Its type and construction options as JSON, as model files save them. */
  config(): LayerConfig {
    return { type: 'Dropout', p: this.p };
  }

  /** The identity (inference). */
  forward(x: Tensor): {
    /** The output. */
    output: Tensor;
  } {
    const { data } = checkTensorArg('Dropout.forward', 'x', x, x instanceof Tensor ? x.dtype : 'float32');
    checkFinite('Dropout.forward', 'x', data);
    return { output: x };
  }

  /** Training forward: the output and the cache backward needs. */
  forwardTrain(x: Tensor): {
    /** The output. */
    output: Tensor;
    /** What backward needs. */
    cache: DropoutCache;
  } {
    const where = 'Dropout.forwardTrain';
    const { shape, data } = checkTensorArg(where, 'x', x, x instanceof Tensor ? x.dtype : 'float32');
    checkFinite(where, 'x', data);
    const dtype = dtypeOf(data);
    const mask = allocate(dtype, data.length), y = allocate(dtype, data.length);
    const keep = 1 - this.p, scale = 1 / keep;
    for (let i = 0; i < data.length; i++) {
      mask[i] = this.rng.next() < keep ? scale : 0;
      y[i] = data[i] * mask[i];
    }
    return { output: new Tensor(y, shape), cache: new DropoutCache(this, 0, mask, shape) };
  }

  /** Backward from gradOutputs.dOutput (required: ∂loss/∂output, the output's shape): x's gradient and the parameters'. */
  backward(cache: DropoutCache, gradOutputs?: { dOutput?: Tensor | null }): {
    /** ∂loss/∂x, the shape of x. */
    dX: Tensor;
    /** ∂loss/∂parameter by parameter name (empty for a layer without parameters). */
    grads: Record<string, Tensor>;
  } {
    const where = 'Dropout.backward';
    checkCache(where, cache, this, 0, DropoutCache);
    const dy = readDOutput(where, gradOutputs, cache.shape, dtypeOf(cache.mask));
    const dx = allocate(dtypeOf(cache.mask), dy.length);
    for (let i = 0; i < dy.length; i++) dx[i] = dy[i] * cache.mask[i];
    return { dX: new Tensor(dx, cache.shape), grads: {} };
  }
}
