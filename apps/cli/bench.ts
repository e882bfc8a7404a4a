// cellstate bench: runs the benchmark suite (bench/run.mjs) in a child process with the given
// flags and passes its output and exit code through.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXIT, type CommandSpec, type FlagValues } from './args';
import type { Io } from './io';

export const spec: CommandSpec = {
  name: 'bench',
  usage: 'bench [--quick] [--only LIST] [--json FILE]',
  summary: 'Run the benchmark suite (bench/run.mjs) and print its table.\nEvery workload runs on native (1 thread, all cores) and ts, checked against ts before timing.',
  flags: {
    quick: { type: 'boolean', desc: 'small budget and short sequences (a smoke check)' },
    only: { type: 'string', desc: 'comma-separated workloads, e.g. S1,M,T2', placeholder: 'LIST' },
    json: { type: 'string', desc: 'also write the results as JSON', placeholder: 'FILE' },
  },
  details: 'The exit code is the benchmark\'s: 1 when an implementation disagrees with ts.',
};

export async function run(values: FlagValues, _pos: string[], _io: Io): Promise<number> {
  const script = path.resolve(__dirname, '..', '..', 'bench', 'run.mjs');
  if (!fs.existsSync(script)) throw new Error(`cellstate bench: the benchmark script is missing (${script})`);
  const args: string[] = [];
  if (values.quick) args.push('--quick');
  if (values.only !== undefined) args.push('--only', values.only as string);
  if (values.json !== undefined) args.push('--json', values.json as string);
  const r = spawnSync(process.execPath, [script, ...args], { stdio: 'inherit' });
  if (r.error) throw new Error(`cellstate bench: could not run ${script}: ${r.error.message}`);
  return r.status ?? EXIT.failure;
}
