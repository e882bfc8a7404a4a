// cellstate info: which backend runs, on which ISA and how many threads, and how the addon was
// found and built; --json for scripts. With --model FILE: what a model file (model.save) or a
// Trainer checkpoint holds instead: its layers, output shapes, parameter counts, dtype and layout
// (a folder written by `cellstate train` is read through its checkpoint.safetensors).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { backend, decodeSafetensors, load, Sequential } from 'cellstate';
import { fileCall, loadNative, summarizeLayers } from '../internals';
import { EXIT, UsageError, type CommandSpec, type FlagValues } from './args';
import type { Io } from './io';

export const spec: CommandSpec = {
  name: 'info',
  usage: 'info [--json] [--model FILE]',
  summary: 'Print the backend in use, its ISA and threads, and details of the native addon build;\nwith --model, the layers, output shapes and parameters of a model file or checkpoint.',
  flags: {
    json: { type: 'boolean', desc: 'print one JSON object instead' },
    model: { type: 'string', placeholder: 'FILE', desc: 'a model file (model.save), a Trainer checkpoint, or a folder written by train: print its summary' },
  },
};

export interface ModelInfo {
  file: string;
  format: string; // 'model' (model.save) or 'checkpoint' (Trainer.saveCheckpoint)
  type: string; // 'Sequential', or the single layer's type
  dtype: string;
  precision: string; // 'fp32', or 'bf16' / 'int8' for a model made by quantize()
  layout: 'batch-first' | 'time-major';
  parameters: number;
  layers: { name: string; layer: string; output: string; params: number }[];
  summary: string;
}

/** What a model file holds; errors name the file (a missing file, not a model, a bad config, ...). */
export function collectModelInfo(file: string): ModelInfo {
  let f = file;
  if (fs.existsSync(f) && fs.statSync(f).isDirectory()) {
    const ck = path.join(f, 'checkpoint.safetensors');
    if (!fs.existsSync(ck)) throw new Error(`--model: ${file} is a folder without checkpoint.safetensors (expected a model file or a folder written by train)`);
    f = ck;
  }
  const bytes = fileCall('--model', f, () => fs.readFileSync(f));
  let loaded: ReturnType<typeof load>;
  try {
    loaded = load(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    if (e instanceof Error) e.message = e.message.replace('model bytes', f); // name the file, not the bytes read once here
    throw e;
  }
  const format = decodeSafetensors(bytes, { source: f }).metadata.format === 'cellstate.checkpoint' ? 'checkpoint' : 'model';
  const model = loaded instanceof Sequential ? loaded : new Sequential([loaded]);
  const layers = summarizeLayers(model.layers, model.batchFirst, model.layerNames);
  return {
    file: f, format, type: loaded instanceof Sequential ? 'Sequential' : loaded.constructor.name, dtype: model.dtype, precision: model.precision,
    layout: model.batchFirst ? 'batch-first' : 'time-major', parameters: model.numParameters(), layers, summary: model.summary(),
  };
}

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
  if (values.model !== undefined) {
    if (values.model === '') throw new UsageError('cellstate info: --model: expected a file path, got ""');
    const m = collectModelInfo(String(values.model));
    if (values.json) {
      const { summary: _s, ...rest } = m;
      io.out(JSON.stringify(rest, null, 1) + '\n');
    } else {
      io.out(`file: ${m.file} (${m.format === 'checkpoint' ? 'Trainer checkpoint' : 'model file'})\n${m.summary}\ndtype: ${m.dtype}, layout: ${m.layout}${m.precision === 'fp32' ? '' : `, precision: ${m.precision}`}\n`);
    }
    return EXIT.ok;
  }
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
