// Dynamic batching: many concurrent single-sequence requests become one variable-length batch
// forward, and each caller gets its own rows back. The serving pattern of Triton's dynamic
// batcher and TorchServe's batch aggregation, for a recurrent model in one Node.js process.
//
// Policy (FIFO, never reordered): a batch leaves the queue when it is full (maxBatch requests),
// when its oldest request has waited maxDelayMs, or at once when the batcher is closing; at most
// `concurrency` batches compute at a time, and requests that arrive meanwhile wait for the next
// one. So a request's latency is its wait (at most maxDelayMs while the model is idle, the rest
// of the running batch otherwise) plus its own batch's compute.
//
// Guarantees. Results equal one forward per request exactly (same backend): the kernels compute
// each batch row with the same operations whatever the batch holds (test/serve.test.mjs checks
// it on every backend and ISA tier). Memory is bounded: at most maxQueue requests wait (more are
// refused with QueueFullError) and at most concurrency * maxBatch compute. A bad input rejects
// its own request at run(), before it can join a batch. Should a batch fail anyway, anywhere
// (packing it over the element limit, the call, cutting a result out), every request it has not
// answered yet runs alone, so each gets exactly the result or error it would get alone. Every
// request settles exactly once (settle() is the only way out, and dispatch's finally answers any
// request still pending), and close() resolves only when every request has settled. An
// AbortSignal removes a waiting request from the queue, or drops a running request's result;
// either way it rejects at once with RequestAbortedError.
//
// Not done here: priorities, per-request deadlines beyond AbortSignal, and grouping requests by
// length (the native kernels do no work past any sequence's length, input projection included;
// the ts backend still multiplies padded rows of the recurrent product, so mixed lengths cost
// it more).

import { argRangeError, argTypeError, describe } from '../errors';
import { positiveInt, readOptions } from '../nn/options';
import type { RecurrentState, SequentialState } from '../nn/sequential';
import type { Tensor } from '../tensor';
import type { Engine, Job } from './engine';
import { QueueFullError, RequestAbortedError, ServeClosedError } from './errors';
import type { ModelResult } from './model-engine';
import type { SequenceInput, SequenceResult } from './pack';
import { engineOf, type ModelServable, type RecurrentServable, type Servable } from './runner';
import { Session, type SessionOptions } from './session';

type AnyEngine<R, P> = Engine<R, any, P>;

/** How a Batcher groups requests (createBatcher). */
export interface BatcherOptions {
  /**
   * Most requests (sequences) in one batch.
   * @default 32
   */
  maxBatch?: number;
  /**
   * How long the oldest waiting request may wait for company, in ms; 0 batches only what arrives
   * in the same tick.
   * @default 2
   */
  maxDelayMs?: number;
  /**
   * Waiting requests before run() refuses with QueueFullError.
   * @default 1024
   */
  maxQueue?: number;
  /**
   * Longest sequence accepted (T); a longer one is a RangeError.
   * @default Number.MAX_SAFE_INTEGER (no limit)
   */
  maxLength?: number;
  /**
   * Batches computing at once.
   * @default 1 (for a TsWorkerPool: its size)
   */
  concurrency?: number;
}

/**
 * The part of an `AbortSignal` the batcher and sessions use, written out so the published types
 * need neither the DOM library nor `@types/node`. At run time `signal` must be a real AbortSignal
 * (`AbortController#signal`, `AbortSignal.timeout(ms)`); anything else is a TypeError.
 */
export interface AbortSignalLike {
  /** True once the signal has fired. */
  readonly aborted: boolean;
  /** Why it fired: the request rejects with a RequestAbortedError whose `cause` is this. */
  readonly reason: unknown;
  /** Registers `listener` for the 'abort' event. */
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  /** Removes a listener added with addEventListener. */
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** Options of one Batcher.run request. */
export interface RunOptions {
  /**
   * A recurrent layer's initial hidden state of this sequence, [L*D, Hout].
   * @default zeros
   */
  h0?: Tensor | null;
  /**
   * A recurrent layer's initial cell state of this sequence, [L*D, H] (LSTM).
   * @default zeros
   */
  c0?: Tensor | null;
  /**
   * A model's initial state: one entry per layer, as a result's `state`.
   * @default zeros for every layer
   */
  state?: SequentialState | null;
  /**
   * Abort the request: it rejects at once with RequestAbortedError (and leaves the queue if its
   * batch has not started).
   * @default null
   */
  signal?: AbortSignalLike | null;
}

/** Counters of a Batcher (stats()). */
export interface BatcherStats {
  /** requests waiting */
  queued: number;
  /** batches computing */
  running: number;
  /** batches computed since creation (or resetStats) */
  batches: number;
  /** requests those batches held */
  requests: number;
  /** The largest batch computed (requests). */
  maxBatchSize: number;
  /** Mean compute time of one batch in ms, from leaving the queue to its results. */
  meanBatchMs: number;
  /** The longest batch compute time in ms. */
  maxBatchMs: number;
}

interface Pending<R> {
  job: Job<unknown>;
  enqueuedAt: number; // performance.now() ms
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
  settled: boolean; // set by settle() alone, as it answers the caller
  running: boolean;
  signal: AbortSignalLike | null;
  onAbort: (() => void) | null;
}

/** How a request ends: its result, or the error it rejects with. */
type Outcome<R> = { value: R } | { error: unknown };

const OPTION_KEYS = ['maxBatch', 'maxDelayMs', 'maxQueue', 'maxLength', 'concurrency'] as const;
/**
 * R: a request's result ({ output, hN, cN } for a recurrent layer, { output, state } for a model);
 * P: a session's state as its `state` getter returns it.
 */
export class Batcher<R = SequenceResult, P = RecurrentState> {
  /** @internal */ readonly engine: AnyEngine<R, P>;
  /** Most requests per batch (BatcherOptions.maxBatch, resolved). */
  readonly maxBatch: number;
  /** How long a request may wait for company, ms. */
  readonly maxDelayMs: number;
  /** Waiting requests before run() refuses. */
  readonly maxQueue: number;
  /** Longest sequence accepted. */
  readonly maxLength: number;
  /** Batches computing at once. */
  readonly concurrency: number;
  private readonly queue: Pending<R>[] = [];
  private running = 0;
  private unsettled = 0; // requests accepted and not yet answered
  private closing = false;
  private wake: { due: number; cancel: () => void } | null = null;
  private idleWaiters: (() => void)[] = [];
  private counters = { batches: 0, requests: 0, maxBatchSize: 0, totalMs: 0, maxMs: 0 };

  constructor(model: Servable, options?: BatcherOptions) {
    const where = 'createBatcher';
    this.engine = engineOf(where, model) as unknown as AnyEngine<R, P>;
    const o = readOptions(where, 'options', options, OPTION_KEYS);
    this.maxBatch = o.maxBatch === undefined ? 32 : positiveInt(where, 'maxBatch', o.maxBatch);
    this.maxDelayMs = o.maxDelayMs === undefined ? 2 : nonNegative(where, 'maxDelayMs', o.maxDelayMs);
    this.maxQueue = o.maxQueue === undefined ? 1024 : positiveInt(where, 'maxQueue', o.maxQueue);
    this.maxLength = o.maxLength === undefined ? Number.MAX_SAFE_INTEGER : positiveInt(where, 'maxLength', o.maxLength);
    this.concurrency = o.concurrency !== undefined ? positiveInt(where, 'concurrency', o.concurrency) : this.engine.defaultConcurrency;
  }

  /**
   * Run one sequence in the next batch. A recurrent layer takes x [T, I] (a Tensor or nested
   * arrays) and resolves to { output [T, D*Hout], hN [L*D, Hout], cN [L*D, H] }; a model takes
   * x [T, I], or token ids [T] when it starts with an Embedding, and resolves to { output [T, ...F]
   * (or [...F] after a LastStep), state (one entry per layer) }. Never throws: every failure is a
   * rejection (TypeError / RangeError for a bad input, QueueFullError, RequestAbortedError,
   * ServeClosedError). The input is copied at the call.
   */
  run(x: SequenceInput | readonly number[] | ArrayLike<number>, options?: RunOptions): Promise<R> {
    const where = 'Batcher.run';
    try {
      if (this.closing) throw new ServeClosedError(where);
      const o = readOptions(where, 'options', options, [...this.engine.stateKeys, 'signal']);
      const signal = readSignal(where, o.signal);
      if (signal?.aborted) throw new RequestAbortedError(where, signal.reason);
      return this.submit(this.engine.readJob(where, x, o, this.maxLength), signal);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** @internal A validated job (sessions build their own): queue it, or refuse it. */
  submit(job: Job<unknown>, signal: AbortSignalLike | null): Promise<R> {
    const where = 'Batcher.run';
    if (this.closing) return Promise.reject(new ServeClosedError(where));
    if (signal?.aborted) return Promise.reject(new RequestAbortedError(where, signal.reason));
    if (this.queue.length >= this.maxQueue) return Promise.reject(new QueueFullError(where, this.maxQueue));
    return this.enqueue(job, signal);
  }

  /** A streaming session whose steps are batched with every other request of this batcher. */
  session(options?: SessionOptions): Session<P> {
    return new Session<P>(this, options);
  }

  /** A snapshot of the queue and the counters since creation or resetStats(). */
  stats(): BatcherStats {
    const c = this.counters;
    return {
      queued: this.queue.length, running: this.running, batches: c.batches, requests: c.requests,
      maxBatchSize: c.maxBatchSize, meanBatchMs: c.batches ? c.totalMs / c.batches : 0, maxBatchMs: c.maxMs,
    };
  }

  /** Zero the batch counters (batches, requests, maxBatchSize, times). */
  resetStats(): void {
    this.counters = { batches: 0, requests: 0, maxBatchSize: 0, totalMs: 0, maxMs: 0 };
  }

  /** Refuse new requests, run every waiting one without further delay; resolves when every request has settled. */
  close(): Promise<void> {
    this.closing = true;
    this.pump();
    return this.whenIdle();
  }

  /** True once close() was called: run() refuses with ServeClosedError. */
  get closed(): boolean {
    return this.closing;
  }

  private get idle(): boolean {
    return this.unsettled === 0 && this.running === 0; // waiting requests are unsettled too
  }

  private whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private enqueue(job: Job<unknown>, signal: AbortSignalLike | null): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const p: Pending<R> = { job, enqueuedAt: performance.now(), resolve, reject, settled: false, running: false, signal, onAbort: null };
      if (signal) {
        p.onAbort = () => this.abort(p);
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
      this.queue.push(p);
      this.unsettled++;
      this.wakeAt(this.queue.length >= this.maxBatch ? p.enqueuedAt : this.queue[0].enqueuedAt + this.maxDelayMs);
    });
  }

  private abort(p: Pending<R>): void {
    if (p.settled) return;
    if (!p.running) {
      const i = this.queue.indexOf(p);
      if (i >= 0) this.queue.splice(i, 1);
    }
    this.settle(p, { error: new RequestAbortedError('Batcher.run', p.signal!.reason) });
  }

  /** The one way a request ends: answered once with an outcome already computed (nothing here can throw). */
  private settle(p: Pending<R>, outcome: Outcome<R>): void {
    if (p.settled) return;
    p.settled = true;
    this.unsettled--;
    if (p.signal && p.onAbort) p.signal.removeEventListener('abort', p.onAbort);
    p.onAbort = null;
    if ('value' in outcome) p.resolve(outcome.value);
    else p.reject(outcome.error);
    this.notifyIdle();
  }

  /** Arm one wake-up (the earliest wanted); dispatch decisions are always made in pump(). */
  private wakeAt(due: number): void {
    if (this.wake && this.wake.due <= due) return;
    this.wake?.cancel();
    const ms = due - performance.now();
    if (ms <= 0) {
      // Same tick: let every request already read from the sockets join before dispatching.
      const h = setImmediate(() => this.pump());
      this.wake = { due, cancel: () => clearImmediate(h) };
    } else {
      const h = setTimeout(() => this.pump(), ms);
      this.wake = { due, cancel: () => clearTimeout(h) };
    }
  }

  private pump(): void {
    this.wake?.cancel();
    this.wake = null;
    while (this.running < this.concurrency && this.queue.length > 0) {
      const waited = performance.now() - this.queue[0].enqueuedAt;
      if (!this.closing && this.queue.length < this.maxBatch && waited < this.maxDelayMs) {
        this.wakeAt(this.queue[0].enqueuedAt + this.maxDelayMs);
        return;
      }
      void this.dispatch(this.queue.splice(0, this.maxBatch));
    }
  }

  private async dispatch(batch: Pending<R>[]): Promise<void> {
    this.running++;
    const t0 = performance.now();
    for (const p of batch) p.running = true;
    let failure: unknown = null;
    try {
      const results = await this.engine.runBatch(batch.map((p) => p.job));
      this.record(batch.length, performance.now() - t0);
      batch.forEach((p, b) => {
        if (!p.settled) this.settle(p, { value: results[b] });
      });
    } catch (e) {
      failure = e;
      await this.isolate(batch, e);
    } finally {
      // Whatever threw above, no request of this batch stays pending.
      for (const p of batch) this.settle(p, { error: failure });
      this.running--;
      this.pump();
      this.notifyIdle();
    }
  }

  /**
   * The batch failed (packing it, the call, or cutting a result out): every request it has not
   * answered runs alone, so each gets exactly what it would get alone. A batch of one has already
   * had its own outcome.
   */
  private async isolate(batch: Pending<R>[], error: unknown): Promise<void> {
    if (batch.length === 1) {
      this.settle(batch[0], { error });
      return;
    }
    await Promise.all(batch.filter((p) => !p.settled).map((p) => this.engine.runBatch([p.job]).then(
      ([value]) => this.settle(p, { value }),
      (e: unknown) => this.settle(p, { error: e }),
    )));
  }

  private record(size: number, ms: number): void {
    const c = this.counters;
    c.batches++;
    c.requests += size;
    c.totalMs += ms;
    if (size > c.maxBatchSize) c.maxBatchSize = size;
    if (ms > c.maxMs) c.maxMs = ms;
  }

  private notifyIdle(): void {
    if (!this.idle || !this.idleWaiters.length) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
}

/** A dynamic batcher around a model (or a TsWorkerPool); see Batcher. */
export function createBatcher(model: ModelServable, options?: BatcherOptions): Batcher<ModelResult, SequentialState>;
export function createBatcher(model: RecurrentServable, options?: BatcherOptions): Batcher<SequenceResult, RecurrentState>;
/** A model of either kind (e.g. what `load` returns): results of either kind, narrowed by `'state' in r`. */
export function createBatcher(model: Servable, options?: BatcherOptions): Batcher<SequenceResult | ModelResult, RecurrentState | SequentialState>;
export function createBatcher(model: Servable, options?: BatcherOptions): Batcher<any, any> {
  return new Batcher(model, options);
}

function nonNegative(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw argTypeError(where, name, 'a non-negative number of milliseconds', v);
  if (!(v >= 0) || v === Infinity) throw argRangeError(where, name, 'a non-negative finite number of milliseconds', describe(v));
  return v;
}

export function readSignal(where: string, v: unknown): AbortSignalLike | null {
  if (v === undefined || v === null) return null;
  if (!(v instanceof AbortSignal)) throw argTypeError(where, 'options.signal', 'an AbortSignal', v);
  return v;
}
