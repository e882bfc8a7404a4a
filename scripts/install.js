// npm install hook: build the native addon with node-gyp. A failed build never fails the install:
// the library then runs on the ts backend and says so once at first use (with the causes).
// CELLSTATE_SKIP_BUILD=1 skips the build.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

if (process.env.CELLSTATE_SKIP_BUILD) {
  console.log('cellstate: CELLSTATE_SKIP_BUILD set, not building the native addon (the ts backend will be used)');
  process.exit(0);
}
let gyp;
try {
  gyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  gyp = process.env.npm_config_node_gyp; // npm's bundled copy
}
if (!gyp) {
  console.warn('cellstate: node-gyp not found; the native addon was not built (the ts backend will be used)');
  process.exit(0);
}
const r = spawnSync(process.execPath, [gyp, 'rebuild'], { cwd: path.join(__dirname, '..'), stdio: 'inherit' });
if (r.status !== 0) {
  console.warn('cellstate: building the native addon failed (see above); the pure-TypeScript backend will be used');
}
process.exit(0);
