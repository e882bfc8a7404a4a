// Serving a whole model (a Sequential: embeddings, recurrent layers, per-step or last-step heads):
// one request is one sequence, many requests are one variable-length batch forward with
// `lengths`, and each request gets its own rows of the output and of every recurrent layer's
// final state back. The engine reads the model's chain once, at creation, for what a request
// looks like:
//
//   input   token ids x [T] when the chain starts with an Embedding (before any layer that fixes a
//           feature size), else features x [T, I] (I from the first Linear / recurrent layer);
//   output  [T, ...F] per request, or [...F] once a LastStep has taken each sequence's last step;
//   state   one entry per layer: { h [L*D, Hout], c [L*D, H] } for a recurrent layer, else null
//           (Sequential.forward's state without its batch axis), given as run()'s `state`.
//
// A request's result equals model.forward on that sequence alone exactly (same backend): every
// layer computes each batch row with the same operations whatever else the batch holds, padded
// steps are never read by a recurrent layer or a LastStep, and the rows cut out are the
// request's own (test/serve-model.test.mjs).

import { argRangeError, argTypeError, describe, shapeError } from '../errors';
import { Embedding } from '../nn/embedding';
import { isRecurrent, type Layer, type RecurrentLayer } from '../nn/layer';
import { LastStep } from '../nn/last-step';
import { readOptions } from '../nn/options';
import { checkFinite } from '../nn/sequence';
import type { Sequential, SequentialForwardOptions, SequentialState } from '../nn/sequential';
import { allocate, checkTensorArg, tensor, trustedTensor, type DType, type FloatArray, type NestedNumbers, type Tensor } from '../tensor';
import type { Engine, Job } from './engine';
import { pickState, readState } from './pack';

/** A request's result: its output rows ([T, ...F], or [...F] after a LastStep) and every layer's final state. */
export interface ModelResult {
  /** The model's output for this sequence: [T, ...F], or [...F] after a LastStep. */
  output: Tensor;
  /** Each layer's final state (null for layers without one). */
  state: SequentialState;
}

/** Anything that runs a Sequential's forward off the event loop: the model itself or a TsWorkerPool of it. */
export interface ModelRunner {
  /** The model run. */
  readonly model: Sequential;
  /** What computes (a backend name, or 'ts-workers'). */
  readonly backendName: string;
  /** The model's forward, off the event loop. */
  forwardAsync(x: Tensor, options: SequentialForwardOptions): Promise<{
    /** The model's output. */
    output: Tensor;
    /** Each layer's final state. */
    state: SequentialState;
  }>;
}

/** One recurrent layer's part of a request's initial state: h [LD*P], c [LD*H] (or null). */
type LayerInit = { h: FloatArray | null; c: FloatArray | null } | null;
export type ModelInit = LayerInit[];

interface RecurrentInfo {
  LD: number; // layers * directions
  P: number; // Hout
  H: number;
  cell: boolean; // has a cell state (LSTM, LayerNormLSTM)
}

export function modelEngine(runner: ModelRunner, defaultConcurrency = 1): Engine<ModelResult, ModelInit, SequentialState> {
  const where0 = 'createBatcher';
  const model = runner.model;
  const dtype: DType = model.dtype;
  const layers = model.layers;
  const input = inputOf(where0, layers);
  const perStep = !layers.some((l) => l instanceof LastStep);
  const rec: (RecurrentInfo | null)[] = layers.map((l) => (isRecurrent(l) ? recurrentInfo(l) : null));
  const step = input.tokens ? 1 : input.features; // values per step
  const stepShape = input.tokens ? '' : `, ${input.features}`;
  const streamable = layers.every((l) => !isRecurrent(l) || (!l.bidirectional && !(l as { reverse?: boolean }).reverse));

  /** x [T] ids or [T, I] features, read once, copied and checked. */
  function readX(where: string, x: unknown, maxLength: number): { T: number; data: FloatArray } {
    let t = x;
    if (Array.isArray(x) || (input.tokens && ArrayBuffer.isView(x) && !(x instanceof DataView))) {
      try {
        t = tensor(x as NestedNumbers, undefined, dtype);
      } catch (e) {
        throw argTypeError(where, 'x', `${expected()} (${(e as Error).message})`, x);
      }
    }
    const { shape, data } = checkTensorArg(where, 'x', t, dtype);
    const rank = input.tokens ? 1 : 2;
    if (shape.length !== rank || shape[0] < 1 || (!input.tokens && shape[1] !== input.features)) throw shapeError(where, 'x', `[T${stepShape}] with T >= 1 (one sequence)`, shape);
    if (shape[0] > maxLength) throw shapeError(where, 'x', `[T${stepShape}] with T <= maxLength (${maxLength})`, shape);
    const xs = data.slice();
    checkFinite(where, 'x', xs);
    if (input.tokens) {
      for (let i = 0; i < xs.length; i++) {
        const v = xs[i];
        if (!Number.isInteger(v) || v < 0 || v >= input.vocab) throw argRangeError(where, `x[${i}]`, `a token id, an integer in [0, ${input.vocab - 1}]`, describe(v));
      }
    }
    return { T: shape[0], data: xs };
  }

  function expected(): string {
    return input.tokens ? 'token ids [T] (a Tensor, an array or a typed array of integers)' : `a Tensor [T, ${input.features}] or nested arrays of numbers`;
  }

  function readInit(where: string, state: unknown): ModelInit | null {
    if (state === undefined || state === null) return null;
    if (!Array.isArray(state) || state.length !== layers.length) {
      throw argTypeError(where, 'state', `an array of ${layers.length} entries, one per layer (a result's state)`, state);
    }
    const out: ModelInit = layers.map(() => null);
    let any = false;
    state.forEach((s: unknown, i) => {
      if (s === undefined || s === null) return;
      const r = rec[i];
      if (!r) throw argTypeError(where, `state[${i}]`, `null (layer ${model.layerNames[i]} is not recurrent)`, s);
      const o = readOptions(where, `state[${i}]`, s, ['h', 'c']);
      const h = readState(where, `state[${i}].h`, o.h, [r.LD, r.P], 'layers*directions, Hout', dtype);
      if (!r.cell && o.c !== undefined && o.c !== null) throw argTypeError(where, `state[${i}].c`, 'nothing (this layer has no cell state)', o.c);
      const c = r.cell ? readState(where, `state[${i}].c`, o.c, [r.LD, r.H], 'layers*directions, hiddenSize', dtype) : null;
      out[i] = { h, c };
      any ||= !!(h || c);
    });
    return any ? out : null;
  }

  function readJob(where: string, x: unknown, state: unknown, maxLength: number): Job<ModelInit> {
    const { T, data } = readX(where, x, maxLength);
    return { T, x: data, init: readInit(where, state) };
  }

  async function runBatch(jobs: readonly Job<ModelInit>[]): Promise<ModelResult[]> {
    const B = jobs.length, bf = model.batchFirst;
    let T = 0;
    for (const j of jobs) if (j.T > T) T = j.T;
    // Padding: zeros (token id 0, always valid); no recurrent layer or LastStep reads past a length.
    const x = allocate(dtype, T * B * step);
    const lengths = new Int32Array(B);
    jobs.forEach((j, b) => {
      lengths[b] = j.T;
      if (bf) x.set(j.x, b * T * step);
      else for (let t = 0; t < j.T; t++) x.set(j.x.subarray(t * step, (t + 1) * step), (t * B + b) * step);
    });
    const shape = input.tokens ? (bf ? [B, T] : [T, B]) : bf ? [B, T, step] : [T, B, step];
    const state: SequentialState | null = jobs.some((j) => j.init) ? rec.map((r, i) => (r ? packState(r, jobs, i) : null)) : null;
    const out = await runner.forwardAsync(trustedTensor(x, shape), { lengths, state });
    return jobs.map((j, b) => unpack(out, b, B, T, j.T));
  }

  function packState(r: RecurrentInfo, jobs: readonly Job<ModelInit>[], i: number): { h: Tensor; c?: Tensor } {
    const B = jobs.length;
    const h = allocate(dtype, r.LD * B * r.P);
    const c = r.cell ? allocate(dtype, r.LD * B * r.H) : null;
    jobs.forEach((j, b) => {
      const s = j.init?.[i];
      for (let l = 0; l < r.LD; l++) {
        if (s?.h) h.set(s.h.subarray(l * r.P, (l + 1) * r.P), (l * B + b) * r.P);
        if (c && s?.c) c.set(s.c.subarray(l * r.H, (l + 1) * r.H), (l * B + b) * r.H);
      }
    });
    const e: { h: Tensor; c?: Tensor } = { h: trustedTensor(h, [r.LD, B, r.P]) };
    if (c) e.c = trustedTensor(c, [r.LD, B, r.H]);
    return e;
  }

  /** Entry b's rows of the batch output and of every final state (copies). */
  function unpack(out: { output: Tensor; state: SequentialState }, b: number, B: number, T: number, Tb: number): ModelResult {
    const { shape, data } = out.output;
    const lead = perStep ? (model.batchFirst ? [B, T] : [T, B]) : [B];
    if (shape.length < lead.length + 1 || lead.some((d, k) => shape[k] !== d)) {
      throw new Error(`createBatcher: the model's output has shape [${shape.join(', ')}], expected [${lead.join(', ')}, ...] (a layer that changes the batch or time axes cannot be served)`);
    }
    const F = shape.slice(lead.length), f = F.reduce((a, d) => a * d, 1);
    let output: Tensor;
    if (!perStep) output = trustedTensor(data.slice(b * f, (b + 1) * f), F);
    else {
      const y = allocate(dtype, Tb * f);
      if (model.batchFirst) y.set(data.subarray(b * T * f, (b * T + Tb) * f));
      else for (let t = 0; t < Tb; t++) y.set(data.subarray((t * B + b) * f, (t * B + b + 1) * f), t * f);
      output = trustedTensor(y, [Tb, ...F]);
    }
    const state: SequentialState = out.state.map((s, i) => {
      const r = rec[i];
      if (!s || !r) return null;
      const e: { h: Tensor; c?: Tensor } = { h: trustedTensor(pickState(s.h.data, r.LD, B, r.P, b), [r.LD, r.P]) };
      if (s.c && r.cell) e.c = trustedTensor(pickState(s.c.data, r.LD, B, r.H, b), [r.LD, r.H]);
      return e;
    });
    return { output, state };
  }

  return {
    get backendName() { return runner.backendName; },
    dtype,
    streamable,
    stateKeys: ['state'],
    defaultConcurrency,
    readJob: (where, x, o, maxLength) => readJob(where, x, o.state, maxLength),
    readStep(where, x, maxLength) {
      // One step: a token id (a number) or one feature vector [I]; else a chunk of steps.
      let single = false;
      let v = x;
      if (input.tokens && typeof x === 'number') { single = true; v = [x]; }
      else if (!input.tokens) {
        if (x instanceof Float32Array || x instanceof Float64Array || (Array.isArray(x) && x.every((e) => typeof e === 'number'))) {
          single = true;
          v = [Array.from(x as ArrayLike<number>)];
        } else if (x !== null && typeof x === 'object' && !Array.isArray(x)) {
          const { shape, data } = checkTensorArg(where, 'x', x, dtype); // read once: what is checked below is this
          single = shape.length === 1;
          v = trustedTensor(data, single ? [1, shape[0]] : [...shape]);
        }
      }
      return { job: readJob(where, v, null, maxLength), single };
    },
    readInit: (where, arg, options) => readInit(where, readOptions(where, arg, options, ['state']).state),
    runBatch,
    finalState: (r) => r.state.map((s) => (s ? { h: s.h.data, c: s.c ? s.c.data : null } : null)),
    stepOutput(r, single) {
      if (!single || !perStep) return r.output;
      return trustedTensor(r.output.data, r.output.shape.slice(1));
    },
    publicState(s) {
      return rec.map((r, i) => {
        if (!r) return null;
        const e = s?.[i];
        const out: { h: Tensor; c?: Tensor } = { h: trustedTensor(e?.h ? e.h.slice() : allocate(dtype, r.LD * r.P), [r.LD, r.P]) };
        if (r.cell) out.c = trustedTensor(e?.c ? e.c.slice() : allocate(dtype, r.LD * r.H), [r.LD, r.H]);
        return out;
      });
    },
  };
}

function recurrentInfo(l: RecurrentLayer): RecurrentInfo {
  const D = l.bidirectional ? 2 : 1;
  const P = (l as { outSize?: number }).outSize ?? l.hiddenSize;
  return { LD: l.numLayers * D, P, H: l.hiddenSize, cell: (l as { hasCellState?: boolean }).hasCellState === true };
}

/** What one step of a request is: a token id (an Embedding first) or I features. */
function inputOf(where: string, layers: readonly Layer[]): { tokens: true; vocab: number } | { tokens: false; features: number } {
  for (const l of layers) {
    if (l instanceof Embedding) return { tokens: true, vocab: l.numEmbeddings };
    if (isRecurrent(l)) return { tokens: false, features: l.inputSize };
    const inF = (l as { inFeatures?: unknown }).inFeatures;
    if (typeof inF === 'number') return { tokens: false, features: inF };
    if (l instanceof LastStep) break;
  }
  throw argTypeError(where, 'model', 'a model whose first layers fix its input (an Embedding, a recurrent layer or a Linear before any LastStep)', layers.map((l) => l.constructor.name).join(', '));
}
