// The published type declarations under `tsc --strict`: test/types/*.ts must compile with no
// errors against dist/*.d.ts (as a consumer resolves 'cellstate').
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('types', function () {
  this.timeout(120000);
  it('what a strict TypeScript user writes (the README snippets among it) type-checks', function () {
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '--strict', '--noEmit', '--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2022',
      '--types', 'node', path.join(root, 'test', 'types', 'strict.ts')], { cwd: root, encoding: 'utf8' });
    expect(r.stdout + r.stderr).to.equal('');
    expect(r.status).to.equal(0);
  });
});
