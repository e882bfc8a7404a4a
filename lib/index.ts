// cellstate: LSTM (and, later, GRU and RNN) for Node.js with PyTorch's semantics and weight layout.

export { Tensor, tensor, zeros } from './tensor';
export type { DType, FloatArray, NestedNumbers, TensorLike } from './tensor';
export { LSTM, LSTMCache } from './nn/lstm';
export type { LSTMOptions, LSTMForwardOptions, LSTMOutput, LSTMGradOutputs, LSTMGradients } from './nn/lstm';
export { GRU } from './nn/gru';
export type { GRUOptions } from './nn/gru';
export { RNN } from './nn/rnn';
export type { RNNOptions } from './nn/rnn';
export { Recurrent, RecurrentCache } from './nn/recurrent';
export type { RecurrentOptions, ForwardOptions, RecurrentOutput, GradOutputs, RecurrentGradients, StepState } from './nn/recurrent';
export type { StateDictInput } from './nn/params';
export { backend, availableBackends, setThreads } from './backend';
export type { BackendInfo, BackendName } from './backend/types';
export { BackendUnavailableError, StaleCacheError } from './errors';
export { Rng } from './rng';
export { LSTMCell, GRUCell, RNNCell } from './nn/cells';
export type { CellOptions, CellState, CellGradients } from './nn/cells';
export { UnsupportedModelError } from './errors';
export { toOnnx } from './interop/onnx-export';
export type { ToOnnxOptions } from './interop/onnx-export';
export { fromOnnx, OnnxModel, recurrentFromOnnx } from './interop/onnx-import';
export type { FromOnnxOptions, OnnxFeed, OnnxRecurrentSpec, OnnxRecurrentLayer } from './interop/onnx-import';
export { decodeOnnxModel, encodeOnnxModel } from './io/onnx';
export type { OnnxModelProto, OnnxGraph, OnnxNode, OnnxAttribute, OnnxTensor, OnnxValueInfo } from './io/onnx';
