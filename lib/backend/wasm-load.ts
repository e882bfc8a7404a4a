// Loads the wasm backend under Node: the module shipped in the package (wasm/cellstate.wasm,
// written by scripts/build-wasm.sh), or CELLSTATE_WASM_PATH. The only node: imports of the wasm
// backend are here; ./wasm.ts takes the bytes. Every failure is kept as a cause, like the addon's
// loader (./native.ts), for the fallback warning and for a forced `wasm` backend.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Backend, BackendInfo, OptimCalls } from './types';
import { makeWasmBackend } from './wasm';
import { makeWasmHelpers } from './wasm-threads';

export interface WasmLoad {
  backend: Backend | null;
  info: (() => BackendInfo) | null;
  causes: string[];
  /** The module's linear memory in bytes (0 when not loaded). */
  memoryBytes: () => number;
  /** The module's fused optimizer updates (null when not loaded). */
  optim: OptimCalls | null;
}

let loaded: WasmLoad | undefined;

/** The CELLSTATE_* variables the kernels read, handed to the module as its environment. */
const ENV_VARS = ['CELLSTATE_MAX_ISA', 'CELLSTATE_POISON_UNINIT'];

export function loadWasm(): WasmLoad {
  if (loaded) return loaded;
  const explicit = process.env.CELLSTATE_WASM_PATH;
  const file = explicit ? path.resolve(explicit) : path.resolve(__dirname, '..', '..', 'wasm', 'cellstate.wasm');
  const name = explicit ? `CELLSTATE_WASM_PATH=${explicit}` : 'wasm/cellstate.wasm';
  const causes: string[] = [];
  try {
    if (!fs.existsSync(file)) throw new Error('no such file (scripts/build-wasm.sh writes it; the package ships it)');
    const bytes = fs.readFileSync(file);
    if (!WebAssembly.validate(bytes)) throw new Error('this JavaScript engine cannot compile it (it needs WebAssembly SIMD128)');
    const env: Record<string, string> = {};
    for (const k of ENV_VARS) if (process.env[k]) env[k] = process.env[k]!;
    const w = makeWasmBackend(bytes, env, makeWasmHelpers(bytes, env)); // helper threads: none until setThreads(n, 'wasm')
    if (w.warning) causes.push(w.warning);
    loaded = { backend: w.backend, info: w.info, causes, memoryBytes: w.memoryBytes, optim: w.optim };
  } catch (e) {
    causes.push(`${name}: ${String((e as Error)?.message ?? e)}`);
    loaded = { backend: null, info: null, causes, memoryBytes: () => 0, optim: null };
  }
  return loaded;
}
