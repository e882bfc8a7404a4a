// The numeric backend interface: everything a layer asks of a backend, at the granularity of
// whole sequences for one layer and one direction. Equations: docs/equations.md.
//
// Layer code (lib/nn/) validates arguments and lays out buffers; a backend only computes. The
// `ts` backend (lib/backend/ts/) and the `native` addon implement this same interface, so a
// backend plugs in without touching layer code.
//
// Row addressing. A sequence batch is N = T*B rows; the row holding time step t of batch entry b
// is   r(t, b) = t*rowT + b*rowB   ((rowT, rowB) = (B, 1) for time-major [T, B, *] data and
// (1, T) for batch-first [B, T, *] data). Input x, output y, their gradients and every per-row
// cache buffer use the same r(t, b), so batch-first and time-major need no transposing copies,
// and the input projection and weight gradients are single matrix products over all N rows.
// Row r of x starts at x[xOffset + r*ldx]; columns beyond I (ldx > I) are never read. Likewise y,
// with yOffset selecting a direction's half of a bidirectional output row.
//
// Variable lengths. With `lengths`, entry b uses steps t < lengths[b] only: y rows past its length
// are written as 0, its final state is the state after its last valid step, and a reverse
// direction starts at t = lengths[b]-1. Without lengths every entry runs all T steps.

import type { DType, FloatArray } from '../tensor';

export type BackendName = 'ts' | 'native';

/** Dense weights of one LSTM layer-direction in PyTorch layout and gate order (i, f, g, o). */
export interface LstmParams {
  inputSize: number; // I
  hiddenSize: number; // H
  weightIh: FloatArray; // [4H, I]
  weightHh: FloatArray; // [4H, H]
  biasIh: FloatArray | null; // [4H]
  biasHh: FloatArray | null; // [4H]
}

/**
 * Backend-owned form of LstmParams (e.g. pre-summed biases, packed panels). Built once when
 * weights are loaded or updated, never per call. Opaque to layer code.
 */
export interface PreparedLstm {
  readonly backend: BackendName;
  readonly dtype: DType;
  readonly inputSize: number;
  readonly hiddenSize: number;
}

export interface SeqLayout {
  T: number;
  B: number;
  rowT: number;
  rowB: number;
  reverse: boolean;
  lengths: Int32Array | null; // [B], 1 <= lengths[b] <= T
}

export interface LstmForwardArgs extends SeqLayout {
  x: FloatArray; xOffset: number; ldx: number; // rows of I inputs
  y: FloatArray; yOffset: number; ldy: number; // rows of H outputs (written, all N rows)
  h0: FloatArray | null; // [B, H], null = zeros
  c0: FloatArray | null; // [B, H], null = zeros
  hN: FloatArray; // [B, H] written
  cN: FloatArray; // [B, H] written
}

/** What a training forward keeps for backward. Backend-specific contents. */
export interface LstmCache {
  readonly backend: BackendName;
}

export interface LstmBackwardArgs {
  dy: FloatArray | null; dyOffset: number; lddy: number; // upstream grad of y rows, or null = 0
  dhN: FloatArray | null; // [B, H] or null = 0
  dcN: FloatArray | null; // [B, H] or null = 0
  dx: FloatArray | null; dxOffset: number; lddx: number; // ACCUMULATED (+=) into rows of I
  dh0: FloatArray; // [B, H] written
  dc0: FloatArray; // [B, H] written
  // Parameter gradients, ACCUMULATED (+=) so directions, chunks and batches can sum into one place.
  dWeightIh: FloatArray; // [4H, I]
  dWeightHh: FloatArray; // [4H, H]
  dBiasIh: FloatArray | null; // [4H]
  dBiasHh: FloatArray | null; // [4H]
}

export interface Backend {
  readonly name: BackendName;
  /** Which dtypes this backend computes in. */
  supports(dtype: DType): boolean;
  lstmPrepare(params: LstmParams): PreparedLstm;
  /** Forward over all steps; with `train` returns what backward needs, else null. */
  lstmForward(w: PreparedLstm, args: LstmForwardArgs, train: boolean): LstmCache | null;
  /** Full BPTT through the steps of one training forward. */
  lstmBackward(w: PreparedLstm, cache: LstmCache, args: LstmBackwardArgs): void;
  /**
   * The same off the event loop where the backend can (native: a libuv worker). Every buffer in
   * the arguments must stay untouched until the promise settles; `w` is used as it was at the call.
   */
  lstmForwardAsync(w: PreparedLstm, args: LstmForwardArgs, train: boolean): Promise<LstmCache | null>;
  lstmBackwardAsync(w: PreparedLstm, cache: LstmCache, args: LstmBackwardArgs): Promise<void>;
  /** Threads the backend computes with (native); a no-op where it has one thread. */
  setThreads(n: number): void;
}

export interface BackendInfo {
  name: BackendName;
  isa: string; // 'js' for the ts backend; 'scalar' | 'avx2' | 'avx512' for native
  threads: number;
  blas: string | null;
}
