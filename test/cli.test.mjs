// The command-line tool, run as a user would (`node bin/cellstate.js ...`) in fast modes: tiny
// models, a few steps, tiny budgets. Checks exit codes, output, the files written, help text and
// usage errors. Training text is generated here (no third-party text in the repository).
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { XMLValidator } from 'fast-xml-parser';

const require = createRequire(import.meta.url);
const { readCheckpoint, Adam, LastStep, LayerNorm, Linear, LSTM, Sequential, Trainer } = require('../dist/index.js');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'cellstate.js');
const env = { ...process.env, CELLSTATE_QUIET: '1' };

function cli(...args) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, env, encoding: 'utf8', timeout: 60000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A seeded pseudo-text: words from a small made-up lexicon, sentences, line breaks. */
function makeText(n, seed = 7) {
  const words = ['lorem', 'stone', 'river', 'quiet', 'amber', 'north', 'cellar', 'lamp', 'orbit', 'vane'];
  let s = seed >>> 0, out = '';
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  while (out.length < n) {
    const k = 3 + Math.floor(rnd() * 6);
    const sent = Array.from({ length: k }, () => words[Math.floor(rnd() * words.length)]).join(' ');
    out += sent[0].toUpperCase() + sent.slice(1) + (rnd() < 0.2 ? '.\n' : '. ');
  }
  return out.slice(0, n);
}

const TINY = ['--hidden', '8', '--embed', '4', '--seq-len', '8', '--batch', '4'];

describe('cli', function () {
  this.timeout(60000);
  let tmp, textFile;
  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-cli-'));
    textFile = path.join(tmp, 'text.txt');
    fs.writeFileSync(textFile, makeText(4000));
  });
  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('help and usage errors', function () {
    it('--help lists every command and the exit codes; no command is a usage error', function () {
      const r = cli('--help');
      expect(r.code).to.equal(0);
      for (const c of ['demo', 'train', 'sample', 'bench', 'info', 'experiment adding', 'experiment copy']) expect(r.out).to.contain(`  ${c} `);
      expect(r.out).to.match(/Exit codes: 0 success, 1 runtime failure.*2 usage error/s);
      const none = cli();
      expect(none.code).to.equal(2);
      expect(none.err).to.contain('Usage: cellstate <command>');
    });

    it('every command has --help (exit 0) naming its options', function () {
      const want = { demo: '--seconds', train: '--text FILE', sample: '--temperature', bench: '--quick', info: '--json' };
      for (const [cmd, flag] of Object.entries(want)) {
        const r = cli(cmd, '--help');
        expect(r.code, cmd).to.equal(0);
        expect(r.out, cmd).to.match(new RegExp(`^Usage: cellstate ${cmd}`));
        expect(r.out, cmd).to.contain(flag).and.contain('Exit codes');
      }
      for (const exp of ['adding', 'copy']) {
        const r = cli('experiment', exp, '--help');
        expect(r.code).to.equal(0);
        expect(r.out).to.contain('--budget-seconds').and.contain('--steps T');
      }
      expect(cli('help', 'train').out).to.match(/^Usage: cellstate train/);
      expect(cli('experiment', '--help').out).to.contain('adding').and.contain('copy');
      expect(cli('--version').out.trim()).to.match(/^\d+\.\d+\.\d+/);
    });

    it('bad flags and values: one clear line on stderr, exit 2', function () {
      const cases = [
        [['train', '--text', textFile, '--bogus'], /cellstate train: unknown option '--bogus'/],
        [['train', '--text', textFile, '--hidden', 'abc'], /--hidden: expected an integer >= 1, got 'abc'/],
        [['train', '--text', textFile, '--hidden', '0'], /--hidden: expected an integer >= 1, got 0/],
        [['train', '--text', textFile, '--lr=-1'], /--lr: expected a number > 0, got -1/],
        [['train', '--text', textFile, '--lr', '-1'], /option '--lr' needs a value \(a value starting with '-' is written --lr=-\.\.\.\)/],
        [['train', '--text'], /option '--text' needs a value/],
        [['train'], /--text FILE is required/],
        [['sample'], /--model DIR is required/],
        [['sample', '--model', tmp, 'extra'], /unexpected argument 'extra'/],
        [['frobnicate'], /unknown command 'frobnicate'/],
        [['experiment', 'juggle'], /unknown experiment 'juggle'/],
        [['experiment', 'adding', '--models', 'lstm,bogus'], /--models: expected a comma-separated list of lstm, rnn, peephole, cifg, lnlstm, gru, got 'bogus'/],
        [['experiment', 'adding', '--models', 'gru,lstm,gru'], /--models: expected each kind once, got 'gru,lstm,gru'/],
        [['experiment', 'adding', '--forget-bias', '1', '--chrono-init', '50'], /--chrono-init: expected either --forget-bias or --chrono-init .*got both/],
        [['experiment', 'adding', '--chrono-init', '2'], /--chrono-init: expected a number > 2, got 2/],
        [['experiment', 'adding', '--steps', '20', '--curriculum', '20'], /--curriculum: expected a start length below --steps \(20\), got 20/],
        [['experiment', 'adding', '--curriculum', '1'], /--curriculum: expected an integer >= 2, got 1/],
        [['experiment', 'copy', '--curriculum', '4'], /--curriculum: expected only with the adding problem, got it with copy/],
        [['experiment', 'adding', '--seeds', '1,x'], /--seeds: expected comma-separated integers >= 0, got '1,x'/],
        [['experiment', 'adding', '--seeds', '1,1'], /--seeds: expected each seed once/],
        [['experiment', 'adding', '--seed', '3', '--seeds', '1,2'], /--seeds: expected either --seed or --seeds, got both/],
        [['experiment', 'adding', '--name', 'a/b'], /--name: expected a file name without a folder/],
        [['experiment', 'adding', '--threads', '0'], /--threads: expected an integer >= 1, got 0/],
        [['bench', '--bogus'], /unknown option '--bogus'/],
        [['info', '--json=yes'], /does not take a value/],
      ];
      for (const [args, msg] of cases) {
        const r = cli(...args);
        expect(r.code, args.join(' ')).to.equal(2);
        expect(r.err, args.join(' ')).to.match(msg);
        expect(r.err.trim().split('\n'), args.join(' ')).to.have.length(1);
        expect(r.out).to.equal('');
      }
    });

    it('runtime failures exit 1 with the cause', function () {
      const r = cli('train', '--text', path.join(tmp, 'missing.txt'));
      expect(r.code).to.equal(1);
      expect(r.err).to.match(/cannot read .*missing\.txt/);
      const s = cli('sample', '--model', path.join(tmp, 'nothing-here'));
      expect(s.code).to.equal(1);
      expect(s.err).to.match(/no trained model here/);
    });
  });

  describe('info', function () {
    it('prints the backend, ISA and threads; --json for scripts', function () {
      const r = cli('info');
      expect(r.code).to.equal(0);
      expect(r.out).to.match(/^backend: +(native|ts)$/m).and.match(/^isa: +\S+/m).and.match(/^threads: +\d+/m);
      const j = JSON.parse(cli('info', '--json').out);
      expect(j.backend).to.be.oneOf(['native', 'ts']);
      if (j.backend === 'native') expect(j.addon.file).to.match(/\.node$/);
    });

    it('--model FILE prints the summary of a model file or a Trainer checkpoint (--json too); clear errors for bad files', function () {
      const model = new Sequential([new LSTM({ inputSize: 3, hiddenSize: 8, batchFirst: true, seed: 1 }), new LayerNorm({ normalizedShape: 8 }),
        new LastStep({ batchFirst: true }), new Linear({ inFeatures: 8, outFeatures: 2, seed: 2 })]);
      const file = path.join(tmp, 'info-model.safetensors'), ck = path.join(tmp, 'info-ck.safetensors');
      model.save(file);
      new Trainer({ model, optimizer: new Adam(model), loss: 'crossEntropy' }).saveCheckpoint(ck);
      for (const [f, kind] of [[file, 'model file'], [ck, 'Trainer checkpoint']]) {
        const r = cli('info', '--model', f);
        expect(r.code, r.err).to.equal(0);
        expect(r.out).to.contain(`file: ${f} (${kind})`).and.contain('Sequential (batch-first, float32)');
        // 4·8·(3 + 8) + 2·4·8 = 416 (LSTM), 2·8 (LayerNorm), 8·2 + 2 (Linear): 450.
        expect(r.out).to.match(/^0 +LSTM\(inputSize=3, hiddenSize=8, .*\) +\[B, T, 8\] +416$/m)
          .and.match(/^1 +LayerNorm\(normalizedShape=8, .*\) +\[B, T, 8\] +16$/m)
          .and.match(/^2 +LastStep\(batchFirst=true\) +\[B, 8\] +0$/m)
          .and.match(/^3 +Linear\(inFeatures=8, outFeatures=2, bias=true\) +\[B, 2\] +18$/m)
          .and.match(/^parameters: 450$/m).and.match(/^dtype: float32, layout: batch-first$/m);
      }
      const j = JSON.parse(cli('info', '--model', ck, '--json').out);
      expect(j).to.include({ format: 'checkpoint', type: 'Sequential', dtype: 'float32', layout: 'batch-first', parameters: 450 });
      expect(j.layers.map((l) => [l.output, l.params])).to.deep.equal([['[B, T, 8]', 416], ['[B, T, 8]', 16], ['[B, 8]', 0], ['[B, 2]', 18]]);

      const missing = cli('info', '--model', path.join(tmp, 'no-such.safetensors'));
      expect(missing.code).to.equal(1);
      expect(missing.err).to.match(/^cellstate info: --model: file: ENOENT: no such file or directory/);
      const bad = path.join(tmp, 'bad.safetensors');
      fs.writeFileSync(bad, 'not a model');
      expect(cli('info', '--model', bad)).to.include({ code: 1 }).and.have.property('err').that.matches(/^cellstate info: load: .*bad\.safetensors: /);
      expect(cli('info', '--model', tmp).err).to.match(/is a folder without checkpoint\.safetensors/);
      expect(cli('info', '--model').code).to.equal(2);
    });
  });

  describe('train, resume, sample', function () {
    it('trains for N steps, writes a checkpoint and the vocabulary', function () {
      const out = path.join(tmp, 'm4');
      const r = cli('train', '--text', textFile, ...TINY, '--steps', '4', '--checkpoint-every', '2', '--out', out);
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.match(/training a character LSTM \(1 layer of 8, \d+ symbols/);
      expect(r.out).to.match(/trained 4 steps \(4 in this run, step limit reached\)/);
      expect(r.out).to.match(/validation \d+\.\d+ nats\/char/);
      const meta = JSON.parse(fs.readFileSync(path.join(out, 'charlm.json'), 'utf8'));
      expect(meta.vocab.join('')).to.equal([...new Set(fs.readFileSync(textFile, 'utf8'))].sort().join(''));
      expect(meta).to.include({ hidden: 8, embed: 4, seqLen: 8, batch: 4, layers: 1 });
      const ck = readCheckpoint(path.join(out, 'checkpoint.safetensors'));
      expect(ck.trainer.step).to.equal(4);
      expect(ck.optimizer.kind).to.equal('Adam');
      // info --model reads the folder through its checkpoint.
      const info = cli('info', '--model', out);
      expect(info.code, info.err).to.equal(0);
      expect(info.out).to.contain('(Trainer checkpoint)').and.match(/^0 +Embedding\(numEmbeddings=\d+, embeddingDim=4, paddingIdx=null\) +\[T, B, 4\]/m)
        .and.match(/^1 +LSTM\(inputSize=4, hiddenSize=8, .*\) +\[T, B, 8\] +448$/m).and.match(/^dtype: float32, layout: time-major$/m);
    });

    it('resuming gives the weights of the uninterrupted run, bit for bit', function () {
      const a = path.join(tmp, 'straight'), b = path.join(tmp, 'resumed');
      expect(cli('train', '--text', textFile, ...TINY, '--steps', '6', '--out', a).code).to.equal(0);
      expect(cli('train', '--text', textFile, ...TINY, '--steps', '3', '--out', b).code).to.equal(0);
      const r = cli('train', '--text', textFile, '--resume', '--steps', '6', '--out', b);
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.match(/resuming/).and.match(/trained 6 steps \(3 in this run/);
      const wa = readCheckpoint(path.join(a, 'checkpoint.safetensors')).weights;
      const wb = readCheckpoint(path.join(b, 'checkpoint.safetensors')).weights;
      expect(Object.keys(wb)).to.deep.equal(Object.keys(wa));
      for (const k of Object.keys(wa)) expect(Buffer.from(wb[k].data.buffer).equals(Buffer.from(wa[k].data.buffer)), k).to.equal(true);
    });

    it('--resume refuses contradicting sizes (2) and a folder without a model (1)', function () {
      const b = path.join(tmp, 'resumed');
      const r = cli('train', '--text', textFile, '--resume', '--hidden', '16', '--out', b);
      expect(r.code).to.equal(2);
      expect(r.err).to.match(/--hidden 16 differs from the saved model's 8/);
      const none = cli('train', '--text', textFile, '--resume', '--out', path.join(tmp, 'empty'));
      expect(none.code).to.equal(1);
      expect(none.err).to.match(/no model in .* to resume/);
    });

    it('--resume after a kill before the first checkpoint starts at step 0 with the saved settings (it failed with a raw ENOENT)', async function () {
      const killed = path.join(tmp, 'killed'), fresh = path.join(tmp, 'fresh');
      const child = spawn(process.execPath, [bin, 'train', '--text', textFile, ...TINY, '--seconds', '30', '--checkpoint-every', '100000', '--out', killed], { cwd: root, env, stdio: 'ignore' });
      // The settings are written before the first step; the first checkpoint would come at step 100000.
      await new Promise((res) => { const check = () => (fs.existsSync(path.join(killed, 'charlm.json')) ? setTimeout(res, 100) : setTimeout(check, 10)); check(); });
      child.kill('SIGKILL');
      await new Promise((res) => child.on('exit', res));
      expect(fs.existsSync(path.join(killed, 'checkpoint.safetensors'))).to.equal(false);
      const r = cli('train', '--text', textFile, '--resume', '--steps', '3', '--out', killed);
      expect(r.code, r.err).to.equal(0);
      expect(r.err).to.contain(`cellstate train: --resume: ${killed} has no checkpoint yet (the run that started it stopped before its first one): starting at step 0 with its saved settings`);
      expect(r.out).to.match(/training a character LSTM \(1 layer of 8,/).and.match(/trained 3 steps \(3 in this run/);
      // The same weights as a fresh run with those settings.
      expect(cli('train', '--text', textFile, ...TINY, '--steps', '3', '--out', fresh).code).to.equal(0);
      const wk = readCheckpoint(path.join(killed, 'checkpoint.safetensors')).weights;
      const wf = readCheckpoint(path.join(fresh, 'checkpoint.safetensors')).weights;
      for (const k of Object.keys(wf)) expect(Buffer.from(wk[k].data.buffer).equals(Buffer.from(wf[k].data.buffer)), k).to.equal(true);
    });

    it('Ctrl-C saves a final checkpoint and exits 130', async function () {
      const out = path.join(tmp, 'interrupted');
      const child = spawn(process.execPath, [bin, 'train', '--text', textFile, ...TINY, '--seconds', '30', '--out', out], { cwd: root, env });
      let stdout = '', stderr = '';
      child.stdout.on('data', (d) => { stdout += d; });
      child.stderr.on('data', (d) => { stderr += d; });
      await new Promise((res) => { const check = () => (stdout.includes('training a character LSTM') ? setTimeout(res, 400) : setTimeout(check, 20)); check(); });
      child.kill('SIGINT');
      const code = await new Promise((res) => child.on('exit', (c) => res(c)));
      expect(code, stderr).to.equal(130);
      expect(stderr).to.contain('interrupted: saving a checkpoint');
      expect(stdout).to.match(/in this run, interrupted\)/);
      const ck = readCheckpoint(path.join(out, 'checkpoint.safetensors'));
      expect(ck.trainer.step).to.be.above(0);
    });

    it('sample streams seeded text from the model, continuing the prime', function () {
      const m = path.join(tmp, 'm4');
      const vocab = JSON.parse(fs.readFileSync(path.join(m, 'charlm.json'), 'utf8')).vocab;
      const r = cli('sample', '--model', m, '--prime', 'Amber ', '--length', '60', '--seed', '3');
      expect(r.code, r.err).to.equal(0);
      expect(r.out.startsWith('Amber ')).to.equal(true);
      const gen = Array.from(r.out.slice(6, -1));
      expect(gen).to.have.length(60);
      for (const ch of gen) expect(vocab).to.include(ch);
      expect(cli('sample', '--model', m, '--prime', 'Amber ', '--length', '60', '--seed', '3').out).to.equal(r.out);
      expect(cli('sample', '--model', m, '--prime', 'Amber ', '--length', '60', '--seed', '4').out).to.not.equal(r.out);
      const unseeded = cli('sample', '--model', m, '--length', '5');
      expect(unseeded.err).to.match(/^seed \d+$/m);
      const bad = cli('sample', '--model', m, '--prime', 'Zebra');
      expect(bad.code).to.equal(2);
      expect(bad.err).to.match(/--prime: characters not in the model's vocabulary: "Z"$/m);
    });
  });

  describe('demo', function () {
    it('trains on a slice of the bundled corpus within the budget, then prints samples and the model folder', function () {
      const out = path.join(tmp, 'demo');
      const t0 = Date.now();
      const r = cli('demo', '--seconds', '1', '--corpus-chars', '20000', '--hidden', '16', '--embed', '8', '--seq-len', '16', '--batch', '8', '--length', '40', '--out', out);
      expect(r.code, r.err).to.equal(0);
      expect(Date.now() - t0).to.be.below(20000);
      expect(r.out).to.match(/on 20,000 characters of Brown Corpus, adventure fiction/);
      expect(r.out).to.match(/time budget used/);
      expect(r.out).to.match(/--- sample, temperature 0\.5 \(seed 1\) ---\nThe /).and.match(/--- sample, temperature 1\.0 \(seed 1\) ---\nThe /);
      expect(r.out).to.match(/training a character LSTM \(1 layer of 16,/); // flags override the demo's defaults
      expect(r.out).to.contain(`model written to ${out}/`);
      expect(fs.existsSync(path.join(out, 'checkpoint.safetensors'))).to.equal(true);
    });
  });

  describe('experiment', function () {
    it('adding: trains both models, prints both curves, writes a valid SVG plot and JSON results', function () {
      const out = path.join(tmp, 'exp');
      const r = cli('experiment', 'adding', '--steps', '12', '--max-iters', '20', '--eval-every', '10', '--eval-size', '32', '--hidden', '8', '--budget-seconds', '30', '--out', out);
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.match(/adding problem, T = 12: LSTM \(hidden 8\) vs tanh RNN \(hidden \d+\)/);
      expect(r.out).to.match(/^LSTM \([\d,]+ parameters\): step limit after 20 steps/m).and.match(/^tanh RNN \([\d,]+ parameters\): /m);
      expect(r.out).to.match(/learning curves \(held-out MSE\):\n +step +LSTM +tanh RNN\n +0 +\d/);
      const svg = fs.readFileSync(path.join(out, 'adding-T12.svg'), 'utf8');
      expect(XMLValidator.validate(svg)).to.equal(true);
      expect(svg.match(/<polyline /g)).to.have.length(2);
      expect(svg).to.contain('LSTM (hidden 8)').and.contain('held-out MSE (log scale)').and.contain('training step');
      const j = JSON.parse(fs.readFileSync(path.join(out, 'adding-T12.json'), 'utf8'));
      expect(j.results.map((x) => x.kind)).to.deep.equal(['lstm', 'rnn']);
      expect(j.results[0].curve.map((p) => p.step)).to.deep.equal([0, 10, 20]);
      expect(j.baseline).to.be.closeTo(1 / 6, 1e-12);
    });

    it('copy: one model on request, the curve in cross-entropy', function () {
      const out = path.join(tmp, 'exp');
      const r = cli('experiment', 'copy', '--steps', '5', '--models', 'lstm', '--max-iters', '10', '--eval-every', '5', '--eval-size', '16', '--hidden', '8', '--out', out);
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.match(/copy task, gap 5 \(T = 25\): LSTM \(hidden 8\);/);
      expect(r.out).to.contain('held-out cross-entropy (nats)');
      expect(XMLValidator.validate(fs.readFileSync(path.join(out, 'copy-T5.svg'), 'utf8'))).to.equal(true);
    });
    it('--models: every kind trains, sized to the LSTM\'s parameter count (counted from the built model), one legend row per model', function () {
      const out = path.join(tmp, 'exp-kinds');
      const kinds = ['lstm', 'peephole', 'cifg', 'lnlstm', 'gru', 'rnn'];
      const r = cli('experiment', 'adding', '--steps', '10', '--models', kinds.join(','), '--hidden', '16', '--max-iters', '4', '--eval-every', '2', '--eval-size', '16', '--out', out);
      expect(r.code, r.err).to.equal(0);
      const j = JSON.parse(fs.readFileSync(path.join(out, 'adding-T10.json'), 'utf8'));
      expect(j.results.map((x) => x.kind)).to.deep.equal(kinds);
      const by = Object.fromEntries(j.results.map((x) => [x.kind, x]));
      // The plain LSTM by PyTorch's count: 4H(I + H + 2) weights and biases, plus the Linear(H, 1) head.
      expect(by.lstm.parameters).to.equal(4 * 16 * (2 + 16 + 2) + 17);
      for (const k of kinds) {
        expect(Math.abs(by[k].parameters - by.lstm.parameters) / by.lstm.parameters, k).to.be.below(0.05);
        expect(by[k].curve.map((p) => p.step), k).to.deep.equal([0, 2, 4]);
        expect(by[k].curve.every((p) => Number.isFinite(p.loss) && p.T === 10), k).to.equal(true);
      }
      // Hidden sizes the other way round from their gate counts: GRU (3 gates) and RNN (1) larger.
      expect(by.gru.hidden).to.be.above(16);
      expect(by.rnn.hidden).to.be.above(by.gru.hidden);
      // The tanh RNN by PyTorch's count, h(I + h + 2) + (h + 1): its size is the closest to the LSTM's count.
      const rnnCount = (h) => h * (2 + h + 2) + h + 1;
      expect(by.rnn.parameters).to.equal(rnnCount(by.rnn.hidden));
      for (const h of [by.rnn.hidden - 1, by.rnn.hidden + 1]) expect(Math.abs(rnnCount(h) - by.lstm.parameters)).to.be.above(Math.abs(by.rnn.parameters - by.lstm.parameters));
      expect(by.peephole.options).to.deep.equal({ peephole: true });
      expect(by.cifg.options).to.deep.equal({ inputForget: true });
      expect(by.rnn.options).to.deep.equal({ nonlinearity: 'tanh' });
      const svg = fs.readFileSync(path.join(out, 'adding-T10.svg'), 'utf8');
      expect(XMLValidator.validate(svg)).to.equal(true);
      expect(svg.match(/<polyline /g)).to.have.length(6);
      const legend = svg.slice(svg.indexOf('<g class="legend">'));
      expect(legend.match(/<text /g)).to.have.length(6 + 2); // the models, the baseline, the threshold
      expect(new Set([...svg.matchAll(/<polyline [^>]*stroke="([^"]+)"/g)].map((m) => m[1])).size).to.equal(6);
    });

    it('--seeds: every model for every seed, a summary whose medians the runs give, --name for the files', async function () {
      const out = path.join(tmp, 'exp-seeds');
      const r = cli('experiment', 'adding', '--steps', '8', '--models', 'lstm,gru', '--seeds', '1,2', '--hidden', '8', '--lr', '0.01', '--batch', '32',
        '--max-iters', '200', '--eval-every', '20', '--eval-size', '32', '--out', out, '--name', 'seeds-run');
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.match(/seeds 1, 2, budget 300 s per run/).and.match(/^LSTM, seed 2 \(/m).and.match(/summary over 2 seeds/);
      const j = JSON.parse(fs.readFileSync(path.join(out, 'seeds-run.json'), 'utf8'));
      expect(fs.existsSync(path.join(out, 'seeds-run.svg'))).to.equal(true);
      expect(j.seeds).to.deep.equal([1, 2]);
      expect(j.results.map((x) => `${x.kind}${x.seed}`)).to.deep.equal(['lstm1', 'gru1', 'lstm2', 'gru2']);
      // Another seed, other weights and data.
      expect(j.results[0].curve[0].loss).to.not.equal(j.results[2].curve[0].loss);
      expect(j.summary.map((s) => s.kind)).to.deep.equal(['lstm', 'gru']);
      for (const s of j.summary) {
        const runs = j.results.filter((x) => x.kind === s.kind);
        expect(s.runs).to.equal(2);
        expect(s.solved).to.equal(runs.filter((x) => x.solvedAtStep !== null).length);
        const [a, b] = runs.map((x) => x.solvedAtStep);
        // Two runs: the median is their mean, and not solved if either is not.
        expect(s.medianSteps).to.equal(a === null || b === null ? null : (a + b) / 2);
        expect(s.worstSteps).to.equal(a === null || b === null ? null : Math.max(a, b));
        expect(s.medianBestLoss).to.be.closeTo((runs[0].bestLoss + runs[1].bestLoss) / 2, 1e-12);
      }
      const svg = fs.readFileSync(path.join(out, 'seeds-run.svg'), 'utf8');
      expect(svg.match(/<polyline /g)).to.have.length(4);
      expect(svg.slice(svg.indexOf('<g class="legend">')).match(/<text /g)).to.have.length(2 + 2);
      expect(svg).to.contain('seeds 1, 2');
    });

    it('matchedHidden: the size a search over every size finds (closest count to the LSTM\'s, the smaller on a tie)', async function () {
      const { matchedHidden, parameterCount } = await import('../dist-apps/experiments/compare.js');
      const { addingTask, copyTask } = await import('../dist-apps/experiments/tasks.js');
      for (const task of [addingTask(10), copyTask(5)]) {
        for (const H of [3, 16, 64]) {
          const target = parameterCount(task, 'lstm', H);
          for (const kind of ['peephole', 'cifg', 'lnlstm', 'gru', 'rnn']) {
            let best = 1;
            for (let h = 2; h <= 3 * H; h++) if (Math.abs(parameterCount(task, kind, h) - target) < Math.abs(parameterCount(task, kind, best) - target)) best = h;
            expect(matchedHidden(task, kind, H), `${task.name} ${kind} ${H}`).to.equal(best);
          }
        }
      }
    });

    it('summarize: solved n/N, medians and worst with an unsolved run counting as the worst', async function () {
      const { summarize } = await import('../dist-apps/experiments/compare.js');
      const run = (kind, step, secs, best) => ({ kind, solvedAtStep: step, solvedAtSeconds: secs, bestLoss: best, reachedT: 100 });
      const [a, b, c] = summarize([run('lstm', 300, 30, 0.009), run('gru', 100, 5, 0.008), run('lstm', 100, 10, 0.009), run('lstm', null, null, 0.17),
        run('gru', 500, 25, 0.009), run('gru', 200, 20, 0.007), run('rnn', null, null, 0.16), run('gru', 400, 40, 0.006)]);
      expect(a).to.deep.equal({ kind: 'lstm', runs: 3, solved: 2, medianSteps: 300, worstSteps: null, medianSeconds: 30, worstSeconds: null,
        medianBestLoss: 0.009, worstBestLoss: 0.17, worstReachedT: 100 });
      expect(b).to.deep.include({ kind: 'gru', runs: 4, solved: 4, medianSteps: 300, worstSteps: 500, medianSeconds: 22.5, worstSeconds: 40, worstBestLoss: null });
      expect(b.medianBestLoss).to.be.closeTo(0.0075, 1e-15);
      expect(c).to.deep.include({ kind: 'rnn', solved: 0, medianSteps: null, worstSteps: null, worstBestLoss: 0.16 });
    });

    it('--curriculum: stages START, 2 START, ... T, each curve point at its length, solved means solved at T', function () {
      const out = path.join(tmp, 'exp-curr');
      const r = cli('experiment', 'adding', '--steps', '8', '--curriculum', '2', '--models', 'gru', '--hidden', '8', '--lr', '0.01', '--batch', '32',
        '--max-iters', '1500', '--eval-every', '20', '--eval-size', '64', '--out', out);
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.contain('curriculum: lengths 2, 4, 8,');
      const j = JSON.parse(fs.readFileSync(path.join(out, 'adding-T8.json'), 'utf8'));
      expect(j.curriculum).to.deep.equal([2, 4, 8]);
      const [g] = j.results;
      expect(g.stages.map((s) => s.T)).to.deep.equal([2, 4, 8]);
      const lengths = g.curve.map((p) => p.T);
      expect(lengths[0]).to.equal(2);
      expect(lengths.every((L, i) => i === 0 || L >= lengths[i - 1])).to.equal(true);
      expect(new Set(lengths)).to.deep.equal(new Set([2, 4, 8])); // this small GRU gets through every stage within 1500 steps
      expect(g.reachedT).to.equal(8);
      // Each stage ends at the evaluation where its loss went below the threshold; steps count over all stages.
      for (const s of g.stages) {
        const at = g.curve.find((p) => p.step === s.solvedAtStep && p.T === s.T);
        expect(at.loss, `T ${s.T}`).to.be.below(0.01);
      }
      expect(g.stages[0].solvedAtStep).to.be.below(g.stages[1].solvedAtStep);
      expect(g.solvedAtStep).to.equal(g.stages[2].solvedAtStep);
      expect(g.steps).to.equal(g.solvedAtStep);
      expect(g.end).to.equal('solved');
    });

    it('--forget-bias / --chrono-init reach the LSTM kinds that take them and are reported for the others', async function () {
      const out = path.join(tmp, 'exp-init');
      const r = cli('experiment', 'adding', '--steps', '10', '--models', 'lstm,peephole,cifg,lnlstm,gru', '--hidden', '6', '--chrono-init', '40',
        '--max-iters', '2', '--eval-every', '2', '--eval-size', '16', '--out', out);
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.match(/^init: chrono init \(Tmax 40\) on LSTM, peephole LSTM, LN-LSTM; not on CIFG LSTM \([^)]*\); not on GRU/m);
      const j = JSON.parse(fs.readFileSync(path.join(out, 'adding-T10.json'), 'utf8'));
      expect(j.init.appliedTo).to.deep.equal(['lstm', 'peephole', 'lnlstm']);
      expect(Object.keys(j.init.notApplied)).to.deep.equal(['cifg', 'gru']);
      expect(j.results.map((x) => x.options)).to.deep.equal([{ chronoInit: 40 }, { peephole: true, chronoInit: 40 }, { inputForget: true }, { chronoInit: 40 }, {}]);
      // The model those options build: chrono b_f = log u, u ~ U(1, Tmax - 1), in bias_ih, b_i = -b_f, bias_hh's rows 0.
      const { buildModel } = await import('../dist-apps/experiments/compare.js');
      const { addingTask } = await import('../dist-apps/experiments/tasks.js');
      const H = 64;
      for (const kind of ['lstm', 'peephole', 'lnlstm']) {
        const sd = buildModel(addingTask(10), kind, H, 3, { chronoInit: 40 }).layers[0].stateDict();
        const bIh = sd.bias_ih_l0.data, bHh = sd.bias_hh_l0.data;
        const bf = Array.from(bIh.subarray(H, 2 * H));
        expect(bf.every((b) => b >= 0 && b <= Math.log(39) + 1e-6), kind).to.equal(true);
        expect(Math.max(...bf) - Math.min(...bf), kind).to.be.above(1); // spread, not a constant
        for (let u = 0; u < H; u++) expect(bIh[u], kind).to.be.closeTo(-bIh[H + u], 1e-6);
        expect(Array.from(bHh.subarray(0, 2 * H)).every((b) => b === 0), kind).to.equal(true);
        const fb = buildModel(addingTask(10), kind, H, 3, { forgetBias: 1.5 }).layers[0].stateDict();
        expect(Array.from(fb.bias_ih_l0.data.subarray(H, 2 * H)).every((b) => b === 1.5), kind).to.equal(true);
        expect(Array.from(fb.bias_hh_l0.data.subarray(H, 2 * H)).every((b) => b === 0), kind).to.equal(true);
      }
      // The kinds that do not take it get none (and building them with it does not throw).
      const gru = buildModel(addingTask(10), 'gru', 8, 3, { forgetBias: 1.5 }).layers[0].stateDict();
      expect(Array.from(gru.bias_ih_l0.data).includes(1.5)).to.equal(false);
    });

    it('--threads sets the backend\'s threads and the JSON records them', function () {
      const out = path.join(tmp, 'exp-threads');
      const r = cli('experiment', 'adding', '--steps', '6', '--models', 'lstm', '--hidden', '4', '--threads', '1', '--max-iters', '2', '--eval-every', '2', '--eval-size', '16', '--out', out);
      const info = JSON.parse(cli('info', '--json').out);
      if (info.backend === 'ts') {
        expect(r.code).to.equal(2);
        expect(r.err).to.match(/--threads: expected the native or wasm backend/);
        return;
      }
      expect(r.code, r.err).to.equal(0);
      const j = JSON.parse(fs.readFileSync(path.join(out, 'adding-T6.json'), 'utf8'));
      expect(j.threads).to.equal(1);
      expect(j.backend.threads).to.equal(1);
      expect(j.isa).to.equal(j.backend.isa);
    });
  });

  describe('bench', function () {
    it('runs the benchmark script with the flags passed through', function () {
      const r = cli('bench', '--quick', '--only', 'S1');
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.match(/^S1 \(infer\)/m).and.match(/bench: \d+ passed, 0 failed/);
    });
  });
});
