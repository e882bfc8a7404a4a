// Regenerates the performance tables from a committed results file written by
// `npm run bench -- --json bench/results/<name>.json`:
//
//   node bench/readme-table.mjs bench/results/<name>.json
//
// The full table goes between the <!-- bench:begin --> and <!-- bench:end --> markers of
// docs/performance.md, a few of its rows (SUMMARY_ROWS) between the same markers of README.md,
// each with the date, machine and commit of the run, so no page claims numbers no file backs.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The workloads the README's summary shows (the rest are in docs/performance.md). */
export const SUMMARY_ROWS = ['S1', 'S2', 'M', 'XL', 'T2', 'GRU-M'];

/** The table of `report`'s results (only the workloads in `only`, when given) as Markdown. */
export function table(report, file, only = null) {
  const m = report.machine;
  const rows = new Map();
  for (const r of report.results) {
    if (!rows.has(r.workload)) rows.set(r.workload, { w: r, cells: new Map() });
    rows.get(r.workload).cells.set(r.impl, r);
  }
  const impls = [...new Set(report.results.map((r) => r.impl))];
  const ms = (r) => {
    if (!r) return 'n/a';
    if (r.unavailable) return 'not in build';
    if (r.error) return 'wrong';
    if (r.capped && r.reps < 2) return `> ${r.capMs / 1000} s`;
    return r.ms < 1 ? r.ms.toFixed(3) : r.ms < 10 ? r.ms.toFixed(2) : r.ms.toFixed(1);
  };
  const lines = [];
  lines.push(`Median milliseconds per call (lower is better) from \`${path.relative(root, file)}\`: ${report.date.slice(0, 10)}, ${m.cpu}, ${m.cores} cores, Node ${m.node}, commit ${m.commit ?? '?'}${report.quick ? ' (quick mode)' : ''}. FP32 FMA peak measured by the addon's probe: ${Object.entries(report.peak).map(([n, g]) => `${n} thread${n === '1' ? '' : 's'} ${g.toFixed(0)} GFLOP/s`).join(', ')}.`);
  lines.push('');
  lines.push(`| workload | ${impls.join(' | ')} | best native vs best peer | best native % of peak |`);
  lines.push(`| --- | ${impls.map(() => '---:').join(' | ')} | ---: | ---: |`);
  for (const { w, cells } of rows.values()) {
    if (only && !only.includes(w.workload)) continue;
    const label = `${w.workload} ${w.kind}${w.workload.startsWith('GRU') ? '' : ''} B=${w.B} T=${w.T} I=${w.I} H=${w.H}`;
    // The ratio columns compare fp32 with fp32 (bf16/int8 rows have their own columns).
    const fp32 = (r) => (r.precision ?? 'fp32') === 'fp32';
    const natives = [...cells.values()].filter((r) => r.impl.startsWith('native') && fp32(r) && r.ms && !r.error);
    const peers = [...cells.values()].filter((r) => r.peer && fp32(r) && r.ms && !r.error && !(r.capped && r.reps < 2));
    const best = natives.sort((a, b) => a.ms - b.ms)[0];
    const bestPeer = peers.sort((a, b) => a.ms - b.ms)[0];
    const ratio = best && bestPeer ? `${(bestPeer.ms / best.ms).toFixed(2)}x (${bestPeer.impl})` : 'n/a';
    lines.push(`| ${label} | ${impls.map((i) => ms(cells.get(i))).join(' | ')} | ${ratio} | ${best?.peakPct ? best.peakPct.toFixed(0) + '%' : 'n/a'} |`);
  }
  return lines.join('\n');
}

/** `text` with the part between the bench markers replaced by `inner`. */
export function replaceBetweenMarkers(text, inner, name) {
  const begin = '<!-- bench:begin -->', end = '<!-- bench:end -->';
  if (!text.includes(begin) || !text.includes(end)) throw new Error(`${name} has no ${begin} ... ${end} markers`);
  return text.slice(0, text.indexOf(begin) + begin.length) + '\n' + inner + '\n' + text.slice(text.indexOf(end));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node bench/readme-table.mjs bench/results/<name>.json');
    process.exit(2);
  }
  const report = JSON.parse(fs.readFileSync(file, 'utf8'));
  const pages = [
    ['docs/performance.md', table(report, path.resolve(file))],
    ['README.md', table(report, path.resolve(file), SUMMARY_ROWS)],
  ];
  let next;
  try { // every page checked before any is written
    next = pages.map(([page, inner]) => [page, replaceBetweenMarkers(fs.readFileSync(path.join(root, page), 'utf8'), inner, page)]);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
  for (const [page, text] of next) {
    fs.writeFileSync(path.join(root, page), text);
    console.log(`${page}: table from ${file}`);
  }
}
