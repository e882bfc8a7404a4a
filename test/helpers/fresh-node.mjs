// Run a Node.js script in a child whose peak-RSS reading (getrusage's maxRSS) starts from its own.
//
// Linux carries the high-water mark of a process's memory across execve: a child that mocha forks
// and that then execs node reports mocha's peak as its own maxRSS from its first instruction (over
// 1.3 GB late in the suite), which hides any growth below it. Forked by a small /bin/sh instead
// (the trailing `exit` keeps the shell from exec'ing node in its own place), the child starts from
// the shell's few MB.
import { spawnSync } from 'node:child_process';

export function spawnNodeFresh(args, options = {}) {
  return spawnSync('/bin/sh', ['-c', '"$0" "$@"; exit $?', process.execPath, ...args], { encoding: 'utf8', ...options });
}
