// The native backend: the one typed loader of the addon (native/addon.cc) and the Backend that
// calls it.
//
// Loading tries, in order: CELLSTATE_ADDON_PATH alone if set; else a local build
// (build/Release/cellstate.node, written by node-gyp when the install or `npm rebuild cellstate`
// had to compile), then the prebuilt binary shipped in the package for this platform
// (prebuilds/<platform>-<arch>/cellstate.node; see addonCandidates()). A local build comes first so
// that a compile asked for explicitly wins over the prebuilt one; the install only compiles where
// no prebuilt binary loads (scripts/install.js). Every failure is remembered in full, so the
// fallback warning and a forced native backend explain themselves. Training caches are
// Float32Arrays allocated here and filled by C++, so the addon owns no per-call memory; packed
// weights are an External, released by the layer when it repacks (or freed with its JS object).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { allocateUninit, checkElements, type FloatArray } from '../tensor';
import type {
  Backend, BackendInfo, CellBackwardArgs, CellCache, CellForwardArgs, CellKind, CellParams, PreparedCell, SeqLayout,
} from './types';
import { gateCount } from './types';

/** Opaque packed weights owned by the addon. */
export type NativeHandle = { readonly __brand: 'cellstate.CellPacked' };

/** Cell kinds as the addon numbers them. */
export const KIND_CODE: Record<CellKind, number> = { lstm: 0, gru: 1, rnn_tanh: 2, rnn_relu: 3 };
/** Flag bits of cellPrepare. */
export const FLAG = { peephole: 1, inputForget: 2, linearBeforeReset: 4 } as const;

/** The addon's exports, argument for argument (see native/addon.cc for the checks it repeats). */
export interface NativeAddon {
  info(): { isa: string; detectedIsa: string; threads: number; hardwareThreads: number; blas: string | null; warning: string; napiVersion: number };
  setThreads(n: number): void;
  /** Index of the first NaN or ±Inf in a, or -1 (the API's input check; native/util/finite.cc). */
  firstNonFinite(a: Float32Array): number;
  /** GFLOP/s of an FP32 FMA throughput probe on n threads (the benchmark's "peak"). */
  fmaPeak(threads: number): number;
  /** Test hook: the library GEMM (see native/addon.cc). */
  sgemm(transA: boolean, transB: boolean, M: number, N: number, K: number, A: F32, aOff: number, lda: number,
    B: F32, bOff: number, ldb: number, beta: 0 | 1, C: F32, cOff: number, ldc: number, packed: boolean): void;
  cellPrepare(kind: number, I: number, H: number, P: number, flags: number, clip: number,
    wIh: F32, wHh: F32, bIh: F32 | null, bHh: F32 | null, wHr: F32 | null, pI: F32 | null, pF: F32 | null, pO: F32 | null): NativeHandle;
  /** Drop the handle's packed weights now (calls in flight keep theirs; later use throws). */
  cellRelease(w: NativeHandle): void;
  /** Floats of the training cache one forward of T x B rows needs (the layout is the addon's). */
  cellCacheSize(w: NativeHandle, T: number, B: number): number;
  cellForward(...args: ForwardArgs): void;
  cellForwardAsync(...args: ForwardArgs): Promise<void>;
  cellBackward(...args: BackwardArgs): void;
  cellBackwardAsync(...args: BackwardArgs): Promise<void>;
  cellForwardPair(...args: [...ForwardArgs, ...ForwardArgs]): void;
  cellForwardPairAsync(...args: [...ForwardArgs, ...ForwardArgs]): Promise<void>;
  cellBackwardPair(...args: [...BackwardArgs, ...BackwardArgs]): void;
  cellBackwardPairAsync(...args: [...BackwardArgs, ...BackwardArgs]): Promise<void>;
}
type F32 = Float32Array;
type SeqArgs = [T: number, B: number, rowT: number, rowB: number, reverse: boolean, lengths: Int32Array | null];
type ForwardArgs = [w: NativeHandle, ...seq: SeqArgs,
  x: F32, xOffset: number, ldx: number, y: F32, yOffset: number, ldy: number,
  h0: F32 | null, c0: F32 | null, hN: F32, cN: F32 | null, cache: F32 | null];
type BackwardArgs = [w: NativeHandle, ...seq: SeqArgs,
  x: F32, xOffset: number, ldx: number, cache: F32,
  dy: F32 | null, dyOffset: number, lddy: number, dhN: F32 | null, dcN: F32 | null,
  dx: F32 | null, dxOffset: number, lddx: number, dh0: F32, dc0: F32 | null,
  dWih: F32, dWhh: F32, dBih: F32 | null, dBhh: F32 | null, dWhr: F32 | null, dPi: F32 | null, dPf: F32 | null, dPo: F32 | null];

export interface NativeLoad {
  addon: NativeAddon | null;
  backend: Backend | null;
  info: (() => BackendInfo) | null;
  /** The file the addon was loaded from (absolute), or null. */
  file: string | null;
  causes: string[];
}

let loaded: NativeLoad | undefined;

/** The addon if something has already loaded it (never loads it: a ts-only process stays so). */
export function loadedAddon(): NativeAddon | null {
  return loaded?.addon ?? null;
}

/** The platform tag of the prebuilt folder: linux-x64, linuxmusl-x64, linux-arm64, darwin-arm64, ... */
export function platformTag(): string {
  let libc = '';
  if (process.platform === 'linux') {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    libc = header?.glibcVersionRuntime ? '' : 'musl';
  }
  return `${process.platform}${libc}-${process.arch}`;
}

/** Where the addon may be, in the order tried (paths relative to the package root). */
export function addonCandidates(): string[] {
  return ['build/Release/cellstate.node', `prebuilds/${platformTag()}/cellstate.node`];
}

export function loadNative(): NativeLoad {
  if (loaded) return loaded;
  const causes: string[] = [];
  const missing: string[] = []; // absent candidates: a cause only if nothing loads
  const root = path.resolve(__dirname, '..', '..');
  let addon: NativeAddon | null = null;
  let loadedFrom: string | null = null;
  const explicit = process.env.CELLSTATE_ADDON_PATH;
  const tried = explicit ? [path.resolve(explicit)] : addonCandidates().map((c) => path.join(root, c));
  for (const file of tried) {
    const name = explicit ? `CELLSTATE_ADDON_PATH=${explicit}` : path.relative(root, file);
    if (!fs.existsSync(file)) {
      missing.push(`${name}: no such file${explicit ? '' : file.includes('prebuilds') ? ' (no prebuilt binary for this platform in the package)' : ' (not compiled here)'}`);
      causes.push(missing[missing.length - 1]);
      continue;
    }
    try {
      addon = require(file) as NativeAddon;
    } catch (e) {
      causes.push(`${name}: ${fullMessage(e)}`);
      continue;
    }
    try {
      const i = addon.info();
      if (i.warning) causes.push(i.warning);
      loadedFrom = file;
      break;
    } catch (e) {
      causes.push(`${name} loaded but did not answer info(): ${fullMessage(e)}`);
      addon = null;
    }
  }
  if (!addon && !explicit) {
    causes.push('remedy: `npm rebuild cellstate` compiles the addon (needs python3, make and a C++17 compiler; ' +
      'its output is kept in build/cellstate-install.log inside the package)');
  }
  loaded = addon
    ? { addon, backend: makeBackend(addon), info: () => infoOf(addon!), file: loadedFrom, causes: causes.filter((c) => !missing.includes(c)) }
    : { addon: null, backend: null, info: null, file: null, causes };
  return loaded;
}

/** An error's whole message on one line (a dlopen error names the missing symbol or library). */
function fullMessage(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
}

function infoOf(addon: NativeAddon): BackendInfo {
  const i = addon.info();
  return { name: 'native', isa: i.isa, threads: i.threads, blas: i.blas };
}

interface NativePrepared extends PreparedCell {
  readonly handle: NativeHandle;
}

interface NativeCache extends CellCache {
  readonly seq: SeqLayout;
  readonly x: Float32Array; readonly xOffset: number; readonly ldx: number; // input rows (kept by reference)
  readonly buf: Float32Array; // everything else the backward needs, laid out by the addon
}

function f32(a: FloatArray | null): Float32Array | null {
  return a as Float32Array | null; // the layer only hands float32 buffers to a float32-only backend
}

function makeBackend(addon: NativeAddon): Backend {
  const seqArgs = (q: SeqLayout): SeqArgs => [q.T, q.B, q.rowT, q.rowB, q.reverse, q.lengths];

  function forwardArgs(w: PreparedCell, a: CellForwardArgs, train: boolean): { args: ForwardArgs; cache: NativeCache | null } {
    const handle = (w as NativePrepared).handle;
    // The addon's own bound on the training cache (native/addon.cc), checked before allocating.
    if (train) checkElements('cellstate (native)', 'the training cache', a.T * a.B * (6 * gateCount(w.kind) * w.hiddenSize + 2 * w.outSize), `T*B = ${a.T * a.B} rows of the cache`);
    const cache: NativeCache | null = train ? {
      backend: 'native', seq: { T: a.T, B: a.B, rowT: a.rowT, rowB: a.rowB, reverse: a.reverse, lengths: a.lengths },
      // Not zero-filled here: the forward writes every element, and with lengths the addon
      // zeroes the whole cache first (native/cell/cell.cc cell_forward).
      x: a.x as Float32Array, xOffset: a.xOffset, ldx: a.ldx,
      buf: allocateUninit('float32', addon.cellCacheSize(handle, a.T, a.B)) as Float32Array,
    } : null;
    const args: ForwardArgs = [handle, ...seqArgs(a),
      a.x as F32, a.xOffset, a.ldx, a.y as F32, a.yOffset, a.ldy,
      f32(a.h0), f32(a.c0), a.hN as F32, f32(a.cN), cache?.buf ?? null];
    return { args, cache };
  }

  function backwardArgs(w: PreparedCell, k: NativeCache, g: CellBackwardArgs): BackwardArgs {
    return [(w as NativePrepared).handle, ...seqArgs(k.seq),
      k.x, k.xOffset, k.ldx, k.buf,
      f32(g.dy), g.dyOffset, g.lddy, f32(g.dhN), f32(g.dcN),
      f32(g.dx), g.dxOffset, g.lddx, g.dh0 as F32, f32(g.dc0),
      g.dWeightIh as F32, g.dWeightHh as F32, f32(g.dBiasIh), f32(g.dBiasHh), f32(g.dWeightHr),
      f32(g.dPeephole?.i ?? null), f32(g.dPeephole?.f ?? null), f32(g.dPeephole?.o ?? null)];
  }

  return {
    name: 'native',
    writesAllOutputs: true,
    supports: (dtype) => dtype === 'float32',
    prepare(p: CellParams): NativePrepared {
      const flags = (p.peephole ? FLAG.peephole : 0) | (p.inputForget ? FLAG.inputForget : 0) | (p.linearBeforeReset ? FLAG.linearBeforeReset : 0);
      const handle = addon.cellPrepare(KIND_CODE[p.kind], p.inputSize, p.hiddenSize, p.projSize, flags, p.clip ?? 0,
        p.weightIh as F32, p.weightHh as F32, f32(p.biasIh), f32(p.biasHh), f32(p.weightHr),
        f32(p.peephole?.i ?? null), f32(p.peephole?.f ?? null), f32(p.peephole?.o ?? null));
      return { backend: 'native', dtype: 'float32', kind: p.kind, inputSize: p.inputSize, hiddenSize: p.hiddenSize, outSize: p.projSize || p.hiddenSize, handle };
    },
    forward(w, a, train) {
      const { args, cache } = forwardArgs(w, a, train);
      addon.cellForward(...args);
      return cache;
    },
    async forwardAsync(w, a, train) {
      const { args, cache } = forwardArgs(w, a, train);
      await addon.cellForwardAsync(...args);
      return cache;
    },
    backward(w, cache, g) {
      addon.cellBackward(...backwardArgs(w, cache as NativeCache, g));
    },
    async backwardAsync(w, cache, g) {
      await addon.cellBackwardAsync(...backwardArgs(w, cache as NativeCache, g));
    },
    release: (w) => addon.cellRelease((w as NativePrepared).handle),
    setThreads: (n) => addon.setThreads(n),
    forwardPair(w, a, train) {
      const f0 = forwardArgs(w[0], a[0], train), f1 = forwardArgs(w[1], a[1], train);
      addon.cellForwardPair(...f0.args, ...f1.args);
      return [f0.cache, f1.cache];
    },
    async forwardPairAsync(w, a, train) {
      const f0 = forwardArgs(w[0], a[0], train), f1 = forwardArgs(w[1], a[1], train);
      await addon.cellForwardPairAsync(...f0.args, ...f1.args);
      return [f0.cache, f1.cache];
    },
    backwardPair(w, k, g) {
      addon.cellBackwardPair(...backwardArgs(w[0], k[0] as NativeCache, g[0]), ...backwardArgs(w[1], k[1] as NativeCache, g[1]));
    },
    async backwardPairAsync(w, k, g) {
      await addon.cellBackwardPairAsync(...backwardArgs(w[0], k[0] as NativeCache, g[0]), ...backwardArgs(w[1], k[1] as NativeCache, g[1]));
    },
  };
}
