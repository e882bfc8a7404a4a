// Loads the wasm backend in a browser (the stand-in for ./wasm-load.ts that
// scripts/build-browser.mjs picks). A page compiles the module asynchronously (browsers refuse to
// compile a module over 4 KB synchronously on the main thread), so the backend exists only after
// initWasm() (the public init() of lib/browser.ts): until then loadWasm() answers "pending" and
// the default backend stays unsettled (ts for a model made before init()).
//
// Where the module comes from: the `source` given to init(), else the package's wasm/cellstate.wasm
// (new URL('../../wasm/cellstate.wasm', import.meta.url) from dist/browser/cellstate.mjs: served
// as the package lays them out, the URL finds it; bundlers that understand this pattern, such as
// Vite, webpack 5 and Parcel, copy the file and rewrite the URL). A page has no environment
// variables: the kernels get none (the best tier the browser supports, wasm_simd128).

import { instantiateWasmBackend, type WasmLoad, type WasmSource } from './wasm';

export type { WasmLoad, WasmSource } from './wasm';

let loaded: WasmLoad | undefined;
let loading: Promise<WasmLoad> | undefined;

const PENDING: WasmLoad = {
  backend: null, info: null, memoryBytes: () => 0, optim: null, pending: true,
  causes: ['the wasm module is not loaded yet: await init() before making models that should run on it'],
};

export function loadWasm(): WasmLoad {
  return loaded ?? PENDING;
}

export function initWasm(source?: WasmSource): Promise<WasmLoad> {
  if (loaded?.backend) return Promise.resolve(loaded);
  if (!loading) {
    loading = load(source ?? new URL('../../wasm/cellstate.wasm', import.meta.url)).then((l) => {
      loaded = l;
      loading = undefined;
      return l;
    });
  }
  return loading;
}

async function load(source: WasmSource): Promise<WasmLoad> {
  const name = source instanceof URL || typeof source === 'string' ? `init: wasm: ${String(source)}` : 'init: wasm';
  const causes: string[] = [];
  try {
    let bytes: ArrayBuffer | ArrayBufferView | WebAssembly.Module;
    if (typeof source === 'string' || source instanceof URL || isResponse(source)) {
      const r = isResponse(source) ? source : await fetch(source as string | URL);
      if (!r.ok) throw new Error(`fetch answered ${r.status} ${r.statusText}`);
      bytes = await r.arrayBuffer();
    } else if (source instanceof ArrayBuffer || ArrayBuffer.isView(source) || source instanceof WebAssembly.Module) {
      bytes = source;
    } else {
      throw new TypeError(`expected a URL, the module's bytes, a Response or a WebAssembly.Module, got ${Object.prototype.toString.call(source)}`);
    }
    if (!(bytes instanceof WebAssembly.Module) && !WebAssembly.validate(bytes as ArrayBuffer)) {
      throw new Error('this browser cannot compile it (it needs WebAssembly SIMD128: Chrome 91, Firefox 89, Safari 16.4 or later), or it is not the cellstate module');
    }
    const w = await instantiateWasmBackend(bytes);
    if (w.warning) causes.push(w.warning);
    return { backend: w.backend, info: w.info, causes, memoryBytes: w.memoryBytes, optim: w.optim };
  } catch (e) {
    causes.push(`${name}: ${String((e as Error)?.message ?? e)}`);
    return { backend: null, info: null, causes, memoryBytes: () => 0, optim: null };
  }
}

function isResponse(v: unknown): v is Response {
  return typeof Response !== 'undefined' && v instanceof Response;
}
