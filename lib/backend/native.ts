// Loader of the native addon (built from native/ by node-gyp or cmake-js).
//
// Tries the build locations in order and remembers every failure, so a forced native backend can
// explain itself in one message. The addon itself is implemented in the native backend issue; until
// a build of it exists this reports the missing build as the cause.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Backend, BackendInfo } from './types';

export interface NativeLoad {
  backend: Backend | null;
  info: (() => BackendInfo) | null;
  causes: string[];
}

let loaded: NativeLoad | undefined;

export function loadNative(): NativeLoad {
  if (loaded) return loaded;
  const causes: string[] = [];
  const root = path.resolve(__dirname, '..', '..');
  const candidates = [path.join(root, 'build', 'Release', 'cellstate.node')];
  for (const file of candidates) {
    if (!fs.existsSync(file)) causes.push(`${path.relative(root, file)}: not built`);
  }
  loaded = { backend: null, info: null, causes };
  return loaded;
}
