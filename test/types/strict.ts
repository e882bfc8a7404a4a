// Compiled by test/types.test.mjs with `tsc --strict --noEmit` against the published .d.ts files:
// what the README and a strict TypeScript user write must type-check without casts.
import { LSTM, Linear, LastStep, Sequential, Tensor, readSafetensors, toTensors, writeSafetensors } from 'cellstate';

// The README's PyTorch snippet: toTensors gives a Map, which loadStateDict takes.
const lstm = new LSTM({ inputSize: 32, hiddenSize: 64, numLayers: 2 });
lstm.loadStateDict(toTensors(readSafetensors('lstm.safetensors')));
writeSafetensors('lstm-out.safetensors', lstm.stateDict());

// Maps and plain objects wherever a state dict is taken, for every layer and for Sequential.
const net = new Sequential([new LSTM({ inputSize: 3, hiddenSize: 4, batchFirst: true }), new LastStep({ batchFirst: true }), new Linear({ inFeatures: 4, outFeatures: 2 })]);
const weights: Map<string, Tensor> = new Map(Object.entries(net.stateDict()));
net.loadStateDict(weights);
net.loadStateDict(net.stateDict());
net.layers[1].loadStateDict(new Map());
const named = new Sequential({ lstm: new LSTM({ inputSize: 3, hiddenSize: 4 }), fc: new Linear({ inFeatures: 4, outFeatures: 1 }) });
named.loadStateDict(new Map(Object.entries(named.stateDict())));
const names: readonly string[] = named.layerNames;
const n: number = net.numParameters();
const text: string = net.summary() + String(net) + lstm.toString();
const first: boolean = net.batchFirst;
export { n, text, first, names };
