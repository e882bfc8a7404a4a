// cellstate in a browser: the entry of dist/browser/cellstate.mjs (scripts/build-browser.mjs,
// package.json's "browser" condition and the `cellstate/browser` subpath). The same API as Node
// (./common.ts) without files, the native addon or worker threads (docs/browser.md says why), plus
// init(), which loads the WebAssembly module: a page compiles it asynchronously, so models made
// before init() has finished run on ts.

export * from './common';
