// Named parameters in PyTorch's state_dict convention: declaring them, initialising them from a
// seeded generator, exporting copies and loading them back with every name and shape checked.

import { argTypeError, describe, formatShape } from '../errors';
import { Rng } from '../rng';
import { allocate, checkElements, Tensor, type DType, type FloatArray } from '../tensor';
import { readEntries } from './options';

/** A parameter's PyTorch name and shape, as a layer declares it (paramSpecs()). */
export interface ParamSpec {
  /** e.g. 'weight_ih_l0'. */
  name: string;
  /** e.g. [4H, I]. */
  shape: number[];
}

/** One state-dict entry: a Tensor, or { shape, data } with data an array or typed array (e.g. from JSON). */
export type StateDictEntry = Tensor | {
  /** The parameter's shape. */
  shape: readonly number[];
  /** Its elements, row-major. */
  data: ArrayLike<number>;
};
/** A state dict as given to loadStateDict: an object or a Map of name -> Tensor or { shape, data } (e.g. from JSON). */
export type StateDictInput = Record<string, StateDictEntry> | ReadonlyMap<string, StateDictEntry>;

/** loadStateDict of a layer without parameters: an empty object or Map (or nothing); any name is unexpected. */
export function loadNoParameters(where: string, weights: unknown): void {
  if (weights === undefined || weights === null) return;
  if (typeof weights !== 'object' || Array.isArray(weights)) throw argTypeError(where, 'weights', 'an object or Map of parameters (none, for this layer)', weights);
  const names = readEntries(where, 'weights', weights).map(([k]) => k);
  if (names.length) throw argTypeError(where, 'weights', 'no parameters (this layer has none)', `unexpected: ${names.join(', ')}`);
}

export class ParamSet {
  readonly specs: readonly ParamSpec[];
  readonly values: Map<string, FloatArray>;
  readonly dtype: DType;

  constructor(specs: ParamSpec[], dtype: DType, where = 'cellstate') {
    this.specs = specs;
    this.dtype = dtype;
    // Every size is checked against the limit before the first allocation (nothing half-built).
    const sizes = specs.map((s) => checkElements(where, s.name, s.shape.reduce((a, b) => a * b, 1), `shape ${formatShape(s.shape)}`));
    this.values = new Map(specs.map((s, i) => [s.name, allocate(dtype, sizes[i])]));
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  get(name: string): FloatArray {
    const v = this.values.get(name);
    if (!v) throw new Error(`internal: no parameter ${name}`);
    return v;
  }

  /** A Tensor viewing the live storage of one parameter (no copy). */
  tensor(name: string): Tensor {
    const spec = this.specs.find((s) => s.name === name);
    if (!spec) throw new Error(`internal: no parameter ${name}`);
    return new Tensor(this.get(name), spec.shape);
  }

  /** Fill every parameter with U(-bound, bound) in declaration order (PyTorch's reset_parameters). */
  initUniform(rng: Rng, bound: number): void {
    for (const s of this.specs) {
      const a = this.get(s.name);
      for (let i = 0; i < a.length; i++) a[i] = rng.uniform(-bound, bound);
    }
  }

  /** An independent copy (same specs, copied values). */
  copy(): ParamSet {
    const c = new ParamSet(this.specs.slice(), this.dtype);
    for (const s of this.specs) c.get(s.name).set(this.get(s.name));
    return c;
  }

  /** Copies of every parameter, in declaration order. */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const s of this.specs) out[s.name] = new Tensor(this.get(s.name).slice(), s.shape);
    return out;
  }

  /**
   * Replace every parameter. All-or-nothing: every value is read once into a staging copy, and
   * every problem (unknown, missing, mis-shaped, non-finite in the copy) is found before anything
   * is written, and reported in one error. `weights`: an object or a Map of name -> tensor.
   */
  load(where: string, weights: unknown): void {
    if (weights === null || typeof weights !== 'object' || Array.isArray(weights)) {
      throw argTypeError(where, 'weights', 'an object mapping parameter names to tensors', weights);
    }
    const given = new Map(readEntries(where, 'weights', weights));
    const problems: string[] = [];
    const unexpected = [...given.keys()].filter((k) => !this.values.has(k));
    if (unexpected.length) problems.push(`unexpected: ${unexpected.join(', ')}`);
    const missing = this.specs.map((s) => s.name).filter((n) => !given.has(n));
    if (missing.length) problems.push(`missing: ${missing.join(', ')}`);
    const staged = new Map<string, FloatArray>();
    for (const s of this.specs) {
      if (!given.has(s.name)) continue; // reported as missing
      const { shape, data, error } = readTensorLike(given.get(s.name));
      if (error) { problems.push(`${s.name}: ${error}`); continue; }
      if (shape!.length !== s.shape.length || shape!.some((d, i) => d !== s.shape[i])) {
        problems.push(`${s.name}: expected shape ${formatShape(s.shape)}, got ${formatShape(shape!)}`);
        continue;
      }
      const copy = allocate(this.dtype, this.get(s.name).length, where, s.name);
      const bad = copyFinite(data!, copy);
      if (bad) { problems.push(`${s.name}: ${bad}`); continue; }
      staged.set(s.name, copy);
    }
    if (problems.length) {
      // Wrong names are a TypeError (wrong kind of object); wrong sizes or values a RangeError.
      const msg = `${where}: weights: ${problems.join('; ')}`;
      throw problems.some((p) => p.startsWith('unexpected') || p.startsWith('missing')) ? new TypeError(msg) : new RangeError(msg);
    }
    for (const s of this.specs) this.get(s.name).set(staged.get(s.name)!);
  }
}

/**
 * Copy `data` into `out`, reading each entry once (a typed array in one copy, an array entry by
 * entry), and check the copy: as many values as `out`, numbers, finite in out's dtype. Returns the
 * problem, or null. What was checked is what gets loaded, whatever the source does meanwhile.
 */
export function copyFinite(data: ArrayLike<number>, out: FloatArray): string | null {
  let n: number;
  try {
    n = data.length;
    if (n !== out.length) return `expected ${out.length} values, got ${n}`;
    if (ArrayBuffer.isView(data)) out.set(data as FloatArray);
    else {
      for (let i = 0; i < n; i++) {
        const x = data[i];
        if (typeof x !== 'number') return `expected finite numbers, got ${describe(x)} at flat index ${i}`;
        out[i] = x;
      }
    }
  } catch (e) {
    return `reading its data threw: ${(e as Error)?.message ?? e}`;
  }
  for (let i = 0; i < n; i++) {
    const x = out[i];
    if (x - x !== 0) return `expected finite numbers (in ${out instanceof Float32Array ? 'float32' : 'float64'}), got ${describe(x)} at flat index ${i}`;
  }
  return null;
}

function readTensorLike(v: unknown): { shape?: number[]; data?: ArrayLike<number>; error?: string } {
  if (v === null || typeof v !== 'object') return { error: `expected a Tensor or {shape, data}, got ${describe(v)}` };
  let shape: unknown, data: unknown;
  try {
    shape = (v as { shape: unknown }).shape;
    data = (v as { data: unknown }).data;
  } catch (e) {
    return { error: `reading it threw: ${(e as Error)?.message ?? e}` };
  }
  if (!Array.isArray(shape)) return { error: `expected shape as an array of non-negative integers, got ${describe(shape)}` };
  try {
    shape = Array.from(shape); // one read of each entry: the shape checked is the shape used
  } catch (e) {
    return { error: `reading its shape threw: ${(e as Error)?.message ?? e}` };
  }
  if ((shape as unknown[]).some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0)) {
    return { error: `expected shape as an array of non-negative integers, got ${describe(shape)}` };
  }
  const isNumericView = ArrayBuffer.isView(data) && !(data instanceof DataView) && !(data instanceof BigInt64Array) && !(data instanceof BigUint64Array);
  if (!Array.isArray(data) && !isNumericView) return { error: `expected data as an array or typed array, got ${describe(data)}` };
  return { shape: shape as number[], data: data as ArrayLike<number> };
}

/** PyTorch's default init bound for recurrent layers: U(-1/sqrt(H), 1/sqrt(H)). */
export function initBound(hiddenSize: number): number {
  return 1 / Math.sqrt(hiddenSize);
}

