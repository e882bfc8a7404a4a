// A character-level language model and its folder on disk.
//
// Model: Embedding(V, E) -> LSTM(E, H, numLayers L) -> Linear(H, V), a Sequential, so training
// uses the library's forwardTrain/backward and checkpoints are the library's format. Generation
// uses the same three layers one character at a time (embedding lookup, LSTM.step, dense head).
//
// Folder: checkpoint.safetensors (weights, Adam state, step and the batch generator's state;
// docs/file-formats.md#checkpoints-version-1) and charlm.json (the vocabulary, the sizes, the training settings),
// both written atomically. The vocabulary is the sorted set of code points of the training text.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Embedding, Linear, LSTM, Sequential, loadCheckpoint } from 'cellstate';
import { writeFileAtomic } from '../internals';

export const META_FORMAT = 'cellstate.charlm';
export const META_VERSION = 1;
export const CHECKPOINT_FILE = 'checkpoint.safetensors';
export const META_FILE = 'charlm.json';

export interface CharLMSizes {
  embed: number;
  hidden: number;
  layers: number;
}

/** Everything charlm.json holds. */
export interface CharLMMeta extends CharLMSizes {
  format: string;
  version: number;
  vocab: string[]; // one code point per entry, sorted; the id of a character is its index
  seqLen: number;
  batch: number;
  lr: number;
  seed: number;
  textSource: string;
  textChars: number;
}

export class CharLM {
  readonly vocab: readonly string[];
  readonly net: Sequential;
  readonly embedding: Embedding;
  readonly lstm: LSTM;
  readonly head: Linear;
  private readonly index: Map<string, number>;

  constructor(vocab: readonly string[], sizes: CharLMSizes, seed: number) {
    this.vocab = vocab;
    this.index = new Map(vocab.map((ch, i) => [ch, i]));
    const V = vocab.length;
    this.embedding = new Embedding({ numEmbeddings: V, embeddingDim: sizes.embed, seed });
    this.lstm = new LSTM({ inputSize: sizes.embed, hiddenSize: sizes.hidden, numLayers: sizes.layers, seed: seed + 1 });
    this.head = new Linear({ inFeatures: sizes.hidden, outFeatures: V, seed: seed + 2 });
    this.net = new Sequential([this.embedding, this.lstm, this.head]);
  }

  idOf(ch: string): number | undefined {
    return this.index.get(ch);
  }

  /** Characters of `text` the vocabulary lacks (each once), in order of appearance. */
  unknownChars(text: string): string[] {
    const seen = new Set<string>();
    for (const ch of text) if (!this.index.has(ch)) seen.add(ch);
    return [...seen];
  }

  /** Text -> ids; every character must be in the vocabulary (check unknownChars first). */
  encode(text: string): Int32Array {
    const chars = Array.from(text);
    const ids = new Int32Array(chars.length);
    chars.forEach((ch, i) => {
      const id = this.index.get(ch);
      if (id === undefined) throw new RangeError(`CharLM.encode: character ${JSON.stringify(ch)} is not in the vocabulary`);
      ids[i] = id;
    });
    return ids;
  }
}

export function vocabularyOf(text: string): string[] {
  return [...new Set(Array.from(text))].sort();
}

/** charlm.json of a model folder, or null if there is none. Throws on a malformed file. */
export function readMeta(dir: string): CharLMMeta | null {
  const file = path.join(dir, META_FILE);
  if (!fs.existsSync(file)) return null;
  let m: CharLMMeta;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8')) as CharLMMeta;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const posInt = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
  if (!m || m.format !== META_FORMAT) throw new Error(`${file}: not a cellstate character model (format ${JSON.stringify(m?.format)}, expected "${META_FORMAT}")`);
  if (m.version !== META_VERSION) throw new Error(`${file}: version ${JSON.stringify(m.version)} is not supported (this version reads ${META_VERSION})`);
  if (!Array.isArray(m.vocab) || m.vocab.length < 2 || !m.vocab.every((c) => typeof c === 'string' && Array.from(c).length === 1) ||
    !['embed', 'hidden', 'layers', 'seqLen', 'batch'].every((k) => posInt((m as unknown as Record<string, unknown>)[k]))) {
    throw new Error(`${file}: malformed (vocab, embed, hidden, layers, seqLen, batch)`);
  }
  return m;
}

export function writeMeta(dir: string, meta: CharLMMeta): void {
  writeFileAtomic(path.join(dir, META_FILE), [Buffer.from(JSON.stringify(meta, null, 1) + '\n', 'utf8')]);
}

/** A trained model from its folder, weights loaded (no optimizer state), for generation. */
export function loadCharLM(dir: string): { model: CharLM; meta: CharLMMeta; step: number } {
  const meta = readMeta(dir);
  const ckpt = path.join(dir, CHECKPOINT_FILE);
  if (!meta || !fs.existsSync(ckpt)) throw new Error(`${dir}: no trained model here (expected ${META_FILE} and ${CHECKPOINT_FILE}; train one with \`cellstate train\` or \`cellstate demo\`)`);
  const model = new CharLM(meta.vocab, meta, meta.seed);
  const ck = loadCheckpoint(ckpt, { model: model.net });
  return { model, meta, step: ck.trainer?.step ?? 0 };
}
