// The native backend: the one typed loader of the addon (native/addon.cc) and the Backend that
// calls it.
//
// Loading tries, in order, CELLSTATE_ADDON_PATH and then the build folders that node-gyp and
// cmake-js write (via `bindings`), remembering every failure so a forced native backend explains
// itself in one message. Training caches are Float32Arrays allocated here and filled by C++, so
// the addon owns no per-call memory; packed weights are an External freed with its JS object.

import * as path from 'node:path';
import type { FloatArray } from '../tensor';
import type {
  Backend, BackendInfo, LstmBackwardArgs, LstmCache, LstmForwardArgs, LstmParams, PreparedLstm, SeqLayout,
} from './types';

/** Opaque packed weights owned by the addon. */
export type NativeHandle = { readonly __brand: 'cellstate.LstmPacked' };

/** The addon's exports, argument for argument (see native/addon.cc for the checks it repeats). */
export interface NativeAddon {
  info(): { isa: string; detectedIsa: string; threads: number; hardwareThreads: number; blas: string | null; warning: string; napiVersion: number };
  setThreads(n: number): void;
  /** GFLOP/s of an FP32 FMA throughput probe on n threads (the benchmark's "peak"). */
  fmaPeak(threads: number): number;
  /** Test hook: the library GEMM (see native/addon.cc). */
  sgemm(transA: boolean, transB: boolean, M: number, N: number, K: number, A: F32, aOff: number, lda: number,
    B: F32, bOff: number, ldb: number, beta: 0 | 1, C: F32, cOff: number, ldc: number, packed: boolean): void;
  lstmPrepare(I: number, H: number, wIh: Float32Array, wHh: Float32Array, bIh: Float32Array | null, bHh: Float32Array | null): NativeHandle;
  lstmForward(...args: ForwardArgs): void;
  lstmForwardAsync(...args: ForwardArgs): Promise<void>;
  lstmBackward(...args: BackwardArgs): void;
  lstmBackwardAsync(...args: BackwardArgs): Promise<void>;
}
type F32 = Float32Array;
type SeqArgs = [T: number, B: number, rowT: number, rowB: number, reverse: boolean, lengths: Int32Array | null];
type ForwardArgs = [w: NativeHandle, ...seq: SeqArgs,
  x: F32, xOffset: number, ldx: number, y: F32, yOffset: number, ldy: number,
  h0: F32 | null, c0: F32 | null, hN: F32, cN: F32,
  gates: F32 | null, c: F32 | null, hprev: F32 | null, c0copy: F32 | null];
type BackwardArgs = [w: NativeHandle, ...seq: SeqArgs,
  x: F32, xOffset: number, ldx: number, gates: F32, c: F32, hprev: F32, c0copy: F32,
  dy: F32 | null, dyOffset: number, lddy: number, dhN: F32 | null, dcN: F32 | null,
  dx: F32 | null, dxOffset: number, lddx: number, dh0: F32, dc0: F32,
  dWih: F32, dWhh: F32, dBih: F32 | null, dBhh: F32 | null];

export interface NativeLoad {
  addon: NativeAddon | null;
  backend: Backend | null;
  info: (() => BackendInfo) | null;
  causes: string[];
}

let loaded: NativeLoad | undefined;

export function loadNative(): NativeLoad {
  if (loaded) return loaded;
  const causes: string[] = [];
  const root = path.resolve(__dirname, '..', '..');
  let addon: NativeAddon | null = null;
  const explicit = process.env.CELLSTATE_ADDON_PATH;
  if (explicit) {
    try {
      addon = require(path.resolve(explicit)) as NativeAddon;
    } catch (e) {
      causes.push(`CELLSTATE_ADDON_PATH=${explicit}: ${firstLine(e)}`);
    }
  } else {
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const bindings = require('bindings') as (o: { bindings: string; module_root: string }) => unknown;
      addon = bindings({ bindings: 'cellstate.node', module_root: root }) as NativeAddon;
    } catch (e) {
      causes.push(`the addon was not built or did not load (${firstLine(e)}); run \`npm run build:native\` and read its output`);
    }
  }
  if (addon) {
    try {
      const i = addon.info();
      if (i.warning) causes.push(i.warning);
    } catch (e) {
      causes.push(`the addon loaded but did not answer info(): ${firstLine(e)}`);
      addon = null;
    }
  }
  loaded = addon
    ? { addon, backend: makeBackend(addon), info: () => infoOf(addon!), causes }
    : { addon: null, backend: null, info: null, causes };
  return loaded;
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0];
}

function infoOf(addon: NativeAddon): BackendInfo {
  const i = addon.info();
  return { name: 'native', isa: i.isa, threads: i.threads, blas: i.blas };
}

interface NativePrepared extends PreparedLstm {
  readonly handle: NativeHandle;
}

interface NativeCache extends LstmCache {
  readonly seq: SeqLayout;
  readonly x: Float32Array; readonly xOffset: number; readonly ldx: number; // input rows (kept by reference)
  readonly gates: Float32Array; // [N, 4H]
  readonly c: Float32Array; // [N, H]
  readonly hprev: Float32Array; // [N, H]
  readonly c0: Float32Array; // [B, H]
}

function f32(a: FloatArray | null): Float32Array | null {
  return a as Float32Array | null; // the layer only hands float32 buffers to a float32-only backend
}

function makeBackend(addon: NativeAddon): Backend {
  const seqArgs = (q: SeqLayout): SeqArgs => [q.T, q.B, q.rowT, q.rowB, q.reverse, q.lengths];

  function forwardArgs(w: PreparedLstm, a: LstmForwardArgs, train: boolean): { args: ForwardArgs; cache: NativeCache | null } {
    const H = w.hiddenSize, N = a.T * a.B;
    const cache: NativeCache | null = train ? {
      backend: 'native', seq: { T: a.T, B: a.B, rowT: a.rowT, rowB: a.rowB, reverse: a.reverse, lengths: a.lengths },
      x: a.x as Float32Array, xOffset: a.xOffset, ldx: a.ldx,
      gates: new Float32Array(N * 4 * H), c: new Float32Array(N * H), hprev: new Float32Array(N * H), c0: new Float32Array(a.B * H),
    } : null;
    const args: ForwardArgs = [(w as NativePrepared).handle, ...seqArgs(a),
      a.x as F32, a.xOffset, a.ldx, a.y as F32, a.yOffset, a.ldy,
      f32(a.h0), f32(a.c0), a.hN as F32, a.cN as F32,
      cache?.gates ?? null, cache?.c ?? null, cache?.hprev ?? null, cache?.c0 ?? null];
    return { args, cache };
  }

  function backwardArgs(w: PreparedLstm, k: NativeCache, g: LstmBackwardArgs): BackwardArgs {
    return [(w as NativePrepared).handle, ...seqArgs(k.seq),
      k.x, k.xOffset, k.ldx, k.gates, k.c, k.hprev, k.c0,
      f32(g.dy), g.dyOffset, g.lddy, f32(g.dhN), f32(g.dcN),
      f32(g.dx), g.dxOffset, g.lddx, g.dh0 as F32, g.dc0 as F32,
      g.dWeightIh as F32, g.dWeightHh as F32, f32(g.dBiasIh), f32(g.dBiasHh)];
  }

  return {
    name: 'native',
    supports: (dtype) => dtype === 'float32',
    lstmPrepare(p: LstmParams): NativePrepared {
      const handle = addon.lstmPrepare(p.inputSize, p.hiddenSize, p.weightIh as F32, p.weightHh as F32, f32(p.biasIh), f32(p.biasHh));
      return { backend: 'native', dtype: 'float32', inputSize: p.inputSize, hiddenSize: p.hiddenSize, handle };
    },
    lstmForward(w, a, train) {
      const { args, cache } = forwardArgs(w, a, train);
      addon.lstmForward(...args);
      return cache;
    },
    async lstmForwardAsync(w, a, train) {
      const { args, cache } = forwardArgs(w, a, train);
      await addon.lstmForwardAsync(...args);
      return cache;
    },
    lstmBackward(w, cache, g) {
      addon.lstmBackward(...backwardArgs(w, cache as NativeCache, g));
    },
    async lstmBackwardAsync(w, cache, g) {
      await addon.lstmBackwardAsync(...backwardArgs(w, cache as NativeCache, g));
    },
    setThreads: (n) => addon.setThreads(n),
  };
}
