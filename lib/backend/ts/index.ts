// The `ts` backend: pure TypeScript, float32 and float64, always available.

import type { Backend, CellBackwardArgs, CellCache, CellForwardArgs, PreparedCell } from '../types';
import { gruBackward, gruForward } from './gru';
import { lstmBackward, lstmForward } from './lstm';
import { rnnBackward, rnnForward } from './rnn';
import { prepareTs, type TsPrepared } from './util';

function forward(w: PreparedCell, args: CellForwardArgs, train: boolean): CellCache | null {
  const t = w as TsPrepared;
  return w.kind === 'lstm' ? lstmForward(t, args, train) : w.kind === 'gru' ? gruForward(t, args, train) : rnnForward(t, args, train);
}

function backward(w: PreparedCell, cache: CellCache, args: CellBackwardArgs): void {
  const t = w as TsPrepared;
  if (w.kind === 'lstm') lstmBackward(t, cache, args);
  else if (w.kind === 'gru') gruBackward(t, cache, args);
  else rnnBackward(t, cache, args);
}

export const tsBackend: Backend = {
  name: 'ts',
  writesAllOutputs: false, // not relied on: its buffers stay zero-filled
  supports: () => true,
  prepare: prepareTs,
  forward,
  backward,
  // The ts backend computes on the calling thread: the promise settles after the work is done.
  forwardAsync: async (w, args, train) => forward(w, args, train),
  backwardAsync: async (w, cache, args) => backward(w, cache, args),
  setThreads: () => {},
};
