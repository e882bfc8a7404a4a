// The per-element update rules of the optimizers, in TypeScript: the `ts` path and the
// specification the C++ (native/optim/optim.cc) mirrors term for term. Each element is computed
// in double and rounded once when stored into the (float32 or float64) buffer.
//
// PyTorch's rules (torch.optim docs, non-fused, non-capturable implementations), per element,
// with g the gradient, p the parameter, t the step number starting at 1:
//
//   SGD      d = g + wd·p;  b = (t = 1) ? d : μ·b + (1 - dampening)·d;  d = nesterov ? d + μ·b : b;
//            p -= lr·d                      (no buffer when μ = 0: p -= lr·d)
//   Adam     g += wd·p (Adam) | p *= 1 - lr·wd (AdamW);  m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²;
//            p -= (lr / (1-β1^t)) · m / (√v / √(1-β2^t) + eps)
//   RMSprop  g += wd·p;  s = α·s + (1-α)·g²;  centered: a = α·a + (1-α)·g, den = √(s - a²) + eps,
//            else den = √s + eps;  μ > 0: b = μ·b + g/den, p -= lr·b;  else p -= lr·g/den

import type { FloatArray } from '../tensor';

export interface SgdHyper { lr: number; momentum: number; dampening: number; weightDecay: number; nesterov: boolean; first: boolean }
export interface AdamHyper { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; decoupled: boolean; bc1: number; bc2Sqrt: number }
export interface RmspropHyper { lr: number; alpha: number; eps: number; weightDecay: number; momentum: number; centered: boolean }

export function sgdUpdate(p: FloatArray, g: FloatArray, buf: FloatArray | null, h: SgdHyper): void {
  const { lr, momentum: mu, weightDecay: wd } = h, damp = 1 - h.dampening;
  for (let i = 0; i < p.length; i++) {
    const d = wd !== 0 ? g[i] + wd * p[i] : g[i];
    if (mu === 0) { p[i] = p[i] - lr * d; continue; }
    const b = h.first ? d : mu * buf![i] + damp * d;
    buf![i] = b;
    const step = h.nesterov ? d + mu * b : b;
    p[i] = p[i] - lr * step;
  }
}

export function adamUpdate(p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, h: AdamHyper): void {
  const { lr, beta1: b1, beta2: b2, eps, weightDecay: wd } = h;
  const stepSize = lr / h.bc1, bc2s = h.bc2Sqrt;
  const decay = h.decoupled ? 1 - lr * wd : 1;
  const l2 = h.decoupled ? 0 : wd;
  for (let i = 0; i < p.length; i++) {
    const pv = p[i] * decay;
    const gv = l2 !== 0 ? g[i] + l2 * p[i] : g[i];
    const mv = b1 * m[i] + (1 - b1) * gv;
    const vv = b2 * v[i] + (1 - b2) * gv * gv;
    m[i] = mv;
    v[i] = vv;
    const denom = Math.sqrt(vv) / bc2s + eps;
    p[i] = pv - stepSize * (mv / denom);
  }
}

export function rmspropUpdate(p: FloatArray, g: FloatArray, sq: FloatArray, gavg: FloatArray | null, buf: FloatArray | null, h: RmspropHyper): void {
  const { lr, alpha: a, eps, weightDecay: wd, momentum: mu } = h;
  for (let i = 0; i < p.length; i++) {
    const gv = wd !== 0 ? g[i] + wd * p[i] : g[i];
    const sv = a * sq[i] + (1 - a) * gv * gv;
    sq[i] = sv;
    let avg: number;
    if (h.centered) {
      const ga = a * gavg![i] + (1 - a) * gv;
      gavg![i] = ga;
      avg = Math.sqrt(sv - ga * ga) + eps;
    } else {
      avg = Math.sqrt(sv) + eps;
    }
    if (mu > 0) {
      const b = mu * buf![i] + gv / avg;
      buf![i] = b;
      p[i] = p[i] - lr * b;
    } else {
      p[i] = p[i] - lr * (gv / avg);
    }
  }
}
