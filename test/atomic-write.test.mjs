// Atomic writes leave no litter (issue #18, item 11): a writer killed mid-write leaves its
// temporary file; the next successful write of the same target removes it, and only it: never
// another target's, never a live writer's, never a file that merely looks similar.
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Adam, Linear, LSTM, readCheckpoint, saveCheckpoint, Sequential } from 'cellstate';
import { writeFileAtomic } from '../dist/io/atomic-write.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const temps = (dir, target) => fs.readdirSync(dir).filter((n) => n.startsWith(`.${target}.tmp-`)).sort();

describe('atomic writes: stale temporary files', function () {
  this.timeout(30000);
  let dir;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-aw-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a writer SIGKILLed mid-save leaves a temporary file; the next save removes it', async function () {
    const file = path.join(dir, 'ck.safetensors');
    // Kill the writer until a kill lands inside a write (most do: a save is mostly writing).
    for (let kill = 0; kill < 20 && temps(dir, 'ck.safetensors').length === 0; kill++) {
      const child = spawn(process.execPath, [path.join(here, 'helpers', 'checkpoint-writer.mjs'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise((res) => child.stdout.once('data', res)); // at least one save done
      await new Promise((res) => setTimeout(res, 5 + kill * 7));
      child.kill('SIGKILL');
      await new Promise((res) => child.on('exit', res));
    }
    const left = temps(dir, 'ck.safetensors');
    expect(left, 'a kill left a temporary file').to.have.length.above(0);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    const model = new Sequential([new LSTM({ inputSize: 2, hiddenSize: 3, seed: 1 }), new Linear({ inFeatures: 3, outFeatures: 1, seed: 2 })]);
    saveCheckpoint(file, { model, optimizer: new Adam(model) });
    expect(temps(dir, 'ck.safetensors')).to.deep.equal([]);
    expect(fs.readdirSync(dir).sort()).to.deep.equal(['ck.safetensors', 'notes.txt']);
    expect(Object.keys(readCheckpoint(file).weights)).to.have.length(6);
  });

  it('only the target\'s own stale files go: live writers, other targets and look-alikes stay', function () {
    const dead = spawnSync(process.execPath, ['-e', '']).pid; // exited: its files are stale
    const t = (ms) => ms.toString(36);
    const old = t(Date.now() - 3600e3), now = t(Date.now());
    const stale = [`.a.json.tmp-${dead}-${old}-abc`, `.a.json.tmp-${process.pid}-${old}-x1`];
    const kept = [
      `.a.json.tmp-${process.pid}-${now}-q9`, // this process, now: a thread's write in flight
      `.a.json.tmp-${process.ppid}-${old}-b7`, // a live process's write
      `.b.json.tmp-${dead}-${old}-abc`, // another target
      `a.json.tmp-${dead}-${old}-abc`, // no leading dot
      `.a.json.tmp-${dead}-${old}-abc.bak`, // not the pattern
      '.a.json.tmp-notes', 'a.json.bak', 'other.txt',
    ];
    for (const n of [...stale, ...kept]) fs.writeFileSync(path.join(dir, n), 'x');
    writeFileAtomic(path.join(dir, 'a.json'), [Buffer.from('{}\n')]);
    expect(fs.readdirSync(dir).sort()).to.deep.equal(['a.json', ...kept].sort());
    expect(fs.readFileSync(path.join(dir, 'a.json'), 'utf8')).to.equal('{}\n');
  });
});
