// A small line-plot writer: learning curves as standalone SVG (no dependency, no fonts to embed).
//
// One chart: a frame with x and y axes, "nice" tick marks and labels (1, 2, 5 × 10^k steps on a
// linear axis; decades, with light minor lines at 2..9, on a log axis), axis titles, a title, one
// polyline per series and a legend box in the top-right corner. Optional horizontal reference
// lines (dashed, also in the legend), e.g. a baseline and a success threshold.
//
// Deliberately not here: several panels, bar charts, dates, automatic label collision handling.
// Points that cannot be drawn (non-finite, or <= 0 on a log axis) are skipped, which splits
// nothing: the line joins the remaining points.

export interface Series {
  name: string;
  points: ReadonlyArray<readonly [number, number]>; // [x, y]
  color?: string;
  legend?: boolean; // a legend row (default true; false for a series that shares another's colour and name)
}

export interface ReferenceLine {
  y: number;
  name: string;
  color?: string;
}

export interface LinePlotOptions {
  series: Series[];
  title?: string;
  xLabel: string;
  yLabel: string;
  logY?: boolean; // default false
  references?: ReferenceLine[];
  width?: number; // default 720
  height?: number; // default 440
  // The corner of the legend box (default top-right); 'auto': the corner over the fewest line points
  // (ties in this order: top-right, bottom-left, bottom-right, top-left).
  legend?: 'top-right' | 'bottom-left' | 'auto';
}

// Colour-blind-safe palette (Okabe & Ito's eight colours, minus black and yellow).
export const PALETTE = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#56b4e9', '#e69f00'];
const MARGIN = { left: 78, right: 24, top: 44, bottom: 58 };

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Round to 2 decimals for coordinates: small files, exact enough at screen resolution. */
function c(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** A tick label without float noise: 0.30000000000000004 -> 0.3, 1e-7 stays short. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  return String(Number(v.toPrecision(6)));
}

/** The tick step for [lo, hi]: 1, 2 or 5 × 10^k, giving about `count` intervals. */
function tickStep(lo: number, hi: number, count: number): number {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw * (1 - 1e-9))!;
}

/** Ticks covering [lo, hi] at a step of 1, 2 or 5 × 10^k, about `count` of them. */
export function linearTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const step = tickStep(lo, hi, count);
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) ticks.push(Number((k * step).toPrecision(12)));
  return ticks;
}

/** [lo, hi] widened to whole tick steps (so the frame starts and ends on a tick). */
function niceDomain(lo: number, hi: number): [number, number] {
  if (lo === hi) return lo === 0 ? [0, 1] : [lo - Math.abs(lo) / 2, hi + Math.abs(hi) / 2];
  const step = tickStep(lo, hi, 6);
  return [Number((Math.floor(lo / step + 1e-9) * step).toPrecision(12)), Number((Math.ceil(hi / step - 1e-9) * step).toPrecision(12))];
}

export function linePlot(options: LinePlotOptions): string {
  const W = options.width ?? 720, H = options.height ?? 440;
  const logY = options.logY ?? false;
  const refs = options.references ?? [];
  if (!Array.isArray(options.series) || options.series.length === 0) throw new TypeError('linePlot: series: expected a non-empty array of { name, points }');
  const usable = (y: number) => Number.isFinite(y) && (!logY || y > 0);
  const series = options.series.map((s, i) => ({
    name: s.name,
    legend: s.legend ?? true,
    color: s.color ?? PALETTE[i % PALETTE.length],
    points: s.points.filter(([x, y]) => Number.isFinite(x) && usable(y)),
  }));
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = [...series.flatMap((s) => s.points.map((p) => p[1])), ...refs.map((r) => r.y).filter(usable)];
  if (xs.length === 0) throw new RangeError(`linePlot: series: expected at least one finite point${logY ? ' with y > 0 (log scale)' : ''}`);

  const [x0, x1] = niceDomain(Math.min(...xs), Math.max(...xs));
  let y0: number, y1: number;
  if (logY) {
    // A little headroom so a line on an exact decade (a 0.01 threshold) is not hidden by the frame.
    y0 = Math.floor(Math.log10(Math.min(...ys)) - 0.05);
    y1 = Math.ceil(Math.log10(Math.max(...ys)) + 0.05);
    if (y1 === y0) y1 = y0 + 1;
  } else {
    [y0, y1] = niceDomain(Math.min(...ys), Math.max(...ys));
  }
  const px = { l: MARGIN.left, r: W - MARGIN.right, t: MARGIN.top, b: H - MARGIN.bottom };
  const sx = (x: number) => px.l + ((x - x0) / (x1 - x0)) * (px.r - px.l);
  const yv = (y: number) => (logY ? Math.log10(y) : y);
  const sy = (y: number) => px.b - ((yv(y) - y0) / (y1 - y0)) * (px.b - px.t);

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  if (options.title) out.push(`<title>${escapeXml(options.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);

  // Grid and ticks.
  const grid: string[] = [], labels: string[] = [];
  for (const t of linearTicks(x0, x1)) {
    const X = c(sx(t));
    grid.push(`<line x1="${X}" y1="${c(px.t)}" x2="${X}" y2="${c(px.b)}" stroke="#e5e5e5"/>`);
    grid.push(`<line x1="${X}" y1="${c(px.b)}" x2="${X}" y2="${c(px.b + 5)}" stroke="#333333"/>`);
    labels.push(`<text class="tick x" x="${X}" y="${c(px.b + 18)}" text-anchor="middle">${escapeXml(formatTick(t))}</text>`);
  }
  const yTicks = logY ? Array.from({ length: y1 - y0 + 1 }, (_, k) => 10 ** (y0 + k)) : linearTicks(y0, y1);
  for (const t of yTicks) {
    const Y = c(sy(t));
    grid.push(`<line x1="${c(px.l)}" y1="${Y}" x2="${c(px.r)}" y2="${Y}" stroke="#e5e5e5"/>`);
    grid.push(`<line x1="${c(px.l - 5)}" y1="${Y}" x2="${c(px.l)}" y2="${Y}" stroke="#333333"/>`);
    labels.push(`<text class="tick y" x="${c(px.l - 8)}" y="${Y}" text-anchor="end" dominant-baseline="middle">${escapeXml(formatTick(logY ? Number(t.toPrecision(1)) : t))}</text>`);
  }
  if (logY) {
    for (let d = y0; d < y1; d++) {
      for (let m = 2; m <= 9; m++) grid.push(`<line x1="${c(px.l)}" y1="${c(sy(m * 10 ** d))}" x2="${c(px.r)}" y2="${c(sy(m * 10 ** d))}" stroke="#f3f3f3"/>`);
    }
  }
  out.push(`<g class="grid">${grid.join('')}</g>`);

  // Reference lines, then the series (clipped to the plot area), then the axes on top.
  out.push(`<defs><clipPath id="plot-area"><rect x="${c(px.l)}" y="${c(px.t)}" width="${c(px.r - px.l)}" height="${c(px.b - px.t)}"/></clipPath></defs>`);
  const refColors = refs.map((r) => r.color ?? '#777777');
  refs.forEach((r, i) => {
    if (!usable(r.y) || r.y < (logY ? 10 ** y0 : y0) || r.y > (logY ? 10 ** y1 : y1)) return;
    out.push(`<line class="reference" x1="${c(px.l)}" y1="${c(sy(r.y))}" x2="${c(px.r)}" y2="${c(sy(r.y))}" stroke="${refColors[i]}" stroke-dasharray="6 4"/>`);
  });
  out.push('<g class="series" clip-path="url(#plot-area)">');
  for (const s of series) {
    const pts = s.points.map(([x, y]) => `${c(sx(x))},${c(sy(y))}`).join(' ');
    out.push(`<polyline data-name="${escapeXml(s.name)}" fill="none" stroke="${s.color}" stroke-width="2" stroke-linejoin="round" points="${pts}"/>`);
  }
  out.push('</g>');
  out.push(`<g class="axes" stroke="#333333"><line x1="${c(px.l)}" y1="${c(px.b)}" x2="${c(px.r)}" y2="${c(px.b)}"/><line x1="${c(px.l)}" y1="${c(px.t)}" x2="${c(px.l)}" y2="${c(px.b)}"/></g>`);
  out.push(`<g class="ticks" fill="#333333">${labels.join('')}</g>`);

  // Titles.
  if (options.title) out.push(`<text class="title" x="${c((px.l + px.r) / 2)}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`);
  out.push(`<text class="label x" x="${c((px.l + px.r) / 2)}" y="${c(H - 16)}" text-anchor="middle" font-size="13">${escapeXml(options.xLabel)}</text>`);
  out.push(`<text class="label y" x="18" y="${c((px.t + px.b) / 2)}" text-anchor="middle" font-size="13" transform="rotate(-90 18 ${c((px.t + px.b) / 2)})">${escapeXml(options.yLabel + (logY ? ' (log scale)' : ''))}</text>`);

  // Legend: one row per series (unless it opts out), then per reference line.
  const rows = [...series.filter((s) => s.legend).map((s) => ({ name: s.name, color: s.color, dash: false })), ...refs.map((r, i) => ({ name: r.name, color: refColors[i], dash: true }))];
  const longest = Math.max(...rows.map((r) => r.name.length));
  const lw = 40 + longest * 7, lh = 10 + rows.length * 18;
  const corner = (right: boolean, top: boolean) => ({ lx: right ? px.r - lw - 8 : px.l + 8, ly: top ? px.t + 8 : px.b - lh - 8 });
  let { lx, ly } = corner(options.legend !== 'bottom-left', options.legend !== 'bottom-left');
  if (options.legend === 'auto') {
    // Count the points (and the midpoints of segments, for sparse lines) each candidate box would hide.
    const pts = series.flatMap((s) => s.points.flatMap(([x, y], i) => {
      const p: [number, number] = [sx(x), sy(y)];
      if (i === 0) return [p];
      const [qx, qy] = s.points[i - 1];
      return [p, [(p[0] + sx(qx)) / 2, (p[1] + sy(qy)) / 2] as [number, number]];
    }));
    const hidden = (b: { lx: number; ly: number }) => pts.filter(([X, Y]) => X >= b.lx && X <= b.lx + lw && Y >= b.ly && Y <= b.ly + lh).length;
    const best = [corner(true, true), corner(false, false), corner(true, false), corner(false, true)].reduce((a, b) => (hidden(b) < hidden(a) ? b : a));
    ({ lx, ly } = best);
  }
  out.push(`<g class="legend"><rect x="${c(lx)}" y="${c(ly)}" width="${c(lw)}" height="${c(lh)}" fill="#ffffff" fill-opacity="0.9" stroke="#999999"/>`);
  rows.forEach((r, i) => {
    const yy = ly + 14 + i * 18;
    out.push(`<line x1="${c(lx + 8)}" y1="${c(yy)}" x2="${c(lx + 30)}" y2="${c(yy)}" stroke="${r.color}" stroke-width="2"${r.dash ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${c(lx + 36)}" y="${c(yy)}" dominant-baseline="middle">${escapeXml(r.name)}</text>`);
  });
  out.push('</g>');
  out.push('</svg>');
  return out.join('\n') + '\n';
}
