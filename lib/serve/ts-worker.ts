// A TsWorkerPool worker: one ts-backend model built from the pool's ModelSpec, its weights loaded
// from the pool's SharedArrayBuffer (and reloaded when the pool sends new ones), and a loop that
// runs one forward per message. Inputs arrive and outputs leave as transferred buffers. The
// model's own prepared weights are a snapshot (the ts backend copies at prepare), so a refresh
// can never change a forward half-way.

import { parentPort, workerData } from 'node:worker_threads';
import { modelFromConfig } from '../nn/from-config';
import { Recurrent } from '../nn/recurrent';
import { Sequential, type SequentialState } from '../nn/sequential';
import { maxElements, setMaxElements, Tensor, type FloatArray } from '../tensor';
import type { FromWorker, SharedWeights, ToWorker, WireState, WorkerInit } from './worker-protocol';

const init = workerData as WorkerInit;
const model = modelFromConfig('TsWorkerPool', init.config, 'ts') as Recurrent | Sequential;
load(init.weights);

function load(w: SharedWeights): void {
  const all = w.dtype === 'float64' ? new Float64Array(w.buffer) : new Float32Array(w.buffer);
  const dict: Record<string, { shape: number[]; data: FloatArray }> = Object.create(null);
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

const tensorOf = (a: FloatArray | null, shape: number[] | null): Tensor | null => (a ? new Tensor(a, shape!) : null);
const wire = (h: Tensor | undefined, c: Tensor | undefined): WireState => ({
  h: h ? h.data : null, hShape: h ? [...h.shape] : null, c: c ? c.data : null, cShape: c ? [...c.shape] : null,
});

/** One forward on this thread's model: its output and final states, as they travel back. */
function forward(m: Extract<ToWorker, { type: 'forward' }>): { output: Tensor; states: (WireState | null)[] } {
  const x = new Tensor(m.x, m.xShape);
  if (model instanceof Recurrent) {
    const s = m.states?.[0];
    const out = model.forward(x, { lengths: m.lengths, h0: tensorOf(s?.h ?? null, s?.hShape ?? null), c0: tensorOf(s?.c ?? null, s?.cShape ?? null) });
    return { output: out.output, states: [wire(out.hN, out.cN)] };
  }
  const state: SequentialState | null = m.states
    ? m.states.map((s) => (s ? { h: tensorOf(s.h, s.hShape)!, ...(s.c ? { c: tensorOf(s.c, s.cShape)! } : {}) } : null))
    : null;
  const out = model.forward(x, { lengths: m.lengths, state });
  return { output: out.output, states: out.state.map((s) => (s ? wire(s.h, s.c) : null)) };
}

parentPort!.on('message', (m: ToWorker) => {
  if (m.type === 'weights') {
    load(m.weights);
    return;
  }
  let reply: FromWorker;
  const transfer: ArrayBuffer[] = [];
  try {
    const out = withLimit(m.limit, () => forward(m));
    reply = { id: m.id, output: out.output.data, outputShape: [...out.output.shape], states: out.states };
    // The model allocated these for this call alone: hand them over instead of copying.
    for (const a of [out.output.data, ...out.states.flatMap((s) => (s ? [s.h, s.c] : []))]) {
      if (a && !transfer.includes(a.buffer as ArrayBuffer)) transfer.push(a.buffer as ArrayBuffer);
    }
  } catch (e) {
    const err = e as Error;
    reply = { id: m.id, error: { name: String(err?.name ?? 'Error'), message: String(err?.message ?? e) } };
  }
  parentPort!.postMessage(reply, transfer);
});
