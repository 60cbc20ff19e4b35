// The reference quantizers against ggml itself: byte-identical output on the goldens frozen by
// scripts/golden/ggml_quant_goldens.mjs (ggml_quantize_chunk, imatrix NULL), round trips within
// each type's error, and clear refusals of rows that are not whole blocks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, dequantize, rowBytes, traitsOf } from '../host/model/ggml-types.js';
import { QUANTIZABLE, canQuantize, dequantizeRowQ8_1, dequantizeRowQ8_K, quantize, quantizeRow } from '../host/model/quantize/index.js';
import { ROOT } from './helpers/paths.js';

interface GoldenCase {
  name: string;
  note: string;
  nrows: number;
  nPerRow: number;
  input: string;
  outputs: Record<string, string>;
}
interface GoldenIndex {
  note: string;
  types: Record<string, { id: number; blockSize: number; rowBytes256: number }>;
  cases: GoldenCase[];
}

const GOLDEN_DIR = join(ROOT, 'test', 'golden', 'quant');
const index = JSON.parse(readFileSync(join(GOLDEN_DIR, 'index.json'), 'utf8')) as GoldenIndex;

function readF32(file: string): Float32Array {
  const b = readFileSync(join(GOLDEN_DIR, file));
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Float32Array(copy.buffer);
}

function readBytes(file: string): Uint8Array {
  return new Uint8Array(readFileSync(join(GOLDEN_DIR, file)));
}

/** Where two byte strings first differ, in terms of the type's blocks, or null if equal. */
function firstDifference(type: GGMLType, nPerRow: number, got: Uint8Array, want: Uint8Array): string | null {
  if (got.length !== want.length) return `length ${got.length}, ggml wrote ${want.length}`;
  let count = 0;
  let first = -1;
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) {
      count++;
      if (first < 0) first = i;
    }
  }
  if (count === 0) return null;
  const { typeSize } = traitsOf(type);
  const rowSize = rowBytes(type, nPerRow);
  return `${count} bytes differ; first at byte ${first} (row ${Math.floor(first / rowSize)}, ` +
    `block ${Math.floor((first % rowSize) / typeSize)}, offset ${(first % rowSize) % typeSize}): ` +
    `got ${got[first]}, ggml ${want[first]}`;
}

// ---- byte-identical to ggml ----

test('the golden index agrees with ggml-types on ids, block sizes and row sizes', () => {
  for (const [name, t] of Object.entries(index.types)) {
    const traits = traitsOf(t.id);
    assert.is(traits.name.toUpperCase(), name);
    assert.is(traits.blockSize, t.blockSize, `${name} block size`);
    assert.is(rowBytes(t.id, 256), t.rowBytes256, `${name} bytes per 256 values`);
  }
  const covered = new Set(index.cases.flatMap((c) => Object.keys(c.outputs)));
  for (const type of QUANTIZABLE) assert.ok(covered.has(traitsOf(type).name.toUpperCase()), `goldens for ${traitsOf(type).name}`);
});

for (const c of index.cases) {
  const input = readF32(c.input);
  for (const [typeName, file] of Object.entries(c.outputs)) {
    const type = index.types[typeName].id as GGMLType;
    test(`${typeName} matches ggml byte for byte: ${c.name} (${c.note})`, () => {
      assert.is(input.length, c.nrows * c.nPerRow);
      const got = quantize(type, input, c.nPerRow);
      const diff = firstDifference(type, c.nPerRow, got, readBytes(file));
      assert.is(diff, null, `${typeName} ${c.name}: ${diff}`);
    });
  }
}

test('quantizeRow of each row gives the rows of quantize, also into offset views', () => {
  const c = index.cases.find((x) => x.name === 'gauss_4x512')!;
  const input = readF32(c.input);
  for (const type of QUANTIZABLE) {
    const whole = quantize(type, input, c.nPerRow);
    const rowSize = rowBytes(type, c.nPerRow);
    // A destination that starts at an odd byte offset of a larger buffer, and a source view.
    const backing = new Uint8Array(rowSize + 5);
    const dst = backing.subarray(3, 3 + rowSize);
    for (let r = 0; r < c.nrows; r++) {
      quantizeRow(type, input.subarray(r * c.nPerRow, (r + 1) * c.nPerRow), dst);
      assert.equal(dst, whole.subarray(r * rowSize, (r + 1) * rowSize), `${traitsOf(type).name} row ${r}`);
    }
    assert.is(backing[0] | backing[1] | backing[2] | backing[rowSize + 3] | backing[rowSize + 4], 0, 'writes stay inside dst');
  }
});

// ---- round trips ----

/** Deterministic N(0,1)-ish and U(-1,1) test data (mulberry32 + Box-Muller). */
function testData(seed: number, n: number, kind: 'gauss' | 'uniform' | 'positive'): Float32Array {
  let a = seed >>> 0;
  const rand = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (kind === 'gauss') out[i] = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    else if (kind === 'uniform') out[i] = rand() * 2 - 1;
    else out[i] = rand() + 0.5;
  }
  return out;
}

function roundTrip(type: GGMLType, x: Float32Array, nPerRow: number): Float32Array {
  const q = quantize(type, x, nPerRow);
  if (type === GGMLType.Q8_K || type === GGMLType.Q8_1) {
    const y = new Float32Array(x.length);
    (type === GGMLType.Q8_K ? dequantizeRowQ8_K : dequantizeRowQ8_1)(q, y, x.length);
    return y;
  }
  return dequantize(type, q, x.length);
}

// Per-type error budget, relative to the largest |x| of the (super-)block, and the normalised RMS
// error allowed on N(0,1) data. Block types: half a quantization step plus the f16 rounding of
// the scale (at most 2^-11 of the block's largest value); Q4_0 maps the signed maximum to -8, so
// a value of the other sign near the maximum is clamped at +7 and can miss by a whole step.
// K-quants fit scales by search, so their bounds are measured (≈ 0.6-0.85 of the limits below).
const BUDGET: Array<{ type: GGMLType; block: number; maxErr: number; nrmse: number }> = [
  { type: GGMLType.Q8_0, block: 32, maxErr: (0.5 / 127 + 2 ** -11) * 1.001, nrmse: 0.007 },
  { type: GGMLType.Q4_0, block: 32, maxErr: (1 / 8) * (1 + 2 ** -10), nrmse: 0.11 },
  { type: GGMLType.Q8_K, block: 256, maxErr: (0.5 / 127) * (1 + 1e-5), nrmse: 0.009 },
  { type: GGMLType.Q6_K, block: 256, maxErr: 0.025, nrmse: 0.022 },
  { type: GGMLType.Q4_K, block: 256, maxErr: 0.11, nrmse: 0.09 },
  // Q4_1/Q5_1: half a step of range/15 (range/31) with range <= 2·amax, plus the f16 rounding of m;
  // Q5_0 maps the signed maximum to -16, so a value of the other sign can miss by a whole step (1/16).
  { type: GGMLType.Q4_1, block: 32, maxErr: 1 / 15 + 2 ** -10, nrmse: 0.09 },
  { type: GGMLType.Q5_0, block: 32, maxErr: (1 / 16) * (1 + 2 ** -10), nrmse: 0.05 },
  { type: GGMLType.Q5_1, block: 32, maxErr: 1 / 31 + 2 ** -10, nrmse: 0.045 },
  { type: GGMLType.Q8_1, block: 32, maxErr: (0.5 / 127 + 2 ** -11) * 1.001, nrmse: 0.007 },
  { type: GGMLType.Q5_K, block: 256, maxErr: 0.075, nrmse: 0.045 },
  { type: GGMLType.Q3_K, block: 256, maxErr: 0.28, nrmse: 0.18 },
  { type: GGMLType.Q2_K, block: 256, maxErr: 0.4, nrmse: 0.33 },
];

for (const kind of ['gauss', 'uniform', 'positive'] as const) {
  test(`dequantize(quantize(x)) stays within each block type's error: ${kind}`, () => {
    const nPerRow = 512;
    const x = testData(42, 16 * nPerRow, kind);
    for (const { type, block, maxErr, nrmse } of BUDGET) {
      const name = traitsOf(type).name;
      const y = roundTrip(type, x, nPerRow);
      let se = 0;
      let sx = 0;
      for (let b = 0; b < x.length / block; b++) {
        let amax = 0;
        for (let j = 0; j < block; j++) amax = Math.max(amax, Math.abs(x[b * block + j]));
        for (let j = 0; j < block; j++) {
          const i = b * block + j;
          const e = Math.abs(y[i] - x[i]);
          if (e > maxErr * amax) assert.unreachable(`${name}: x[${i}] = ${x[i]} came back as ${y[i]}, error ${e} > ${maxErr} * ${amax}`);
          se += e * e;
          sx += x[i] * x[i];
        }
      }
      if (kind === 'gauss') assert.ok(Math.sqrt(se / sx) <= nrmse, `${name}: normalised RMS error ${Math.sqrt(se / sx)} > ${nrmse}`);
    }
  });
}

test('F32 round trips exactly; F16 and BF16 within half a unit in the last place', () => {
  const x = testData(7, 4096, 'gauss');
  for (let i = 0; i < x.length; i++) x[i] *= 2 ** ((i % 17) - 8); // spread the exponents
  assert.equal(roundTrip(GGMLType.F32, x, 4096), x);
  // Relative 2^-11 (f16) or 2^-8 (bf16); below 2^-14 f16 is subnormal, with a fixed step of 2^-24.
  for (const [type, bits, floor] of [[GGMLType.F16, 11, 2 ** -25], [GGMLType.BF16, 8, 0]] as const) {
    const y = roundTrip(type, x, 4096);
    for (let i = 0; i < x.length; i++) {
      const e = Math.abs(y[i] - x[i]);
      if (e > Math.max(Math.abs(x[i]) * 2 ** -bits, floor)) assert.unreachable(`${traitsOf(type).name}: ${x[i]} came back as ${y[i]}`);
    }
  }
});

test('all-zero input comes back as exact zeros for every type', () => {
  const x = new Float32Array(512);
  for (const type of QUANTIZABLE) {
    const y = roundTrip(type, x, 512);
    assert.ok(y.every((v) => v === 0), `${traitsOf(type).name}: zeros give zeros`);
  }
});

// ---- sizes ----

test('canQuantize accepts rows that are whole blocks of a quantizable type, and nothing else', () => {
  assert.equal([...QUANTIZABLE].sort((a, b) => a - b), [
    GGMLType.F32, GGMLType.F16, GGMLType.Q4_0, GGMLType.Q4_1, GGMLType.Q5_0, GGMLType.Q5_1, GGMLType.Q8_0, GGMLType.Q8_1,
    GGMLType.Q2_K, GGMLType.Q3_K, GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K, GGMLType.Q8_K, GGMLType.BF16,
  ]);
  assert.ok(canQuantize(GGMLType.Q4_K, 512));
  assert.not.ok(canQuantize(GGMLType.Q4_K, 128));
  assert.not.ok(canQuantize(GGMLType.Q6_K, 288));
  assert.not.ok(canQuantize(GGMLType.Q8_K, 32));
  assert.ok(canQuantize(GGMLType.Q8_0, 96));
  assert.not.ok(canQuantize(GGMLType.Q8_0, 48));
  assert.not.ok(canQuantize(GGMLType.Q4_0, 33));
  assert.ok(canQuantize(GGMLType.F16, 7));
  assert.ok(canQuantize(GGMLType.BF16, 1));
  assert.not.ok(canQuantize(GGMLType.F32, 0));
  assert.not.ok(canQuantize(GGMLType.F32, -32));
  assert.not.ok(canQuantize(GGMLType.Q8_0, 32.5));
  assert.not.ok(canQuantize(GGMLType.IQ4_NL, 32), 'not a type wisp quantizes to');
  assert.ok(canQuantize(GGMLType.Q5_1, 32));
  assert.not.ok(canQuantize(GGMLType.Q3_K, 896));
});

test('quantize refuses rows that are not a multiple of the block size, with a clear error', () => {
  assert.throws(() => quantize(GGMLType.Q4_K, new Float32Array(128), 128), /rows of 128 values to q4_K.*block size 256/);
  assert.throws(() => quantize(GGMLType.Q6_K, new Float32Array(600), 300), /rows of 300 values to q6_K.*block size 256/);
  assert.throws(() => quantize(GGMLType.Q8_0, new Float32Array(40), 40), /rows of 40 values to q8_0.*block size 32/);
  assert.throws(() => quantize(GGMLType.Q4_0, new Float32Array(0), 0), /rows of 0 values to q4_0/);
  assert.throws(() => quantize(GGMLType.Q8_0, new Float32Array(96), 64), /96 values are not a whole number of rows of 64/);
  assert.throws(() => quantize(GGMLType.IQ4_NL, new Float32Array(256), 256), /cannot quantize to iq4_nl/);
  assert.throws(() => quantize(GGMLType.Q2_K, new Float32Array(896), 896), /rows of 896 values to q2_K.*block size 256/);
});

test('quantizeRow refuses partial blocks and destinations of the wrong size', () => {
  assert.throws(() => quantizeRow(GGMLType.Q4_K, new Float32Array(300), new Uint8Array(1000)), /block size 256/);
  assert.throws(() => quantizeRow(GGMLType.Q6_K, new Float32Array(256), new Uint8Array(200)), /take 210 bytes, the destination has 200/);
  assert.throws(() => quantizeRow(GGMLType.Q8_0, new Float32Array(64), new Uint8Array(69)), /take 68 bytes/);
  assert.throws(() => quantizeRow(GGMLType.IQ2_XXS, new Float32Array(256), new Uint8Array(66)), /cannot quantize to iq2_xxs/);
});

test.run();
