// Gate orders and weight layouts of other frameworks, converted to and from ours in ONE place.
// Every importer and exporter (ONNX in and out, TF.js / Keras in and out) goes through these functions;
// nothing else in the library re-orders gate blocks.
//
//   cell  ours (PyTorch)        ONNX                            Keras / TF.js
//   LSTM  i, f, g, o            i, o, f, c   (c == our g)       i, f, c, o      kernel [I, 4H]
//   GRU   r, z, n               z, r, h      (h == our n)       z, r, h         kernel [I, 3H]
//   RNN   one block             one block                       one block       kernel [I, H]
//   peepholes  peephole_{i,f,o} [H] each    P [3H]: i, o, f
//
// Layouts. Ours: weight_ih [G*H, I], weight_hh [G*H, H], bias_ih, bias_hh [G*H] (both applied).
// ONNX: W [D, G*H, I], R [D, G*H, H], B [D, 2*G*H] = [Wb | Rb], P [D, 3H]; direction index 1 is our
// `_reverse`. Keras: kernel [I, G*H] and recurrent_kernel [H, G*H] (transposed), one bias [G*H]
// applied on the input side -- except GRU with reset_after=true, whose bias is [2, G*H] =
// [input bias; recurrent bias], exactly PyTorch's two biases.

import type { CellKind } from '../backend/types';
import { gateCount } from '../backend/types';

export type GateFormat = 'pytorch' | 'onnx' | 'keras';

/** Gate block order per format, in our gate names (LSTM i f g o, GRU r z n). */
const ORDER: Record<'lstm' | 'gru', Record<GateFormat, readonly string[]>> = {
  lstm: { pytorch: ['i', 'f', 'g', 'o'], onnx: ['i', 'o', 'f', 'g'], keras: ['i', 'f', 'g', 'o'] },
  gru: { pytorch: ['r', 'z', 'n'], onnx: ['z', 'r', 'n'], keras: ['z', 'r', 'n'] },
};

/** ONNX peephole order (P [3H]): i, o, f. */
export const ONNX_PEEPHOLE_ORDER = ['i', 'o', 'f'] as const;

function orderOf(kind: CellKind, f: GateFormat): readonly string[] {
  return kind === 'lstm' || kind === 'gru' ? ORDER[kind][f] : ['h'];
}

/**
 * Re-order the G gate blocks of `src` (G blocks of `blockLen` contiguous values along the leading
 * axis, e.g. H rows of a [G*H, I] matrix, or H entries of a bias) from one format's order to
 * another's. Returns a new Float32Array.
 */
export function reorderGates(src: ArrayLike<number>, kind: CellKind, from: GateFormat, to: GateFormat): Float32Array {
  const G = gateCount(kind);
  const blockLen = src.length / G;
  if (!Number.isInteger(blockLen)) throw new RangeError(`reorderGates: ${src.length} values do not split into ${G} gate blocks`);
  const a = orderOf(kind, from), b = orderOf(kind, to);
  const out = new Float32Array(src.length);
  for (let j = 0; j < G; j++) {
    const i = a.indexOf(b[j]); // block j of the target is block i of the source
    for (let e = 0; e < blockLen; e++) out[j * blockLen + e] = src[i * blockLen + e];
  }
  return out;
}

/** [rows, cols] row-major -> [cols, rows]. */
export function transpose2d(src: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return out;
}

/** One direction of one layer in our layout (PyTorch names without the `_l{k}` suffix). */
export interface DirectionWeights {
  weight_ih: Float32Array; // [G*H, I]
  weight_hh: Float32Array; // [G*H, H]
  bias_ih: Float32Array | null; // [G*H]
  bias_hh: Float32Array | null; // [G*H]
  peephole: { i: Float32Array; f: Float32Array; o: Float32Array } | null; // [H] each
}

/** The tensors of one ONNX LSTM/GRU/RNN node. W [D, G*H, I], R [D, G*H, H], B [D, 2*G*H] | null, P [D, 3H] | null. */
export interface OnnxRecurrentTensors {
  W: Float32Array;
  R: Float32Array;
  B: Float32Array | null;
  P: Float32Array | null;
}

/** ONNX W/R/B/P -> our per-direction weights. Sizes are the caller's to check (D, G*H, I, H). */
export function fromOnnxTensors(kind: CellKind, t: OnnxRecurrentTensors, D: number, H: number, I: number): DirectionWeights[] {
  const GH = gateCount(kind) * H;
  const out: DirectionWeights[] = [];
  for (let d = 0; d < D; d++) {
    const part = (a: Float32Array, off: number, n: number) => a.subarray(off, off + n);
    const b = t.B ? part(t.B, d * 2 * GH, 2 * GH) : null;
    const p = t.P ? part(t.P, d * 3 * H, 3 * H) : null;
    out.push({
      weight_ih: reorderGates(part(t.W, d * GH * I, GH * I), kind, 'onnx', 'pytorch'),
      weight_hh: reorderGates(part(t.R, d * GH * H, GH * H), kind, 'onnx', 'pytorch'),
      bias_ih: b ? reorderGates(b.subarray(0, GH), kind, 'onnx', 'pytorch') : null,
      bias_hh: b ? reorderGates(b.subarray(GH), kind, 'onnx', 'pytorch') : null,
      peephole: p ? {
        i: p.slice(ONNX_PEEPHOLE_ORDER.indexOf('i') * H, ONNX_PEEPHOLE_ORDER.indexOf('i') * H + H),
        f: p.slice(ONNX_PEEPHOLE_ORDER.indexOf('f') * H, ONNX_PEEPHOLE_ORDER.indexOf('f') * H + H),
        o: p.slice(ONNX_PEEPHOLE_ORDER.indexOf('o') * H, ONNX_PEEPHOLE_ORDER.indexOf('o') * H + H),
      } : null,
    });
  }
  return out;
}

/** Our per-direction weights -> ONNX W/R/B/P (B and P null when absent in every direction). */
export function toOnnxTensors(kind: CellKind, dirs: readonly DirectionWeights[], H: number): OnnxRecurrentTensors {
  const GH = gateCount(kind) * H;
  const D = dirs.length;
  const I = dirs[0].weight_ih.length / GH;
  const W = new Float32Array(D * GH * I), R = new Float32Array(D * GH * H);
  const hasB = dirs.some((d) => d.bias_ih), hasP = dirs.some((d) => d.peephole);
  const B = hasB ? new Float32Array(D * 2 * GH) : null;
  const P = hasP ? new Float32Array(D * 3 * H) : null;
  dirs.forEach((w, d) => {
    W.set(reorderGates(w.weight_ih, kind, 'pytorch', 'onnx'), d * GH * I);
    R.set(reorderGates(w.weight_hh, kind, 'pytorch', 'onnx'), d * GH * H);
    if (B && w.bias_ih && w.bias_hh) {
      B.set(reorderGates(w.bias_ih, kind, 'pytorch', 'onnx'), d * 2 * GH);
      B.set(reorderGates(w.bias_hh, kind, 'pytorch', 'onnx'), d * 2 * GH + GH);
    }
    if (P && w.peephole) ONNX_PEEPHOLE_ORDER.forEach((g, j) => P.set(w.peephole![g], d * 3 * H + j * H));
  });
  return { W, R, B, P };
}

/**
 * Keras / TF.js weights of one direction -> ours. kernel [I, G*H], recurrentKernel [H, G*H],
 * bias [G*H] (input side only; the recurrent bias is 0) or, for GRU reset_after, [2, G*H].
 */
export function fromKerasWeights(kind: CellKind, kernel: ArrayLike<number>, recurrentKernel: ArrayLike<number>, bias: ArrayLike<number> | null, I: number, H: number): DirectionWeights {
  const GH = gateCount(kind) * H;
  let bias_ih: Float32Array | null = null, bias_hh: Float32Array | null = null;
  if (bias) {
    if (bias.length === 2 * GH) {
      bias_ih = reorderGates(Array.prototype.slice.call(bias, 0, GH), kind, 'keras', 'pytorch');
      bias_hh = reorderGates(Array.prototype.slice.call(bias, GH), kind, 'keras', 'pytorch');
    } else {
      bias_ih = reorderGates(bias, kind, 'keras', 'pytorch');
      bias_hh = new Float32Array(GH);
    }
  }
  return {
    weight_ih: reorderGates(transpose2d(kernel, I, GH), kind, 'keras', 'pytorch'),
    weight_hh: reorderGates(transpose2d(recurrentKernel, H, GH), kind, 'keras', 'pytorch'),
    bias_ih, bias_hh, peephole: null,
  };
}

/**
 * Our weights of one direction -> Keras / TF.js: kernel [I, G*H], recurrentKernel [H, G*H] and one
 * bias [G*H] = bias_ih + bias_hh (float32 sums), the input-side bias Keras adds. The caller checks
 * that one bias is exact for its cell (LSTM, RNN, GRU with linearBeforeReset false: b_hn sits
 * outside the reset gate there; PyTorch's GRU puts it inside, which one bias cannot express).
 */
export function toKerasWeights(kind: CellKind, w: DirectionWeights, I: number, H: number): { kernel: Float32Array; recurrentKernel: Float32Array; bias: Float32Array | null } {
  const GH = gateCount(kind) * H;
  let bias: Float32Array | null = null;
  if (w.bias_ih && w.bias_hh) {
    const sum = new Float32Array(GH);
    for (let j = 0; j < GH; j++) sum[j] = w.bias_ih[j] + w.bias_hh[j];
    bias = reorderGates(sum, kind, 'pytorch', 'keras');
  }
  return {
    kernel: transpose2d(reorderGates(w.weight_ih, kind, 'pytorch', 'keras'), GH, I),
    recurrentKernel: transpose2d(reorderGates(w.weight_hh, kind, 'pytorch', 'keras'), GH, H),
    bias,
  };
}

/** Our per-direction weights -> a state dict entry set with suffix `_l{k}{_reverse}`. */
export function directionStateDict(w: DirectionWeights, suffix: string, out: Record<string, { shape: number[]; data: Float32Array }>, GH: number, I: number, H: number): void {
  out[`weight_ih${suffix}`] = { shape: [GH, I], data: w.weight_ih };
  out[`weight_hh${suffix}`] = { shape: [GH, H], data: w.weight_hh };
  if (w.bias_ih) out[`bias_ih${suffix}`] = { shape: [GH], data: w.bias_ih };
  if (w.bias_hh) out[`bias_hh${suffix}`] = { shape: [GH], data: w.bias_hh };
  if (w.peephole) for (const g of ['i', 'f', 'o'] as const) out[`peephole_${g}${suffix}`] = { shape: [H], data: w.peephole[g] };
}
