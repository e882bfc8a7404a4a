// One request's sequence in and out of a variable-length batch: validation (so a bad input
// rejects its own request before it can reach a batch), packing many sequences into one
// [T, B, I] batch with `lengths` and per-entry initial states, and cutting each entry's rows back
// out. Packing copies each sequence once into the batch input; results are copied out per request.
//
// Sizes: T_b steps of entry b, T = max T_b, B entries, I inputs, L layers, D directions,
// P = Hout, H hidden units. Row of (t, b) in the batch: t*rowT + b*rowB (lib/backend/types.ts):
// (B, 1) time-major, (1, T) batch-first, whichever the model reads.

import { argTypeError, shapeError } from '../errors';
import { checkFinite, checkState } from '../nn/sequence';
import type { ForwardOptions, RecurrentOutput } from '../nn/recurrent';
import { allocate, checkTensorArg, tensor, trustedTensor, type DType, type FloatArray, type NestedNumbers, type Tensor } from '../tensor';
import { readOptions } from '../nn/options';
import type { RecurrentState } from '../nn/sequential';
import type { Engine, Job as EngineJob } from './engine';
import type { ForwardRunner } from './runner';

/** One sequence: a Tensor [T, I] (or {shape, data}), or nested arrays T x I. */
export type SequenceInput = Tensor | {
  /** The dimensions, e.g. [T, I]. */
  shape: readonly number[];
  /** The elements, row-major. */
  data: Float32Array | Float64Array;
} | readonly (readonly number[])[];

/** A recurrent layer's result for one request (Batcher.run). */
export interface SequenceResult {
  /** The last layer's hidden state at every step of this sequence, [T, D*Hout]. */
  output: Tensor;
  /** Final hidden states, [L*D, Hout]. */
  hN: Tensor;
  /** Final cell states, [L*D, H] (LSTM). */
  cN?: Tensor;
}

/** A recurrent request's initial state: h [L*D, P], c [L*D, H] (LSTM); null for zeros. */
export interface RecurrentInit {
  h: FloatArray | null;
  c: FloatArray | null;
}
export type Job = EngineJob<RecurrentInit>;

/**
 * Validate one sequence and its optional initial states. Everything is read once and copied at
 * the call, and the copies are what is checked and computed: the caller may reuse, change or
 * detach its buffers as soon as this returns (a SharedArrayBuffer changed by another thread
 * cannot slip a value past the checks either).
 */
export function readJob(where: string, r: ForwardRunner, x: unknown, h0: unknown, c0: unknown, maxLength: number): Job {
  const I = r.inputSize, LD = r.numLayers * r.numDirections;
  const t = Array.isArray(x) ? tensorFromNested(where, x, r) : x;
  const { shape, data } = checkTensorArg(where, 'x', t, r.dtype);
  if (shape.length !== 2 || shape[1] !== I || shape[0] < 1) throw shapeError(where, 'x', `[T, ${I}] with T >= 1 (one sequence)`, shape);
  if (shape[0] > maxLength) throw shapeError(where, 'x', `[T, ${I}] with T <= maxLength (${maxLength})`, shape);
  const xs = data.slice();
  checkFinite(where, 'x', xs);
  return { T: shape[0], x: xs, init: readInit(where, r, h0, c0) };
}

/** Private copies of h0 [L*D, Hout] and c0 [L*D, H], each checked; null when both are absent. */
function readInit(where: string, r: ForwardRunner, h0: unknown, c0: unknown): RecurrentInit | null {
  const LD = r.numLayers * r.numDirections;
  const h = readState(where, 'h0', h0, [LD, r.outSize], 'numLayers*numDirections, Hout', r.dtype);
  if (!r.hasCellState && c0 !== undefined && c0 !== null) throw argTypeError(where, 'c0', 'nothing (this model has no cell state)', c0);
  const c = r.hasCellState ? readState(where, 'c0', c0, [LD, r.hiddenSize], 'numLayers*numDirections, hiddenSize', r.dtype) : null;
  return h || c ? { h, c } : null;
}

/** checkState, returning a private copy whose values are the ones checked (null when absent). */
export function readState(where: string, arg: string, v: unknown, expected: readonly number[], dims: string, dtype: DType): FloatArray | null {
  const s = checkState(where, arg, v, expected, dims, dtype);
  if (!s) return null;
  const copy = s.slice();
  checkFinite(where, arg, copy); // states are small: the copy is checked again rather than trusted
  return copy;
}

function tensorFromNested(where: string, x: unknown[], r: ForwardRunner): Tensor {
  try {
    return tensor(x as NestedNumbers, undefined, r.dtype);
  } catch (e) {
    throw argTypeError(where, 'x', `a Tensor [T, ${r.inputSize}] or nested arrays of numbers (${(e as Error).message})`, x);
  }
}

export interface Packed {
  /** [T, B, I] or [B, T, I] */
  x: Tensor;
  /** lengths, h0 [L*D, B, P], c0 [L*D, B, H] */
  options: ForwardOptions;
  T: number;
  B: number;
}

/** Lay out B sequences as one variable-length batch (padded rows are zeros and never computed on native). */
export function packJobs(r: ForwardRunner, jobs: readonly Job[]): Packed {
  const B = jobs.length, I = r.inputSize, P = r.outSize, H = r.hiddenSize, LD = r.numLayers * r.numDirections;
  let T = 0;
  for (const j of jobs) if (j.T > T) T = j.T;
  const [rowT, rowB] = r.batchFirst ? [1, T] : [B, 1];
  const x = allocate(r.dtype, T * B * I);
  const lengths = new Int32Array(B);
  const anyH = jobs.some((j) => j.init?.h), anyC = jobs.some((j) => j.init?.c);
  const h0 = anyH ? allocate(r.dtype, LD * B * P) : null;
  const c0 = anyC ? allocate(r.dtype, LD * B * H) : null;
  jobs.forEach((j, b) => {
    lengths[b] = j.T;
    if (r.batchFirst) x.set(j.x, b * T * I); // batch-first: entry b's rows are one block
    else for (let t = 0; t < j.T; t++) x.set(j.x.subarray(t * I, (t + 1) * I), (t * rowT + b * rowB) * I);
    for (let l = 0; l < LD; l++) {
      if (h0 && j.init?.h) h0.set(j.init.h.subarray(l * P, (l + 1) * P), (l * B + b) * P);
      if (c0 && j.init?.c) c0.set(j.init.c.subarray(l * H, (l + 1) * H), (l * B + b) * H);
    }
  });
  const options: ForwardOptions = { lengths };
  if (h0) options.h0 = trustedTensor(h0, [LD, B, P]);
  if (c0) options.c0 = trustedTensor(c0, [LD, B, H]);
  return { x: trustedTensor(x, r.batchFirst ? [B, T, I] : [T, B, I]), options, T, B };
}

/** Entry b's own result out of a batch result (copies). */
export function unpackJob(r: ForwardRunner, out: RecurrentOutput, p: Packed, b: number, Tb: number): SequenceResult {
  const DP = r.numDirections * r.outSize, P = r.outSize, H = r.hiddenSize, LD = r.numLayers * r.numDirections;
  const { B, T } = p;
  const [rowT, rowB] = r.batchFirst ? [1, T] : [B, 1];
  const y = allocate(r.dtype, Tb * DP);
  const src = out.output.data;
  if (r.batchFirst) y.set(src.subarray(b * T * DP, b * T * DP + Tb * DP));
  else for (let t = 0; t < Tb; t++) y.set(src.subarray((t * rowT + b * rowB) * DP, (t * rowT + b * rowB + 1) * DP), t * DP);
  const res: SequenceResult = { output: trustedTensor(y, [Tb, DP]), hN: trustedTensor(pickState(out.hN.data, LD, B, P, b), [LD, P]) };
  if (out.cN) res.cN = trustedTensor(pickState(out.cN.data, LD, B, H, b), [LD, H]);
  return res;
}

/** rows [l, b, :] of a [LD, B, n] state, as [LD, n] (a copy). */
export function pickState(s: FloatArray, LD: number, B: number, n: number, b: number): FloatArray {
  const o = allocate(s instanceof Float64Array ? 'float64' : 'float32', LD * n);
  for (let l = 0; l < LD; l++) o.set(s.subarray((l * B + b) * n, (l * B + b + 1) * n), l * n);
  return o;
}

/** The engine of a recurrent layer or a runner of one: results { output, hN, cN }. */
export function recurrentEngine(r: ForwardRunner, defaultConcurrency = 1): Engine<SequenceResult, RecurrentInit, RecurrentState> {
  const L = r.numLayers;
  return {
    get backendName() { return r.backendName; },
    dtype: r.dtype,
    streamable: r.streamable,
    stateKeys: r.hasCellState ? ['h0', 'c0'] : ['h0'],
    defaultConcurrency,
    readJob: (where, x, o, maxLength) => readJob(where, r, x, o.h0, o.c0, maxLength),
    readStep(where, x, maxLength) {
      let t = x;
      if (x instanceof Float32Array || x instanceof Float64Array) t = tensor(x, [x.length], r.dtype); // one step
      else if (Array.isArray(x)) {
        try {
          t = tensor(x as NestedNumbers, undefined, r.dtype);
        } catch (e) {
          throw argTypeError(where, 'x', `a Tensor [${r.inputSize}] or [T, ${r.inputSize}], or nested arrays of numbers (${(e as Error).message})`, x);
        }
      }
      const { shape, data } = checkTensorArg(where, 'x', t, r.dtype);
      const single = shape.length === 1;
      // What was read here is what readJob checks and copies: the caller's object is not read twice.
      const x2 = trustedTensor(data, single ? [1, shape[0]] : [...shape]);
      return { job: readJob(where, r, x2, null, null, maxLength), single };
    },
    readInit(where, arg, options) {
      const o = readOptions(where, arg, options, ['h0', 'c0']);
      return readInit(where, r, o.h0, o.c0);
    },
    async runBatch(jobs) {
      const p = packJobs(r, jobs);
      const out = await r.forwardAsync(p.x, p.options);
      return jobs.map((j, b) => unpackJob(r, out, p, b, j.T));
    },
    finalState: (res) => ({ h: res.hN.data, c: res.cN ? res.cN.data : null }),
    stepOutput: (res, single) => (single ? trustedTensor(res.output.data, [res.output.shape[1]]) : res.output),
    publicState(s) {
      const out: RecurrentState = { h: trustedTensor(s?.h ? s.h.slice() : allocate(r.dtype, L * r.outSize), [L, r.outSize]) };
      if (r.hasCellState) out.c = trustedTensor(s?.c ? s.c.slice() : allocate(r.dtype, L * r.hiddenSize), [L, r.hiddenSize]);
      return out;
    },
  };
}
