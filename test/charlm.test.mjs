// The character model's pieces: turning the tagged corpus into text, the temperature draw, and
// generation through LSTM.step() agreeing with a whole-sequence forward.
import { expect } from 'chai';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { detag, loadBrownAdventure } = require('../dist-apps/text/brown.js');
const { CharLM, vocabularyOf } = require('../dist-apps/charlm/model.js');
const { drawIndex, generate } = require('../dist-apps/charlm/sample.js');
const { Rng, tensor } = require('../dist/index.js');

describe('charlm', function () {
  it('detag: drops tags, attaches punctuation, turns `` and \'\' into quotes, one paragraph per line', function () {
    // a made-up sentence in the corpus' format
    const tagged = "\n\n\tThe/at robot/nn said/vbd ,/, ``/`` Hello/uh ;/. ;/. fine/jj ''/'' ./.\nIt's/pps+bez (/( done/vbn )/) !/.\n\n\n\tNext/ap ./.\n";
    expect(detag(tagged)).to.equal('The robot said, "Hello; fine". It\'s (done)!\nNext.');
  });

  it('the default corpus loads as plain text (a slice on request)', function () {
    const t = loadBrownAdventure(5000);
    expect(t).to.have.length(5000);
    expect(t).to.not.match(/\/[a-z]+\b .*\/[a-z]+\b/); // no word/tag pairs left
    expect(vocabularyOf(t).length).to.be.within(30, 100);
  });

  it('drawIndex: argmax at temperature 0, frequencies follow softmax(logits / T)', function () {
    const rng = new Rng(5);
    expect(drawIndex([0.1, 2, -1], 0, rng)).to.equal(1);
    const logits = [0, Math.log(3)]; // softmax: 1/4, 3/4
    const n = 20000;
    let ones = 0;
    for (let i = 0; i < n; i++) ones += drawIndex(logits, 1, rng);
    expect(ones / n).to.be.closeTo(0.75, 0.015);
    let sharp = 0;
    for (let i = 0; i < n; i++) sharp += drawIndex(logits, 0.5, rng); // softmax(2·logits): 1/10, 9/10
    expect(sharp / n).to.be.closeTo(0.9, 0.01);
  });

  it('generation through step() matches a whole-sequence forward (greedy: each char is the argmax there)', function () {
    const vocab = vocabularyOf('abcdefgh \n');
    const model = new CharLM(vocab, { embed: 5, hidden: 12, layers: 2 }, 3);
    const prime = 'abc';
    const gen = [...generate(model, { prime, length: 20, temperature: 0, seed: 1 })].join('');
    expect(gen).to.have.length(20);
    const ids = model.encode(prime + gen);
    const T = ids.length - 1;
    const logits = model.net.forward(tensor(Float32Array.from(ids.subarray(0, T)), [T, 1])).output; // [T, 1, V]
    const V = vocab.length;
    for (let t = prime.length - 1; t < T; t++) {
      const row = logits.data.subarray(t * V, (t + 1) * V);
      expect(vocab[drawIndex(row, 0, null)], `position ${t}`).to.equal(prime.concat(gen)[t + 1]);
    }
    const again = [...generate(model, { prime, length: 20, temperature: 1, seed: 9 })].join('');
    expect([...generate(model, { prime, length: 20, temperature: 1, seed: 9 })].join('')).to.equal(again);
  });
});
