// The helper threads of the wasm backend under Node (lib/backend/wasm.ts splits inference
// forwards by batch slices across them; see "Threads" there): each helper is a worker_threads
// Worker running ./wasm-worker.ts, with its own instance of the module and its own memory.
//
// The Backend interface is synchronous, so the calling thread cannot wait for a message event.
// Each helper has a MessageChannel and a two-counter Int32Array on a SharedArrayBuffer: the caller
// posts a request and bumps counter 0 (Atomics.notify); the helper, blocked in Atomics.wait on
// it, takes every queued request with receiveMessageOnPort, answers each on the port and bumps
// counter 1, which the caller waits on (Atomics.wait is allowed on Node's main thread) before it
// takes the reply the same way. Requests and replies stay in order: one reply per forward,
// none for prepare and release (their errors surface at the cell's next forward).
//
// Workers are unref'd: they never keep the process alive. Stopping one posts `exit`.

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

/** A helper as its pool sees it: also prepared and stopped from here. */
interface Helper extends WasmHelper {
  prepare(id: number, p: CellParams): void;
  stop(): void;
}

function startHelper(module: WebAssembly.Module, env: Record<string, string>): Helper {
  const { port1, port2 } = new MessageChannel();
  const counters = new Int32Array(new SharedArrayBuffer(8)); // [requests posted, replies posted]
  const worker = new Worker(path.join(__dirname, 'wasm-worker.js'), { workerData: { wasmModule: module, env, port: port2, counters }, transferList: [port2] });
  worker.unref();
  port1.unref();
  let alive = true;
  const send = (m: HelperRequest, transfer: ArrayBuffer[] = []) => {
    port1.postMessage(m, transfer);
    Atomics.add(counters, 0, 1);
    Atomics.notify(counters, 0);
  };
  return {
    alive: () => alive,
    post(id, a) {
      send({ op: 'forward', id, a }, [a.x.buffer as ArrayBuffer]);
    },
    wait() {
      for (;;) {
        const seen = Atomics.load(counters, 1);
        const r = receiveMessageOnPort(port1 as MessagePort);
        if (r) {
          const reply = r.message as HelperReply;
          if ('ok' in reply) return reply.ok;
          const E = reply.type === 'TypeError' ? TypeError : reply.type === 'RangeError' ? RangeError : Error;
          throw new E(reply.error);
        }
        Atomics.wait(counters, 1, seen);
      }
    },
    release(id) {
      send({ op: 'release', id });
    },
    prepare(id, p) {
      send({ op: 'prepare', id, p }); // a structured clone of the parameters: the helper packs its own copy
    },
    stop() {
      alive = false;
      send({ op: 'exit' });
      port1.close();
    },
  };
}

/**
 * Helper threads over the same module (its bytes, or the compiled WebAssembly.Module: `object`
 * keeps the declarations free of DOM types) and environment; none until resize().
 */
export function makeWasmHelpers(bytes: ArrayBufferView | ArrayBuffer | object, env: Record<string, string>): WasmHelpers {
  let module: WebAssembly.Module | null = bytes instanceof WebAssembly.Module ? bytes : null;
  const running: Helper[] = [];
  // At most one thread per core: more would only take turns.
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return {
    list: () => running,
    resize(n) {
      n = Math.max(0, Math.min(n, cores - 1));
      while (running.length > n) running.pop()!.stop();
      if (running.length < n) module ??= new WebAssembly.Module(bytes as ArrayBufferView); // compiled once, shared with every helper
      while (running.length < n) running.push(startHelper(module!, env));
    },
    prepare(id, p) {
      for (const h of running) h.prepare(id, p);
      return [...running];
    },
  };
}
