// cellstate inspect (apps/cli/inspect.ts): on a tiny character model trained here for a few
// steps, the heat map is well-formed SVG with one cell per (unit, character), one label per
// character and per unit row of each block; the correlation list names every feature with r in
// [-1, 1], and the units it ranks first are those whose r, recomputed here from the library's
// inspect() on the same model, is largest. Usage mistakes exit 2 naming the flag.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { XMLParser, XMLValidator } from 'fast-xml-parser';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'cellstate.js');
const env = { ...process.env, CELLSTATE_QUIET: '1' };
const cli = (...args) => {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, env, encoding: 'utf8', timeout: 60000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('cellstate inspect', function () {
  this.timeout(120000);
  let tmp, model;
  const corpus = 'She said "the lamp is lit" and went north.\nHe said "no" twice.\nThe river was quiet. '.repeat(30);
  const text = 'She said "the lamp" and went.\nHe said "no".'; // 43 characters, every one in the vocabulary

  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-inspect-'));
    fs.writeFileSync(path.join(tmp, 'text.txt'), corpus);
    model = path.join(tmp, 'm');
    const r = cli('train', '--text', path.join(tmp, 'text.txt'), '--hidden', '12', '--embed', '4', '--seq-len', '16', '--batch', '4', '--steps', '20', '--out', model);
    expect(r.code, r.err).to.equal(0);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('writes a heat map with one cell per unit and character, labels per block, and lists the units per feature', async function () {
    const out = path.join(tmp, 'c.svg');
    const r = cli('inspect', '--model', model, '--text', text, '--units', '5', '--columns', '20', '--top', '3', '--out', out);
    expect(r.code, r.err).to.equal(0);
    const n = Array.from(text).length, blocks = Math.ceil(n / 20);
    const svg = fs.readFileSync(out, 'utf8');
    expect(XMLValidator.validate(svg)).to.equal(true);
    const doc = new XMLParser({ ignoreAttributes: false, isArray: (_n, _p, _leaf, isAttr) => !isAttr }).parse(svg);
    const g = doc.svg[0].g;
    const byClass = (c) => g.filter((e) => e['@_class'] === c);
    expect(byClass('block')).to.have.length(blocks);
    expect(byClass('block').reduce((s, b) => s + b.rect.length, 0)).to.equal(5 * n);
    expect(byClass('chars').reduce((s, b) => s + b.text.length, 0)).to.equal(n);
    expect(byClass('units').reduce((s, b) => s + b.text.length, 0)).to.equal(5 * blocks);
    expect(byClass('chars')[0].text.map((t) => t['#text']).join('')).to.equal('She\u2423said\u2423"the\u2423lamp"\u2423'.slice(0, 20));
    expect(r.err).to.contain(`wrote ${out} (5 units x ${n} characters)`);

    // The list: every feature, 3 units each, r in [-1, 1]; the first equals the library's best.
    const lines = r.out.trim().split('\n');
    expect(lines[0]).to.match(/^c of LSTM layer 0 \(12 units\) over 43 characters/);
    const names = ['in quotes', 'position in line', 'in a word', 'space', 'position in word'];
    const { Tensor } = await import('cellstate');
    const { loadCharLM } = await import('../dist-apps/charlm/model.js');
    const { model: lm } = loadCharLM(model);
    const chars = Array.from(text);
    const rec = lm.net.inspect(new Tensor(Float32Array.from(lm.encode(text)), [n, 1])).layers[1][0].values.c.data;
    const { textFeatures } = await import('../dist-apps/text/features.js');
    const feats = textFeatures(chars);
    names.forEach((name, k) => {
      const line = lines.find((l) => l.trimStart().startsWith(name));
      expect(line, name).to.be.a('string');
      const listed = [...line.matchAll(/unit (\d+) ([+-]\d\.\d\d)/g)].map((m) => ({ unit: Number(m[1]), r: Number(m[2]) }));
      expect(listed).to.have.length(3);
      for (const e of listed) expect(Math.abs(e.r)).to.be.at.most(1);
      // Pearson r written out here, for every unit; the listed first has the largest |r|.
      const f = feats[k].values;
      const rs = Array.from({ length: 12 }, (_, u) => {
        const a = chars.map((_, t) => rec[t * 12 + u]);
        const ma = a.reduce((s, v) => s + v, 0) / n, mb = f.reduce((s, v) => s + v, 0) / n;
        let c = 0, va = 0, vb = 0;
        for (let t = 0; t < n; t++) { c += (a[t] - ma) * (f[t] - mb); va += (a[t] - ma) ** 2; vb += (f[t] - mb) ** 2; }
        return c / Math.sqrt(va * vb);
      });
      const best = rs.reduce((b, v, u) => (Math.abs(v) > Math.abs(rs[b]) ? u : b), 0);
      expect(listed[0].unit, name).to.equal(best);
      expect(listed[0].r).to.be.closeTo(rs[best], 0.005 + 1e-9);
    });
    expect(feats[0].values.slice(8, 19)).to.deep.equal(Float64Array.from([0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0])); // "the lamp" in quotes
  });

  it('draws a gate on [0, 1] and another layer is refused by its range', function () {
    const out = path.join(tmp, 'f.svg');
    const r = cli('inspect', '--model', model, '--text', text, '--quantity', 'f', '--out', out);
    expect(r.code, r.err).to.equal(0);
    expect(fs.readFileSync(out, 'utf8')).to.contain('<title>f of LSTM layer 0: 12 of 12 units');
    const bad = cli('inspect', '--model', model, '--text', text, '--layer', '1');
    expect(bad.code).to.equal(2);
    expect(bad.err).to.match(/--layer: expected an integer in \[0, 0\] \(the model has 1 LSTM layer\), got 1/);
  });

  it('usage errors name the flag', function () {
    const cases = [
      [['inspect', '--text', 'ab'], /--model DIR is required/],
      [['inspect', '--model', model], /expected exactly one of --text TEXT and --file FILE/],
      [['inspect', '--model', model, '--text', text, '--quantity', 'q'], /--quantity: expected one of i, f, g, o, c, h, got 'q'/],
      [['inspect', '--model', model, '--text', 'xyz\u00e9'], /characters not in the model's vocabulary: .*"\u00e9"/],
      [['inspect', '--model', model, '--text', text, '--units', '0'], /--units: expected an integer >= 1, got 0/],
    ];
    for (const [args, re] of cases) {
      const r = cli(...args);
      expect(r.code, args.join(' ')).to.equal(2);
      expect(r.err).to.match(re);
    }
  });
});
