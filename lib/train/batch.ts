// Batching variable-length sequences for fit / evaluate / predict: the seeded order (shuffle,
// optional bucketing by length), padding into one time-major tensor with `lengths`, and the
// targets laid out for a loss once the model's output shape is known.
//
// A sample is { x, y }. x is a sequence: an array (or typed array) of T numbers (token ids for an
// Embedding, giving x [T, B]) or of T feature arrays (giving x [T, B, F]). y is either per step
// (T entries: class ids, numbers, or arrays of C numbers) when the model's output is [T, B, C],
// or per sequence (a class id, a number or an array of C numbers) when it is [B, C] (LastStep).
// Padded steps are 0 in x and masked out of the loss.

import { argRangeError, argTypeError, describe } from '../errors';
import type { Rng } from '../rng';
import { allocate, Tensor, type DType } from '../tensor';

/** One step of a sequence: a token id or number, or an array of features (or of C target values). */
export type Step = number | ArrayLike<number>;
/** One training sequence and its targets, as fit, evaluate and predict take them. */
export interface Sample {
  /** The sequence: T token ids (a model starting with an Embedding) or T feature arrays. */
  x: ArrayLike<Step>;
  /** Targets: per step (T entries) for a [T, B, C] output, or per sequence for a [B, C] one (after LastStep); not needed by predict. */
  y?: Step | ArrayLike<Step>;
}

export interface Batch {
  /** sample indices, batch order */
  indices: number[];
  /** [T, B] or [T, B, F], zero-padded */
  x: Tensor;
  /** [B] */
  lengths: Int32Array;
  T: number;
  /** Σ lengths */
  tokens: number;
}

/** Check every sample once; returns the per-step feature count (0 for scalar steps). */
export function checkSamples(where: string, arg: string, data: unknown, needTargets: boolean): { samples: Sample[]; features: number } {
  if (!Array.isArray(data) || data.length === 0) throw argTypeError(where, arg, 'a non-empty array of samples { x, y }', data);
  // A private copy, each value read once and checked there: training reads samples across awaits
  // (fit yields between batches), so changes the caller makes meanwhile must not reach it.
  const n = data.length;
  const samples: Sample[] = new Array(n);
  let features = -1;
  for (let i = 0; i < n; i++) {
    const s: unknown = data[i];
    if (s === null || typeof s !== 'object') throw argTypeError(where, `${arg}[${i}]`, 'a sample { x, y }', s);
    const x = (s as Sample).x;
    if (!isSeq(x) || x.length === 0) throw argTypeError(where, `${arg}[${i}].x`, 'a non-empty array of steps', x);
    const len = x.length;
    const steps: Step[] = new Array(len);
    for (let t = 0; t < len; t++) steps[t] = copyStep(x[t] as Step);
    const f = typeof steps[0] === 'number' ? 0 : isSeq(steps[0]) ? (steps[0] as ArrayLike<number>).length : -1;
    if (f < 0) throw argTypeError(where, `${arg}[${i}].x[0]`, 'a number or an array of numbers', steps[0]);
    if (features === -1) features = f;
    if (f !== features) throw argRangeError(where, `${arg}[${i}].x`, `steps of ${features || 'scalar'} features like the samples before it`, `${f || 'scalar'} features`);
    for (let t = 0; t < len; t++) {
      const v = steps[t];
      if (f === 0 ? !Number.isFinite(v) : !(isSeq(v) && (v as ArrayLike<number>).length === f && allFinite(v as ArrayLike<number>))) {
        throw argRangeError(where, `${arg}[${i}].x[${t}]`, f === 0 ? 'a finite number' : `${f} finite numbers`, describe(v));
      }
    }
    const y0 = (s as Sample).y;
    if (needTargets && y0 === undefined) throw argTypeError(where, `${arg}[${i}].y`, 'a target', undefined);
    const y = y0 === undefined ? undefined : isSeq(y0) ? Array.from(y0 as ArrayLike<Step>, copyStep) : copyStep(y0 as Step);
    const bad = firstNonFiniteTarget(y);
    if (bad) throw argRangeError(where, `${arg}[${i}].y${bad.at}`, 'finite target values', describe(bad.v));
    samples[i] = y === undefined ? { x: steps } : { x: steps, y };
  }
  return { samples, features };
}

/** A step (a number, or an array of numbers) copied, each value read once; anything else as is. */
function copyStep(v: Step): Step {
  return isSeq(v) ? Array.from(v as ArrayLike<number>) : v;
}

/** The first NaN or ±Infinity among a target's numbers (its shape is checked against the model later). */
function firstNonFiniteTarget(y: unknown): { at: string; v: number } | null {
  if (typeof y === 'number') return Number.isFinite(y) ? null : { at: '', v: y };
  if (!Array.isArray(y)) return null;
  for (let t = 0; t < y.length; t++) {
    const e: unknown = y[t];
    if (typeof e === 'number' && !Number.isFinite(e)) return { at: `[${t}]`, v: e };
    if (Array.isArray(e)) for (let c = 0; c < e.length; c++) if (typeof e[c] === 'number' && !Number.isFinite(e[c])) return { at: `[${t}][${c}]`, v: e[c] };
  }
  return null;
}

function isSeq(v: unknown): v is ArrayLike<unknown> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

function allFinite(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

/** Fisher-Yates with the trainer's generator. */
export function shuffleInPlace(a: number[], rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = a[i]; a[i] = a[j]; a[j] = t;
  }
}

/**
 * The batches of one epoch as lists of sample indices. shuffle: a seeded permutation. bucketing:
 * samples sorted by length (ties in shuffled order) then cut into batches, and the batch order
 * shuffled, so each batch holds similar lengths and pads little.
 */
export function planBatches(samples: Sample[], batchSize: number, shuffle: boolean, bucketing: boolean, rng: Rng): number[][] {
  const order = samples.map((_, i) => i);
  if (shuffle) shuffleInPlace(order, rng);
  if (bucketing) {
    const pos = new Map(order.map((v, i) => [v, i]));
    order.sort((a, b) => samples[a].x.length - samples[b].x.length || pos.get(a)! - pos.get(b)!);
  }
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) batches.push(order.slice(i, i + batchSize));
  if (bucketing && shuffle) {
    const idx = batches.map((_, i) => i);
    shuffleInPlace(idx, rng);
    return idx.map((i) => batches[i]);
  }
  return batches;
}

/** Pad the inputs of one batch into a time-major tensor. */
export function makeBatch(samples: Sample[], indices: number[], features: number, dtype: DType): Batch {
  const B = indices.length;
  const lengths = new Int32Array(B);
  let T = 0, tokens = 0;
  indices.forEach((s, b) => { lengths[b] = samples[s].x.length; T = Math.max(T, lengths[b]); tokens += lengths[b]; });
  const F = Math.max(features, 1);
  const data = allocate(dtype, T * B * F);
  indices.forEach((s, b) => {
    const x = samples[s].x;
    for (let t = 0; t < x.length; t++) {
      const at = (t * B + b) * F;
      if (features === 0) data[at] = x[t] as number;
      else { const v = x[t] as ArrayLike<number>; for (let f = 0; f < F; f++) data[at + f] = v[f]; }
    }
  });
  return { indices, x: new Tensor(data, features === 0 ? [T, B] : [T, B, F]), lengths, T, tokens };
}

/** A batch's targets as a loss (or a custom LossFn or MetricFn) receives them, rows as the output's. */
export interface Targets {
  /** crossEntropy: one id per output row */
  classes: Int32Array | null;
  /** other losses: the output's shape */
  values: Tensor | null;
  /** per output row; null when every row counts */
  mask: Uint8Array | null;
}

/**
 * Targets of steps [t0, t0 + outShape[0]) for a per-step output [Tc, B, C] (mask: t < length),
 * or per sequence for an output [B, C].
 */
export function makeTargets(where: string, samples: Sample[], batch: Batch, outShape: readonly number[], classes: boolean, dtype: DType, t0 = 0): Targets {
  const perStep = outShape.length === 3;
  if (!perStep && outShape.length !== 2) throw argRangeError(where, 'model output', 'shape [T, B, C] (per step) or [B, C] (per sequence)', `[${outShape.join(', ')}]`);
  const B = batch.indices.length;
  const C = outShape[outShape.length - 1];
  const Tc = perStep ? outShape[0] : 1;
  const rows = Tc * B;
  const cls = classes ? new Int32Array(rows) : null;
  const vals = classes ? null : allocate(dtype, rows * C);
  const mask = perStep ? new Uint8Array(rows) : null;
  batch.indices.forEach((s, b) => {
    const y = samples[s].y;
    const len = batch.lengths[b];
    for (let tc = 0; tc < Tc; tc++) {
      const t = t0 + tc, r = tc * B + b;
      if (perStep && t >= len) continue;
      if (mask) mask[r] = 1;
      let v: unknown = y;
      if (perStep) {
        if (!isSeq(y) || y.length !== len) throw argRangeError(where, `data[${s}].y`, `${len} per-step targets (the model's output is per step)`, describe(y));
        v = (y as ArrayLike<unknown>)[t];
      }
      if (classes) {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= C) throw argRangeError(where, `data[${s}].y${perStep ? `[${t}]` : ''}`, `a class index in [0, ${C - 1}]`, describe(v));
        cls![r] = v;
      } else if (typeof v === 'number' && C === 1) {
        vals![r] = v;
      } else if (isSeq(v) && v.length === C) {
        for (let c = 0; c < C; c++) vals![r * C + c] = (v as ArrayLike<number>)[c];
      } else {
        throw argRangeError(where, `data[${s}].y${perStep ? `[${t}]` : ''}`, C === 1 ? 'a number' : `an array of ${C} numbers`, describe(v));
      }
    }
  });
  return { classes: cls, values: vals ? new Tensor(vals, outShape) : null, mask };
}
