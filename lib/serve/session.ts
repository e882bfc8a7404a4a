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
import { allocate, checkTensorArg, tensor, trustedTensor, type FloatArray, type NestedNumbers, type Tensor } from '../tensor';
import { Batcher, readSignal } from './batcher';
import { RequestAbortedError } from './errors';
import { readJob, readState, runJob, type Job } from './pack';
import { runnerOf, type ForwardRunner, type Servable } from './runner';

export interface SessionOptions {
  h0?: Tensor | null; // [L, Hout] initial state; zeros when omitted
  c0?: Tensor | null; // [L, H] (LSTM)
}

export interface StepOptions {
  signal?: AbortSignal | null;
}

/** One step x [I] (or a number[] or typed array), or a chunk of steps x [T, I] (or nested arrays). */
export type StepInput = Tensor | Float32Array | Float64Array | { shape: readonly number[]; data: Float32Array | Float64Array } | readonly number[] | readonly (readonly number[])[];

export class Session {
  readonly runner: ForwardRunner;
  private readonly batcher: Batcher | null;
  private h: FloatArray | null = null; // [L, P]
  private c: FloatArray | null = null; // [L, H]
  private tail: Promise<unknown> = Promise.resolve();

  /** @internal Use createSession(model or batcher) or batcher.session(). */
  constructor(target: Batcher | Servable, options?: SessionOptions) {
    const where = 'createSession';
    this.batcher = target instanceof Batcher ? target : null;
    this.runner = this.batcher ? this.batcher.runner : runnerOf(where, target);
    if (!this.runner.streamable) throw argTypeError(where, 'model', 'a model that runs forward in time (not bidirectional or reverse)', target);
    this.setState(where, options);
  }

  /**
   * Advance the state by x: one step [I] -> output [Hout], or a chunk [T, I] -> output [T, Hout].
   * Never throws: a bad input, a full queue or an abort is a rejection, and the state is unchanged.
   */
  step(x: StepInput, options?: StepOptions): Promise<Tensor> {
    const where = 'Session.step';
    let job: Job, single: boolean, signal: AbortSignal | null;
    try {
      signal = readSignal(where, readOptions(where, 'options', options, ['signal']).signal);
      ({ job, single } = this.readStep(where, x));
    } catch (e) {
      return Promise.reject(e);
    }
    const result = this.tail.then(() => this.advance(job, single, signal));
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Copies of the current state: h [L, Hout] and, for an LSTM, c [L, H]. Pending steps are not included. */
  get state(): { h: Tensor; c?: Tensor } {
    const r = this.runner, L = r.numLayers;
    const out: { h: Tensor; c?: Tensor } = { h: trustedTensor(this.h ? this.h.slice() : allocate(r.dtype, L * r.outSize), [L, r.outSize]) };
    if (r.hasCellState) out.c = trustedTensor(this.c ? this.c.slice() : allocate(r.dtype, L * r.hiddenSize), [L, r.hiddenSize]);
    return out;
  }

  /** Replace the state (zeros when omitted) once the steps already called have finished. The state is copied at the call. */
  reset(state?: SessionOptions): Promise<void> {
    try {
      const { h, c } = this.readState('Session.reset', 'state', state);
      const done = this.tail.then(() => { this.h = h; this.c = c; });
      this.tail = done;
      return done;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private setState(where: string, options: SessionOptions | undefined): void {
    ({ h: this.h, c: this.c } = this.readState(where, 'options', options));
  }

  /** Private copies of { h0, c0 } (each checked after copying), or nulls for zeros. */
  private readState(where: string, arg: string, options: SessionOptions | undefined): { h: FloatArray | null; c: FloatArray | null } {
    const o = readOptions(where, arg, options, ['h0', 'c0']);
    const r = this.runner, L = r.numLayers;
    const h = readState(where, 'h0', o.h0, [L, r.outSize], 'numLayers, Hout', r.dtype);
    if (!r.hasCellState && o.c0 !== undefined && o.c0 !== null) throw argTypeError(where, 'c0', 'nothing (this model has no cell state)', o.c0);
    const c = r.hasCellState ? readState(where, 'c0', o.c0, [L, r.hiddenSize], 'numLayers, hiddenSize', r.dtype) : null;
    return { h, c };
  }

  private readStep(where: string, x: unknown): { job: Job; single: boolean } {
    const r = this.runner;
    let t = x;
    if (x instanceof Float32Array || x instanceof Float64Array) t = tensor(x, [x.length], r.dtype); // one step
    else if (Array.isArray(x)) {
      try {
        t = tensor(x as NestedNumbers, undefined, r.dtype);
      } catch (e) {
        throw argTypeError(where, 'x', `a Tensor [${r.inputSize}] or [T, ${r.inputSize}], or nested arrays of numbers (${(e as Error).message})`, x);
      }
    }
    const { shape, data } = checkTensorArg(where, 'x', t, r.dtype);
    const single = shape.length === 1;
    // What was read here is what readJob checks and copies: the caller's object is not read twice.
    const x2 = trustedTensor(data, single ? [1, shape[0]] : [...shape]);
    return { job: readJob(where, r, x2, null, null, this.batcher ? this.batcher.maxLength : Number.MAX_SAFE_INTEGER), single };
  }

  private async advance(job: Job, single: boolean, signal: AbortSignal | null): Promise<Tensor> {
    if (signal?.aborted) throw new RequestAbortedError('Session.step', signal.reason);
    job.h0 = this.h;
    job.c0 = this.c;
    const res = this.batcher ? await this.batcher.submit(job, signal) : await runJob(this.runner, job);
    if (signal?.aborted) throw new RequestAbortedError('Session.step', signal.reason);
    this.h = res.hN.data;
    this.c = res.cN ? res.cN.data : null;
    return single ? trustedTensor(res.output.data, [res.output.shape[1]]) : res.output;
  }
}

/** A streaming session on a model (one call per step) or on a Batcher (steps batched). */
export function createSession(target: Batcher | Servable, options?: SessionOptions): Session {
  return new Session(target, options);
}
