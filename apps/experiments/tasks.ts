// Long-range memory tasks: data generators, the loss each is scored with, the score of the best
// memoryless strategy (the baseline a model that cannot remember stays at), and when it is solved.
//
// adding (Hochreiter & Schmidhuber 1997, in the form of Le et al. 2015): T steps of two inputs,
//   a value U(0, 1) and a marker, 1 at exactly two steps (one in each half of the sequence), 0
//   elsewhere. The target, read after the last step, is the sum of the two marked values.
//   Predicting the mean (1) scores MSE = Var(u1 + u2) = 2/12 = 0.167; solved: MSE < 0.01.
// copy (after Arjovsky et al. 2016): K = 10 symbols from an alphabet of A = 8, then T - 1 blanks,
//   a delimiter, and K more blanks during which the model must output the K symbols in order.
//   Inputs one-hot over A + 2 (symbols, blank, delimiter); outputs A logits per step, scored
//   (cross-entropy) only on the last K steps. Guessing scores ln 8 = 2.08 nats; solved: < 0.05.
//
// Batches are time-major: x [T, B, I]; targets [B, 1] (adding) or class ids, row t*B + b (copy).

import { Tensor, type Rng } from 'cellstate';

export interface TaskBatch {
  x: Tensor;
  values?: Tensor; // regression targets
  classes?: Int32Array; // class targets, -100 = not scored
}

export interface Task {
  name: 'adding' | 'copy';
  T: number; // sequence length the model sees
  inputSize: number;
  outputSize: number;
  manyToOne: boolean; // one output per sequence (after LastStep) or one per step
  loss: 'mse' | 'crossEntropy';
  metric: string; // what the loss is, for labels
  baseline: number;
  baselineName: string;
  solvedBelow: number;
  batch(rng: Rng, B: number): TaskBatch;
}

export function addingTask(T: number): Task {
  if (!Number.isSafeInteger(T) || T < 2) throw new RangeError(`adding: steps: expected an integer >= 2, got ${T}`);
  return {
    name: 'adding', T, inputSize: 2, outputSize: 1, manyToOne: true, loss: 'mse', metric: 'MSE',
    baseline: 1 / 6, baselineName: 'predict the mean (0.167)', solvedBelow: 0.01,
    batch(rng, B) {
      const x = new Float32Array(T * B * 2), y = new Float32Array(B);
      const half = Math.floor(T / 2);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) x[(t * B + b) * 2] = rng.next();
        const i1 = Math.floor(rng.next() * half), i2 = half + Math.floor(rng.next() * (T - half));
        x[(i1 * B + b) * 2 + 1] = 1;
        x[(i2 * B + b) * 2 + 1] = 1;
        y[b] = x[(i1 * B + b) * 2] + x[(i2 * B + b) * 2];
      }
      return { x: new Tensor(x, [T, B, 2]), values: new Tensor(y, [B, 1]) };
    },
  };
}

export const COPY_SYMBOLS = 8;
export const COPY_LENGTH = 10;

/** gap: blanks between the pattern and the delimiter, plus one (the delimiter's step). */
export function copyTask(gap: number): Task {
  if (!Number.isSafeInteger(gap) || gap < 1) throw new RangeError(`copy: steps: expected an integer >= 1, got ${gap}`);
  const A = COPY_SYMBOLS, K = COPY_LENGTH, T = gap + 2 * K, I = A + 2;
  return {
    name: 'copy', T, inputSize: I, outputSize: A, manyToOne: false, loss: 'crossEntropy', metric: 'cross-entropy (nats)',
    baseline: Math.log(A), baselineName: `guess (ln ${A} = ${Math.log(A).toFixed(2)})`, solvedBelow: 0.05,
    batch(rng, B) {
      const x = new Float32Array(T * B * I), y = new Int32Array(T * B).fill(-100);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          let s: number;
          if (t < K) {
            s = Math.floor(rng.next() * A);
            y[(gap + K + t) * B + b] = s; // recalled K steps after the delimiter
          } else s = t === gap + K - 1 ? A + 1 : A;
          x[(t * B + b) * I + s] = 1;
        }
      }
      return { x: new Tensor(x, [T, B, I]), classes: y };
    },
  };
}
