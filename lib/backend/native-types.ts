// The native backend's load result and the addon's typed surface: shared by the loader
// (./native.ts) and the browser's stand-in for it (./native.browser.ts), which has no addon.

import type { Backend, BackendInfo } from './types';
import type { NativeCalls } from './schema.gen';

/**
 * The addon's exports: the descriptor calls of scripts/addon-schema.js (NativeCalls, generated
 * with their wire types into ./schema.gen.ts; every export that takes arguments) and the two that
 * take none, info() and schema(). The one typed native surface: the optimizer's calls
 * (./native-optim.ts) are part of it.
 */
export interface NativeAddon extends NativeCalls {
  info(): { isa: string; detectedIsa: string; bf16Kernel: string; threads: number; hardwareThreads: number; blas: string | null; warning: string; napiVersion: number };
  /** Frees the scratch blocks too big for the addon's recycler to keep (native/util/scratch.h). */
  trimScratch(): void;
  /** The descriptor tables and codes compiled into the binary (the form of SCHEMA). */
  schema(): unknown;
}

export interface NativeLoad {
  addon: NativeAddon | null;
  backend: Backend | null;
  info: (() => BackendInfo) | null;
  /** The file the addon was loaded from (absolute), or null. */
  file: string | null;
  causes: string[];
}
