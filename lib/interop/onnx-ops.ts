// The small ONNX operators an imported graph may use around its recurrent nodes: the glue that
// reshapes ONNX's [T, D, B, H] outputs (Transpose, Reshape, Concat, Slice, Squeeze, Unsqueeze,
// Identity, Constant) and a dense head (Gemm, MatMul, Add/Sub/Mul/Div, Relu/Tanh/Sigmoid/Softmax).
//
// Plain, obvious loops on row-major arrays, forward only: heads are tiny next to the recurrent
// layers, which run on the backends. Float values are Float32Array; integer values (shapes,
// Slice bounds) are Float64Array (exact within +-2^53). Every operator checks what it is given
// and names the node in its errors; operators or attribute values outside this subset are
// refused by name. Every output buffer is allocated by `output`, which checks its shape against
// the element limit first.

import { UnsupportedModelError } from '../errors';
import { shapeSize } from '../tensor';

export interface Value {
  dtype: 'float32' | 'int';
  shape: number[];
  data: Float32Array | Float64Array;
}

/** The most entries an integer tensor read as a shape, axes or bounds may have (the rank of any value). */
export const MAX_RANK = 64;

export type Attrs = Map<string, { f?: number; i?: number; s?: string; floats?: number[]; ints?: number[]; strings?: string[] }>;

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

export function floatValue(shape: number[], data: Float32Array): Value {
  return { dtype: 'float32', shape, data };
}

/**
 * A new zero-filled value of `shape`: where every operator allocates its output, after checking
 * the shape against the element limit (maxElements(), a RangeError naming the node).
 */
export function output(where: string, dtype: Value['dtype'], shape: number[]): Value {
  const n = shapeSize(shape, where, 'output');
  return { dtype, shape, data: dtype === 'float32' ? new Float32Array(n) : new Float64Array(n) };
}

/** Generic axis permutation: out[i_perm] = in[i]. */
export function transpose(where: string, v: Value, perm: readonly number[]): Value {
  const r = v.shape.length;
  const outShape = perm.map((p) => v.shape[p]);
  const inStr = stridesOf(v.shape);
  const res = output(where, v.dtype, outShape);
  const n = res.data.length, out = res.data;
  const idx = new Array(r).fill(0);
  const step = perm.map((p) => inStr[p]); // input stride of each output axis
  let src = 0;
  for (let o = 0; o < n; o++) {
    out[o] = v.data[src];
    for (let a = r - 1; a >= 0; a--) {
      idx[a]++;
      src += step[a];
      if (idx[a] < outShape[a]) break;
      src -= step[a] * outShape[a];
      idx[a] = 0;
    }
  }
  return res;
}

/**
 * Refuse an output far larger than its inputs (a hostile graph could broadcast two vectors read
 * from the file into a matrix of billions of elements): at most 2^20 elements, or 64 times what
 * the inputs hold. A dense head never comes near this.
 */
export function checkOutputSize(where: string, n: number, inputs: number): void {
  if (n > 1048576 && n > 64 * inputs) {
    throw new RangeError(`${where}: output: expected at most ${Math.max(1048576, 64 * inputs)} elements (64x the inputs), got ${n}`);
  }
}

function normAxis(where: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new RangeError(`${where}: axis: expected an integer in [${-rank}, ${rank - 1}], got ${axis}`);
  return a;
}

/** numpy-style broadcasting of two float values with `fn`. */
function broadcast(where: string, a: Value, b: Value, fn: (x: number, y: number) => number): Value {
  const r = Math.max(a.shape.length, b.shape.length);
  const pa = [...new Array(r - a.shape.length).fill(1), ...a.shape], pb = [...new Array(r - b.shape.length).fill(1), ...b.shape];
  const shape = pa.map((d, i) => {
    if (d === pb[i] || pb[i] === 1) return d;
    if (d === 1) return pb[i];
    throw new RangeError(`${where}: inputs: shapes [${a.shape}] and [${b.shape}] do not broadcast`);
  });
  const sa = stridesOf(pa).map((s, i) => (pa[i] === 1 ? 0 : s)), sb = stridesOf(pb).map((s, i) => (pb[i] === 1 ? 0 : s));
  const n = sizeOf(shape);
  checkOutputSize(where, n, a.data.length + b.data.length);
  const res = output(where, 'float32', shape), out = res.data;
  const idx = new Array(r).fill(0);
  let ia = 0, ib = 0;
  for (let o = 0; o < n; o++) {
    out[o] = fn(a.data[ia], b.data[ib]);
    for (let k = r - 1; k >= 0; k--) {
      idx[k]++; ia += sa[k]; ib += sb[k];
      if (idx[k] < shape[k]) break;
      ia -= sa[k] * shape[k]; ib -= sb[k] * shape[k]; idx[k] = 0;
    }
  }
  return res;
}

/** C[M, N] = A[M, K] · B[K, N] on plain arrays. */
function matmul2d(a: ArrayLike<number>, aOff: number, b: ArrayLike<number>, M: number, K: number, N: number, out: Float32Array | Float64Array, oOff: number): void {
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[aOff + m * K + k] * b[k * N + n];
      out[oOff + m * N + n] = s;
    }
  }
}

function requireFloat(where: string, name: string, v: Value): void {
  if (v.dtype !== 'float32') throw new TypeError(`${where}: ${name}: expected a float tensor, got an integer tensor`);
}

/** An integer tensor used as a shape, axes or bounds: at most MAX_RANK entries, as an array. */
function requireInt(where: string, name: string, v: Value): number[] {
  if (v.dtype !== 'int') throw new TypeError(`${where}: ${name}: expected an int64/int32 tensor, got a float tensor`);
  if (v.data.length > MAX_RANK) throw new RangeError(`${where}: ${name}: expected at most ${MAX_RANK} entries (one per axis), got ${v.data.length}`);
  return Array.from(v.data);
}

/**
 * Run one non-recurrent operator. `inputs` are resolved values (undefined for an omitted optional
 * input); returns the outputs in order.
 */
export function runOp(where: string, opType: string, opset: number, inputs: (Value | undefined)[], attrs: Attrs): Value[] {
  const need = (i: number, name: string): Value => {
    const v = inputs[i];
    if (!v) throw new TypeError(`${where}: input ${i} (${name}) is required`);
    return v;
  };
  const attrI = (name: string, dflt: number) => attrs.get(name)?.i ?? dflt;
  const attrF = (name: string, dflt: number) => attrs.get(name)?.f ?? dflt;
  switch (opType) {
    case 'Identity':
      return [need(0, 'input')];
    case 'Transpose': {
      const x = need(0, 'data');
      const r = x.shape.length;
      const perm = attrs.get('perm')?.ints ?? x.shape.map((_, i) => r - 1 - i);
      const seen = new Set(perm);
      if (perm.length !== r || seen.size !== r || perm.some((p) => !Number.isInteger(p) || p < 0 || p >= r)) {
        throw new RangeError(`${where}: perm: expected a permutation of ${r} axes, got ${perm.length === r ? `[${perm}]` : `${perm.length} entries`}`);
      }
      return [transpose(where, x, perm)];
    }
    case 'Reshape': {
      const x = need(0, 'data');
      const spec = requireInt(where, 'shape', need(1, 'shape'));
      const allowZero = attrI('allowzero', 0) === 1;
      const out = spec.map((d, i) => (d === 0 && !allowZero ? x.shape[i] : d));
      const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
      const minus = out.filter((d) => d === -1).length;
      const n = sizeOf(x.shape);
      if (minus > 1 || out.some((d) => d === undefined || d < -1 || !Number.isInteger(d))) throw new RangeError(`${where}: shape: invalid target shape [${spec}]`);
      if (minus) {
        if (known === 0 || n % known) throw new RangeError(`${where}: shape: cannot reshape [${x.shape}] to [${spec}]`);
        out[out.indexOf(-1)] = n / known;
      }
      if (sizeOf(out) !== n) throw new RangeError(`${where}: shape: cannot reshape [${x.shape}] (${n} elements) to [${out}]`);
      return [{ dtype: x.dtype, shape: out, data: x.data }];
    }
    case 'Concat': {
      const xs = inputs.filter((v): v is Value => !!v);
      if (!xs.length) throw new TypeError(`${where}: inputs: expected at least one`);
      const r = xs[0].shape.length;
      const axis = normAxis(where, attrI('axis', 0), r);
      xs.forEach((v, k) => {
        if (v.dtype !== xs[0].dtype || v.shape.length !== r || v.shape.some((d, i) => i !== axis && d !== xs[0].shape[i])) {
          throw new RangeError(`${where}: inputs: input ${k} (${v.dtype === 'int' ? 'integer ' : ''}[${v.shape}]) cannot be concatenated with input 0 (${xs[0].dtype === 'int' ? 'integer ' : ''}[${xs[0].shape}]) on axis ${axis}`);
        }
      });
      const shape = xs[0].shape.slice();
      shape[axis] = xs.reduce((a, v) => a + v.shape[axis], 0);
      const res = output(where, xs[0].dtype, shape), out = res.data;
      const outer = out.length ? sizeOf(shape.slice(0, axis)) : 0;
      let pos = 0;
      for (let o = 0; o < outer; o++) {
        for (const v of xs) {
          const chunk = sizeOf(v.shape.slice(axis));
          for (let j = 0; j < chunk; j++) out[pos++] = v.data[o * chunk + j];
        }
      }
      return [res];
    }
    case 'Slice': {
      const x = need(0, 'data');
      const r = x.shape.length;
      let starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined;
      if (opset < 10) {
        starts = attrs.get('starts')?.ints ?? []; ends = attrs.get('ends')?.ints ?? []; axes = attrs.get('axes')?.ints;
      } else {
        starts = requireInt(where, 'starts', need(1, 'starts')); ends = requireInt(where, 'ends', need(2, 'ends'));
        axes = inputs[3] ? requireInt(where, 'axes', inputs[3]) : undefined;
        steps = inputs[4] ? requireInt(where, 'steps', inputs[4]) : undefined;
      }
      if (steps && steps.some((s) => s !== 1)) throw new UnsupportedModelError(`${where}: steps: only step 1 is supported, got [${steps}]`);
      const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(where, a, r));
      if (ends.length !== starts.length || ax.length !== starts.length) throw new RangeError(`${where}: starts/ends/axes: expected equal lengths`);
      const lo = new Array(r).fill(0), hi = x.shape.slice();
      ax.forEach((a, i) => {
        const d = x.shape[a];
        const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
        lo[a] = clamp(starts[i]); hi[a] = Math.max(clamp(ends[i]), lo[a]);
      });
      const shape = hi.map((h, a) => h - lo[a]);
      const res = output(where, x.dtype, shape), out = res.data;
      const n = out.length, str = stridesOf(x.shape);
      const idx = new Array(r).fill(0);
      for (let o = 0; o < n; o++) {
        let src = 0;
        for (let a = 0; a < r; a++) src += (lo[a] + idx[a]) * str[a];
        out[o] = x.data[src];
        for (let a = r - 1; a >= 0; a--) { if (++idx[a] < shape[a]) break; idx[a] = 0; }
      }
      return [res];
    }
    case 'Squeeze':
    case 'Unsqueeze': {
      const x = need(0, 'data');
      const axesIn = opset >= 13 ? (inputs[1] ? requireInt(where, 'axes', inputs[1]) : undefined) : attrs.get('axes')?.ints;
      if (opType === 'Squeeze') {
        const r = x.shape.length;
        const axes = (axesIn ?? x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0)).map((a) => normAxis(where, a, r));
        for (const a of axes) if (x.shape[a] !== 1) throw new RangeError(`${where}: axes: axis ${a} has size ${x.shape[a]}, not 1`);
        return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !axes.includes(i)), data: x.data }];
      }
      if (!axesIn) throw new TypeError(`${where}: axes: required`);
      const r = x.shape.length + axesIn.length;
      const axes = axesIn.map((a) => normAxis(where, a, r));
      const shape: number[] = [];
      let j = 0;
      for (let i = 0; i < r; i++) shape.push(axes.includes(i) ? 1 : x.shape[j++]);
      return [{ dtype: x.dtype, shape, data: x.data }];
    }
    case 'Gemm': {
      const a = need(0, 'A'), b = need(1, 'B'), c = inputs[2];
      requireFloat(where, 'A', a); requireFloat(where, 'B', b);
      if (a.shape.length !== 2 || b.shape.length !== 2) throw new RangeError(`${where}: A, B: expected 2-D tensors, got [${a.shape}] and [${b.shape}]`);
      const tA = attrI('transA', 0), tB = attrI('transB', 0), alpha = attrF('alpha', 1), beta = attrF('beta', 1);
      const A = tA ? transpose(where, a, [1, 0]) : a, Bm = tB ? transpose(where, b, [1, 0]) : b;
      const [M, K] = A.shape, [K2, N] = Bm.shape;
      if (K !== K2) throw new RangeError(`${where}: A, B: inner dimensions differ (${K} vs ${K2})`);
      checkOutputSize(where, M * N, a.data.length + b.data.length);
      let y = output(where, 'float32', [M, N]);
      matmul2d(A.data, 0, Bm.data, M, K, N, y.data, 0);
      if (alpha !== 1) y = broadcast(where, y, floatValue([], new Float32Array([alpha])), (p, q) => p * q);
      if (c) { requireFloat(where, 'C', c); y = broadcast(where, y, c, (p, q) => p + beta * q); }
      if (y.shape.length !== 2 || y.shape[0] !== M || y.shape[1] !== N) throw new RangeError(`${where}: C: shape [${c?.shape}] does not broadcast to [${M}, ${N}]`);
      return [y];
    }
    case 'MatMul': {
      const a = need(0, 'A'), b = need(1, 'B');
      requireFloat(where, 'A', a); requireFloat(where, 'B', b);
      if (b.shape.length !== 2 || a.shape.length < 2) {
        throw new UnsupportedModelError(`${where}: only A [..., M, K] · B [K, N] is supported, got [${a.shape}] · [${b.shape}]`);
      }
      const K = a.shape[a.shape.length - 1], N = b.shape[1];
      if (b.shape[0] !== K) throw new RangeError(`${where}: A, B: inner dimensions differ (${K} vs ${b.shape[0]})`);
      const rows = sizeOf(a.shape.slice(0, -1)); // K = 0 too: rows x N zeros
      checkOutputSize(where, rows * N, a.data.length + b.data.length);
      const y = output(where, 'float32', [...a.shape.slice(0, -1), N]);
      matmul2d(a.data, 0, b.data, rows, K, N, y.data, 0);
      return [y];
    }
    case 'Add': case 'Sub': case 'Mul': case 'Div': {
      const a = need(0, 'A'), b = need(1, 'B');
      requireFloat(where, 'A', a); requireFloat(where, 'B', b);
      const fn = opType === 'Add' ? (p: number, q: number) => p + q : opType === 'Sub' ? (p: number, q: number) => p - q
        : opType === 'Mul' ? (p: number, q: number) => p * q : (p: number, q: number) => p / q;
      return [broadcast(where, a, b, fn)];
    }
    case 'Relu': case 'Tanh': case 'Sigmoid': {
      const x = need(0, 'X');
      requireFloat(where, 'X', x);
      const fn = opType === 'Relu' ? (v: number) => (v > 0 ? v : 0) : opType === 'Tanh' ? Math.tanh : (v: number) => 1 / (1 + Math.exp(-v));
      const y = output(where, 'float32', x.shape.slice());
      for (let i = 0; i < y.data.length; i++) y.data[i] = fn(x.data[i]);
      return [y];
    }
    case 'Softmax': {
      const x = need(0, 'input');
      requireFloat(where, 'input', x);
      const r = x.shape.length;
      const axis = normAxis(where, attrI('axis', opset >= 13 ? -1 : 1), r);
      // opset < 13 flattens to 2-D at `axis`; that equals a last-axis softmax only when axis is last.
      if (opset < 13 && axis !== r - 1) throw new UnsupportedModelError(`${where}: axis: opset ${opset} Softmax is supported on the last axis only, got ${axis}`);
      const y = output(where, 'float32', x.shape.slice()), out = y.data;
      const inner = sizeOf(x.shape.slice(axis + 1)), d = x.shape[axis], outer = out.length ? sizeOf(x.shape.slice(0, axis)) : 0;
      for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) {
        let m = -Infinity;
        for (let j = 0; j < d; j++) m = Math.max(m, x.data[(o * d + j) * inner + i]);
        let s = 0;
        for (let j = 0; j < d; j++) s += (out[(o * d + j) * inner + i] = Math.exp(x.data[(o * d + j) * inner + i] - m));
        for (let j = 0; j < d; j++) out[(o * d + j) * inner + i] /= s;
      }
      return [y];
    }
    default:
      throw new UnsupportedModelError(`${where}: op_type: ${JSON.stringify(opType)} is not supported (supported: LSTM, GRU, RNN, ${SUPPORTED_OPS.join(', ')})`);
  }
}

/**
 * The operators runOp runs and the attributes each may have (in any opset it runs: Squeeze's
 * `axes` is an input from opset 13); any other attribute is refused when the model is loaded.
 */
export const OP_ATTRIBUTES: ReadonlyMap<string, readonly string[]> = new Map([
  ['Identity', []], ['Constant', ['value']], ['Transpose', ['perm']], ['Reshape', ['allowzero']], ['Concat', ['axis']],
  ['Slice', ['starts', 'ends', 'axes']], ['Squeeze', ['axes']], ['Unsqueeze', ['axes']], ['Gemm', ['alpha', 'beta', 'transA', 'transB']], ['MatMul', []],
  ['Add', []], ['Sub', []], ['Mul', []], ['Div', []], ['Relu', []], ['Tanh', []], ['Sigmoid', []], ['Softmax', ['axis']],
]);
export const SUPPORTED_OPS = [...OP_ATTRIBUTES.keys()];
