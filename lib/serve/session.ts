// A streaming session: one client's recurrent state (h, and c for an LSTM) kept between calls,
// advanced by one step or one chunk of steps per call. Created on a Batcher, its steps join that
// batcher's batches (many sessions stepping at once cost about one batched call); created on a
// model, each step is its own forwardAsync.
//
// Steps of one session run in the order they were called (each needs the state the previous one
// left); the state advances only when a step succeeds, so a rejected or aborted step leaves it
// as it was. Results equal model.step / one whole-sequence forward exactly (same backend).
// Unidirectional models only (a reverse direction would need the future).

import { argTypeError } from '../errors';
import { readOptions } from '../nn/options';
import type { RecurrentState, SequentialState } from '../nn/sequential';
import type { NestedNumbers, Tensor } from '../tensor';
import { Batcher, readSignal, type AbortSignalLike } from './batcher';
import type { Engine, Job } from './engine';
import { RequestAbortedError } from './errors';
import { engineOf, type ModelServable, type RecurrentServable, type Servable } from './runner';

/** Where a streaming Session starts. */
export interface SessionOptions {
  /**
   * A recurrent layer's initial hidden state, [L, Hout].
   * @default zeros
   */
  h0?: Tensor | null;
  /**
   * A recurrent layer's initial cell state, [L, H] (LSTM).
   * @default zeros
   */
  c0?: Tensor | null;
  /**
   * A model's initial state: one entry per layer ({ h [L, Hout], c [L, H] } or null).
   * @default zeros for every layer
   */
  state?: SequentialState | null;
}

/** Options of one Session.step. */
export interface StepOptions {
  /**
   * Abort the step: it rejects with RequestAbortedError and the session keeps its state from before it.
   * @default null
   */
  signal?: AbortSignalLike | null;
}

/**
 * One step x [I] (or a number[] or typed array; a token id for a model that starts with an
 * Embedding), or a chunk of steps x [T, I] (or nested arrays; token ids [T]).
 */
export type StepInput = Tensor | number | Float32Array | Float64Array | {
  /** The dimensions, e.g. [T, I]. */
  shape: readonly number[];
  /** The elements, row-major. */
  data: Float32Array | Float64Array;
} | readonly number[] | readonly (readonly number[])[];

type AnyEngine<P> = Engine<any, any, P>;

/** P: the state as `state` returns it ({ h, c? } for a recurrent layer, one entry per layer for a model). */
export class Session<P = RecurrentState> {
  private readonly engine: AnyEngine<P>;
  private readonly batcher: Batcher<any, P> | null;
  private init: unknown = null; // the engine's initial state for the next step (null: zeros)
  private tail: Promise<unknown> = Promise.resolve();

  /** @internal Use createSession(model or batcher) or batcher.session(). */
  constructor(target: Batcher<any, P> | Servable, options?: SessionOptions) {
    const where = 'createSession';
    this.batcher = target instanceof Batcher ? target : null;
    this.engine = this.batcher ? this.batcher.engine : (engineOf(where, target) as unknown as AnyEngine<P>);
    if (!this.engine.streamable) throw argTypeError(where, 'model', 'a model that runs forward in time (not bidirectional or reverse)', target);
    this.init = this.engine.readInit(where, 'options', options);
  }

  /**
   * Advance the state by x: one step -> its output (e.g. [Hout]), or a chunk [T, ...] -> [T, ...].
   * Never throws: a bad input, a full queue or an abort is a rejection, and the state is unchanged.
   */
  step(x: StepInput, options?: StepOptions): Promise<Tensor> {
    const where = 'Session.step';
    let job: Job<unknown>, single: boolean, signal: AbortSignalLike | null;
    try {
      signal = readSignal(where, readOptions(where, 'options', options, ['signal']).signal);
      ({ job, single } = this.engine.readStep(where, x as NestedNumbers, this.batcher ? this.batcher.maxLength : Number.MAX_SAFE_INTEGER));
    } catch (e) {
      return Promise.reject(e);
    }
    const result = this.tail.then(() => this.advance(job, single, signal));
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Copies of the current state (zeros before the first step). Pending steps are not included. */
  get state(): P {
    return this.engine.publicState(this.init);
  }

  /** Replace the state (zeros when omitted) once the steps already called have finished. The state is copied at the call. */
  reset(state?: SessionOptions): Promise<void> {
    try {
      const init = this.engine.readInit('Session.reset', 'state', state);
      const done = this.tail.then(() => { this.init = init; });
      this.tail = done;
      return done;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private async advance(job: Job<unknown>, single: boolean, signal: AbortSignalLike | null): Promise<Tensor> {
    if (signal?.aborted) throw new RequestAbortedError('Session.step', signal.reason);
    job.init = this.init;
    const res = this.batcher ? await this.batcher.submit(job, signal) : (await this.engine.runBatch([job]))[0];
    if (signal?.aborted) throw new RequestAbortedError('Session.step', signal.reason);
    this.init = this.engine.finalState(res);
    return this.engine.stepOutput(res, single);
  }
}

/** A streaming session on a model (one call per step) or on a Batcher (steps batched). */
export function createSession<P>(target: Batcher<any, P>, options?: SessionOptions): Session<P>;
export function createSession(target: ModelServable, options?: SessionOptions): Session<SequentialState>;
export function createSession(target: RecurrentServable, options?: SessionOptions): Session<RecurrentState>;
/** A model of either kind (e.g. what `load` returns): its state of either kind. */
export function createSession(target: Servable, options?: SessionOptions): Session<RecurrentState | SequentialState>;
export function createSession(target: Batcher<any, any> | Servable, options?: SessionOptions): Session<any> {
  return new Session(target, options);
}
