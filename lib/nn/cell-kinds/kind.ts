// A cell kind as a plug-in: everything the shared recurrent machinery (lib/nn/recurrent.ts) needs
// to know about one kind, so that recurrent.ts names no kind. One descriptor per kind (lstm.ts,
// gru.ts, rnn.ts here); its kernels are lib/backend/ts/<kind>.ts and native/cell/<kind>_cell.cc,
// its equations a section of docs/equations.md.
//
// S is the kind's own settings: the options it reads beyond the common ones, validated.

import type { CellGrads, CellKind, CellParams, GateActivation } from '../../backend/types';
import type { FloatArray } from '../../tensor';
import type { Options } from '../options';

/** The part of CellParams a kind decides (the rest is common: sizes, W_ih, W_hh, biases, clip). */
export type KindParams = Pick<CellParams, 'kind' | 'projSize' | 'weightHr' | 'peephole' | 'inputForget' | 'linearBeforeReset' | 'flags' | 'activations'>;
/** The part of CellGrads a kind decides: its extra parameters' gradients. */
export type KindGrads = Pick<CellGrads, 'dWeightHr' | 'dPeephole'>;

export interface CellDescriptor<S> {
  /** The layer's name in messages and its `type` in a model file: 'LSTM', 'GRU', 'RNN'. */
  readonly name: string;
  /** Construction options of this kind beyond recurrent.ts's COMMON_KEYS. */
  readonly optionKeys: readonly string[];
  /** Whether the kind carries a cell state c beside h (c0, cN, dCN, dC0). */
  readonly hasCellState: boolean;
  /** Read the kind's options (before the common ones are checked). */
  read(o: Options): S;
  /** Checks that need the common options (after they are read); throws argument errors. */
  validate(s: S, hiddenSize: number): void;
  /** The backend kind the settings select (its gate count: gateCount(kind), from the addon schema). */
  kind(s: S): CellKind;
  /** Units of h (Hout). */
  outSize(s: S, hiddenSize: number): number;
  /** The option that sets outSize, for messages: 'hiddenSize', or an LSTM's 'projSize'. */
  outSizeOption(s: S): string;
  /**
   * Parameters of one layer-direction after weight_ih, weight_hh, bias_ih, bias_hh, in PyTorch's
   * named_parameters() order, without the _l{k}{_reverse} suffix. `init`: the value it starts at
   * (a layer norm's gain 1, its bias 0), else drawn like the weights.
   */
  extraParams(s: S, hiddenSize: number, outSize: number): { name: string; shape: number[]; init?: number }[];
  /**
   * The kind's part of one layer-direction's CellParams; get(name) is that parameter's storage.
   * Its `flags` are the options the addon schema declares for the kind (scripts/addon-schema.js,
   * test/cell-kinds.test.mjs checks they agree); recurrent.ts adds `extra` from extraParams.
   */
  params(s: S, get: (name: string) => FloatArray): KindParams;
  /** The kind's part of one layer-direction's CellGrads; get(name) is that gradient's storage. */
  grads(s: S, get: (name: string) => FloatArray): KindGrads;
  /** The gate activations of the settings, in the kind's ONNX slots (gate-activations.ts). */
  activations(s: S): readonly GateActivation[];
  /** The kind's options in a model file's config, those at their defaults left out. */
  config(s: S): Record<string, unknown>;
  /**
   * Optional: set one layer-direction's initial values after the uniform draw (e.g. the LSTM's
   * forget-gate bias); get(name) is that parameter's storage or null when the layer has none;
   * rng a stream of its own (drawing from it moves no other draw).
   */
  init?(s: S, hiddenSize: number, get: (name: string) => FloatArray | null, rng: { uniform(lo: number, hi: number): number }): void;
}
