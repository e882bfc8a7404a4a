// Metrics for Trainer.fit / evaluate: 'accuracy' and user functions, reported per epoch for the
// training batches and the validation data.
//
// The contract of a metric function: fn(output, targets) -> a finite number for ONE batch (or one
// tbptt chunk), given exactly what a custom loss gets (the output in the trainer's layout: per
// step [T, B, C] time-major, or per sequence [B, C]; targets.classes or targets.values laid out
// per output row; targets.mask marks the rows that count, null when all do). The epoch's value
// is the mean of the batch values weighted by each batch's counted rows (mask ones, or every row
// without a mask): for a metric that is itself a mean over the counted rows (as accuracy is),
// that is exactly the mean over every counted row of the epoch. A batch with no counted row is
// not passed to the function. Over data with no counted row at all the value is NaN.
//
// 'accuracy' needs class targets (loss 'crossEntropy', or classTargets: true): the share of
// counted rows whose largest output (the first, on ties) is at the target class.

import { argRangeError, argTypeError, describe } from '../errors';
import type { Tensor } from '../tensor';
import type { Targets } from './batch';

/** A metric over one batch: the output and targets as a custom loss receives them -> a finite number. */
export type MetricFn = (output: Tensor, targets: Targets) => number;
/** 'accuracy', a function (reported under its name), or a function with the name to report it under. */
export type Metric = 'accuracy' | MetricFn | {
  /** The name it is reported under in EpochLog.metrics. */
  name: string;
  /** The metric. */
  fn: MetricFn;
};

export interface ResolvedMetric {
  name: string;
  /** The batch's value and weight (its counted rows); null when no row counts. */
  batch(where: string, output: Tensor, targets: Targets): { value: number; count: number } | null;
}

/** Counted rows of a batch: mask ones, or every row of the output ([..., C]: leading dims flattened). */
function countedRows(output: Tensor, t: Targets): number {
  if (t.mask) {
    let n = 0;
    for (let r = 0; r < t.mask.length; r++) n += t.mask[r];
    return n;
  }
  const C = output.shape[output.shape.length - 1];
  return C === 0 ? 0 : output.size / C;
}

function accuracy(): ResolvedMetric {
  return {
    name: 'accuracy',
    batch(_where, output, t) {
      const cls = t.classes!;
      const C = output.shape[output.shape.length - 1], y = output.data;
      let correct = 0, count = 0;
      for (let r = 0; r < cls.length; r++) {
        if (t.mask && !t.mask[r]) continue;
        let best = 0;
        for (let j = 1; j < C; j++) if (y[r * C + j] > y[r * C + best]) best = j;
        if (best === cls[r]) correct++;
        count++;
      }
      return count ? { value: correct / count, count } : null;
    },
  };
}

function userMetric(name: string, fn: MetricFn): ResolvedMetric {
  return {
    name,
    batch(where, output, t) {
      const count = countedRows(output, t);
      if (count === 0) return null;
      const v: unknown = fn(output, t);
      if (typeof v !== 'number' || !Number.isFinite(v)) throw argRangeError(where, `metric '${name}'`, 'a finite number for the batch', describe(v));
      return { value: v, count };
    },
  };
}

/** The `metrics` option, read once: names unique; 'accuracy' only with class targets. */
export function readMetrics(where: string, value: unknown, classTargets: boolean): ResolvedMetric[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw argTypeError(where, 'metrics', "an array of metrics ('accuracy', functions, or { name, fn })", value);
  const list = Array.from(value as unknown[]);
  const out: ResolvedMetric[] = [];
  list.forEach((m, i) => {
    const arg = `metrics[${i}]`;
    let r: ResolvedMetric;
    if (m === 'accuracy') {
      if (!classTargets) throw argTypeError(where, arg, "'accuracy' with class targets (loss 'crossEntropy', or classTargets: true); for other targets pass a function", m);
      r = accuracy();
    } else if (typeof m === 'function') {
      r = userMetric(m.name || `metric${i}`, m as MetricFn);
    } else if (m !== null && typeof m === 'object' && typeof (m as { fn?: unknown }).fn === 'function' && typeof (m as { name?: unknown }).name === 'string' && (m as { name: string }).name !== '') {
      r = userMetric((m as { name: string }).name, (m as { fn: MetricFn }).fn);
    } else {
      throw argTypeError(where, arg, "'accuracy', a function (output, targets) => number, or { name, fn }", m);
    }
    if (out.some((o) => o.name === r.name)) throw argTypeError(where, arg, `a metric name not already used (give it one with { name, fn })`, r.name);
    out.push(r);
  });
  return out;
}

/** Sums of batch values weighted by their counts, per metric. */
export class MetricTotals {
  private readonly sums: number[];
  private readonly counts: number[];
  constructor(private readonly metrics: readonly ResolvedMetric[]) {
    this.sums = metrics.map(() => 0);
    this.counts = metrics.map(() => 0);
  }

  add(where: string, output: Tensor, targets: Targets): void {
    this.metrics.forEach((m, i) => {
      const r = m.batch(where, output, targets);
      if (!r) return;
      this.sums[i] += r.value * r.count;
      this.counts[i] += r.count;
    });
  }

  /** name -> weighted mean (NaN where no row counted). */
  result(): Record<string, number> {
    const out: Record<string, number> = {};
    this.metrics.forEach((m, i) => { out[m.name] = this.counts[i] ? this.sums[i] / this.counts[i] : NaN; });
    return out;
  }
}
