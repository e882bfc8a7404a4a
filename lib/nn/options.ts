// Reading user option objects safely: own properties only (no prototype pollution), each read
// once, getters that throw reported as a TypeError naming the option, unknown keys rejected (a
// typo must not be silently ignored), and every value range-checked with a message naming it.

import { argRangeError, argTypeError, describe } from '../errors';

export type Options = Record<string, unknown>;

/** Snapshot the own enumerable properties of an options object, rejecting unknown keys. */
export function readOptions(where: string, arg: string, value: unknown, known: readonly string[]): Options {
  if (value === undefined || value === null) return Object.create(null);
  if (typeof value !== 'object' || Array.isArray(value)) throw argTypeError(where, arg, 'an options object', value);
  const out: Options = Object.create(null);
  let keys: string[];
  try {
    keys = Object.keys(value);
  } catch (e) {
    throw argTypeError(where, arg, `an options object (listing its keys threw: ${(e as Error)?.message ?? e})`, value);
  }
  for (const k of keys) {
    if (!known.includes(k)) {
      throw argTypeError(where, `${arg}.${k}`, `one of the known options (${known.join(', ')})`, k);
    }
    try {
      out[k] = (value as Options)[k];
    } catch (e) {
      throw argTypeError(where, `${arg}.${k}`, `a readable value (its getter threw: ${(e as Error)?.message ?? e})`, undefined);
    }
  }
  return out;
}

export function positiveInt(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw argTypeError(where, name, 'a positive integer', v);
  if (!Number.isSafeInteger(v) || v < 1) throw argRangeError(where, name, 'a positive integer', describe(v));
  return v;
}

export function optionalBool(where: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw argTypeError(where, name, 'true or false', v);
  return v;
}

export function optionalSeed(where: string, name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number') throw argTypeError(where, name, 'an integer seed', v);
  if (!Number.isSafeInteger(v)) throw argRangeError(where, name, 'a safe integer seed', describe(v));
  return v;
}

export function oneOf<T extends string>(where: string, name: string, v: unknown, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw argTypeError(where, name, allowed.map((a) => `'${a}'`).join(' or '), v);
  }
  return v as T;
}
