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
// later call. The optimizers have no wasm entry point: lib/train/optim.ts runs their TS math.

import { allocateUninit, checkElements, type FloatArray } from '../tensor';
import { actTriples } from './act-codes';
import type { Backend, BackendInfo, CellBackwardArgs, CellCache, CellForwardArgs, CellKind, CellParams, PreparedCell, SeqLayout } from './types';
import { CELL_KIND_CODE, CELL_KINDS } from './schema.gen';

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
}

export interface WasmBackend {
  backend: Backend;
  info(): BackendInfo;
  /** "" or the message about an unknown CELLSTATE_MAX_ISA value. */
  warning: string;
  /** Bytes of the module's linear memory (it only grows): for tests that prove calls free what they allocate. */
  memoryBytes(): number;
}

interface WasmPrepared extends PreparedCell {
  readonly cell: { ptr: number }; // ptr 0 once released
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

/**
 * Instantiates the module (synchronously: it is small) and returns the backend over it. `env`: the
 * CELLSTATE_* variables the kernels read (CELLSTATE_MAX_ISA, CELLSTATE_POISON_UNINIT).
 */
export function makeWasmBackend(bytes: ArrayBufferView | ArrayBuffer, env: Record<string, string> = {}): WasmBackend {
  const module = new WebAssembly.Module(bytes);
  let memory: WebAssembly.Memory | undefined;
  const wasi = wasiImports(env, () => memory!);
  const imports: WebAssembly.Imports = { wasi_snapshot_preview1: {} };
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module !== 'wasi_snapshot_preview1' || !(imp.name in wasi)) throw new Error(`cellstate wasm: unexpected import ${imp.module}.${imp.name}`);
    (imports.wasi_snapshot_preview1 as WebAssembly.ModuleImports)[imp.name] = wasi[imp.name];
  }
  const ex = new WebAssembly.Instance(module, imports).exports as unknown as WasmExports;
  memory = ex.memory;
  ex._initialize();
  const warning = cString(ex.cs_dispatch_warning());
  const isa = cString(ex.cs_isa());
  let broken: string | null = null;

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
    ? new FinalizationRegistry<{ ptr: number }>((cell) => { if (cell.ptr && !broken) ex.cs_cell_release(cell.ptr); cell.ptr = 0; })
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
      const cell = { ptr };
      const w: WasmPrepared = { backend: 'wasm', dtype: 'float32', kind: p.kind, inputSize: p.inputSize, hiddenSize: p.hiddenSize, outSize: p.projSize || p.hiddenSize, cell };
      released?.register(w, cell, w);
      return w;
    },
    forward(w, a, train) {
      const wp = handle(w, 'forward');
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
    },
    backward(w, kc, g) {
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
      if (cell) cell.ptr = 0;
      released?.unregister(w);
    },
    setThreads: () => {},
  };
  return { backend, warning, info: () => ({ name: 'wasm', isa, threads: 1, blas: null }), memoryBytes: () => memory!.buffer.byteLength };
}
