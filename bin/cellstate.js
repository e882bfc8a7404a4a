#!/usr/bin/env node
// The `cellstate` command line (npx cellstate <command>); the commands live in apps/cli/
// (compiled to dist-apps/cli/), which use the library through its public entry like any program.
'use strict';
let main;
try {
  ({ main } = require('../dist-apps/cli/main.js'));
} catch (e) {
  process.stderr.write(`cellstate: the compiled library is missing (${e.message.split('\n')[0]}); run \`npm run build:ts\`\n`);
  process.exit(1);
}
main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => { process.stderr.write(`cellstate: ${e && e.stack ? e.stack : e}\n`); process.exitCode = 1; },
);
