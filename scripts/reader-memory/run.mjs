#!/usr/bin/env node
// Memory per input byte of the file readers: each case runs in a FRESH child process
// (node --expose-gc --trace-gc), and the table (or --json) gives, per case, the peak growth of
// heapUsed + external and the peak growth of RSS during the run, divided by the input's size.
//
//   node scripts/reader-memory/run.mjs [--json] [--reader onnx] [--case <substring>]
//
// Cases: every other *.mjs file in this folder exports `cases`, an array of
//
//   { reader: 'onnx',                    // which reader (the table's worst figures are per reader)
//     name: 'empty nodes, 40 MB',        // unique within its file
//     make(): Uint8Array | object | Promise<Uint8Array | object>,  // the input (built before measuring)
//     run(input): void | Promise<void>,  // read it; throwing (a refusal) is an outcome, not a failure
//     size?(input): number }             // its size in bytes; default: a Uint8Array's / ArrayBuffer's
//                                        //   byteLength, else the byteLength of every ArrayBuffer (view)
//                                        //   in it plus the length of every string in it
//
// How the child measures (after make(), two full GCs, then the baseline):
// - heap: the largest heap size V8 reports before any GC during run() (--trace-gc; between GCs
//   the heap only grows, so this and the heap at the end give the peak), plus external memory
//   (ArrayBuffers) at the end of run() -- external memory freed during the run is not seen;
// - RSS: sampled every millisecond by a worker thread (process-wide), and the end value.
// A child that dies (a V8 abort, a signal) is reported as such: that is a failure.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : undefined; };

if (args[0] === '--child') await child(args[1], args[2]);
else await parent();

async function loadCases(file) {
  const mod = await import(pathToFileURL(join(here, file)).href);
  if (!Array.isArray(mod.cases)) throw new TypeError(`${file}: expected an export \`cases\` (an array)`);
  return mod.cases;
}

function inputSize(c, input) {
  if (c.size) return c.size(input);
  const seen = new Set();
  const walk = (v) => {
    if (typeof v === 'string') return v.length;
    if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return v.byteLength;
    if (v === null || typeof v !== 'object' || seen.has(v)) return 0;
    seen.add(v);
    return Object.values(v).reduce((a, x) => a + walk(x), 0);
  };
  return walk(input);
}

async function child(file, name) {
  const c = (await loadCases(file)).find((k) => k.name === name);
  let input = await c.make();
  const bytes = inputSize(c, input);
  global.gc(); global.gc();
  const m0 = process.memoryUsage();
  // RSS sampler: a worker thread reads the process's RSS while run() blocks this thread.
  const shared = new Float64Array(new SharedArrayBuffer(16));
  const sampler = new Worker(`const { workerData: s } = require('node:worker_threads');
    const a = new Float64Array(s); const v = new Int32Array(s, 8, 1);
    (function tick() { a[0] = Math.max(a[0], process.memoryUsage.rss()); if (!Atomics.load(v, 0)) setTimeout(tick, 1); })();`, { eval: true, workerData: shared.buffer });
  await new Promise((res) => setTimeout(res, 50));
  shared[0] = 0;
  process.stdout.write('MARK start\n');
  let outcome = 'ok';
  try {
    await c.run(input);
  } catch (e) {
    outcome = `${e?.name ?? typeof e}: ${String(e?.message ?? e).slice(0, 160)}`;
  }
  const m1 = process.memoryUsage();
  process.stdout.write('MARK end\n');
  Atomics.store(new Int32Array(shared.buffer, 8, 1), 0, 1);
  await sampler.terminate();
  input = null;
  const rss = Math.max(shared[0], m1.rss);
  process.stdout.write(`RESULT ${JSON.stringify({ bytes, outcome, base: m0, end: m1, peakRss: rss })}\n`);
}

/** The largest heap size (MB) a --trace-gc line reports before a GC, between the MARK lines. */
function peakHeapFromTrace(stdout) {
  const inRun = stdout.split('MARK start\n')[1]?.split('MARK end\n')[0] ?? '';
  let peak = 0;
  for (const m of inRun.matchAll(/: (?:Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Compact)[^\d]*([\d.]+) \(([\d.]+)\) ->/g)) peak = Math.max(peak, Number(m[1]));
  return peak * 2 ** 20;
}

async function parent() {
  const files = readdirSync(here).filter((f) => f.endsWith('.mjs') && f !== 'run.mjs').sort();
  const rows = [];
  for (const file of files) {
    for (const c of await loadCases(file)) {
      if (opt('reader') && c.reader !== opt('reader')) continue;
      if (opt('case') && !c.name.includes(opt('case'))) continue;
      const r = spawnSync(process.execPath, ['--expose-gc', '--trace-gc', fileURLToPath(import.meta.url), '--child', file, c.name], { encoding: 'utf8', maxBuffer: 1 << 28 });
      const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) {
        rows.push({ reader: c.reader, case: c.name, crashed: `exit ${r.status} signal ${r.signal}: ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ').slice(0, 300)}` });
        continue;
      }
      const res = JSON.parse(line.slice(7));
      const heapPeak = Math.max(peakHeapFromTrace(r.stdout), res.end.heapUsed);
      const heapGrowth = heapPeak - res.base.heapUsed + Math.max(0, res.end.external - res.base.external);
      const rssGrowth = res.peakRss - res.base.rss;
      rows.push({ reader: c.reader, case: c.name, bytes: res.bytes, heapPerByte: heapGrowth / res.bytes, rssPerByte: rssGrowth / res.bytes, heapGrowth, rssGrowth, outcome: res.outcome });
    }
  }
  const worst = {};
  for (const r of rows) {
    const w = (worst[r.reader] ??= { heapPerByte: 0, rssPerByte: 0, crashed: 0 });
    if (r.crashed) { w.crashed++; continue; }
    w.heapPerByte = Math.max(w.heapPerByte, r.heapPerByte);
    w.rssPerByte = Math.max(w.rssPerByte, r.rssPerByte);
  }
  if (args.includes('--json')) {
    console.log(JSON.stringify({ node: process.version, rows, worst }, null, 2));
  } else {
    const mb = (b) => (b / 2 ** 20).toFixed(1);
    console.log('reader       case                                              input MB  heap MB  heap/B   RSS MB  RSS/B  outcome');
    for (const r of rows) {
      if (r.crashed) { console.log(`${r.reader.padEnd(12)} ${r.case.padEnd(50)} CRASHED ${r.crashed}`); continue; }
      console.log(`${r.reader.padEnd(12)} ${r.case.padEnd(50)} ${mb(r.bytes).padStart(8)} ${mb(r.heapGrowth).padStart(8)} ${r.heapPerByte.toFixed(2).padStart(7)} ${mb(r.rssGrowth).padStart(8)} ${r.rssPerByte.toFixed(2).padStart(6)}  ${r.outcome.slice(0, 70)}`);
    }
    for (const [k, w] of Object.entries(worst)) console.log(`worst ${k}: heap ${w.heapPerByte.toFixed(2)} B/B, RSS ${w.rssPerByte.toFixed(2)} B/B${w.crashed ? `, ${w.crashed} CRASHED` : ''}`);
  }
  process.exitCode = rows.some((r) => r.crashed) ? 1 : 0;
}
