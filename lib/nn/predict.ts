// model.predict(x): inference on whatever a user has at hand, as Keras's model.predict and a
// PyTorch `model(torch.tensor(x))`. Returns the last layer's output, a Tensor in the model's
// layout (exactly what forward gives on the same batch as a Tensor).
//
// What x may be:
//   - a Tensor, in the model's layout ([T, B, ...], or [B, T, ...] batch-first), as forward takes;
//     another dtype than the model's is converted;
//   - a typed array (or flat array) with `options.shape`, read in that shape (model's layout);
//   - nested arrays, ONE ARRAY PER SEQUENCE whatever the model's layout (as Trainer samples and
//     Batcher.run take them): [B][T] token ids for a model that starts with an Embedding, or
//     [B][T][I] features otherwise; a single sequence ([T] ids, [T][I] features) is a batch of
//     one (the output keeps B = 1). Sequences may differ in length: they are zero-padded and
//     `lengths` is set from them, so a ragged batch just works. Given `options.lengths`, those
//     are used instead (each at most its sequence's length), e.g. for sequences padded already.
//     A model without a time axis (no recurrent layer, Embedding or LastStep) takes nested
//     arrays as a plain tensor(x).
// Each value of a nested array is read once, into the batch buffer.

import { argRangeError, argTypeError, describe } from '../errors';
import { allocate, tensor, Tensor, type DType, type FloatArray, type NestedNumbers } from '../tensor';
import { Embedding } from './embedding';
import { LastStep } from './last-step';
import { isRecurrent, type Layer } from './layer';
import { readOptions } from './options';

/** Options of predict(). */
export interface PredictOptions {
  /**
   * Valid steps of each batch entry, [B].
   * @default every step; with ragged nested arrays, their lengths
   */
  lengths?: ArrayLike<number> | null;
  /**
   * The shape of a flat typed array (or array) x, in the model's layout; required for flat x.
   * @default undefined (x is a Tensor or nested arrays, which carry their shape)
   */
  shape?: readonly number[];
}

/** What predict() takes: a Tensor, nested arrays (one per sequence), or flat values with options.shape. */
export type PredictInput = Tensor | NestedNumbers | readonly ArrayLike<number>[] | readonly (readonly ArrayLike<number>[])[] | ArrayLike<number>;

/** The model surface predict needs (Sequential has it). */
export interface PredictableModel {
  readonly layers: readonly Layer[];
  readonly dtype: DType;
  readonly batchFirst: boolean;
  forward(x: Tensor, options?: { lengths?: ArrayLike<number> | null }): { output: Tensor };
}

// The name errors give (set at each call: everything below runs synchronously within it).
let where = 'Sequential.predict';

/** `name`: the model's class in error messages. */
export function predict(model: PredictableModel, x: PredictInput, options?: PredictOptions, name = 'Sequential'): Tensor {
  where = `${name}.predict`;
  const o = readOptions(where, 'options', options, ['lengths', 'shape']);
  let lengths = (o.lengths ?? null) as ArrayLike<number> | null;
  let t: Tensor;
  if (x instanceof Tensor) {
    if (o.shape !== undefined) throw argTypeError(where, 'options.shape', 'no shape with a Tensor x (it has its own)', o.shape);
    t = x.dtype === model.dtype ? x : x.clone(model.dtype);
  } else if (o.shape !== undefined || (ArrayBuffer.isView(x) && !(x instanceof DataView))) {
    if (o.shape === undefined) throw argTypeError(where, 'options.shape', `the shape of the typed array x (${layoutOf(model)})`, undefined);
    t = renamed(() => tensor(x as ArrayLike<number>, o.shape as readonly number[], model.dtype));
  } else if (Array.isArray(x)) {
    if (!hasTimeAxis(model)) t = renamed(() => tensor(x as NestedNumbers, undefined, model.dtype));
    else ({ x: t, lengths } = fromSequences(model, x, lengths));
  } else {
    throw argTypeError(where, 'x', `a Tensor (${layoutOf(model)}), nested arrays (one per sequence), or a typed array with options.shape`, x);
  }
  return model.forward(t, { lengths }).output;
}

function layoutOf(model: PredictableModel): string {
  const ids = model.layers[0] instanceof Embedding;
  return model.batchFirst ? (ids ? '[B, T]' : '[B, T, I]') : (ids ? '[T, B]' : '[T, B, I]');
}

function hasTimeAxis(model: PredictableModel): boolean {
  return model.layers.some((l) => isRecurrent(l) || l instanceof Embedding || l instanceof LastStep);
}

/** tensor()'s own argument errors, named as predict's x. */
function renamed(f: () => Tensor): Tensor {
  try {
    return f();
  } catch (e) {
    if (e instanceof Error) e.message = e.message.replace(/^(tensor: values|Tensor: data)/, `${where}: x`).replace(/^[tT]ensor: shape/, `${where}: options.shape`).replace(/^[tT]ensor: /, `${where}: `);
    throw e;
  }
}

const isSeq = (v: unknown): v is ArrayLike<unknown> => Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));

/** Nested arrays, one per sequence (or one sequence), padded into a batch in the model's layout. */
function fromSequences(model: PredictableModel, x: readonly unknown[], given: ArrayLike<number> | null): { x: Tensor; lengths: ArrayLike<number> | null } {
  const ids = model.layers[0] instanceof Embedding; // steps are token ids (numbers), else feature arrays
  const stepWord = ids ? 'a token id (number)' : 'an array of features';
  if (x.length === 0) throw argTypeError(where, 'x', `a non-empty array of sequences (each an array of steps, a step being ${stepWord})`, x);
  // A single sequence: its first entry is a step, not a sequence of steps.
  const first = x[0];
  const single = ids ? typeof first === 'number' : isSeq(first) && first.length > 0 && typeof first[0] === 'number';
  const seqs: readonly unknown[] = single ? [x] : x;
  const B = seqs.length;
  const lens = new Int32Array(B);
  let T = 0, I = ids ? 1 : -1;
  for (let b = 0; b < B; b++) {
    const s = seqs[b];
    if (!isSeq(s) || s.length === 0) throw argTypeError(where, single ? 'x' : `x[${b}]`, `a non-empty sequence (an array of steps, a step being ${stepWord})`, s);
    lens[b] = s.length;
    T = Math.max(T, s.length);
    if (!ids && I < 0) {
      const s0 = s[0];
      if (!isSeq(s0)) throw argTypeError(where, single ? 'x[0]' : `x[${b}][0]`, 'a step: an array of features', s0);
      I = s0.length;
    }
  }
  const bf = model.batchFirst;
  const data: FloatArray = allocate(model.dtype, T * B * I, where, 'x');
  for (let b = 0; b < B; b++) {
    const s = seqs[b] as ArrayLike<unknown>;
    for (let t = 0; t < lens[b]; t++) {
      const at = (bf ? b * T + t : t * B + b) * I; // row of (t, b) in the model's layout
      const v = s[t];
      const name = single ? `x[${t}]` : `x[${b}][${t}]`;
      if (ids) {
        if (typeof v !== 'number') throw argTypeError(where, name, 'a token id (number)', v);
        data[at] = v;
      } else {
        if (!isSeq(v) || v.length !== I) throw argRangeError(where, name, `an array of ${I} features (like the first step)`, describe(v));
        for (let f = 0; f < I; f++) {
          const e = v[f];
          if (typeof e !== 'number') throw argTypeError(where, `${name}[${f}]`, 'a number', e);
          data[at + f] = e;
        }
      }
    }
  }
  const shape = ids ? (bf ? [B, T] : [T, B]) : (bf ? [B, T, I] : [T, B, I]);
  let lengths: ArrayLike<number> | null = lens.every((l) => l === T) ? null : lens;
  if (given !== null) {
    // The caller's lengths: the layers check them against T; here, each against its own sequence.
    if (!isSeq(given) || given.length !== B) throw argTypeError(where, 'options.lengths', `${B} lengths (one per sequence)`, given);
    for (let b = 0; b < B; b++) {
      if (typeof given[b] === 'number' && given[b] > lens[b]) throw argRangeError(where, `options.lengths[${b}]`, `at most ${lens[b]} (that sequence's length)`, describe(given[b]));
    }
    lengths = given;
  }
  return { x: new Tensor(data, shape), lengths };
}
