// Trainer: fit / evaluate / predict for a Sequential over variable-length sequences, with seeded
// shuffling, padding or bucketing, truncated BPTT, gradient clipping, learning-rate schedules,
// early stopping, a non-finite policy, progress output and checkpoints that resume exactly.
//
// One optimizer step, in order: forwardTrain -> loss (non-finite? policy) -> backward -> clip ->
// gradients finite? (policy) -> lr from the schedule -> optimizer.step (one fused update; weights
// committed once) -> weights finite? (else restored and an error). With `tbptt: k` a batch is cut
// into chunks of k steps and every chunk is one such step; each chunk starts from the state the
// previous chunk ended in, as plain values (detached: no gradient crosses a chunk boundary).
// `stateful: true` also carries the state from one batch to the next (reset at each epoch and
// whenever the batch size changes). Batches are built time-major; a batch-first model (one whose
// layers say batchFirst) gets them as [B, T, ...] and its per-step outputs are read back the same
// way, so losses, targets and chunks stay in one layout.
//
// Exact resume: the only randomness is the trainer's own generator (shuffling), whose state goes
// into checkpoints with the epoch and step; schedules are functions of the step. So a run saved
// after epoch k and resumed computes exactly what the uninterrupted run does on the same backend.

import { quantizedTrainingError } from '../nn/quantize';
import { fileCall } from '../io/file-call';
import { argRangeError, argTypeError, describe, errorCode, formatShape, shapeError, type CodedRangeError } from '../errors';
import { isRecurrent, releaseCache, type Layer } from '../nn/layer';
import { optionalBool, readOptions } from '../nn/options';
import type { SequentialState } from '../nn/sequential';
import { freshSeed, Rng } from '../rng';
import { stderrStream, yieldToEventLoop } from '../host';
import { Tensor, type DType } from '../tensor';
import { checkSamples, makeBatch, makeTargets, planBatches, type Batch, type Sample, type Step, type Targets } from './batch';
import { loadCheckpoint, saveCheckpoint } from './checkpoint';
import { clipGradNorm, clipGradValue, gradNorm } from './clip';
import { MetricTotals, readMetrics, type Metric, type ResolvedMetric } from './metrics';
import { bceWithLogits, crossEntropy, huberLoss, l1Loss, mseLoss, type LossResult } from './losses';
import type { Optimizer } from './optim';
import { Progress, type EpochLog, type ProgressMode, type ProgressStream } from './progress';
import type { Schedule } from './schedule';

/** The model fit() trains: a Sequential (or anything with its forward/backward shapes). */
export interface TrainableModel {
  /** Element type of its parameters and outputs. */
  readonly dtype: DType;
  /** Its layers, when it has them (the Trainer reads the input layout from the first). */
  readonly layers?: readonly Layer[];
  /** Inference forward of x; returns the output and the state each layer ended in. */
  forward(x: Tensor, options?: { lengths?: ArrayLike<number> | null; state?: SequentialState | null }): {
    /** The model's output. */
    output: Tensor;
    /** Each layer's final state. */
    state: SequentialState;
  };
  /** Training forward: as forward, plus the cache backward needs. */
  forwardTrain(x: Tensor, options?: { lengths?: ArrayLike<number> | null; state?: SequentialState | null }): {
    /** The model's output. */
    output: Tensor;
    /** Each layer's final state. */
    state: SequentialState;
    /** What backward needs. */
    cache: unknown;
  };
  /** Gradients of the loss with respect to the input and to every parameter (by name). */
  backward(cache: never, gradOutputs: { dOutput: Tensor }): {
    /** ∂loss/∂x. */
    dX: Tensor;
    /** ∂loss/∂parameter by name. */
    grads: Record<string, Tensor>;
  };
  /** Every trainable parameter by name (what the optimizer updates). */
  namedParameters(): [string, Tensor][];
  /** Called after each optimizer update. */
  commitParameters(): unknown;
  /** Copies of the parameters by name (checkpoints, early stopping's best weights). */
  stateDict(): Record<string, Tensor>;
  /** Loads parameters saved by stateDict. */
  loadStateDict(weights: Record<string, Tensor>): unknown;
}

/** The built-in losses, by name: mseLoss, l1Loss, huberLoss, crossEntropy, bceWithLogits. */
export type LossName = 'mse' | 'l1' | 'huber' | 'crossEntropy' | 'bceWithLogits';
/** A custom loss: the model output and the batch's targets -> loss, gradient, term count. */
export type LossFn = (output: Tensor, targets: Targets) => LossResult;

/** What a Trainer trains and how. */
export interface TrainerOptions {
  /** The model (a Sequential, or anything shaped like TrainableModel). */
  model: TrainableModel;
  /** An optimizer bound to the same model. */
  optimizer: Optimizer;
  /** A built-in loss by name, or your own function. */
  loss: LossName | LossFn;
  /**
   * With a custom LossFn: true lays the targets out as class ids (Targets.classes, as
   * crossEntropy), false as values (Targets.values).
   * @default false
   */
  classTargets?: boolean;
  /**
   * Learning-rate schedule, applied per optimizer step from the optimizer's base lr; null keeps lr.
   * @default null
   */
  schedule?: Schedule | null;
  /**
   * Scale the gradients so their global L2 norm is at most this (clipGradNorm); null for none.
   * @default null
   */
  clipNorm?: number | null;
  /**
   * Clamp every gradient element to [-clipValue, clipValue] (clipGradValue); null for none.
   * @default null
   */
  clipValue?: number | null;
  /**
   * A NaN or infinite loss, gradient or update: 'throw' a NonFiniteError naming the step, or
   * 'skip' that step and go on (counted in EpochLog.skipped).
   * @default 'throw'
   */
  nonFinite?: 'throw' | 'skip';
  /**
   * Seed of the shuffling.
   * @default undefined (a fresh seed)
   */
  seed?: number;
}

/** Hooks fit() calls; both optional. */
export interface Callback {
  /** After each training batch. */
  onBatchEnd?(info: { epoch: number; batch: number; loss: number; step: number }, trainer: Trainer): void;
  /** After each epoch, with its log (call trainer.stop() to end fit after it). */
  onEpochEnd?(log: EpochLog, trainer: Trainer): void;
}

/** Stop fit() when the monitored loss stops improving. */
export interface EarlyStopping {
  /**
   * The loss watched.
   * @default 'valLoss' with validation data, else 'loss'
   */
  monitor?: 'valLoss' | 'loss';
  /**
   * Epochs without improvement before stopping.
   * @default 3
   */
  patience?: number;
  /**
   * An improvement smaller than this does not count.
   * @default 0
   */
  minDelta?: number;
  /**
   * Load the best epoch's weights at the end.
   * @default true
   */
  restoreBest?: boolean;
}

/** Options of Trainer.fit. */
export interface FitOptions {
  /** Passes over the data. */
  epochs: number;
  /**
   * Sequences per batch (the last batch may be smaller).
   * @default 32
   */
  batchSize?: number;
  /**
   * Shuffle the sequences every epoch (seeded by TrainerOptions.seed).
   * @default true
   */
  shuffle?: boolean;
  /**
   * Batch sequences of similar lengths together (less padding).
   * @default false
   */
  bucketing?: boolean;
  /**
   * Data to evaluate after each epoch (EpochLog.valLoss, valMetrics); null for none.
   * @default null
   */
  validation?: Sample[] | TensorData | null;
  /**
   * Reported per epoch for the training batches (EpochLog.metrics) and the validation data (valMetrics).
   * @default [] (none)
   */
  metrics?: Metric[];
  /**
   * Hooks called per batch and per epoch.
   * @default []
   */
  callbacks?: Callback[];
  /**
   * Stop when the monitored loss stops improving; null to run every epoch.
   * @default null
   */
  earlyStopping?: EarlyStopping | null;
  /**
   * Truncated BPTT: cut each batch into chunks of this many steps, one optimizer step per chunk,
   * the state carried (detached) from chunk to chunk; null for whole sequences.
   * @default null
   */
  tbptt?: number | null;
  /**
   * Carry the recurrent state from one batch to the next (same batch size).
   * @default false
   */
  stateful?: boolean;
  /**
   * 'bar' (a redrawn line), 'json' (one EpochLog per line), 'none', or 'auto': a bar on a TTY,
   * JSON lines otherwise.
   * @default 'auto'
   */
  progress?: ProgressMode;
  /**
   * Where progress goes.
   * @default process.stderr
   */
  progressStream?: ProgressStream;
}

/**
 * Data as tensors, one row per sequence whatever the model's layout (as Sample[] lists them): x
 * [N, T] token ids or [N, T, F] features; y (fit, evaluate) per sequence [N] / [N, C], or per step
 * [N, T] / [N, T, C] (a Tensor, or an array of N targets as in Sample.y); lengths: each row's valid
 * steps (default T; per-step targets past them are ignored).
 */
export interface TensorData {
  /** Inputs, [N, T] token ids or [N, T, F] features. */
  x: Tensor;
  /** Targets: per sequence [N] / [N, C], or per step [N, T] / [N, T, C]; not needed by predict. */
  y?: Tensor | readonly (Step | ArrayLike<Step>)[] | null;
  /** Each row's valid steps, [N] (default T). */
  lengths?: ArrayLike<number> | null;
}

/** Options of Trainer.evaluate. */
export interface EvaluateOptions {
  /**
   * Sequences per batch.
   * @default 32
   */
  batchSize?: number;
  /**
   * Metrics to compute besides the loss.
   * @default [] (none)
   */
  metrics?: Metric[];
}

/** What Trainer.evaluate returns. */
export interface EvaluateResult {
  /** mean loss over every counted term */
  loss: number;
  /** counted terms */
  count: number;
  /** one entry per requested metric (empty without metrics) */
  metrics: Record<string, number>;
}

/** Options of Trainer.predict. */
export interface TrainerPredictOptions {
  /**
   * Sequences per batch.
   * @default 32
   */
  batchSize?: number;
  /**
   * Assert the model's output kind: true per step (length × C per sample), false per sequence (C).
   * @default undefined (either; the result type is the union)
   */
  perStep?: boolean;
}

/** One batch for Trainer.step, time-major (the layout fit() builds). */
export interface StepBatch {
  /** [T, B] token ids or [T, B, F] features */
  x: Tensor;
  /** classes (crossEntropy, -100 = not counted) or values (other losses), rows as the output's; mask: 0/1 per row. */
  targets: {
    /** Class ids, one per output row (crossEntropy; -100 = not counted). */
    classes?: Int32Array | null;
    /** Target values, the output's shape (other losses). */
    values?: Tensor | null;
    /** 0/1 per output row: 0 leaves the row out of the loss. */
    mask?: Uint8Array | null;
  };
  /** each entry's valid steps (default T) */
  lengths?: Int32Array | null;
  /** the state to start from (e.g. where the previous chunk ended) */
  state?: SequentialState | null;
}

/** What one training step did. */
export interface StepResult {
  /** mean over `count` terms */
  loss: number;
  /** terms counted (0: a fully masked batch, nothing learned) */
  count: number;
  /** the global gradient norm before clipping (null: no backward pass) */
  gradNorm: number | null;
  /** the model's output this step trained on (before the update), time-major */
  output: Tensor;
  /** the state the batch ended in, detached (null after a skipped step) */
  state: SequentialState | null;
  /** the optimizer took the step */
  updated: boolean;
  /** dropped by nonFinite: 'skip' */
  skipped: 'loss' | 'gradient' | null;
}

/** Training stopped because a loss, gradient or update was NaN or infinite (epoch and batch are 0 outside fit()). */
export class NonFiniteError extends Error {
  /**
   * @param message What went non-finite, where.
   * @param what Which quantity: the loss, a gradient, or the updated weights.
   * @param epoch The 1-based epoch (0 outside fit()).
   * @param batch The 1-based batch within the epoch (0 outside fit()).
   * @param step The optimizer step it happened at.
   */
  constructor(message: string, readonly what: 'loss' | 'gradient' | 'weights', readonly epoch: number, readonly batch: number, readonly step: number) {
    super(message);
    this.name = 'NonFiniteError';
  }
}

const LOSSES: Record<LossName, (y: Tensor, t: Targets) => LossResult> = {
  mse: (y, t) => mseLoss(y, t.values!, { mask: t.mask }),
  l1: (y, t) => l1Loss(y, t.values!, { mask: t.mask }),
  huber: (y, t) => huberLoss(y, t.values!, { mask: t.mask }),
  crossEntropy: (y, t) => crossEntropy(y, t.classes!, { mask: t.mask }),
  bceWithLogits: (y, t) => bceWithLogits(y, t.values!, { mask: t.mask }),
};

const TRAINER_KEYS = ['model', 'optimizer', 'loss', 'classTargets', 'schedule', 'clipNorm', 'clipValue', 'nonFinite', 'seed'] as const;
const FIT_KEYS = ['epochs', 'batchSize', 'shuffle', 'bucketing', 'validation', 'metrics', 'callbacks', 'earlyStopping', 'tbptt', 'stateful', 'progress', 'progressStream'] as const;

function posInt(where: string, name: string, v: unknown, dflt?: number): number {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number') throw argTypeError(where, name, 'a positive integer', v);
  if (!Number.isSafeInteger(v) || v < 1) throw argRangeError(where, name, 'a positive integer', describe(v));
  return v;
}

/**
 * Trains a model with an optimizer and a loss: fit (epochs over data, with validation, metrics,
 * early stopping, truncated BPTT and progress), evaluate, predict, step (your own loop), and
 * checkpoints that resume exactly.
 */
export class Trainer {
  /** The model trained. */
  readonly model: TrainableModel;
  /** Its optimizer. */
  readonly optimizer: Optimizer;
  /** The learning-rate schedule, or null. */
  readonly schedule: Schedule | null;
  /** Epochs completed (continues across fit() calls and checkpoint resumes). */
  epoch = 0;
  private readonly lossFn: (y: Tensor, t: Targets, where: string) => LossResult;
  private readonly classes: boolean;
  private readonly batchFirst: boolean; // the model takes [B, T, ...]
  private readonly clipNorm: number | null;
  private readonly clipValue: number | null;
  private readonly nonFinite: 'throw' | 'skip';
  private rng: Rng;
  private stopRequested = false;

  constructor(options: TrainerOptions) {
    const where = 'Trainer';
    const o = readOptions(where, 'options', options, TRAINER_KEYS);
    const m = o.model as TrainableModel;
    let layers: unknown[] = [];
    let isModel: boolean;
    try {
      isModel = !!m && typeof m.forwardTrain === 'function' && typeof m.backward === 'function' && typeof m.namedParameters === 'function';
      if (isModel) layers = [...(m.layers ?? [])];
    } catch (e) {
      throw argTypeError(where, 'model', `a Sequential (reading it threw: ${(e as Error)?.message ?? e})`, undefined);
    }
    if (!isModel) throw argTypeError(where, 'model', 'a Sequential', m);
    const precision = (m as { precision?: unknown }).precision;
    if (precision === 'bf16' || precision === 'int8') throw quantizedTrainingError(where, precision, 'a Trainer trains');
    // The model's layout: Sequential checks that its layers agree; any other model is taken at its
    // first layout-aware layer's word.
    const bf = layers.map((l) => (l as { batchFirst?: unknown }).batchFirst).find((v) => typeof v === 'boolean');
    this.batchFirst = bf === true;
    this.model = m;
    const opt = o.optimizer as Optimizer;
    let isOptimizer = false;
    try {
      isOptimizer = !!opt && typeof opt.step === 'function' && typeof opt.stateDict === 'function';
    } catch { /* a throwing getter: not an optimizer */ }
    if (!isOptimizer) throw argTypeError(where, 'optimizer', 'an Optimizer (SGD, Adam, AdamW, RMSprop)', opt);
    this.optimizer = opt;
    if (typeof o.loss === 'function') {
      const fn = o.loss as LossFn;
      this.lossFn = (y, t, where) => checkLossResult(where, fn(y, t), y.shape);
      this.classes = optionalBool(where, 'classTargets', o.classTargets, false);
    } else if (typeof o.loss === 'string' && Object.prototype.hasOwnProperty.call(LOSSES, o.loss)) {
      this.lossFn = LOSSES[o.loss as LossName];
      this.classes = o.loss === 'crossEntropy';
    } else {
      throw argTypeError(where, 'loss', `one of ${Object.keys(LOSSES).map((k) => `'${k}'`).join(', ')} or a loss function`, o.loss);
    }
    this.schedule = (o.schedule ?? null) as Schedule | null;
    if (this.schedule !== null && typeof this.schedule.lrAt !== 'function') throw argTypeError(where, 'schedule', 'a schedule (stepLR, cosineLR, …)', o.schedule);
    const pos = (name: string, v: unknown): number | null => {
      if (v === undefined || v === null) return null;
      if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw argRangeError(where, name, 'a positive number or null', describe(v));
      return v;
    };
    this.clipNorm = pos('clipNorm', o.clipNorm);
    this.clipValue = pos('clipValue', o.clipValue);
    if (o.nonFinite !== undefined && o.nonFinite !== 'throw' && o.nonFinite !== 'skip') throw argTypeError(where, 'nonFinite', "'throw' or 'skip'", o.nonFinite);
    this.nonFinite = (o.nonFinite ?? 'throw') as 'throw' | 'skip';
    if (o.seed !== undefined && (typeof o.seed !== 'number' || !Number.isSafeInteger(o.seed))) throw argTypeError(where, 'seed', 'an integer seed', o.seed);
    this.rng = new Rng((o.seed as number | undefined) ?? freshSeed());
  }

  /** Ask fit() to stop after the current epoch (e.g. from a callback). */
  stop(): void {
    this.stopRequested = true;
  }

  /** Train for options.epochs over data (samples or tensors); resolves to one EpochLog per epoch run. */
  async fit(data: Sample[] | TensorData, options: FitOptions): Promise<EpochLog[]> {
    const where = 'Trainer.fit';
    const o = readOptions(where, 'options', options, FIT_KEYS);
    const epochs = posInt(where, 'epochs', o.epochs);
    const batchSize = posInt(where, 'batchSize', o.batchSize, 32);
    const shuffle = optionalBool(where, 'shuffle', o.shuffle, true);
    const bucketing = optionalBool(where, 'bucketing', o.bucketing, false);
    const stateful = optionalBool(where, 'stateful', o.stateful, false);
    const tbptt = o.tbptt === undefined || o.tbptt === null ? null : posInt(where, 'tbptt', o.tbptt);
    const { samples, features } = checkSamples(where, 'data', asSamples(where, 'data', data, true), true);
    const validation = o.validation ? checkSamples(where, 'validation', asSamples(where, 'validation', o.validation, true), true) : null;
    const metrics = readMetrics(where, o.metrics, this.classes);
    const callbacks = readCallbacks(where, o.callbacks);
    const es = o.earlyStopping ? readOptions(where, 'earlyStopping', o.earlyStopping, ['monitor', 'patience', 'minDelta', 'restoreBest']) : null;
    const monitor = (es?.monitor ?? (validation ? 'valLoss' : 'loss')) as 'valLoss' | 'loss';
    if (es && monitor !== 'loss' && monitor !== 'valLoss') throw argTypeError(where, 'earlyStopping.monitor', "'loss' or 'valLoss'", es.monitor);
    if (monitor === 'valLoss' && es && !validation) throw argTypeError(where, 'earlyStopping.monitor', "'loss' (no validation data given)", 'valLoss');
    const patience = es ? posInt(where, 'earlyStopping.patience', es.patience, 3) : 0;
    const minDelta = es?.minDelta ?? 0;
    if (typeof minDelta !== 'number' || !(minDelta >= 0) || !Number.isFinite(minDelta)) throw argRangeError(where, 'earlyStopping.minDelta', 'a finite number >= 0', describe(minDelta));
    const restoreBest = es ? optionalBool(where, 'earlyStopping.restoreBest', es.restoreBest, true) : false;
    const mode = (o.progress ?? 'auto') as ProgressMode;
    if (!['auto', 'bar', 'json', 'none'].includes(mode)) throw argTypeError(where, 'progress', "'auto', 'bar', 'json' or 'none'", mode);
    // A browser has no stderr: there 'auto' (and 'none') write nowhere unless progressStream is given.
    const hostStream = stderrStream() as ProgressStream | undefined;
    const silent = o.progressStream === undefined && hostStream === undefined && (mode === 'auto' || mode === 'none');
    const stream = o.progressStream ?? hostStream ?? (silent ? { write: () => true, isTTY: false } : undefined);
    let writable = false;
    try {
      writable = typeof (stream as ProgressStream).write === 'function';
    } catch { /* a throwing getter: not a stream */ }
    if (!writable) throw argTypeError(where, 'progressStream', 'a writable stream (an object with a write method)', stream);
    const progress = new Progress(silent ? 'none' : mode, stream as ProgressStream);

    const history: EpochLog[] = [];
    let best = Infinity, wait = 0, bestWeights: Record<string, Tensor> | null = null;
    this.stopRequested = false;
    const lastEpoch = this.epoch + epochs;
    for (let e = 0; e < epochs && !this.stopRequested; e++) {
      const epochNo = this.epoch + 1;
      progress.epochStart(epochNo, lastEpoch);
      const t0 = performance.now();
      const batches = planBatches(samples, batchSize, shuffle, bucketing, this.rng);
      let sum = 0, count = 0, seqs = 0, tokens = 0, steps = 0, skipped = 0;
      let carry: SequentialState | null = null;
      const totals = new MetricTotals(metrics);
      for (let bi = 0; bi < batches.length; bi++) {
        const batch = makeBatch(samples, batches[bi], features, this.model.dtype);
        if (!stateful || !carry || carry.every((s) => s === null) || batchSizeOf(carry) !== batch.indices.length) carry = null;
        const r = this.trainBatch(samples, batch, tbptt, carry, epochNo, bi + 1, totals);
        carry = stateful ? r.state : null;
        sum += r.sum; count += r.count; steps += r.steps; skipped += r.skipped;
        seqs += batch.indices.length; tokens += batch.tokens;
        progress.batch(bi + 1, batches.length, count ? sum / count : 0, seqs, tokens);
        for (const c of callbacks) c.onBatchEnd?.call(c.self, { epoch: epochNo, batch: bi + 1, loss: r.count ? r.sum / r.count : 0, step: this.optimizer.stepCount }, this);
        await yieldToEventLoop(); // let the event loop breathe between batches
      }
      this.epoch = epochNo;
      const seconds = (performance.now() - t0) / 1000;
      const log: EpochLog = { epoch: epochNo, loss: count ? sum / count : 0, steps, skipped, lr: this.optimizer.lr, seconds,
        seqPerSec: seqs / Math.max(seconds, 1e-3), tokPerSec: tokens / Math.max(seconds, 1e-3) };
      if (metrics.length) log.metrics = totals.result();
      if (validation) {
        const v = this.evaluateSamples('Trainer.fit', validation.samples, validation.features, batchSize, metrics);
        log.valLoss = v.loss;
        if (metrics.length) log.valMetrics = v.metrics;
      }
      history.push(log);
      progress.epochEnd(log);
      for (const c of callbacks) c.onEpochEnd?.call(c.self, log, this);
      if (es) {
        const v = monitor === 'valLoss' ? log.valLoss! : log.loss;
        if (v < best - minDelta) {
          best = v; wait = 0;
          if (restoreBest) bestWeights = this.model.stateDict();
        } else if (++wait >= patience) break;
      }
    }
    if (bestWeights) this.model.loadStateDict(bestWeights);
    return history;
  }

  /** Mean loss over data (every counted term weighs the same) and each metric, with inference forwards. */
  evaluate(data: Sample[] | TensorData, options?: EvaluateOptions): EvaluateResult {
    const where = 'Trainer.evaluate';
    const o = readOptions(where, 'options', options, ['batchSize', 'metrics']);
    const batchSize = posInt(where, 'batchSize', o.batchSize, 32);
    const metrics = readMetrics(where, o.metrics, this.classes);
    const { samples, features } = checkSamples(where, 'data', asSamples(where, 'data', data, true), true);
    return this.evaluateSamples(where, samples, features, batchSize, metrics);
  }

  /**
   * Outputs per sample, in order: per step (length × C arrays) or per sequence (C numbers).
   * `perStep` states which, so that strict TypeScript gets one array type (and a model whose
   * output is the other kind is refused); without it the result is the union.
   */
  predict(data: Sample[] | TensorData, options: TrainerPredictOptions & { perStep: true }): number[][][];
  predict(data: Sample[] | TensorData, options: TrainerPredictOptions & { perStep: false }): number[][];
  predict(data: Sample[] | TensorData, options?: TrainerPredictOptions): number[][] | number[][][];
  predict(data: Sample[] | TensorData, options?: TrainerPredictOptions): number[][] | number[][][] {
    const where = 'Trainer.predict';
    const o = readOptions(where, 'options', options, ['batchSize', 'perStep']);
    const batchSize = posInt(where, 'batchSize', o.batchSize, 32);
    const perStep = o.perStep === undefined ? null : optionalBool(where, 'perStep', o.perStep, false);
    const { samples, features } = checkSamples(where, 'data', asSamples(where, 'data', data, false), false);
    const out: (number[] | number[][])[] = [];
    for (let i = 0; i < samples.length; i += batchSize) {
      const idx = samples.slice(i, i + batchSize).map((_, k) => i + k);
      const batch = makeBatch(samples, idx, features, this.model.dtype);
      const y = this.forwardModel(batch.x, batch.lengths);
      const B = idx.length, C = y.shape[y.shape.length - 1];
      if (perStep !== null && perStep !== (y.shape.length !== 2)) {
        throw argRangeError(where, 'options.perStep', `${!perStep} (the model's output is ${y.shape.length === 2 ? 'per sequence, [B, C]' : 'per step'})`, String(perStep));
      }
      for (let b = 0; b < B; b++) {
        if (y.shape.length === 2) out.push(Array.from(y.data.subarray(b * C, (b + 1) * C)));
        else out.push(Array.from({ length: batch.lengths[b] }, (_, t) => Array.from(y.data.subarray((t * B + b) * C, (t * B + b + 1) * C))));
      }
    }
    return out as number[][] | number[][][];
  }

  private evaluateSamples(where: string, samples: Sample[], features: number, batchSize: number, metrics: readonly ResolvedMetric[]): EvaluateResult {
    let sum = 0, count = 0;
    const totals = new MetricTotals(metrics);
    for (let i = 0; i < samples.length; i += batchSize) {
      const idx = samples.slice(i, i + batchSize).map((_, k) => i + k);
      const batch = makeBatch(samples, idx, features, this.model.dtype);
      const y = this.forwardModel(batch.x, batch.lengths);
      const targets = makeTargets(where, samples, batch, y.shape, this.classes, this.model.dtype);
      const r = this.lossFn(y, targets, where);
      sum += r.loss * r.count; count += r.count;
      totals.add(where, y, targets);
    }
    return { loss: count ? sum / count : 0, count, metrics: totals.result() };
  }

  /** Save model, optimizer and trainer state (epoch, step, RNG) atomically. */
  saveCheckpoint(file: string): void {
    fileCall('Trainer.saveCheckpoint', file, () => saveCheckpoint(file, { model: this.model, optimizer: this.optimizer, trainer: { epoch: this.epoch, step: this.optimizer.stepCount, rng: this.rng.state() } }));
  }

  /** Restore everything saveCheckpoint wrote; the next fit() continues where that run was. */
  loadCheckpoint(file: string): void {
    const ck = fileCall('Trainer.loadCheckpoint', file, () => loadCheckpoint(file, { model: this.model, optimizer: this.optimizer }));
    if (ck.trainer) {
      this.epoch = ck.trainer.epoch;
      this.rng = Rng.fromState(ck.trainer.rng);
    }
  }

  /**
   * Between the trainer's time-major batches and a batch-first model: [T, B, ...] <-> [B, T, ...]
   * for values with a time axis (rank 3, or rank 2 token ids going in); the identity otherwise.
   */
  private toModel(t: Tensor, ids = false): Tensor {
    return this.batchFirst && (t.rank === 3 || (ids && t.rank === 2)) ? swapLeadingAxes(t) : t;
  }

  /** Inference on a time-major batch; the output back in the trainer's layout. */
  private forwardModel(x: Tensor, lengths: Int32Array): Tensor {
    return this.toModel(this.model.forward(this.toModel(x, true), { lengths }).output);
  }

  /**
   * One optimizer step on one batch: forwardTrain -> loss -> backward -> clip -> lr from the
   * schedule -> optimizer.step, with the non-finite policy (module comment). The batch is in the
   * trainer's layout, time-major as fit() builds it: x [T, B] token ids or [T, B, F] features
   * (a batch-first model gets them as [B, T, ...]); targets per step (row t*B + b of the output)
   * or per sequence (row b). fit() and the apps' loops (the character model, the experiments)
   * train through this step.
   */
  step(batch: StepBatch): StepResult {
    const where = 'Trainer.step';
    const o = readOptions(where, 'batch', batch, ['x', 'targets', 'lengths', 'state']);
    if (!(o.x instanceof Tensor) || (o.x.rank !== 2 && o.x.rank !== 3)) throw argTypeError(where, 'batch.x', 'a Tensor [T, B] (token ids) or [T, B, F] (features), time-major', o.x);
    if (o.targets === undefined || o.targets === null) throw argTypeError(where, 'batch.targets', '{ classes } (crossEntropy) or { values } (other losses), with an optional mask', o.targets);
    const t = readOptions(where, 'batch.targets', o.targets, ['classes', 'values', 'mask'], 'keys of targets');
    if (t.classes !== undefined && t.classes !== null && !(t.classes instanceof Int32Array)) throw argTypeError(where, 'batch.targets.classes', 'an Int32Array of class ids, one per output row', t.classes);
    if (t.values !== undefined && t.values !== null && !(t.values instanceof Tensor)) throw argTypeError(where, 'batch.targets.values', "a Tensor of the output's shape", t.values);
    if (t.mask !== undefined && t.mask !== null && !(t.mask instanceof Uint8Array)) throw argTypeError(where, 'batch.targets.mask', 'a Uint8Array of 0/1, one per output row', t.mask);
    const targets: Targets = { classes: (t.classes ?? null) as Int32Array | null, values: (t.values ?? null) as Tensor | null, mask: (t.mask ?? null) as Uint8Array | null };
    const lengths = (o.lengths ?? null) as Int32Array | null;
    const state = (o.state ?? null) as SequentialState | null;
    return this.trainStep(where, o.x, lengths, state, () => targets, null);
  }

  /** One batch of fit(): one optimizer step, or one per chunk of `tbptt` steps. */
  private trainBatch(samples: Sample[], batch: Batch, tbptt: number | null, state: SequentialState | null, epoch: number, bi: number, totals: MetricTotals):
    { sum: number; count: number; steps: number; skipped: number; state: SequentialState | null } {
    const k = tbptt ?? batch.T;
    let sum = 0, count = 0, steps = 0, skipped = 0;
    for (let t0 = 0; t0 < batch.T; t0 += k) {
      const Tc = Math.min(k, batch.T - t0);
      const { x, lengths } = k >= batch.T ? batch : chunk(batch, t0, Tc);
      let targets: Targets | null = null;
      const r = this.trainStep('Trainer.fit', x, lengths, state, (shape) => (targets = makeTargets('Trainer.fit', samples, batch, shape, this.classes, this.model.dtype, t0)),
        { at: `epoch ${epoch}, batch ${bi}${tbptt ? `, steps ${t0}..${t0 + Tc - 1}` : ''}`, epoch, batch: bi });
      state = r.state;
      if (r.skipped) { skipped++; continue; }
      if (!r.updated) continue; // a fully padded chunk: nothing to learn from
      sum += r.loss * r.count; count += r.count; steps++;
      totals.add('Trainer.fit', r.output, targets!); // on the outputs this step trained on (before its update)
    }
    return { sum, count, steps, skipped, state };
  }

  /**
   * The training step behind step() and fit(). `targetsFor` gets the output's shape (fit's targets
   * are per step or per sequence as the model's output is). `at` places the step in a fit() run
   * for messages and NonFiniteError (null: Trainer.step, epoch and batch 0).
   */
  private trainStep(caller: string, x: Tensor, lengths: Int32Array | null, state: SequentialState | null, targetsFor: (outputShape: readonly number[]) => Targets,
    at: { at: string; epoch: number; batch: number } | null): StepResult {
    const r = this.model.forwardTrain(this.toModel(x, true), { lengths, state });
    try {
      r.output = this.toModel(r.output);
      const targets = targetsFor(r.output.shape);
      const stepNo = `optimizer step ${this.optimizer.stepCount + 1}`;
      const where = at ? `${at.at} (${stepNo})` : stepNo;
      const epoch = at?.epoch ?? 0, bi = at?.batch ?? 0;
      const skip = (what: 'loss' | 'gradient', loss: number): StepResult => ({ loss, count: 0, gradNorm: null, output: r.output, state: null, updated: false, skipped: what });
      let L: LossResult;
      try {
        L = this.lossFn(r.output, targets, caller);
      } catch (e) {
        // The losses refuse a non-finite output, and one whose loss or gradient would overflow.
        const code = errorCode(e);
        if (!(code === 'CELLSTATE_NON_FINITE' || code === 'CELLSTATE_OVERFLOW') || !['output', 'logits'].includes((e as CodedRangeError).argument)) throw e;
        if (this.fail(caller, 'loss', `the loss cannot be computed (${(e as Error).message}) at ${where}`, epoch, bi)) return skip('loss', NaN);
        throw e;
      }
      if (L.count === 0) return { loss: L.loss, count: 0, gradNorm: null, output: r.output, state: r.state, updated: false, skipped: null };
      if (!Number.isFinite(L.loss)) {
        if (this.fail(caller, 'loss', `the loss is ${L.loss} at ${where}`, epoch, bi)) return skip('loss', L.loss);
      }
      if (!allFinite(L.grad.data)) {
        if (this.fail(caller, 'gradient', `the loss gradient is not finite at ${where}`, epoch, bi)) return skip('gradient', L.loss);
      }
      let g: Record<string, Tensor>;
      try {
        g = this.model.backward(r.cache as never, { dOutput: this.toModel(L.grad) }).grads;
      } catch (e) {
        // A layer refuses a non-finite upstream gradient (overflow inside backward).
        if (errorCode(e) !== 'CELLSTATE_NON_FINITE') throw e;
        if (this.fail(caller, 'gradient', `a gradient overflowed during backward (${(e as Error).message}) at ${where}`, epoch, bi)) return skip('gradient', L.loss);
        throw e;
      }
      if (this.clipValue !== null) clipGradValue(g, this.clipValue);
      const norm = this.clipNorm !== null ? clipGradNorm(g, this.clipNorm) : gradNorm(g);
      if (!Number.isFinite(norm)) {
        if (this.fail(caller, 'gradient', `a gradient is not finite (global norm ${norm}) at ${where}`, epoch, bi)) return skip('gradient', L.loss);
      }
      if (this.schedule) this.optimizer.lr = this.schedule.lrAt(this.optimizer.stepCount, this.optimizer.baseLr);
      const params = this.model.namedParameters();
      const before = params.map(([, t]) => t.data.slice());
      this.optimizer.step(g);
      if (params.some(([, t]) => !allFinite(t.data))) {
        params.forEach(([, t], i) => t.data.set(before[i]));
        this.model.commitParameters();
        throw new NonFiniteError(`${caller}: the update made a weight non-finite at ${where}; the weights were restored to their values before that step (lower the learning rate or clip gradients)`,
          'weights', epoch, bi, this.optimizer.stepCount);
      }
      return { loss: L.loss, count: L.count, gradNorm: norm, output: r.output, state: r.state, updated: true, skipped: null };
    } finally {
      // The step never hands the cache out, so the backend may give its memory to the next
      // step's forward (native: no fresh pages to fault in; see releaseCache in lib/nn/layer.ts).
      releaseCache(this.model, r.cache);
    }
  }

  /** Returns true to skip the step, or throws. */
  private fail(caller: string, what: 'loss' | 'gradient', msg: string, epoch: number, bi: number): boolean {
    if (this.nonFinite === 'skip') return true;
    throw new NonFiniteError(`${caller}: ${msg}; the weights were not updated (nonFinite: 'skip' drops such steps instead; see docs/training.md#trainer-options)`, what, epoch, bi, this.optimizer.stepCount + 1);
  }
}

type Method = (...args: unknown[]) => unknown;

/** The callbacks, each entry and method read once (called with the callback object as `this`). */
function readCallbacks(where: string, value: unknown): { self: object; onBatchEnd?: Method; onEpochEnd?: Method }[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw argTypeError(where, 'callbacks', 'an array of callback objects', value);
  let list: unknown[];
  try {
    list = Array.from(value as unknown[]);
  } catch (e) {
    throw argTypeError(where, 'callbacks', `an array of callback objects that can be read (reading it threw: ${(e as Error)?.message ?? e})`, undefined);
  }
  return list.map((c, i) => {
    if (c === null || typeof c !== 'object') throw argTypeError(where, `callbacks[${i}]`, 'a callback object { onBatchEnd?, onEpochEnd? }', c);
    const out: { self: object; onBatchEnd?: Method; onEpochEnd?: Method } = { self: c };
    for (const k of ['onBatchEnd', 'onEpochEnd'] as const) {
      let f: unknown;
      try {
        f = (c as Callback)[k];
      } catch (e) {
        throw argTypeError(where, `callbacks[${i}].${k}`, `a readable method (its getter threw: ${(e as Error)?.message ?? e})`, undefined);
      }
      if (f !== undefined && typeof f !== 'function') throw argTypeError(where, `callbacks[${i}].${k}`, 'a function or undefined', f);
      if (f) out[k] = f as Method;
    }
    return out;
  });
}

/** A custom loss function's result: { loss: number, grad: Tensor of the output's shape, count >= 0 }, each read once. */
function checkLossResult(where: string, r: unknown, shape: readonly number[]): LossResult {
  const arg = "the loss function's result";
  const expected = `{ loss: number, grad: Tensor of shape ${formatShape(shape)} (the output's), count: number >= 0 }`;
  if (r === null || typeof r !== 'object') throw argTypeError(where, arg, expected, r);
  let loss: unknown, grad: unknown, count: unknown;
  try {
    ({ loss, grad, count } = r as LossResult);
  } catch (e) {
    throw argTypeError(where, arg, `${expected} (reading it threw: ${(e as Error)?.message ?? e})`, undefined);
  }
  if (typeof loss !== 'number') throw argTypeError(where, `${arg}.loss`, 'a number', loss);
  if (!(grad instanceof Tensor)) throw argTypeError(where, `${arg}.grad`, `a Tensor of shape ${formatShape(shape)} (the output's)`, grad);
  if (grad.shape.length !== shape.length || grad.shape.some((d, i) => d !== shape[i])) throw shapeError(where, `${arg}.grad`, `${formatShape(shape)} (the output's)`, grad.shape);
  if (typeof count !== 'number' || !(count >= 0) || !Number.isFinite(count)) throw argRangeError(where, `${arg}.count`, 'a finite number >= 0', describe(count));
  return { loss, grad, count };
}

function allFinite(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] - a[i] !== 0) return false;
  return true;
}

/** A copy with the first two axes swapped: [A, B, ...] -> [B, A, ...]. */
function swapLeadingAxes(t: Tensor): Tensor {
  const [A, B] = t.shape, row = t.size / (A * B);
  const out = new (t.data.constructor as Float32ArrayConstructor)(t.size);
  for (let a = 0; a < A; a++) for (let b = 0; b < B; b++) out.set(t.data.subarray((a * B + b) * row, (a * B + b + 1) * row), (b * A + a) * row);
  return new Tensor(out, [B, A, ...t.shape.slice(2)]);
}

function batchSizeOf(state: SequentialState): number {
  for (const s of state) if (s) return s.h.shape[1];
  return -1;
}

/** Steps [t0, t0+Tc) of a padded time-major batch, with lengths clamped to [1, Tc]. */
function chunk(batch: Batch, t0: number, Tc: number): { x: Tensor; lengths: Int32Array } {
  const B = batch.indices.length;
  const row = batch.x.size / (batch.T * B); // features per (t, b)
  const x = new Tensor(batch.x.data.slice(t0 * B * row, (t0 + Tc) * B * row), batch.x.rank === 2 ? [Tc, B] : [Tc, B, row]);
  // An entry that ended before this chunk still runs one (masked) step: recurrent layers take lengths >= 1.
  const lengths = batch.lengths.map((len) => Math.min(Math.max(len - t0, 1), Tc));
  return { x, lengths };
}

/**
 * Sample[] as given, or TensorData converted to samples: row i of x (its first lengths[i] steps)
 * and of y. y per step ([N, T] or [N, T, C] with T the x's T) is cut to the row's length too.
 */
function asSamples(where: string, arg: string, data: unknown, needTargets: boolean): unknown {
  if (Array.isArray(data) || data === null || typeof data !== 'object') return data;
  if (data instanceof Tensor) throw argTypeError(where, arg, 'an array of samples { x, y }, or tensor data { x: Tensor, y, lengths? }', data);
  const o = readOptions(where, arg, data, ['x', 'y', 'lengths'], 'keys of tensor data');
  const x = o.x;
  if (!(x instanceof Tensor) || (x.rank !== 2 && x.rank !== 3)) {
    throw argTypeError(where, `${arg}.x`, 'a Tensor [N, T] (token ids) or [N, T, F] (features), one row per sequence', x);
  }
  const [N, T] = x.shape, F = x.rank === 3 ? x.shape[2] : 0;
  if (N < 1 || T < 1) throw shapeError(where, `${arg}.x`, '[N, T, ...] with N >= 1 and T >= 1', x.shape);
  let lengths: number[];
  if (o.lengths === undefined || o.lengths === null) lengths = new Array(N).fill(T);
  else {
    const l = o.lengths as ArrayLike<unknown>;
    if (!(Array.isArray(l) || ArrayBuffer.isView(l)) || l.length !== N) throw argTypeError(where, `${arg}.lengths`, `${N} lengths (one per row of x)`, l);
    lengths = Array.from(l as ArrayLike<number>);
    lengths.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > T) throw argRangeError(where, `${arg}.lengths[${i}]`, `an integer in [1, ${T}]`, describe(v));
    });
  }
  const xs = x.data;
  const rowsOf = (i: number): Step[] => Array.from({ length: lengths[i] }, (_, t) => (F ? Array.from(xs.subarray((i * T + t) * F, (i * T + t + 1) * F)) : xs[i * T + t]));
  let ys: ((i: number) => Sample['y']) | null = null;
  const y = o.y;
  if (y instanceof Tensor) {
    if (y.rank < 1 || y.rank > 3 || y.shape[0] !== N) throw shapeError(where, `${arg}.y`, `[${N}, ...] (one row per row of x)`, y.shape);
    const perStep = y.rank === 3 || (y.rank === 2 && y.shape[1] === T && o.lengths !== undefined && o.lengths !== null);
    if (y.rank === 3 && y.shape[1] !== T) throw shapeError(where, `${arg}.y`, `[${N}, ${T}, C] (per step, as x) or [${N}, C] (per sequence)`, y.shape);
    const row = y.rank === 1 ? 1 : y.size / N, C = y.rank === 3 ? y.shape[2] : 1, yd = y.data;
    ys = (i) => {
      if (y.rank === 1) return yd[i];
      if (!perStep) return Array.from(yd.subarray(i * row, (i + 1) * row));
      return Array.from({ length: lengths[i] }, (_, t) => (y.rank === 3 ? Array.from(yd.subarray((i * T + t) * C, (i * T + t + 1) * C)) : yd[i * T + t]));
    };
  } else if (Array.isArray(y)) {
    if (y.length !== N) throw argRangeError(where, `${arg}.y`, `${N} targets (one per row of x)`, `${y.length}`);
    const copy = Array.from(y as unknown[]);
    ys = (i) => copy[i] as Sample['y'];
  } else if (y !== undefined && y !== null) {
    throw argTypeError(where, `${arg}.y`, 'a Tensor or an array of targets', y);
  } else if (needTargets) {
    throw argTypeError(where, `${arg}.y`, 'targets: a Tensor [N, ...] or an array of N targets', y);
  }
  return Array.from({ length: N }, (_, i): Sample => (ys ? { x: rowsOf(i), y: ys(i) } : { x: rowsOf(i) }));
}
