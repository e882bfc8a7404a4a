// Training progress. On a TTY: one progress bar line per epoch, redrawn at most every 100 ms, with
// the running loss, throughput (sequences/s and tokens/s) and ETA. Otherwise: one JSON object per
// epoch per line (the epoch log fit() returns), for machines. 'none' prints nothing.

/**
 * Where fit() writes its progress: any object with a `write(text)` method, such as
 * `process.stderr`, a file stream or a test's collector. `isTTY` picks the bar in 'auto' mode and
 * `columns` bounds its width. Written out so the published types need no `@types/node`.
 */
export interface ProgressStream {
  /** Writes one chunk of progress text. */
  write(chunk: string): unknown;
  /** A terminal: 'auto' progress draws a bar instead of JSON lines. */
  readonly isTTY?: boolean;
  /** The terminal's width in characters; a bar line is cut to it. @default 200 */
  readonly columns?: number;
}

/** How fit() reports progress: 'bar' on a terminal, 'json' lines, 'none', or 'auto' (bar on a TTY, else JSON). */
export type ProgressMode = 'auto' | 'bar' | 'json' | 'none';

/** One epoch of fit(): what fit() returns per epoch and progress 'json' prints. */
export interface EpochLog {
  /** 1-based, counting every epoch this trainer ran (resumes continue the count) */
  epoch: number;
  /** mean training loss over the epoch's counted terms */
  loss: number;
  /** Mean loss on the validation data (with validation data only). */
  valLoss?: number;
  /** fit's `metrics` on the training batches (only when asked for) */
  metrics?: Record<string, number>;
  /** the same on the validation data */
  valMetrics?: Record<string, number>;
  /** optimizer steps taken this epoch */
  steps: number;
  /** steps skipped by the non-finite 'skip' policy */
  skipped: number;
  /** learning rate of the last step */
  lr: number;
  /** Wall time of the epoch, in seconds. */
  seconds: number;
  /** Training throughput: sequences per second. */
  seqPerSec: number;
  /** Training throughput: valid (unpadded) steps per second. */
  tokPerSec: number;
}

export class Progress {
  private readonly mode: 'bar' | 'json' | 'none';
  private t0 = 0;
  private lastDraw = 0;
  private epoch = 0;
  private totalEpochs = 0;

  constructor(mode: ProgressMode, private readonly stream: ProgressStream) {
    this.mode = mode === 'auto' ? (stream.isTTY ? 'bar' : 'json') : mode;
  }

  epochStart(epoch: number, totalEpochs: number): void {
    this.epoch = epoch;
    this.totalEpochs = totalEpochs;
    this.t0 = performance.now();
    this.lastDraw = 0;
  }

  /** After each batch: done/total batches, running loss, sequences and tokens so far this epoch. */
  batch(done: number, total: number, loss: number, seqs: number, tokens: number): void {
    if (this.mode !== 'bar') return;
    const now = performance.now();
    if (done < total && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const sec = Math.max((now - this.t0) / 1000, 1e-3);
    const width = 24, filled = Math.round((done / total) * width);
    const eta = done > 0 ? (sec / done) * (total - done) : 0;
    const line = `epoch ${this.epoch}/${this.totalEpochs} [${'='.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total}` +
      ` loss ${loss.toFixed(4)} ${fmt(seqs / sec)} seq/s ${fmt(tokens / sec)} tok/s ETA ${eta.toFixed(1)}s`;
    this.stream.write(`\r${line.slice(0, (this.stream.columns ?? 200) - 1)}\x1b[K`);
  }

  epochEnd(log: EpochLog): void {
    if (this.mode === 'json') this.stream.write(JSON.stringify(log) + '\n');
    else if (this.mode === 'bar') {
      const val = log.valLoss === undefined ? '' : ` val ${log.valLoss.toFixed(4)}`;
      const m = (pre: string, r?: Record<string, number>) => Object.entries(r ?? {}).map(([k, v]) => ` ${pre}${k} ${v.toFixed(4)}`).join('');
      this.stream.write(`\repoch ${log.epoch}/${this.totalEpochs} loss ${log.loss.toFixed(4)}${m('', log.metrics)}${val}${m('val_', log.valMetrics)} ${fmt(log.seqPerSec)} seq/s ${fmt(log.tokPerSec)} tok/s ${log.seconds.toFixed(1)}s\x1b[K\n`);
    }
  }
}

function fmt(v: number): string {
  return v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(0);
}
