// The addon's fused optimizer updates (native/optim/optim_napi.cc) in the form lib/train/optim.ts
// calls them: one call per optimizer step covers every parameter; each becomes one descriptor of
// scripts/addon-schema.js on the addon's typed surface (NativeAddon), which re-checks each
// buffer. The math mirrors lib/train/optim-math.ts.

import { loadNative, type NativeAddon } from './native';
import type { OptimCalls } from './types';
import { encodeOptimAdam, encodeOptimRmsprop, encodeOptimSgd, OPTIM_ADAM_HEADER, OPTIM_RMSPROP_HEADER, OPTIM_SGD_HEADER } from './schema.gen';

/** The addon's optimizer calls: the interface every compiled backend's optimizer offers. */
export type NativeOptim = OptimCalls;

// Reused: the addon copies a header before the call returns.
const headers = { sgd: new Float64Array(OPTIM_SGD_HEADER), adam: new Float64Array(OPTIM_ADAM_HEADER), rmsprop: new Float64Array(OPTIM_RMSPROP_HEADER) };

function optimOf(addon: NativeAddon): NativeOptim {
  return {
    optimSgd: (params, grads, bufs, lr, momentum, dampening, weightDecay, nesterov, first) =>
      addon.optimSgd(...encodeOptimSgd({ params, grads, bufs, lr, momentum, dampening, weightDecay, nesterov, first }, headers.sgd)),
    optimAdam: (params, grads, expAvg, expAvgSq, lr, beta1, beta2, eps, weightDecay, decoupled, biasCorrection1, biasCorrection2Sqrt) =>
      addon.optimAdam(...encodeOptimAdam({ params, grads, expAvg, expAvgSq, lr, beta1, beta2, eps, weightDecay, decoupled, biasCorrection1, biasCorrection2Sqrt }, headers.adam)),
    optimRmsprop: (params, grads, squareAvg, gradAvg, momentumBuffer, lr, alpha, eps, weightDecay, momentum, centered) =>
      addon.optimRmsprop(...encodeOptimRmsprop({ params, grads, squareAvg, gradAvg, momentumBuffer, lr, alpha, eps, weightDecay, momentum, centered }, headers.rmsprop)),
  };
}

let cached: { addon: NativeAddon; optim: NativeOptim } | undefined;

/** The optimizer calls of the loaded addon, or null (no addon). */
export function nativeOptim(): NativeOptim | null {
  const addon = loadNative().addon;
  if (!addon) return null;
  if (cached?.addon !== addon) cached = { addon, optim: optimOf(addon) };
  return cached.optim;
}
