// cellstate experiment adding|copy: the long-range memory comparison. An LSTM and a vanilla tanh
// RNN of about the same parameter count train on the same batches with the same optimizer, seed
// and time budget; both learning curves are printed, plotted (SVG, log scale) and saved as JSON.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { backend } from 'cellstate';
import { buildModel, matchedRnnHidden, parameterCount, trainOnTask, type ModelKind, type RunResult } from '../experiments/compare';
import { flowProfile, type FlowProfile } from '../experiments/gradient-flow';
import { Rng } from 'cellstate';
import { addingTask, copyTask, type Task } from '../experiments/tasks';
import { writeFileAtomic } from '../internals';
import { linePlot } from '../plot/svg';
import { EXIT, EXIT_CODES_HELP, get, UsageError, type CommandSpec, type FlagSpec, type FlagValues } from './args';
import type { Io } from './io';
import { ProgressLine } from './progress';

const NAMES: Record<ModelKind, string> = { lstm: 'LSTM', rnn: 'tanh RNN' };

function flags(defaultSteps: number, stepsDesc: string): Record<string, FlagSpec> {
  return {
    steps: { type: 'int', min: 2, desc: stepsDesc, placeholder: 'T', default: String(defaultSteps) },
    'budget-seconds': { type: 'number', min: 0, minExclusive: true, desc: 'wall time each model may train', placeholder: 'X', default: '300' },
    seed: { type: 'int', min: 0, desc: 'seed of the weights and of the data (shared by both models)', placeholder: 'N', default: '1' },
    out: { type: 'string', desc: 'folder for the plot (.svg) and the results (.json)', placeholder: 'DIR', default: 'cellstate-experiments' },
    hidden: { type: 'int', min: 1, desc: 'LSTM hidden size', placeholder: 'N', default: '64' },
    'rnn-hidden': { type: 'int', min: 1, desc: 'RNN hidden size', placeholder: 'N', default: 'the size with the LSTM\'s parameter count' },
    batch: { type: 'int', min: 1, desc: 'sequences per step', placeholder: 'N', default: '64' },
    lr: { type: 'number', min: 0, minExclusive: true, desc: 'Adam learning rate', placeholder: 'X', default: '0.001' },
    models: { type: 'string', desc: 'which models to train, comma-separated', placeholder: 'LIST', default: 'lstm,rnn' },
    'max-iters': { type: 'int', min: 1, desc: 'also stop each model after this many steps', placeholder: 'N' },
    'eval-every': { type: 'int', min: 1, desc: 'steps between held-out evaluations (the curve\'s points)', placeholder: 'N', default: '50' },
    'eval-size': { type: 'int', min: 1, desc: 'held-out sequences', placeholder: 'N', default: '512' },
  };
}

/** The flags gradient-flow shares with the adding and copy experiments (same meaning, same defaults). */
const shared = flags(100, 'sequence length');

const COMMON_DETAILS = 'Each model stops when its budget is used, after --max-iters steps, or once the held-out loss is below\n' +
  'the success threshold. Files: DIR/<task>-T<steps>.svg and .json.';

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

/** The learning-curve plot of one experiment (also used to redraw a saved .json). */
export function plotResults(label: string, metric: string, baseline: number, baselineName: string, solvedBelow: number,
  seed: number, budgetSeconds: number, results: RunResult[]): string {
  return linePlot({
    title: `${label}: ${results.map((r) => NAMES[r.kind]).join(' vs ')} (seed ${seed}, ${budgetSeconds} s each)`,
    xLabel: 'training step', yLabel: `held-out ${metric}`, logY: true,
    series: results.map((r) => ({ name: `${NAMES[r.kind]} (hidden ${r.hidden})`, points: r.curve.map((p) => [p.step, p.loss] as [number, number]) })),
    references: [{ y: baseline, name: baselineName }, { y: solvedBelow, name: `solved (< ${solvedBelow})`, color: '#009e73' }],
  });
}

async function runExperiment(task: Task, v: FlagValues, io: Io): Promise<number> {
  const where = `cellstate experiment ${task.name}`;
  const models = String(get(v, 'models', 'lstm,rnn')).split(',').map((s) => s.trim()) as ModelKind[];
  if (models.length === 0 || models.some((m) => m !== 'lstm' && m !== 'rnn') || new Set(models).size !== models.length) {
    throw new UsageError(`${where}: --models: expected 'lstm', 'rnn' or 'lstm,rnn', got '${v.models}'`);
  }
  const hidden = get(v, 'hidden', 64);
  const sizes: Record<ModelKind, number> = { lstm: hidden, rnn: (v['rnn-hidden'] as number | undefined) ?? matchedRnnHidden(task, hidden) };
  const common = {
    task, batch: get(v, 'batch', 64), lr: get(v, 'lr', 0.001), seed: get(v, 'seed', 1), budgetSeconds: get(v, 'budget-seconds', 300),
    maxSteps: (v['max-iters'] as number | undefined) ?? null, evalEvery: get(v, 'eval-every', 50), evalSize: get(v, 'eval-size', 512),
  };
  const out = get(v, 'out', 'cellstate-experiments');
  const b = backend();
  const label = task.name === 'adding' ? `adding problem, T = ${task.T}` : `copy task, gap ${task.T - 20} (T = ${task.T})`;
  io.out(`${label}: ${models.map((m) => `${NAMES[m]} (hidden ${sizes[m]})`).join(' vs ')}; Adam lr ${common.lr}, batch ${common.batch}, seed ${common.seed}, ` +
    `budget ${common.budgetSeconds} s per model; backend ${b.name}${b.name === 'native' ? ` (${b.isa}, ${b.threads} threads)` : ''}\n`);

  const results: RunResult[] = [];
  for (const kind of models) {
    const bar = new ProgressLine(io.stderr, 'seq');
    io.err(`${NAMES[kind]}:\n`);
    const r = await trainOnTask({
      ...common, kind, hidden: sizes[kind],
      onStep: (step, seconds, loss) => bar.update({ step, firstStep: 0, maxSteps: common.maxSteps, elapsedMs: seconds * 1000, budgetMs: common.budgetSeconds * 1000, loss, rate: (step * common.batch) / Math.max(seconds, 1e-3) }),
    });
    bar.done();
    results.push(r);
    const end = r.end === 'solved' ? `solved at step ${r.solvedAtStep} (${r.solvedAtSeconds!.toFixed(1)} s)` :
      r.end === 'diverged' ? `diverged at step ${r.steps + 1}` : `${r.end === 'budget' ? 'budget used' : 'step limit'} after ${r.steps} steps (${r.seconds.toFixed(1)} s)`;
    io.out(`${NAMES[kind]} (${r.parameters.toLocaleString('en-US')} parameters): ${end}; held-out ${task.metric} ${fmt(r.finalLoss)}, best ${fmt(r.bestLoss)} ` +
      `(baseline ${fmt(task.baseline)}, solved below ${task.solvedBelow})${r.solvedAtStep === null ? ' - not solved' : ''}\n`);
  }

  // Curves side by side at the evaluation steps, thinned to about 20 rows.
  const steps = [...new Set(results.flatMap((r) => r.curve.map((p) => p.step)))].sort((a, c) => a - c);
  const every = Math.max(1, Math.ceil(steps.length / 20));
  io.out(`\nlearning curves (held-out ${task.metric}):\n${'step'.padStart(8)}${results.map((r) => NAMES[r.kind].padStart(12)).join('')}\n`);
  steps.forEach((s, i) => {
    if (i % every !== 0 && i !== steps.length - 1) return;
    io.out(`${String(s).padStart(8)}${results.map((r) => { const p = r.curve.find((q) => q.step === s); return (p ? fmt(p.loss) : '').padStart(12); }).join('')}\n`);
  });

  fs.mkdirSync(out, { recursive: true });
  const base = path.join(out, `${task.name}-T${task.name === 'copy' ? task.T - 20 : task.T}`);
  const svg = plotResults(label, task.metric, task.baseline, task.baselineName, task.solvedBelow, common.seed, common.budgetSeconds, results);
  writeFileAtomic(`${base}.svg`, [Buffer.from(svg, 'utf8')]);
  const { task: _t, ...settings } = common;
  const json = { task: task.name, T: task.T, metric: task.metric, baseline: task.baseline, solvedBelow: task.solvedBelow, ...settings,
    backend: b, date: new Date().toISOString(), node: process.version, results };
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
  const sizes: Record<ModelKind, number> = { lstm: hidden, rnn: (v['rnn-hidden'] as number | undefined) ?? matchedRnnHidden(task, hidden) };
  const seed = get(v, 'seed', 1), batch = get(v, 'batch', 64), lr = get(v, 'lr', 0.001);
  const budgetSeconds = get(v, 'budget-seconds', quick ? 3 : 90), maxSteps = (v['max-iters'] as number | undefined) ?? null;
  const measure = task.batch(new Rng(seed + 2_000_003), get(v, 'measure-size', quick ? 64 : 256));
  const out = get(v, 'out', 'cellstate-experiments');
  const b = backend();
  io.out(`gradient flow, adding problem T = ${T}: LSTM (hidden ${sizes.lstm}, ${parameterCount(task, 'lstm', sizes.lstm).toLocaleString('en-US')} parameters) vs tanh RNN ` +
    `(hidden ${sizes.rnn}, ${parameterCount(task, 'rnn', sizes.rnn).toLocaleString('en-US')}); measured on ${measure.x.shape[1]} fixed sequences; ` +
    `training: Adam lr ${lr}, batch ${batch}, seed ${seed}, budget ${budgetSeconds} s per model; backend ${b.name}\n`);
  const runs: { kind: ModelKind; hidden: number; parameters: number; init: FlowProfile; trained: FlowProfile | null; trainedSteps: number; training: Omit<RunResult, 'curve'> | null }[] = [];
  for (const kind of ['lstm', 'rnn'] as ModelKind[]) {
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
