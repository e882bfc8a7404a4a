// README's examples run as written: every ```js block is executed (in order, as one script) from
// the repository root, and the commented results of console.log lines are checked.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('README', function () {
  it('the quick start and training examples run and print what README says', function () {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks.length).to.be.at.least(2);
    const code = blocks.join('\n');
    const out = execFileSync(process.execPath, ['-e', code], { cwd: root, env: { ...process.env, CELLSTATE_QUIET: '1' }, encoding: 'utf8' });
    const lines = out.trim().split('\n');
    expect(lines[0]).to.equal('[ 2, 1, 8 ] [ 1, 1, 8 ] [ 1, 1, 8 ]');
    expect(lines.slice(1, -1).join(' ')).to.match(/'weight_ih_l0'.*'weight_hh_l0'.*'bias_ih_l0'.*'bias_hh_l0'/);
    expect(lines.at(-1)).to.equal('20 true'); // the Training example: 20 epochs, final loss < 0.01
    // The whole-model example: the loaded model's first layer, as saved.
    expect(lines).to.include('  (0): LSTM(inputSize=3, hiddenSize=8, numLayers=1, bias=true, batchFirst=true, bidirectional=false)');
  });
});
