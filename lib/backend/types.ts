// The numeric backend interface: everything a recurrent layer asks of a backend, at the
// granularity of whole sequences for one layer and one direction. Equations: docs/equations.md.
//
// Layer code (lib/nn/) validates arguments and lays out buffers; a backend only computes. The
// `ts` backend (lib/backend/ts/), the `native` addon and the `wasm` module (lib/backend/wasm.ts)
// implement this same interface, so a backend plugs in without touching layer code.
//
// Cells. One interface serves every cell kind: 'lstm' (optionally with projection, peepholes,
// coupled input-forget gate, clip), 'gru' (PyTorch's linear-before-reset formula or ONNX's
// default), 'rnn_tanh', 'rnn_relu', 'lnlstm' (the layer-normalised LSTM). G gate blocks of H rows
// (LSTM, LN-LSTM 4: i, f, g, o; GRU 3: r, z, n; RNN 1); the recurrent state h has Hout = projSize || H
// units; the LSTMs also carry c (H units).
//
// Row addressing. A sequence batch is N = T*B rows; the row holding time step t of batch entry b
// is   r(t, b) = t*rowT + b*rowB   ((rowT, rowB) = (B, 1) for time-major [T, B, *] data and
// (1, T) for batch-first [B, T, *] data). Input x, output y, their gradients and every per-row
// cache buffer use the same r(t, b), so batch-first and time-major need no transposing copies,
// and the input projection and weight gradients are matrix products over many rows at once.
// Row r of x starts at x[xOffset + r*ldx]; columns beyond I (ldx > I) are never read. Likewise y,
// with yOffset selecting a direction's half of a bidirectional output row.
//
// Variable lengths. With `lengths`, entry b uses steps t < lengths[b] only: y rows past its length
// are written as 0, its final state is the state after its last valid step, and a reverse
// direction starts at t = lengths[b]-1. Without lengths every entry runs all T steps.

import type { DType, FloatArray } from '../tensor';
import { ACTIVATIONS, CELL_GATES, CELL_KIND_CODE, CELL_KINDS } from './schema.gen';

/** A backend: 'native' (the C++ addon) or 'ts' (pure TypeScript, always available) or 'wasm' (the same C++ kernels compiled to WebAssembly SIMD). */
export type BackendName = 'ts' | 'wasm' | 'native';
/** The cell kinds (scripts/addon-schema.js). */
export type CellKind = keyof typeof CELL_KIND_CODE;

/** Gate blocks of H rows: LSTM 4 (i, f, g, o), GRU 3 (r, z, n), RNN 1 (scripts/addon-schema.js). */
export function gateCount(kind: CellKind): number {
  return CELL_GATES[kind];
}

/**
 * ONNX's RNN activation functions by this library's names (ONNX's: Sigmoid, Tanh, Relu,
 * HardSigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, Elu, Softsign, Softplus).
 */
export type ActivationName = 'sigmoid' | 'tanh' | 'relu' | 'hardSigmoid' | 'affine' | 'leakyRelu' | 'thresholdedRelu' | 'scaledTanh' | 'elu' | 'softsign' | 'softplus';
// The names are the addon schema's (scripts/addon-schema.js): this fails to compile when they differ.
const ACTIVATION_NAMES_MATCH: [Exclude<keyof typeof ACTIVATIONS, ActivationName>, Exclude<ActivationName, keyof typeof ACTIVATIONS>] extends [never, never] ? true : never = true;
void ACTIVATION_NAMES_MATCH;
/**
 * A gate activation (docs/equations.md, "Gate activations"): the function and its ONNX alpha and
 * beta, resolved (0 where the function reads none).
 */
export interface GateActivation {
  /** The function. */
  readonly name: ActivationName;
  /** ONNX's alpha (e.g. hardSigmoid's slope), or 0 where the function reads none. */
  readonly alpha: number;
  /** ONNX's beta (e.g. hardSigmoid's offset), or 0 where the function reads none. */
  readonly beta: number;
}

/** How the weight matrices are stored and multiplied (docs/equations.md, "Low precision"). */
export type Precision = 'fp32' | 'bf16' | 'int8';

/**
 * A quantized weight matrix, row-major [rows, cols]: bf16 bit patterns (scale null) or int8 values
 * with one fp32 scale per row (w[j,k] ~ data[j*cols + k] * scale[j]). Never written once made.
 */
export interface QuantMatrix {
  rows: number;
  cols: number;
  data: Uint16Array | Int8Array;
  scale: Float32Array | null; // [rows] for int8, null for bf16
}

/**
 * Dense weights of one layer-direction in PyTorch layout and gate order, plus cell options. With
 * precision 'bf16' or 'int8' the matrices are qWeightIh/qWeightHh/qWeightHr and weightIh, weightHh
 * (and weightHr when present) are empty arrays; biases and peepholes stay fp32 whatever the precision.
 */
export interface CellParams {
  kind: CellKind;
  inputSize: number; // I
  hiddenSize: number; // H
  projSize: number; // P (LSTM only; 0 = none). Hout = P || H
  weightIh: FloatArray; // [G*H, I]
  weightHh: FloatArray; // [G*H, Hout]
  biasIh: FloatArray | null; // [G*H]
  biasHh: FloatArray | null; // [G*H]
  weightHr: FloatArray | null; // [P, H] LSTM projection
  peephole: { i: FloatArray; f: FloatArray; o: FloatArray } | null; // [H] each (LSTM, ONNX semantics)
  inputForget: boolean; // LSTM coupled input-forget gate: f = 1 - i
  clip: number | null; // bound on every gate pre-activation (never on the cell state)
  linearBeforeReset: boolean; // GRU: true = PyTorch (r * (W_hn h + b_hn)), false = ONNX default
  // Gate activations in ONNX's slots: LSTM [f (i, f, o), g (candidate), h (on c)], GRU [f (r, z),
  // g (n)], RNN [f]; undefined = the kind's defaults (sigmoid / tanh / tanh; rnn_relu: relu).
  activations?: readonly GateActivation[];
  precision: Precision;
  qWeightIh: QuantMatrix | null; // [G*H, I] when precision is not fp32
  qWeightHh: QuantMatrix | null; // [G*H, Hout]
  qWeightHr: QuantMatrix | null; // [P, H] LSTM projection
  // The same options and extra parameters generically, for a backend that takes each kind as its
  // declaration (native: scripts/addon-schema.js): the kind's options by name, its parameters
  // beyond W_ih, W_hh and the biases by their model names (weight_hr, peephole_i, ...).
  flags: Readonly<Record<string, boolean>>;
  extra: Readonly<Record<string, FloatArray>>;
}

/**
 * Backend-owned form of CellParams (e.g. pre-summed biases, packed panels). Built once when
 * weights are loaded or updated, never per call, and a snapshot: later weight changes do not
 * reach it. Opaque to layer code.
 */
export interface PreparedCell {
  readonly backend: BackendName;
  readonly dtype: DType;
  readonly kind: CellKind;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly outSize: number; // Hout
}

export interface SeqLayout {
  T: number;
  B: number;
  rowT: number;
  rowB: number;
  reverse: boolean;
  lengths: Int32Array | null; // [B], 1 <= lengths[b] <= T
}

export interface CellForwardArgs extends SeqLayout {
  x: FloatArray; xOffset: number; ldx: number; // rows of I inputs
  y: FloatArray; yOffset: number; ldy: number; // rows of Hout outputs (written, all N rows)
  h0: FloatArray | null; // [B, Hout], null = zeros
  c0: FloatArray | null; // [B, H] (LSTM), null = zeros
  hN: FloatArray; // [B, Hout] written
  cN: FloatArray | null; // [B, H] written (LSTM)
}

/** What a training forward keeps for backward. Backend-specific contents. */
export interface CellCache {
  readonly backend: BackendName;
}

/**
 * The per-step quantities every kind's training cache holds (read by Recurrent.inspect), in row
 * order r(t, b): views into the cache, not copies. `gates` [N, G*H] the activated gate blocks
 * (LSTM, LN-LSTM i, f, g, o; GRU r, z, n; RNN its one block, which is h_t itself); `c` [N, H]
 * the cell state c_t (kinds with one), else null. Rows past an entry's length hold 0.
 */
export interface CacheStates {
  gates: FloatArray;
  c: FloatArray | null;
}

/** The per-step state gradients (dhSteps, dcSteps) are the ts backend's alone. */
export function stepGradsUnsupported(backend: BackendName): TypeError {
  return new TypeError(`cellstate (${backend}): backward: recording the per-step state gradients (dhSteps/dcSteps) needs the 'ts' backend (useBackend('ts'))`);
}

/**
 * The cache layout the native and wasm kernels share (native/cell/<kind>_cell.cc cache_layout,
 * test/schema.test.mjs): every kind starts with its activated gates [N, G*H], and a kind with a
 * cell state follows them with c [N, H].
 */
export function kernelCacheStates(kind: CellKind, hiddenSize: number, T: number, B: number, buf: Float32Array): CacheStates {
  const N = T * B, G = gateCount(kind) * hiddenSize;
  return { gates: buf.subarray(0, N * G), c: CELL_KINDS[kind].cellState ? buf.subarray(N * G, N * G + N * hiddenSize) : null };
}

/** Parameter gradients of one layer-direction, ACCUMULATED (+=) into these buffers. */
export interface CellGrads {
  dWeightIh: FloatArray; // [G*H, I]
  dWeightHh: FloatArray; // [G*H, Hout]
  dBiasIh: FloatArray | null; // [G*H]
  dBiasHh: FloatArray | null; // [G*H]
  dWeightHr: FloatArray | null; // [P, H]
  dPeephole: { i: FloatArray; f: FloatArray; o: FloatArray } | null; // [H] each
  dExtra: Readonly<Record<string, FloatArray>>; // the same by model name, as CellParams.extra
}

export interface CellBackwardArgs extends CellGrads {
  dy: FloatArray | null; dyOffset: number; lddy: number; // upstream grad of y rows, or null = 0
  dhN: FloatArray | null; // [B, Hout] or null = 0
  dcN: FloatArray | null; // [B, H] (LSTM) or null = 0
  dx: FloatArray | null; dxOffset: number; lddx: number; // ACCUMULATED (+=) into rows of I
  dh0: FloatArray; // [B, Hout] written
  dc0: FloatArray | null; // [B, H] written (LSTM)
  // Optional (ts backend only; others refuse): ∂loss/∂h_t [N, Hout] and ∂loss/∂c_t [N, H] of every
  // row, the total gradient of the state each step leaves (upstream dy included), written.
  dhSteps?: FloatArray | null;
  dcSteps?: FloatArray | null;
}

export interface Backend {
  readonly name: BackendName;
  /**
   * forward writes every element of y's rows (zeros past a length), hN and cN, so the layer may
   * hand it unzeroed buffers (tensor.ts allocateUninit). Proven by the NaN-sentinel parity tests
   * and by the suite under CELLSTATE_POISON_UNINIT=1.
   */
  readonly writesAllOutputs: boolean;
  /** Whether this backend computes in `dtype` with weights in `precision` (default 'fp32'). */
  supports(dtype: DType, precision?: Precision): boolean;
  prepare(params: CellParams): PreparedCell;
  /** Forward over all steps; with `train` returns what backward needs, else null. */
  forward(w: PreparedCell, args: CellForwardArgs, train: boolean): CellCache | null;
  /** The gates and cell states a training forward's cache holds (see CacheStates); reads only. */
  cacheStates(w: PreparedCell, cache: CellCache): CacheStates;
  /** Full BPTT through the steps of one training forward. */
  backward(w: PreparedCell, cache: CellCache, args: CellBackwardArgs): void;
  /**
   * The same off the event loop where the backend can (native: a libuv worker). Every buffer in
   * the arguments must stay untouched until the promise settles: the layer passes only buffers
   * no caller can reach (lib/nn/recurrent.ts copies what the caller gave at call time).
   */
  forwardAsync(w: PreparedCell, args: CellForwardArgs, train: boolean): Promise<CellCache | null>;
  backwardAsync(w: PreparedCell, cache: CellCache, args: CellBackwardArgs): Promise<void>;
  /**
   * Optional: free what `prepare` made now (native: the packed weights), rather than when the
   * garbage collector finalizes it. Calls in flight keep theirs; later calls with w throw.
   */
  release?(w: PreparedCell): void;
  /**
   * Optional: the caller is done with this training cache (its backward has run and nothing will
   * read it again), so the backend may give its memory to a later training forward of the same
   * size instead of allocating fresh pages (native: see the pool in native.ts). Later calls with
   * the cache throw.
   */
  releaseCache?(cache: CellCache): void;
  /** Threads the backend computes with (native); a no-op where it has one thread. */
  setThreads(n: number): void;
  /**
   * Optional: two independent calls at once (the directions of a bidirectional layer), e.g. one
   * per core. Their output buffers must not overlap (backward: separate dx buffers).
   */
  forwardPair?(w: [PreparedCell, PreparedCell], args: [CellForwardArgs, CellForwardArgs], train: boolean): [CellCache | null, CellCache | null];
  forwardPairAsync?(w: [PreparedCell, PreparedCell], args: [CellForwardArgs, CellForwardArgs], train: boolean): Promise<[CellCache | null, CellCache | null]>;
  backwardPair?(w: [PreparedCell, PreparedCell], cache: [CellCache, CellCache], args: [CellBackwardArgs, CellBackwardArgs]): void;
  backwardPairAsync?(w: [PreparedCell, PreparedCell], cache: [CellCache, CellCache], args: [CellBackwardArgs, CellBackwardArgs]): Promise<void>;
}

/** What backend() reports: which backend and how it runs. */
export interface BackendInfo {
  /** The backend. */
  name: BackendName;
  /**
   * 'js' for the ts backend; for native a tier of native/isa.json: 'scalar' | 'avx2' | 'avx2_vnni' |
   * 'avx512' | 'avx512_vnni' | 'avx512_bf16' | 'amx' (x86-64) or 'scalar' | 'neon' (AArch64); for wasm 'scalar' | 'wasm_simd128'.
   */
  isa: string;
  /** Threads it computes with (1 for ts; see setThreads). */
  threads: number;
  /** An external BLAS library in use, or null (the kernels are the library's own). */
  blas: string | null;
}

type F32s = Float32Array[];

/**
 * The fused optimizer updates a compiled backend offers (native: lib/backend/native-optim.ts over
 * native/optim/optim_napi.cc; wasm: lib/backend/wasm.ts over native/wasm/optim_wasm.cc; both run
 * native/optim/optim.cc). One call per optimizer step covers every parameter; the lists hold one
 * Float32Array per parameter (state of the parameter's length). The math is lib/train/optim-math.ts.
 */
export interface OptimCalls {
  optimSgd(params: F32s, grads: F32s, bufs: F32s | null, lr: number, momentum: number, dampening: number,
    weightDecay: number, nesterov: boolean, first: boolean): void;
  optimAdam(params: F32s, grads: F32s, expAvg: F32s, expAvgSq: F32s, lr: number, beta1: number, beta2: number,
    eps: number, weightDecay: number, decoupled: boolean, biasCorrection1: number, biasCorrection2Sqrt: number): void;
  optimRmsprop(params: F32s, grads: F32s, squareAvg: F32s, gradAvg: F32s | null, momentumBuffer: F32s | null,
    lr: number, alpha: number, eps: number, weightDecay: number, momentum: number, centered: boolean): void;
}
