// Fuzz targets for serving whole models (a Sequential through the batcher, sessions and
// forwardAsync), spread into makeTargets (test/helpers/fuzz-api.mjs). Each round builds a random
// small chain (an Embedding or features first; one or two recurrent layers, maybe bidirectional or
// batch-first; a per-step or LastStep head), sends concurrent requests, some hostile (token ids out
// of range or fractional, NaN, wrong shapes or dtypes, detached buffers), and disturbs the
// caller's buffers right after each call. The property: every promise settles; a valid request
// equals model.forward of that sequence alone, bit for bit; every rejection is a TypeError /
// RangeError naming the function. (Weights changed during a call: test/serve-model.test.mjs.)
import { Embedding, GRU, LastStep, Linear, LSTM, RNN, Sequential, Tanh, Tensor, createBatcher, createSession, tensor } from 'cellstate';

import { checkError as checkServeError, same, settleAll as settleWithin, violation } from './fuzz-serve.mjs';

const HANG_MS = 3000;
const ALLOWED = new Set(['TypeError', 'RangeError', 'ServeClosedError']);
const checkError = (e, where) => checkServeError(e, where, ALLOWED);
const settleAll = (ps, what) => settleWithin(ps, what, HANG_MS);

export function makeServeModelTargets(r, backends) {
  const Cells = { LSTM, GRU, RNN };

  function makeModel({ streamable = false } = {}) {
    const backend = r.pick(backends), dtype = backend === 'ts' && r.chance(0.3) ? 'float64' : 'float32';
    const bf = r.chance(0.5), tokens = r.chance(0.5);
    const V = 2 + r.int(8), I = 1 + r.int(4);
    const layers = [];
    let width = I;
    if (tokens) layers.push(new Embedding({ numEmbeddings: V, embeddingDim: width, seed: r.int(1000), dtype }));
    else if (r.chance(0.3)) { layers.push(new Linear({ inFeatures: I, outFeatures: width = 1 + r.int(4), seed: r.int(1000), dtype }), new Tanh()); }
    const nRec = 1 + r.int(2);
    let bidi = false; // the last recurrent layer's
    for (let k = 0; k < nRec; k++) {
      const kind = r.pick(['LSTM', 'GRU', 'RNN']);
      const H = 1 + r.int(5), D = !streamable && r.chance(0.3) ? 2 : 1;
      bidi = D === 2;
      layers.push(new Cells[kind]({ inputSize: width, hiddenSize: H, numLayers: 1 + r.int(2), bidirectional: D === 2, batchFirst: bf, backend, dtype, seed: r.int(1000) }));
      width = D * H;
    }
    const last = r.chance(0.5);
    if (last) layers.push(new LastStep({ batchFirst: bf, finalStates: bidi && r.chance(0.5) }));
    layers.push(new Linear({ inFeatures: width, outFeatures: 1 + r.int(4), seed: r.int(1000), dtype }));
    const m = new Sequential(layers);
    return { m, tokens, V, I, desc: `${tokens ? 'tokens' : 'features'} ${layers.map(String).join(' -> ')}` };
  }

  const arrayOf = (dtype, n) => (dtype === 'float64' ? new Float64Array(n) : new Float32Array(n));
  const detach = (a) => { if (a.buffer.byteLength) structuredClone(a.buffer, { transfer: [a.buffer] }); };

  /** A request: valid (with a private copy for the oracle) or hostile. */
  function request(spec) {
    const { m, tokens, V, I } = spec;
    const T = 1 + r.int(6);
    const n = tokens ? T : T * I;
    const data = arrayOf(m.dtype, n);
    for (let i = 0; i < n; i++) data[i] = tokens ? r.int(V) : r.num(-1, 1);
    const want = data.slice();
    const shape = tokens ? [T] : [T, I];
    if (!r.chance(0.25)) {
      const form = r.int(3);
      const x = form === 0 ? new Tensor(data, shape) : form === 1 && tokens ? Array.from(data) : form === 1 ? Array.from({ length: T }, (_, t) => Array.from(data.subarray(t * I, (t + 1) * I))) : new Tensor(data, shape);
      return { x, data, want, T, valid: true };
    }
    const hostile = [
      () => { const d = data.slice(); d[r.int(n)] = tokens ? r.pick([V, -1, 0.5, NaN]) : r.pick([NaN, Infinity]); return new Tensor(d, shape); },
      () => new Tensor(data, tokens ? [T, 1] : [T * I]),
      () => new Tensor(m.dtype === 'float64' ? Float32Array.from(data) : Float64Array.from(data), shape),
      () => { const d = data.slice(); detach(d); return { shape, data: d }; },
      () => ({ get shape() { throw new Error('shape getter'); }, data }),
      () => (tokens ? [1, 'a'] : [[1], [2, 3]]),
      () => r.pick([null, undefined, 'x', {}, [], Symbol('s')]),
      () => ({ shape: tokens ? [0] : [0, I], data: arrayOf(m.dtype, 0) }),
    ];
    const k = r.int(hostile.length);
    // [T * I] with T = 1 is one step [I]: valid for a session, not for a batcher request.
    return { x: hostile[k](), data, want, T, valid: false, oneStep: k === 1 && !tokens && T === 1 };
  }

  /** model.forward of one sequence alone (a batch of one), in the model's layout. */
  function alone(spec, want, T) {
    const { m, tokens, I } = spec;
    const shape = tokens ? (m.batchFirst ? [1, T] : [T, 1]) : m.batchFirst ? [1, T, I] : [T, 1, I];
    return m.forward(tensor(want, shape, m.dtype));
  }

  const T = [];
  T.push({
    name: 'serve: a whole model through the batcher',
    make: () => {
      const spec = makeModel();
      const opts = { maxBatch: 1 + r.int(6), maxDelayMs: r.pick([0, 1, 3]) };
      const n = 1 + r.int(10);
      return {
        desc: `${spec.desc} ${JSON.stringify(opts)} n=${n}`,
        call: async () => {
          const b = createBatcher(spec.m, opts);
          const reqs = [];
          for (let i = 0; i < n; i++) {
            const q = request(spec);
            q.p = b.run(q.x);
            if (r.chance(0.5)) { const k = r.int(3); if (k === 0) q.data.fill(NaN); else if (k === 1) detach(q.data); }
            reqs.push(q);
          }
          const outcomes = await settleAll(reqs.map((q) => q.p), 'Batcher.run');
          await b.close();
          outcomes.forEach((o, i) => {
            const q = reqs[i];
            if (o.status === 'rejected') {
              checkError(o.reason, `request ${i}`);
              if (q.valid) violation(`request ${i}: a valid request was rejected: ${o.reason.message}`);
              return;
            }
            if (!q.valid) violation(`request ${i}: a hostile request resolved`);
            q.want0 = alone(spec, q.want, q.T);
            same(o.value.output.data, q.want0.output.data, `request ${i} output`);
            q.want0.state.forEach((s, k) => { if (s) same(o.value.state[k].h.data, s.h.data, `request ${i} state[${k}].h`); });
          });
          return outcomes;
        },
      };
    },
  });

  T.push({
    name: 'serve: a whole model through a session, step by step',
    make: () => {
      const spec = makeModel({ streamable: true });
      const batched = r.chance(0.5);
      return {
        desc: `${spec.desc} batched=${batched}`,
        call: async () => {
          const b = batched ? createBatcher(spec.m, { maxDelayMs: r.pick([0, 1]) }) : null;
          const s = createSession(b ?? spec.m);
          const q = request(spec);
          q.valid ||= !!q.oneStep;
          if (!q.valid) {
            const [o] = await settleAll([s.step(q.x)], 'Session.step');
            if (o.status === 'fulfilled') violation('a hostile step resolved');
            checkError(o.reason, 'Session.step');
          } else {
            const want = alone(spec, q.want, q.T);
            const per = spec.tokens ? 1 : spec.I;
            const steps = Array.from({ length: q.T }, (_, t) => (spec.tokens ? q.want[t] : q.want.slice(t * per, (t + 1) * per)));
            const outs = await settleAll(steps.map((x) => s.step(x)), 'Session.step');
            const last = outs.at(-1);
            if (outs.some((o) => o.status === 'rejected')) violation(`a valid step was rejected: ${outs.find((o) => o.status === 'rejected').reason}`);
            const f = want.output.data.length / (spec.m.layers.some((l) => l instanceof LastStep) ? 1 : q.T);
            same(last.value.data, want.output.data.slice(want.output.data.length - f), 'last step output');
          }
          if (b) await b.close();
          return q.valid;
        },
      };
    },
  });
  return T;
}
