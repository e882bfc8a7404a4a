// The safetensors reader/writer: byte-exact layout per the format spec, round trips, and
// rejection of corrupt or hostile files with a SafetensorsError (never another exception, never
// an allocation sized by a lying header).
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeSafetensors, encodeSafetensors, readSafetensors, SafetensorsError, tensor, writeSafetensors } from 'cellstate';
import { Rng } from './helpers/random.mjs';

const concat = (chunks) => Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));

/** Build a file from a header object (or raw header string) and data bytes, by hand. */
function file(header, data = Buffer.alloc(0), { pad = true } = {}) {
  let h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  if (pad && h.length % 8) h = Buffer.concat([h, Buffer.alloc(8 - (h.length % 8), 0x20)]);
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([n, h, data]);
}
const f32bytes = (...v) => Buffer.from(new Float32Array(v).buffer);

describe('safetensors', function () {
  it('writes the documented layout: u64 LE header size, space-padded JSON, raw little-endian data', function () {
    const bytes = concat(encodeSafetensors({ w: tensor([[1, 2], [3, 4]]), b: tensor([0.5], [1], 'float64') }, { note: 'hi' }));
    const n = Number(bytes.readBigUInt64LE(0));
    expect((8 + n) % 8).to.equal(0); // data 8-byte aligned
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
    expect(header).to.deep.equal({
      __metadata__: { note: 'hi' },
      w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] },
      b: { dtype: 'F64', shape: [1], data_offsets: [16, 24] },
    });
    const data = bytes.subarray(8 + n);
    expect([0, 1, 2, 3].map((i) => data.readFloatLE(i * 4))).to.deep.equal([1, 2, 3, 4]);
    expect(data.readDoubleLE(16)).to.equal(0.5);
    expect(data.length).to.equal(24);
  });

  it('reads a hand-built file (unpadded header, any tensor order) and round-trips through disk', function () {
    const buf = file({ b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] }, a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32bytes(1, 2, 3), { pad: false });
    const f = decodeSafetensors(buf);
    expect(Array.from(f.tensors.get('a').data)).to.deep.equal([1, 2]);
    expect(Array.from(f.tensors.get('b').data)).to.deep.equal([3]);
    expect(f.tensors.get('a').data).to.be.instanceOf(Float32Array);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellstate-st-'));
    const p = path.join(dir, 'x.safetensors');
    const t = tensor(new Float32Array([1.5, -2, 3e-8, 7]), [2, 2]);
    writeSafetensors(p, new Map([['t', t], ['__proto__', tensor([9])]]));
    const back = readSafetensors(p);
    expect(Array.from(back.tensors.get('t').data)).to.deep.equal(Array.from(t.data));
    expect(back.tensors.get('__proto__').shape).to.deep.equal([1]); // a name, not a prototype
    expect(fs.readdirSync(dir)).to.deep.equal(['x.safetensors']); // no temp file left behind
    fs.rmSync(dir, { recursive: true });
  });

  it('keeps other dtypes as raw bytes and zero-size tensors', function () {
    const f = decodeSafetensors(file({ i: { dtype: 'I64', shape: [1], data_offsets: [0, 8] }, e: { dtype: 'F32', shape: [0, 3], data_offsets: [8, 8] } }, Buffer.alloc(8, 1)));
    expect(f.tensors.get('i').data).to.be.instanceOf(Uint8Array);
    expect(f.tensors.get('e').data.length).to.equal(0);
  });

  const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const hostile = [
    ['shorter than 8 bytes', Buffer.alloc(5), /too short/],
    ['a header length of 2^63', (() => { const b = Buffer.alloc(16); b.writeBigUInt64LE(1n << 63n); return b; })(), /exceeds the limit/],
    ['a header length past the end', (() => { const b = file(ok, f32bytes(1, 2)); b.writeBigUInt64LE(1000n); return b; })(), /runs past the end/],
    ['invalid JSON', file('{"a": ', f32bytes(1, 2)), /not valid JSON/],
    ['a JSON array', file('[1, 2]', f32bytes(1, 2)), /start with '\{'|not a JSON object/],
    ['invalid UTF-8', file(Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1'), f32bytes(1, 2)), /UTF-8|JSON/],
    ['an unknown dtype', file({ a: { dtype: 'F31', shape: [2], data_offsets: [0, 8] } }, f32bytes(1, 2)), /unknown dtype/],
    ['a negative dimension', file({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, f32bytes(1, 2)), /not a non-negative integer/],
    ['a fractional dimension', file({ a: { dtype: 'F32', shape: [2.5], data_offsets: [0, 8] } }, f32bytes(1, 2)), /not a non-negative integer/],
    ['a giant shape with a small file', file({ a: { dtype: 'F32', shape: [1e6, 1e6, 1e6], data_offsets: [0, 8] } }, f32bytes(1, 2)), /more data than the file holds/],
    ['offsets past the data', file({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, f32bytes(1, 2)), /outside the data buffer/],
    ['begin after end', file({ a: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, f32bytes(1, 2)), /outside the data buffer/],
    ['size not matching the shape', file({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32bytes(1, 2, 3, 4)), /need 12/],
    ['overlapping tensors', file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32bytes(1, 2)), /overlaps/],
    ['a gap', file({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32bytes(1, 2)), /gap/],
    ['trailing bytes', file(ok, f32bytes(1, 2, 3)), /trailing bytes/],
    ['a duplicated name (JSON keeps the last)', file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32bytes(1, 2)), /gap/],
    ['non-string metadata', file({ __metadata__: { k: 1 }, ...ok }, f32bytes(1, 2)), /__metadata__/],
    ['extra fields in an entry', file({ a: { ...ok.a, evil: 1 } }, f32bytes(1, 2)), /exactly dtype, shape and data_offsets/],
    ['offsets as strings', file({ a: { dtype: 'F32', shape: [2], data_offsets: ['0', '8'] } }, f32bytes(1, 2)), /data_offsets/],
  ];
  for (const [label, bytes, re] of hostile) {
    it(`rejects ${label}`, function () {
      expect(() => decodeSafetensors(bytes)).to.throw(SafetensorsError, re);
    });
  }

  it('random corruption (bit flips, truncation) either decodes consistently or throws SafetensorsError', function () {
    const good = concat(encodeSafetensors({ w: tensor(new Float32Array(12).fill(1), [3, 4]), b: tensor(new Float32Array(4), [4]) }, { k: 'v' }));
    const rng = new Rng(99);
    let rejected = 0;
    for (let trial = 0; trial < 400; trial++) {
      const b = Buffer.from(good);
      const mode = trial % 3;
      let bytes = b;
      if (mode === 0) bytes = b.subarray(0, Math.floor(rng.next() * b.length));
      else for (let k = 0; k < 1 + (trial % 4); k++) b[Math.floor(rng.next() * Math.min(b.length, 8 + 140))] ^= 1 << Math.floor(rng.next() * 8);
      try {
        const f = decodeSafetensors(bytes);
        let total = 0;
        for (const t of f.tensors.values()) total += t.data.byteLength;
        const n = Number(bytes.readBigUInt64LE(0));
        expect(total).to.equal(bytes.length - 8 - n);
      } catch (e) {
        expect(e, String(e)).to.be.instanceOf(SafetensorsError);
        rejected++;
      }
    }
    expect(rejected).to.be.greaterThan(100);
  });
});
