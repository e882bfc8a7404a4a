// A TsWorkerPool worker: one ts-backend model built from the pool's ModelSpec, its weights loaded
// from the pool's SharedArrayBuffer (and reloaded when the pool sends new ones), and a loop that
// runs one forward per message. Inputs arrive and outputs leave as transferred buffers. The
// model's own prepared weights are a snapshot (the ts backend copies at prepare), so a refresh
// can never change a forward half-way.

import { parentPort, workerData } from 'node:worker_threads';
import { GRU } from '../nn/gru';
import { LSTM } from '../nn/lstm';
import type { Recurrent } from '../nn/recurrent';
import { RNN } from '../nn/rnn';
import { maxElements, setMaxElements, Tensor, type FloatArray } from '../tensor';
import type { FromWorker, SharedWeights, ToWorker, WorkerInit } from './worker-protocol';

const init = workerData as WorkerInit;
const Classes = { LSTM, GRU, RNN } as const;
const model: Recurrent = new Classes[init.spec.type](init.spec.options as never);
load(init.weights);

function load(w: SharedWeights): void {
  const all = w.dtype === 'float64' ? new Float64Array(w.buffer) : new Float32Array(w.buffer);
  const dict: Record<string, { shape: number[]; data: FloatArray }> = {};
  for (const e of w.entries) dict[e.name] = { shape: e.shape, data: all.subarray(e.offset, e.offset + e.length) };
  model.loadStateDict(dict);
}

/** Run f under the main thread's element limit at the job's call (it refuses what model.forward there would). */
function withLimit<R>(limit: number, f: () => R): R {
  const own = maxElements();
  setMaxElements(limit);
  try {
    return f();
  } finally {
    setMaxElements(own);
  }
}

parentPort!.on('message', (m: ToWorker) => {
  if (m.type === 'weights') {
    load(m.weights);
    return;
  }
  let reply: FromWorker;
  const transfer: ArrayBuffer[] = [];
  try {
    const out = withLimit(m.limit, () => model.forward(new Tensor(m.x, m.xShape), {
      lengths: m.lengths,
      h0: m.h0 ? new Tensor(m.h0, m.h0Shape!) : null,
      c0: m.c0 ? new Tensor(m.c0, m.c0Shape!) : null,
    }));
    reply = {
      id: m.id, output: out.output.data, outputShape: [...out.output.shape], hN: out.hN.data, hNShape: [...out.hN.shape],
      cN: out.cN ? out.cN.data : null, cNShape: out.cN ? [...out.cN.shape] : null,
    };
    // The model allocated these for this call alone: hand them over instead of copying.
    for (const a of [out.output.data, out.hN.data, out.cN?.data]) if (a) transfer.push(a.buffer as ArrayBuffer);
  } catch (e) {
    const err = e as Error;
    reply = { id: m.id, error: { name: String(err?.name ?? 'Error'), message: String(err?.message ?? e) } };
  }
  parentPort!.postMessage(reply, transfer);
});
