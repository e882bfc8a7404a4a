// Shared by `cellstate train` and `cellstate demo`: turn flags into a model description (fresh, or
// the saved one when resuming), run the training with a progress line and Ctrl-C handling, and
// print the summary. Ctrl-C once: finish the current step, save a checkpoint, exit 130; twice:
// quit at once (the last periodic checkpoint stays intact: writes are atomic).

import { backend } from 'cellstate';
import { CharLM, readMeta, vocabularyOf, META_FORMAT, META_VERSION, type CharLMMeta } from '../charlm/model';
import { trainCharLM, type TrainResult } from '../charlm/train';
import { get, UsageError, type FlagSpec, type FlagValues } from './args';
import { ProgressLine } from './progress';
import type { Io } from './io';

export const MODEL_FLAGS: Record<string, FlagSpec> = {
  hidden: { type: 'int', min: 1, desc: 'LSTM hidden size', placeholder: 'N' },
  layers: { type: 'int', min: 1, max: 16, desc: 'stacked LSTM layers', placeholder: 'N' },
  embed: { type: 'int', min: 1, desc: 'character embedding size', placeholder: 'N' },
  'seq-len': { type: 'int', min: 1, desc: 'characters per training window (BPTT length)', placeholder: 'N' },
  batch: { type: 'int', min: 1, desc: 'windows per step', placeholder: 'N' },
  lr: { type: 'number', min: 0, minExclusive: true, desc: 'Adam learning rate', placeholder: 'X' },
  seed: { type: 'int', min: 0, desc: 'seed of the weights and of the batch order', placeholder: 'N' },
};

export const MODEL_DEFAULTS = { hidden: 256, layers: 1, embed: 48, 'seq-len': 64, batch: 32, lr: 0.002, seed: 1 };

const META_OF_FLAG: Record<string, keyof CharLMMeta> = { hidden: 'hidden', layers: 'layers', embed: 'embed', 'seq-len': 'seqLen', batch: 'batch', lr: 'lr', seed: 'seed' };

/** The model to train: from the flags, or the saved one (flags may not contradict it). */
export function resolveMeta(values: FlagValues, text: string, textSource: string, out: string, resume: boolean, where: string): CharLMMeta {
  if (resume) {
    const saved = readMeta(out);
    if (!saved) throw new Error(`${where}: --resume: no model in ${out} to resume (train without --resume first)`);
    for (const [flag, key] of Object.entries(META_OF_FLAG)) {
      if (values[flag] !== undefined && values[flag] !== saved[key]) {
        throw new UsageError(`${where}: --${flag} ${values[flag]} differs from the saved model's ${saved[key]} in ${out}; drop the flag to resume, or train into a new --out`);
      }
    }
    const unknown = new CharLM(saved.vocab, { embed: 1, hidden: 1, layers: 1 }, 0).unknownChars(text);
    if (unknown.length) throw new Error(`${where}: the text has characters the saved model's vocabulary lacks: ${unknown.slice(0, 20).map((c) => JSON.stringify(c)).join(' ')}`);
    return { ...saved, textSource, textChars: text.length };
  }
  const vocab = vocabularyOf(text);
  if (vocab.length < 2) throw new Error(`${where}: the text needs at least 2 different characters`);
  const v = (k: keyof typeof MODEL_DEFAULTS) => get(values, k, MODEL_DEFAULTS[k]);
  return {
    format: META_FORMAT, version: META_VERSION, vocab,
    embed: v('embed'), hidden: v('hidden'), layers: v('layers'), seqLen: v('seq-len'), batch: v('batch'), lr: v('lr'), seed: v('seed'),
    textSource, textChars: text.length,
  };
}

export function describeRun(meta: CharLMMeta, resume: boolean): string {
  const b = backend();
  const V = meta.vocab.length, E = meta.embed, H = meta.hidden, L = meta.layers;
  let params = V * E + H * V + V;
  for (let k = 0; k < L; k++) params += 4 * H * ((k === 0 ? E : H) + H + 2);
  return `${resume ? 'resuming' : 'training'} a character LSTM (${L} layer${L > 1 ? 's' : ''} of ${H}, ${V} symbols, ${(params / 1e6).toFixed(2)}M parameters) ` +
    `on ${meta.textChars.toLocaleString('en-US')} characters of ${meta.textSource}; backend ${b.name}${b.name === 'native' ? ` (${b.isa}, ${b.threads} threads)` : ''}`;
}

export async function runTraining(io: Io, args: {
  meta: CharLMMeta; text: string; out: string; resume: boolean; maxSteps: number | null; seconds: number | null; checkpointEvery: number;
}): Promise<TrainResult> {
  io.out(describeRun(args.meta, args.resume) + '\n');
  const bar = new ProgressLine(io.stderr, 'chars');
  let stop = false;
  const hardStop = () => process.exit(130);
  const onSigint = () => {
    stop = true;
    bar.done();
    io.err('interrupted: saving a checkpoint (Ctrl-C again to quit at once)\n');
    process.removeListener('SIGINT', onSigint);
    process.once('SIGINT', hardStop);
  };
  process.on('SIGINT', onSigint);
  try {
    const r = await trainCharLM({
      ...args,
      onStep: (s) => bar.update({ step: s.step, firstStep: s.firstStep, maxSteps: s.maxSteps, elapsedMs: s.elapsedMs, budgetMs: s.budgetMs, loss: s.loss, rate: s.charsPerSec }),
      stopRequested: () => stop,
    });
    bar.done();
    const why = { steps: 'step limit reached', time: 'time budget used', interrupted: 'interrupted' }[r.reason];
    io.out(`trained ${r.step} steps (${r.stepsThisRun} in this run, ${why}) in ${r.seconds.toFixed(1)} s at ${Math.round(r.charsPerSec).toLocaleString('en-US')} chars/s; ` +
      `loss ${fmtLoss(r.loss)}${r.valLoss === null ? '' : `, validation ${fmtLoss(r.valLoss)}`} nats/char\n`);
    io.out(`checkpoint: ${r.checkpoint}\n`);
    return r;
  } finally {
    process.removeListener('SIGINT', onSigint);
    process.removeListener('SIGINT', hardStop);
  }
}

function fmtLoss(v: number): string {
  return Number.isFinite(v) ? v.toFixed(3) : '-';
}
