// The messages between a TsWorkerPool (main thread) and its workers (ts-worker.ts), and how a
// model's construction options and weights travel: options as plain data, weights once per
// refresh in one SharedArrayBuffer that every worker reads (never copied through postMessage).

import type { FloatArray } from '../tensor';

/** Enough to rebuild the same model on the ts backend in a worker. */
export interface ModelSpec {
  type: 'LSTM' | 'GRU' | 'RNN';
  options: Record<string, unknown>;
}

/** Every parameter, packed back to back in one SharedArrayBuffer of the model's dtype. */
export interface SharedWeights {
  buffer: SharedArrayBuffer;
  dtype: 'float32' | 'float64';
  entries: { name: string; shape: number[]; offset: number; length: number }[]; // offsets in elements
}

export interface WorkerInit {
  spec: ModelSpec;
  weights: SharedWeights;
}

/** A forward job carries the main thread's element limit (maxElements()) at its call. */
export type ToWorker =
  | { type: 'weights'; weights: SharedWeights }
  | { type: 'forward'; id: number; limit: number; x: FloatArray; xShape: number[]; lengths: Int32Array | null; h0: FloatArray | null; h0Shape: number[] | null; c0: FloatArray | null; c0Shape: number[] | null };

export type FromWorker =
  | { id: number; output: FloatArray; outputShape: number[]; hN: FloatArray; hNShape: number[]; cN: FloatArray | null; cNShape: number[] | null }
  | { id: number; error: { name: string; message: string } };
