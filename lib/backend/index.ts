// Backend registry: which backends exist, which one a model gets by default, and `backend()`.
//
// The default is chosen once: CELLSTATE_BACKEND=ts|wasm|native forces one; otherwise native when its
// addon loaded, else wasm when its module compiles here, else ts. A forced backend that cannot be
// used throws one error listing every cause. In a browser (lib/browser.ts) there is no addon and
// the module loads asynchronously: the default is ts until init() is done, wasm from then on.

import { argTypeError, BackendUnavailableError } from '../errors';
import { emitWarning, envVar, IS_NODE } from '../host';
import type { Backend, BackendInfo, BackendName } from './types';
import { tsBackend } from './ts';
import { loadNative } from './native';
import { loadWasm } from './wasm-load';

const NAMES: readonly BackendName[] = ['ts', 'wasm', 'native'];
/** What an error says the names are. */
export const BACKEND_NAMES_TEXT = "'ts', 'wasm' or 'native'";

export function isBackendName(v: unknown): v is BackendName {
  return typeof v === 'string' && (NAMES as readonly string[]).includes(v);
}

/** The backend object for a name; throws BackendUnavailableError when it cannot be used here. */
export function getBackend(name: BackendName): Backend {
  if (name === 'ts') return tsBackend;
  if (name === 'wasm') {
    const wasm = loadWasm();
    if (wasm.backend) return wasm.backend;
    throw new BackendUnavailableError('the wasm backend was requested but cannot be used', wasm.causes);
  }
  const native = loadNative();
  if (native.backend) return native.backend;
  throw new BackendUnavailableError('the native backend was requested but cannot be used', native.causes);
}

let defaultName: BackendName | undefined;

/** The backend a model gets when its options name none. */
export function defaultBackendName(): BackendName {
  if (defaultName) return defaultName;
  const env = envVar('CELLSTATE_BACKEND');
  if (env !== undefined && env !== '') {
    if (!isBackendName(env)) throw argTypeError('cellstate', 'CELLSTATE_BACKEND', BACKEND_NAMES_TEXT, env);
    getBackend(env); // throws with every cause if unusable
    defaultName = env;
  } else {
    const native = loadNative();
    const wasm = native.backend ? null : loadWasm();
    // In a browser before init() the wasm module is still to come: ts for now, settled later.
    if (wasm?.pending) return 'ts';
    defaultName = native.backend ? 'native' : wasm?.backend ? 'wasm' : 'ts';
    if (!native.backend) noteFallbackOnce(defaultName, withRemedyLast([...native.causes, ...wasm!.causes]));
  }
  return defaultName;
}

/** The addon loader's remedy line stays the last cause. */
function withRemedyLast(causes: string[]): string[] {
  const i = causes.findIndex((c) => c.startsWith('remedy:'));
  return i < 0 ? causes : [...causes.slice(0, i), ...causes.slice(i + 1), causes[i]];
}

let fallbackNoted = false;
function noteFallbackOnce(to: BackendName, causes: string[]): void {
  if (fallbackNoted) return;
  fallbackNoted = true;
  if (envVar('CELLSTATE_QUIET') || !IS_NODE) return; // a page's console gets no warning: native never exists there
  // Every cause in full, one per line (the last is the remedy that works in a consumer project).
  const using = to === 'wasm' ? 'the WebAssembly backend (several times slower)' : 'the TypeScript backend (30-90x slower)';
  emitWarning(`cellstate: native addon unavailable, using ${using}:\n  - ${causes.join('\n  - ')}`, 'CELLSTATE_TS_FALLBACK');
}

/** Names of the backends usable in this process. */
export function availableBackends(): BackendName[] {
  return [...(loadNative().backend ? ['native' as const] : []), ...(loadWasm().backend ? ['wasm' as const] : []), 'ts'];
}

/**
 * Threads a compiled backend computes with: `native` (the default; it starts with every core) or
 * `wasm` (it starts with one; n > 1 adds n - 1 worker threads, at most one per core, each with
 * its own instance of the module, that split inference forwards of two or more sequences by batch
 * slices; training runs on the calling thread; a worker that dies — out of memory, an uncaught
 * error, terminated — makes the forward waiting for it throw an Error naming it and why, and later
 * forwards run without it, on the workers left and the calling thread, until setThreads(n, 'wasm')
 * starts workers again). Ignored by ts.
 */
export function setThreads(n: number, which: 'native' | 'wasm' = 'native'): void {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1024) {
    throw new RangeError(`setThreads: n: expected an integer in [1, 1024], got ${String(n)}`);
  }
  if (which !== 'native' && which !== 'wasm') throw new TypeError(`setThreads: which: expected 'native' or 'wasm', got ${typeof which === 'string' ? JSON.stringify(which) : String(which)}`);
  if (which === 'wasm') loadWasm().backend?.setThreads(n);
  else loadNative().backend?.setThreads(n);
}

/** What the default (or named) backend is and how it runs. */
export function backend(name?: BackendName): BackendInfo {
  const n = name ?? defaultBackendName();
  if (n === 'ts') return { name: 'ts', isa: 'js', threads: 1, blas: null };
  if (n === 'wasm') {
    const wasm = loadWasm();
    if (!wasm.info) throw new BackendUnavailableError('the wasm backend cannot be used', wasm.causes);
    return wasm.info();
  }
  const native = loadNative();
  if (!native.backend || !native.info) throw new BackendUnavailableError('the native backend cannot be used', native.causes);
  return native.info();
}
