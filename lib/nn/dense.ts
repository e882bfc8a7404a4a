// Argument checks shared by the feed-forward layers (Linear, Embedding, activations, LastStep):
// inputs of any rank whose last axis holds the features, and upstream gradients whose shape must
// equal the forward output's. Messages follow lib/errors.ts.

import { argTypeError, formatShape, shapeError, StaleCacheError } from '../errors';
import { checkTensorArg, type DType, type FloatArray } from '../tensor';
import { readOptions } from './options';
import { checkFinite } from './sequence';

/** x [..., features] (rank >= 1, finite). Returns the shape and the number of rows (product of leading dims). */
export function checkFeatures(where: string, x: unknown, features: number | null, dtype: DType): { shape: readonly number[]; data: FloatArray; rows: number } {
  const { shape, data } = checkTensorArg(where, 'x', x, dtype);
  if (shape.length < 1) throw shapeError(where, 'x', `[..., ${features ?? 'F'}] of rank >= 1`, shape);
  if (features !== null && shape[shape.length - 1] !== features) throw shapeError(where, 'x', `[..., ${features}]`, shape);
  checkFinite(where, 'x', data);
  const last = shape[shape.length - 1];
  return { shape, data, rows: last === 0 ? 0 : data.length / last };
}

/** The `{ dOutput }` argument of backward: a tensor of exactly the forward output's shape. */
export function readDOutput(where: string, gradOutputs: unknown, outShape: readonly number[], dtype: DType): FloatArray {
  const g = readOptions(where, 'gradOutputs', gradOutputs, ['dOutput']);
  if (g.dOutput === undefined || g.dOutput === null) {
    throw argTypeError(where, 'gradOutputs.dOutput', `a ${dtype} Tensor of shape ${formatShape(outShape)}`, g.dOutput);
  }
  const { shape, data } = checkTensorArg(where, 'dOutput', g.dOutput, dtype);
  if (shape.length !== outShape.length || shape.some((d, i) => d !== outShape[i])) {
    throw shapeError(where, 'dOutput', `${formatShape(outShape)} (the forward output's)`, shape);
  }
  checkFinite(where, 'dOutput', data);
  return data;
}

/** Every cache remembers its layer and the parameter version it was computed with. */
export function checkCache(where: string, cache: unknown, owner: object, version: number, Cls: abstract new (...a: never[]) => unknown): void {
  if (!(cache instanceof Cls)) throw argTypeError(where, 'cache', `the cache of this layer's forwardTrain`, cache);
  const c = cache as unknown as { owner: object; version: number };
  if (c.owner !== owner) throw new StaleCacheError(`${where}: cache: it belongs to another layer`);
  if (c.version !== version) throw new StaleCacheError(`${where}: cache: the weights changed after forwardTrain; run forwardTrain again`);
}
