// The accuracy contract of bf16 and int8 inference (issue #21, item 5), measured:
//
//   node scripts/quant-accuracy.mjs [--json FILE] [--md FILE] [--steps N] [--quick] [--strict]
//
// 1. Bench workloads (bench/workloads.mjs, those marked `quant`) with their random weights (the
//    default init with seed 1, U(±1/√H) like PyTorch's; inputs U(-1, 1) with seed 2, as the bench
//    runs them): max and mean abs output error of model.quantize(p) against the same model in
//    fp32. Stream compares every step's output.
// 2. The demo's character model (apps/cli/demo.ts: Embedding -> LSTM(128) -> Linear on the Brown
//    adventure corpus, lr 0.003, seed 1), trained here for --steps steps (default 1000, about
//    what the demo's one minute reaches on 2 cores) with the fixed seed; then the validation loss
//    (cross-entropy, nats/char, over every whole window of the last 5% of the text) of the fp32
//    net and of net.quantize(p) (the LSTM quantized; Embedding and Linear stay fp32), and the
//    change in %. Targets: bf16 within 0.5%, int8 within 2% (--strict: exit 1 when missed).
//
// Runs on the default backend (native where built; quantize() runs a precision on ts where the
// backend has no kernels for it; the JSON records which). Prints a markdown table; --quick uses
// small shapes, 50 steps and 20k characters (a smoke check, not the contract).
// Without quantize() in this build it says so and writes { available: false }.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { crossEntropy, Rng, Tensor, tensor } from 'cellstate';
import { makeOurRunner } from '../bench/impls.mjs';
import { absErrors, PRECISIONS, quantizeAvailable } from '../bench/quant.mjs';
import { WORKLOADS } from '../bench/workloads.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const TARGET_LOSS_CHANGE_PCT = { bf16: 0.5, int8: 2 };

function parseArgs(argv) {
  const a = { json: null, md: null, steps: 1000, quick: false, strict: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--json') a.json = argv[++i];
    else if (argv[i] === '--md') a.md = argv[++i];
    else if (argv[i] === '--steps') a.steps = Number(argv[++i]);
    else if (argv[i] === '--quick') a.quick = true;
    else if (argv[i] === '--strict') a.strict = true;
    else throw new Error(`quant-accuracy: unknown argument ${argv[i]} (see the top of scripts/quant-accuracy.mjs)`);
  }
  if (!Number.isInteger(a.steps) || a.steps < 1) throw new RangeError(`quant-accuracy: --steps: expected a positive integer, got ${a.steps}`);
  if (a.quick) a.steps = Math.min(a.steps, 50);
  return a;
}

/** Every output of workload w (stream: all steps) for one precision. */
function outputs(w, precision) {
  const r = makeOurRunner(w, undefined, 'fp32');
  let model = r.model;
  if (precision !== 'fp32') model = model.quantize(precision);
  if (w.kind !== 'stream') return { y: model.forward(r.x).output.data, backend: model.backend };
  const { T, B, I, H } = w, y = new Float32Array(T * B * H);
  let st = null;
  for (let t = 0; t < T; t++) {
    const { output, state } = model.step(tensor(r.x.data.subarray(t * B * I, (t + 1) * B * I), [B, I]), st);
    y.set(output.data, t * B * H);
    st = state;
  }
  return { y, backend: model.backend };
}

function workloadErrors(quick) {
  const rows = [];
  for (const w0 of WORKLOADS.filter((w) => w.quant)) {
    const w = quick ? { ...w0, T: Math.min(w0.T, 5), B: Math.min(w0.B, 4), I: Math.min(w0.I, 64), H: Math.min(w0.H, 64) } : w0;
    const ref = outputs(w, 'fp32').y;
    for (const p of PRECISIONS) {
      const { y, backend } = outputs(w, p);
      const e = absErrors(y, ref);
      rows.push({ workload: w.name, kind: w.kind, cell: w.cell ?? 'lstm', B: w.B, T: w.T, I: w.I, H: w.H, precision: p, backend, maxAbs: e.max, meanAbs: e.mean });
      console.error(`  ${w.name} ${p}: max ${e.max.toExponential(2)}, mean ${e.mean.toExponential(2)} (${backend})`);
    }
  }
  return rows;
}

/** Mean cross-entropy (nats/char) over every whole window of `val`, in batches of 64 windows. */
function validationLoss(net, val, T) {
  const n = Math.floor((val.length - 1) / T);
  let sum = 0;
  for (let first = 0; first < n; first += 64) {
    const B = Math.min(64, n - first);
    const x = new Float32Array(T * B), y = new Int32Array(T * B);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        x[t * B + b] = val[(first + b) * T + t];
        y[t * B + b] = val[(first + b) * T + t + 1];
      }
    }
    sum += crossEntropy(net.forward(new Tensor(x, [T, B])).output, y).loss * B * T;
  }
  return { loss: sum / (n * T), windows: n };
}

async function charModel(steps, quick) {
  const { trainCharLM } = require(path.join(root, 'dist-apps', 'charlm', 'train.js'));
  const { vocabularyOf, META_FORMAT, META_VERSION } = require(path.join(root, 'dist-apps', 'charlm', 'model.js'));
  const { BROWN_SOURCE, loadBrownAdventure } = require(path.join(root, 'dist-apps', 'text', 'brown.js'));
  const { DEMO_DEFAULTS } = require(path.join(root, 'dist-apps', 'cli', 'demo.js'));
  const text = loadBrownAdventure(quick ? 20000 : undefined);
  const d = DEMO_DEFAULTS;
  const meta = {
    format: META_FORMAT, version: META_VERSION, vocab: vocabularyOf(text), embed: d.embed, hidden: d.hidden, layers: d.layers,
    seqLen: d['seq-len'], batch: d.batch, lr: d.lr, seed: d.seed, textSource: BROWN_SOURCE, textChars: text.length,
  };
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-quant-accuracy-'));
  try {
    const t0 = performance.now();
    const r = await trainCharLM({ meta, text, out, resume: false, maxSteps: steps, seconds: null, checkpointEvery: steps + 1 });
    console.error(`  trained ${r.step} steps in ${((performance.now() - t0) / 1000).toFixed(1)} s (training loss ${r.loss.toFixed(3)})`);
    // The validation part as trainCharLM splits it: the last 5% of the ids.
    const ids = r.model.encode(text);
    const val = ids.subarray(ids.length - Math.floor(ids.length * 0.05));
    const fp32 = validationLoss(r.model.net, val, meta.seqLen);
    const rows = [{ precision: 'fp32', loss: fp32.loss, changePct: 0, backend: r.model.lstm.backend }];
    for (const p of PRECISIONS) {
      const net = r.model.net.quantize(p);
      const q = validationLoss(net, val, meta.seqLen);
      const changePct = (100 * (q.loss - fp32.loss)) / fp32.loss;
      rows.push({ precision: p, loss: q.loss, changePct, targetPct: TARGET_LOSS_CHANGE_PCT[p], meetsTarget: Math.abs(changePct) <= TARGET_LOSS_CHANGE_PCT[p], backend: net.layers[1].backend });
    }
    return {
      model: `Embedding(${meta.vocab.length}, ${meta.embed}) -> LSTM(${meta.embed}, ${meta.hidden}) -> Linear(${meta.hidden}, ${meta.vocab.length})`,
      corpus: BROWN_SOURCE, chars: text.length, steps: r.step, lr: meta.lr, seed: meta.seed, seqLen: meta.seqLen, batch: meta.batch,
      validation: { chars: val.length, windows: fp32.windows }, rows,
    };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

export function markdown(report) {
  if (!report.available) return `bf16/int8 accuracy: ${report.reason}.`;
  const L = [];
  const c = report.charModel;
  L.push(`Accuracy of bf16 and int8 inference against fp32 (\`scripts/quant-accuracy.mjs\`, ${report.date.slice(0, 10)}, commit ${report.commit ?? '?'}${report.quick ? ', quick mode' : ''}).`);
  L.push('');
  L.push(`Character model: ${c.model}, trained ${c.steps} steps (lr ${c.lr}, seed ${c.seed}) on ${c.chars.toLocaleString('en-US')} characters of the ${c.corpus}; validation loss over ${c.validation.windows} windows of ${c.seqLen} (the last 5%).`);
  L.push('');
  L.push('| precision | validation loss (nats/char) | change vs fp32 | target | met | backend |');
  L.push('| --- | ---: | ---: | ---: | :---: | --- |');
  for (const r of c.rows) {
    L.push(`| ${r.precision} | ${r.loss.toFixed(4)} | ${r.precision === 'fp32' ? '' : `${r.changePct >= 0 ? '+' : ''}${r.changePct.toFixed(3)}%`} | ${r.targetPct === undefined ? '' : `±${r.targetPct}%`} | ${r.meetsTarget === undefined ? '' : r.meetsTarget ? 'yes' : 'NO'} | ${r.backend} |`);
  }
  L.push('');
  L.push('Bench workloads with their random weights (default init U(±1/√H), seed 1; inputs U(-1, 1)), output error vs fp32:');
  L.push('');
  L.push('| workload | bf16 max abs | bf16 mean abs | int8 max abs | int8 mean abs | backend |');
  L.push('| --- | ---: | ---: | ---: | ---: | --- |');
  for (const name of [...new Set(report.workloads.map((r) => r.workload))]) {
    const b = report.workloads.find((r) => r.workload === name && r.precision === 'bf16');
    const i = report.workloads.find((r) => r.workload === name && r.precision === 'int8');
    const label = `${name} ${b.cell === 'gru' ? 'GRU ' : ''}${b.kind} B=${b.B} T=${b.T} I=${b.I} H=${b.H}`;
    L.push(`| ${label} | ${b.maxAbs.toExponential(2)} | ${b.meanAbs.toExponential(2)} | ${i.maxAbs.toExponential(2)} | ${i.meanAbs.toExponential(2)} | ${b.backend === i.backend ? b.backend : `${b.backend} / ${i.backend}`} |`);
  }
  return L.join('\n');
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let commit = null;
  try { commit = require('node:child_process').execSync('git rev-parse --short HEAD', { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { /* not a checkout */ }
  let report;
  if (!quantizeAvailable()) {
    report = { date: new Date().toISOString(), commit, available: false, reason: 'model.quantize() is not available in this build' };
  } else {
    console.error('bench workloads:');
    const workloads = workloadErrors(args.quick);
    console.error(`character model (${args.steps} steps):`);
    const charModelReport = await charModel(args.steps, args.quick);
    report = { date: new Date().toISOString(), commit, quick: args.quick, available: true, targets: TARGET_LOSS_CHANGE_PCT, workloads, charModel: charModelReport };
  }
  const md = markdown(report);
  console.log(md);
  if (args.json) fs.writeFileSync(args.json, JSON.stringify(report, null, 1) + '\n');
  if (args.md) fs.writeFileSync(args.md, md + '\n');
  if (args.strict && report.available && report.charModel.rows.some((r) => r.meetsTarget === false)) process.exitCode = 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => { console.error(e); process.exitCode = 1; });
}
