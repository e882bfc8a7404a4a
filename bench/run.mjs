// Benchmark: the standard LSTM/GRU workloads on every implementation, side by side in one run.
//
//   npm run bench                       all workloads, all implementations
//   npm run bench -- --quick            small budget, for smoke checks (CI checks it runs and agrees)
//   npm run bench -- --only S1,M,T2     a subset
//   npm run bench -- --json FILE        also write results (machine, versions, commit) as JSON
//   npm run bench -- --base DIR         also run DIR's own build (another checkout, built) of native
//                                       and ts beside ours, interleaved: rows "base ..." and new/base
//   npm run bench -- --no-peers         our implementations only (with --base: a before/after check)
//   npm run bench -- --impls "wasm 1T,ts,tfjs-wasm 1T"   only these rows (names as printed)
//   npm run bench -- --cap 60           a first call slower than 60 s ends that cell (default 10)
//   npm run bench -- --no-amx           every row as on a CPU without AMX (Linux x64; its AVX-512 kept:
//                                       bench/peers/no-amx.c), e.g. to check the AVX512-BF16/VNNI rows
//
// Method. Every implementation (native with 1 thread and with all cores, ts, and the peers:
// ONNX Runtime with 1 and all threads, TensorFlow.js on its cpu and wasm backends) runs in its own
// worker process (bench/worker.mjs), so no library's threads spin beside another's, and a fresh
// one for every workload, so no workload inherits another's heap. Before timing,
// each worker checks its answer against our ts backend on the same weights (a fast wrong answer is
// a failed row, not a result). Then the workers are interleaved in rounds — each runs a short
// slice in turn, so machine drift hits all alike — until each has run for the time budget and at
// least 5 calls (3 for slow ones); we report the median with min/max. A first call slower than
// the cap ends that cell ("> cap"). FLOPs: forward 2·B·T·G·(I+H) per layer-direction, training
// step 3x forward. "% peak" divides by the addon's FMA probe on the same number of threads.
//
// Low precision (issue #21), on the workloads marked `quant`: our `native bf16` / `native int8`
// (model.quantize(p), checked against ts in the same precision; "not available in this build"
// without quantize()), ONNX Runtime's DynamicQuantizeLSTM (`ort-int8`, LSTM inference) and, where a
// Python with torch is found ($CELLSTATE_PYTHON, python3), PyTorch fp32 / bf16 / dynamic int8
// (`torch ...`, inference), each with 1 and all threads. Peers' bf16/int8 outputs are checked
// against fp32 within bench/quant.mjs's tolerance. Ratios compare rows of the same precision.
import { execSync, fork, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { availableBackends } from 'cellstate';
import { flops, WORKLOADS } from './workloads.mjs';
import { supports } from './impls.mjs';
import { loadError as tfjsLoadError, loadTfjs, tfjsThreads } from './peers/tfjs.mjs';
import { loadError as ortLoadError, loadOrt } from './peers/ort.mjs';
import { findTorch, loadError as torchLoadError } from './peers/pytorch.mjs';
import { noAmxPreload } from './peers/no-amx.mjs';
import { cpuFlags, lowPrecisionIsa, lowPrecisionUnavailable, PRECISIONS, quantizeAvailable } from './quant.mjs';

const require = createRequire(import.meta.url);
const { loadNative } = require('../dist/backend/native.js');
const { encodeFmaPeak } = require('../dist/backend/schema.gen.js');
const here = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const a = { quick: false, only: null, impls: null, cap: null, json: null, base: null, peers: true, torch: null, noAmx: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--quick') a.quick = true;
    else if (argv[i] === '--only') a.only = argv[++i].split(',');
    else if (argv[i] === '--impls') a.impls = argv[++i].split(',').map((s) => s.trim());
    else if (argv[i] === '--cap') a.cap = Number(argv[++i]);
    else if (argv[i] === '--json') a.json = argv[++i];
    else if (argv[i] === '--base') a.base = path.resolve(argv[++i]);
    else if (argv[i] === '--no-peers') a.peers = false;
    else if (argv[i] === '--no-amx') a.noAmx = true;
    else if (argv[i] === '--help') { console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(0, 13).join('\n')); process.exit(0); }
    else throw new Error(`bench: unknown argument ${argv[i]} (see --help)`);
  }
  return a;
}

/** The implementations available here; `peer` marks other libraries (their rows set the ratios). */
async function implementations(args) {
  const impls = [];
  const hw = availableBackends().includes('native') ? loadNative().addon.info().hardwareThreads : 1;
  const threadCounts = hw > 1 ? [1, hw] : [1];
  if (availableBackends().includes('native')) {
    for (const n of threadCounts) impls.push({ name: `native ${n}T`, backend: 'native', threads: n });
    // Without quantize() or native kernels in this build the rows are listed, and say so, without running.
    const isa = lowPrecisionIsa();
    for (const p of PRECISIONS) {
      const unavailable = lowPrecisionUnavailable('native', p);
      for (const n of threadCounts) impls.push({ name: `native ${p} ${n}T`, backend: 'native', precision: p, threads: n, unavailable, note: isa.notes[p] });
    }
  }
  // The WebAssembly build of the same kernels (wasm/cellstate.wasm): the fallback where the addon cannot
  // load. More threads: helper worker threads splitting inference forwards by batch slices (training rows run on one).
  if (availableBackends().includes('wasm')) for (const n of threadCounts) impls.push({ name: `wasm ${n}T`, backend: 'wasm', threads: n });
  impls.push({ name: 'ts', backend: 'ts', threads: 1 });
  if (args.base) {
    // The same implementations from another checkout (its bench/worker.mjs loads its own build).
    if (!fs.existsSync(path.join(args.base, 'bench', 'worker.mjs')) || !fs.existsSync(path.join(args.base, 'dist', 'index.js'))) {
      throw new Error(`bench: --base ${args.base}: expected a built checkout (bench/worker.mjs and dist/index.js)`);
    }
    for (const i of impls.filter((i) => !i.precision)) impls.push({ ...i, name: `base ${i.name}`, root: args.base });
  }
  if (!args.peers) return impls;
  if (!loadOrt()) console.log(`onnxruntime-node peer not run: ${ortLoadError}`);
  else {
    impls.push({ name: 'ort 1T', backend: 'ort', threads: 1, peer: true });
    if (hw > 1) impls.push({ name: `ort ${hw}T`, backend: 'ort', threads: hw, peer: true });
    for (const n of threadCounts) impls.push({ name: `ort-int8 ${n}T`, backend: 'ort', precision: 'int8', threads: n, peer: true });
  }
  args.torch = findTorch();
  if (!args.torch) console.log(`pytorch peer not run: ${torchLoadError}`);
  else {
    const t = args.torch;
    console.log(`pytorch peer: torch ${t.torch} (${t.python}; oneDNN ${t.mkldnn ? 'on' : 'off'}, qengine ${t.qengine}, CPU capability ${t.cpuCapability ?? 'n/a'})`);
    for (const p of ['fp32', ...PRECISIONS]) {
      for (const n of threadCounts) impls.push({ name: `torch ${p} ${n}T`, backend: 'torch', precision: p, threads: n, peer: true, python: t.python, version: `torch ${t.torch}` });
    }
  }
  if (!(await loadTfjs())) console.log(`tfjs peers not run: ${tfjsLoadError}`);
  else {
    impls.push({ name: 'tfjs-cpu', backend: 'tfjs', tfBackend: 'cpu', threads: 1, peer: true });
    impls.push({ name: `tfjs-wasm ${tfjsThreads('wasm')}T`, backend: 'tfjs', tfBackend: 'wasm', threads: tfjsThreads('wasm'), peer: true });
  }
  return impls;
}

/** A worker process for one implementation, with a request/reply helper. */
function spawnWorker(impl) {
  const child = fork(path.join(impl.root ? path.join(impl.root, 'bench') : here, 'worker.mjs'), [JSON.stringify(impl)], {
    env: { ...process.env, CELLSTATE_QUIET: '1' }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  let pending = null;
  child.on('message', (m) => { if (pending) { const p = pending; pending = null; p(m); } });
  const ready = new Promise((r) => (pending = r));
  const ask = (msg) => new Promise((resolve) => { pending = resolve; child.send(msg); });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return { impl, ready, ask, exit: () => { child.send({ cmd: 'exit' }); return exited; } };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function versions() {
  const v = {};
  for (const p of ['onnxruntime-node', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm']) {
    try { v[p] = require(`${p}/package.json`).version; } catch { v[p] = null; }
  }
  v.cellstate = require('../package.json').version;
  return v;
}

function machine(args) {
  const cpus = os.cpus();
  const flags = cpuFlags().filter((f) => /^(avx|fma|sse4|neon|amx|f16c)/.test(f));
  let commit = null;
  try { commit = execSync('git rev-parse --short HEAD', { cwd: here, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { /* not a checkout */ }
  const native = loadNative().addon?.info() ?? null;
  const { notes: _, ...lowPrecision } = lowPrecisionIsa();
  const pytorch = args.torch ? { ...args.torch, ready: undefined } : { skipped: torchLoadError };
  const amxDenied = process.env.CELLSTATE_BENCH_NO_AMX === '1';
  return { cpu: cpus[0]?.model, cores: cpus.length, flags, amxDenied, lowPrecision, quantize: quantizeAvailable(), node: process.version, platform: `${process.platform}-${process.arch}`, commit, native, versions: versions(), pytorch };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.noAmx && process.env.CELLSTATE_BENCH_NO_AMX !== '1') {
    // The whole run again with the library preloaded: this process (the FMA probe, the machine
    // record) and every worker and Python peer it starts inherit LD_PRELOAD.
    const preload = [noAmxPreload(), process.env.LD_PRELOAD].filter(Boolean).join(':');
    const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit', env: { ...process.env, LD_PRELOAD: preload, CELLSTATE_BENCH_NO_AMX: '1' },
    });
    process.exitCode = r.status ?? 1;
    return;
  }
  if (args.noAmx) console.log('AMX denied to every row (--no-amx): the AVX-512 kernels of ours and the peers run instead');
  // Quick mode only proves that every implementation runs and agrees: small shapes, tiny budgets.
  const budgetMs = args.quick ? 40 : 1500;
  if (args.cap !== null && !(args.cap > 0)) throw new Error(`bench: --cap: expected seconds > 0, got ${args.cap}`);
  const capMs = args.cap ? args.cap * 1000 : args.quick ? 1000 : 10000;
  const workloads = WORKLOADS.filter((w) => !args.only || args.only.includes(w.name))
    .map((w) => (args.quick ? { ...w, T: Math.min(w.T, 5), B: Math.min(w.B, 4), I: Math.min(w.I, 64), H: Math.min(w.H, 64) } : w));
  let impls = await implementations(args);
  if (args.impls) {
    const unknown = args.impls.filter((n) => !impls.some((i) => i.name === n));
    if (unknown.length) throw new Error(`bench: --impls: no row named ${unknown.map((n) => JSON.stringify(n)).join(', ')} here (rows: ${impls.map((i) => i.name).join(', ')})`);
    impls = impls.filter((i) => args.impls.includes(i.name));
  }
  const native = loadNative().addon;
  const peak = {};
  if (native) for (const n of new Set(impls.filter((i) => i.backend === 'native').map((i) => i.threads))) peak[n] = native.fmaPeak(...encodeFmaPeak({ threads: n }, new Float64Array(1)));
  const results = [];
  let failures = 0;
  for (const w of workloads) {
    // Fresh worker processes for every workload: a process that ran other shapes first carries
    // their allocator state (seen: native M 17% slower after S1 or S2 in the same process, as
    // glibc returned freed memory to the OS and each call paged its output in again).
    const workers = impls.filter((impl) => supports(w, impl) && !impl.unavailable).map(spawnWorker);
    await Promise.all(workers.map((k) => k.ready));
    const cells = workers.map((k) => ({ worker: k, impl: k.impl, times: [], error: null, capped: false, minReps: 5 }));
    for (const c of cells) {
      const r = await c.worker.ask({ cmd: 'load', w });
      if (r.error) { c.error = r.error.split('\n')[0]; failures++; continue; }
      if (r.warmMs > capMs) c.capped = true;
      if (args.quick) c.minReps = 2;
      else if (r.warmMs > budgetMs / 3) c.minReps = 3; // long calls: fewer repetitions for a median
    }
    const spent = cells.map(() => 0);
    for (let round = 0; round < 1000; round++) {
      let busy = false;
      for (let k = 0; k < cells.length; k++) {
        const c = cells[k];
        if (c.error || c.capped || (spent[k] >= budgetMs && c.times.length >= c.minReps)) continue;
        busy = true;
        const { times, error } = await c.worker.ask({ cmd: 'slice', ms: budgetMs / 5, capMs });
        if (error) { c.error = error.split('\n')[0]; failures++; continue; }
        c.times.push(...times);
        spent[k] += times.reduce((a, b) => a + b, 0);
        if (times.some((t) => t > capMs)) c.capped = true;
      }
      if (!busy) break;
    }
    const f = flops(w);
    for (const impl of impls.filter((i) => supports(w, i) && i.unavailable)) cells.push({ impl, times: [], error: null, capped: false });
    for (const c of cells) {
      const med = c.times.length ? median(c.times) : null;
      results.push({
        workload: w.name, kind: w.kind, cell: w.cell ?? 'lstm', layers: w.layers ?? 1, bidirectional: !!w.bidir,
        B: w.B, T: w.T, I: w.I, H: w.H, impl: c.impl.name, threads: c.impl.threads, peer: !!c.impl.peer,
        precision: c.impl.precision ?? 'fp32', version: c.impl.version ?? null, unavailable: c.impl.unavailable ?? null, note: c.impl.note ?? null,
        error: c.error, capped: c.capped, capMs, reps: c.times.length,
        ms: med, minMs: c.times.length ? Math.min(...c.times) : null, maxMs: c.times.length ? Math.max(...c.times) : null,
        gflops: med ? f / med / 1e6 : null,
        peakPct: med && c.impl.backend === 'native' && !c.impl.precision && peak[c.impl.threads] ? (100 * f / med / 1e6) / peak[c.impl.threads] : null,
      });
    }
    printWorkload(w, results.filter((r) => r.workload === w.name));
    await Promise.all(workers.map((k) => k.exit()));
  }
  if (Object.keys(peak).length) console.log(`FMA peak (probe): ${Object.entries(peak).map(([n, g]) => `${n}T ${g.toFixed(0)} GFLOP/s`).join(', ')}`);
  const report = { date: new Date().toISOString(), quick: args.quick, machine: machine(args), peak, results };
  if (args.json) {
    fs.mkdirSync(path.dirname(path.resolve(args.json)), { recursive: true });
    fs.writeFileSync(args.json, JSON.stringify(report, null, 1) + '\n');
    console.log(`wrote ${args.json}`);
  }
  console.log(`bench: ${results.length - failures} passed, ${failures} failed`);
  process.exitCode = failures ? 1 : 0;
}

function printWorkload(w, rows) {
  const best = Math.min(...rows.filter((r) => r.ms && r.impl.startsWith('native') && r.precision === 'fp32').map((r) => r.ms));
  // (base rows: another checkout's build, for before/after comparisons; they set no ratio but new/base)
  // Peers are compared within a precision: fp32 rows with fp32 peers, int8 with int8 peers.
  const bestPeerOf = (p) => Math.min(...rows.filter((r) => r.ms && r.peer && r.precision === p && !(r.capped && r.reps < 2)).map((r) => r.ms));
  const extra = `${w.cell === 'gru' ? ' GRU' : w.cell === 'lnlstm' ? ' LayerNormLSTM' : ''}${w.layers ? ` layers=${w.layers}` : ''}${w.bidir ? ' bidirectional' : ''}`;
  console.log(`\n${w.name} (${w.kind}${extra}) B=${w.B} T=${w.T} I=${w.I} H=${w.H}`);
  for (const r of rows) {
    let s;
    if (r.unavailable) s = r.unavailable;
    else if (r.error) s = `FAILED: ${r.error}`;
    else if (r.capped && r.reps < 2) s = `> ${(r.capMs / 1000).toFixed(0)} s`;
    else {
      s = `${r.ms.toFixed(3).padStart(10)} ms  [${r.minMs.toFixed(3)}..${r.maxMs.toFixed(3)}]  ${r.gflops.toFixed(1).padStart(7)} GFLOP/s`;
      if (w.kind === 'stream') s += `  ${(1000 * r.ms / w.T).toFixed(1)} µs/step`;
      if (r.peakPct != null) s += `  ${r.peakPct.toFixed(0).padStart(3)}% peak`;
      const bestPeer = bestPeerOf(r.precision);
      if (!r.peer && Number.isFinite(bestPeer)) s += `  ${(bestPeer / r.ms).toFixed(2)}x best ${r.precision === 'fp32' ? '' : `${r.precision} `}peer`;
      const fp32 = r.precision !== 'fp32' && !r.peer && rows.find((b) => b.impl === `native ${r.threads}T` && b.ms);
      if (fp32) s += `  ${(fp32.ms / r.ms).toFixed(2)}x fp32`;
      if (r.impl === 'ts' && Number.isFinite(best)) s += `  (best native ${(r.ms / best).toFixed(0)}x faster)`;
      const ts = r.impl.startsWith('wasm') && rows.find((b) => b.impl === 'ts' && b.ms);
      if (ts) s += `  ${(ts.ms / r.ms).toFixed(1)}x ts`;
      const tfw = r.impl.startsWith('wasm') && rows.find((b) => b.impl.startsWith('tfjs-wasm') && b.ms);
      if (tfw) s += `  ${(tfw.ms / r.ms).toFixed(2)}x ${tfw.impl}`;
      const base = rows.find((b) => b.impl === `base ${r.impl}` && b.ms);
      if (base) s += `  new/base ${(r.ms / base.ms).toFixed(3)}`;
    }
    if (r.note) s += `  (${r.note})`;
    console.log(`  ${r.impl.padEnd(18)} ${s}`);
  }
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
