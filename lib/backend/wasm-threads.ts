// The helper threads of the wasm backend under Node (lib/backend/wasm.ts splits inference
// forwards by batch slices across them; see "Threads" there): each helper is a worker_threads
// Worker running ./wasm-worker.ts, with its own instance of the module and its own memory.
//
// The Backend interface is synchronous, so the calling thread cannot wait for a message event.
// Each helper has a MessageChannel and an Int32Array of counters on a SharedArrayBuffer
// ([REQUESTS, REPLIES, DEAD, EXIT_CODE]): the caller posts a request and bumps REQUESTS
// (Atomics.notify); the helper, blocked in Atomics.wait on it, takes every queued request with
// receiveMessageOnPort, answers each on the port and bumps REPLIES, which the caller waits on
// (Atomics.wait is allowed on Node's main thread) before it takes the reply the same way.
// Requests and replies stay in order: one reply per forward, none for prepare and release (their
// errors surface at the cell's next forward).
//
// A helper that dies. Its 'exit' event reaches only the thread that created it, and a caller
// blocked in wait() runs no events, so the helpers are not created here: one supervisor thread
// (./wasm-supervisor.ts, started with the first helper) creates them, receives every death on its
// free event loop (an uncaught error, process.exit, ERR_WORKER_OUT_OF_MEMORY, terminate()),
// posts the reason on a notice port, sets DEAD and EXIT_CODE, bumps REPLIES and notifies. A
// caller waiting on that helper wakes and, when no reply came first, throws an Error naming the
// helper and the reason; the time that takes is the supervisor's, a few milliseconds, and no
// thread spins (the caller sleeps in an untimed Atomics.wait, as before). Why not the other
// designs: a liveness word the helper writes from its own exit paths is never written when V8
// stops its JS (out of memory, terminate()); timed Atomics.wait slices would still need someone
// to tell them the helper is gone, and a heartbeat would misjudge a helper that is merely slow
// on a loaded machine. The other slices of that forward are still waited for (their replies stay
// in step), and the forward throws. From then on the pool leaves the dead helper out: later
// forwards split over the helpers still running and the calling thread (with none left, they run
// on the calling thread alone), backend('wasm').threads counts only the living, and a later
// setThreads(n, 'wasm') starts helpers again up to n - 1 (for cells prepared after it).
//
// The supervisor holds nothing and allocates nothing per forward. Until it runs nobody would
// report a death, so a caller's first wait() first waits for it to say it runs (one Atomics.wait,
// tens of milliseconds after setThreads; setThreads itself returns at once): a supervisor that
// has not started within SUPERVISOR_START_MS is given up, and that forward throws instead of
// waiting forever (its scripts missing is an Error from setThreads). Should it end later anyway,
// its helpers end with it: its 'exit' event marks them dead when this thread's event loop next
// runs (a caller blocked at that very moment would not learn of it: the one case not covered).
//
// Workers are unref'd (the supervisor here; the helpers are its children): they never keep the
// process alive. Stopping a helper posts `exit`.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { CellForwardArgs, CellParams } from './types';
import type { SliceResult, WasmHelper, WasmHelpers } from './wasm';

/** What a helper answers to a forward: its outputs, or the message of the error it threw (and its class). */
export type HelperReply = { ok: SliceResult } | { error: string; type: 'TypeError' | 'RangeError' | 'Error' };

/** A request to a helper (lib/backend/wasm-worker.ts). */
export type HelperRequest =
  | { op: 'prepare'; id: number; p: CellParams }
  | { op: 'forward'; id: number; a: CellForwardArgs }
  | { op: 'release'; id: number }
  | { op: 'exit' };

/** The shared counters of one helper (Int32Array indices; COUNTERS of them). */
export const REQUESTS = 0, REPLIES = 1, DEAD = 2, EXIT_CODE = 3, COUNTERS = 4;

/** A message to the supervisor (./wasm-supervisor.ts): where to post death notices; start helper `num`. */
export type SupervisorMessage =
  | { op: 'init'; notices: MessagePort }
  | { op: 'start'; num: number; module: WebAssembly.Module; env: Record<string, string>; port: MessagePort; counters: Int32Array };

/** What the supervisor posts on the notice port when helper `num`'s thread has ended. */
export interface DeathNotice { num: number; code: number; reason: string }

/** Test-only (see ./wasm-supervisor.ts): how and at which forward the first helper dies. */
export type TestDeath = { how: 'exit' | 'throw' | 'terminate' | 'oom'; at: number } | null;

/** How long a caller waits for a new supervisor thread to run (it takes tens of milliseconds; more on a loaded machine). */
const SUPERVISOR_START_MS = 30_000;

/** A helper as its pool sees it: also prepared and stopped from here. */
interface Helper extends WasmHelper {
  readonly num: number;
  prepare(id: number, p: CellParams): void;
  stop(): void;
}

/** The supervisor thread and the notices it posts (the reasons of helpers' deaths, by helper number). */
interface Supervisor {
  worker: Worker;
  notices: MessagePort;
  reasons: Map<number, DeathNotice>;
  /** [0]: 1 once the supervisor runs (it notifies); `started`: when it was created (performance.now()). */
  ready: Int32Array;
  started: number;
  /** Set when the supervisor has ended (its 'exit' event), or did not start in time: every helper it started is gone. */
  gone: string | null;
}

function startSupervisor(): Supervisor {
  for (const f of ['wasm-supervisor.js', 'wasm-worker.js']) {
    if (!fs.existsSync(path.join(__dirname, f))) throw new Error(`cellstate (wasm): setThreads: ${path.join(__dirname, f)} is missing (the package's build writes it); no helper threads were started`);
  }
  const ready = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(path.join(__dirname, 'wasm-supervisor.js'), { workerData: { cellstateSupervisor: true, ready } });
  worker.unref();
  const { port1: notices, port2 } = new MessageChannel();
  notices.unref();
  worker.postMessage({ op: 'init', notices: port2 } satisfies SupervisorMessage, [port2]);
  const sup: Supervisor = { worker, notices, reasons: new Map(), ready, started: performance.now(), gone: null };
  let failure = '';
  worker.on('error', (e) => { failure ||= String(e?.message ?? e); });
  worker.on('exit', (code) => { sup.gone ??= `the helper threads' supervisor thread ended (exit code ${code}${failure ? `: ${failure}` : ''})`; });
  return sup;
}

/**
 * Blocks until the supervisor runs (it starts in tens of milliseconds; a caller that waits for a
 * helper comes here first): one Atomics.wait, which the supervisor's notify ends. A supervisor
 * that has not started SUPERVISOR_START_MS after its creation is given up (gone).
 */
function awaitSupervisor(sup: Supervisor): void {
  if (Atomics.load(sup.ready, 0) === 1 || sup.gone) return;
  const left = SUPERVISOR_START_MS - (performance.now() - sup.started);
  if (left > 0 && Atomics.wait(sup.ready, 0, 0, left) !== 'timed-out') return;
  sup.gone = `the helper threads' supervisor thread (${path.join(__dirname, 'wasm-supervisor.js')}) did not start within ${SUPERVISOR_START_MS / 1000} s`;
  void sup.worker.terminate();
}

/** Takes the notices the supervisor has posted. */
function drainNotices(sup: Supervisor): void {
  let r;
  while ((r = receiveMessageOnPort(sup.notices))) {
    const n = r.message as DeathNotice;
    sup.reasons.set(n.num, n);
  }
}

function startHelper(sup: Supervisor, num: number, module: WebAssembly.Module, env: Record<string, string>): Helper {
  const { port1, port2 } = new MessageChannel();
  const counters = new Int32Array(new SharedArrayBuffer(4 * COUNTERS));
  sup.worker.postMessage({ op: 'start', num, module, env, port: port2, counters } satisfies SupervisorMessage, [port2]);
  port1.unref();
  let stopped = false;
  const send = (m: HelperRequest, transfer: ArrayBuffer[] = []) => {
    port1.postMessage(m, transfer);
    Atomics.add(counters, REQUESTS, 1);
    Atomics.notify(counters, REQUESTS);
  };
  const dead = () => Atomics.load(counters, DEAD) !== 0 || sup.gone !== null;
  /** The Error of a forward whose helper died before answering it. */
  const deathError = () => {
    drainNotices(sup);
    const n = sup.reasons.get(num);
    const why = n ? n.reason : sup.gone ?? `its thread ended (exit code ${Atomics.load(counters, EXIT_CODE)})`;
    return new Error(`cellstate (wasm): helper thread ${num} is gone without answering this forward: ${why}. ` +
      'The forward is abandoned; later forwards run without that helper (on the remaining helpers and the calling thread)');
  };
  return {
    num,
    alive: () => !stopped && !dead(),
    post(id, a) {
      send({ op: 'forward', id, a }, [a.x.buffer as ArrayBuffer]);
    },
    wait() {
      awaitSupervisor(sup); // before it runs, nobody would report this helper's death
      for (;;) {
        const seen = Atomics.load(counters, REPLIES);
        const r = receiveMessageOnPort(port1 as MessagePort);
        if (r) {
          const reply = r.message as HelperReply;
          if ('ok' in reply) return reply.ok;
          const E = reply.type === 'TypeError' ? TypeError : reply.type === 'RangeError' ? RangeError : Error;
          throw new E(reply.error);
        }
        // No reply yet: a helper whose thread has ended will send none. (DEAD is stored before
        // REPLIES is bumped and `seen` was read first, so a death after this check ends the wait.)
        if (dead()) throw deathError();
        Atomics.wait(counters, REPLIES, seen);
      }
    },
    release(id) {
      send({ op: 'release', id });
    },
    prepare(id, p) {
      send({ op: 'prepare', id, p }); // a structured clone of the parameters: the helper packs its own copy
    },
    stop() {
      stopped = true;
      send({ op: 'exit' });
      port1.close();
      sup.reasons.delete(num);
    },
  };
}

/**
 * Helper threads over the same module (its bytes, or the compiled WebAssembly.Module: `object`
 * keeps the declarations free of DOM types) and environment; none until resize().
 */
export function makeWasmHelpers(bytes: ArrayBufferView | ArrayBuffer | object, env: Record<string, string>): WasmHelpers {
  let module: WebAssembly.Module | null = bytes instanceof WebAssembly.Module ? bytes : null;
  let sup: Supervisor | null = null;
  let started = 0; // helpers' numbers, in the errors that name them
  let running: Helper[] = [];
  // At most one thread per core: more would only take turns.
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  /** Drops the helpers whose threads have ended (their cells run without them already: wasm.ts asks alive()). */
  const prune = () => {
    if (running.every((h) => h.alive())) return;
    for (const h of running) if (!h.alive()) h.stop(); // closes its port; the notice is no longer needed
    running = running.filter((h) => h.alive());
  };
  return {
    list: () => { prune(); return running; },
    resize(n) {
      n = Math.max(0, Math.min(n, cores - 1));
      prune();
      while (running.length > n) running.pop()!.stop();
      if (running.length < n) {
        module ??= new WebAssembly.Module(bytes as ArrayBufferView); // compiled once, shared with every helper
        if (!sup || sup.gone) sup = startSupervisor();
      }
      while (running.length < n) running.push(startHelper(sup!, ++started, module!, env));
    },
    prepare(id, p) {
      prune();
      for (const h of running) h.prepare(id, p);
      return [...running];
    },
  };
}
