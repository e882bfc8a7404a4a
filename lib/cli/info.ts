// cellstate info: which backend runs, on which ISA and how many threads, and how the addon was
// found and built; --json for scripts.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { backend } from '../backend';
import { loadNative } from '../backend/native';
import { EXIT, type CommandSpec, type FlagValues } from './args';
import type { Io } from './io';

export const spec: CommandSpec = {
  name: 'info',
  usage: 'info [--json]',
  summary: 'Print the backend in use, its ISA and threads, and details of the native addon build.',
  flags: { json: { type: 'boolean', desc: 'print one JSON object instead' } },
};

export function collectInfo(): Record<string, unknown> {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  const b = backend();
  const native = loadNative();
  const addonFile = native.file;
  const a = native.addon?.info();
  let built: string | null = null;
  if (addonFile) try { built = fs.statSync(addonFile).mtime.toISOString(); } catch { /* gone since loading */ }
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('CELLSTATE_')));
  return {
    cellstate: pkg.version, node: process.version, platform: `${process.platform}-${process.arch}`,
    backend: b.name, isa: b.isa, threads: b.threads, blas: b.blas,
    addon: a ? { file: addonFile ?? null, built, isa: a.isa, detectedIsa: a.detectedIsa, threads: a.threads, hardwareThreads: a.hardwareThreads, napiVersion: a.napiVersion, blas: a.blas } : null,
    addonProblems: native.causes,
    env,
  };
}

export async function run(values: FlagValues, _pos: string[], io: Io): Promise<number> {
  const i = collectInfo();
  if (values.json) {
    io.out(JSON.stringify(i, null, 1) + '\n');
    return EXIT.ok;
  }
  const a = i.addon as Record<string, unknown> | null;
  const rows: [string, unknown][] = [
    ['cellstate', i.cellstate], ['node', `${i.node} (${i.platform})`],
    ['backend', i.backend], ['isa', i.isa], ['threads', i.threads], ['blas', i.blas ?? 'none (own packed SGEMM)'],
  ];
  if (a) {
    rows.push(['addon', a.file], ['addon built', a.built], ['isa detected', `${a.detectedIsa}${a.isa !== a.detectedIsa ? ` (capped to ${a.isa})` : ''}`],
      ['hardware threads', a.hardwareThreads], ['N-API version', a.napiVersion]);
  } else rows.push(['addon', 'not loaded']);
  for (const c of i.addonProblems as string[]) rows.push(['addon problem', c]);
  for (const [k, v] of Object.entries(i.env as Record<string, string>)) rows.push([k, v]);
  for (const [k, v] of rows) io.out(`${(k + ':').padEnd(18)}${String(v)}\n`);
  return EXIT.ok;
}
