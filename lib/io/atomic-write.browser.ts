// The browser's stand-in for ./atomic-write.ts (chosen by scripts/build-browser.mjs): no files.
import { filesUnavailable } from './files-unavailable';

export function writeFileAtomic(_file: string, _chunks: readonly Uint8Array[]): void {
  throw filesUnavailable('writeFileAtomic');
}
