// Train a model on a memory task under a wall-time budget and record its learning curve: the
// loss on a fixed held-out set every `evalEvery` steps. Used to compare an LSTM with a vanilla
// tanh RNN (or other kinds) of about the same parameter count on the same batches (same data seed) with the same
// optimizer (Adam, gradient norm clipped to 1) and the same budget.
//
// Each step draws a fresh batch (the tasks are generated, so there is no overfitting to a fixed
// training set); the held-out set is drawn once from its own seed. A run ends when the budget is
// used, after maxSteps, when the held-out loss is below the task's threshold (solved), or when the
// loss stops being finite (diverged). The budget counts everything, held-out evaluations included.
//
// KINDS is the one table of model kinds (LSTM and its peephole, coupled-gate and layer-normalised
// variants, GRU, tanh RNN): name, construction options, and whether it takes the forget-gate
// initialisations. A curriculum (adding only) trains one model at growing lengths up to T.

import { Adam, crossEntropy, GRU, LastStep, LayerNormLSTM, Linear, LSTM, mseLoss, NonFiniteError, Rng, RNN, Sequential, Trainer, type LossResult, type Recurrent, type StepResult, type Tensor } from 'cellstate';
import { addingTask, type Task, type TaskBatch } from './tasks';

/** The forget-gate initialisations an experiment can ask for (LSTM's options of the same names). */
export interface InitOptions {
  forgetBias?: number;
  chronoInit?: number;
}

/**
 * The model kinds, in plot-colour order (lstm and rnn first, so the two-model plot keeps its colours).
 * options: the fixed construction options of the kind; init: whether the kind takes forgetBias and
 * chronoInit, or why not (printed and saved, never skipped silently).
 */
export const KINDS = {
  lstm: { name: 'LSTM', options: {}, init: true as true | string, make: (o: object) => new LSTM(o as never) },
  rnn: { name: 'tanh RNN', options: { nonlinearity: 'tanh' }, init: 'no gates', make: (o: object) => new RNN(o as never) },
  peephole: { name: 'peephole LSTM', options: { peephole: true }, init: true as true | string, make: (o: object) => new LSTM(o as never) },
  cifg: { name: 'CIFG LSTM', options: { inputForget: true }, init: 'a coupled gate f = 1 - i has no forget-gate bias of its own; LSTM refuses both with inputForget', make: (o: object) => new LSTM(o as never) },
  lnlstm: { name: 'LN-LSTM', options: {}, init: true as true | string, make: (o: object) => new LayerNormLSTM(o as never) },
  gru: { name: 'GRU', options: {}, init: 'GRU has no forget gate', make: (o: object) => new GRU(o as never) },
} satisfies Record<string, { name: string; options: object; init: true | string; make(o: object): Recurrent }>;

export type ModelKind = keyof typeof KINDS;

export function isModelKind(s: string): s is ModelKind {
  return Object.hasOwn(KINDS, s);
}

/** The construction options a kind gets: its fixed ones plus the init, if it takes it. */
export function kindOptions(kind: ModelKind, init: InitOptions = {}): Record<string, unknown> {
  return { ...KINDS[kind].options, ...(KINDS[kind].init === true ? init : {}) };
}

export interface CurvePoint {
  step: number;
  seconds: number;
  loss: number; // held-out
  trainLoss: number; // smoothed training loss
  T: number; // the sequence length evaluated at (with a curriculum, the current stage's)
  accuracy?: number; // copy: fraction of recalled symbols right
}

export interface StageResult {
  T: number;
  solvedAtStep: number | null; // the step at which it moved on (or solved T)
  solvedAtSeconds: number | null;
}

export interface RunResult {
  kind: ModelKind;
  seed: number;
  hidden: number;
  parameters: number;
  options: Record<string, unknown>; // the recurrent layer's construction options beyond sizes and seed
  steps: number;
  seconds: number;
  curve: CurvePoint[];
  stages: StageResult[]; // one (at T) without a curriculum
  finalLoss: number;
  bestLoss: number; // the lowest held-out loss at reachedT
  reachedT: number; // the length of the last stage reached (T without a curriculum)
  solvedAtStep: number | null; // at T
  solvedAtSeconds: number | null;
  end: 'solved' | 'budget' | 'steps' | 'diverged';
}

export interface RunOptions {
  task: Task;
  kind: ModelKind;
  hidden: number;
  batch: number;
  lr: number;
  seed: number;
  budgetSeconds: number;
  maxSteps: number | null;
  evalEvery: number;
  evalSize: number;
  init?: InitOptions;
  curriculum?: number | null; // START: train at START, 2 START, 4 START, ... then task.T (adding only)
  onEval?: (p: CurvePoint, kind: ModelKind) => void;
  onStep?: (step: number, seconds: number, trainLoss: number) => void;
  net?: Sequential; // train this model (buildModel's form) instead of a fresh one
}

export function buildModel(task: Task, kind: ModelKind, hidden: number, seed: number, init: InitOptions = {}): Sequential {
  const rec = KINDS[kind].make({ inputSize: task.inputSize, hiddenSize: hidden, seed, ...kindOptions(kind, init) });
  const head = new Linear({ inFeatures: hidden, outFeatures: task.outputSize, seed: seed + 1 });
  return new Sequential(task.manyToOne ? [rec, new LastStep(), head] : [rec, head]);
}

/** The built model's parameter count, head included (CIFG's unused f rows are parameters too). */
export function parameterCount(task: Task, kind: ModelKind, hidden: number): number {
  return buildModel(task, kind, hidden, 0).numParameters();
}

/** The hidden size of `kind` whose parameter count is closest to the plain LSTM's at lstmHidden (ties: the smaller). */
export function matchedHidden(task: Task, kind: ModelKind, lstmHidden: number): number {
  if (kind === 'lstm') return lstmHidden;
  const target = parameterCount(task, 'lstm', lstmHidden);
  const count = (h: number) => parameterCount(task, kind, h);
  // The count grows with the hidden size: double up to the target, then bisect for the first size at
  // or above it (a few dozen models built, not hundreds); the answer is it or the size below.
  let hi = 1;
  while (count(hi) < target) hi *= 2;
  let lo = Math.max(1, hi >> 1);
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (count(mid) >= target) hi = mid;
    else lo = mid + 1;
  }
  return hi > 1 && Math.abs(count(hi - 1) - target) <= Math.abs(count(hi) - target) ? hi - 1 : hi;
}

/** The RNN hidden size whose parameter count is closest to the LSTM's. */
export function matchedRnnHidden(task: Task, lstmHidden: number): number {
  return matchedHidden(task, 'rnn', lstmHidden);
}

/** The curriculum's lengths: START, 2 START, 4 START, ... below T, then T. */
export function curriculumLengths(start: number, T: number): number[] {
  if (!Number.isSafeInteger(start) || start < 2 || start >= T) throw new RangeError(`curriculum: start: expected an integer in [2, ${T - 1}] (below T = ${T}), got ${start}`);
  const out: number[] = [];
  for (let L = start; L < T; L *= 2) out.push(L);
  return [...out, T];
}

function lossOf(task: Task, y: Tensor, b: TaskBatch): LossResult {
  return task.loss === 'mse' ? mseLoss(y, b.values!) : crossEntropy(y, b.classes!);
}

function accuracy(y: Tensor, classes: Int32Array): number {
  const C = y.shape[y.shape.length - 1];
  let right = 0, n = 0;
  for (let r = 0; r < classes.length; r++) {
    if (classes[r] < 0) continue;
    let best = 0;
    for (let j = 1; j < C; j++) if (y.data[r * C + j] > y.data[r * C + best]) best = j;
    right += best === classes[r] ? 1 : 0;
    n++;
  }
  return n ? right / n : 0;
}

export async function trainOnTask(o: RunOptions): Promise<RunResult> {
  const { task } = o;
  if (o.curriculum && task.name !== 'adding') throw new RangeError(`trainOnTask: curriculum: expected null for the ${task.name} task (adding only), got ${o.curriculum}`);
  // The model's parameters do not depend on T, so one model trains through every stage.
  const stages = o.curriculum ? curriculumLengths(o.curriculum, task.T).map((L) => (L === task.T ? task : addingTask(L))) : [task];
  const net = o.net ?? buildModel(task, o.kind, o.hidden, o.seed, o.init);
  const opt = new Adam(net, { lr: o.lr });
  // The library's training step: the task's loss, gradient norm clipped to 1; a non-finite loss or
  // gradient throws (NonFiniteError), which ends the run as diverged.
  const trainer = new Trainer({ model: net, optimizer: opt, loss: task.loss, clipNorm: 1, seed: o.seed });
  const data = new Rng(o.seed + 17); // same stream of batches for every model with this seed
  const heldOut = (t: Task) => t.batch(new Rng(o.seed + 1_000_003), o.evalSize);
  let stage = 0, cur = stages[0], held = heldOut(cur);
  const stageResults: StageResult[] = stages.map((t) => ({ T: t.T, solvedAtStep: null, solvedAtSeconds: null }));
  const curve: CurvePoint[] = [];
  const t0 = performance.now();
  const secs = () => (performance.now() - t0) / 1000;
  let step = 0, smooth = NaN, solvedAtStep: number | null = null, solvedAtSeconds: number | null = null;
  let end: RunResult['end'] = 'budget';
  const evaluate = (): CurvePoint => {
    const y = net.forward(held.x).output;
    const p: CurvePoint = { step, seconds: secs(), loss: lossOf(cur, y, held).loss, trainLoss: smooth, T: cur.T };
    if (held.classes) p.accuracy = accuracy(y, held.classes);
    curve.push(p);
    o.onEval?.(p, o.kind);
    return p;
  };
  evaluate();
  for (;;) {
    if (o.maxSteps !== null && step >= o.maxSteps) { end = 'steps'; break; }
    if (secs() >= o.budgetSeconds) { end = 'budget'; break; }
    const b = cur.batch(data, o.batch);
    let L: StepResult;
    try {
      L = trainer.step({ x: b.x, targets: { classes: b.classes, values: b.values } });
    } catch (e) {
      if (!(e instanceof NonFiniteError)) throw e;
      end = 'diverged';
      break;
    }
    step++;
    smooth = Number.isNaN(smooth) ? L.loss : 0.98 * smooth + 0.02 * L.loss;
    o.onStep?.(step, secs(), smooth);
    if (step % o.evalEvery === 0) {
      const p = evaluate();
      if (p.loss < cur.solvedBelow) {
        stageResults[stage].solvedAtStep = step;
        stageResults[stage].solvedAtSeconds = p.seconds;
        if (stage === stages.length - 1) { solvedAtStep = step; solvedAtSeconds = p.seconds; end = 'solved'; break; }
        // Next stage: its first point is the loss at the new length before training on it.
        stage++;
        cur = stages[stage];
        held = heldOut(cur);
        smooth = NaN;
        evaluate();
      }
    }
    await new Promise((res) => setImmediate(res));
  }
  if (curve.at(-1)!.step !== step) evaluate();
  const last = curve.at(-1)!;
  if (solvedAtStep === null && stage === stages.length - 1 && last.loss < task.solvedBelow) {
    solvedAtStep = step;
    solvedAtSeconds = last.seconds;
    stageResults[stage].solvedAtStep = step;
    stageResults[stage].solvedAtSeconds = last.seconds;
  }
  const atReached = curve.filter((p) => p.T === cur.T);
  return {
    kind: o.kind, seed: o.seed, hidden: o.hidden, parameters: net.numParameters(), options: kindOptions(o.kind, o.init), steps: step, seconds: secs(), curve,
    stages: stageResults, finalLoss: last.loss, bestLoss: Math.min(...atReached.map((p) => p.loss)), reachedT: cur.T, solvedAtStep, solvedAtSeconds, end,
  };
}

export interface KindSummary {
  kind: ModelKind;
  runs: number;
  solved: number;
  // Over the runs, a run not solved counting as the worst; null where that run was not solved.
  medianSteps: number | null;
  worstSteps: number | null;
  medianSeconds: number | null;
  worstSeconds: number | null;
  medianBestLoss: number; // of the runs' best held-out losses (at the length each reached)
  // The worst run when it was not solved: its best loss and the length it reached (null if all solved).
  worstBestLoss: number | null;
  worstReachedT: number | null;
}

/** Median of values (+Infinity for "not solved"); the mean of the middle two for an even count. */
export function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b), m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Per kind, in order of first appearance: how many runs solved T, the median and worst steps and seconds to solve. */
export function summarize(results: RunResult[]): KindSummary[] {
  const kinds = [...new Set(results.map((r) => r.kind))];
  const fin = (x: number) => (Number.isFinite(x) ? x : null);
  return kinds.map((kind) => {
    const rs = results.filter((r) => r.kind === kind);
    const steps = rs.map((r) => r.solvedAtStep ?? Infinity), secs = rs.map((r) => r.solvedAtSeconds ?? Infinity);
    // The worst unsolved run: the shortest length reached, then the highest best loss.
    const worst = rs.filter((r) => r.solvedAtStep === null).sort((a, b) => a.reachedT - b.reachedT || b.bestLoss - a.bestLoss)[0];
    return {
      kind, runs: rs.length, solved: rs.length - rs.filter((r) => r.solvedAtStep === null).length,
      medianSteps: fin(median(steps)), worstSteps: fin(Math.max(...steps)),
      medianSeconds: fin(median(secs)), worstSeconds: fin(Math.max(...secs)),
      medianBestLoss: median(rs.map((r) => r.bestLoss)), worstBestLoss: worst ? worst.bestLoss : null, worstReachedT: worst ? worst.reachedT : null,
    };
  });
}
