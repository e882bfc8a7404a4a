// LastStep: many-to-one. Picks, for each batch entry, the output at its last valid step
// (t = lengths[b] - 1, or T - 1 without lengths): x [T, B, F] ([B, T, F] with batchFirst) -> [B, F].
// Put it after a recurrent layer and before a dense head. For a bidirectional layer this is the
// forward direction's final state next to the reverse direction's state after one step, as
// indexing PyTorch's padded output would give; with `finalStates: true` the reverse half (the
// last F/2 features) is taken at t = 0 instead, where the reverse direction ends: both
// directions' final states, as Keras' return_sequences=False gives.

import { ParameterFree } from './module';
import { argTypeError, shapeError } from '../errors';
import { allocate, checkTensorArg, dtypeOf, Tensor, type FloatArray } from '../tensor';
import { checkCache, readDOutput } from './dense';
import type { LayerConfig } from './layer';
import { optionalBool, readOptions } from './options';
import { checkLengths } from './sequence';

/** What LastStep.backward needs from a training forward (opaque). */
export class LastStepCache {
  /**
   * @internal
   * @param owner The layer that made it.
   * @param version The layer's parameter version at the forward (a later update makes the cache stale).
   * @param rows The input row each output row came from (each sequence's last valid step).
   * @param rowsBack The rows backward scatters the gradient to.
   * @param xShape The input's shape.
   * @param dtype The element type of the input.
   */
  constructor(readonly owner: LastStep, readonly version: number, readonly rows: Int32Array, readonly rowsBack: Int32Array, readonly xShape: readonly number[], readonly dtype: 'float32' | 'float64') {}
}

/**
 * Many-to-one: each batch entry's output at its last valid step (t = lengths[b] - 1, or T - 1
 * without lengths): x [T, B, F] ([B, T, F] with batchFirst) -> [B, F]. Put it after a recurrent
 * layer and before a dense head.
 */
export class LastStep extends ParameterFree {
  protected readonly moduleName = 'LastStep';
  /** x is [B, T, F]. */
  readonly batchFirst: boolean;
  /** The last F/2 features (a reverse direction's) taken at t = 0, where that direction ends. */
  readonly finalStates: boolean;
  /** Sequential hands it the batch's lengths. */
  readonly usesLengths = true;

  /**
   * @param options.batchFirst x is [B, T, F] (default false).
   * @param options.finalStates For a bidirectional layer before it, take the reverse half at t = 0 (default false).
   */
  constructor(options?: { batchFirst?: boolean; finalStates?: boolean }) {
    super();
    const o = readOptions('LastStep', 'options', options, ['batchFirst', 'finalStates']);
    this.batchFirst = optionalBool('LastStep', 'batchFirst', o.batchFirst, false);
    this.finalStates = optionalBool('LastStep', 'finalStates', o.finalStates, false);
  }

  /** Its type and construction options as JSON, as model files save them. */
  config(): LayerConfig {
    return this.finalStates ? { type: 'LastStep', batchFirst: this.batchFirst, finalStates: true } : { type: 'LastStep', batchFirst: this.batchFirst };
  }


  /** Inference: the output for x, keeping nothing for backward. */
  forward(x: Tensor, options?: { lengths?: ArrayLike<number> | null }): {
    /** The output. */
    output: Tensor;
  } {
    return { output: this.run('LastStep.forward', x, options).y };
  }

  /** Training forward: the output and the cache backward needs. */
  forwardTrain(x: Tensor, options?: { lengths?: ArrayLike<number> | null }): {
    /** The output. */
    output: Tensor;
    /** What backward needs. */
    cache: LastStepCache;
  } {
    const { y, rows, rowsBack, shape } = this.run('LastStep.forwardTrain', x, options);
    return { output: y, cache: new LastStepCache(this, 0, rows, rowsBack, shape, y.dtype) };
  }

  /** Backward from gradOutputs.dOutput (required: ∂loss/∂output, the output's shape): x's gradient and the parameters'. */
  backward(cache: LastStepCache, gradOutputs?: { dOutput?: Tensor | null }): {
    /** ∂loss/∂x, the shape of x. */
    dX: Tensor;
    /** ∂loss/∂parameter by parameter name (empty for a layer without parameters). */
    grads: Record<string, Tensor>;
  } {
    checkCache('LastStep.backward', cache, this, 0, LastStepCache);
    const F = cache.xShape[2], B = cache.rows.length;
    const dy = readDOutput('LastStep.backward', gradOutputs, [B, F], cache.dtype);
    const dx = allocate(cache.dtype, cache.xShape[0] * cache.xShape[1] * F);
    const h = this.finalStates ? F / 2 : F; // features taken from `rows`; the rest from `rowsBack`
    for (let b = 0; b < B; b++) {
      dx.set(dy.subarray(b * F, b * F + h), cache.rows[b] * F);
      if (h < F) dx.set(dy.subarray(b * F + h, (b + 1) * F), cache.rowsBack[b] * F + h);
    }
    return { dX: new Tensor(dx, cache.xShape), grads: {} };
  }

  private run(where: string, x: unknown, options: unknown): { y: Tensor; rows: Int32Array; rowsBack: Int32Array; shape: readonly number[] } {
    const o = readOptions(where, 'options', options, ['lengths']);
    if (!(x instanceof Tensor)) throw argTypeError(where, 'x', 'a Tensor [T, B, F]', x);
    const { shape, data } = checkTensorArg(where, 'x', x, x.dtype);
    if (shape.length !== 3) throw argTypeError(where, 'x', `a rank-3 Tensor (${this.batchFirst ? '[B, T, F]' : '[T, B, F]'})`, x);
    const [T, B] = this.batchFirst ? [shape[1], shape[0]] : [shape[0], shape[1]];
    const F = shape[2];
    // T = 0 has no last step (row -1 would be read, and written by backward).
    if (T < 1) throw shapeError(where, 'x', `${this.batchFirst ? '[B, T, F]' : '[T, B, F]'} with T >= 1`, shape);
    if (this.finalStates && F % 2 !== 0) throw shapeError(where, 'x', `[..., F] with F even (two directions' halves, finalStates)`, shape);
    const lengths = checkLengths(where, o.lengths, T, B);
    const rows = new Int32Array(B); // row of (t = len-1, b) in x
    const rowsBack = new Int32Array(B); // row of (t = 0, b): where a reverse direction ends
    const h = this.finalStates ? F / 2 : F;
    const y: FloatArray = allocate(dtypeOf(data), B * F);
    for (let b = 0; b < B; b++) {
      const t = (lengths ? lengths[b] : T) - 1;
      rows[b] = this.batchFirst ? b * T + t : t * B + b;
      rowsBack[b] = this.batchFirst ? b * T : b;
      y.set(data.subarray(rows[b] * F, rows[b] * F + h), b * F);
      if (h < F) y.set(data.subarray(rowsBack[b] * F + h, (rowsBack[b] + 1) * F), b * F + h);
    }
    return { y: new Tensor(y, [B, F]), rows, rowsBack, shape };
  }
}
