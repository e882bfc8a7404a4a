// The benchmark's --no-amx: builds bench/peers/no-amx.c (see there) once per content into the OS's
// temp folder with the C compiler the machine has, and returns its path for LD_PRELOAD. Linux x64
// only (the tile state is Linux's to grant); a clear error elsewhere or without a compiler.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const source = path.join(path.dirname(fileURLToPath(import.meta.url)), 'no-amx.c');

export function noAmxPreload() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`bench: --no-amx: only on linux-x64 (AMX is granted per process by Linux), here ${process.platform}-${process.arch}`);
  }
  const text = fs.readFileSync(source);
  const out = path.join(os.tmpdir(), `cellstate-no-amx-${crypto.createHash('sha256').update(text).digest('hex').slice(0, 12)}.so`);
  if (fs.existsSync(out)) return out;
  const tmp = `${out}.${process.pid}`;
  const cc = process.env.CC || 'cc';
  const r = spawnSync(cc, ['-O2', '-shared', '-fPIC', '-o', tmp, source, '-ldl'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(`bench: --no-amx: building ${source} with ${cc} failed: ${r.error?.message ?? r.stderr.trim()}`);
  }
  fs.renameSync(tmp, out);
  return out;
}
