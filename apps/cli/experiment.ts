// cellstate experiment adding|copy: the long-range memory comparison. An LSTM and a vanilla tanh
// RNN of about the same parameter count train on the same batches with the same optimizer, seed
// and time budget; both learning curves are printed, plotted (SVG, log scale) and saved as JSON.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { backend, setThreads } from 'cellstate';
import { buildModel, curriculumLengths, isModelKind, KINDS, matchedHidden, matchedRnnHidden, parameterCount, summarize, trainOnTask, type InitOptions, type KindSummary, type ModelKind, type RunResult } from '../experiments/compare';
import { flowProfile, type FlowProfile } from '../experiments/gradient-flow';
import { Rng } from 'cellstate';
import { addingTask, copyTask, type Task } from '../experiments/tasks';
import { writeFileAtomic } from '../internals';
import { linePlot, PALETTE, type Series } from '../plot/svg';
import { EXIT, EXIT_CODES_HELP, get, UsageError, type CommandSpec, type FlagSpec, type FlagValues } from './args';
import type { Io } from './io';
import { ProgressLine } from './progress';

const NAMES = Object.fromEntries(Object.entries(KINDS).map(([k, d]) => [k, d.name])) as Record<ModelKind, string>;

function flags(defaultSteps: number, stepsDesc: string): Record<string, FlagSpec> {
  return {
    steps: { type: 'int', min: 2, desc: stepsDesc, placeholder: 'T', default: String(defaultSteps) },
    'budget-seconds': { type: 'number', min: 0, minExclusive: true, desc: 'wall time each model may train', placeholder: 'X', default: '300' },
    seed: { type: 'int', min: 0, desc: 'seed of the weights and of the data (shared by every model)', placeholder: 'N', default: '1' },
    out: { type: 'string', desc: 'folder for the plot (.svg) and the results (.json)', placeholder: 'DIR', default: 'cellstate-experiments' },
    hidden: { type: 'int', min: 1, desc: 'LSTM hidden size', placeholder: 'N', default: '64' },
    'rnn-hidden': { type: 'int', min: 1, desc: 'RNN hidden size', placeholder: 'N', default: 'the size with the LSTM\'s parameter count' },
    batch: { type: 'int', min: 1, desc: 'sequences per step', placeholder: 'N', default: '64' },
    lr: { type: 'number', min: 0, minExclusive: true, desc: 'Adam learning rate', placeholder: 'X', default: '0.001' },
    models: { type: 'string', desc: `which models to train, comma-separated, of ${Object.keys(KINDS).join(', ')} (each sized to the LSTM's parameter count)`, placeholder: 'LIST', default: 'lstm,rnn' },
    seeds: { type: 'string', desc: 'several seeds, comma-separated (every model runs for every seed); instead of --seed', placeholder: 'LIST' },
    'forget-bias': { type: 'number', desc: 'initial forget-gate bias of the LSTM kinds that take one (lstm, peephole, lnlstm)', placeholder: 'X' },
    'chrono-init': { type: 'number', min: 2, minExclusive: true, desc: 'chrono initialisation for dependencies up to TMAX steps (lstm, peephole, lnlstm)', placeholder: 'TMAX' },
    curriculum: { type: 'int', min: 2, desc: 'adding only: train at length START, then 2 START, 4 START, ... and T, moving on once solved at each', placeholder: 'START' },
    threads: { type: 'int', min: 1, desc: 'threads of the native or wasm backend', placeholder: 'N', default: 'the library\'s' },
    name: { type: 'string', desc: 'base name of the output files', placeholder: 'BASE', default: '<task>-T<steps>' },
    'max-iters': { type: 'int', min: 1, desc: 'also stop each model after this many steps', placeholder: 'N' },
    'eval-every': { type: 'int', min: 1, desc: 'steps between held-out evaluations (the curve\'s points)', placeholder: 'N', default: '50' },
    'eval-size': { type: 'int', min: 1, desc: 'held-out sequences', placeholder: 'N', default: '512' },
  };
}

/** The flags gradient-flow shares with the adding and copy experiments (same meaning, same defaults). */
const shared = flags(100, 'sequence length');

const COMMON_DETAILS = 'Each model stops when its budget is used, after --max-iters steps, or once the held-out loss is below\n' +
  'the success threshold. With --seeds, a summary per model: solved n/N, median and worst steps and seconds to solve.\n' +
  'Files: DIR/<task>-T<steps>.svg and .json (--name BASE: DIR/BASE.svg and .json).';

export const EXPERIMENTS: Record<string, { spec: CommandSpec; run(values: FlagValues, pos: string[], io: Io): Promise<number> }> = {
  adding: {
    spec: {
      name: 'experiment adding', usage: 'experiment adding [--steps T --budget-seconds X --seed N --out DIR ...]',
      summary: 'The adding problem (Hochreiter & Schmidhuber 1997): sum the two marked numbers of a length-T sequence.\n' +
        'LSTM vs tanh RNN; predicting the mean gives MSE 0.167, solved means held-out MSE < 0.01.',
      flags: flags(100, 'sequence length'), details: COMMON_DETAILS,
    },
    run: (v, _p, io) => runExperiment(addingTask(get(v, 'steps', 100)), v, io),
  },
  'gradient-flow': {
    spec: {
      name: 'experiment gradient-flow', usage: 'experiment gradient-flow [--steps T --budget-seconds X --seed N --out DIR --quick ...]',
      summary: 'Gradient flow through time: the norm of dL/dh_t (and dL/dc_t) at every step t for a loss at the last step,\n' +
        'LSTM vs tanh RNN of equal parameter count, at initialisation and after training on the adding problem.',
      flags: {
        steps: { type: 'int', min: 3, desc: 'sequence length of the adding problem', placeholder: 'T', default: '100 (20 with --quick)' },
        'budget-seconds': { type: 'number', min: 0, minExclusive: true, desc: 'wall time each model may train', placeholder: 'X', default: '90 (3 with --quick)' },
        'max-iters': { type: 'int', min: 0, desc: 'also stop each model\'s training after this many steps (0: measure at initialisation only)', placeholder: 'N' },
        seed: shared.seed,
        out: shared.out,
        hidden: { type: 'int', min: 1, desc: 'LSTM hidden size', placeholder: 'N', default: '64 (16 with --quick)' },
        'rnn-hidden': shared['rnn-hidden'],
        batch: { type: 'int', min: 1, desc: 'training sequences per step', placeholder: 'N', default: '64' },
        lr: shared.lr,
        'measure-size': { type: 'int', min: 1, desc: 'sequences of the fixed batch the gradients are measured on', placeholder: 'N', default: '256 (64 with --quick)' },
        quick: { type: 'boolean', desc: 'a small fast run (T 20, hidden 16, 3 s of training each): for tests' },
      },
      details: 'The decay per step is 10^s, s the least-squares slope of log10(norm) against the distance k from the loss\n' +
        '(k = 1 .. T-1). Training: as experiment adding (Adam, clip 1, stops once solved). Files: DIR/gradient-flow-T<steps>.svg and .json.',
    },
    run: (v, _p, io) => runGradientFlow(v, io),
  },
  copy: {
    spec: {
      name: 'experiment copy', usage: 'experiment copy [--steps T --budget-seconds X --seed N --out DIR ...]',
      summary: 'The copy task: remember 10 symbols (of 8) across a gap of T blank steps, then reproduce them.\n' +
        'LSTM vs tanh RNN; guessing gives 2.08 nats, solved means held-out cross-entropy < 0.05.',
      flags: flags(50, 'gap length (the sequence has T + 20 steps)'), details: COMMON_DETAILS,
    },
    run: (v, _p, io) => runExperiment(copyTask(get(v, 'steps', 50)), v, io),
  },
};

export function help(): string {
  return ['Usage: cellstate experiment <adding|copy|gradient-flow> [options]', '',
    ...Object.values(EXPERIMENTS).map((e) => `  ${e.spec.name.replace('experiment ', '').padEnd(15)}${e.spec.summary.split('\n')[0]}`), '',
    'cellstate experiment <name> --help lists the options.', '', EXIT_CODES_HELP, ''].join('\n');
}

function fmt(v: number): string {
  return v >= 0.01 ? v.toFixed(4) : v.toExponential(2);
}

// Plot colours per kind: Okabe & Ito's palette, with black in place of the green that marks the
// success threshold; lstm and rnn keep the colours of the two-model plot.
const COLORS: Record<ModelKind, string> = { lstm: PALETTE[0], rnn: PALETTE[1], peephole: PALETTE[3], cifg: PALETTE[5], lnlstm: PALETTE[4], gru: '#000000' };

/** The learning-curve plot of one experiment (also used to redraw a saved .json): one colour per model, one line per seed. */
export function plotResults(label: string, metric: string, baseline: number, baselineName: string, solvedBelow: number,
  seeds: number[], budgetSeconds: number, results: RunResult[], curriculum: number | null = null): string {
  const kinds = [...new Set(results.map((r) => r.kind))];
  const series: Series[] = results.map((r, i) => ({
    name: `${NAMES[r.kind]} (hidden ${r.hidden})`, color: COLORS[r.kind], points: r.curve.map((p) => [p.step, p.loss] as [number, number]),
    legend: results.findIndex((q) => q.kind === r.kind) === i, // one legend row per model, not per seed
  }));
  const seedText = seeds.length === 1 ? `seed ${seeds[0]}` : `seeds ${seeds.join(', ')}`;
  // The two-model, one-seed plot as it always was; more lines get a shorter title (the legend names
  // the models) and the legend in the corner that hides the fewest points.
  const simple = kinds.length <= 2 && seeds.length === 1;
  return linePlot({
    title: `${label}: ${simple ? kinds.map((k) => NAMES[k]).join(' vs ') : `${kinds.length} model${kinds.length > 1 ? 's' : ''}`} (${seedText}, ${budgetSeconds} s each${curriculum ? `, curriculum from T = ${curriculum}` : ''})`,
    xLabel: 'training step', yLabel: `held-out ${metric}`, logY: true, series, legend: simple ? 'top-right' : 'auto', height: simple ? 440 : 480,
    references: [{ y: baseline, name: baselineName }, { y: solvedBelow, name: `solved (< ${solvedBelow})`, color: '#009e73' }],
  });
}

/** The parsed --models, --seeds and init flags, refused with the flag's name when wrong. */
function parseChoices(task: Task, v: FlagValues, where: string): { models: ModelKind[]; seeds: number[]; init: InitOptions; curriculum: number | null } {
  const rawModels = String(get(v, 'models', 'lstm,rnn'));
  const models = rawModels.split(',').map((s) => s.trim());
  const bad = models.find((m) => !isModelKind(m));
  if (bad !== undefined) throw new UsageError(`${where}: --models: expected a comma-separated list of ${Object.keys(KINDS).join(', ')}, got '${bad}' in '${rawModels}'`);
  if (new Set(models).size !== models.length) throw new UsageError(`${where}: --models: expected each kind once, got '${rawModels}'`);
  if (v.seeds !== undefined && v.seed !== undefined) throw new UsageError(`${where}: --seeds: expected either --seed or --seeds, got both`);
  let seeds: number[] = [get(v, 'seed', 1)];
  if (v.seeds !== undefined) {
    const parts = String(v.seeds).split(',').map((s) => s.trim());
    seeds = parts.map((s) => (/^\d+$/.test(s) ? Number(s) : NaN));
    if (seeds.some((x) => !Number.isSafeInteger(x))) throw new UsageError(`${where}: --seeds: expected comma-separated integers >= 0, got '${v.seeds}'`);
    if (new Set(seeds).size !== seeds.length) throw new UsageError(`${where}: --seeds: expected each seed once, got '${v.seeds}'`);
  }
  if (v['forget-bias'] !== undefined && v['chrono-init'] !== undefined) {
    throw new UsageError(`${where}: --chrono-init: expected either --forget-bias or --chrono-init (both set the forget-gate bias), got both`);
  }
  const init: InitOptions = {};
  if (v['forget-bias'] !== undefined) init.forgetBias = v['forget-bias'] as number;
  if (v['chrono-init'] !== undefined) init.chronoInit = v['chrono-init'] as number;
  let curriculum: number | null = null;
  if (v.curriculum !== undefined) {
    if (task.name !== 'adding') throw new UsageError(`${where}: --curriculum: expected only with the adding problem, got it with ${task.name}`);
    curriculum = v.curriculum as number;
    if (curriculum >= task.T) throw new UsageError(`${where}: --curriculum: expected a start length below --steps (${task.T}), got ${curriculum}`);
  }
  if (v.name !== undefined && (/[/\\]/.test(String(v.name)) || v.name === '.' || v.name === '..')) {
    throw new UsageError(`${where}: --name: expected a file name without a folder (the folder is --out), got '${v.name}'`);
  }
  return { models: models as ModelKind[], seeds, init, curriculum };
}

function describeInit(init: InitOptions): string {
  return init.forgetBias !== undefined ? `forget-gate bias ${init.forgetBias}` : `chrono init (Tmax ${init.chronoInit})`;
}

function summaryText(s: KindSummary, metric: string, T: number): string[] {
  const n = (x: number | null, unit: string) => (x === null ? '' : unit === 's' ? `${x.toFixed(1)} s` : `${Math.round(x).toLocaleString('en-US')}`);
  const notSolved = s.worstBestLoss === null ? '' : `not solved (best ${metric} ${fmt(s.worstBestLoss)}${s.worstReachedT !== T ? ` at T = ${s.worstReachedT}` : ''})`;
  return [NAMES[s.kind], `${s.solved}/${s.runs}`,
    s.medianSteps === null ? 'not solved' : n(s.medianSteps, ''), s.worstSteps === null ? notSolved : n(s.worstSteps, ''),
    s.medianSeconds === null ? 'not solved' : n(s.medianSeconds, 's'), s.worstSeconds === null ? 'not solved' : n(s.worstSeconds, 's'), fmt(s.medianBestLoss)];
}

async function runExperiment(task: Task, v: FlagValues, io: Io): Promise<number> {
  const where = `cellstate experiment ${task.name}`;
  const { models, seeds, init, curriculum } = parseChoices(task, v, where);
  if (v.threads !== undefined) {
    const name = backend().name;
    if (name === 'ts') throw new UsageError(`${where}: --threads: expected the native or wasm backend, got the ts backend (one thread)`);
    setThreads(v.threads as number, name);
  }
  const hidden = get(v, 'hidden', 64);
  const sizes = Object.fromEntries(models.map((m) => [m, m === 'rnn' && v['rnn-hidden'] !== undefined ? v['rnn-hidden'] as number : matchedHidden(task, m, hidden)])) as Record<ModelKind, number>;
  const common = {
    task, batch: get(v, 'batch', 64), lr: get(v, 'lr', 0.001), budgetSeconds: get(v, 'budget-seconds', 300),
    maxSteps: (v['max-iters'] as number | undefined) ?? null, evalEvery: get(v, 'eval-every', 50), evalSize: get(v, 'eval-size', 512),
  };
  const out = get(v, 'out', 'cellstate-experiments');
  const b = backend();
  const label = task.name === 'adding' ? `adding problem, T = ${task.T}` : `copy task, gap ${task.T - 20} (T = ${task.T})`;
  const seedText = seeds.length === 1 ? `seed ${seeds[0]}` : `seeds ${seeds.join(', ')}`;
  io.out(`${label}: ${models.map((m) => `${NAMES[m]} (hidden ${sizes[m]})`).join(' vs ')}; Adam lr ${common.lr}, batch ${common.batch}, ${seedText}, ` +
    `budget ${common.budgetSeconds} s per ${seeds.length === 1 ? 'model' : 'run'}; backend ${b.name}${b.name === 'native' ? ` (${b.isa}, ${b.threads} thread${b.threads === 1 ? '' : 's'})` : ''}\n`);
  let initReport: { options: InitOptions; appliedTo: ModelKind[]; notApplied: Partial<Record<ModelKind, string>> } | null = null;
  if (init.forgetBias !== undefined || init.chronoInit !== undefined) {
    const appliedTo = models.filter((m) => KINDS[m].init === true);
    const notApplied = Object.fromEntries(models.filter((m) => KINDS[m].init !== true).map((m) => [m, KINDS[m].init as string]));
    initReport = { options: init, appliedTo, notApplied };
    io.out(`init: ${describeInit(init)} on ${appliedTo.length ? appliedTo.map((m) => NAMES[m]).join(', ') : 'no model'}` +
      Object.entries(notApplied).map(([m, why]) => `; not on ${NAMES[m as ModelKind]} (${why})`).join('') + '\n');
  }
  if (curriculum !== null) io.out(`curriculum: lengths ${curriculumLengths(curriculum, task.T).join(', ')}, moving on once the held-out ${task.metric} is below ${task.solvedBelow}\n`);

  const results: RunResult[] = [];
  for (const seed of seeds) {
    for (const kind of models) {
      const who = seeds.length === 1 ? NAMES[kind] : `${NAMES[kind]}, seed ${seed}`;
      const bar = new ProgressLine(io.stderr, 'seq');
      io.err(`${who}:\n`);
      const r = await trainOnTask({
        ...common, seed, kind, hidden: sizes[kind], init, curriculum,
        onStep: (step, seconds, loss) => bar.update({ step, firstStep: 0, maxSteps: common.maxSteps, elapsedMs: seconds * 1000, budgetMs: common.budgetSeconds * 1000, loss, rate: (step * common.batch) / Math.max(seconds, 1e-3) }),
      });
      bar.done();
      results.push(r);
      const end = r.end === 'solved' ? `solved at step ${r.solvedAtStep} (${r.solvedAtSeconds!.toFixed(1)} s)` :
        r.end === 'diverged' ? `diverged at step ${r.steps + 1}` : `${r.end === 'budget' ? 'budget used' : 'step limit'} after ${r.steps} steps (${r.seconds.toFixed(1)} s)`;
      const stages = curriculum === null ? '' : ` [${r.stages.map((s) => `T ${s.T}: ${s.solvedAtStep === null ? '-' : `step ${s.solvedAtStep}`}`).join(', ')}]`;
      io.out(`${who} (${r.parameters.toLocaleString('en-US')} parameters): ${end}${stages}; held-out ${task.metric} ${fmt(r.finalLoss)}, best ${fmt(r.bestLoss)}` +
        `${r.reachedT !== task.T ? ` at T = ${r.reachedT}` : ''} (baseline ${fmt(task.baseline)}, solved below ${task.solvedBelow})${r.solvedAtStep === null ? ' - not solved' : ''}\n`);
    }
  }

  // Curves side by side at the evaluation steps, thinned to about 20 rows (up to 8 runs: more
  // columns would not be read; they are in the JSON and the plot).
  const steps = [...new Set(results.flatMap((r) => r.curve.map((p) => p.step)))].sort((a, c) => a - c);
  const every = Math.max(1, Math.ceil(steps.length / 20));
  const col = (r: RunResult) => (seeds.length === 1 ? NAMES[r.kind] : `${NAMES[r.kind]} s${r.seed}`);
  const width = Math.max(12, ...results.map((r) => col(r).length + 2));
  if (results.length > 8) io.out(`\nlearning curves: ${results.length} runs, in the JSON and the plot\n`);
  else io.out(`\nlearning curves (held-out ${task.metric}${curriculum !== null ? ', at the length of the stage' : ''}):\n${'step'.padStart(8)}${results.map((r) => col(r).padStart(width)).join('')}\n`);
  steps.forEach((s, i) => {
    if (results.length > 8 || (i % every !== 0 && i !== steps.length - 1)) return;
    io.out(`${String(s).padStart(8)}${results.map((r) => { const p = r.curve.filter((q) => q.step === s).at(-1); return (p ? fmt(p.loss) : '').padStart(width); }).join('')}\n`);
  });

  const summary = summarize(results);
  if (seeds.length > 1) {
    const rows = [['model', 'solved', 'median steps', 'worst steps', 'median time', 'worst time', `median best ${task.metric}`], ...summary.map((s) => summaryText(s, task.metric, task.T))];
    const w = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
    io.out(`\nsummary over ${seeds.length} seeds (a run not solved counts as the worst):\n`);
    for (const r of rows) io.out(`  ${r.map((c, j) => (j === 0 ? c.padEnd(w[j]) : c.padStart(w[j]))).join('  ')}\n`);
  }

  fs.mkdirSync(out, { recursive: true });
  const base = path.join(out, (v.name as string | undefined) ?? `${task.name}-T${task.name === 'copy' ? task.T - 20 : task.T}`);
  const svg = plotResults(label, task.metric, task.baseline, task.baselineName, task.solvedBelow, seeds, common.budgetSeconds, results, curriculum);
  writeFileAtomic(`${base}.svg`, [Buffer.from(svg, 'utf8')]);
  const { task: _t, ...settings } = common;
  const json = { task: task.name, T: task.T, metric: task.metric, baseline: task.baseline, solvedBelow: task.solvedBelow, ...settings,
    seed: seeds[0], seeds, hidden, models, init: initReport, curriculum: curriculum === null ? null : curriculumLengths(curriculum, task.T),
    threads: b.threads, isa: b.isa, backend: b, date: new Date().toISOString(), node: process.version, summary, results };
  writeFileAtomic(`${base}.json`, [Buffer.from(JSON.stringify(json, null, 1) + '\n', 'utf8')]);
  io.out(`\nplot: ${base}.svg\nresults: ${base}.json\n`);
  return EXIT.ok;
}

/** The gradient-flow plot: one line per model, quantity and moment, against the distance from the loss. */
export function plotFlow(T: number, seed: number, runs: { kind: ModelKind; hidden: number; init: FlowProfile; trained: FlowProfile | null; trainedSteps: number }[]): string {
  const series: { name: string; points: [number, number][]; color: string }[] = [];
  // Light at initialisation, dark (and dashed) after training.
  const colors: Record<string, [string, string]> = { lstm_h: ['#56b4e9', '#0072b2'], lstm_c: ['#cc79a7', '#7b2d62'], rnn_h: ['#e69f00', '#d55e00'] };
  for (const r of runs) {
    for (const [q, key] of [['h', 'dh'], ['c', 'dc']] as const) {
      for (const [i, when, p] of [[0, 'init', r.init], [1, `after ${r.trainedSteps} steps`, r.trained]] as const) {
        const v = p?.[key];
        if (!v) continue;
        series.push({ name: `${NAMES[r.kind]} (${r.hidden}) dL/d${q}, ${when}`, points: v.map((y, k) => [k, y] as [number, number]), color: colors[`${r.kind}_${q}`][i] });
      }
    }
  }
  return linePlot({
    title: `Gradient flow, adding problem T = ${T} (seed ${seed}): loss at the last step`,
    xLabel: 'distance from the loss (steps)', yLabel: 'norm of dL/dh_t or dL/dc_t', logY: true, series, width: 820, legend: 'bottom-left',
  }).replace(/(<polyline data-name="[^"]*after[^"]*" fill="none" stroke="[^"]*" stroke-width="2")/g, '$1 stroke-dasharray="7 4"');
}

async function runGradientFlow(v: FlagValues, io: Io): Promise<number> {
  const quick = v.quick === true;
  const T = get(v, 'steps', quick ? 20 : 100), hidden = get(v, 'hidden', quick ? 16 : 64);
  const task = addingTask(T);
  const sizes: Record<'lstm' | 'rnn', number> = { lstm: hidden, rnn: (v['rnn-hidden'] as number | undefined) ?? matchedRnnHidden(task, hidden) };
  const seed = get(v, 'seed', 1), batch = get(v, 'batch', 64), lr = get(v, 'lr', 0.001);
  const budgetSeconds = get(v, 'budget-seconds', quick ? 3 : 90), maxSteps = (v['max-iters'] as number | undefined) ?? null;
  const measure = task.batch(new Rng(seed + 2_000_003), get(v, 'measure-size', quick ? 64 : 256));
  const out = get(v, 'out', 'cellstate-experiments');
  const b = backend();
  io.out(`gradient flow, adding problem T = ${T}: LSTM (hidden ${sizes.lstm}, ${parameterCount(task, 'lstm', sizes.lstm).toLocaleString('en-US')} parameters) vs tanh RNN ` +
    `(hidden ${sizes.rnn}, ${parameterCount(task, 'rnn', sizes.rnn).toLocaleString('en-US')}); measured on ${measure.x.shape[1]} fixed sequences; ` +
    `training: Adam lr ${lr}, batch ${batch}, seed ${seed}, budget ${budgetSeconds} s per model; backend ${b.name}\n`);
  const runs: { kind: ModelKind; hidden: number; parameters: number; init: FlowProfile; trained: FlowProfile | null; trainedSteps: number; training: Omit<RunResult, 'curve'> | null }[] = [];
  for (const kind of ['lstm', 'rnn'] as const) {
    const net = buildModel(task, kind, sizes[kind], seed);
    const init = flowProfile(net, kind, measure, task);
    let trained: FlowProfile | null = null, training: Omit<RunResult, 'curve'> | null = null;
    if (maxSteps !== 0) {
      const bar = new ProgressLine(io.stderr, 'seq');
      io.err(`${NAMES[kind]}:\n`);
      const r = await trainOnTask({
        task, kind, hidden: sizes[kind], batch, lr, seed, budgetSeconds, maxSteps, evalEvery: 50, evalSize: 512, net,
        onStep: (step, seconds, loss) => bar.update({ step, firstStep: 0, maxSteps, elapsedMs: seconds * 1000, budgetMs: budgetSeconds * 1000, loss, rate: (step * batch) / Math.max(seconds, 1e-3) }),
      });
      bar.done();
      const { curve: _c, ...rest } = r;
      training = rest;
      trained = flowProfile(net, kind, measure, task);
    }
    runs.push({ kind, hidden: sizes[kind], parameters: parameterCount(task, kind, sizes[kind]), init, trained, trainedSteps: training?.steps ?? 0, training });
  }
  const f = (x: number | null) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(4));
  const e = (x: number) => x.toExponential(2);
  io.out(`\ndecay per step of the gradient norm (fit of log10 norm vs distance, k = 1..${T - 1}); norms at distance 0, ${Math.floor((T - 1) / 2)}, ${T - 1}:\n`);
  for (const r of runs) {
    for (const [when, p] of [['init', r.init], ['trained', r.trained]] as const) {
      if (!p) continue;
      const mid = Math.floor((T - 1) / 2);
      io.out(`  ${NAMES[r.kind].padEnd(9)} ${when.padEnd(8)} dL/dh ${f(p.dhDecayPerStep)} per step (${e(p.dh[0])}, ${e(p.dh[mid])}, ${e(p.dh[T - 1])})` +
        (p.dc ? `; dL/dc ${f(p.dcDecayPerStep)} per step (${e(p.dc[0])}, ${e(p.dc[mid])}, ${e(p.dc[T - 1])})` : '') + `; batch MSE ${p.loss.toFixed(4)}\n`);
    }
    if (r.training) io.out(`  ${NAMES[r.kind].padEnd(9)} trained ${r.training.steps} steps in ${r.training.seconds.toFixed(1)} s: held-out MSE ${r.training.finalLoss.toFixed(4)}${r.training.solvedAtStep !== null ? ' (solved)' : ' (not solved)'}\n`);
  }
  fs.mkdirSync(out, { recursive: true });
  const base = path.join(out, `gradient-flow-T${T}`);
  writeFileAtomic(`${base}.svg`, [Buffer.from(plotFlow(T, seed, runs), 'utf8')]);
  const json = { experiment: 'gradient-flow', task: 'adding', T, seed, batch, lr, budgetSeconds, maxSteps, measureSize: measure.x.shape[1], quick,
    backend: b, date: new Date().toISOString(), node: process.version, runs };
  writeFileAtomic(`${base}.json`, [Buffer.from(JSON.stringify(json, null, 1) + '\n', 'utf8')]);
  io.out(`\nplot: ${base}.svg\nresults: ${base}.json\n`);
  return EXIT.ok;
}
