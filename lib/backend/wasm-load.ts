// Loads the wasm backend under Node: the module shipped in the package (wasm/cellstate.wasm,
// written by scripts/build-wasm.sh), or CELLSTATE_WASM_PATH, synchronously on first use. The only
// node: imports of the wasm backend are here; ./wasm.ts takes the bytes. A browser build uses
// ./wasm-load.browser.ts instead (same exports), where initWasm() must run first. Every failure is kept as a cause, like the addon's
// loader (./native.ts), for the fallback warning and for a forced `wasm` backend.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { instantiateWasmBackend, makeWasmBackend, type WasmLoad, type WasmSource } from './wasm';
import { makeWasmHelpers } from './wasm-threads';

export type { WasmLoad, WasmSource } from './wasm';

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
    const env = hostEnv();
    const w = makeWasmBackend(bytes, env, makeWasmHelpers(bytes, env)); // helper threads: none until setThreads(n, 'wasm')
    if (w.warning) causes.push(w.warning);
    loaded = { backend: w.backend, info: w.info, causes, memoryBytes: w.memoryBytes, optim: w.optim };
  } catch (e) {
    causes.push(`${name}: ${String((e as Error)?.message ?? e)}`);
    loaded = { backend: null, info: null, causes, memoryBytes: () => 0, optim: null };
  }
  return loaded;
}

/**
 * The wasm backend, loaded from `source` when given (a path, a file: URL, the module's bytes or
 * the compiled module), else as loadWasm() does. The same call a page makes (where it must come
 * first); under Node it is only needed to load a module from elsewhere. Once a module is loaded,
 * later calls return it (models hold cells prepared in its memory).
 */
export async function initWasm(source?: WasmSource): Promise<WasmLoad> {
  if (loaded?.backend || source === undefined) return loadWasm();
  const causes: string[] = [];
  try {
    const bytes = typeof source === 'string' || source instanceof URL ? fs.readFileSync(source) : source;
    if (!(bytes instanceof ArrayBuffer || ArrayBuffer.isView(bytes) || bytes instanceof WebAssembly.Module)) {
      throw new TypeError(`expected a path, a file: URL, the module's bytes or a WebAssembly.Module, got ${Object.prototype.toString.call(bytes)}`);
    }
    const env = hostEnv();
    const w = await instantiateWasmBackend(bytes, env, makeWasmHelpers(bytes, env));
    if (w.warning) causes.push(w.warning);
    loaded = { backend: w.backend, info: w.info, causes, memoryBytes: w.memoryBytes, optim: w.optim };
  } catch (e) {
    causes.push(`initWasm: ${String((e as Error)?.message ?? e)}`);
    loaded = { backend: null, info: null, causes, memoryBytes: () => 0, optim: null };
  }
  return loaded;
}

function hostEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ENV_VARS) if (process.env[k]) env[k] = process.env[k]!;
  return env;
}
