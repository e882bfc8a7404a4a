// The browser's stand-in for ./heap.ts: a page cannot ask how much heap is left (Chrome's
// performance.memory is deprecated and coarse), so only the reader's own budget (a multiple of
// the file's size, ./protobuf.ts) limits decoding there.
export function availableHeapBytes(): number {
  return Number.POSITIVE_INFINITY;
}
