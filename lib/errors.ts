// One message factory for every argument error the library throws.
//
// Every message names the argument, what was expected and what was received, in the
// style of PyTorch's rnn.py checks: "LSTM.forward: x: expected shape [T, B, 4], got [5, 3, 2]".
// The native backend throws through the same classes (they are handed to the addon at load), so
// a test can assert that both backends fail alike.

/** Shapes are printed as `[2, 3, 4]`. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** A short, safe description of any value for an error message (never throws). */
/**
 * An object may say how it should be named in these errors (a string under this symbol), e.g. an
 * OnnxModel handed to a Trainer says that its graph is not a chain and what to do instead.
 */
export const DESCRIBE = Symbol.for('cellstate.describe');

export function describe(value: unknown): string {
  try {
    if (value !== null && typeof value === 'object') {
      const own = (value as { [DESCRIBE]?: unknown })[DESCRIBE];
      if (typeof own === 'string') return own;
    }
    if (value === null) return 'null';
    if (value === undefined) return 'undefined';
    if (typeof value === 'number') {
      if (Object.is(value, -0)) return '-0';
      return String(value);
    }
    if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
    if (typeof value === 'bigint') return `${value}n`;
    if (typeof value === 'boolean' || typeof value === 'symbol') return String(value);
    if (typeof value === 'function') return 'a function';
    if (ArrayBuffer.isView(value)) {
      const name = value.constructor?.name ?? 'TypedArray';
      const len = (value as unknown as { length?: number }).length;
      return len === undefined ? name : `${name}(${len})`;
    }
    if (Array.isArray(value)) return `an array of length ${value.length}`;
    const ctor = (value as object).constructor;
    return ctor && typeof ctor.name === 'string' && ctor.name !== 'Object' ? `a ${ctor.name}` : 'an object';
  } catch {
    return 'an unprintable value';
  }
}

// The argument errors this library made (argTypeError, argRangeError, shapeError): code that
// must tell its own checks from an error thrown by a caller's getter or Proxy asks
// isArgumentError(), never the message text.
const argumentErrors = new WeakSet<Error>();
const own = <E extends Error>(e: E): E => (argumentErrors.add(e), e);

/** Whether e is an argument error made by this library's checks (not one a caller's code threw). */
export function isArgumentError(e: unknown): e is TypeError | RangeError {
  return e instanceof Error && argumentErrors.has(e);
}

export function argTypeError(where: string, arg: string, expected: string, got: unknown): TypeError {
  return own(new TypeError(`${where}: ${arg}: expected ${expected}, got ${describe(got)}`));
}

export function argRangeError(where: string, arg: string, expected: string, got: string): RangeError {
  return own(new RangeError(`${where}: ${arg}: expected ${expected}, got ${got}`));
}

/**
 * Stable codes on the library's errors, for code that decides what to do with an error (the
 * Trainer's non-finite policy does): switch on `code`, never on the message text.
 *   CELLSTATE_NON_FINITE: an argument holds NaN or ±Infinity where finite values are required.
 *   CELLSTATE_OVERFLOW: finite arguments whose result (a loss, a gradient) does not fit its type.
 * The serving errors (lib/serve/errors.ts) carry their own codes.
 */
export type ErrorCode = 'CELLSTATE_NON_FINITE' | 'CELLSTATE_OVERFLOW';

/** A RangeError with a code and the name of the argument at fault. */
export interface CodedRangeError extends RangeError {
  /** What went wrong, stable across messages. */
  readonly code: ErrorCode;
  /** The argument at fault, e.g. 'x' or 'options.lengths'. */
  readonly argument: string;
}

/** `where: arg: expected <expected>, got <got>`, coded (see ErrorCode). */
export function codedRangeError(code: ErrorCode, where: string, arg: string, expected: string, got: string): CodedRangeError {
  return Object.assign(argRangeError(where, arg, expected, got), { code, argument: arg });
}

/** The code of one of the library's coded errors, or undefined for any other value. */
export function errorCode(e: unknown): ErrorCode | undefined {
  if (!(e instanceof RangeError)) return undefined;
  const code = (e as Partial<CodedRangeError>).code;
  return code === 'CELLSTATE_NON_FINITE' || code === 'CELLSTATE_OVERFLOW' ? code : undefined;
}

export function shapeError(where: string, arg: string, expected: string, got: readonly number[]): RangeError {
  return own(new RangeError(`${where}: ${arg}: expected shape ${expected}, got ${formatShape(got)}`));
}

/**
 * Thrown when a requested backend cannot be used (e.g. CELLSTATE_BACKEND=native but the addon did
 * not load); `causes` lists every reason found.
 */
export class BackendUnavailableError extends Error {
  /** Every reason the backend could not be used. */
  readonly causes: string[];
  constructor(message: string, causes: string[]) {
    super(causes.length ? `${message}:\n  - ${causes.join('\n  - ')}` : message);
    this.name = 'BackendUnavailableError';
    this.causes = causes;
  }
}

/** Thrown by backward() when the cache does not belong to the current weights or model. */
export class StaleCacheError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StaleCacheError';
  }
}

/**
 * Thrown by the importers and exporters (fromOnnx, toOnnx, loadTfjsModel) when a model uses a
 * feature cellstate cannot express exactly (an operator, activation, attribute or option): the
 * message names it. A TypeError, so code that catches argument errors catches it too. Malformed
 * or truncated files are a RangeError instead.
 */
export class UnsupportedModelError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedModelError';
  }
}

/**
 * Thrown when a model quantized by quantize() (bf16 / int8 weights, inference only) is asked to
 * train: forwardTrain, backward, namedParameters (optimizers, Trainer), loadStateDict. Training
 * stays fp32: train the fp32 model and quantize it again. A TypeError (the model is the wrong kind
 * of argument for the call), with a stable `code`.
 */
export class QuantizedModelError extends TypeError {
  /** Stable code. */
  readonly code = 'CELLSTATE_QUANTIZED' as const;
  constructor(message: string) {
    super(message);
    this.name = 'QuantizedModelError';
  }
}
