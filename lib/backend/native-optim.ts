// The addon's fused optimizer updates (native/optim/optim_napi.cc), declared argument for
// argument. One call per optimizer step covers every parameter; the C++ re-checks each buffer.
// The math mirrors lib/train/optim-math.ts.

import { loadNative } from './native';

type F32s = Float32Array[];

export interface NativeOptim {
  optimSgd(params: F32s, grads: F32s, bufs: F32s | null, lr: number, momentum: number, dampening: number,
    weightDecay: number, nesterov: boolean, first: boolean): void;
  optimAdam(params: F32s, grads: F32s, expAvg: F32s, expAvgSq: F32s, lr: number, beta1: number, beta2: number,
    eps: number, weightDecay: number, decoupled: boolean, biasCorrection1: number, biasCorrection2Sqrt: number): void;
  optimRmsprop(params: F32s, grads: F32s, squareAvg: F32s, gradAvg: F32s | null, momentumBuffer: F32s | null,
    lr: number, alpha: number, eps: number, weightDecay: number, momentum: number, centered: boolean): void;
}

/** The optimizer exports of the loaded addon, or null (no addon, or one built without them). */
export function nativeOptim(): NativeOptim | null {
  const addon = loadNative().addon as unknown as Partial<NativeOptim> | null;
  if (!addon || typeof addon.optimSgd !== 'function' || typeof addon.optimAdam !== 'function' || typeof addon.optimRmsprop !== 'function') return null;
  return addon as NativeOptim;
}
