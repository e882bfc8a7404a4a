// cellstate: LSTM, GRU and RNN for Node.js with PyTorch's semantics and weight layout: the library's
// public API. The applications (the `cellstate` command line, the character model, the experiments,
// plots) live in apps/ and import this entry like any program; nothing here imports them.

export * from './common';

// Files (Node only: the browser build has the in-memory forms of ./common.ts)
export { readSafetensors, writeSafetensors } from './io/safetensors';
export { saveCheckpoint, loadCheckpoint, readCheckpoint } from './train/checkpoint';
export { saveModel } from './io/model-file';
export { toTfjs } from './interop/tfjs-export';

// Serving
export { Batcher, createBatcher } from './serve/batcher';
export type { BatcherOptions, BatcherStats, RunOptions, AbortSignalLike } from './serve/batcher';
export { Session, createSession } from './serve/session';
export type { SessionOptions, StepOptions, StepInput } from './serve/session';
export { TsWorkerPool, createTsWorkerPool } from './serve/ts-worker-pool';
export type { TsWorkerPoolOptions, PoolForwardOptions, PoolOutput } from './serve/ts-worker-pool';
export type { ForwardRunner, ModelServable, RecurrentServable, Servable } from './serve/runner';
export type { ModelResult, ModelRunner } from './serve/model-engine';
export type { SequenceInput, SequenceResult } from './serve/pack';
export { QueueFullError, RequestAbortedError, ServeClosedError } from './serve/errors';
