// The serving benchmark's HTTP server (node:http, 127.0.0.1 only): one LSTM (I=64, H=256,
// seed 1) behind POST /infer, either one model call per request (--mode direct) or through a
// Batcher (--mode batch), or no model at all (--mode http: replies 256 zeros, the ceiling that
// HTTP parsing plus the load generator leave on this machine). The body is one sequence as raw little-endian float32 [T x 64]; the
// reply is its final hidden state hN as raw float32 [256]. GET /stats returns (and resets) the
// event-loop delay histogram and the batcher's counters. Prints {"port": N} once listening.
//   node bench/serve/server.mjs --mode direct|batch|http --backend native|ts|ts-pool [--maxBatch 32]
//        [--maxDelayMs 2] [--maxQueue 4096] [--concurrency n] [--threads n (native)]
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { LSTM, createBatcher, createTsWorkerPool, setThreads, tensor } from '../../dist/index.mjs';

export const I = 64, H = 256;
const { values: a } = parseArgs({ options: {
  mode: { type: 'string', default: 'batch' }, backend: { type: 'string', default: 'native' },
  maxBatch: { type: 'string', default: '32' }, maxDelayMs: { type: 'string', default: '2' },
  maxQueue: { type: 'string', default: '4096' }, concurrency: { type: 'string' }, threads: { type: 'string' },
} });
if (a.threads) setThreads(Number(a.threads));

const model = new LSTM({ inputSize: I, hiddenSize: H, seed: 1, backend: a.backend === 'native' ? 'native' : 'ts' });
const pool = a.backend === 'ts-pool' ? createTsWorkerPool(model) : null;
const runner = pool ?? model;
const batcher = a.mode === 'batch' ? createBatcher(runner, {
  maxBatch: Number(a.maxBatch), maxDelayMs: Number(a.maxDelayMs), maxQueue: Number(a.maxQueue),
  ...(a.concurrency ? { concurrency: Number(a.concurrency) } : {}),
}) : null;

const lag = monitorEventLoopDelay({ resolution: 5 });
lag.enable();

const zeros = new Float32Array(H);
async function infer(body, signal) {
  if (a.mode === 'http') return zeros;
  const T = body.length / (4 * I);
  const x = new Float32Array(T * I);
  new Uint8Array(x.buffer).set(body); // aligned copy of the request bytes
  if (batcher) return (await batcher.run(tensor(x, [T, I]), { signal })).hN.data;
  return (await runner.forwardAsync(tensor(x, [T, 1, I]))).hN.data;
}

const STATUS = { CELLSTATE_QUEUE_FULL: 503, CELLSTATE_CLOSED: 503, ABORT_ERR: 499 };
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    const ms = (ns) => ns / 1e6;
    const out = { eventLoopMs: { p50: ms(lag.percentile(50)), p99: ms(lag.percentile(99)), max: ms(lag.max) }, batcher: batcher?.stats() ?? null };
    lag.reset();
    batcher?.resetStats();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(out));
    return;
  }
  if (req.method !== 'POST' || req.url !== '/infer') { res.statusCode = 404; res.end(); return; }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const ac = new AbortController();
    res.on('close', () => { if (!res.writableFinished) ac.abort(); }); // client went away
    if (body.length === 0 || body.length % (4 * I) !== 0) { res.statusCode = 400; res.end('body: float32 [T x 64]'); return; }
    infer(body, ac.signal).then((h) => {
      res.setHeader('content-type', 'application/octet-stream');
      res.end(Buffer.from(h.buffer, h.byteOffset, h.byteLength));
    }, (e) => {
      res.statusCode = STATUS[e.code] ?? (e instanceof TypeError || e instanceof RangeError ? 400 : 500);
      res.end(String(e.message));
    });
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
process.on('SIGTERM', async () => { server.close(); await batcher?.close(); await pool?.close(); process.exit(0); });
