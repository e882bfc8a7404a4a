// The browser's stand-in for ./node-fs.ts (chosen by scripts/build-browser.mjs): a page has no
// file system, so every property of `fs` and `path` is a function that throws filesUnavailable().
// The functions that take a path reach it only after their arguments are checked; those that
// take bytes never reach it.
import { filesUnavailable } from './files-unavailable';

function unavailable(name: string): any {
  return new Proxy({}, { get: (_t, prop) => () => { throw filesUnavailable(`${name}.${String(prop)}`); } });
}

export const fs = unavailable('fs');
export const path = unavailable('path');
