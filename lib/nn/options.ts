// Reading user option objects safely: own properties only (no prototype pollution), each read
// once, getters that throw reported as a TypeError naming the option, unknown keys rejected (a
// typo must not be silently ignored), and every value range-checked with a message naming it.
//
// readEntries and nameRecord are the one way untrusted names (from option objects, state dicts,
// files) become keys: a null-prototype record, so `__proto__`, `constructor` or `toString` are
// plain names there and can never reach Object.prototype (filled after the caller checked every name).

import { argRangeError, argTypeError, describe } from '../errors';

export type Options = Record<string, unknown>;

/**
 * The [name, value] pairs of an untrusted object (its own enumerable string keys, each value read
 * once) or Map (string keys). A getter or Proxy that throws is a TypeError naming `arg`.
 */
export function readEntries<V = unknown>(where: string, arg: string, value: object): [string, V][] {
  let entries: [unknown, unknown][];
  try {
    entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
  } catch (e) {
    throw argTypeError(where, arg, `an object whose entries can be read (reading them threw: ${(e as Error)?.message ?? e})`, undefined);
  }
  for (const [k] of entries) if (typeof k !== 'string') throw argTypeError(where, arg, 'string names', k);
  return entries as [string, V][];
}

/**
 * A null-prototype record of [name, value] pairs, for names that were already checked: there a
 * name such as `__proto__` or `constructor` is an ordinary key (never a setter or an inherited
 * property), and a record cannot be polluted through Object.prototype.
 */
export function nameRecord<V>(entries: Iterable<readonly [string, V]>): Record<string, V> {
  const out: Record<string, V> = Object.create(null);
  for (const [k, v] of entries) out[k] = v;
  return out;
}

/** Snapshot the own enumerable properties of an options object, rejecting unknown keys (`noun` names what the keys are). */
export function readOptions(where: string, arg: string, value: unknown, known: readonly string[], noun = 'options'): Options {
  if (value === undefined || value === null) return Object.create(null);
  if (typeof value !== 'object' || Array.isArray(value)) throw argTypeError(where, arg, 'an options object', value);
  let keys: string[];
  try {
    keys = Object.keys(value);
  } catch (e) {
    throw argTypeError(where, arg, `an options object (listing its keys threw: ${(e as Error)?.message ?? e})`, value);
  }
  for (const k of keys) {
    if (!known.includes(k)) throw argTypeError(where, `${arg}.${k}`, `one of the known ${noun} (${known.join(', ')})`, k);
  }
  return nameRecord(keys.map((k): [string, unknown] => {
    try {
      return [k, (value as Options)[k]];
    } catch (e) {
      throw argTypeError(where, `${arg}.${k}`, `a readable value (its getter threw: ${(e as Error)?.message ?? e})`, undefined);
    }
  }));
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
