#!/usr/bin/env node
// Leak soak: many inference calls and training steps on one process, printing RSS and V8 external
// memory (typed arrays, the addon's packed weights) at intervals after a warm-up, and the growth.
//   node --expose-gc scripts/soak.mjs [--inference 100000] [--train 1000] [--backend native] [--json]
//                                     [--sync-steps 2000 --sync-size 512]
// Exits 1 when memory after the run exceeds the post-warm-up level by more than --max-growth-mb
// (default 32) for RSS or 8 for external. test/soak.test.mjs runs a short version.
// Then a synchronous training loop (forwardTrain -> backward -> Adam step, I = H = --sync-size,
// T = 16, B = 8) that never yields to the event loop and never calls gc(): work that is freed only
// when the event loop turns (N-API finalizers) piles up there. Its RSS over the last quarter may
// exceed its RSS over the second quarter by at most --max-sync-growth-pct (default 5).
import { Adam, LSTM, Linear, mseLoss, Rng, Sequential, Tensor, Tanh } from 'cellstate';

const arg = (n, d) => { const i = process.argv.indexOf(`--${n}`); return i > 0 ? process.argv[i + 1] : d; };
const inference = Number(arg('inference', 100000)), steps = Number(arg('train', 1000)), backend = arg('backend', 'native');
const maxRss = Number(arg('max-growth-mb', 32)), maxExt = Number(arg('max-external-growth-mb', 8));
const json = process.argv.includes('--json');
const gc = globalThis.gc ?? (() => {});
const MB = 1024 * 1024;
const mem = () => { gc(); gc(); const m = process.memoryUsage(); return { rss: m.rss / MB, external: m.external / MB, heap: m.heapUsed / MB }; };
const log = (phase, i, m) => { if (!json) console.log(`${phase.padEnd(9)} ${String(i).padStart(7)}  rss ${m.rss.toFixed(1)} MB  external ${m.external.toFixed(2)} MB  heap ${m.heap.toFixed(1)} MB`); };

const rng = new Rng(1);
const rand = (shape) => new Tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-1, 1)), shape);
const lstm = new LSTM({ inputSize: 8, hiddenSize: 32, seed: 1, backend });
const gru = new LSTM({ inputSize: 8, hiddenSize: 16, numLayers: 2, bidirectional: true, seed: 2, backend });
const xs = Array.from({ length: 16 }, (_, i) => rand([4 + (i % 5), 2, 8]));

async function inferencePhase(n, from) {
  for (let i = from; i < from + n; i++) {
    const x = xs[i % xs.length];
    if (i % 4 === 3) await (i % 8 === 3 ? lstm : gru).forwardAsync(x, { lengths: [x.shape[0], 1 + (i % x.shape[0])] });
    else if (i % 4 === 2) gru.forward(x);
    else if (i % 4 === 1) lstm.step(x.data.length ? new Tensor(x.data.subarray(0, 16), [2, 8]) : x);
    else lstm.forward(x);
  }
}
const net = new Sequential([new LSTM({ inputSize: 8, hiddenSize: 32, seed: 3, backend }), new Tanh(), new Linear({ inFeatures: 32, outFeatures: 1, seed: 4 })]);
const opt = new Adam(net, { lr: 1e-3 });
function trainPhase(n) {
  for (let i = 0; i < n; i++) {
    const x = xs[i % xs.length];
    const f = net.forwardTrain(x);
    const loss = mseLoss(f.output, new Tensor(new Float32Array(f.output.size).fill(0.1), f.output.shape));
    opt.step(net.backward(f.cache, { dOutput: loss.grad }).grads);
  }
}

const warmInf = Math.min(2000, Math.ceil(inference / 10)), warmTrain = Math.min(100, Math.ceil(steps / 10));
await inferencePhase(warmInf, 0);
trainPhase(warmTrain);
const base = mem();
log('warm-up', 0, base);
const slices = 10;
let peak = base;
for (let s = 1; s <= slices; s++) {
  await inferencePhase(Math.round(inference / slices), s * 1e6);
  trainPhase(Math.round(steps / slices));
  const m = mem();
  peak = { rss: Math.max(peak.rss, m.rss), external: Math.max(peak.external, m.external), heap: Math.max(peak.heap, m.heap) };
  log('after', `${s}/${slices}`, m);
}
const end = mem();
const growth = { rss: end.rss - base.rss, external: end.external - base.external, heap: end.heap - base.heap };

const syncSteps = Number(arg('sync-steps', 2000)), syncSize = Number(arg('sync-size', 512)), maxSyncPct = Number(arg('max-sync-growth-pct', 5));
// RSS is sampled every 1% of the loop after gc() (when exposed: it frees the loop's JS garbage
// but not memory that waits for the event loop, where N-API finalizers run) and a 20 ms pause
// without yielding (Atomics.wait) for V8's background sweeper. Samples still scatter by +-20%
// (glibc returns freed heap to the OS or not, depending on what sits at its top), so growth is
// the mean of the last quarter's samples over the mean of the second quarter's (the allocator
// settles over the first few hundred steps): a trend, not one sample against another.
const pause = new Int32Array(new SharedArrayBuffer(4));
const settledRss = () => { gc(); gc(); Atomics.wait(pause, 0, 0, 20); return process.memoryUsage().rss / MB; };
const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
function syncTrainPhase() {
  const T = 16, B = 8, n = syncSize;
  const model = new LSTM({ inputSize: n, hiddenSize: n, seed: 5, backend });
  const adam = new Adam(model, { lr: 1e-4 });
  const x = rand([T, B, n]);
  const every = Math.max(1, Math.round(syncSteps / 100));
  const samples = []; // MB, every 1% of the loop
  const t0 = Date.now();
  for (let i = 0; i < syncSteps; i++) {
    const f = model.forwardTrain(x);
    adam.step(model.backward(f.cache, { dOutput: f.output }).grads);
    if ((i + 1) % every === 0) samples.push(Math.round(settledRss() * 10) / 10);
  }
  const q = Math.max(1, Math.floor(samples.length / 4));
  const warm = mean(samples.slice(q, 2 * q)), end = mean(samples.slice(-q));
  return { steps: syncSteps, size: n, rssWarm: warm, rssEnd: end, growthPct: (100 * (end - warm)) / warm, samples, seconds: (Date.now() - t0) / 1000 };
}
const syncTrain = syncSteps > 0 ? syncTrainPhase() : null;
const result = { backend, inference, trainSteps: steps, base, end, peak, growth, syncTrain, gcExposed: !!globalThis.gc };
console.log(json ? JSON.stringify(result) : `growth: rss ${growth.rss.toFixed(1)} MB, external ${growth.external.toFixed(2)} MB, heap ${growth.heap.toFixed(1)} MB (limits ${maxRss} / ${maxExt} MB)` +
  (syncTrain ? `\nsync training loop (${syncTrain.steps} steps, I = H = ${syncTrain.size}, ${syncTrain.seconds.toFixed(1)} s): rss ${syncTrain.rssWarm.toFixed(1)} MB over the second quarter, ${syncTrain.rssEnd.toFixed(1)} MB over the last (means): ${syncTrain.growthPct.toFixed(1)}% (limit ${maxSyncPct}%); samples ${Math.round(Math.min(...syncTrain.samples))}-${Math.round(Math.max(...syncTrain.samples))} MB` : ''));
process.exit(growth.rss > maxRss || growth.external > maxExt || (syncTrain && syncTrain.growthPct > maxSyncPct) ? 1 : 0);
