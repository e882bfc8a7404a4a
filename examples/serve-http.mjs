// An HTTP inference server: POST a sequence, get the model's output back. Concurrent requests are
// packed into one batched forward by the library's Batcher, and each caller gets exactly the
// numbers the model gives for its sequence alone.
//
//   MODEL  a model file written by model.save() (default: the classifier examples/classify.mjs
//          saves in the temp folder, so run that first)
//   PORT   the port on 127.0.0.1 (default 8080; 0 picks a free one, printed at start)
//
// Run:  node examples/classify.mjs && node examples/serve-http.mjs
// Try:  curl -s -d '[[0.1],[0.5],[0.9],[0.2]]' http://127.0.0.1:8080/predict
//       -> {"output":[...3 logits...]}   (the body is one sequence: T steps of the model's features,
//          or T token ids for a model that starts with an Embedding)
// Stop: Ctrl-C (or SIGTERM): waits for requests in flight, prints the batching statistics.

import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createBatcher, load } from 'cellstate';

const file = process.env.MODEL ?? path.join(os.tmpdir(), 'cellstate-example-classifier.safetensors');
const model = load(file); // any saved model: a Sequential or a bare LSTM / GRU / RNN

// maxBatch: at most 32 sequences per forward; maxDelayMs: a request waits at most 2 ms for company;
// maxQueue: beyond 1024 waiting requests new ones are refused (503) instead of piling up.
const batcher = createBatcher(model, { maxBatch: 32, maxDelayMs: 2, maxQueue: 1024 });

const server = createServer(async (req, res) => {
  if (req.method !== 'POST' || req.url !== '/predict') return res.writeHead(404).end('POST /predict\n');
  const abort = new AbortController();
  res.on('close', () => res.writableFinished || abort.abort()); // the client went away: drop its work
  try {
    const x = JSON.parse(Buffer.concat(await req.toArray()).toString('utf8'));
    const { output } = await batcher.run(x, { signal: abort.signal }); // this sequence's rows only
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ output: Array.from(output.data) }));
  } catch (e) {
    // Bad JSON or a sequence of the wrong shape is the client's fault (the Batcher rejects only
    // that request, with the TypeError / RangeError the model would throw); a full queue is 503.
    const clientError = e instanceof SyntaxError || e instanceof TypeError || e instanceof RangeError;
    const status = e.code === 'CELLSTATE_QUEUE_FULL' ? 503 : clientError ? 400 : 500;
    if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(`${e.message}\n`);
  }
});

server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => {
  console.log(`serving ${path.basename(file)} on http://127.0.0.1:${server.address().port}/predict`);
});

// Graceful stop: no new connections, let the Batcher finish what it holds, report, exit.
async function stop() {
  server.close();
  server.closeIdleConnections();
  await batcher.close();
  const s = batcher.stats();
  console.log(`served ${s.requests} requests in ${s.batches} batches (largest ${s.maxBatchSize}, mean compute ${s.meanBatchMs.toFixed(2)} ms)`);
}
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
