// The browser's stand-in for ./native.ts (chosen by scripts/build-browser.mjs): a page cannot load
// a Node addon, so the native backend is never available there and the default backend is wasm
// (after init()) or ts. Same exports as the Node loader, so the modules that import it are shared.

export type { NativeHandle } from './schema.gen';
export type { NativeAddon, NativeLoad } from './native-types';
import type { NativeAddon, NativeLoad } from './native-types';

const BROWSER: NativeLoad = {
  addon: null, backend: null, info: null, file: null,
  causes: ['the native addon is a Node module: a browser uses the wasm backend (await init()) or ts'],
};

export function loadNative(): NativeLoad {
  return BROWSER;
}

export function loadedAddon(): NativeAddon | null {
  return null;
}

export function platformTag(): string {
  return 'browser';
}

export function addonCandidates(): string[] {
  return [];
}
