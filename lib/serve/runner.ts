// What serving needs from a model, and how each kind of model provides it. A recurrent layer
// (LSTM, GRU, RNN) or a runner of one (a TsWorkerPool of a recurrent layer) is served at the
// recurrent level: requests x [T, I], results { output, hN, cN } (lib/serve/pack.ts). A whole
// model, a Sequential (or a TsWorkerPool of one), is served at the model level: requests of token
// ids or features, results { output, state } (lib/serve/model-engine.ts). The batcher and
// sessions talk only to the resulting Engine (lib/serve/engine.ts).

import type { BackendName } from '../backend/types';
import { argTypeError } from '../errors';
import { Recurrent, type ForwardOptions, type RecurrentOutput } from '../nn/recurrent';
import { Sequential, type RecurrentState, type SequentialState } from '../nn/sequential';
import type { DType } from '../tensor';
import type { Tensor } from '../tensor';
import type { Engine } from './engine';
import { modelEngine, type ModelInit, type ModelResult, type ModelRunner } from './model-engine';
import { TsWorkerPool } from './ts-worker-pool';
import { recurrentEngine, type RecurrentInit, type SequenceResult } from './pack';

/** Anything that runs a recurrent layer's forward off the event loop: the layer itself or a TsWorkerPool of it. */
export interface ForwardRunner {
  /** I */
  readonly inputSize: number;
  /** H */
  readonly hiddenSize: number;
  /** Hout = projSize || H */
  readonly outSize: number;
  /** L */
  readonly numLayers: number;
  /** D */
  readonly numDirections: number;
  /** Input and output are [B, T, ·]. */
  readonly batchFirst: boolean;
  /** Element type of inputs and results. */
  readonly dtype: DType;
  /** LSTM: c as well as h */
  readonly hasCellState: boolean;
  /** runs forward in time (not bidirectional or reverse): sessions allowed */
  readonly streamable: boolean;
  /** What computes. */
  readonly backendName: BackendName | 'ts-workers';
  /** x [T, B, I] ([B, T, I] batch-first) with lengths, h0, c0 as Recurrent.forwardAsync takes them. */
  forwardAsync(x: Tensor, options: ForwardOptions): Promise<RecurrentOutput>;
}

/** Served at the recurrent level: results { output, hN, cN }. */
export type RecurrentServable = Recurrent | ForwardRunner;
/** Served at the model level: results { output, state }. */
export type ModelServable = Sequential | ModelRunner;
/** Anything a batcher or session can serve. */
export type Servable = RecurrentServable | ModelServable;

export type RecurrentEngine = Engine<SequenceResult, RecurrentInit, RecurrentState>;
export type ModelEngine = Engine<ModelResult, ModelInit, SequentialState>;

/** The engine serving `target` (a thin view of the model, no copies). */
export function engineOf(where: string, target: unknown): RecurrentEngine | ModelEngine {
  const size = (target as { size?: unknown } | null)?.size;
  const concurrency = typeof size === 'number' && size >= 1 ? size : 1; // a worker pool: one batch per worker
  if (target instanceof Recurrent) return recurrentEngine(modelRunner(target));
  if (target instanceof TsWorkerPool && target.model instanceof Recurrent) {
    const pool = target as TsWorkerPool<Recurrent>;
    return recurrentEngine({ ...modelRunner(pool.model), backendName: pool.backendName, forwardAsync: (x, o) => pool.forwardAsync(x, o) }, concurrency);
  }
  if (target instanceof Sequential) return modelEngine({ model: target, get backendName() { return backendOf(target); }, forwardAsync: (x, o) => target.forwardAsync(x, o) });
  const m = target as Partial<ModelRunner> | null;
  if (m && typeof m === 'object' && m.model instanceof Sequential && typeof m.forwardAsync === 'function') return modelEngine(m as ModelRunner, concurrency);
  const r = target as Partial<ForwardRunner> | null;
  if (r && typeof r === 'object' && typeof r.forwardAsync === 'function' && typeof r.inputSize === 'number' && typeof r.numLayers === 'number') {
    return recurrentEngine(r as ForwardRunner, concurrency);
  }
  throw argTypeError(where, 'model', 'a model (a Sequential, an LSTM, GRU or RNN) or a TsWorkerPool', target);
}

/** The backend(s) a Sequential's recurrent layers run on ('none' without one). */
function backendOf(m: Sequential): string {
  const names = [...new Set(m.layers.map((l) => (l as { backend?: unknown }).backend).filter((b) => typeof b === 'string'))];
  return names.length ? names.join('+') : 'none';
}

function modelRunner(m: Recurrent): ForwardRunner {
  return {
    inputSize: m.inputSize,
    hiddenSize: m.hiddenSize,
    outSize: m.outSize,
    numLayers: m.numLayers,
    numDirections: m.numDirections,
    batchFirst: m.batchFirst,
    dtype: m.dtype,
    hasCellState: m.hasCellState,
    streamable: !m.bidirectional && !m.reverse,
    get backendName() { return m.backend; }, // the model may move to another backend later
    forwardAsync: (x, options) => m.forwardAsync(x, options),
  };
}
