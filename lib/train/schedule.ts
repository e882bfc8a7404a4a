// Learning-rate schedules as pure functions of the optimizer step: lr(t) for the update number
// t = 0, 1, 2, … (the optimizer's stepCount before the step). Being functions of the step
// counter alone, they need no state of their own: a checkpoint that saves the step resumes them
// exactly. Count steps, not epochs (stepSize, tMax and warm-up lengths are in optimizer steps).
//
//   constantLR()                       lr0
//   stepLR({ stepSize, gamma = 0.1 })  lr0 · gamma^⌊t / stepSize⌋            (PyTorch StepLR)
//   exponentialLR({ gamma })           lr0 · gamma^t                          (ExponentialLR)
//   cosineLR({ tMax, etaMin = 0 })     etaMin + (lr0 - etaMin)(1 + cos(π·t/tMax))/2 for t <= tMax,
//                                      then etaMin (PyTorch's closed form, without its restarts)
//   warmup({ steps, startFactor = 0, then })  linear from startFactor·lr to the inner schedule's
//                                      lr(0) over `steps` steps, then the inner schedule at t - steps

import { argRangeError, argTypeError, describe } from '../errors';
import { readOptions } from '../nn/options';

/** A learning-rate schedule: a pure function of the optimizer step (TrainerOptions.schedule). */
export interface Schedule {
  /** The learning rate of update t given the optimizer's base rate. */
  lrAt(t: number, baseLr: number): number;
  /** JSON description (saved in checkpoints). */
  describe(): Record<string, unknown>;
}

function num(where: string, name: string, v: unknown, dflt: number | undefined, ok: (x: number) => boolean, what: string): number {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number') throw argTypeError(where, name, what, v);
  if (!Number.isFinite(v) || !ok(v)) throw argRangeError(where, name, what, describe(v));
  return v;
}
const posInt = (x: number) => Number.isInteger(x) && x >= 1;

/** The base learning rate at every step. */
export function constantLR(): Schedule {
  return { lrAt: (_t, lr) => lr, describe: () => ({ type: 'constant' }) };
}

/** lr0 · gamma^⌊t / stepSize⌋ (PyTorch's StepLR); `gamma` defaults to 0.1. Steps are optimizer steps. */
export function stepLR(options: { stepSize: number; gamma?: number }): Schedule {
  const o = readOptions('stepLR', 'options', options, ['stepSize', 'gamma']);
  const stepSize = num('stepLR', 'stepSize', o.stepSize, undefined, posInt, 'a positive integer');
  const gamma = num('stepLR', 'gamma', o.gamma, 0.1, (x) => x > 0, 'a positive number');
  return { lrAt: (t, lr) => lr * Math.pow(gamma, Math.floor(t / stepSize)), describe: () => ({ type: 'step', stepSize, gamma }) };
}

/** lr0 · gamma^t (PyTorch's ExponentialLR), t the optimizer step. */
export function exponentialLR(options: { gamma: number }): Schedule {
  const o = readOptions('exponentialLR', 'options', options, ['gamma']);
  const gamma = num('exponentialLR', 'gamma', o.gamma, undefined, (x) => x > 0, 'a positive number');
  return { lrAt: (t, lr) => lr * Math.pow(gamma, t), describe: () => ({ type: 'exponential', gamma }) };
}

/**
 * etaMin + (lr0 - etaMin)(1 + cos(π·t/tMax))/2 for t <= tMax, then etaMin (PyTorch's
 * CosineAnnealingLR closed form, no restarts); `etaMin` defaults to 0.
 */
export function cosineLR(options: { tMax: number; etaMin?: number }): Schedule {
  const o = readOptions('cosineLR', 'options', options, ['tMax', 'etaMin']);
  const tMax = num('cosineLR', 'tMax', o.tMax, undefined, posInt, 'a positive integer');
  const etaMin = num('cosineLR', 'etaMin', o.etaMin, 0, (x) => x >= 0, 'a number >= 0');
  return {
    lrAt: (t, lr) => (t >= tMax ? etaMin : etaMin + (lr - etaMin) * (1 + Math.cos(Math.PI * t / tMax)) / 2),
    describe: () => ({ type: 'cosine', tMax, etaMin }),
  };
}

/**
 * Linear warm-up from startFactor·lr (default 0) to the inner schedule's lr(0) over `steps`
 * steps, then the inner schedule (`then`, default constantLR()) at t - steps.
 */
export function warmup(options: { steps: number; startFactor?: number; then?: Schedule }): Schedule {
  const o = readOptions('warmup', 'options', options, ['steps', 'startFactor', 'then']);
  const steps = num('warmup', 'steps', o.steps, undefined, posInt, 'a positive integer');
  const start = num('warmup', 'startFactor', o.startFactor, 0, (x) => x >= 0 && x <= 1, 'a number in [0, 1]');
  const inner = (o.then ?? constantLR()) as Schedule;
  if (!inner || typeof inner.lrAt !== 'function') throw argTypeError('warmup', 'then', 'a schedule', o.then);
  return {
    lrAt: (t, lr) => (t < steps ? inner.lrAt(0, lr) * (start + (1 - start) * t / steps) : inner.lrAt(t - steps, lr)),
    describe: () => ({ type: 'warmup', steps, startFactor: start, then: inner.describe() }),
  };
}
