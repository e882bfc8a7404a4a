// Shared by the bench's bf16/int8 rows (ours and the peers') and the accuracy script
// (scripts/quant-accuracy.mjs): whether this build has model.quantize(), how outputs are compared,
// and which of the CPU's instructions the low-precision kernels can use.
import fs from 'node:fs';
import { LSTM } from 'cellstate';

export const PRECISIONS = ['bf16', 'int8'];

/** Whether this build has model.quantize() (issue #21); the rows say "not available" otherwise. */
export function quantizeAvailable() {
  return typeof LSTM.prototype.quantize === 'function';
}

/**
 * Why our `backend` rows in `precision` cannot run in this build, or null: no quantize(), or the
 * backend has no kernels for it (quantize() then runs the model on ts, which is not that row).
 */
export function lowPrecisionUnavailable(backend, precision) {
  if (!quantizeAvailable()) return 'not available in this build';
  const m = new LSTM({ inputSize: 1, hiddenSize: 1, backend }).quantize(precision);
  return m.backend === backend ? null : `no ${backend} ${precision} kernels in this build (quantize() runs it on ${m.backend})`;
}

/**
 * The check before timing a bf16/int8 row, on the first 4 steps: a peer's output against our fp32
 * (its own rounding, so an accuracy bound), ours against our ts backend in the same precision.
 * Measured max / mean abs error vs fp32 on S2, M, L, XL, GRU-M (first 4 steps and full length):
 * ONNX Runtime int8 <= 3.9e-3 / 4.2e-4; PyTorch 2.13 bf16 <= 6.4e-3 / 7.4e-4, int8 (per-tensor
 * weights) <= 1.0e-2 / 1.4e-3, the same under torch 1.13. A wrong layout, gate order, scale or
 * GRU formula gives errors > 0.1 (test/bench-lowp.test.mjs).
 */
export const LOW_PRECISION_TOLERANCE = { maxAbs: 0.03, meanAbs: 0.003 };

/** { max, mean } absolute difference, or null when the lengths differ. NaN counts as infinite. */
export function absErrors(got, want) {
  if (got.length !== want.length) return null;
  let max = 0, sum = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    const e = Number.isNaN(d) ? Infinity : d;
    if (e > max) max = e;
    sum += e;
  }
  return { max, mean: want.length ? sum / want.length : 0 };
}

/** The CPU's flags from /proc/cpuinfo ([] elsewhere). */
export function cpuFlags() {
  try {
    return (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:\s*(.*)$/m)?.[1] ?? '').split(' ').filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * The instructions the bf16/int8 kernels use where present: AMX (tdpbf16ps / tdpbssd: AMX-TILE,
 * AMX-BF16 and AMX-INT8), AVX512-BF16 (vdpbf16ps), AVX512-VNNI and AVX-VNNI (vpdpbusd); and, per
 * precision, a note for rows on a CPU without them. (The addon uses AMX only where the OS also
 * grants it the tile state: `native.isa` in the results says which tier ran.)
 */
export function lowPrecisionIsa(flags = cpuFlags()) {
  const has = {
    amx: ['amx_tile', 'amx_bf16', 'amx_int8'].every((f) => flags.includes(f)),
    avx512_bf16: flags.includes('avx512_bf16'), avx512_vnni: flags.includes('avx512_vnni'), avx_vnni: flags.includes('avx_vnni'),
  };
  const notes = {
    bf16: has.amx || has.avx512_bf16 ? null : 'CPU lacks AMX and AVX512-BF16 (bf16 widened to fp32)',
    int8: has.amx || has.avx512_vnni || has.avx_vnni ? null : 'CPU lacks AMX and VNNI (int8 without vpdpbusd)',
  };
  return { ...has, notes };
}
