// The `ts` backend: pure TypeScript, float32 and float64, always available. One kernel file per
// cell kind (lstm.ts, gru.ts, rnn.ts, lnlstm.ts), found through KERNELS.

import { gateCount, type Backend, type CacheStates, type CellBackwardArgs, type CellCache, type CellForwardArgs, type CellKind, type PreparedCell } from '../types';
import { gruBackward, gruCacheStates, gruForward } from './gru';
import { lnLstmBackward, lnLstmCacheStates, lnLstmForward } from './lnlstm';
import { lstmBackward, lstmCacheStates, lstmForward } from './lstm';
import { rnnBackward, rnnCacheStates, rnnForward } from './rnn';
import { isQuantized, prepareTs, type TsPrepared } from './util';

interface CellKernels {
  /** Leading gate columns whose b_hh is summed into the input projection's bias (util.ts prepareTs). */
  biasHhCols(hiddenSize: number, gateCols: number): number;
  forward(w: TsPrepared, args: CellForwardArgs, train: boolean): CellCache | null;
  backward(w: TsPrepared, cache: CellCache, args: CellBackwardArgs): void;
  states(cache: CellCache): CacheStates;
}

/** Every cell kind's forward and BPTT (a Record, so a kind without kernels does not compile). */
const KERNELS: Record<CellKind, CellKernels> = {
  lstm: { biasHhCols: (_H, G) => G, forward: lstmForward, backward: lstmBackward, states: lstmCacheStates },
  gru: { biasHhCols: (H) => 2 * H, forward: gruForward, backward: gruBackward, states: gruCacheStates }, // b_hn stays with h·W_hnᵀ
  rnn_tanh: { biasHhCols: (_H, G) => G, forward: rnnForward, backward: rnnBackward, states: rnnCacheStates },
  rnn_relu: { biasHhCols: (_H, G) => G, forward: rnnForward, backward: rnnBackward, states: rnnCacheStates },
  lnlstm: { biasHhCols: () => 0, forward: lnLstmForward, backward: lnLstmBackward, states: lnLstmCacheStates }, // biases added after the layer norms
};

function forward(w: PreparedCell, args: CellForwardArgs, train: boolean): CellCache | null {
  if (train && isQuantized(w as TsPrepared)) throw quantizedTraining('forward');
  return KERNELS[w.kind].forward(w as TsPrepared, args, train);
}

function backward(w: PreparedCell, cache: CellCache, args: CellBackwardArgs): void {
  if (isQuantized(w as TsPrepared)) throw quantizedTraining('backward');
  KERNELS[w.kind].backward(w as TsPrepared, cache, args);
}

/** bf16 / int8 cells are inference only (the layer refuses first; this guards direct backend use). */
function quantizedTraining(call: string): TypeError {
  return new TypeError(`ts backend: ${call}: a quantized (bf16/int8) cell runs inference only; training stays fp32`);
}

export const tsBackend: Backend = {
  name: 'ts',
  writesAllOutputs: false, // not relied on: its buffers stay zero-filled
  supports: (dtype, precision = 'fp32') => precision === 'fp32' || dtype === 'float32',
  prepare: (p) => prepareTs(p, KERNELS[p.kind].biasHhCols(p.hiddenSize, gateCount(p.kind) * p.hiddenSize)),
  forward,
  cacheStates: (w, cache) => KERNELS[w.kind].states(cache),
  backward,
  // The ts backend computes on the calling thread: the promise settles after the work is done.
  forwardAsync: async (w, args, train) => forward(w, args, train),
  backwardAsync: async (w, cache, args) => backward(w, cache, args),
  setThreads: () => {},
};
