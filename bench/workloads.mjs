// The standard benchmark workloads and their FLOP counts (shared by the parent and the workers).

// cell: lstm (default) | gru; layers, bidir: the stacked / bidirectional rows; stream: one step
// per call (reported per step); quant: also run in bf16 and int8 (model.quantize, issue #21) and
// on the low-precision peers. GRU rows use the ONNX/Keras default candidate formula
// (linearBeforeReset: false), the one every peer implements. LN-LSTM rows: LayerNormLSTM (no peer
// has it: ours only), beside M and T2 for the cost of the layer norms; FLOPs counted as the LSTM's.
// activations: the LSTM's gate activations (issue #22); HS-M is M with TF.js's defaults
// (recurrent activation hardSigmoid), beside M for the cost of a non-default activation (ours off
// the fused kernel; TF.js and ONNX Runtime (HardSigmoid through toOnnx) run it too; PyTorch has none).
export const WORKLOADS = [
  { name: 'S1', kind: 'infer', B: 1, T: 100, I: 32, H: 64 },
  { name: 'S2', kind: 'infer', B: 1, T: 50, I: 256, H: 256, quant: true },
  { name: 'M', kind: 'infer', B: 32, T: 50, I: 256, H: 256, quant: true },
  { name: 'HS-M', kind: 'infer', B: 32, T: 50, I: 256, H: 256, activations: ['hardSigmoid', 'tanh', 'tanh'] },
  { name: 'L', kind: 'infer', B: 64, T: 50, I: 512, H: 512, quant: true },
  { name: 'XL', kind: 'infer', B: 16, T: 25, I: 1024, H: 1024, quant: true },
  { name: 'T1', kind: 'train', B: 32, T: 50, I: 128, H: 128 },
  { name: 'T2', kind: 'train', B: 64, T: 50, I: 256, H: 256 },
  { name: 'T3', kind: 'train', B: 32, T: 25, I: 512, H: 512 },
  { name: 'LN-LSTM-M', kind: 'infer', cell: 'lnlstm', B: 32, T: 50, I: 256, H: 256 },
  { name: 'LN-LSTM-T2', kind: 'train', cell: 'lnlstm', B: 64, T: 50, I: 256, H: 256 },
  { name: 'GRU-M', kind: 'infer', cell: 'gru', B: 32, T: 50, I: 256, H: 256, quant: true },
  { name: 'GRU-T2', kind: 'train', cell: 'gru', B: 64, T: 50, I: 256, H: 256 },
  { name: 'Bi2-M', kind: 'infer', layers: 2, bidir: true, B: 32, T: 50, I: 256, H: 256 },
  { name: 'Bi2-T2', kind: 'train', layers: 2, bidir: true, B: 64, T: 50, I: 256, H: 256 },
  { name: 'Stream', kind: 'stream', B: 1, T: 100, I: 256, H: 256, quant: true },
];

/** Forward: 2·B·T·G·(I_k + H) per layer-direction (G = 4H LSTM, 3H GRU); training step 3x forward. */
export function flops(w) {
  const G = (w.cell === 'gru' ? 3 : 4) * w.H, D = w.bidir ? 2 : 1;
  let f = 0;
  for (let k = 0; k < (w.layers ?? 1); k++) f += D * 2 * w.B * w.T * G * ((k === 0 ? w.I : D * w.H) + w.H);
  return w.kind === 'train' ? 3 * f : f;
}
