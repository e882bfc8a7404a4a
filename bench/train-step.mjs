#!/usr/bin/env node
// The cost of one training step on the adding problem (docs/experiments.md, "The cost of a step"):
// the model and the step `cellstate experiment adding` trains (LSTM hidden 64 → last step →
// Linear, MSE, Adam, gradient norm clipped to 1, through Trainer.step), at each T, batch and thread
// count. Each cell runs in a fresh process (no cache or pool carried over from another cell), with
// 3 warm-up steps, then the median of --reps timed steps (fresh batches each, as in training).
//
//   npm run bench:train-step -- [--T 100,1000,2000,5000] [--batch 32,64] [--threads 1,2] [--reps 9] [--out FILE.json]
//
// Needs the native backend (`npm install` builds it) and the apps (`npm run build:ts`). Keep the
// machine otherwise idle; compare only figures from one run.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? def : args[i + 1];
};
const list = (s) => s.split(',').map((v) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`train-step: expected positive integers, got ${v}`);
  return n;
});

if (opt('child', null) !== null) {
  // One cell: T, B, threads, reps; prints { ms: [...] } as JSON.
  const [T, B, threads, reps] = list(opt('child'));
  const { Adam, Rng, Trainer, backend, setThreads } = await import('cellstate');
  const { addingTask } = await import('../dist-apps/experiments/tasks.js');
  const { buildModel } = await import('../dist-apps/experiments/compare.js');
  if (backend().name !== 'native') throw new Error(`train-step: needs the native backend, got ${backend().name}`);
  setThreads(threads, 'native');
  const task = addingTask(T);
  const net = buildModel(task, 'lstm', 64, 1, { chronoInit: T });
  const trainer = new Trainer({ model: net, optimizer: new Adam(net, { lr: 0.01 }), loss: 'mse', clipNorm: 1, seed: 1 });
  const rng = new Rng(18);
  const ms = [];
  for (let i = 0; i < 3 + reps; i++) {
    const b = task.batch(rng, B);
    const t0 = performance.now();
    trainer.step({ x: b.x, targets: { values: b.values } });
    if (i >= 3) ms.push(performance.now() - t0);
  }
  process.stdout.write(JSON.stringify({ ms, isa: backend().isa }));
  process.exit(0);
}

const Ts = list(opt('T', '100,1000,2000,5000'));
const Bs = list(opt('batch', '32,64'));
const threadCounts = list(opt('threads', '1,2'));
const reps = list(opt('reps', '9'))[0];
const out = opt('out', null);
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const rows = [];
let isa = null;
console.log(`training step, LSTM hidden 64 on the adding problem: median of ${reps} steps, ms`);
console.log(['T', ...Bs.flatMap((B) => threadCounts.map((n) => `B=${B} ${n}T`))].map((s) => s.padStart(10)).join(''));
for (const T of Ts) {
  const cells = [];
  for (const B of Bs) {
    for (const threads of threadCounts) {
      const r = JSON.parse(execFileSync(process.execPath, [self, '--child', `${T},${B},${threads},${reps}`], { encoding: 'utf8', maxBuffer: 1 << 20 }));
      isa = r.isa;
      const m = median(r.ms);
      rows.push({ T, batch: B, threads, medianMs: m, ms: r.ms });
      cells.push(m);
    }
  }
  console.log([String(T), ...cells.map((m) => m.toFixed(1))].map((s) => s.padStart(10)).join(''));
}
if (out) {
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  fs.writeFileSync(out, JSON.stringify({ what: 'Trainer.step on the adding problem, LSTM hidden 64, Adam, clip 1', reps, cpu, cores: os.cpus().length, isa, date: new Date().toISOString(), node: process.version, rows }, null, 2) + '\n');
  console.log(`wrote ${out}`);
}
