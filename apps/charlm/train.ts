// Training a character model for a number of steps or a wall-time budget, whichever ends first,
// with a checkpoint every N steps, a final one at the end or on request (Ctrl-C), and exact resume.
//
// Why not Trainer.fit: fit() works in epochs over a list of samples and stops between epochs; here
// a step is a batch of random windows of the text, the stop can come at any step (time budget,
// Ctrl-C), and resuming must continue mid-"epoch". So this loop draws the batches and calls the
// library's one training step, Trainer.step (crossEntropy, gradient norm clipped, Adam), as fit()
// does; the checkpoint keeps the trainer state fit() keeps ({ epoch, step, rng }).
//
// Exactness: the only randomness is the batch generator (window offsets), whose state goes into
// every checkpoint with the step; so N steps, or k steps then a resume to N, give the same weights.
//
// Data: the first 95% of the text trains, the last 5% (if it holds at least one window) gives the
// validation loss reported at the end. A window of seqLen + 1 characters gives seqLen inputs and
// their next characters as targets; the batch is time-major, ids [T, B], targets row t*B + b.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Adam, crossEntropy, loadCheckpoint, NonFiniteError, saveCheckpoint, Rng, Tensor, Trainer } from 'cellstate';
import { CHECKPOINT_FILE, CharLM, writeMeta, type CharLMMeta } from './model';

export interface StepInfo {
  step: number; // optimizer steps so far, counting resumed ones
  firstStep: number; // the step this run started at
  maxSteps: number | null;
  loss: number; // smoothed training loss (nats per character)
  elapsedMs: number; // this run
  budgetMs: number | null;
  charsPerSec: number; // this run
}

export interface TrainRun {
  meta: CharLMMeta;
  text: string; // must use only meta.vocab's characters
  out: string;
  resume: boolean;
  maxSteps: number | null; // total, counting resumed steps
  seconds: number | null; // wall-time budget of this run
  checkpointEvery: number;
  clipNorm?: number; // default 1
  onStep?: (info: StepInfo) => void;
  stopRequested?: () => boolean;
}

export interface TrainResult {
  model: CharLM;
  step: number;
  stepsThisRun: number;
  loss: number; // smoothed training loss at the end
  valLoss: number | null;
  seconds: number;
  charsPerSec: number;
  checkpoint: string;
  reason: 'steps' | 'time' | 'interrupted';
}

/** An offset in [0, n) from the generator (32 random bits: fine for texts up to gigabytes). */
function offset(rng: Rng, n: number): number {
  return Math.floor((rng.nextU32() / 4294967296) * n);
}

/** Windows starting at `starts` -> ids [T, B] and next-character targets [T*B]. */
function makeBatch(ids: Int32Array, starts: number[], T: number): { x: Tensor; y: Int32Array } {
  const B = starts.length;
  const x = new Float32Array(T * B), y = new Int32Array(T * B);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      x[t * B + b] = ids[starts[b] + t];
      y[t * B + b] = ids[starts[b] + t + 1];
    }
  }
  return { x: new Tensor(x, [T, B]), y };
}

/** Mean cross-entropy over consecutive windows of the validation part (up to 64 windows). */
function validationLoss(model: CharLM, val: Int32Array, T: number): number | null {
  const n = Math.min(64, Math.floor((val.length - 1) / T));
  if (n < 1) return null;
  const { x, y } = makeBatch(val, Array.from({ length: n }, (_, i) => i * T), T);
  return crossEntropy(model.net.forward(x).output, y).loss;
}

export async function trainCharLM(run: TrainRun): Promise<TrainResult> {
  const { meta } = run;
  const T = meta.seqLen, B = meta.batch;
  const model = new CharLM(meta.vocab, meta, meta.seed);
  const ids = model.encode(run.text);
  const nVal = Math.floor(ids.length * 0.05) >= T + 1 ? Math.floor(ids.length * 0.05) : 0;
  const train = ids.subarray(0, ids.length - nVal), val = ids.subarray(ids.length - nVal);
  if (train.length < T + 1) throw new RangeError(`the text has ${ids.length} characters; training needs more than --seq-len (${T}) of them`);
  const optimizer = new Adam(model.net, { lr: meta.lr });
  const trainer = new Trainer({ model: model.net, optimizer, loss: 'crossEntropy', clipNorm: run.clipNorm ?? 1, seed: meta.seed });
  let rng = new Rng(meta.seed + 3);
  let step = 0;
  const ckpt = path.join(run.out, CHECKPOINT_FILE);
  fs.mkdirSync(run.out, { recursive: true });
  if (run.resume) {
    const ck = loadCheckpoint(ckpt, { model: model.net, optimizer });
    if (!ck.trainer) throw new Error(`${ckpt}: has no trainer state to resume from`);
    step = ck.trainer.step;
    rng = Rng.fromState(ck.trainer.rng);
  }
  writeMeta(run.out, meta);
  const save = () => saveCheckpoint(ckpt, { model: model.net, optimizer, trainer: { epoch: Math.floor((step * B * T) / train.length), step, rng: rng.state() } });

  const firstStep = step;
  const t0 = performance.now();
  const budgetMs = run.seconds === null ? null : run.seconds * 1000;
  let smooth = NaN;
  let reason: TrainResult['reason'] = 'steps';
  for (;;) {
    if (run.maxSteps !== null && step >= run.maxSteps) { reason = 'steps'; break; }
    if (budgetMs !== null && performance.now() - t0 >= budgetMs) { reason = 'time'; break; }
    if (run.stopRequested?.()) { reason = 'interrupted'; break; }
    const starts = Array.from({ length: B }, () => offset(rng, train.length - T));
    const { x, y } = makeBatch(train, starts, T);
    let L: { loss: number };
    try {
      L = trainer.step({ x, targets: { classes: y } });
    } catch (e) {
      if (!(e instanceof NonFiniteError)) throw e;
      throw new Error(`training diverged at step ${step + 1}: ${e.message} (the last checkpoint in ${run.out} is intact; lower --lr)`);
    }
    step++;
    smooth = Number.isNaN(smooth) ? L.loss : 0.95 * smooth + 0.05 * L.loss;
    if (step % run.checkpointEvery === 0) save();
    const elapsedMs = performance.now() - t0;
    run.onStep?.({ step, firstStep, maxSteps: run.maxSteps, loss: smooth, elapsedMs, budgetMs, charsPerSec: ((step - firstStep) * B * T) / Math.max(elapsedMs / 1000, 1e-3) });
    await new Promise((res) => setImmediate(res)); // lets a Ctrl-C (SIGINT handler) run between steps
  }
  save();
  const seconds = (performance.now() - t0) / 1000;
  return {
    model, step, stepsThisRun: step - firstStep, loss: smooth, valLoss: validationLoss(model, val, T), seconds,
    charsPerSec: ((step - firstStep) * B * T) / Math.max(seconds, 1e-3), checkpoint: ckpt, reason,
  };
}
