// The ggml type table: sizes, errors, f16/bf16 conversions and the reference dequantizers.
//
// Goldens (test/golden/dequant/) were made by scripts/golden/dequant_goldens.py with gguf-py 0.19
// (pip install gguf numpy): deterministic random valid blocks (random bytes, f16 scales kept
// finite and moderate) run through gguf.quants.dequantize(), and f32 -> f16/bf16 conversions
// through gguf.quants.quantize(), which mirrors ggml's rounding. This test needs no Python.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  GGMLType,
  TYPE_TRAITS,
  bf16ToF32,
  dequantize,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  rowBytes,
  tensorBytes,
  traitsOf,
} from '../host/model/ggml-types.js';

const goldenDir = fileURLToPath(new URL('../../test/golden/dequant/', import.meta.url));

interface Manifest {
  dequantize: { type: string; id: number; nElements: number; in: string; out: string }[];
  conversions: { name: string; count: number; in: string; out: string }[];
  quant_sizes: Record<string, [number, number]>;
}
const manifest = JSON.parse(readFileSync(`${goldenDir}manifest.json`, 'utf8')) as Manifest;

function golden(name: string): Uint8Array {
  const b = readFileSync(goldenDir + name);
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
const asU32 = (b: Uint8Array) => new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4);
const asU16 = (b: Uint8Array) => new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
const hex = (n: number) => `0x${n.toString(16)}`;

// Straight from ggml.c's type_traits (blck_size, type_size), written out rather than computed.
const GGML_C_SIZES: Record<string, [number, number, string]> = {
  F32: [1, 4, 'f32'], F16: [1, 2, 'f16'], Q4_0: [32, 18, 'q4_0'], Q4_1: [32, 20, 'q4_1'],
  Q5_0: [32, 22, 'q5_0'], Q5_1: [32, 24, 'q5_1'], Q8_0: [32, 34, 'q8_0'], Q8_1: [32, 36, 'q8_1'],
  Q2_K: [256, 84, 'q2_K'], Q3_K: [256, 110, 'q3_K'], Q4_K: [256, 144, 'q4_K'], Q5_K: [256, 176, 'q5_K'],
  Q6_K: [256, 210, 'q6_K'], Q8_K: [256, 292, 'q8_K'], IQ2_XXS: [256, 66, 'iq2_xxs'], IQ2_XS: [256, 74, 'iq2_xs'],
  IQ3_XXS: [256, 98, 'iq3_xxs'], IQ1_S: [256, 50, 'iq1_s'], IQ4_NL: [32, 18, 'iq4_nl'], IQ3_S: [256, 110, 'iq3_s'],
  IQ2_S: [256, 82, 'iq2_s'], IQ4_XS: [256, 136, 'iq4_xs'], I8: [1, 1, 'i8'], I16: [1, 2, 'i16'],
  I32: [1, 4, 'i32'], I64: [1, 8, 'i64'], F64: [1, 8, 'f64'], IQ1_M: [256, 56, 'iq1_m'], BF16: [1, 2, 'bf16'],
  TQ1_0: [256, 54, 'tq1_0'], TQ2_0: [256, 66, 'tq2_0'], MXFP4: [32, 17, 'mxfp4'], NVFP4: [64, 36, 'nvfp4'],
  Q1_0: [128, 18, 'q1_0'], Q2_0: [64, 18, 'q2_0'],
};

test('every ggml type has ggml.c\'s name, block size and bytes per block', () => {
  const ids = Object.values(GGMLType).filter((v): v is number => typeof v === 'number');
  assert.is(ids.length, Object.keys(GGML_C_SIZES).length);
  for (const id of ids) {
    const [blockSize, typeSize, name] = GGML_C_SIZES[GGMLType[id]];
    const t = TYPE_TRAITS[id as GGMLType];
    assert.equal([t.type, t.name, t.blockSize, t.typeSize], [id, name, blockSize, typeSize], GGMLType[id]);
  }
});

test('sizes agree with gguf-py\'s GGML_QUANT_SIZES (but Q8_1, whose f32 fields ggml made f16)', () => {
  for (const [name, [blockSize, typeSize]] of Object.entries(manifest.quant_sizes)) {
    const t = traitsOf(GGMLType[name as keyof typeof GGMLType]);
    assert.is(t.blockSize, blockSize, name);
    if (name === 'Q8_1') assert.equal([typeSize, t.typeSize], [40, 36]);
    else assert.is(t.typeSize, typeSize, name);
  }
});

test('traitsOf names an unknown id and explains a removed one', () => {
  assert.throws(() => traitsOf(99), /unknown ggml type 99/);
  assert.throws(() => traitsOf(-1), /unknown ggml type -1/);
  assert.throws(() => traitsOf(1.5), /unknown ggml type 1.5/);
  assert.throws(() => traitsOf(31), /ggml type 31 \(Q4_0_4_4\) was removed from ggml; use Q4_0, which ggml repacks at load time/);
  assert.throws(() => traitsOf(4), /ggml type 4 \(Q4_2\) was removed/);
});

test('rowBytes counts blocks and refuses a partial block', () => {
  assert.is(rowBytes(GGMLType.F32, 64), 256);
  assert.is(rowBytes(GGMLType.Q4_K, 512), 288);
  assert.is(rowBytes(GGMLType.Q8_0, 0), 0);
  assert.throws(() => rowBytes(GGMLType.Q4_K, 100), /q4_K: a row of 100 values is not a multiple of the block size 256/);
  assert.throws(() => rowBytes(GGMLType.Q8_0, -32), /not a valid element count/);
});

test('tensorBytes multiplies the row size by the other dims', () => {
  assert.is(tensorBytes(GGMLType.F32, [64, 512]), 131072);
  assert.is(tensorBytes(GGMLType.Q6_K, [256, 3]), 630);
  assert.is(tensorBytes(GGMLType.Q8_0, [32, 2, 3, 4]), 34 * 24);
  assert.is(tensorBytes(GGMLType.F16, []), 2); // a scalar
  assert.is(tensorBytes(GGMLType.F16, [8, 0]), 0);
  assert.throws(() => tensorBytes(GGMLType.F32, [2 ** 30, 2 ** 30]), /too large/);
});

for (const c of manifest.dequantize) {
  test(`${c.type} dequantizes bit for bit like gguf-py`, () => {
    const t = traitsOf(c.id);
    assert.is(t.name, c.type);
    const src = golden(c.in);
    assert.is(src.length, rowBytes(c.id, c.nElements));
    const expected = asU32(golden(c.out));
    const got = new Uint32Array(dequantize(c.id, src, c.nElements).buffer);
    for (let i = 0; i < c.nElements; i++) {
      if (got[i] !== expected[i]) {
        assert.unreachable(`${c.type} value ${i}: got ${hex(got[i])}, gguf-py ${hex(expected[i])}`);
      }
    }
  });
}

test('a dequantizer writes into a view at an offset and leaves the rest alone', () => {
  const c = manifest.dequantize.find((x) => x.type === 'q4_K')!;
  const dst = new Float32Array(c.nElements + 8).fill(7);
  traitsOf(c.id).dequantize!(golden(c.in), dst.subarray(4, 4 + c.nElements), c.nElements);
  assert.equal(Array.from(dst.subarray(0, 4)), [7, 7, 7, 7]);
  assert.equal(Array.from(dst.subarray(4 + c.nElements)), [7, 7, 7, 7]);
  assert.equal(new Uint32Array(dst.buffer, 16, c.nElements), asU32(golden(c.out)));
});

test('dequantize refuses a partial block, a short source and a missing dequantizer', () => {
  const q8 = traitsOf(GGMLType.Q8_0).dequantize!;
  assert.throws(() => q8(new Uint8Array(34), new Float32Array(40), 40), /40 elements is not a whole number of 32-value blocks/);
  assert.throws(() => q8(new Uint8Array(33), new Float32Array(32), 32), /need 34 bytes, the source has 33/);
  assert.throws(() => q8(new Uint8Array(34), new Float32Array(16), 32), /destination holds 16 floats/);
  assert.throws(() => dequantize(GGMLType.IQ2_XXS, new Uint8Array(66), 256), /no dequantizer for ggml type iq2_xxs/);
});

test('f16ToF32 gives gguf-py\'s value for every kind of half', () => {
  const c = manifest.dequantize.find((x) => x.type === 'f16')!;
  const halves = asU16(golden(c.in));
  const expected = new Float32Array(golden(c.out).buffer);
  halves.forEach((h, i) => {
    const got = f16ToF32(h);
    if (!Object.is(got, expected[i])) assert.unreachable(`half ${hex(h)}: got ${got}, gguf-py ${expected[i]}`);
  });
  assert.is(f16ToF32(0x3c00), 1);
  assert.is(f16ToF32(0x0001), 2 ** -24);
  assert.is(f16ToF32(0x7bff), 65504);
});

test('f32ToF16 rounds like ggml: nearest even, overflow to infinity', () => {
  const c = manifest.conversions.find((x) => x.name === 'f32_to_f16')!;
  const input = new Float32Array(golden(c.in).buffer);
  const expected = asU16(golden(c.out));
  input.forEach((x, i) => {
    const got = f32ToF16(x);
    if (got !== expected[i]) assert.unreachable(`f32 ${x} (${hex(asU32(golden(c.in))[i])}): got ${hex(got)}, gguf-py ${hex(expected[i])}`);
  });
  assert.is(f32ToF16(NaN), 0x7e00);
  assert.is(f32ToF16(-NaN) & 0x7fff, 0x7e00);
});

test('f32ToF16 inverts f16ToF32 for every non-NaN half', () => {
  for (let h = 0; h < 65536; h++) {
    const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
    if (!isNaN && f32ToF16(f16ToF32(h)) !== h) assert.unreachable(`half ${hex(h)} -> ${f16ToF32(h)} -> ${hex(f32ToF16(f16ToF32(h)))}`);
  }
});

test('f32ToBf16 rounds like ggml and keeps NaNs quiet', () => {
  const c = manifest.conversions.find((x) => x.name === 'f32_to_bf16')!;
  const input = new Float32Array(golden(c.in).buffer);
  const bits = asU32(golden(c.in));
  const expected = asU16(golden(c.out));
  input.forEach((x, i) => {
    const got = f32ToBf16(x);
    // A JS number need not carry a NaN's payload, so a NaN input only has to give a quiet NaN.
    const ok = Number.isNaN(x) ? (got & 0x7fc0) === 0x7fc0 && (expected[i] & 0x7fc0) === 0x7fc0 : got === expected[i];
    if (!ok) assert.unreachable(`f32 ${hex(bits[i])}: got ${hex(got)}, gguf-py ${hex(expected[i])}`);
  });
  assert.is(f32ToBf16(1), 0x3f80);
  assert.is(f32ToBf16(-2), 0xc000);
  assert.is(f32ToBf16(NaN) & 0x7fc0, 0x7fc0);
  assert.is(bf16ToF32(0x3f80), 1);
  assert.ok(Number.isNaN(bf16ToF32(0x7fc1)));
});

test.run();
