// The wasm backend: the addon's C++ kernels (cells, LSTM, packed GEMM; the scalar and wasm_simd128
// tiers of native/isa.json) compiled to WebAssembly by scripts/build-wasm.sh, called through the C
// ABI of native/wasm/cellstate_wasm.cc. The same Backend interface as native and ts.
//
// This file imports nothing from node: (a browser build can use it as it is): makeWasmBackend()
// takes the module's bytes; ./wasm-load.ts finds them in the package under Node.
//
// Memory. The module has one linear memory; every call copies its inputs in (cs_malloc), runs,
// copies its outputs out and frees what it allocated, so no call leaves anything in the module but
// the packed weights of prepare() (freed by release() or when the PreparedCell is collected).
// Buffers that are only partly written (y rows of one direction of a bidirectional layer, the
// accumulated dx and parameter gradients) are copied in before the call and out after it, so what
// the kernels do not write keeps its value. The training cache lives in a JS Float32Array between
// forward and backward (as on native), copied into the module for the backward.
//
// Failures. A bad call returns -1 and the module's message becomes a RangeError. A trap (an
// allocation the kernels could not make: their std::bad_alloc, native/wasm/wasm_abi.cc) leaves the
// instance in an unknown state: the error is rethrown as a RangeError and the backend refuses every
// later call.
//
// Threads. Given helpers (lib/backend/wasm-threads.ts: worker threads, each with its own instance
// of the module and its own memory; one thread has no shared memory to split a GEMM over, as the
// module is built without threads), an inference forward of B >= 2 rows is split by batch slices:
// each helper runs the same kernels on its slice of rows (gathered into a compact time-major
// copy, posted, its outputs scattered back), the calling thread runs the first slice and then
// waits for the others. Rows are independent, so the results equal one thread's bit for bit.
// Cells prepared while helpers run are prepared on each of them too; training forwards and
// backwards run on the calling thread. A helper that dies (its thread ends: out of memory, an
// uncaught error, terminate()) makes the forward waiting for it throw, once every posted slice is
// accounted for; the forwards after it leave it out (alive() is false): its cells' batches split
// over the helpers left and the calling thread (wasm-threads.ts, "A helper that dies").
//
// Optimizers. `optim` runs the addon's fused updates (native/optim/optim.cc, through
// native/wasm/optim_wasm.cc): one call per step over every parameter, parameters and state copied
// in and back out (grads only in), like every other call.

import { allocateUninit, checkElements, type FloatArray } from '../tensor';
import { actTriples } from './act-codes';
import { kernelCacheStates, stepGradsUnsupported, type Backend, type BackendInfo, type CellBackwardArgs, type CellCache, type CellForwardArgs, type CellKind, type CellParams, type OptimCalls, type PreparedCell, type SeqLayout } from './types';
import {
  CELL_KIND_CODE, CELL_KINDS, encodeOptimAdam, encodeOptimRmsprop, encodeOptimSgd, OPTIM_ADAM_HEADER, OPTIM_RMSPROP_HEADER, OPTIM_SGD_HEADER,
} from './schema.gen';

/** The module's exports (native/wasm/cellstate_wasm.cc); pointers are byte offsets (numbers). */
interface WasmExports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  cs_malloc(bytes: number): number;
  cs_free(p: number): void;
  cs_last_error(): number;
  cs_dispatch_warning(): number;
  cs_isa(): number;
  cs_cell_prepare(kind: number, I: number, H: number, P: number, flags: number, clip: number, acts: number, params: number, n: number): number;
  cs_cell_release(w: number): void;
  cs_cell_cache_floats(w: number, T: number, B: number): number;
  cs_cell_forward(w: number, h: number, lengths: number, x: number, y: number, h0: number, c0: number, hN: number, cN: number, cache: number): number;
  cs_cell_backward(w: number, h: number, lengths: number, x: number, cache: number, dy: number, dhN: number, dcN: number,
    dx: number, dh0: number, dc0: number, grads: number, n: number): number;
  cs_optim_sgd(h: number, count: number, n: number, p: number, g: number, buf: number): number;
  cs_optim_adam(h: number, count: number, n: number, p: number, g: number, m: number, v: number): number;
  cs_optim_rmsprop(h: number, count: number, n: number, p: number, g: number, sq: number, gavg: number, buf: number): number;
}

/**
 * Where init() finds the WebAssembly module: a URL (a string or a URL object) or, under Node, a
 * path; the module's bytes; a fetch Response of it (browser); or a WebAssembly.Module already
 * compiled. (`object` stands for URL, Response and WebAssembly.Module, so the declarations need
 * neither the DOM's types nor Node's; init() checks what it gets.)
 */
export type WasmSource = string | ArrayBuffer | ArrayBufferView | object;

/** What loading the module gave (./wasm-load.ts under Node, ./wasm-load.browser.ts in a browser). */
export interface WasmLoad {
  backend: Backend | null;
  info: (() => BackendInfo) | null;
  causes: string[];
  /** The module's linear memory in bytes (0 when not loaded). */
  memoryBytes: () => number;
  /** The module's fused optimizer updates (null when not loaded). */
  optim: OptimCalls | null;
  /** True in a browser before init() has loaded the module: the default backend is not settled yet. */
  pending?: boolean;
}

export interface WasmBackend {
  backend: Backend;
  info(): BackendInfo;
  /** "" or the message about an unknown CELLSTATE_MAX_ISA value. */
  warning: string;
  /** Bytes of the module's linear memory (it only grows): for tests that prove calls free what they allocate. */
  memoryBytes(): number;
  /** The fused optimizer updates (the addon's C++ loops compiled to wasm). */
  optim: OptimCalls;
}

interface WasmPrepared extends PreparedCell {
  readonly cell: { ptr: number; id: number; helpers: readonly WasmHelper[] }; // ptr 0 once released; id names it on the helpers
}

/** The outputs of one batch slice's forward on a helper (compact: y [T, nb, Hout], hN [nb, Hout], cN [nb, H]). */
export interface SliceResult { y: Float32Array; hN: Float32Array; cN: Float32Array | null }

/** One helper thread running its own instance of the module (lib/backend/wasm-threads.ts). */
export interface WasmHelper {
  /** False once the helper was stopped (setThreads lowered the count) or its thread has ended. */
  alive(): boolean;
  /** Starts the forward of one compact batch slice of cell `id` (time-major, ldx = I, ldy = Hout); returns at once. */
  post(id: number, a: CellForwardArgs): void;
  /** Blocks until the posted forward is done; its outputs, or throws its error (or an Error saying the helper died). */
  wait(): SliceResult;
  /** Frees cell `id` on the helper (no reply). */
  release(id: number): void;
}

/** The helper threads of one backend: their count follows setThreads(n) (n - 1 helpers). */
export interface WasmHelpers {
  /** Running helpers (those whose threads have ended are left out). */
  list(): readonly WasmHelper[];
  /** Runs n helpers (starting or stopping some). */
  resize(n: number): void;
  /** Prepares the cell on every running helper under `id` (posted; errors surface at its first forward). */
  prepare(id: number, p: CellParams): readonly WasmHelper[];
}

interface WasmCache extends CellCache {
  readonly seq: SeqLayout;
  readonly x: FloatArray; readonly xOffset: number; readonly ldx: number; // input rows (kept by reference)
  readonly buf: Float32Array; // the module's training cache, between forward and backward
}

/** The wasi imports the module links against (wasi-libc's startup and stdio): an environment of the given variables, no files. */
function wasiImports(env: Record<string, string>, mem: () => WebAssembly.Memory): WebAssembly.ModuleImports {
  const vars = Object.entries(env).map(([k, v]) => new TextEncoder().encode(`${k}=${v}\0`));
  const EBADF = 8, ENOSYS = 52;
  return {
    environ_sizes_get(count: number, size: number) {
      const d = new DataView(mem().buffer);
      d.setUint32(count, vars.length, true);
      d.setUint32(size, vars.reduce((s, v) => s + v.length, 0), true);
      return 0;
    },
    environ_get(ptrs: number, buf: number) {
      const d = new DataView(mem().buffer), u8 = new Uint8Array(mem().buffer);
      vars.forEach((v, i) => { d.setUint32(ptrs + 4 * i, buf, true); u8.set(v, buf); buf += v.length; });
      return 0;
    },
    fd_write: () => EBADF, // the kernels never print
    fd_seek: () => EBADF,
    fd_close: () => EBADF,
    proc_exit: (code: number) => { throw new Error(`cellstate wasm: proc_exit(${code})`); },
    sched_yield: () => 0,
    clock_time_get: () => ENOSYS,
  };
}

/** The module's imports (its wasi functions, over the memory `memory()` gives once it is instantiated). */
function linkImports(module: WebAssembly.Module, env: Record<string, string>, memory: () => WebAssembly.Memory): WebAssembly.Imports {
  const wasi = wasiImports(env, memory);
  const imports: WebAssembly.Imports = { wasi_snapshot_preview1: {} };
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module !== 'wasi_snapshot_preview1' || !(imp.name in wasi)) throw new Error(`cellstate wasm: unexpected import ${imp.module}.${imp.name}`);
    (imports.wasi_snapshot_preview1 as WebAssembly.ModuleImports)[imp.name] = wasi[imp.name];
  }
  return imports;
}

/**
 * Instantiates the module (synchronously: Node allows it for any size) and returns the backend
 * over it. `env`: the CELLSTATE_* variables the kernels read (CELLSTATE_MAX_ISA, CELLSTATE_POISON_UNINIT).
 */
export function makeWasmBackend(bytes: ArrayBufferView | ArrayBuffer | object, env: Record<string, string> = {}, helpers: WasmHelpers | null = null): WasmBackend {
  // (`object`: a WebAssembly.Module, typed so the declarations need no DOM types; a view works
  // too where the DOM's types say BufferSource)
  const module = bytes instanceof WebAssembly.Module ? bytes : new WebAssembly.Module(bytes as ArrayBuffer);
  let memory: WebAssembly.Memory | undefined;
  const instance = new WebAssembly.Instance(module, linkImports(module, env, () => memory!));
  memory = (instance.exports as unknown as WasmExports).memory;
  return backendOver(instance, helpers);
}

/**
 * The same, asynchronously: a browser's main thread refuses to compile or instantiate a module of
 * more than 4 KB synchronously, so the browser loader (./wasm-load.browser.ts) comes here.
 */
export async function instantiateWasmBackend(source: ArrayBufferView | ArrayBuffer | object, env: Record<string, string> = {}, helpers: WasmHelpers | null = null): Promise<WasmBackend> {
  // (`object`: a WebAssembly.Module; typed so the declarations need no DOM types)
  const module = source instanceof WebAssembly.Module ? source : await WebAssembly.compile(source as ArrayBuffer);
  let memory: WebAssembly.Memory | undefined;
  const instance = await WebAssembly.instantiate(module, linkImports(module, env, () => memory!));
  memory = (instance.exports as unknown as WasmExports).memory;
  return backendOver(instance, helpers);
}

/** The Backend over an instance of the module; `helpers`: its helper threads (null: none, as in a browser). */
function backendOver(instance: WebAssembly.Instance, helpers: WasmHelpers | null): WasmBackend {
  const ex = instance.exports as unknown as WasmExports;
  const memory: WebAssembly.Memory | undefined = ex.memory;
  ex._initialize();
  const warning = cString(ex.cs_dispatch_warning());
  const isa = cString(ex.cs_isa());
  let broken: string | null = null;
  let lastId = 0; // cells' ids on the helpers

  function cString(p: number): string {
    const u8 = new Uint8Array(memory!.buffer);
    let e = p;
    while (u8[e] !== 0) e++;
    return new TextDecoder().decode(u8.subarray(p, e));
  }

  // One call's allocations in the module, freed together. Views are made after every allocation
  // (the memory may grow, which detaches the old buffer).
  class Frame {
    private readonly ptrs: number[] = [];
    alloc(bytes: number): number {
      const p = ex.cs_malloc(Math.max(bytes, 4));
      if (p === 0) throw new RangeError(`cellstate (wasm): out of memory in the wasm heap (${bytes} bytes for one buffer)`);
      this.ptrs.push(p);
      return p;
    }
    /** Copies a[off, off + n) in; returns its pointer (0 for a null a). */
    floats(a: FloatArray | null, off = 0, n = a ? a.length - off : 0): number {
      if (!a) return 0;
      const p = this.alloc(4 * n);
      new Float32Array(memory!.buffer, p, n).set(off === 0 && n === a.length ? a : a.subarray(off, off + n));
      return p;
    }
    /** Room for n floats (not initialised). */
    out(n: number): number {
      return this.alloc(4 * n);
    }
    ints(a: Int32Array | null): number {
      if (!a) return 0;
      const p = this.alloc(4 * a.length);
      new Int32Array(memory!.buffer, p, a.length).set(a);
      return p;
    }
    doubles(v: number[]): number {
      const p = this.alloc(8 * v.length);
      new Float64Array(memory!.buffer, p, v.length).set(v);
      return p;
    }
    pointers(v: number[]): number {
      const p = this.alloc(4 * v.length);
      new Uint32Array(memory!.buffer, p, v.length).set(v);
      return p;
    }
    /** Copies n floats at p out into a[off, off + n). */
    back(p: number, a: FloatArray | null, off = 0, n = a ? a.length - off : 0): void {
      if (a && p) a.set(new Float32Array(memory!.buffer, p, n), off);
    }
    free(): void {
      for (const p of this.ptrs) ex.cs_free(p);
    }
  }

  /** Runs fn in a frame; a module failure becomes a RangeError, a trap disables the backend. */
  function call<T>(what: string, fn: (f: Frame) => T): T {
    if (broken) throw new RangeError(`cellstate (wasm): ${what}: the module failed earlier and cannot be used (${broken})`);
    const f = new Frame();
    try {
      return fn(f);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) {
        broken = `${cString(ex.cs_last_error()) || 'trap'}: ${(e as Error).message}`;
        throw new RangeError(`cellstate (wasm): ${what}: ${broken}`);
      }
      throw e;
    } finally {
      if (!broken) f.free();
    }
  }

  function check(what: string, rc: number): void {
    if (rc !== 0) throw new RangeError(`cellstate (wasm): ${what}: ${cString(ex.cs_last_error())}`);
  }

  const released = typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<WasmPrepared['cell']>((cell) => {
      if (cell.ptr && !broken) ex.cs_cell_release(cell.ptr);
      if (cell.ptr) for (const h of cell.helpers) if (h.alive()) h.release(cell.id);
      cell.ptr = 0;
    })
    : null;

  /** The parameter list cs_cell_prepare / cs_cell_backward take: the four every kind has, then the kind's own (schema order). */
  function paramList(kind: CellKind, wIh: FloatArray, wHh: FloatArray, bIh: FloatArray | null, bHh: FloatArray | null,
    extra: Readonly<Record<string, FloatArray>>): (FloatArray | null)[] {
    return [wIh, wHh, bIh, bHh, ...(CELL_KINDS[kind].params as readonly string[]).map((n) => extra[n] ?? null)];
  }

  function handle(w: PreparedCell, what: string): number {
    const p = (w as WasmPrepared).cell?.ptr;
    if (!p) throw new TypeError(`cellstate (wasm): ${what}: the prepared cell was released (or is not a wasm cell)`);
    return p;
  }

  /** Elements a rows buffer spans from its offset: (N-1)*ld + width. */
  const span = (N: number, ld: number, width: number) => (N - 1) * ld + width;

  function forwardOne(w: PreparedCell, wp: number, a: CellForwardArgs, train: boolean): CellCache | null {
    const I = w.inputSize, P = w.outSize, H = w.hiddenSize, N = a.T * a.B;
    return call('forward', (f) => {
      let cache: WasmCache | null = null;
      if (train) {
        const n = ex.cs_cell_cache_floats(wp, a.T, a.B);
        checkElements('cellstate (wasm)', 'the training cache', n, `T*B = ${N} rows of the cache`);
        cache = {
          backend: 'wasm', seq: { T: a.T, B: a.B, rowT: a.rowT, rowB: a.rowB, reverse: a.reverse, lengths: a.lengths },
          x: a.x, xOffset: a.xOffset, ldx: a.ldx, buf: allocateUninit('float32', n) as Float32Array,
        };
      }
      const ny = span(N, a.ldy, P);
      const x = f.floats(a.x, a.xOffset, span(N, a.ldx, I));
      // y in and out: with ldy > P the other columns (another direction's half) must survive.
      const y = a.ldy === P ? f.out(ny) : f.floats(a.y, a.yOffset, ny);
      const hN = f.out(a.B * P), cN = a.cN ? f.out(a.B * H) : 0;
      const k = cache ? f.out(cache.buf.length) : 0;
      const h = f.doubles([a.T, a.B, a.rowT, a.rowB, a.reverse ? 1 : 0, a.ldx, a.ldy, 0]);
      check('forward', ex.cs_cell_forward(wp, h, f.ints(a.lengths), x, y, f.floats(a.h0), f.floats(a.c0), hN, cN, k));
      f.back(y, a.y, a.yOffset, ny);
      f.back(hN, a.hN, 0, a.B * P);
      if (a.cN) f.back(cN, a.cN, 0, a.B * H);
      if (cache) f.back(k, cache.buf);
      return cache;
    });
  }

  /** Rows [b0, b1) of a's batch as a compact time-major forward (x gathered; outputs fresh). */
  function slice(w: PreparedCell, a: CellForwardArgs, b0: number, b1: number): CellForwardArgs {
    const I = w.inputSize, P = w.outSize, H = w.hiddenSize, nb = b1 - b0;
    const x = new Float32Array(a.T * nb * I);
    for (let t = 0; t < a.T; t++) {
      for (let b = 0; b < nb; b++) {
        const src = a.xOffset + (t * a.rowT + (b0 + b) * a.rowB) * a.ldx;
        x.set(a.x.subarray(src, src + I), (t * nb + b) * I);
      }
    }
    return {
      T: a.T, B: nb, rowT: nb, rowB: 1, reverse: a.reverse, lengths: a.lengths ? a.lengths.slice(b0, b1) : null,
      x, xOffset: 0, ldx: I, y: new Float32Array(0), yOffset: 0, ldy: P, // y: the helper allocates it
      h0: a.h0 ? Float32Array.from(a.h0.subarray(b0 * P, b1 * P)) : null, c0: a.c0 ? Float32Array.from(a.c0.subarray(b0 * H, b1 * H)) : null,
      hN: new Float32Array(0), cN: a.cN ? new Float32Array(0) : null,
    };
  }

  /** Writes a slice's outputs into rows [b0, b0 + nb) of a's outputs. */
  function scatter(w: PreparedCell, a: CellForwardArgs, b0: number, nb: number, r: SliceResult): void {
    const P = w.outSize, H = w.hiddenSize;
    for (let t = 0; t < a.T; t++) {
      for (let b = 0; b < nb; b++) {
        const src = (t * nb + b) * P;
        a.y.set(r.y.subarray(src, src + P), a.yOffset + (t * a.rowT + (b0 + b) * a.rowB) * a.ldy);
      }
    }
    a.hN.set(r.hN, b0 * P);
    if (a.cN && r.cN) a.cN.set(r.cN, b0 * H);
  }

  /** An inference forward split by batch slices over this thread and the helpers (see Threads above). */
  function forwardSplit(w: PreparedCell, a: CellForwardArgs, hs: readonly WasmHelper[]): void {
    const n = Math.min(hs.length + 1, a.B), id = (w as WasmPrepared).cell.id;
    const at = (k: number) => Math.floor((k * a.B) / n); // slice k: rows [at(k), at(k + 1))
    const posted: WasmHelper[] = [];
    let failure: unknown = null;
    try {
      for (let k = 1; k < n; k++) { hs[k - 1].post(id, slice(w, a, at(k), at(k + 1))); posted.push(hs[k - 1]); }
      const own = slice(w, a, 0, at(1)), P = w.outSize, H = w.hiddenSize;
      const r: SliceResult = { y: new Float32Array(a.T * own.B * P), hN: new Float32Array(own.B * P), cN: a.cN ? new Float32Array(own.B * H) : null };
      forwardOne(w, handle(w, 'forward'), { ...own, y: r.y, hN: r.hN, cN: r.cN }, false);
      scatter(w, a, 0, own.B, r);
    } catch (e) {
      failure = e;
    }
    // Every posted slice is waited for (even after a failure), so each helper's replies stay in step.
    posted.forEach((h, i) => {
      try {
        const r = h.wait();
        if (!failure) scatter(w, a, at(i + 1), at(i + 2) - at(i + 1), r);
      } catch (e) {
        failure ??= e;
      }
    });
    if (failure) throw failure;
  }

  const backend: Backend = {
    name: 'wasm',
    writesAllOutputs: true, // the kernels write every y row (zeros past a length), hN and cN
    supports: (dtype, precision = 'fp32') => dtype === 'float32' && precision === 'fp32',
    prepare(p: CellParams): WasmPrepared {
      if (p.precision !== undefined && p.precision !== 'fp32') throw new TypeError(`wasm backend: ${p.precision} weights are not supported here (supports() says so; the layer runs them on ts)`);
      let flags = 0;
      for (const [name, bit] of Object.entries(CELL_KINDS[p.kind].flags) as [string, number][]) if (p.flags[name]) flags |= bit;
      const ptr = call('prepare', (f) => {
        const list = paramList(p.kind, p.weightIh, p.weightHh, p.biasIh, p.biasHh, p.extra).map((a) => f.floats(a));
        const w = ex.cs_cell_prepare(CELL_KIND_CODE[p.kind], p.inputSize, p.hiddenSize, p.projSize, flags, p.clip ?? 0, f.doubles(actTriples(p)), f.pointers(list), list.length);
        if (w === 0) check('prepare', -1);
        return w;
      });
      const cell = { ptr, id: ++lastId, helpers: [] as readonly WasmHelper[] };
      if (helpers && helpers.list().length) {
        cell.helpers = helpers.prepare(cell.id, {
          ...p, weightHr: null, peephole: null, qWeightIh: null, qWeightHh: null, qWeightHr: null, // the generic fields carry them (extra)
        });
      }
      const w: WasmPrepared = { backend: 'wasm', dtype: 'float32', kind: p.kind, inputSize: p.inputSize, hiddenSize: p.hiddenSize, outSize: p.projSize || p.hiddenSize, cell };
      released?.register(w, cell, w);
      return w;
    },
    forward(w, a, train) {
      const wp = handle(w, 'forward');
      const hs = !train && a.B >= 2 ? (w as WasmPrepared).cell.helpers.filter((h) => h.alive()) : [];
      if (hs.length) { forwardSplit(w, a, hs); return null; }
      return forwardOne(w, wp, a, train);
    },
    cacheStates(w, kc) {
      const k = kc as WasmCache;
      return kernelCacheStates(w.kind, w.hiddenSize, k.seq.T, k.seq.B, k.buf);
    },
    backward(w, kc, g) {
      if (g.dhSteps || g.dcSteps) throw stepGradsUnsupported('wasm');
      const wp = handle(w, 'backward');
      const k = kc as WasmCache, q = k.seq;
      const I = w.inputSize, P = w.outSize, H = w.hiddenSize, N = q.T * q.B;
      call('backward', (f) => {
        const grads = paramList(w.kind, g.dWeightIh, g.dWeightHh, g.dBiasIh, g.dBiasHh, g.dExtra);
        const gp = grads.map((a) => f.floats(a)); // accumulated: in and out
        const nx = g.dx ? span(N, g.lddx, I) : 0;
        const dx = f.floats(g.dx, g.dxOffset, nx); // accumulated
        const dh0 = f.out(q.B * P), dc0 = g.dc0 ? f.out(q.B * H) : 0;
        const h = f.doubles([q.T, q.B, q.rowT, q.rowB, q.reverse ? 1 : 0, k.ldx, g.lddy, g.lddx]);
        check('backward', ex.cs_cell_backward(wp, h, f.ints(q.lengths), f.floats(k.x, k.xOffset, span(N, k.ldx, I)), f.floats(k.buf),
          g.dy ? f.floats(g.dy, g.dyOffset, span(N, g.lddy, P)) : 0, f.floats(g.dhN), f.floats(g.dcN), dx, dh0, dc0, f.pointers(gp), gp.length));
        grads.forEach((a, i) => f.back(gp[i], a));
        f.back(dx, g.dx, g.dxOffset, nx);
        f.back(dh0, g.dh0, 0, q.B * P);
        if (g.dc0) f.back(dc0, g.dc0, 0, q.B * H);
      });
    },
    // One thread: the promise settles after the work is done (a worker-based variant is the stretch goal).
    forwardAsync: async (w, args, train) => backend.forward(w, args, train),
    backwardAsync: async (w, cache, args) => backend.backward(w, cache, args),
    release(w) {
      const cell = (w as WasmPrepared).cell;
      if (cell?.ptr && !broken) ex.cs_cell_release(cell.ptr);
      if (cell?.ptr) for (const h of cell.helpers) if (h.alive()) h.release(cell.id);
      if (cell) cell.ptr = 0;
      released?.unregister(w);
    },
    // n - 1 helper threads (none without helpers: a browser build, or the helpers' own instances).
    setThreads: (n) => helpers?.resize(n - 1),
  };
  // One optimizer step over the lists of one descriptor. The first list holds the parameters (their
  // lengths size every other list); `back` lists (parameters, state) are copied back out; a
  // `need`ed list that is null is a TypeError, one not needed passes a null pointer.
  interface OptimList { name: string; list: Float32Array[] | null; back: boolean; need: boolean }
  const optimHeaders = { sgd: new Float64Array(OPTIM_SGD_HEADER), adam: new Float64Array(OPTIM_ADAM_HEADER), rmsprop: new Float64Array(OPTIM_RMSPROP_HEADER) };
  function optimStep(what: string, header: Float64Array, lists: OptimList[], run: (h: number, count: number, n: number, ptrs: number[]) => number): void {
    const params = lists[0].list!, count = params.length;
    for (const { name, list, need } of lists) {
      if (!need) continue;
      if (!list) {
        throw new TypeError(`cellstate (wasm): ${what}: ${name}: expected an Array of Float32Arrays for this configuration, got null`);
      }
      if (list.length !== count) throw new RangeError(`cellstate (wasm): ${what}: ${name}: expected ${count} entries (one per parameter), got ${list.length}`);
      list.forEach((a, k) => {
        if (!(a instanceof Float32Array)) throw new TypeError(`cellstate (wasm): ${what}: ${name}[${k}]: expected a Float32Array, got ${Object.prototype.toString.call(a)}`);
        if (a.length !== params[k].length) throw new RangeError(`cellstate (wasm): ${what}: expected ${name}[${k}] with ${params[k].length} elements (its parameter's), got ${a.length}`);
      });
    }
    call(what, (f) => {
      const used = lists.map(({ list, need }) => (need ? list : null)); // lists the configuration does not use stay out
      const bufs = used.map((l) => l && l.map((a) => f.floats(a)));
      const ptrs = bufs.map((b) => (b ? f.pointers(b) : 0));
      check(what, run(f.doubles(Array.from(header)), count, f.doubles(params.map((a) => a.length)), ptrs));
      lists.forEach(({ back }, i) => { if (back && used[i]) used[i]!.forEach((a, k) => f.back(bufs[i]![k], a)); });
    });
  }
  const L = (name: string, list: Float32Array[] | null, back: boolean, need = true): OptimList => ({ name, list, back, need });
  const optim: OptimCalls = {
    optimSgd(params, grads, bufs, lr, momentum, dampening, weightDecay, nesterov, first) {
      const [h] = encodeOptimSgd({ params, grads, bufs, lr, momentum, dampening, weightDecay, nesterov, first }, optimHeaders.sgd);
      optimStep('optimSgd', h, [L('params', params, true), L('grads', grads, false), L('bufs', bufs, true, momentum !== 0)],
        (hp, c, n, [p, g, b]) => ex.cs_optim_sgd(hp, c, n, p, g, b));
    },
    optimAdam(params, grads, expAvg, expAvgSq, lr, beta1, beta2, eps, weightDecay, decoupled, biasCorrection1, biasCorrection2Sqrt) {
      const [h] = encodeOptimAdam({ params, grads, expAvg, expAvgSq, lr, beta1, beta2, eps, weightDecay, decoupled, biasCorrection1, biasCorrection2Sqrt }, optimHeaders.adam);
      optimStep('optimAdam', h, [L('params', params, true), L('grads', grads, false), L('expAvg', expAvg, true), L('expAvgSq', expAvgSq, true)],
        (hp, c, n, [p, g, m, v]) => ex.cs_optim_adam(hp, c, n, p, g, m, v));
    },
    optimRmsprop(params, grads, squareAvg, gradAvg, momentumBuffer, lr, alpha, eps, weightDecay, momentum, centered) {
      const [h] = encodeOptimRmsprop({ params, grads, squareAvg, gradAvg, momentumBuffer, lr, alpha, eps, weightDecay, momentum, centered }, optimHeaders.rmsprop);
      optimStep('optimRmsprop', h, [L('params', params, true), L('grads', grads, false), L('squareAvg', squareAvg, true),
        L('gradAvg', gradAvg, true, centered), L('momentumBuffer', momentumBuffer, true, momentum > 0)],
      (hp, c, n, [p, g, sq, ga, b]) => ex.cs_optim_rmsprop(hp, c, n, p, g, sq, ga, b));
    },
  };

  return { backend, warning, optim, info: () => ({ name: 'wasm', isa, threads: 1 + (helpers?.list().length ?? 0), blas: null }), memoryBytes: () => memory!.buffer.byteLength };
}
