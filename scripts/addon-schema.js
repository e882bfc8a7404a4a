// The one declaration of the addon's call descriptors and of the codes both sides share. Nothing
// reads this file at run time: `node scripts/gen-addon-schema.js` writes it out as TypeScript
// (lib/backend/schema.gen.ts) and C++ (native/cell/cell_codes.gen.h, native/napi/schema.gen.h),
// and test/schema.test.mjs fails when a generated file differs from what this file gives, or when
// the built addon's tables (addon.schema()) differ from the TypeScript ones.
//
// A call crosses as a fixed typed header and then its buffers, in the order declared here:
//   fn(header: Float64Array [header fields], buffer0, buffer1, ...)
// (no header argument when a call declares no header fields; a pair call is two such descriptors
// back to back). Header fields are numbers: `dim` an integer size, index or offset, `flag` 0 or 1,
// `number` any float64, `code` an integer code (the ranges are checked by the addon, per call).
// Buffers: `f32` a Float32Array, `i32` an Int32Array, `cell` packed weights from cellPrepare,
// `f32list` an Array of Float32Arrays, `cellParams` an Array of one cell kind's parameters
// (Float32Array or null each, laid out and checked by cellParams and the kind's declaration
// below), `qParams` the same list with a quantized matrix (Uint16Array bf16 bit patterns or
// Int8Array, by the precision) in place of each matrix parameter, null elsewhere; `required` must be there, `optional` may be null, `when`
// must be there exactly when the cell has it (else null). Why a header rather than an object with
// named properties: N-API reads a named property in ~65 ns (measured: 18 named fields cost 1.2 µs
// more per call than 18 positional arguments), while one Float64Array costs one lookup.
// Every export with arguments is declared here; info() and schema() take none (their results are
// typed in lib/backend/native.ts).
'use strict';

const dim = (name, doc) => ({ name, kind: 'dim', doc });
const flag = (name, doc) => ({ name, kind: 'flag', doc });
const number = (name, doc) => ({ name, kind: 'number', doc });
const code = (name, doc) => ({ name, kind: 'code', doc });
const buf = (name, dtype, presence, doc) => ({ name, dtype, presence, doc });

const seq = [
  dim('T', 'steps'), dim('B', 'batch entries'),
  dim('rowT', 'row stride of a step: B (time-major) or 1 (batch-first)'),
  dim('rowB', 'row stride of a batch entry: 1 (time-major) or T (batch-first)'),
  flag('reverse', 'run t = T-1 .. 0'),
];

module.exports = {
  /**
   * The parameters of every cell kind, first in cellPrepare's `params` (and their gradients in
   * cellBackward's `grads`), in PyTorch's named_parameters() order. A parameter: its name (the
   * model's, without the _l{k}{_reverse} suffix), its shape in I (inputs), H (hidden units), P
   * (Hout: the projection size, or H) and G (gates * H), and when it is there: `always`,
   * `optional` (null allowed: a layer without biases), `projection` (exactly when P < H) or the
   * name of one of the kind's flags (exactly when that flag is set).
   */
  cellParams: [
    { name: 'weight_ih', shape: ['G', 'I'], when: 'always' },
    { name: 'weight_hh', shape: ['G', 'P'], when: 'always' },
    { name: 'bias_ih', shape: ['G'], when: 'optional' },
    { name: 'bias_hh', shape: ['G'], when: 'optional' },
  ],
  /**
   * Cell kinds: the code the addon takes, the gate blocks of H rows each, whether it carries a
   * cell state c beside h (c0, cN, dcN, dc0 are there exactly then), whether it takes a
   * projection (cellPrepare's P > 0), its options (bits of cellPrepare's `flags`, each kind its
   * own: the k-th declared is bit 1 << k) and its parameters after the common ones (cellParams,
   * same form), in the order they cross. A new kind is one entry here, its C++ file
   * (native/cell/) and its TypeScript descriptor (lib/nn/cell-kinds/).
   */
  cellKinds: [
    {
      name: 'lstm', code: 0, gates: 4, cellState: true, projection: true,
      flags: [
        { name: 'peephole', doc: 'peephole connections (ONNX semantics)' },
        { name: 'inputForget', doc: 'coupled input-forget gate: f = 1 - i' },
      ],
      params: [
        { name: 'weight_hr', shape: ['P', 'H'], when: 'projection' },
        { name: 'peephole_i', shape: ['H'], when: 'peephole' },
        { name: 'peephole_f', shape: ['H'], when: 'peephole' },
        { name: 'peephole_o', shape: ['H'], when: 'peephole' },
      ],
    },
    {
      name: 'gru', code: 1, gates: 3, cellState: false, projection: false,
      flags: [{ name: 'linearBeforeReset', doc: 'PyTorch formula r * (W_hn h + b_hn); else ONNX\'s W_hn (r * h) + b_hn' }],
      params: [],
    },
    { name: 'rnn_tanh', code: 2, gates: 1, cellState: false, projection: false, flags: [], params: [] },
    { name: 'rnn_relu', code: 3, gates: 1, cellState: false, projection: false, flags: [], params: [] },
    {
      // Layer-normalised LSTM (TF Addons' LayerNormLSTMCell): LN over the 4H input and recurrent
      // pre-activations, LN over the new cell state (docs/equations.md, "Layer-normalised LSTM").
      name: 'lnlstm', code: 4, gates: 4, cellState: true, projection: false,
      flags: [{ name: 'torchEpsilon', doc: 'layer-norm epsilon 1e-5 (PyTorch LayerNorm); else 1e-3 (TF Addons norm_epsilon)' }],
      params: [
        { name: 'ln_ih_weight', shape: ['G'], when: 'always' },
        { name: 'ln_ih_bias', shape: ['G'], when: 'always' },
        { name: 'ln_hh_weight', shape: ['G'], when: 'always' },
        { name: 'ln_hh_bias', shape: ['G'], when: 'always' },
        { name: 'ln_c_weight', shape: ['H'], when: 'always' },
        { name: 'ln_c_bias', shape: ['H'], when: 'always' },
      ],
    },
  ],
  /**
   * Weight precisions (issue #21, docs/equations.md "Low precision"): cellPrepare's `precision`.
   * Not fp32: every matrix parameter (shape of two dims: W_ih, W_hh, W_hr) crosses quantized in
   * qparams (and, int8, its row scales in qscales) and is null in params.
   */
  precisions: [
    { name: 'fp32', code: 0 },
    { name: 'bf16', code: 1 },
    { name: 'int8', code: 2 },
  ],
  /**
   * Gate activations (issue #22; docs/equations.md, "Gate activations"): ONNX's RNN activation
   * functions, as cellPrepare's act0..act2 number them. `alpha` / `beta`: whether the function
   * reads that parameter (ONNX's activation_alpha / activation_beta are consumed only by those).
   * A kind's slots, in ONNX order: LSTM [f (i, f, o), g (candidate), h (applied to c)], GRU
   * [f (z, r), g (candidate n)], RNN [f]; unused slots cross as their kind's default.
   */
  activations: [
    { name: 'sigmoid', code: 0, onnx: 'Sigmoid', alpha: false, beta: false },
    { name: 'tanh', code: 1, onnx: 'Tanh', alpha: false, beta: false },
    { name: 'relu', code: 2, onnx: 'Relu', alpha: false, beta: false },
    { name: 'hardSigmoid', code: 3, onnx: 'HardSigmoid', alpha: true, beta: true },
    { name: 'affine', code: 4, onnx: 'Affine', alpha: true, beta: true },
    { name: 'leakyRelu', code: 5, onnx: 'LeakyRelu', alpha: true, beta: false },
    { name: 'thresholdedRelu', code: 6, onnx: 'ThresholdedRelu', alpha: true, beta: false },
    { name: 'scaledTanh', code: 7, onnx: 'ScaledTanh', alpha: true, beta: true },
    { name: 'elu', code: 8, onnx: 'Elu', alpha: true, beta: false },
    { name: 'softsign', code: 9, onnx: 'Softsign', alpha: false, beta: false },
    { name: 'softplus', code: 10, onnx: 'Softplus', alpha: false, beta: false },
  ],
  calls: {
    setThreads: {
      doc: 'the pool size for later calls (returns at once; a call in flight keeps its threads)',
      header: [dim('threads', '1..1024')], buffers: [],
    },
    fmaPeak: {
      doc: 'GFLOP/s of an FP32 FMA throughput probe on that many threads (the benchmark\'s peak)',
      returns: 'number', header: [dim('threads', '1..1024')], buffers: [],
    },
    firstNonFinite: {
      doc: 'index of the first NaN or ±Inf in a, or -1 (the API\'s input check)',
      returns: 'number', header: [], buffers: [buf('a', 'f32', 'required', 'any length')],
    },
    sgemm: {
      doc: 'test hook, not API: the library GEMM C = op(A) op(B) (+ C), packed = pack op(B) first',
      header: [flag('transA'), flag('transB'), dim('M'), dim('N'), dim('K'),
        dim('aOffset'), dim('lda'), dim('bOffset'), dim('ldb'), number('beta', '0 or 1'),
        dim('cOffset'), dim('ldc'), flag('packed')],
      buffers: [buf('A', 'f32', 'required'), buf('B', 'f32', 'required'), buf('C', 'f32', 'required', 'written')],
    },
    cellPrepare: {
      doc: 'packs one layer-direction\'s weights; returns the cell handle', returns: 'NativeHandle',
      header: [
        code('kind', 'a cell kind code'), dim('I', 'inputs'), dim('H', 'hidden units'),
        dim('P', 'projection size: 0 = none, else 1..H-1 (a kind with projection)'), code('flags', 'the kind\'s flag bits'),
        number('clip', 'bound on every gate pre-activation; 0 = none'),
        code('precision', 'a precision code: the weights\' format'),
        ...[0, 1, 2].flatMap((k) => [
          code(`act${k}`, `gate activation slot ${k}: an activation code (the kind's default where unused)`),
          number(`alpha${k}`, `its alpha (finite; 0 where unused)`), number(`beta${k}`, `its beta (finite; 0 where unused)`),
        ]),
      ],
      buffers: [
        buf('params', 'cellParams', 'required', 'cellParams then the kind\'s params, null where absent (and, quantized, for every matrix)'),
        buf('qparams', 'qParams', 'optional', 'quantized: the matrices, same order (null for vectors and where absent); fp32: null'),
        buf('qscales', 'cellParams', 'optional', 'int8: the row scales [rows] of each matrix in qparams, same order; else null'),
      ],
    },
    cellRelease: {
      doc: 'drops the handle\'s packed weights now (calls in flight keep theirs)',
      header: [],
      buffers: [buf('w', 'cell', 'required', 'the cell handle (released twice is harmless)')],
    },
    cellCacheSize: {
      doc: 'floats of the training cache of one forward over T x B rows', returns: 'number',
      header: [dim('T', 'steps'), dim('B', 'batch entries')],
      buffers: [buf('w', 'cell', 'required', 'the cell handle')],
    },
    cellForward: {
      doc: 'forward over all steps of one layer-direction (training when cache is given)',
      pair: true, async: true,
      header: [...seq,
        dim('xOffset', 'x element of row 0'), dim('ldx', 'x row stride (>= I)'),
        dim('yOffset', 'y element of row 0'), dim('ldy', 'y row stride (>= Hout)')],
      buffers: [
        buf('w', 'cell', 'required', 'the cell handle'),
        buf('lengths', 'i32', 'optional', '[B] in [1, T]; null = all T'),
        buf('x', 'f32', 'required', 'rows of I'), buf('y', 'f32', 'required', 'rows of Hout, written'),
        buf('h0', 'f32', 'optional', '[B, Hout]; null = 0'), buf('c0', 'f32', 'optional', '[B, H] (a kind with a cell state; else null); null = 0'),
        buf('hN', 'f32', 'required', '[B, Hout], written'), buf('cN', 'f32', 'when', '[B, H], written (a kind with a cell state)'),
        buf('cache', 'f32', 'optional', '[cellCacheSize(w, T, B)], written; null = inference'),
      ],
    },
    cellBackward: {
      doc: 'BPTT through the steps of one training forward; parameter gradients ACCUMULATED',
      pair: true, async: true,
      header: [...seq,
        dim('xOffset', 'x element of row 0'), dim('ldx', 'x row stride (>= I)'),
        dim('dyOffset', 'dy element of row 0'), dim('lddy', 'dy row stride (>= Hout)'),
        dim('dxOffset', 'dx element of row 0'), dim('lddx', 'dx row stride (>= I)')],
      buffers: [
        buf('w', 'cell', 'required', 'the cell handle'),
        buf('lengths', 'i32', 'optional', '[B] in [1, T]; null = all T'),
        buf('x', 'f32', 'required', 'the rows the training forward read'),
        buf('cache', 'f32', 'required', 'what the training forward kept'),
        buf('dy', 'f32', 'optional', 'upstream rows of Hout; null = 0'),
        buf('dhN', 'f32', 'optional', '[B, Hout]; null = 0'), buf('dcN', 'f32', 'optional', '[B, H] (a kind with a cell state; else null); null = 0'),
        buf('dx', 'f32', 'optional', 'rows of I, ACCUMULATED; null = not wanted'),
        buf('dh0', 'f32', 'required', '[B, Hout], written'), buf('dc0', 'f32', 'when', '[B, H], written (a kind with a cell state)'),
        buf('grads', 'cellParams', 'required', 'the gradients of cellPrepare\'s params, same order and presence, ACCUMULATED'),
      ],
    },
    optimSgd: {
      doc: 'one SGD step over every parameter (lib/train/optim-math.ts has the math)',
      header: [number('lr'), number('momentum'), number('dampening'), number('weightDecay'),
        flag('nesterov'), flag('first', 'the first step: the momentum buffer starts as the gradient')],
      buffers: [buf('params', 'f32list', 'required'), buf('grads', 'f32list', 'required'),
        buf('bufs', 'f32list', 'optional', 'momentum buffers; required when momentum != 0')],
    },
    optimAdam: {
      doc: 'one Adam / AdamW step over every parameter',
      header: [number('lr'), number('beta1'), number('beta2'), number('eps'), number('weightDecay'),
        flag('decoupled', 'AdamW weight decay'), number('biasCorrection1', '1 - beta1^t (> 0)'),
        number('biasCorrection2Sqrt', 'sqrt(1 - beta2^t) (> 0)')],
      buffers: [buf('params', 'f32list', 'required'), buf('grads', 'f32list', 'required'),
        buf('expAvg', 'f32list', 'required'), buf('expAvgSq', 'f32list', 'required')],
    },
    optimRmsprop: {
      doc: 'one RMSprop step over every parameter',
      header: [number('lr'), number('alpha'), number('eps'), number('weightDecay'), number('momentum'), flag('centered')],
      buffers: [buf('params', 'f32list', 'required'), buf('grads', 'f32list', 'required'),
        buf('squareAvg', 'f32list', 'required'), buf('gradAvg', 'f32list', 'optional', 'required when centered'),
        buf('momentumBuffer', 'f32list', 'optional', 'required when momentum > 0')],
    },
  },
};
