// What the batcher and sessions need from whatever they serve, as one interface: read one
// request (its input and initial state, validated and copied at the call), run many requests as
// one batch, and carry a session's state from one result to the next step. Two engines implement
// it: a recurrent layer (or a runner such as a TsWorkerPool of one), whose results are
// { output, hN, cN } (lib/serve/pack.ts), and a whole model, a Sequential of embeddings, recurrent
// layers and heads, whose results are { output, state } (lib/serve/model-engine.ts).

import type { DType, FloatArray, Tensor } from '../tensor';

/** A validated request: a private copy of its input and of its initial state (null: zeros). */
export interface Job<S> {
  T: number;
  x: FloatArray; // T steps, each of the engine's step size
  init: S | null;
}

export interface Engine<R, S, P> {
  readonly backendName: string;
  readonly dtype: DType;
  /** Runs forward in time (no bidirectional or reverse layer): sessions allowed. */
  readonly streamable: boolean;
  /** The run()/session option names that carry an initial state ({ h0, c0 } or { state }). */
  readonly stateKeys: readonly string[];
  /** Batches that compute at once by default (a worker pool's size), else 1. */
  readonly defaultConcurrency: number;
  /** One request, x read once and copied; its initial state from `options` (stateKeys). */
  readJob(where: string, x: unknown, options: Readonly<Record<string, unknown>>, maxLength: number): Job<S>;
  /** One session step: a single step (single) or a chunk of steps, as a job without initial state. */
  readStep(where: string, x: unknown, maxLength: number): { job: Job<S>; single: boolean };
  /** An initial state from options (stateKeys), copied; null for zeros. */
  readInit(where: string, arg: string, options: unknown): S | null;
  /** The jobs as one batch: one result per job, in order. Rejects if the batch fails. */
  runBatch(jobs: readonly Job<S>[]): Promise<R[]>;
  /** The state a result ends in (a session's next initial state). */
  finalState(r: R): S;
  /** A session step's output: the result's output, without its time axis for a single step. */
  stepOutput(r: R, single: boolean): Tensor;
  /** A session's state as the caller sees it: copies, zeros for null. */
  publicState(s: S | null): P;
}
