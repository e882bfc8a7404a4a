// TsWorkerPool: the ts backend on every core. N worker threads, each holding the same model on
// the ts backend; the weights are written once into a SharedArrayBuffer that all of them read
// (no copies per request, none through postMessage), and each forward's buffers are transferred,
// not cloned. It is a ForwardRunner, so a Batcher spreads its batches over the workers
// (concurrency = workers) and the event loop never computes.
//
// A job goes to the worker with the fewest outstanding jobs. A worker that dies rejects its
// outstanding jobs and is replaced. Idle workers do not keep the process alive. In-place weight
// changes on the model reach the workers only through refresh(). Float32 and float64 models;
// training stays on the main thread (the pool only runs inference).
//
// A job is what the caller passed at the call: x, lengths, h0 and c0 are validated and copied
// (each read once) before forwardAsync returns, and the copies are what is transferred; the
// element limit (maxElements()) at the call travels with the job and the worker enforces it, so
// the pool returns or refuses exactly what model.forward would on this thread.

import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { argTypeError } from '../errors';
import { GRU } from '../nn/gru';
import { LSTM } from '../nn/lstm';
import { positiveInt, readOptions } from '../nn/options';
import { Recurrent, type ForwardOptions, type RecurrentOutput } from '../nn/recurrent';
import { RNN } from '../nn/rnn';
import { checkInput, checkLengths } from '../nn/sequence';
import { checkTensorArg, maxElements, trustedTensor, type DType, type FloatArray, type Tensor } from '../tensor';
import { ServeClosedError } from './errors';
import type { ForwardRunner } from './runner';
import type { FromWorker, ModelSpec, SharedWeights, ToWorker, WorkerInit } from './worker-protocol';

export interface TsWorkerPoolOptions {
  workers?: number; // default: os.availableParallelism()
}

interface Job {
  resolve: (r: RecurrentOutput) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
}

export class TsWorkerPool implements ForwardRunner {
  readonly size: number;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly outSize: number;
  readonly numLayers: number;
  readonly numDirections: number;
  readonly batchFirst: boolean;
  readonly dtype: DType;
  readonly hasCellState: boolean;
  readonly streamable: boolean;
  readonly backendName = 'ts-workers' as const;
  private readonly model: Recurrent;
  private readonly spec: ModelSpec;
  private weights: SharedWeights;
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;

  constructor(model: Recurrent, options?: TsWorkerPoolOptions) {
    const where = 'createTsWorkerPool';
    if (!(model instanceof Recurrent)) throw argTypeError(where, 'model', 'an LSTM, GRU or RNN', model);
    const o = readOptions(where, 'options', options, ['workers']);
    this.size = o.workers === undefined ? availableParallelism() : positiveInt(where, 'workers', o.workers);
    this.model = model;
    this.spec = specOf(model);
    this.inputSize = model.inputSize;
    this.hiddenSize = model.hiddenSize;
    this.outSize = model.outSize;
    this.numLayers = model.numLayers;
    this.numDirections = model.numDirections;
    this.batchFirst = model.batchFirst;
    this.dtype = model.dtype;
    this.hasCellState = model instanceof LSTM;
    this.streamable = !model.bidirectional && !model.reverse;
    this.weights = shareWeights(model);
    for (let i = 0; i < this.size; i++) this.slots.push(this.spawn());
  }

  /**
   * Recurrent.forwardAsync on a worker: x [T, B, I] ([B, T, I] batch-first) with lengths, h0, c0.
   * The inputs are copied at the call; the worker validates them exactly as the model would.
   */
  forwardAsync(x: Tensor, options?: ForwardOptions): Promise<RecurrentOutput> {
    const where = 'TsWorkerPool.forwardAsync';
    try {
      if (this.closed) throw new ServeClosedError(where);
      const o = readOptions(where, 'options', options, ['h0', 'c0', 'lengths']);
      const { data, seq } = checkInput(where, x, this.inputSize, this.batchFirst, this.dtype);
      const lengths = checkLengths(where, o.lengths, seq.T, seq.B); // a private Int32Array: transferable
      const h0 = o.h0 ? checkTensorArg(where, 'h0', o.h0, this.dtype) : null; // shapes: checked by the worker's model
      const c0 = o.c0 ? checkTensorArg(where, 'c0', o.c0, this.dtype) : null;
      const msg: ToWorker = {
        type: 'forward', id: this.nextId++, limit: maxElements(),
        x: data.slice(), xShape: this.batchFirst ? [seq.B, seq.T, this.inputSize] : [seq.T, seq.B, this.inputSize], lengths,
        h0: h0 ? h0.data.slice() : null, h0Shape: h0 ? [...h0.shape] : null,
        c0: c0 ? c0.data.slice() : null, c0Shape: c0 ? [...c0.shape] : null,
      };
      const transfer = [msg.x.buffer, msg.lengths?.buffer, msg.h0?.buffer, msg.c0?.buffer].filter((b): b is ArrayBuffer => !!b);
      const slot = this.slots.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
      return new Promise((resolve, reject) => {
        if (slot.jobs.size === 0) slot.worker.ref(); // outstanding work keeps the process alive
        slot.jobs.set(msg.id, { resolve, reject });
        slot.worker.postMessage(msg, transfer);
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Share the model's current weights with every worker; forwards called after this use them. */
  refresh(): void {
    if (this.closed) throw new ServeClosedError('TsWorkerPool.refresh');
    this.weights = shareWeights(this.model);
    const msg: ToWorker = { type: 'weights', weights: this.weights };
    for (const s of this.slots) s.worker.postMessage(msg);
  }

  /** Stop every worker; outstanding forwards reject with ServeClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot {
    const init: WorkerInit = { spec: this.spec, weights: this.weights };
    const worker = new Worker(path.join(__dirname, 'ts-worker.js'), { workerData: init });
    const slot: Slot = { worker, jobs: new Map() };
    worker.unref();
    worker.on('message', (m: FromWorker) => {
      const job = slot.jobs.get(m.id);
      if (!job) return;
      slot.jobs.delete(m.id);
      if (slot.jobs.size === 0) worker.unref();
      try {
        if ('error' in m) job.reject(rebuildError(m.error));
        else job.resolve(outputOf(m));
      } catch (e) {
        job.reject(e); // the job is answered whatever its reply holds
      }
    });
    const fail = (e: unknown) => {
      const jobs = [...slot.jobs.values()];
      slot.jobs.clear();
      for (const j of jobs) j.reject(this.closed ? new ServeClosedError('TsWorkerPool.forwardAsync') : e);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      fail(new Error(`TsWorkerPool: a worker exited (code ${code}) before answering`));
      if (this.closed) return;
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots[i] = this.spawn(); // keep the pool at its size
    });
    return slot;
  }
}

/** A pool of worker threads running `model` on the ts backend (see TsWorkerPool). */
export function createTsWorkerPool(model: Recurrent, options?: TsWorkerPoolOptions): TsWorkerPool {
  return new TsWorkerPool(model, options);
}

function specOf(m: Recurrent): ModelSpec {
  const options: Record<string, unknown> = {
    inputSize: m.inputSize, hiddenSize: m.hiddenSize, numLayers: m.numLayers, bias: m.bias, batchFirst: m.batchFirst,
    bidirectional: m.bidirectional, clip: m.clip, reverse: m.reverse, seed: m.seed, dtype: m.dtype, backend: 'ts',
  };
  if (m instanceof LSTM) return { type: 'LSTM', options: { ...options, projSize: m.projSize, peephole: m.peephole, inputForget: m.inputForget } };
  if (m instanceof GRU) return { type: 'GRU', options: { ...options, linearBeforeReset: m.linearBeforeReset } };
  if (m instanceof RNN) return { type: 'RNN', options: { ...options, nonlinearity: m.nonlinearity } };
  throw argTypeError('createTsWorkerPool', 'model', 'an LSTM, GRU or RNN', m);
}

function shareWeights(m: Recurrent): SharedWeights {
  const params = m.namedParameters(); // live views, no copies
  const total = params.reduce((n, [, t]) => n + t.size, 0);
  const bytes = m.dtype === 'float64' ? 8 : 4;
  const buffer = new SharedArrayBuffer(total * bytes);
  const all: FloatArray = m.dtype === 'float64' ? new Float64Array(buffer) : new Float32Array(buffer);
  const entries: SharedWeights['entries'] = [];
  let offset = 0;
  for (const [name, t] of params) {
    all.set(t.data, offset);
    entries.push({ name, shape: [...t.shape], offset, length: t.size });
    offset += t.size;
  }
  return { buffer, dtype: m.dtype, entries };
}

function outputOf(m: Extract<FromWorker, { output: FloatArray }>): RecurrentOutput {
  const r: RecurrentOutput = { output: trustedTensor(m.output, m.outputShape), hN: trustedTensor(m.hN, m.hNShape) };
  if (m.cN) r.cN = trustedTensor(m.cN, m.cNShape!);
  return r;
}

/** The worker's error as the class the model would have thrown on this thread. */
function rebuildError(e: { name: string; message: string }): Error {
  const C = e.name === 'TypeError' ? TypeError : e.name === 'RangeError' ? RangeError : Error;
  const err = new C(e.message);
  if (C === Error && e.name !== 'Error') err.name = e.name;
  return err;
}

