// The file system, for the functions that take a path (readSafetensors, saveModel, checkpoints,
// the TF.js folder reader and writer). The browser build (scripts/build-browser.mjs, which
// resolves `X.browser.ts` before `X.ts`) replaces this module with ./node-fs.browser.ts, whose
// every call throws a TypeError naming the in-memory form to use instead.
import fs from 'node:fs';
import path from 'node:path';

export { fs, path };
