// What the library asks of its host (Node, or a browser through dist/browser/cellstate.mjs): the
// environment variables it reads, where warnings go, a per-process number for fresh seeds, byte
// order, and Node's Buffer where it is faster. Every use of `process` and `Buffer` in the modules
// a browser build includes is here, behind a `typeof` check, so a browser (which has neither) gets
// the documented defaults: no variables set, warnings on console.warn, plain Uint8Arrays.
//
// This module imports nothing: its own declarations of the two globals (below) stand for the
// parts it uses, so it compiles the same in the Node build (tsconfig.json) and the browser check
// (tsconfig.browser.json, which has no Node types).

interface HostProcess {
  env?: Record<string, string | undefined>;
  pid?: number;
  versions?: { node?: string };
  emitWarning?: (message: string, options: { code: string }) => void;
  stderr?: unknown;
}
interface HostBuffer {
  allocUnsafeSlow(bytes: number): Uint8Array;
  concat(parts: readonly Uint8Array[]): Uint8Array;
}
declare const process: HostProcess | undefined;
declare const Buffer: HostBuffer | undefined;
declare const console: { warn(message: string): void };

const proc: HostProcess | undefined = typeof process !== 'undefined' ? process : undefined;
const buffer: HostBuffer | undefined = typeof Buffer !== 'undefined' ? Buffer : undefined;

/** True under Node (where the native addon, files and worker threads exist). */
export const IS_NODE = typeof proc?.versions?.node === 'string';

/** An environment variable's value (undefined when unset, and always in a browser). */
export function envVar(name: string): string | undefined {
  return proc?.env?.[name];
}

/** Node's process.emitWarning with a code; console.warn elsewhere. */
export function emitWarning(message: string, code: string): void {
  if (typeof proc?.emitWarning === 'function') proc.emitWarning(message, { code });
  else console.warn(`${message} (${code})`);
}

/** The process id under Node, 0 elsewhere (fresh seeds mix it with the clock and a counter). */
export function processId(): number {
  return proc?.pid ?? 0;
}

/** Node's process.stderr, undefined elsewhere (the default stream of training progress). */
export function stderrStream(): unknown {
  return proc?.stderr;
}

/** True when this machine stores numbers little-endian (every engine the library supports). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * `bytes` bytes in an ArrayBuffer of their own (byteOffset 0), contents unspecified: Node's
 * Buffer.allocUnsafeSlow (no zero fill), a zeroed Uint8Array elsewhere.
 */
export function allocBytesUninit(bytes: number): Uint8Array {
  return buffer ? buffer.allocUnsafeSlow(bytes) : new Uint8Array(bytes);
}

/** The parts one after the other (a Buffer under Node, as before this module existed). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (buffer) return buffer.concat(parts);
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** A turn of the event loop: Node's setImmediate, a zero-delay timer elsewhere. */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown; setTimeout: (f: () => void, ms: number) => unknown };
  return new Promise((res) => (g.setImmediate ? g.setImmediate(res) : g.setTimeout(res, 0)));
}
