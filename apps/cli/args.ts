// Flag parsing for the command-line tool: node:util parseArgs underneath, plus typed values
// (integers, numbers with ranges), help text generated from the same table, and one error class
// for every usage mistake so main() can map it to exit code 2 with a one-line message.
//
// Defaults are applied by each command, not here: a command can then tell "not given" from "given
// the default value" (train --resume keeps the saved sizes unless a flag changes them).

import { parseArgs } from 'node:util';

export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

export const EXIT_CODES_HELP = `Exit codes: 0 success, 1 runtime failure (bad file, training diverged, ...), 2 usage error
(unknown flag, bad value), 130 interrupted by Ctrl-C (train saves a checkpoint first).`;

/** A mistake in the command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  type: 'string' | 'boolean' | 'int' | 'number';
  desc: string;
  placeholder?: string; // shown in help: --hidden N
  min?: number; // inclusive
  max?: number; // inclusive
  minExclusive?: boolean; // min is exclusive (e.g. a positive real)
  default?: string; // shown in help only
}

export interface CommandSpec {
  name: string; // 'train', 'experiment adding'
  summary: string;
  usage: string; // after 'cellstate '
  flags: Record<string, FlagSpec>;
  details?: string;
  positionals?: number; // how many positionals are allowed (default 0)
}

export type FlagValues = Record<string, string | number | boolean | undefined>;

export function helpText(spec: CommandSpec): string {
  const lines = [`Usage: cellstate ${spec.usage}`, '', spec.summary, ''];
  const all: [string, FlagSpec][] = [...Object.entries(spec.flags), ['help', { type: 'boolean', desc: 'show this help' }]];
  const left = all.map(([n, f]) => `  --${n}${f.type === 'boolean' ? '' : ` ${f.placeholder ?? (f.type === 'string' ? 'VALUE' : f.type === 'int' ? 'N' : 'X')}`}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  lines.push('Options:');
  all.forEach(([, f], i) => lines.push(`${left[i].padEnd(width)}${f.desc}${f.default !== undefined ? ` (default ${f.default})` : ''}`));
  if (spec.details) lines.push('', spec.details);
  lines.push('', EXIT_CODES_HELP);
  return lines.join('\n') + '\n';
}

/** Parse argv against a command's flags. `help: true` in the result means print help and exit 0. */
export function parseFlags(spec: CommandSpec, argv: string[]): { values: FlagValues; positionals: string[]; help: boolean } {
  const where = `cellstate ${spec.name}`;
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const [n, f] of Object.entries(spec.flags)) options[n] = { type: f.type === 'boolean' ? 'boolean' : 'string' };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError(`${where}: ${cleanParseError(e as Error)} (see cellstate ${spec.name} --help)`);
  }
  if (parsed.values.help) return { values: {}, positionals: [], help: true };
  const max = spec.positionals ?? 0;
  if (parsed.positionals.length > max) {
    throw new UsageError(`${where}: unexpected argument '${parsed.positionals[max]}' (see cellstate ${spec.name} --help)`);
  }
  const values: FlagValues = {};
  for (const [n, f] of Object.entries(spec.flags)) {
    const raw = (parsed.values as Record<string, string | boolean | undefined>)[n];
    if (raw === undefined) continue;
    values[n] = typeof raw === 'boolean' ? raw : convert(where, n, f, raw);
  }
  return { values, positionals: parsed.positionals, help: false };
}

function convert(where: string, name: string, f: FlagSpec, raw: string): string | number {
  if (f.type === 'string') {
    if (raw === '') throw new UsageError(`${where}: --${name}: expected a non-empty value`);
    return raw;
  }
  const v = raw.trim() === '' ? NaN : Number(raw);
  const what = f.type === 'int' ? 'an integer' : 'a number';
  const range = describeRange(f);
  if (!Number.isFinite(v) || (f.type === 'int' && !Number.isSafeInteger(v))) throw new UsageError(`${where}: --${name}: expected ${what}${range}, got '${raw}'`);
  if (f.min !== undefined && (f.minExclusive ? v <= f.min : v < f.min)) throw new UsageError(`${where}: --${name}: expected ${what}${range}, got ${raw}`);
  if (f.max !== undefined && v > f.max) throw new UsageError(`${where}: --${name}: expected ${what}${range}, got ${raw}`);
  return v;
}

function describeRange(f: FlagSpec): string {
  if (f.min !== undefined && f.max !== undefined) return ` in ${f.minExclusive ? '(' : '['}${f.min}, ${f.max}]`;
  if (f.min !== undefined) return f.minExclusive ? ` > ${f.min}` : ` >= ${f.min}`;
  return '';
}

/** parseArgs messages name the option and add advice meant for programmers; keep the first part. */
function cleanParseError(e: Error): string {
  const code = (e as { code?: string }).code;
  const m = e.message;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const opt = /'([^']+)'/.exec(m)?.[1] ?? m;
    return `unknown option '${opt}'`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const opt = /'(-[^' ]+)/.exec(m)?.[1]; // "'--text <value>'" -> --text
    if (/argument missing/.test(m) && opt) return `option '${opt}' needs a value`;
    if (/does not take an argument/.test(m) && opt) return `option '${opt}' does not take a value`;
    if (/ambiguous/.test(m) && opt) return `option '${opt}' needs a value (a value starting with '-' is written ${opt}=-...)`;
  }
  return m.split('\n')[0];
}

/** Shorthand for a command's flag value with its default. */
export function get<T extends string | number | boolean>(values: FlagValues, name: string, dflt: T): T {
  const v = values[name];
  return (v === undefined ? dflt : v) as T;
}
