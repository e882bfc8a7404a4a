// The library apart from its applications: the library's import graph (dist/index.js and
// everything it requires) stays inside dist/ and lib/, so `require('cellstate')` never loads the
// command line, the character model, the experiments, the plots or the corpus reader; and the
// apps use the library as a user does: through 'cellstate', or through apps/internals.ts only.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Source files under a folder (recursively) with the given extension. */
function filesUnder(dir, ext) {
  return fs.readdirSync(path.join(root, dir), { recursive: true }).filter((f) => f.endsWith(ext)).map((f) => path.join(root, dir, f));
}

/** Module specifiers of a TypeScript or compiled CommonJS file (import/export from, require, import()). */
function specifiers(file) {
  const src = fs.readFileSync(file, 'utf8');
  const statements = [...src.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm)];
  const calls = [...src.matchAll(/\b(?:require|import)\(\s*['"]([^'"]+)['"]\s*\)/g)];
  return [...statements, ...calls].map((m) => m[1] ?? m[2]);
}

describe('layout: the library does not carry its applications', function () {
  const APPS = ['cli', 'charlm', 'experiments', 'plot', 'text'];

  it('no lib/ source imports an app module or anything outside lib/', function () {
    const bad = [];
    for (const f of filesUnder('lib', '.ts')) {
      for (const s of specifiers(f)) {
        if (!s.startsWith('.')) continue; // node: builtins and packages
        const target = path.resolve(path.dirname(f), s);
        if (!target.startsWith(path.join(root, 'lib') + path.sep)) bad.push(`${path.relative(root, f)} imports ${s}`);
      }
    }
    expect(bad).to.deep.equal([]);
    for (const d of APPS) expect(fs.existsSync(path.join(root, 'lib', d)), `lib/${d}`).to.equal(false);
  });

  it("the import graph of dist/index.js is the library's own modules only", function () {
    const dist = path.join(root, 'dist');
    const seen = new Set();
    const outside = [];
    const visit = (file) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const s of specifiers(file)) {
        if (!s.startsWith('.')) continue;
        let target = path.resolve(path.dirname(file), s);
        if (!target.endsWith('.js')) target = fs.existsSync(`${target}.js`) ? `${target}.js` : path.join(target, 'index.js');
        if (!target.startsWith(dist + path.sep)) { outside.push(`${path.relative(root, file)} -> ${s}`); continue; }
        visit(target);
      }
    };
    visit(path.join(dist, 'index.js'));
    expect(outside).to.deep.equal([]);
    // Folders reached: the API's own (and the graph walk itself did work).
    const folders = new Set([...seen].map((f) => path.relative(dist, f).split(path.sep)).filter((p) => p.length > 1).map((p) => p[0]));
    expect([...folders].sort()).to.deep.equal(['backend', 'interop', 'io', 'nn', 'serve', 'train']);
    // Loading the library in a fresh process loads no app module.
    const loaded = JSON.parse(execFileSync(process.execPath, ['-e', "require('./dist/index.js'); console.log(JSON.stringify(Object.keys(require.cache)))"], { cwd: root, encoding: 'utf8' }));
    expect(loaded.filter((f) => !f.startsWith(dist + path.sep))).to.deep.equal([]);
  });

  it("apps import the library only through 'cellstate', or through apps/internals.ts", function () {
    const bad = [];
    const internals = path.join(root, 'apps', 'internals.ts');
    for (const f of filesUnder('apps', '.ts')) {
      for (const s of specifiers(f)) {
        if (s.startsWith('node:') || s === 'cellstate') continue;
        if (!s.startsWith('.')) { bad.push(`${path.relative(root, f)} imports the package ${s}`); continue; }
        const target = path.resolve(path.dirname(f), s);
        const inApps = target.startsWith(path.join(root, 'apps') + path.sep);
        const inDist = target.startsWith(path.join(root, 'dist') + path.sep);
        if (!inApps && !(f === internals && inDist)) bad.push(`${path.relative(root, f)} imports ${s}`);
      }
    }
    expect(bad).to.deep.equal([]);
  });
});
