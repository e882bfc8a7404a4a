// The published type declarations under `tsc --strict`: test/types/*.ts must compile with no
// errors against dist/*.d.ts (as a consumer resolves 'cellstate'); and the .d.ts files, copied
// into a bare consumer project as npm installs them, type-check there under --strict WITHOUT
// skipLibCheck and without @types/node or the DOM library (no node:stream, no AbortSignal leaks).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('types', function () {
  this.timeout(120000);
  it('what a strict TypeScript user writes (the examples of docs/ among it) type-checks', function () {
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '--strict', '--noEmit', '--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2022',
      '--types', 'node', path.join(root, 'test', 'types', 'strict.ts')], { cwd: root, encoding: 'utf8' });
    expect(r.stdout + r.stderr).to.equal('');
    expect(r.status).to.equal(0);
  });

  it('the .d.ts files type-check in a consumer without skipLibCheck, @types/node or DOM', function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-consumer-'));
    try {
      const pkg = path.join(dir, 'node_modules', 'cellstate');
      fs.mkdirSync(pkg, { recursive: true });
      fs.copyFileSync(path.join(root, 'package.json'), path.join(pkg, 'package.json'));
      const dist = path.join(root, 'dist');
      let copied = 0;
      for (const rel of fs.readdirSync(dist, { recursive: true })) {
        if (!rel.endsWith('.d.ts')) continue;
        fs.mkdirSync(path.dirname(path.join(pkg, 'dist', rel)), { recursive: true });
        fs.copyFileSync(path.join(dist, rel), path.join(pkg, 'dist', rel));
        copied++;
      }
      expect(copied).to.be.greaterThan(20);
      // Touching every export pulls every declaration file the entry reaches into the program.
      const use = [
        "import * as cs from 'cellstate';",
        "import type { FitOptions, RunOptions, StepOptions, ProgressStream, AbortSignalLike } from 'cellstate';",
        'const all: Record<string, unknown> = { ...cs };',
        'const lstm = new cs.LSTM({ inputSize: 2, hiddenSize: 3 });',
        "const fit: FitOptions = { epochs: 1, progressStream: { write: (s: string) => s.length } };",
        'declare const signal: AbortSignalLike;',
        'const run: RunOptions = { signal };',
        'const step: StepOptions = { signal: null };',
        'const stream: ProgressStream | undefined = fit.progressStream;',
        'export const n: number = lstm.hiddenSize + Object.keys(all).length + (run.signal ? 1 : 0) + (step.signal ? 1 : 0) + (stream ? 1 : 0);',
      ].join('\n') + '\n';
      fs.writeFileSync(path.join(dir, 'cjs.ts'), use); // package without "type": CommonJS resolution
      fs.writeFileSync(path.join(dir, 'esm.mts'), use); // the ESM entry ("import" condition)
      fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, skipLibCheck: false, module: 'node16', moduleResolution: 'node16', target: 'es2022', lib: ['es2022'], types: [] },
        files: ['cjs.ts', 'esm.mts'],
      }));
      const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      const r = spawnSync(process.execPath, [tsc, '-p', dir, '--listFilesOnly'], { cwd: dir, encoding: 'utf8' });
      const listed = r.stdout.split('\n').filter((f) => f.includes('node_modules/cellstate/dist/'));
      expect(listed.length, 'declaration files in the consumer program').to.be.greaterThan(20);
      expect(r.stdout).to.not.match(/@types[\\/]node|lib\.dom/);
      const c = spawnSync(process.execPath, [tsc, '-p', dir], { cwd: dir, encoding: 'utf8' });
      expect(c.stdout + c.stderr).to.equal('');
      expect(c.status).to.equal(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
