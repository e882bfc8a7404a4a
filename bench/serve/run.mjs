// Serving benchmark: bench/serve/server.mjs on 127.0.0.1, driven by autocannon with N concurrent
// clients, each request one sequence of random length 10..100 (I=64, H=256). For each mode
// ((a) one model call per request, (b) the batcher; `http`, no model, gives the ceiling HTTP and
// the load generator alone leave on this machine) and each client count it reports
// requests/s, p50/p99 latency, the server's event-loop delay and the batcher's batch sizes and
// compute times. Bounded: a fixed list of points, `--duration` seconds each (+1 s warm-up), one
// fresh server process per mode, loopback only. Before timing, the server's answers are checked
// bit for bit against the same model computed here.
//   node bench/serve/run.mjs [--backend native|ts|ts-pool] [--clients 1,16,64,256] [--duration 5]
//        [--modes direct,batch[,http]] [--maxBatch 32] [--maxDelayMs 2] [--concurrency n] [--threads n] [--json FILE]
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, availableParallelism, loadavg } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { LSTM, Rng, backend, tensor } from '../../dist/index.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const I = 64, H = 256;
const { values: a } = parseArgs({ options: {
  backend: { type: 'string', default: 'native' }, clients: { type: 'string', default: '1,16,64,256' },
  duration: { type: 'string', default: '5' }, modes: { type: 'string', default: 'direct,batch' },
  maxBatch: { type: 'string', default: '32' }, maxDelayMs: { type: 'string', default: '2' },
  concurrency: { type: 'string' }, threads: { type: 'string' }, json: { type: 'string' },
} });
const clients = a.clients.split(',').map(Number);
const duration = Math.min(Number(a.duration), 30); // never an unbounded run
if (!clients.every((c) => Number.isInteger(c) && c >= 1 && c <= 1024)) throw new RangeError('--clients: integers in [1, 1024]');

// 512 request bodies: raw float32 [T x 64], T uniform in 10..100, seeded.
const rng = new Rng(2024);
const bodies = Array.from({ length: 512 }, () => {
  const T = 10 + Math.floor(rng.next() * 91);
  const x = new Float32Array(T * I);
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform(-1, 1);
  return { x, T, body: Buffer.from(x.buffer) };
});

function startServer(mode) {
  const args = [path.join(here, 'server.mjs'), '--mode', mode, '--backend', a.backend, '--maxBatch', a.maxBatch, '--maxDelayMs', a.maxDelayMs];
  if (a.concurrency) args.push('--concurrency', a.concurrency);
  if (a.threads) args.push('--threads', a.threads);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, CELLSTATE_QUIET: '1' } });
  return new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve({ child, port: JSON.parse(String(d)).port }));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

async function post(port, body) {
  const r = await fetch(`http://127.0.0.1:${port}/infer`, { method: 'POST', body });
  if (r.status !== 200) throw new Error(`status ${r.status}: ${await r.text()}`);
  return new Float32Array(await r.arrayBuffer());
}

async function checkAnswers(port) {
  const local = new LSTM({ inputSize: I, hiddenSize: H, seed: 1, backend: a.backend === 'native' ? 'native' : 'ts' });
  const sample = bodies.slice(0, 24);
  const got = await Promise.all(sample.map((b) => post(port, b.body))); // concurrent: batched in batch mode
  sample.forEach((b, i) => {
    const want = local.forward(tensor(b.x, [b.T, 1, I])).hN.data;
    for (let j = 0; j < H; j++) if (got[i][j] !== want[j]) throw new Error(`request ${i}: hN[${j}] ${got[i][j]} != ${want[j]} (not bit-identical)`);
  });
}

function load(port, connections, seconds) {
  let k = 0;
  return autocannon({
    url: `http://127.0.0.1:${port}`, connections, duration: seconds, pipelining: 1, timeout: 20,
    requests: [{ method: 'POST', path: '/infer', headers: { 'content-type': 'application/octet-stream' },
      setupRequest: (req) => ({ ...req, body: bodies[k++ % bodies.length].body }) }],
  });
}

const stats = async (port) => (await fetch(`http://127.0.0.1:${port}/stats`)).json();
const loadBefore = loadavg();
const rows = [];
for (const mode of a.modes.split(',')) {
  const { child, port } = await startServer(mode);
  try {
    if (mode !== 'http') await checkAnswers(port);
    for (const c of clients) {
      await load(port, c, 1); // warm-up, not recorded
      await stats(port); // reset the server's counters
      const r = await load(port, c, duration);
      const s = await stats(port);
      const row = {
        mode, backend: a.backend, clients: c, durationS: duration,
        requestsPerS: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, maxMs: r.latency.max,
        ok: r['2xx'], non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts,
        eventLoopP99Ms: s.eventLoopMs.p99, eventLoopMaxMs: s.eventLoopMs.max,
        meanBatch: s.batcher && s.batcher.batches ? s.batcher.requests / s.batcher.batches : 1,
        meanBatchMs: s.batcher?.meanBatchMs ?? null, maxBatchMs: s.batcher?.maxBatchMs ?? null,
      };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  } finally {
    child.kill('SIGTERM');
  }
}

const fmt = (v, d = 1) => (v === null || v === undefined ? '–' : Number(v).toFixed(d));
console.log(`\n| mode | clients | req/s | p50 ms | p99 ms | loop p99 / max ms | mean batch | batch ms mean / max | non-2xx |`);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(`| ${{ batch: '(b) batcher', direct: '(a) per request', http: 'HTTP only (no model)' }[r.mode]} | ${r.clients} | ${fmt(r.requestsPerS, 0)} | ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} | ${fmt(r.eventLoopP99Ms)} / ${fmt(r.eventLoopMaxMs)} | ${fmt(r.meanBatch)} | ${r.meanBatchMs === null ? '–' : `${fmt(r.meanBatchMs)} / ${fmt(r.maxBatchMs)}`} | ${r.non2xx + r.errors + r.timeouts} |`);
}
const meta = {
  date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, cores: availableParallelism(),
  loadavg1: { before: loadBefore[0], after: loadavg()[0] }, // other processes on the machine: read numbers with this in mind
  backend: a.backend === 'native' ? backend('native') : { name: a.backend }, maxBatch: Number(a.maxBatch), maxDelayMs: Number(a.maxDelayMs),
  concurrency: a.concurrency ? Number(a.concurrency) : null, threads: a.threads ? Number(a.threads) : null, model: { type: 'LSTM', inputSize: I, hiddenSize: H, lengths: '10..100' },
};
const file = a.json ?? path.join(here, '..', 'results', `serve-${a.backend}-${meta.date.slice(0, 10)}.json`);
mkdirSync(path.dirname(file), { recursive: true });
writeFileSync(file, JSON.stringify({ meta, rows }, null, 2) + '\n');
console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
