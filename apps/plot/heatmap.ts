// A heat map of per-character activity as standalone SVG: time runs along the text (one column
// per character, the character printed under its column), one row per unit, each cell coloured by
// the unit's value at that character. Long texts wrap into blocks of `columns` characters, stacked
// top to bottom, each block with its own character line and unit labels, like lines of text.
//
// Colours: a diverging scale (blue - white - red) over [-max, max] for signed quantities (h, c,
// the LSTM's g, the GRU's n), a sequential one (white - dark blue) over [0, max] for gates
// (max = 1 unless given: c can exceed 1); values beyond it take the end colour; a scale bar.
//
// Deliberately not here: interactivity, fonts to embed, several quantities in one picture.

import { escapeXml, formatTick } from './svg';

export interface HeatmapOptions {
  text: string[]; // one entry per column (a character)
  rows: { label: string; values: ArrayLike<number> }[]; // one per unit, values[t] for column t
  range: 'signed' | 'unit'; // [-max, max] diverging or [0, max] sequential
  max?: number; // the scale's end (default 1), e.g. the largest |c| shown
  title?: string;
  columns?: number; // characters per block (default 80)
  cell?: number; // cell size in px (default 12)
}

const LABEL_W = 70, TOP = 40, CHAR_H = 16, GAP = 14, BAR_H = 40;

function mix(a: readonly number[], b: readonly number[], t: number): string {
  const v = a.map((x, i) => Math.round(x + (b[i] - x) * t));
  return `rgb(${v[0]},${v[1]},${v[2]})`;
}

const WHITE = [255, 255, 255], RED = [178, 24, 43], BLUE = [33, 102, 172], DARK = [8, 48, 107];

/** The colour of value v on the scale (clamped to its ends; NaN grey). */
export function heatColor(v: number, range: 'signed' | 'unit'): string {
  if (!Number.isFinite(v)) return 'rgb(128,128,128)';
  if (range === 'unit') return mix(WHITE, DARK, Math.min(1, Math.max(0, v)));
  const t = Math.min(1, Math.max(-1, v));
  return t >= 0 ? mix(WHITE, RED, t) : mix(WHITE, BLUE, -t);
}

/** How a character is shown under its column: visible stand-ins for blanks. */
export function showChar(ch: string): string {
  if (ch === ' ') return '\u2423'; // ␣
  if (ch === '\n') return '\u21b5'; // ↵
  if (ch === '\t') return '\u21e5'; // ⇥
  return ch;
}

export function heatmap(o: HeatmapOptions): string {
  const n = o.text.length, U = o.rows.length;
  if (n === 0 || U === 0) throw new RangeError('heatmap: expected at least one character and one row');
  const cols = o.columns ?? 80, cs = o.cell ?? 12, max = o.max ?? 1;
  const blocks = Math.ceil(n / cols);
  const blockH = U * cs + CHAR_H + GAP;
  const W = LABEL_W + Math.min(n, cols) * cs + 20;
  const Ht = TOP + blocks * blockH + BAR_H;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${Ht}" viewBox="0 0 ${W} ${Ht}" font-family="Helvetica, Arial, sans-serif" font-size="11">`);
  if (o.title) out.push(`<title>${escapeXml(o.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${Ht}" fill="#ffffff"/>`);
  if (o.title) out.push(`<text class="title" x="${LABEL_W}" y="22" font-size="14" font-weight="bold">${escapeXml(o.title)}</text>`);
  for (let k = 0; k < blocks; k++) {
    const t0 = k * cols, t1 = Math.min(n, t0 + cols), y0 = TOP + k * blockH;
    const cells: string[] = [], labels: string[] = [], chars: string[] = [];
    o.rows.forEach((r, u) => {
      const y = y0 + u * cs;
      labels.push(`<text class="unit" x="${LABEL_W - 6}" y="${y + cs / 2}" text-anchor="end" dominant-baseline="middle">${escapeXml(r.label)}</text>`);
      for (let t = t0; t < t1; t++) {
        const v = r.values[t];
        cells.push(`<rect class="cell" x="${LABEL_W + (t - t0) * cs}" y="${y}" width="${cs}" height="${cs}" fill="${heatColor(v / max, o.range)}"><title>${escapeXml(`${r.label}, ${JSON.stringify(o.text[t])} (#${t}): ${Number.isFinite(v) ? v.toFixed(3) : String(v)}`)}</title></rect>`);
      }
    });
    for (let t = t0; t < t1; t++) {
      chars.push(`<text class="char" x="${LABEL_W + (t - t0) * cs + cs / 2}" y="${y0 + U * cs + 12}" text-anchor="middle">${escapeXml(showChar(o.text[t]))}</text>`);
    }
    out.push(`<g class="block">${cells.join('')}</g>`, `<g class="units" fill="#333333">${labels.join('')}</g>`, `<g class="chars" fill="#111111" font-family="Menlo, Consolas, monospace">${chars.join('')}</g>`);
  }
  // Scale bar: 11 swatches across the range.
  const yb = TOP + blocks * blockH + 4, lo = o.range === 'signed' ? -1 : 0;
  const sw: string[] = [];
  for (let i = 0; i <= 10; i++) {
    const v = lo + ((1 - lo) * i) / 10;
    sw.push(`<rect x="${LABEL_W + i * 16}" y="${yb}" width="16" height="10" fill="${heatColor(v, o.range)}" stroke="#cccccc" stroke-width="0.5"/>`);
  }
  sw.push(`<text x="${LABEL_W}" y="${yb + 24}">${formatTick(lo * max)}</text>`, `<text x="${LABEL_W + 176}" y="${yb + 24}" text-anchor="end">${formatTick(max)}</text>`);
  sw.push(`<text x="${LABEL_W + 186}" y="${yb + 9}" fill="#555555">values beyond the scale take its end colour</text>`);
  out.push(`<g class="scale">${sw.join('')}</g>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
