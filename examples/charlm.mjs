// A character language model: learn to continue a text one character at a time, then write.
//
// The text is the first paragraph of Lewis Carroll's "Alice's Adventures in Wonderland" (1865,
// public domain), kept in this file. It is far too short to learn English from, so this model
// learns *this* text: training stops once the loss on it falls below 0.3 nats per character
// (the character frequencies alone give 2.9), and the model then recites the paragraph
// from a short prime. For a real corpus the same code scales up; `cellstate demo` trains on the
// Brown Corpus.
//   Embedding (character id -> 24 numbers) -> LSTM (128) -> Linear (one logit per character)
//
// Run: node examples/charlm.mjs   (about 3 s on the native backend, 18 s on ts)

import os from 'node:os';
import path from 'node:path';
import { Adam, Embedding, Linear, LSTM, Rng, Sequential, Trainer, load, tensor } from 'cellstate';

const TEXT = `Alice was beginning to get very tired of sitting by her sister on the bank, and of having \
nothing to do: once or twice she had peeped into the book her sister was reading, but it had no \
pictures or conversations in it, "and what is the use of a book," thought Alice "without pictures \
or conversations?" So she was considering in her own mind (as well as she could, for the hot day \
made her feel very sleepy and stupid), whether the pleasure of making a daisy-chain would be worth \
the trouble of getting up and picking the daisies, when suddenly a White Rabbit with pink eyes ran \
close by her.`;
const TARGET_LOSS = 0.3; // nats per character

// The vocabulary: every distinct character; a character's id is its index.
const vocab = [...new Set(TEXT)].sort();
const ids = Array.from(TEXT, (ch) => vocab.indexOf(ch));

// Training samples: windows of 64 characters; the target at each step is the next character.
const SEQ = 64;
const samples = [];
for (let s = 0; s + SEQ + 1 <= ids.length; s += 4) samples.push({ x: ids.slice(s, s + SEQ), y: ids.slice(s + 1, s + SEQ + 1) });

const model = new Sequential({
  emb: new Embedding({ numEmbeddings: vocab.length, embeddingDim: 24, seed: 1 }),
  lstm: new LSTM({ inputSize: 24, hiddenSize: 128, seed: 2 }),
  head: new Linear({ inFeatures: 128, outFeatures: vocab.length, seed: 3 }),
});
console.log(`${vocab.length} characters, ${TEXT.length} characters of text, ${model.numParameters()} parameters`);

const trainer = new Trainer({ model, optimizer: new Adam(model, { lr: 0.01 }), loss: 'crossEntropy', seed: 4, clipNorm: 1 });
const history = await trainer.fit(samples, {
  epochs: 60,
  batchSize: 32,
  progress: 'none',
  callbacks: [{
    onEpochEnd(log, t) {
      if (log.epoch % 5 === 0) console.log(`epoch ${log.epoch}: loss ${log.loss.toFixed(3)} nats/char`);
      if (log.loss < TARGET_LOSS) t.stop();
    },
  }],
});
const { loss } = trainer.evaluate(samples);
console.log(`trained ${history.length} epochs; loss on the text: ${loss.toFixed(3)} nats/char (target < ${TARGET_LOSS})`);

// Save, and load it back as a user of the model would. The file holds the layers; the vocabulary
// is not in it (keep it beside the model, e.g. as JSON; here it is recomputed from TEXT).
const file = path.join(os.tmpdir(), 'cellstate-example-charlm.safetensors');
model.save(file);
const lm = load(file);

// Writing: feed the prime, then one character at a time, carrying the LSTM's state between calls.
// Each step draws the next character from softmax(logits / temperature) with a seeded generator.
function write(prime, length, temperature, seed) {
  const rng = new Rng(seed);
  let { output, state } = lm.forward(tensor(Array.from(prime, (ch) => vocab.indexOf(ch)), [prime.length, 1])); // ids [T, B=1]
  let text = prime;
  for (let i = 0; i < length; i++) {
    const logits = output.data.subarray(output.data.length - vocab.length); // the last step's [V]
    const max = Math.max(...logits);
    const p = Array.from(logits, (l) => Math.exp((l - max) / temperature));
    let u = rng.next() * p.reduce((a, b) => a + b), next = 0;
    while (next < p.length - 1 && (u -= p[next]) >= 0) next++; // walk the cumulative distribution
    text += vocab[next];
    ({ output, state } = lm.forward(tensor([next], [1, 1]), { state }));
  }
  return text;
}
console.log('--- temperature 0.3 ---');
console.log(write('Alice was ', 200, 0.3, 1));
if (!(loss < TARGET_LOSS)) process.exitCode = 1;
