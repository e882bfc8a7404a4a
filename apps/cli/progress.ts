// A progress line for step-based training under a step count and/or a time budget.
// On a TTY: one line redrawn at most every 100 ms, `[=====>     ] 42% step 310 loss 1.873 12.4k
// chars/s ETA 0:35`. Otherwise (pipes, logs, tests): the same fields as a plain line about every
// 10% of the way, so a log gets a few lines rather than thousands. The fraction done is the larger
// of steps/maxSteps and elapsed/budget, whichever limit will end the run first.
// (lib/train/progress.ts draws per-epoch bars for Trainer.fit; this run has no epochs.)

import type { Writable } from 'node:stream';

export interface ProgressFields {
  step: number;
  firstStep: number;
  maxSteps: number | null;
  elapsedMs: number;
  budgetMs: number | null;
  loss: number;
  rate: number; // units per second
}

export function formatRate(v: number): string {
  return v >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(0);
}

export function formatDuration(sec: number): string {
  const s = Math.max(0, Math.round(sec));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export class ProgressLine {
  private lastDraw = -Infinity;
  private nextTenth = 1;
  private drawn = false;
  private readonly tty: boolean;

  constructor(private readonly stream: Writable & { isTTY?: boolean; columns?: number }, private readonly unit: string) {
    this.tty = !!stream.isTTY;
  }

  /** Fraction done in [0, 1], or null when neither limit is set. */
  static fraction(p: ProgressFields): number | null {
    const fs: number[] = [];
    if (p.maxSteps !== null && p.maxSteps > p.firstStep) fs.push((p.step - p.firstStep) / (p.maxSteps - p.firstStep));
    if (p.budgetMs !== null && p.budgetMs > 0) fs.push(p.elapsedMs / p.budgetMs);
    return fs.length ? Math.min(1, Math.max(...fs)) : null;
  }

  static text(p: ProgressFields, unit: string, width = 24): string {
    const f = ProgressLine.fraction(p);
    const bar = f === null ? '' : `[${'='.repeat(Math.round(f * width)).padEnd(width)}] ${(100 * f).toFixed(0).padStart(3)}% `;
    const eta = f !== null && f > 0 ? ` ETA ${formatDuration((p.elapsedMs / 1000) * (1 - f) / f)}` : '';
    return `${bar}step ${p.step} loss ${Number.isFinite(p.loss) ? p.loss.toFixed(3) : '-'} ${formatRate(p.rate)} ${unit}/s${eta}`;
  }

  update(p: ProgressFields): void {
    const now = performance.now();
    if (this.tty) {
      if (now - this.lastDraw < 100) return;
      this.lastDraw = now;
      this.stream.write(`\r${ProgressLine.text(p, this.unit).slice(0, (this.stream.columns ?? 120) - 1)}\x1b[K`);
      this.drawn = true;
      return;
    }
    const f = ProgressLine.fraction(p);
    if (f === null ? p.step % 100 !== 0 : f * 10 < this.nextTenth) return;
    if (f !== null) this.nextTenth = Math.floor(f * 10) + 1;
    this.stream.write(ProgressLine.text(p, this.unit, 10) + '\n');
  }

  /** Ends the redrawn line (TTY) so later output starts on a fresh line. */
  done(): void {
    if (this.tty && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
