// TsWorkerPool: the ts backend on every core. N worker threads, each holding the same model (a
// recurrent layer or a whole Sequential) rebuilt from its config on the ts backend; the weights
// are written once per refresh into a SharedArrayBuffer that each worker loads from (never sent
// through postMessage, never per request), and each forward's buffers are transferred, not
// cloned. A Batcher serves it like the model itself, spreading its batches over the workers
// (concurrency = workers), so the event loop never computes.
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
import { positiveInt, readOptions } from '../nn/options';
import { Recurrent, type ForwardOptions, type RecurrentOutput } from '../nn/recurrent';
import { checkInput, checkLengths } from '../nn/sequence';
import { Sequential, type SequentialForwardOptions, type SequentialState } from '../nn/sequential';
import { checkTensorArg, maxElements, trustedTensor, type DType, type FloatArray, type Tensor } from '../tensor';
import { ServeClosedError } from './errors';
import type { FromWorker, SharedWeights, ToWorker, WireState, WorkerInit } from './worker-protocol';

/** Options of createTsWorkerPool. */
export interface TsWorkerPoolOptions {
  /**
   * Worker threads, each with the model's weights (shared memory).
   * @default os.availableParallelism()
   */
  workers?: number;
}

/** What the pool's forwardAsync takes and returns: the model's own forward's. */
export type PoolForwardOptions<M> = M extends Sequential ? SequentialForwardOptions : ForwardOptions;
/** What the pool's forwardAsync resolves to: a Sequential's { output, state }, a recurrent layer's RecurrentOutput. */
export type PoolOutput<M> = M extends Sequential ? {
  /** The model's output. */
  output: Tensor;
  /** Each layer's final state. */
  state: SequentialState;
} : RecurrentOutput;

interface Job {
  resolve: (r: { output: Tensor; states: (WireState | null)[] }) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
}

/** M: the model the workers run, a recurrent layer (LSTM, GRU, RNN) or a Sequential. */
export class TsWorkerPool<M extends Recurrent | Sequential = Recurrent> {
  /** Worker threads. */
  readonly size: number;
  /** The model the workers run. */
  readonly model: M;
  /** Its element type. */
  readonly dtype: DType;
  /** What computes: the ts backend on worker threads. */
  readonly backendName = 'ts-workers' as const;
  private readonly config: WorkerInit['config'];
  private weights: SharedWeights;
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;

  constructor(model: M, options?: TsWorkerPoolOptions) {
    const where = 'createTsWorkerPool';
    if (!(model instanceof Recurrent) && !(model instanceof Sequential)) throw argTypeError(where, 'model', 'a model (a Sequential, an LSTM, GRU or RNN)', model);
    // The workers load fp32 weights through a SharedArrayBuffer; a quantized model is served by
    // createBatcher / createSession on the model itself.
    if (model.precision !== 'fp32') throw argTypeError(where, 'model', `an fp32 model (a ${model.precision} model from quantize() is served by createBatcher or createSession directly; see docs/low-precision.md#what-a-quantized-model-refuses)`, model);
    const o = readOptions(where, 'options', options, ['workers']);
    this.size = o.workers === undefined ? availableParallelism() : positiveInt(where, 'workers', o.workers);
    this.model = model;
    this.dtype = model.dtype;
    this.config = model.config();
    this.weights = shareWeights(model);
    for (let i = 0; i < this.size; i++) this.slots.push(this.spawn());
  }

  /**
   * The model's forward on a worker: for a recurrent layer x [T, B, I] ([B, T, I] batch-first)
   * with lengths, h0, c0; for a Sequential x with lengths and state. The inputs are copied at the
   * call; the worker validates them exactly as the model would.
   */
  forwardAsync(x: Tensor, options?: PoolForwardOptions<M>): Promise<PoolOutput<M>> {
    const where = 'TsWorkerPool.forwardAsync';
    try {
      if (this.closed) throw new ServeClosedError(where);
      const m = this.model;
      let data: FloatArray, shape: number[], lengths: Int32Array | null, states: (WireState | null)[] | null;
      if (m instanceof Recurrent) {
        const o = readOptions(where, 'options', options, ['h0', 'c0', 'lengths']);
        const c = checkInput(where, x, m.inputSize, m.batchFirst, this.dtype);
        data = c.data;
        shape = m.batchFirst ? [c.seq.B, c.seq.T, m.inputSize] : [c.seq.T, c.seq.B, m.inputSize];
        lengths = checkLengths(where, o.lengths, c.seq.T, c.seq.B); // a private Int32Array: transferable
        states = o.h0 || o.c0 ? [wireCopy(where, 'h0', 'c0', o.h0, o.c0, this.dtype)] : null;
      } else {
        const o = readOptions(where, 'options', options, ['lengths', 'state']);
        const c = checkTensorArg(where, 'x', x, this.dtype);
        data = c.data;
        shape = [...c.shape];
        // Lengths belong to the batch axis (first batch-first, else second); the worker checks them against T.
        const [T, B] = (m as Sequential).batchFirst ? [shape[1], shape[0]] : [shape[0], shape[1]];
        lengths = o.lengths === undefined || o.lengths === null ? null : checkLengths(where, o.lengths, T ?? 0, B ?? 0);
        const st = o.state as unknown;
        if (st === undefined || st === null) states = null;
        else if (!Array.isArray(st)) throw argTypeError(where, 'state', 'an array with one entry per layer (as returned by forward)', st);
        else states = st.map((e: { h?: unknown; c?: unknown } | null, i) => (e ? wireCopy(where, `state[${i}].h`, `state[${i}].c`, e.h, e.c, this.dtype) : null));
      }
      const msg: ToWorker = { type: 'forward', id: this.nextId++, limit: maxElements(), x: data.slice(), xShape: shape, lengths, states };
      const transfer = [msg.x.buffer, msg.lengths?.buffer, ...(states ?? []).flatMap((s) => (s ? [s.h?.buffer, s.c?.buffer] : []))]
        .filter((b): b is ArrayBuffer => !!b);
      const slot = this.slots.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
      return new Promise<{ output: Tensor; states: (WireState | null)[] }>((resolve, reject) => {
        if (slot.jobs.size === 0) slot.worker.ref(); // outstanding work keeps the process alive
        slot.jobs.set(msg.id, { resolve, reject });
        slot.worker.postMessage(msg, transfer);
      }).then((r) => this.result(r));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private result(r: { output: Tensor; states: (WireState | null)[] }): PoolOutput<M> {
    const t = (a: FloatArray | null, shape: number[] | null): Tensor | undefined => (a ? trustedTensor(a, shape!) : undefined);
    if (this.model instanceof Recurrent) {
      const s = r.states[0]!;
      const out: RecurrentOutput = { output: r.output, hN: t(s.h, s.hShape)! };
      if (s.c) out.cN = t(s.c, s.cShape);
      return out as PoolOutput<M>;
    }
    const state: SequentialState = r.states.map((s) => (s ? (s.c ? { h: t(s.h, s.hShape)!, c: t(s.c, s.cShape)! } : { h: t(s.h, s.hShape)! }) : null));
    return { output: r.output, state } as PoolOutput<M>;
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
    const init: WorkerInit = { config: this.config, weights: this.weights };
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
        else job.resolve({ output: trustedTensor(m.output, m.outputShape), states: m.states });
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
export function createTsWorkerPool<M extends Recurrent | Sequential>(model: M, options?: TsWorkerPoolOptions): TsWorkerPool<M> {
  return new TsWorkerPool(model, options);
}

/** Private copies of one state's h and c (their shapes are the worker's model's to check). */
function wireCopy(where: string, hArg: string, cArg: string, h: unknown, c: unknown, dtype: DType): WireState {
  const hs = h === undefined || h === null ? null : checkTensorArg(where, hArg, h, dtype);
  const cs = c === undefined || c === null ? null : checkTensorArg(where, cArg, c, dtype);
  return { h: hs ? hs.data.slice() : null, hShape: hs ? [...hs.shape] : null, c: cs ? cs.data.slice() : null, cShape: cs ? [...cs.shape] : null };
}

function shareWeights(m: Recurrent | Sequential): SharedWeights {
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

/** The worker's error as the class the model would have thrown on this thread. */
function rebuildError(e: { name: string; message: string }): Error {
  const C = e.name === 'TypeError' ? TypeError : e.name === 'RangeError' ? RangeError : Error;
  const err = new C(e.message);
  if (C === Error && e.name !== 'Error') err.name = e.name;
  return err;
}

