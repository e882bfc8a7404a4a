// cellstate inspect --model DIR --text "...": what a trained character model's LSTM units do along
// a text. One Sequential.inspect (lib/nn/recurrent.ts inspect) records every step's gates and
// states; this command draws one quantity of one layer as a heat map (apps/plot/heatmap.ts: time
// along the text, one row per unit) and lists, per simple text feature (apps/text/features.ts),
// the units whose activity correlates best with it (Pearson r), as Karpathy, Johnson & Fei-Fei
// (2015) did.

import * as fs from 'node:fs';
import { Tensor } from 'cellstate';
import { loadCharLM } from '../charlm/model';
import { writeFileAtomic } from '../internals';
import { heatmap } from '../plot/heatmap';
import { textFeatures, topUnits, unitCorrelations } from '../text/features';
import { EXIT, get, UsageError, type CommandSpec, type FlagValues } from './args';
import type { Io } from './io';

const QUANTITIES = ['i', 'f', 'g', 'o', 'c', 'h'] as const;
const MAX_CHARS = 20000;

export const spec: CommandSpec = {
  name: 'inspect',
  usage: 'inspect --model DIR (--text TEXT | --file FILE) [--quantity c --layer 0 --units 16 --top 5 --columns 80 --out inspect.svg]',
  summary: 'Draw what a trained character model\'s LSTM units do along a text (SVG heat map) and list the units that follow simple text features.',
  flags: {
    model: { type: 'string', desc: 'the model folder of `cellstate train` or `demo` (required)', placeholder: 'DIR' },
    text: { type: 'string', desc: 'the text to run the model on', placeholder: 'TEXT' },
    file: { type: 'string', desc: 'read the text from this UTF-8 file instead', placeholder: 'FILE' },
    quantity: { type: 'string', desc: 'what to draw: a gate (i, f, g, o), the cell state c or the hidden state h', placeholder: 'NAME', default: 'c' },
    layer: { type: 'int', min: 0, desc: 'the LSTM layer, from 0', placeholder: 'K', default: '0' },
    units: { type: 'int', min: 1, desc: 'rows of the heat map: the units with the largest |r| with any feature', placeholder: 'N', default: '16' },
    top: { type: 'int', min: 1, desc: 'units listed per feature', placeholder: 'N', default: '5' },
    columns: { type: 'int', min: 10, desc: 'characters per line of the heat map', placeholder: 'N', default: '80' },
    out: { type: 'string', desc: 'the SVG file to write', placeholder: 'FILE', default: 'inspect.svg' },
  },
  details: `The features (per character, from what the model has read so far): in quotes, position in line,
in a word, space, position in word. Colours: gates i, f, o on [0, 1] (white to dark blue); g, h on
[-1, 1] and c on [-m, m], m its largest |value| shown (blue, white, red). At most ${MAX_CHARS} characters.`,
};

export async function run(values: FlagValues, _pos: string[], io: Io): Promise<number> {
  const where = 'cellstate inspect';
  const dir = values.model as string | undefined;
  if (!dir) throw new UsageError(`${where}: --model DIR is required (see cellstate inspect --help)`);
  const textArg = values.text as string | undefined, file = values.file as string | undefined;
  if ((textArg === undefined) === (file === undefined)) throw new UsageError(`${where}: expected exactly one of --text TEXT and --file FILE`);
  const quantity: string = get(values, 'quantity', 'c');
  if (!(QUANTITIES as readonly string[]).includes(quantity)) throw new UsageError(`${where}: --quantity: expected one of ${QUANTITIES.join(', ')}, got '${quantity}'`);
  const text = textArg ?? fs.readFileSync(file!, 'utf8');
  const chars = Array.from(text);
  if (chars.length < 2) throw new UsageError(`${where}: the text: expected at least 2 characters, got ${chars.length}`);
  if (chars.length > MAX_CHARS) throw new UsageError(`${where}: the text: expected at most ${MAX_CHARS} characters, got ${chars.length}`);

  const { model } = loadCharLM(dir);
  const unknown = model.unknownChars(text);
  if (unknown.length) throw new UsageError(`${where}: the text has characters not in the model's vocabulary: ${unknown.map((c) => JSON.stringify(c)).join(' ')}`);
  const L = model.lstm.numLayers, H = model.lstm.hiddenSize;
  const layer = get(values, 'layer', 0);
  if (layer >= L) throw new UsageError(`${where}: --layer: expected an integer in [0, ${L - 1}] (the model has ${L} LSTM layer${L > 1 ? 's' : ''}), got ${layer}`);

  const n = chars.length;
  const ids = model.encode(text);
  const rec = model.net.inspect(new Tensor(Float32Array.from(ids), [n, 1]));
  const lstmIndex = model.net.layers.indexOf(model.lstm);
  const data = rec.layers[lstmIndex]![layer].values[quantity].data; // [n, 1, H]

  const features = textFeatures(chars);
  const r = unitCorrelations(data, n, H, features);
  const top = get(values, 'top', 5);
  const lines = [`${quantity} of LSTM layer ${layer} (${H} units) over ${n} characters: the units that follow each text feature best (Pearson r)`];
  const w = Math.max(...features.map((f) => f.name.length)) + 2;
  features.forEach((f, k) => {
    const best = topUnits(r[k], top);
    lines.push(`  ${f.name.padEnd(w)}${best.length ? best.map((e) => `unit ${e.unit} ${e.r >= 0 ? '+' : ''}${e.r.toFixed(2)}`).join(', ') : '(constant over this text: no r)'}`);
  });
  io.out(lines.join('\n') + '\n');

  // Rows: the units with the largest |r| with any feature, in unit order.
  const score = Array.from({ length: H }, (_, u) => Math.max(0, ...r.map((rf) => (Number.isFinite(rf[u]) ? Math.abs(rf[u]) : 0))));
  const U = Math.min(get(values, 'units', 16), H);
  const units = Array.from({ length: H }, (_, u) => u).sort((a, b) => score[b] - score[a] || a - b).slice(0, U).sort((a, b) => a - b);
  const rows = units.map((u) => {
    const v = new Float64Array(n);
    for (let t = 0; t < n; t++) v[t] = data[t * H + u];
    return { label: `unit ${u}`, values: v };
  });
  // c is unbounded: its scale ends at the largest |c| shown (2 significant digits); the rest at 1.
  let max = 1;
  if (quantity === 'c') for (const row of rows) for (const v of row.values) max = Math.max(max, Math.abs(v));
  max = Number(max.toPrecision(2)) < max ? Number((max * 1.05).toPrecision(2)) : Number(max.toPrecision(2));
  const svg = heatmap({
    text: chars, rows, max, range: quantity === 'i' || quantity === 'f' || quantity === 'o' ? 'unit' : 'signed', columns: get(values, 'columns', 80),
    title: `${quantity} of LSTM layer ${layer}: ${U} of ${H} units (largest |r| with a text feature), ${n} characters`,
  });
  const out = get(values, 'out', 'inspect.svg');
  writeFileAtomic(out, [Buffer.from(svg, 'utf8')]);
  io.err(`wrote ${out} (${U} units x ${n} characters)\n`);
  return EXIT.ok;
}
