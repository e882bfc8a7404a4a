// README's Serving example runs as written: started on a free loopback port, it answers a
// sequence with the model's own hN (bit for bit), a malformed body with 400, then it is stopped.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { LSTM, Rng, tensor } from 'cellstate';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('README: Serving example', function () {
  this.timeout(20000);

  it('serves a sequence and refuses a malformed body', async () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const code = readme.split('## Serving')[1].match(/```mjs\n([\s\S]*?)```/)[1];
    expect(code.trim().split('\n').length).to.be.at.most(16);
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: root, env: { ...process.env, PORT: '0', CELLSTATE_QUIET: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => { out += d; const m = out.match(/listening on (\d+)/); if (m) resolve(Number(m[1])); });
        child.once('exit', (c) => reject(new Error(`the example exited with ${c}`)));
      });
      const rng = new Rng(9);
      const x = new Float32Array(12 * 64).map(() => rng.uniform(-1, 1));
      const r = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: Buffer.from(x.buffer) });
      expect(r.status).to.equal(200);
      const want = new LSTM({ inputSize: 64, hiddenSize: 256, seed: 1 }).forward(tensor(x, [12, 1, 64])).hN.data;
      expect(new Float32Array(await r.json())).to.deep.equal(want);
      const bad = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: Buffer.alloc(8) });
      expect(bad.status).to.equal(400);
    } finally {
      child.kill();
    }
  });
});
