// One helper thread of the wasm backend (started by ./wasm-supervisor.ts for ./wasm-threads.ts,
// which describes the protocol): its own instance of the module, the cells prepared on it by id,
// and a loop that blocks in Atomics.wait until requests arrive, then answers each forward on the
// port. Its death, however it comes, is the supervisor's to report.

import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import type { PreparedCell } from './types';
import { makeWasmBackend, type WasmBackend } from './wasm';
import { REPLIES, REQUESTS, type HelperReply, type HelperRequest, type TestDeath } from './wasm-threads';

const { wasmModule, env, port, counters, die } = workerData as {
  wasmModule: WebAssembly.Module; env: Record<string, string>; port: MessagePort; counters: Int32Array; die: TestDeath;
};

let wasm: WasmBackend | null = null;
let startError = '';
try {
  wasm = makeWasmBackend(wasmModule, env);
} catch (e) {
  startError = `cellstate (wasm): a helper thread could not start its module: ${String((e as Error)?.message ?? e)}`;
}
const cells = new Map<number, PreparedCell | Error>();

function reply(r: HelperReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(r, transfer);
  Atomics.add(counters, REPLIES, 1);
  Atomics.notify(counters, REPLIES);
}

/** Test-only (CELLSTATE_TEST_WASM_HELPER_DEATH, see ./wasm-supervisor.ts): dies as asked instead of answering. */
function testDie(how: NonNullable<TestDeath>['how']): never {
  if (how === 'exit') process.exit(3);
  if (how === 'terminate') {
    parentPort!.postMessage({ terminateMe: true });
    for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // until terminate() stops this thread
  }
  if (how === 'oom') {
    const hog: unknown[] = [];
    for (let i = 0; ; i++) hog.push({ i, s: `${i}`.repeat(8), a: new Array(64).fill(i) }); // past the 16 MB heap limit
  }
  throw new Error('cellstate (wasm): test-only helper death (CELLSTATE_TEST_WASM_HELPER_DEATH=throw)');
}
let forwards = 0;

function errorReply(e: unknown): HelperReply {
  const type = e instanceof TypeError ? 'TypeError' : e instanceof RangeError ? 'RangeError' : 'Error';
  return { error: String((e as Error)?.message ?? e), type };
}

function handle(m: HelperRequest): boolean {
  if (m.op === 'exit') return false;
  if (m.op === 'prepare') {
    try {
      if (!wasm) throw new Error(startError);
      cells.set(m.id, wasm.backend.prepare(m.p));
    } catch (e) {
      cells.set(m.id, e instanceof Error ? e : new Error(String(e)));
    }
  } else if (m.op === 'release') {
    const w = cells.get(m.id);
    if (w && !(w instanceof Error)) wasm!.backend.release?.(w);
    cells.delete(m.id);
  } else {
    if (die && ++forwards === die.at) testDie(die.how); // outside the try: the death is not an error reply
    try {
      const w = cells.get(m.id);
      if (!wasm) throw new Error(startError);
      if (!w) throw new Error(`cellstate (wasm): a helper thread has no cell ${m.id} (released?)`);
      if (w instanceof Error) throw w;
      const a = m.a;
      const y = new Float32Array(a.T * a.B * w.outSize), hN = new Float32Array(a.B * w.outSize), cN = a.cN ? new Float32Array(a.B * w.hiddenSize) : null;
      wasm.backend.forward(w, { ...a, y, hN, cN }, false);
      reply({ ok: { y, hN, cN } }, [y.buffer, hN.buffer, ...(cN ? [cN.buffer] : [])]);
    } catch (e) {
      reply(errorReply(e));
    }
  }
  return true;
}

for (;;) {
  const seen = Atomics.load(counters, REQUESTS);
  let r;
  while ((r = receiveMessageOnPort(port))) if (!handle(r.message as HelperRequest)) process.exit(0);
  Atomics.wait(counters, REQUESTS, seen);
}
