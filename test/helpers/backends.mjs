// The backends a test runs on: every backend usable in this process, each with the dtypes it
// computes in. Tests loop over this list (the same suite on every backend).
import { availableBackends } from 'cellstate';

export function backendCases() {
  const out = [];
  for (const name of availableBackends()) {
    out.push({ backend: name, dtype: 'float32' });
    if (name === 'ts') out.push({ backend: name, dtype: 'float64' });
  }
  return out;
}
