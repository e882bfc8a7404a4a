// Train a model on a memory task under a wall-time budget and record its learning curve: the
// loss on a fixed held-out set every `evalEvery` steps. Used to compare an LSTM with a vanilla
// tanh RNN of about the same parameter count on the same batches (same data seed) with the same
// optimizer (Adam, gradient norm clipped to 1) and the same budget.
//
// Each step draws a fresh batch (the tasks are generated, so there is no overfitting to a fixed
// training set); the held-out set is drawn once from its own seed. A run ends when the budget is
// used, after maxSteps, when the held-out loss is below the task's threshold (solved), or when the
// loss stops being finite (diverged). The budget counts everything, held-out evaluations included.

import { Adam, crossEntropy, LastStep, Linear, LSTM, mseLoss, NonFiniteError, Rng, RNN, Sequential, Trainer, type LossResult, type StepResult, type Tensor } from 'cellstate';
import type { Task, TaskBatch } from './tasks';

export type ModelKind = 'lstm' | 'rnn';

export interface CurvePoint {
  step: number;
  seconds: number;
  loss: number; // held-out
  trainLoss: number; // smoothed training loss
  accuracy?: number; // copy: fraction of recalled symbols right
}

export interface RunResult {
  kind: ModelKind;
  hidden: number;
  parameters: number;
  steps: number;
  seconds: number;
  curve: CurvePoint[];
  finalLoss: number;
  bestLoss: number;
  solvedAtStep: number | null;
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
  onEval?: (p: CurvePoint, kind: ModelKind) => void;
  onStep?: (step: number, seconds: number, trainLoss: number) => void;
  net?: Sequential; // train this model (buildModel's form) instead of a fresh one
}

export function buildModel(task: Task, kind: ModelKind, hidden: number, seed: number): Sequential {
  const rec = kind === 'lstm'
    ? new LSTM({ inputSize: task.inputSize, hiddenSize: hidden, seed })
    : new RNN({ inputSize: task.inputSize, hiddenSize: hidden, nonlinearity: 'tanh', seed });
  const head = new Linear({ inFeatures: hidden, outFeatures: task.outputSize, seed: seed + 1 });
  return new Sequential(task.manyToOne ? [rec, new LastStep(), head] : [rec, head]);
}

export function parameterCount(task: Task, kind: ModelKind, hidden: number): number {
  const gates = kind === 'lstm' ? 4 : 1;
  return gates * hidden * (task.inputSize + hidden + 2) + (hidden + 1) * task.outputSize;
}

/** The RNN hidden size whose parameter count is closest to the LSTM's. */
export function matchedRnnHidden(task: Task, lstmHidden: number): number {
  const target = parameterCount(task, 'lstm', lstmHidden);
  let best = 1;
  for (let h = 1; h <= 8 * lstmHidden; h++) {
    if (Math.abs(parameterCount(task, 'rnn', h) - target) < Math.abs(parameterCount(task, 'rnn', best) - target)) best = h;
  }
  return best;
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
  const net = o.net ?? buildModel(task, o.kind, o.hidden, o.seed);
  const opt = new Adam(net, { lr: o.lr });
  // The library's training step: the task's loss, gradient norm clipped to 1; a non-finite loss or
  // gradient throws (NonFiniteError), which ends the run as diverged.
  const trainer = new Trainer({ model: net, optimizer: opt, loss: task.loss, clipNorm: 1, seed: o.seed });
  const data = new Rng(o.seed + 17); // same stream of batches for every model with this seed
  const held = task.batch(new Rng(o.seed + 1_000_003), o.evalSize);
  const curve: CurvePoint[] = [];
  const t0 = performance.now();
  const secs = () => (performance.now() - t0) / 1000;
  let step = 0, smooth = NaN, solvedAtStep: number | null = null, solvedAtSeconds: number | null = null;
  let end: RunResult['end'] = 'budget';
  const evaluate = (): CurvePoint => {
    const y = net.forward(held.x).output;
    const p: CurvePoint = { step, seconds: secs(), loss: lossOf(task, y, held).loss, trainLoss: smooth };
    if (held.classes) p.accuracy = accuracy(y, held.classes);
    curve.push(p);
    o.onEval?.(p, o.kind);
    return p;
  };
  evaluate();
  for (;;) {
    if (o.maxSteps !== null && step >= o.maxSteps) { end = 'steps'; break; }
    if (secs() >= o.budgetSeconds) { end = 'budget'; break; }
    const b = task.batch(data, o.batch);
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
      if (p.loss < task.solvedBelow) { solvedAtStep = step; solvedAtSeconds = p.seconds; end = 'solved'; break; }
    }
    await new Promise((res) => setImmediate(res));
  }
  if (curve.at(-1)!.step !== step) evaluate();
  const last = curve.at(-1)!;
  if (solvedAtStep === null && last.loss < task.solvedBelow) { solvedAtStep = step; solvedAtSeconds = last.seconds; }
  return {
    kind: o.kind, hidden: o.hidden, parameters: parameterCount(task, o.kind, o.hidden), steps: step, seconds: secs(), curve,
    finalLoss: last.loss, bestLoss: Math.min(...curve.map((p) => p.loss)), solvedAtStep, solvedAtSeconds, end,
  };
}
