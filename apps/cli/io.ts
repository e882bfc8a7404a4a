// Where commands write: results to stdout, progress and messages to stderr. One object so tests
// (and embedding programs) could hand in other streams.

import type { Writable } from 'node:stream';

export interface Io {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  out(s: string): void;
  err(s: string): void;
}

export function processIo(): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    out: (s) => void process.stdout.write(s),
    err: (s) => void process.stderr.write(s),
  };
}
