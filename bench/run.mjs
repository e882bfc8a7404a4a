// Benchmark: the standard LSTM workloads on every implementation, side by side in one run.
//
//   npm run bench                       all workloads, all implementations
//   npm run bench -- --quick            small budget, for smoke checks (CI checks it runs and agrees)
//   npm run bench -- --only S1,M,T2     a subset
//   npm run bench -- --json FILE        also write results (machine, versions, commit) as JSON
//
// Method: before timing, every implementation's output is compared with the ts backend on the
// same weights (a fast wrong answer is a failed row, not a result). Then implementations are
// interleaved in rounds (each takes a short slice in turn, so machine drift hits all alike) until
// each has run for the time budget; we report the median with min/max. A call slower than the cap
// is reported as "> cap". FLOPs: forward 2·B·T·4H·(I+H) per layer-direction, training step
// (forward + full BPTT) 3x forward. "% peak" divides by the addon's FMA probe on the same threads.
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GRU, LSTM, Rng, setThreads, tensor, toOnnx, availableBackends } from 'cellstate';
import { createRequire } from 'node:module';
import { loadError as tfjsLoadError, loadTfjs, makeTfjsRunner, tfjsSupports, tfjsThreads, toBatchFirst } from './peers/tfjs.mjs';
import { loadError as ortLoadError, loadOrt, makeOrtRunner, ortSupports } from './peers/ort.mjs';

const require = createRequire(import.meta.url);
const { loadNative } = require('../dist/backend/native.js');
const here = path.dirname(fileURLToPath(import.meta.url));

// cell: lstm (default) | gru; layers, bidir: the stacked / bidirectional rows; stream: one step
// per call (reported per step).
export const WORKLOADS = [
  { name: 'S1', kind: 'infer', B: 1, T: 100, I: 32, H: 64 },
  { name: 'S2', kind: 'infer', B: 1, T: 50, I: 256, H: 256 },
  { name: 'M', kind: 'infer', B: 32, T: 50, I: 256, H: 256 },
  { name: 'L', kind: 'infer', B: 64, T: 50, I: 512, H: 512 },
  { name: 'XL', kind: 'infer', B: 16, T: 25, I: 1024, H: 1024 },
  { name: 'T1', kind: 'train', B: 32, T: 50, I: 128, H: 128 },
  { name: 'T2', kind: 'train', B: 64, T: 50, I: 256, H: 256 },
  { name: 'T3', kind: 'train', B: 32, T: 25, I: 512, H: 512 },
  // GRU rows use the ONNX/Keras default candidate formula (linearBeforeReset: false), the one
  // every peer implements.
  { name: 'GRU-M', kind: 'infer', cell: 'gru', B: 32, T: 50, I: 256, H: 256 },
  { name: 'GRU-T2', kind: 'train', cell: 'gru', B: 64, T: 50, I: 256, H: 256 },
  { name: 'Bi2-M', kind: 'infer', layers: 2, bidir: true, B: 32, T: 50, I: 256, H: 256 },
  { name: 'Bi2-T2', kind: 'train', layers: 2, bidir: true, B: 64, T: 50, I: 256, H: 256 },
  { name: 'Stream', kind: 'stream', B: 1, T: 100, I: 256, H: 256 },
];

function parseArgs(argv) {
  const a = { quick: false, only: null, json: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--quick') a.quick = true;
    else if (argv[i] === '--only') a.only = argv[++i].split(',');
    else if (argv[i] === '--json') a.json = argv[++i];
    else if (argv[i] === '--help') { console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(0, 8).join('\n')); process.exit(0); }
    else throw new Error(`bench: unknown argument ${argv[i]} (see --help)`);
  }
  return a;
}

/** Forward: 2·B·T·G·(I_k + H) per layer-direction (G = 4H LSTM, 3H GRU); training step 3x forward. */
function flops(w) {
  const G = (w.cell === 'gru' ? 3 : 4) * w.H, D = w.bidir ? 2 : 1;
  let f = 0;
  for (let k = 0; k < (w.layers ?? 1); k++) f += D * 2 * w.B * w.T * G * ((k === 0 ? w.I : D * w.H) + w.H);
  return w.kind === 'train' ? 3 * f : f;
}

function randomTensor(rng, shape) {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = rng.uniform(-1, 1);
  return tensor(d, shape);
}

/**
 * An implementation: a name, a thread count to set before it runs, a backend, and whether it is
 * a peer (another library: its rows set the "x best peer" ratios).
 */
async function implementations() {
  const impls = [];
  if (availableBackends().includes('native')) {
    const hw = loadNative().addon.info().hardwareThreads;
    impls.push({ name: 'native 1T', backend: 'native', threads: 1 });
    if (hw > 1) impls.push({ name: `native ${hw}T`, backend: 'native', threads: hw });
  }
  impls.push({ name: 'ts', backend: 'ts', threads: 1 });
  if (!loadOrt()) console.log(`onnxruntime-node peer not run: ${ortLoadError}`);
  else {
    const hw = availableBackends().includes('native') ? loadNative().addon.info().hardwareThreads : 1;
    impls.push({ name: 'ort 1T', backend: 'ort', threads: 1, peer: true });
    if (hw > 1) impls.push({ name: `ort ${hw}T`, backend: 'ort', threads: hw, peer: true });
  }
  if (!(await loadTfjs())) console.log(`tfjs peers not run: ${tfjsLoadError}`);
  else {
    impls.push({ name: 'tfjs-cpu', backend: 'tfjs', tfBackend: 'cpu', threads: 1, peer: true });
    impls.push({ name: `tfjs-wasm ${tfjsThreads('wasm')}T`, backend: 'tfjs', tfBackend: 'wasm', threads: tfjsThreads('wasm'), peer: true });
  }
  return impls;
}

function supports(w, impl) {
  if (impl.backend === 'tfjs') return tfjsSupports(w);
  if (impl.backend === 'ort') return ortSupports(w);
  return true;
}

/** A runner for workload w on impl: { run() -> Float32Array } with seed-1 weights. */
async function makeRunner(w, impl) {
  if (impl.backend === 'tfjs') {
    const ours = makeOurRunner(w, { backend: 'ts' });
    return makeTfjsRunner(w, impl.tfBackend, ours.model, ours.x.data, ours.dOutput.data);
  }
  if (impl.backend === 'ort') {
    const ours = makeOurRunner(w, { backend: 'ts' });
    return makeOrtRunner(w, impl.threads, ours.model, ours.x, toOnnx);
  }
  return makeOurRunner(w, impl);
}

function makeOurRunner(w, impl) {
  const opts = { inputSize: w.I, hiddenSize: w.H, numLayers: w.layers ?? 1, bidirectional: !!w.bidir, seed: 1, backend: impl.backend };
  const model = w.cell === 'gru' ? new GRU({ ...opts, linearBeforeReset: false }) : new LSTM(opts);
  const rng = new Rng(2);
  const x = randomTensor(rng, [w.T, w.B, w.I]);
  const dOutput = randomTensor(rng, [w.T, w.B, (w.bidir ? 2 : 1) * w.H]);
  if (w.kind === 'infer') return { model, x, dOutput, run: () => model.forward(x).output.data };
  if (w.kind === 'stream') {
    // T calls of step(): one step at a time, as a streaming server would.
    const steps = Array.from({ length: w.T }, (_, t) => tensor(x.data.subarray(t * w.B * w.I, (t + 1) * w.B * w.I), [w.B, w.I]));
    return { model, x, dOutput, run: () => { let st = null, out = null; for (const xt of steps) ({ output: out, state: st } = model.step(xt, st)); return out.data; } };
  }
  return { model, x, dOutput, run: () => model.backward(model.forwardTrain(x).cache, { dOutput }).grads.weight_ih_l0.data };
}

/**
 * Compare with ts on the same weights, on the first steps only (ts is slow on big shapes):
 * inference outputs, or the input-weight gradient of a training step. Peers answer in their own
 * layout (batch-first output, transposed kernel), converted here before comparing.
 */
async function check(w, impl) {
  const short = { ...w, T: Math.min(w.T, 4) };
  const a = await makeRunner(short, impl), b = makeOurRunner(short, { backend: 'ts' });
  let ra = await a.run(), rb = b.run();
  a.dispose?.();
  if (impl.backend === 'tfjs') {
    const G = (w.cell === 'gru' ? 3 : 4) * w.H;
    if (w.kind === 'infer') rb = toBatchFirst(rb, short.T, short.B, w.H);
    else if (w.cell === 'gru') return null; // Keras reorders GRU blocks; its gradient layout differs (outputs are checked for GRU-M)
    else { const t = new Float32Array(rb.length); for (let r = 0; r < G; r++) for (let c = 0; c < w.I; c++) t[c * G + r] = rb[r * w.I + c]; rb = t; }
  }
  let worst = 0;
  for (let i = 0; i < rb.length; i++) worst = Math.max(worst, Math.abs(ra[i] - rb[i]) / (1e-3 + Math.abs(rb[i])));
  if (ra.length !== rb.length) return `output has ${ra.length} values, expected ${rb.length}`;
  return worst < 1e-2 ? null : `output differs from ts (worst relative error ${worst.toExponential(2)})`;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function machine() {
  const cpus = os.cpus();
  let flags = [];
  try { flags = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:\s*(.*)$/m)?.[1] ?? '').split(' ').filter((f) => /^(avx|fma|sse4|neon)/.test(f)); } catch { /* not Linux */ }
  let commit = null;
  try { commit = execSync('git rev-parse --short HEAD', { cwd: here, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { /* not a checkout */ }
  const native = loadNative().addon?.info() ?? null;
  return { cpu: cpus[0]?.model, cores: cpus.length, flags, node: process.version, platform: `${process.platform}-${process.arch}`, commit, native };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const budgetMs = args.quick ? 150 : 1500;
  const capMs = args.quick ? 2000 : 10000;
  const workloads = WORKLOADS.filter((w) => !args.only || args.only.includes(w.name))
    .map((w) => (args.quick ? { ...w, T: Math.min(w.T, 10) } : w));
  // stream rows report time per step
  const impls = await implementations();
  const native = loadNative().addon;
  const peak = {};
  if (native) for (const n of new Set(impls.filter((i) => i.backend === 'native').map((i) => i.threads))) peak[n] = native.fmaPeak(n);

  const results = [];
  let failures = 0;
  for (const w of workloads) {
    const cells = impls.filter((impl) => supports(w, impl)).map((impl) => ({ impl, times: [], error: null, capped: false }));
    for (const c of cells) {
      if (c.impl.backend !== 'ts') c.error = await check(w, c.impl);
      if (c.error) failures++;
    }
    const runners = [];
    for (const c of cells) runners.push(c.error ? null : await makeRunner(w, c.impl));
    // Warm-up, with the cap: a first call slower than the cap ends that cell. Cells whose single
    // call is long need fewer repetitions (3) to give a median.
    const minReps = cells.map(() => 5);
    const prepare = async (c) => {
      if (c.impl.backend === 'tfjs') await (await loadTfjs()).setBackend(c.impl.tfBackend);
      else setThreads(c.impl.threads);
    };
    for (let k = 0; k < cells.length; k++) {
      const c = cells[k];
      if (!runners[k]) continue;
      await prepare(c);
      const t0 = performance.now();
      await runners[k].run();
      const dt = performance.now() - t0;
      if (dt > capMs) c.capped = true;
      if (dt > budgetMs / 3) minReps[k] = 3;
    }
    // Interleaved rounds of ~budget/5 per implementation until each has its budget and its reps.
    const spent = cells.map(() => 0);
    for (let round = 0; round < 1000; round++) {
      let busy = false;
      for (let k = 0; k < cells.length; k++) {
        const c = cells[k];
        if (!runners[k] || c.capped || (spent[k] >= budgetMs && c.times.length >= minReps[k])) continue;
        busy = true;
        await prepare(c);
        const sliceEnd = performance.now() + budgetMs / 5;
        do {
          const t0 = performance.now();
          if (runners[k].async) await runners[k].run(); else runners[k].run();
          const dt = performance.now() - t0;
          c.times.push(dt);
          spent[k] += dt;
          if (dt > capMs) { c.capped = true; break; }
        } while (performance.now() < sliceEnd);
      }
      if (!busy) break;
    }
    runners.forEach((r) => r?.dispose?.());
    const f = flops(w);
    for (const c of cells) {
      const med = c.times.length ? median(c.times) : null;
      results.push({
        workload: w.name, kind: w.kind, B: w.B, T: w.T, I: w.I, H: w.H, impl: c.impl.name, threads: c.impl.threads,
        error: c.error, capped: c.capped, capMs, reps: c.times.length,
        ms: med, minMs: c.times.length ? Math.min(...c.times) : null, maxMs: c.times.length ? Math.max(...c.times) : null,
        peer: !!c.impl.peer,
        gflops: med ? f / med / 1e6 : null,
        peakPct: med && c.impl.backend === 'native' && peak[c.impl.threads] ? (100 * f / med / 1e6) / peak[c.impl.threads] : null,
      });
    }
    printWorkload(w, results.filter((r) => r.workload === w.name));
  }
  if (native) console.log(`FMA peak (probe): ${Object.entries(peak).map(([n, g]) => `${n}T ${g.toFixed(0)} GFLOP/s`).join(', ')}`);
  const report = { date: new Date().toISOString(), quick: args.quick, machine: machine(), peak, results };
  if (args.json) {
    fs.mkdirSync(path.dirname(path.resolve(args.json)), { recursive: true });
    fs.writeFileSync(args.json, JSON.stringify(report, null, 1) + '\n');
    console.log(`wrote ${args.json}`);
  }
  console.log(`bench: ${results.length - failures} passed, ${failures} failed`);
  process.exitCode = failures ? 1 : 0;
}

function printWorkload(w, rows) {
  const best = Math.min(...rows.filter((r) => r.ms && r.impl.startsWith('native')).map((r) => r.ms));
  const bestPeer = Math.min(...rows.filter((r) => r.ms && r.peer).map((r) => r.ms));
  const ts = rows.find((r) => r.impl === 'ts');
  const extra = `${w.cell === 'gru' ? ' GRU' : ''}${w.layers ? ` layers=${w.layers}` : ''}${w.bidir ? ' bidirectional' : ''}`;
  console.log(`\n${w.name} (${w.kind}${extra}) B=${w.B} T=${w.T} I=${w.I} H=${w.H}`);
  for (const r of rows) {
    let s;
    if (r.error) s = `FAILED: ${r.error}`;
    else if (r.capped && r.reps < 2) s = `> ${(r.capMs / 1000).toFixed(0)} s`;
    else {
      s = `${r.ms.toFixed(3).padStart(10)} ms  [${r.minMs.toFixed(3)}..${r.maxMs.toFixed(3)}]  ${r.gflops.toFixed(1).padStart(7)} GFLOP/s`;
      if (w.kind === 'stream') s += `  ${(1000 * r.ms / w.T).toFixed(1)} µs/step`;
      if (r.peakPct != null) s += `  ${r.peakPct.toFixed(0).padStart(3)}% peak`;
      if (!r.peer && Number.isFinite(bestPeer)) s += `  ${(bestPeer / r.ms).toFixed(1)}x best peer`;
      if (r.impl === 'ts' && Number.isFinite(best)) s += `  (best native ${(r.ms / best).toFixed(0)}x faster)`;
    }
    console.log(`  ${r.impl.padEnd(12)} ${s}`);
  }
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
