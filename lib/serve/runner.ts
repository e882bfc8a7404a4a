// What serving needs from a model: its sizes and one async variable-length batch forward. A
// recurrent model (LSTM, GRU, RNN) on any backend is one; so is a TsWorkerPool, which runs the
// same forward on worker threads. The batcher and sessions talk only to this interface.

import type { BackendName } from '../backend/types';
import { argTypeError } from '../errors';
import { LSTM } from '../nn/lstm';
import { Recurrent, type ForwardOptions, type RecurrentOutput } from '../nn/recurrent';
import type { DType, Tensor } from '../tensor';

export interface ForwardRunner {
  readonly inputSize: number; // I
  readonly hiddenSize: number; // H
  readonly outSize: number; // Hout = projSize || H
  readonly numLayers: number; // L
  readonly numDirections: number; // D
  readonly batchFirst: boolean;
  readonly dtype: DType;
  readonly hasCellState: boolean; // LSTM: c as well as h
  readonly streamable: boolean; // runs forward in time (not bidirectional or reverse): sessions allowed
  readonly backendName: BackendName | 'ts-workers';
  /** x [T, B, I] ([B, T, I] batch-first) with lengths, h0, c0 as Recurrent.forwardAsync takes them. */
  forwardAsync(x: Tensor, options: ForwardOptions): Promise<RecurrentOutput>;
}

/** Anything a batcher or session can serve: a recurrent model or a runner (e.g. a TsWorkerPool). */
export type Servable = Recurrent | ForwardRunner;

/** The runner for a model (a thin view, no copies), or the runner itself. */
export function runnerOf(where: string, target: unknown): ForwardRunner {
  if (target instanceof Recurrent) return modelRunner(target);
  const r = target as Partial<ForwardRunner> | null;
  if (r && typeof r === 'object' && typeof r.forwardAsync === 'function' && typeof r.inputSize === 'number' && typeof r.numLayers === 'number') {
    return r as ForwardRunner;
  }
  throw argTypeError(where, 'model', 'an LSTM, GRU or RNN, or a TsWorkerPool', target);
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
    hasCellState: m instanceof LSTM,
    streamable: !m.bidirectional && !m.reverse,
    get backendName() { return m.backend; }, // the model may move to another backend later
    forwardAsync: (x, options) => m.forwardAsync(x, options),
  };
}
