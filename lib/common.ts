// The API that Node (./index.ts) and a browser (./browser.ts) share: tensors, the layers and
// models, training, the in-memory model formats (model bytes, safetensors, ONNX, TF.js), the ts and
// wasm backends. Nothing here needs a file or a thread; what does is exported by ./index.ts alone.
// (The modules here may import ones that do, behind a seam: a module `X.ts` with a sibling
// `X.browser.ts` is replaced by it in the browser build, scripts/build-browser.mjs.)

export { Tensor, tensor, zeros, MAX_ELEMENTS, maxElements, setMaxElements } from './tensor';
export type { DType, FloatArray, NestedNumbers, TensorLike } from './tensor';
export { LSTM, LSTMCache } from './nn/lstm';
export type { LSTMOptions, LSTMForwardOptions, LSTMOutput, LSTMGradOutputs, LSTMGradients, LSTMTrainOutput, LSTMStepResult } from './nn/lstm';
export { LayerNormLSTM } from './nn/lnlstm';
export type { LayerNormLSTMOptions } from './nn/lnlstm';
export { GRU } from './nn/gru';
export type { GRUOptions } from './nn/gru';
export { RNN } from './nn/rnn';
export type { RNNOptions } from './nn/rnn';
export { Recurrent, RecurrentCache, MAX_LAYERS } from './nn/recurrent';
export type { ActivationOption, ActivationName, GateActivation } from './nn/gate-activations';
export type { RecurrentOptions, ForwardOptions, RecurrentOutput, GradOutputs, RecurrentGradients, StepState, InspectedLayer, Inspection, StateGradients, StepGradients } from './nn/recurrent';
export type { StateDictInput, StateDictEntry, ParamSpec } from './nn/params';
export { backend, availableBackends, setThreads } from './backend';
export { init } from './init';
export type { InitOptions, WasmSource } from './init';
export type { BackendInfo, BackendName, Precision } from './backend/types';
export { BackendUnavailableError, QuantizedModelError, StaleCacheError } from './errors';
export type { ErrorCode, CodedRangeError } from './errors';
export { Rng } from './rng';
export type { RngState } from './rng';
export { LSTMCell, GRUCell, RNNCell } from './nn/cells';
export type { CellOptions, CellState, CellGradients } from './nn/cells';

// Training toolkit
export { Linear, LinearCache } from './nn/linear';
export type { LinearOptions } from './nn/linear';
export { Embedding, EmbeddingCache } from './nn/embedding';
export type { EmbeddingOptions } from './nn/embedding';
export { Tanh, Sigmoid, ReLU, Softmax, ActivationCache } from './nn/activations';
export type { Activation } from './nn/activations';
export { Dropout, DropoutCache } from './nn/dropout';
export { LayerNorm, LayerNormCache } from './nn/layer-norm';
export type { LayerNormOptions } from './nn/layer-norm';
export { LastStep, LastStepCache } from './nn/last-step';
export { Sequential, SequentialCache } from './nn/sequential';
export type { SequentialState, RecurrentState, SequentialForwardOptions } from './nn/sequential';
export type { PredictInput, PredictOptions } from './nn/predict';
export type { Layer, LayerConfig, LayerOutput, LayerGradients, LayerForwardOptions, RecurrentLayer } from './nn/layer';
export { mseLoss, l1Loss, huberLoss, crossEntropy, bceWithLogits } from './train/losses';
export type { LossResult, CrossEntropyOptions, MaskOption } from './train/losses';
export { Optimizer, SGD, Adam, AdamW, RMSprop } from './train/optim';
export type { OptimizerState, OptimizerKind, SGDOptions, AdamOptions, RMSpropOptions, Parameterized } from './train/optim';
export { constantLR, stepLR, exponentialLR, cosineLR, warmup } from './train/schedule';
export type { Schedule } from './train/schedule';
export { clipGradNorm, clipGradValue, gradNorm } from './train/clip';
export { encodeSafetensors, decodeSafetensors, toTensors, SafetensorsError, MAX_HEADER_BYTES } from './io/safetensors';
export type { SafetensorsFile, SafetensorsTensor, ToTensorsOptions, RawTensor } from './io/safetensors';
export { CHECKPOINT_FORMAT, CHECKPOINT_VERSION } from './train/checkpoint';
export type { Checkpoint, TrainerState, CheckpointModel } from './train/checkpoint';
export { Trainer, NonFiniteError } from './train/fit';
export type { TrainerOptions, FitOptions, StepBatch, StepResult, Callback, EarlyStopping, LossName, LossFn, TrainableModel, TensorData, EvaluateOptions, EvaluateResult, TrainerPredictOptions } from './train/fit';
export type { Metric, MetricFn } from './train/metrics';
export type { Sample, Targets, Step } from './train/batch';
export type { EpochLog, ProgressMode, ProgressStream } from './train/progress';

// Interop
export { UnsupportedModelError } from './errors';
export { toOnnx } from './interop/onnx-export';
export { encodeModel, MODEL_FORMAT } from './io/model-file';
export { load } from './io/load-model';
export type { Model } from './io/load-model';
export type { SavableModel } from './io/model-file';
export type { ToOnnxOptions } from './interop/onnx-export';
export { fromOnnx, OnnxModel, recurrentFromOnnx } from './interop/onnx-import';
export type { FromOnnxOptions, OnnxFeed, OnnxRecurrentSpec, OnnxRecurrentLayer } from './interop/onnx-import';
export { decodeOnnxModel, encodeOnnxModel } from './io/onnx';
export type { OnnxModelProto, OnnxGraph, OnnxNode, OnnxAttribute, OnnxTensor, OnnxValueInfo } from './io/onnx';
export { loadTfjsModel } from './interop/tfjs';
export type { TfjsModelSource, LoadTfjsOptions, Bytes } from './interop/tfjs';
export { encodeTfjs } from './interop/tfjs-export';
export type { TfjsArtifacts, TfjsModelJson, TfjsWeightSpec, ToTfjsOptions } from './interop/tfjs-export';
// Imported-model containers (interop): named apart from the training toolkit's Layer interface.
