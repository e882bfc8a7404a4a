// How much more the JavaScript heap can take, for the protobuf reader's decoding budget
// (./protobuf.ts). Node only: the browser build uses ./heap.browser.ts.
import { getHeapStatistics } from 'node:v8';

export function availableHeapBytes(): number {
  return getHeapStatistics().total_available_size;
}
