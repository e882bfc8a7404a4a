// The `ts` backend: pure TypeScript, float32 and float64, always available.

import type { Backend } from '../types';
import { lstmBackward, lstmForward, lstmPrepare, type TsPreparedLstm } from './lstm';

export const tsBackend: Backend = {
  name: 'ts',
  supports: () => true,
  lstmPrepare,
  lstmForward: (w, args, train) => lstmForward(w as TsPreparedLstm, args, train),
  lstmBackward: (w, cache, args) => lstmBackward(w as TsPreparedLstm, cache, args),
  // The ts backend computes on the calling thread: the promise settles after the work is done.
  lstmForwardAsync: async (w, args, train) => lstmForward(w as TsPreparedLstm, args, train),
  lstmBackwardAsync: async (w, cache, args) => lstmBackward(w as TsPreparedLstm, cache, args),
  setThreads: () => {},
};
