// Central finite differences for any layer-like model: loss = Σ output·R for a fixed random R,
// compared with backward() for the input (when differentiable) and every parameter.
import { expect } from 'chai';

const EPS = 1e-6;

function dot(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * The central-difference check itself: perturbs arr[i] by ±EPS for each i in `indices` (calling
 * `after()` so the model sees the change), and compares (L+ - L-)/2EPS with analytic[i].
 */
export function fdCheck(name, arr, analytic, loss, after, indices) {
  for (const i of indices) {
    const old = arr[i];
    arr[i] = old + EPS; after();
    const lp = loss();
    arr[i] = old - EPS; after();
    const lm = loss();
    arr[i] = old; after();
    const fd = (lp - lm) / (2 * EPS);
    expect(Math.abs(fd - analytic[i]), `${name}[${i}]: finite difference ${fd}, backward ${analytic[i]}`).to.be.at.most(1e-6 + 1e-5 * Math.abs(fd));
  }
}

/** All indices of an array of n, or maxCoords seeded random ones. */
export function pickIndices(n, maxCoords, rng) {
  return n <= maxCoords ? [...Array(n).keys()] : Array.from({ length: maxCoords }, () => Math.floor(rng.next() * n));
}

/**
 * model: has forward/forwardTrain/backward/namedParameters/commitParameters (float64).
 * run(model, x) -> output Tensor (inference). opts: { checkInput, maxCoords, rng }
 */
export function gradcheck(model, x, R, run, { checkInput = true, maxCoords = 25, rng, fwdOpts } = {}) {
  const r = model.forwardTrain(x, fwdOpts);
  const g = model.backward(r.cache, { dOutput: R });
  const loss = () => dot(run(model, x).data, R.data);
  const check = (name, arr, analytic, after) => fdCheck(name, arr, analytic, loss, after, pickIndices(arr.length, maxCoords, rng));
  if (checkInput) check('x', x.data, g.dX.data, () => {});
  let checked = 0;
  for (const [name, p] of model.namedParameters()) {
    expect(g.grads[name], `gradient of ${name}`).to.exist;
    check(name, p.data, g.grads[name].data, () => model.commitParameters());
    checked++;
  }
  return { grads: g.grads, checked };
}
