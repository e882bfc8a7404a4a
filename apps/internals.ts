// The library's internals the apps use: the one file under apps/ that reaches past the public entry
// ('cellstate', lib/index.ts) into the compiled library (dist/). Everything else the apps import
// comes from 'cellstate', as a user's program would. These are helpers the library keeps for itself
// (not part of its API): the addon loader's report for `cellstate info`, the file-error naming,
// the layer summary rows, the atomic file write and a fresh seed.

export { loadNative } from '../dist/backend/native';
export { fileCall } from '../dist/io/file-call';
export { summarizeLayers } from '../dist/nn/summary';
export { writeFileAtomic } from '../dist/io/atomic-write';
export { freshSeed } from '../dist/rng';
