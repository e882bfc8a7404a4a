// cellstate train --text FILE: a character-level LSTM on the user's text; checkpoints every N
// steps into --out, resumable with --resume, Ctrl-C saves a final checkpoint.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXIT, get, UsageError, type CommandSpec, type FlagValues } from './args';
import { CHECKPOINT_FILE } from '../charlm/model';
import { MODEL_DEFAULTS, MODEL_FLAGS, resolveMeta, runTraining } from './charlm-run';
import type { Io } from './io';

export const spec: CommandSpec = {
  name: 'train',
  usage: 'train --text FILE [--hidden N --layers N --seq-len N --batch N --epochs N --lr X --out DIR --resume]',
  summary: 'Train a character-level LSTM language model on a text file (UTF-8).',
  flags: {
    text: { type: 'string', desc: 'the training text (required)', placeholder: 'FILE' },
    out: { type: 'string', desc: 'model folder: checkpoint.safetensors and charlm.json', placeholder: 'DIR', default: 'cellstate-model' },
    resume: { type: 'boolean', desc: 'continue the model in --out (its sizes, vocabulary and optimizer state); see below' },
    epochs: { type: 'number', min: 0, minExclusive: true, desc: 'train for this many passes over the text (a pass: text length / (batch x seq-len) steps)', placeholder: 'X', default: '1 unless --steps or --seconds' },
    steps: { type: 'int', min: 1, desc: 'stop after this many steps in total (counting resumed ones)', placeholder: 'N' },
    seconds: { type: 'number', min: 0, minExclusive: true, desc: 'stop after this much wall time', placeholder: 'X' },
    'checkpoint-every': { type: 'int', min: 1, desc: 'steps between checkpoints', placeholder: 'N', default: '500' },
    ...Object.fromEntries(Object.entries(MODEL_FLAGS).map(([k, f]) => [k, { ...f, default: String(MODEL_DEFAULTS[k as keyof typeof MODEL_DEFAULTS]) }])),
  },
  details: 'Training stops at the first limit reached (--epochs, --steps, --seconds). Sample from the result with\n`cellstate sample --model DIR`.\n\n' +
    '--resume continues from the last checkpoint in --out. If --out has the model\'s settings (charlm.json) but no\n' +
    'checkpoint yet (the run was killed before its first), nothing was trained: it starts at step 0 with the saved\n' +
    'settings and says so. A folder with no model at all is an error (train without --resume first).',
};

export async function run(values: FlagValues, _pos: string[], io: Io): Promise<number> {
  const where = 'cellstate train';
  const file = values.text as string | undefined;
  if (!file) throw new UsageError(`${where}: --text FILE is required (see cellstate train --help)`);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${where}: --text: cannot read ${file}: ${(e as Error).message}`);
  }
  const out = get(values, 'out', 'cellstate-model');
  let resume = get(values, 'resume', false);
  const meta = resolveMeta(values, text, path.basename(file), out, resume, where);
  if (resume && !fs.existsSync(path.join(out, CHECKPOINT_FILE))) {
    io.err(`${where}: --resume: ${out} has no checkpoint yet (the run that started it stopped before its first one): starting at step 0 with its saved settings\n`);
    resume = false;
  }
  let maxSteps = (values.steps as number | undefined) ?? null;
  const seconds = (values.seconds as number | undefined) ?? null;
  const epochs = values.epochs as number | undefined ?? (maxSteps === null && seconds === null ? 1 : undefined);
  if (epochs !== undefined) {
    const perEpoch = Math.max(1, Math.ceil((text.length * 0.95) / (meta.batch * meta.seqLen)));
    const byEpochs = Math.ceil(epochs * perEpoch);
    maxSteps = maxSteps === null ? byEpochs : Math.min(maxSteps, byEpochs);
  }
  const r = await runTraining(io, { meta, text, out, resume, maxSteps, seconds, checkpointEvery: get(values, 'checkpoint-every', 500) });
  if (r.reason === 'interrupted') return EXIT.interrupted;
  io.out(`sample from it: cellstate sample --model ${out}\n`);
  return EXIT.ok;
}
