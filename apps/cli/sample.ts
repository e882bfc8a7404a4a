// cellstate sample --model DIR: stream generated characters from a trained character model, one
// LSTM.step() per character, drawn with a seeded generator.

import { loadCharLM } from '../charlm/model';
import { generate } from '../charlm/sample';
import { freshSeed } from '../internals';
import { EXIT, get, UsageError, type CommandSpec, type FlagValues } from './args';
import type { Io } from './io';

export const spec: CommandSpec = {
  name: 'sample',
  usage: 'sample --model DIR [--prime TEXT --length N --temperature X --seed N]',
  summary: 'Generate text from a model trained by `cellstate train` or `cellstate demo`, streamed character by character.',
  flags: {
    model: { type: 'string', desc: 'the model folder (required)', placeholder: 'DIR' },
    prime: { type: 'string', desc: 'text to start from (printed, then continued)', placeholder: 'TEXT' },
    length: { type: 'int', min: 0, desc: 'characters to generate', placeholder: 'N', default: '500' },
    temperature: { type: 'number', min: 0, desc: 'softmax temperature; 0 always takes the most likely character', placeholder: 'X', default: '0.8' },
    seed: { type: 'int', min: 0, desc: 'seed of the draws (printed on stderr when not given)', placeholder: 'N' },
  },
};

export async function run(values: FlagValues, _pos: string[], io: Io): Promise<number> {
  const where = 'cellstate sample';
  const dir = values.model as string | undefined;
  if (!dir) throw new UsageError(`${where}: --model DIR is required (see cellstate sample --help)`);
  const { model } = loadCharLM(dir);
  const prime = (values.prime as string | undefined) ?? '';
  const unknown = model.unknownChars(prime);
  if (unknown.length) throw new UsageError(`${where}: --prime: characters not in the model's vocabulary: ${unknown.map((c) => JSON.stringify(c)).join(' ')}`);
  let seed = values.seed as number | undefined;
  if (seed === undefined) {
    seed = freshSeed();
    io.err(`seed ${seed}\n`);
  }
  io.out(prime);
  for (const ch of generate(model, { prime, length: get(values, 'length', 500), temperature: get(values, 'temperature', 0.8), seed })) io.out(ch);
  io.out('\n');
  return EXIT.ok;
}
