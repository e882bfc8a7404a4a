// The native backend: the one typed loader of the addon (native/napi/) and the Backend that
// calls it, one descriptor per call (scripts/addon-schema.js; the encoders are generated).
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
import { allocateUninit, checkElements, reuseUninit, type FloatArray } from '../tensor';
import { actHeader } from './act-codes';
import type {
  Backend, BackendInfo, CellBackwardArgs, CellCache, CellForwardArgs, CellKind, CellParams, Precision, PreparedCell, QuantMatrix, SeqLayout,
} from './types';
import { kernelCacheStates, stepGradsUnsupported } from './types';
import {
  CELL_BACKWARD_HEADER, CELL_CACHE_SIZE_HEADER, CELL_FORWARD_HEADER, CELL_KIND_CODE, CELL_KINDS, CELL_PREPARE_HEADER,
  CELL_PARAMS, encodeCellBackward, encodeCellCacheSize, encodeCellForward, encodeCellPrepare, encodeCellRelease, encodeSetThreads,
  PRECISION_CODE, SCHEMA, SET_THREADS_HEADER,
  type CellBackwardWire, type CellForwardWire, type NativeCalls, type NativeHandle,
} from './schema.gen';

export type { NativeHandle } from './schema.gen';

export type { NativeAddon, NativeLoad } from './native-types';
import type { NativeAddon, NativeLoad } from './native-types';

type F32 = Float32Array;

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

/** JSON with sorted keys: the same tables compare equal whatever order each side built them in. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x));
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
      // A binary built from another call schema (a stale build, a prebuilt binary of another
      // version) would read descriptors laid out differently: refuse it here, not mid-call.
      const theirs = typeof addon.schema === 'function' ? canonical(addon.schema()) : 'none';
      if (theirs !== canonical(SCHEMA)) {
        causes.push(`${name}: built from another call schema than this library's JavaScript (a stale build or a binary of another version)`);
        addon = null;
        continue;
      }
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
      'its output is kept in build/cellstate-install.log inside the package; see docs/install.md#if-the-native-addon-does-not-load)');
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
  readonly precision: Precision;
}

interface NativeCache extends CellCache {
  readonly seq: SeqLayout;
  x: Float32Array; readonly xOffset: number; readonly ldx: number; // input rows (kept by reference)
  buf: Float32Array; // everything else the backward needs, laid out by the addon (empty once released)
}

/**
 * Training caches handed back by `releaseCache` (the Trainer does after each step's backward), for
 * the next training forward of the same size. A fresh cache of tens of MB is fresh pages the kernel
 * must fault in and zero on first touch (about 1.2 µs per 4 KB page on this project's VM): at
 * T = 1000, B = 64, H = 64 that was most of an LSTM training step. The addon keeps the backward's
 * biggest temporaries (∂A, [T·B, 4H] for an LSTM) for the same reason (native/util/scratch.h). At
 * most MAX_POOLED caches are kept, and once no training forward or backward has run for IDLE_MS
 * the caches are dropped and the addon's big temporaries freed (`onIdle`), so memory held after
 * training ends is one step's worth for a few seconds.
 */
class CachePool {
  private static readonly MAX_POOLED = 16;
  private static readonly IDLE_MS = 3000;
  private free: Float32Array[] = [];
  private lastUse = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly onIdle: () => void) {}

  take(n: number): Float32Array | null {
    const i = this.free.findIndex((b) => b.length === n);
    if (i < 0) return null;
    this.touch();
    return reuseUninit(this.free.splice(i, 1)[0]);
  }

  give(buf: Float32Array): void {
    if (buf.length === 0) return;
    this.free.push(buf);
    if (this.free.length > CachePool.MAX_POOLED) this.free.shift();
    this.touch();
  }

  /** Training work just ran: idle is counted from now. */
  touch(): void {
    this.lastUse = Date.now();
    if (this.timer === null) this.arm(CachePool.IDLE_MS);
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => {
      const idle = Date.now() - this.lastUse;
      if (idle >= CachePool.IDLE_MS) {
        this.free = [];
        this.timer = null;
        this.onIdle();
      } else this.arm(CachePool.IDLE_MS - idle);
    }, ms);
    this.timer.unref?.();
  }
}

const RELEASED = new Float32Array(0);

function live(k: NativeCache, where: string): NativeCache {
  if (k.buf === RELEASED) throw new TypeError(`cellstate (native): ${where}: the training cache was released after its backward (run forwardTrain again)`);
  return k;
}

function f32(a: FloatArray | null): Float32Array | null {
  return a as Float32Array | null; // the layer only hands float32 buffers to a float32-only backend
}

/**
 * A cell's parameter list as cellPrepare (params) and cellBackward (grads) take it: the four every
 * kind has, then the kind's own in the order the schema declares them, each by its model name in
 * `extra`, null where the cell has none (the addon checks the list against the kind).
 */
function paramList(kind: CellKind, wIh: FloatArray, wHh: FloatArray, bIh: FloatArray | null, bHh: FloatArray | null,
  extra: Readonly<Record<string, FloatArray>>): (Float32Array | null)[] {
  const list = [wIh as F32, wHh as F32, f32(bIh), f32(bHh)];
  for (const name of CELL_KINDS[kind].params as readonly string[]) list.push(f32(extra[name] ?? null));
  return list;
}

/**
 * A quantized cell's matrices as cellPrepare takes them (qparams, qscales): in params order, the
 * quantized matrix in place of each matrix parameter the cell has (its fp32 entry in params is
 * then null), null elsewhere; scales only for int8.
 */
function quantLists(p: CellParams): { params: (Float32Array | null)[]; qparams: (Uint16Array | Int8Array | null)[]; qscales: (Float32Array | null)[] | null } {
  const q: Record<string, QuantMatrix | null> = { weight_ih: p.qWeightIh, weight_hh: p.qWeightHh, weight_hr: p.qWeightHr };
  const names = [...CELL_PARAMS, ...(CELL_KINDS[p.kind].params as readonly string[])];
  const params = paramList(p.kind, p.weightIh, p.weightHh, p.biasIh, p.biasHh, p.extra);
  const qparams = names.map((n) => q[n]?.data ?? null);
  names.forEach((n, i) => { if (q[n]) params[i] = null; });
  const qscales = p.precision === 'int8' ? names.map((n) => q[n]?.scale ?? null) : null;
  return { params, qparams, qscales };
}

/** The refusal of training a quantized cell (inference only; the addon refuses it too). */
function quantizedTraining(call: string, precision: Precision): TypeError {
  return new TypeError(`native backend: ${call}: a cell quantized by quantize() (${precision}) runs inference only; train the fp32 model and quantize it afterwards (see docs/low-precision.md#what-a-quantized-model-refuses)`);
}

// Headers are reused: the addon copies a header before the call returns (native/napi/args.h), so
// one per descriptor slot (two for the pair calls) serves every call, sync or async.
const headers = {
  prepare: new Float64Array(CELL_PREPARE_HEADER),
  cacheSize: new Float64Array(CELL_CACHE_SIZE_HEADER),
  forward: [new Float64Array(CELL_FORWARD_HEADER), new Float64Array(CELL_FORWARD_HEADER)],
  backward: [new Float64Array(CELL_BACKWARD_HEADER), new Float64Array(CELL_BACKWARD_HEADER)],
};

function makeBackend(addon: NativeAddon): Backend {
  const pool = new CachePool(() => addon.trimScratch());
  function forwardArgs(w: PreparedCell, a: CellForwardArgs, train: boolean, slot: 0 | 1): { args: CellForwardWire; cache: NativeCache | null } {
    const handle = (w as NativePrepared).handle;
    if (train && (w as NativePrepared).precision !== 'fp32') throw quantizedTraining('forward (training)', (w as NativePrepared).precision);
    let cache: NativeCache | null = null;
    if (train) {
      // The exact size (the addon's one formula, native/cell/cell.cc), checked before allocating.
      const n = addon.cellCacheSize(...encodeCellCacheSize({ w: handle, T: a.T, B: a.B }, headers.cacheSize));
      checkElements('cellstate (native)', 'the training cache', n, `T*B = ${a.T * a.B} rows of the cache`);
      cache = {
        backend: 'native', seq: { T: a.T, B: a.B, rowT: a.rowT, rowB: a.rowB, reverse: a.reverse, lengths: a.lengths },
        // Not zero-filled here: the forward writes every element, and with lengths the addon
        // zeroes the whole cache first (native/cell/cell.cc cell_forward).
        x: a.x as Float32Array, xOffset: a.xOffset, ldx: a.ldx,
        buf: pool.take(n) ?? (allocateUninit('float32', n) as Float32Array),
      };
    }
    const args = encodeCellForward({
      w: handle, T: a.T, B: a.B, rowT: a.rowT, rowB: a.rowB, reverse: a.reverse, lengths: a.lengths,
      x: a.x as F32, xOffset: a.xOffset, ldx: a.ldx, y: a.y as F32, yOffset: a.yOffset, ldy: a.ldy,
      h0: f32(a.h0), c0: f32(a.c0), hN: a.hN as F32, cN: f32(a.cN), cache: cache?.buf ?? null,
    }, headers.forward[slot]);
    return { args, cache };
  }

  function backwardArgs(w: PreparedCell, k: NativeCache, g: CellBackwardArgs, slot: 0 | 1): CellBackwardWire {
    live(k, 'backward');
    pool.touch(); // the addon may keep this backward's big temporaries until the pool goes idle
    if (g.dhSteps || g.dcSteps) throw stepGradsUnsupported('native');
    if ((w as NativePrepared).precision !== 'fp32') throw quantizedTraining('backward', (w as NativePrepared).precision);
    const q = k.seq;
    return encodeCellBackward({
      w: (w as NativePrepared).handle, T: q.T, B: q.B, rowT: q.rowT, rowB: q.rowB, reverse: q.reverse, lengths: q.lengths,
      x: k.x, xOffset: k.xOffset, ldx: k.ldx, cache: k.buf,
      dy: f32(g.dy), dyOffset: g.dyOffset, lddy: g.lddy, dhN: f32(g.dhN), dcN: f32(g.dcN),
      dx: f32(g.dx), dxOffset: g.dxOffset, lddx: g.lddx, dh0: g.dh0 as F32, dc0: f32(g.dc0),
      grads: paramList(w.kind, g.dWeightIh, g.dWeightHh, g.dBiasIh, g.dBiasHh, g.dExtra),
    }, headers.backward[slot]);
  }

  return {
    name: 'native',
    writesAllOutputs: true,
    // bf16 / int8 weights (docs/equations.md, "Low precision"): float32 activations only.
    supports: (dtype, precision = 'fp32') => dtype === 'float32',
    prepare(p: CellParams): NativePrepared {
      const precision = p.precision ?? 'fp32';
      let flags = 0;
      for (const [name, bit] of Object.entries(CELL_KINDS[p.kind].flags) as [string, number][]) if (p.flags[name]) flags |= bit;
      const lists = precision === 'fp32'
        ? { params: paramList(p.kind, p.weightIh, p.weightHh, p.biasIh, p.biasHh, p.extra), qparams: null, qscales: null }
        : quantLists(p);
      const handle = addon.cellPrepare(...encodeCellPrepare({
        kind: CELL_KIND_CODE[p.kind], I: p.inputSize, H: p.hiddenSize, P: p.projSize, flags, clip: p.clip ?? 0,
        precision: PRECISION_CODE[precision], ...actHeader(p), ...lists,
      }, headers.prepare));
      return { backend: 'native', dtype: 'float32', kind: p.kind, inputSize: p.inputSize, hiddenSize: p.hiddenSize, outSize: p.projSize || p.hiddenSize, handle, precision };
    },
    forward(w, a, train) {
      const { args, cache } = forwardArgs(w, a, train, 0);
      addon.cellForward(...args);
      return cache;
    },
    async forwardAsync(w, a, train) {
      const { args, cache } = forwardArgs(w, a, train, 0);
      await addon.cellForwardAsync(...args);
      return cache;
    },
    cacheStates(w, cache) {
      const k = live(cache as NativeCache, 'cacheStates');
      return kernelCacheStates(w.kind, w.hiddenSize, k.seq.T, k.seq.B, k.buf);
    },
    backward(w, cache, g) {
      addon.cellBackward(...backwardArgs(w, cache as NativeCache, g, 0));
    },
    async backwardAsync(w, cache, g) {
      await addon.cellBackwardAsync(...backwardArgs(w, cache as NativeCache, g, 0));
    },
    release: (w) => addon.cellRelease(...encodeCellRelease({ w: (w as NativePrepared).handle })),
    releaseCache(cache) {
      const k = cache as NativeCache;
      if (k.buf === RELEASED) return;
      pool.give(k.buf);
      k.buf = RELEASED;
      k.x = RELEASED;
    },
    setThreads: (n) => addon.setThreads(...encodeSetThreads({ threads: n }, new Float64Array(SET_THREADS_HEADER))),
    forwardPair(w, a, train) {
      const f0 = forwardArgs(w[0], a[0], train, 0), f1 = forwardArgs(w[1], a[1], train, 1);
      addon.cellForwardPair(...f0.args, ...f1.args);
      return [f0.cache, f1.cache];
    },
    async forwardPairAsync(w, a, train) {
      const f0 = forwardArgs(w[0], a[0], train, 0), f1 = forwardArgs(w[1], a[1], train, 1);
      await addon.cellForwardPairAsync(...f0.args, ...f1.args);
      return [f0.cache, f1.cache];
    },
    backwardPair(w, k, g) {
      addon.cellBackwardPair(...backwardArgs(w[0], k[0] as NativeCache, g[0], 0), ...backwardArgs(w[1], k[1] as NativeCache, g[1], 1));
    },
    async backwardPairAsync(w, k, g) {
      await addon.cellBackwardPairAsync(...backwardArgs(w[0], k[0] as NativeCache, g[0], 0), ...backwardArgs(w[1], k[1] as NativeCache, g[1], 1));
    },
  };
}
