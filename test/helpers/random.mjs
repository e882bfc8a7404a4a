// Seeded random tensors for tests (never Math.random: every failure must reproduce).
import { Rng, tensor } from 'cellstate';

export function randomTensor(rng, shape, dtype = 'float32', scale = 1) {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.uniform(-scale, scale);
  return tensor(data, shape, dtype);
}

export { Rng };
