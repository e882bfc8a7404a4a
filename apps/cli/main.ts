// The `cellstate` command: dispatch to one command per file in this folder, help for each, and
// exit codes scripts can rely on (args.ts EXIT): 0 ok, 1 runtime failure, 2 usage error, 130
// interrupted. Errors are printed as one line naming the command; CELLSTATE_DEBUG=1 adds the stack.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXIT, EXIT_CODES_HELP, helpText, parseFlags, UsageError, type CommandSpec, type FlagValues } from './args';
import { processIo, type Io } from './io';
import * as bench from './bench';
import * as demo from './demo';
import * as experiment from './experiment';
import * as info from './info';
import * as inspect from './inspect';
import * as sample from './sample';
import * as train from './train';

interface Command {
  spec: CommandSpec;
  run(values: FlagValues, positionals: string[], io: Io): Promise<number>;
}

const COMMANDS: Record<string, Command> = { demo, train, sample, inspect, bench, info };

function version(): string {
  return (JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

export function topHelp(): string {
  const rows: [string, string][] = [
    ...Object.values(COMMANDS).map((c): [string, string] => [c.spec.name, c.spec.summary.split('\n')[0]]),
    ...Object.values(experiment.EXPERIMENTS).map((e): [string, string] => [e.spec.name, e.spec.summary.split('\n')[0]]),
  ];
  const w = Math.max(...rows.map(([n]) => n.length)) + 3;
  return [
    'Usage: cellstate <command> [options]', '',
    'Recurrent sequence models (LSTM, GRU, RNN) for Node.js: demos, training and experiments.', '',
    'Commands:', ...rows.map(([n, s]) => `  ${n.padEnd(w)}${s}`), '',
    'Every command takes --help. `cellstate --version` prints the version.', '',
    EXIT_CODES_HELP, '',
  ].join('\n');
}

/** Runs one command line; resolves to the exit code (never calls process.exit). */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(topHelp());
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const target = rest[0];
    if (target === undefined) { io.out(topHelp()); return EXIT.ok; }
    return main([target, ...rest.slice(1), '--help'], io);
  }
  if (name === '--version' || name === '-v') {
    io.out(version() + '\n');
    return EXIT.ok;
  }
  let label = `cellstate ${name}`;
  try {
    let cmd: Command | undefined = COMMANDS[name];
    let args = rest;
    if (name === 'experiment') {
      const sub = rest[0];
      if (sub === undefined || sub === '--help' || sub === '-h') {
        io[sub === undefined ? 'err' : 'out'](experiment.help());
        return sub === undefined ? EXIT.usage : EXIT.ok;
      }
      cmd = experiment.EXPERIMENTS[sub];
      if (!cmd) throw new UsageError(`cellstate experiment: unknown experiment '${sub}' (expected one of: ${Object.keys(experiment.EXPERIMENTS).join(', ')})`);
      label = `cellstate experiment ${sub}`;
      args = rest.slice(1);
    }
    if (!cmd) throw new UsageError(`cellstate: unknown command '${name}' (expected one of: ${[...Object.keys(COMMANDS), 'experiment'].join(', ')}; see cellstate --help)`);
    const { values, positionals, help } = parseFlags(cmd.spec, args);
    if (help) {
      io.out(helpText(cmd.spec));
      return EXIT.ok;
    }
    return await cmd.run(values, positionals, io);
  } catch (e) {
    const err = e as Error;
    const msg = String(err?.message ?? err);
    io.err(`${msg.startsWith('cellstate') ? msg : `${label}: ${msg}`}\n`);
    if (process.env.CELLSTATE_DEBUG && err?.stack) io.err(err.stack + '\n');
    return e instanceof UsageError ? EXIT.usage : EXIT.failure;
  }
}
