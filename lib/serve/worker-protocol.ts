// The messages between a TsWorkerPool (main thread) and its workers (ts-worker.ts), and how a
// model's construction options and weights travel: options as plain data, weights once per
// refresh in one SharedArrayBuffer that every worker reads (never copied through postMessage).

import type { LayerConfig } from '../nn/layer';
import type { FloatArray } from '../tensor';

/** Every parameter, packed back to back in one SharedArrayBuffer of the model's dtype. */
export interface SharedWeights {
  buffer: SharedArrayBuffer;
  dtype: 'float32' | 'float64';
  entries: { name: string; shape: number[]; offset: number; length: number }[]; // offsets in elements
}

/** The model's config (a recurrent layer's or a Sequential's), rebuilt on the ts backend. */
export interface WorkerInit {
  config: LayerConfig;
  weights: SharedWeights;
}

/** One recurrent state: a recurrent layer's { h0, c0 } / { hN, cN }, or one entry of a Sequential's state. */
export interface WireState {
  h: FloatArray | null;
  hShape: number[] | null;
  c: FloatArray | null;
  cShape: number[] | null;
}

/**
 * A forward job carries the main thread's element limit (maxElements()) at its call. `states`:
 * a recurrent layer's initial state as its one entry, a Sequential's one entry per layer.
 */
export type ToWorker =
  | { type: 'weights'; weights: SharedWeights }
  | { type: 'forward'; id: number; limit: number; x: FloatArray; xShape: number[]; lengths: Int32Array | null; states: (WireState | null)[] | null };

export type FromWorker =
  | { id: number; output: FloatArray; outputShape: number[]; states: (WireState | null)[] }
  | { id: number; error: { name: string; message: string } };
