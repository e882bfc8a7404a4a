// init(): loads the WebAssembly module. A page must call it (it compiles the module
// asynchronously, so the wasm backend exists only afterwards: ./backend/wasm-load.browser.ts);
// under Node the module loads by itself on first use, and init() only waits for it, or loads it
// from another place (options.wasm). The same call on both, so one script runs on both.

import { backend } from './backend';
import { initWasm } from './backend/wasm-load';
import type { WasmSource } from './backend/wasm';
import { argTypeError, BackendUnavailableError } from './errors';
import { optionalBool, readOptions } from './nn/options';
import type { BackendInfo } from './backend/types';

export type { WasmSource } from './backend/wasm';

/** Options of init(). */
export interface InitOptions {
  /**
   * Where the WebAssembly module is: a URL (string or URL), its bytes, a fetch Response or a
   * compiled WebAssembly.Module.
   * @default the package's wasm/cellstate.wasm (in a browser: new URL('../../wasm/cellstate.wasm', import.meta.url) from dist/browser/cellstate.mjs; under Node: the file, or CELLSTATE_WASM_PATH)
   */
  wasm?: WasmSource;
  /**
   * Resolve with the ts backend when the module cannot be loaded (else reject with every cause).
   * @default false
   */
  fallback?: boolean;
}

/**
 * Loads the wasm backend (once; later calls return the same). In a browser it becomes the default
 * backend of the models made from then on, and init() resolves with backend():
 * `{ name: 'wasm', isa: 'wasm_simd128', threads: 1, blas: null }`. Under Node the default stays
 * native where the addon loads.
 */
export async function init(options?: InitOptions): Promise<BackendInfo> {
  const o = readOptions('init', 'options', options, ['wasm', 'fallback']);
  const fallback = optionalBool('init', 'options.fallback', o.fallback, false);
  const source = o.wasm;
  if (source !== undefined && typeof source !== 'string' && (typeof source !== 'object' || source === null)) {
    throw argTypeError('init', 'options.wasm', "a URL, the module's bytes, a fetch Response or a WebAssembly.Module", source);
  }
  const w = await initWasm(source as WasmSource | undefined);
  if (!w.backend) {
    if (fallback) return backend('ts');
    throw new BackendUnavailableError('init: the wasm backend cannot be used', w.causes);
  }
  return backend();
}
