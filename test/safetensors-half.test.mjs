// Half-precision safetensors (a PyTorch state dict saved after .half() or .to(torch.bfloat16)):
// readSafetensors keeps the F16 / BF16 bit patterns, toTensors(..., { dtype }) widens them exactly,
// and the widened state dict runs our model as torch runs its widened one. Every expected number
// is PyTorch's (test/fixtures/half/gen_half.py): the widened values bit for bit, a digest of the
// widening of all 65536 patterns per dtype, and the float32 forward output.
import { expect } from 'chai';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors, Linear, LSTM, readSafetensors, SafetensorsError, tensor, toTensors } from 'cellstate';
import { backendCases } from './helpers/backends.mjs';

const FIX = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'half');
const expected = JSON.parse(fs.readFileSync(path.join(FIX, 'expected.json'), 'utf8'));
const f32 = (bits) => new Float32Array(Int32Array.from(bits).buffer);

/** A safetensors image of one tensor `w` of raw 16-bit patterns, as a file holds it. */
function halfFile(dtype, patterns) {
  const data = Buffer.alloc(2 * patterns.length);
  patterns.forEach((p, i) => data.writeUInt16LE(p, 2 * i));
  let header = JSON.stringify({ w: { dtype, shape: [patterns.length], data_offsets: [0, data.length] } });
  header += ' '.repeat((8 - ((8 + header.length) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return new Uint8Array(Buffer.concat([len, Buffer.from(header), data]));
}

for (const [tag, dtype] of [['f16', 'F16'], ['bf16', 'BF16']]) {
  describe(`safetensors ${dtype} (PyTorch ${tag === 'f16' ? '.half()' : 'bfloat16'} state dict)`, function () {
    const file = path.join(FIX, `state-${tag}.safetensors`);
    const want = expected[tag];

    it('readSafetensors keeps the bit patterns; toTensors without dtype refuses them, naming the option', function () {
      const f = readSafetensors(file);
      const w = f.tensors.get('weight_ih_l0');
      expect(w.dtype).to.equal(dtype);
      expect(w.data).to.be.instanceOf(Uint16Array);
      expect(w.shape).to.deep.equal([16, 3]);
      expect(() => toTensors(f)).to.throw(SafetensorsError, new RegExp(`has dtype ${dtype}; only F32 and F64 load as Tensors \\(pass \\{ dtype: 'float32' \\} to widen F16 / BF16 exactly; see docs/interop.md#pytorch-and-safetensors\\)`));
    });

    it("toTensors(f, { dtype: 'float32' }) widens every value exactly as torch's .float() does (±0, subnormals, extremes)", function () {
      const got = toTensors(readSafetensors(file), { dtype: 'float32' });
      expect([...got.keys()].sort()).to.deep.equal(Object.keys(want.widened).sort());
      for (const [name, t] of Object.entries(want.widened)) {
        const g = got.get(name);
        expect(g.dtype, name).to.equal('float32');
        expect(g.shape, name).to.deep.equal(t.shape);
        expect(Array.from(new Int32Array(g.data.buffer, g.data.byteOffset, g.data.length)), name).to.deep.equal(t.f32_bits);
      }
      const edge = got.get('edge').data;
      expect(Object.is(edge[0], 0) && Object.is(edge[1], -0), '+0 and -0 kept apart').to.equal(true);
      expect(edge[2]).to.equal(tag === 'f16' ? 2 ** -24 : 2 ** -133); // the smallest subnormal
      // And with the source named in the second argument (the older signature) plus options.
      expect(toTensors(readSafetensors(file), 'my.safetensors', { dtype: 'float32' }).get('edge').data).to.deep.equal(edge);
    });

    it("{ dtype: 'float64' } widens to the same values in float64", function () {
      const got = toTensors(readSafetensors(file), { dtype: 'float64' });
      const edge = got.get('edge');
      expect(edge.dtype).to.equal('float64');
      expect(Array.from(edge.data)).to.deep.equal(Array.from(f32(want.widened.edge.f32_bits)));
    });

    it('the widening of all 65536 bit patterns equals torch\'s (SHA-256 of the float32 table)', function () {
      const all = Array.from({ length: 65536 }, (_, b) => b);
      const finite = all.filter((b) => (b & (tag === 'f16' ? 0x7c00 : 0x7f80)) !== (tag === 'f16' ? 0x7c00 : 0x7f80));
      const widened = toTensors(decodeSafetensors(halfFile(dtype, finite)), { dtype: 'float32' }).get('w').data;
      const table = new Float32Array(65536); // the ±Inf / NaN patterns stay 0, as in the generator
      finite.forEach((b, i) => { table[b] = widened[i]; });
      expect(crypto.createHash('sha256').update(new Uint8Array(table.buffer)).digest('hex')).to.equal(want.all_patterns_sha256);
      expect(finite.length).to.equal(65536 - (tag === 'f16' ? 2 * 1024 : 2 * 128)); // ± and every fraction of the top exponent
    });

    it('the widened state dict runs an LSTM + Linear head as torch runs its widened model', function () {
      const sd = toTensors(readSafetensors(file), { dtype: 'float32' });
      const x = f32(expected.input.f32_bits);
      const y = f32(want.output.f32_bits);
      for (const { backend } of backendCases().filter((c) => c.dtype === 'float32')) {
        const lstm = new LSTM({ inputSize: 3, hiddenSize: 4, batchFirst: true, seed: 1, backend });
        lstm.loadStateDict(Object.fromEntries([...sd].filter(([k]) => !k.startsWith('head.') && k !== 'edge')));
        const head = new Linear({ inFeatures: 4, outFeatures: 2, seed: 2 });
        head.loadStateDict({ weight: sd.get('head.weight'), bias: sd.get('head.bias') });
        const out = head.forward(lstm.forward(tensor(x, expected.input.shape)).output).output;
        expect(out.shape).to.deep.equal(want.output.shape);
        let d = 0;
        for (let i = 0; i < y.length; i++) d = Math.max(d, Math.abs(out.data[i] - y[i]));
        expect(d, `${backend}: max |ours - torch|`).to.be.below(1e-6);
      }
    });

    it('±Infinity and NaN are refused naming the tensor, the value and its index', function () {
      const [inf, ninf, nan] = tag === 'f16' ? [0x7c00, 0xfc00, 0x7e00] : [0x7f80, 0xff80, 0x7fc0];
      for (const [bits, what] of [[inf, 'Infinity'], [ninf, '-Infinity'], [nan, 'NaN']]) {
        const f = decodeSafetensors(halfFile(dtype, [tag === 'f16' ? 0x3c00 : 0x3f80, 0, bits]));
        for (const d of ['float32', 'float64']) {
          expect(() => toTensors(f, { dtype: d, source: 'w.safetensors' })).to.throw(SafetensorsError,
            `w.safetensors: tensor 'w' (${dtype}) holds ${what} (bits 0x${bits.toString(16)}) at flat index 2; weights must be finite`);
        }
      }
    });
  });
}

describe('toTensors: dtype option', function () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-half-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("F32 widens to float64 exactly; F64 is refused with dtype 'float32' (it would round)", function () {
    const f = decodeSafetensors(halfFile('F16', [0x3555]));
    f.tensors.set('a', { dtype: 'F32', shape: [1], data: Float32Array.of(0.1) });
    f.tensors.set('b', { dtype: 'F64', shape: [1], data: Float64Array.of(0.1) });
    const wide = toTensors(f, { dtype: 'float64' });
    expect(wide.get('a').data[0]).to.equal(Math.fround(0.1));
    expect(wide.get('b').data[0]).to.equal(0.1);
    expect(wide.get('w').data[0]).to.equal(1365 / 4096); // 0x3555: exponent 13, fraction 0x155: (1024 + 341) * 2^(13 - 25)
    expect(() => toTensors(f, { dtype: 'float32' })).to.throw(SafetensorsError, /tensor 'b' has dtype F64; with dtype 'float32' only F32, F16 and BF16 load \(F64 would round/);
  });

  it('other dtypes stay refused; bad options are TypeErrors naming them', function () {
    const f = decodeSafetensors(halfFile('F16', [0]));
    f.tensors.set('i', { dtype: 'I8', shape: [1], data: Int8Array.of(1) });
    expect(() => toTensors(f, { dtype: 'float32' })).to.throw(SafetensorsError, /tensor 'i' has dtype I8/);
    expect(() => toTensors(f, { dtype: 'float16' })).to.throw(TypeError, /toTensors: options\.dtype: expected 'float32' or 'float64', got "float16"/);
    expect(() => toTensors(f, { dtyp: 'float32' })).to.throw(TypeError, /dtyp/);
    expect(() => toTensors(f, { source: 3 })).to.throw(TypeError, /options\.source: expected a string, got 3/);
    expect(() => toTensors(f, { dtype: 'float32' }, {})).to.throw(TypeError, /toTensors: source: expected a string when options are given as the third argument/);
  });
});
