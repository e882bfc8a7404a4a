// The supervisor of the wasm backend's helper threads (started by ./wasm-threads.ts, which
// describes the protocol): a worker thread that does nothing but start the helpers
// (./wasm-worker.ts) and watch them die.
//
// Why a thread of its own: a Worker's 'error' and 'exit' events are delivered on the event loop of
// the thread that created it, and the calling thread of a forward is blocked in Atomics.wait while
// a helper computes, so it would learn of a helper's death only after the wait that the death made
// endless. This thread's event loop is always free: it receives every death (an uncaught error,
// process.exit, running out of heap — ERR_WORKER_OUT_OF_MEMORY —, terminate()), writes the
// helper's dead word and exit code into the helper's shared counters, bumps the reply counter and
// Atomics.notify()s it, which wakes the waiting caller. The notice (the reason in words) is posted
// on the notice port first, so the caller finds it there once it sees the dead word.
//
// It holds nothing but the helpers' Worker objects and allocates nothing per forward, so it has no
// reason to die; if it did, its helpers would stop with it and the pool marks them dead when the
// calling thread's event loop next runs (see ./wasm-threads.ts).
//
// Test-only (test/wasm.test.mjs; not part of the API, not documented for users):
// CELLSTATE_TEST_WASM_HELPER_DEATH=<how>@<n> makes the FIRST helper this supervisor starts die at
// its n-th forward request, before answering it; <how> is exit (process.exit(3)), throw (an
// uncaught error), terminate (it asks this thread to terminate() it, and blocks meanwhile) or oom
// (it is started with a 16 MB old-generation heap limit and fills its heap).

import * as path from 'node:path';
import { parentPort, Worker, workerData, type MessagePort } from 'node:worker_threads';
import { DEAD, EXIT_CODE, REPLIES, type DeathNotice, type SupervisorMessage, type TestDeath } from './wasm-threads';

function testDeath(): TestDeath {
  const v = process.env.CELLSTATE_TEST_WASM_HELPER_DEATH;
  if (!v) return null;
  const m = /^(exit|throw|terminate|oom)@([1-9][0-9]*)$/.exec(v);
  if (!m) throw new Error(`CELLSTATE_TEST_WASM_HELPER_DEATH: expected <exit|throw|terminate|oom>@<n>, got ${JSON.stringify(v)}`);
  return { how: m[1] as NonNullable<TestDeath>['how'], at: Number(m[2]) };
}

const data = workerData as { cellstateSupervisor?: boolean; ready?: Int32Array } | null;
if (parentPort && data?.cellstateSupervisor && data.ready) {
  let notices: MessagePort | null = null;
  let started = 0;
  parentPort.on('message', (m: SupervisorMessage) => {
    if (m.op === 'init') { notices = m.notices; return; }
    const { num, counters } = m;
    // The helper's end: its reason in words on the notice port first (the caller reads it once it
    // sees DEAD), then DEAD and the exit code, then a bump of the reply counter with a notify,
    // which ends a caller's Atomics.wait(counters, REPLIES, seen) whatever `seen` was.
    const dead = (code: number, reason: string) => {
      notices?.postMessage({ num, code, reason } satisfies DeathNotice);
      Atomics.store(counters, EXIT_CODE, code);
      Atomics.store(counters, DEAD, 1);
      Atomics.add(counters, REPLIES, 1);
      Atomics.notify(counters, REPLIES);
    };
    let worker: Worker;
    try {
      const die = started++ === 0 ? testDeath() : null;
      worker = new Worker(path.join(__dirname, 'wasm-worker.js'), {
        workerData: { wasmModule: m.module, env: m.env, port: m.port, counters, die },
        transferList: [m.port],
        ...(die?.how === 'oom' ? { resourceLimits: { maxOldGenerationSizeMb: 16 } } : {}),
      });
    } catch (e) {
      dead(-1, `it could not be started: ${String((e as Error)?.message ?? e)}`);
      return;
    }
    let error: (Error & { code?: string }) | null = null;
    worker.on('message', (w: { terminateMe?: boolean }) => { if (w?.terminateMe) void worker.terminate(); }); // test-only
    worker.on('error', (e: Error) => { error ??= e; });
    worker.on('exit', (code) => {
      const e = error as (Error & { code?: string }) | null;
      dead(code, e?.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `it ran out of memory (${e.code}: ${e.message})`
        : e ? `it threw an uncaught ${e.name || 'error'}: ${String(e.message ?? e)}`
        : `its thread exited with code ${code}${code === 1 ? ' (it was terminated, or exited with 1)' : ''}`);
    });
  });
  Atomics.store(data.ready, 0, 1); // ./wasm-threads.ts waits for this once, when it starts this thread
  Atomics.notify(data.ready, 0);
}
