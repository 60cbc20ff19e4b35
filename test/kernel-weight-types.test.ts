// The matmul kernels of ggml's other weight formats — q4_1, q5_0, q5_1 (32-value blocks) and q2_K,
// q3_K, q5_K (256-value super-blocks) on ggml's 8-bit activations — and quantize_q8_1, against their JS
// reference (host/kernels/reference/matmul-types.ts), ggml's quantizers (host/model/quantize/) and
// ggml's dequantizers (host/model/ggml-types.ts, checked against gguf-py). Everything here is exact, bit
// for bit: the ABI fixes the float steps (docs/KERNEL-ABI.md), so the reference computes what the
// kernels compute. One check is not exact: the reference against f64 math on the dequantized weights
// and activations (that the integer tricks are the right math).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mulberry32 } from '../host/engine/sampler.js';
import { compileFamily, createSharedMemory, flavoursOf, instantiateKernel, kernelModule, kernelsDir, loadManifest } from '../host/kernels/load.js';
import { KernelArena } from './helpers/kernel-arena.js';
import { familyFlavours } from './helpers/kernel-flavours.js';
import {
  MORE_MATMUL_REFERENCE, MORE_WEIGHT_TYPES, type MoreWeightType, moreActivation, moreActivationRowBytes, moreGetRow,
  moreGgmlType, moreMatvec, moreWeightRowBytes, q8KToQ8Kp, quantizeMoreActivation,
} from '../host/kernels/reference/matmul-types.js';
import { q2KToQ2Kr4, q2Kr4ToQ2K, q3KToQ3Kr4, q3Kr4ToQ3K } from '../host/kernels/reference/q2_q3_kr4.js';
import { BLOCK_FORMATS } from '../host/model/block-formats.js';
import { GGMLType, dequantize, f32ToF16, rowBytes } from '../host/model/ggml-types.js';
import { dequantizeRowQ8_1, dequantizeRowQ8_K, quantize, quantizeRow } from '../host/model/quantize/index.js';

const memory = createSharedMemory(1024); // 64 MiB
const manifest = loadManifest();
const k = instantiateKernel(compileFamily('matmul', undefined, manifest), memory) as Record<string, (...args: number[]) => void>;
const mem = new Uint8Array(memory.buffer);

const arena = new KernelArena(memory);
const alloc = (bytes: number, align?: number): number => arena.alloc(bytes, align);
function reset(): void {
  arena.reset();
}
function put(bytes: Uint8Array): number {
  const p = alloc(bytes.length);
  mem.set(bytes, p);
  return p;
}
function f32Bits(p: number, n: number): Uint32Array {
  return new Uint32Array(memory.buffer.slice(p, p + 4 * n) as ArrayBuffer);
}
function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}
function assertBitsEqual(got: Uint32Array, want: Uint32Array, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) {
      const f = (u: number) => new Float32Array(new Uint32Array([u]).buffer)[0];
      assert.unreachable(`${what}: [${i}] is ${f(got[i])} (0x${got[i].toString(16)}), the reference ${f(want[i])} (0x${want[i].toString(16)})`);
    }
  }
}

/** n floats, roughly normal with standard deviation `scale`, with a few outliers. */
function randomFloats(n: number, seed: number, scale = 1): Float32Array {
  const r = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const g = (r() + r() + r() + r() - 2) * 1.7;
    out[i] = (r() < 0.01 ? 6 * g : g) * scale;
  }
  return out;
}

/** Byte offsets of each block's f16 fields, and the block size. */
const HALVES: Readonly<Record<MoreWeightType | 'q8_0' | 'q8_1', [number, number[]]>> = {
  q4_1: [20, [0, 2]], q5_0: [22, [0]], q5_1: [24, [0, 2]], q2_K: [84, [80, 82]], q3_K: [110, [108]], q5_K: [176, [0, 2]],
  q8_0: [34, [0]], q8_1: [36, [0, 2]],
};

/** Random bytes (every bit pattern of levels, scales, mins and high bits) with each f16 field a random finite half of moderate size. */
function randomBlocks(format: keyof typeof HALVES, bytes: number, seed: number): Uint8Array {
  const r = mulberry32(seed);
  const w = new Uint8Array(bytes);
  for (let i = 0; i < w.length; i++) w[i] = Math.floor(r() * 256);
  const [block, offsets] = HALVES[format];
  for (let b = 0; b < w.length; b += block) {
    for (const o of offsets) {
      const h = f32ToF16((r() * 2 - 1) * 0.01);
      w[b + o] = h & 0xff;
      w[b + o + 1] = h >> 8;
    }
  }
  return w;
}

/** Random q8_K activation blocks: random d, qs of every value −128..127, bsums their true sums (as ggml's kernels assume). */
function randomQ8K(cols: number, seed: number): Uint8Array {
  const r = mulberry32(seed);
  const x = new Uint8Array(rowBytes(GGMLType.Q8_K, cols));
  const dv = new DataView(x.buffer);
  for (let b = 0; b < cols / 256; b++) {
    const o = 292 * b;
    dv.setFloat32(o, (r() * 2 - 1) * 0.05, true);
    for (let g = 0; g < 16; g++) {
      let s = 0;
      for (let i = 0; i < 16; i++) {
        const q = Math.floor(r() * 256) - 128;
        x[o + 4 + 16 * g + i] = q & 0xff;
        s += q;
      }
      dv.setInt16(o + 260 + 2 * g, s, true);
    }
  }
  return x;
}

interface Problem {
  t: MoreWeightType;
  rows: number;
  cols: number;
  nTok: number;
  w: Uint8Array;
  /** nTok activation rows, back to back */
  x: Uint8Array;
  wp: number;
  xp: number;
}

/** Weights of t as ggml's quantizer writes them (or random blocks), and nTok activation rows (quantized, or random blocks). */
function problem(t: MoreWeightType, rows: number, cols: number, nTok: number, seed: number, random: boolean): Problem {
  const w = random ? randomBlocks(t, moreWeightRowBytes(t, cols) * rows, seed) : quantize(moreGgmlType(t), randomFloats(rows * cols, seed, 0.05), cols);
  const xb = moreActivationRowBytes(t, cols);
  const x = new Uint8Array(xb * nTok);
  for (let tok = 0; tok < nTok; tok++) {
    const a = moreActivation(t);
    const row = random
      ? a === 'q8_K' ? randomQ8K(cols, seed + 17 * tok) : randomBlocks(a, xb, seed + 17 * tok)
      : quantizeMoreActivation(t, randomFloats(cols, seed + 31 * tok + 1));
    x.set(row, tok * xb);
  }
  return { t, rows, cols, nTok, w, x, wp: put(w), xp: put(x) };
}

/** The reference's results for every token: y[tok·rows + r]. */
function reference(p: Problem): Uint32Array {
  const xb = moreActivationRowBytes(p.t, p.cols);
  const y = new Float32Array(p.nTok * p.rows);
  for (let tok = 0; tok < p.nTok; tok++) y.set(moreMatvec(p.t, p.w, p.x.subarray(tok * xb, (tok + 1) * xb), p.cols, 0, p.rows), tok * p.rows);
  return bits(y);
}

const COLS: Readonly<Record<MoreWeightType, number[]>> = {
  q4_1: [32, 96, 224, 896], q5_0: [32, 96, 224, 896], q5_1: [32, 96, 224, 896],
  q2_K: [256, 768, 1792], q3_K: [256, 768, 1792], q5_K: [256, 768, 1792],
};
const ROWS = [1, 3, 5, 13, 37];

// ---- the module ---------------------------------------------------------------------------------

test('the manifest lists matvec, matmul and get_row of each format and quantize_q8_1, and the reference has each', () => {
  const fam = kernelModule('matmul', undefined, manifest);
  const sig = (n: number) => ({ params: Array<string>(n).fill('i32'), results: [] });
  const names = ['quantize_q8_1', ...MORE_WEIGHT_TYPES.flatMap((t) => [`matvec_${t}`, `matmul_${t}`, `get_row_${t}`])];
  for (const name of names) {
    const n = name.startsWith('quantize') ? 3 : name.startsWith('matvec') ? 6 : name.startsWith('matmul') ? 8 : 4;
    assert.equal(fam.exports[name], sig(n), name);
    assert.type(MORE_MATMUL_REFERENCE[name], 'function', `reference ${name}`);
  }
});

test('the block-format table pairs each format with ggml\'s activation, on both paths', () => {
  for (const t of MORE_WEIGHT_TYPES) {
    const f = BLOCK_FORMATS[t];
    assert.equal(f.pairs, { x16: moreActivation(t), x8: moreActivation(t) }, t);
    assert.is(f.ggml, moreGgmlType(t), t);
  }
  assert.is(BLOCK_FORMATS.q8_1.activation?.quantizer, 'quantize_q8_1');
});

// ---- quantize_q8_1 ----------------------------------------------------------------------------

test('quantize_q8_1 writes ggml\'s bytes: q8_0\'s d and qs, s = d·Σqs (random rows, ties, zero and tiny blocks)', () => {
  const cases = [randomFloats(32, 1), randomFloats(96, 2, 0.01), randomFloats(224, 3, 300), randomFloats(512, 4, 1e-6)];
  const ties = new Float32Array(64);
  for (let i = 0; i < 64; i++) ties[i] = ((i % 50) - 25) + 0.5;
  ties[3] = -127;
  ties[40] = 127;
  const mixed = randomFloats(96, 9);
  mixed.fill(0, 32, 64);
  const tiny = new Float32Array(32).map((_, i) => (i % 2 ? -0 : (i - 16) * 1e-44));
  cases.push(ties, mixed, tiny);
  for (const [i, x] of cases.entries()) {
    reset();
    const xp = put(new Uint8Array(x.buffer));
    const want = new Uint8Array(rowBytes(GGMLType.Q8_1, x.length));
    quantizeRow(GGMLType.Q8_1, x, want);
    const out = alloc(want.length);
    mem.fill(0xa5, out, out + want.length);
    k.quantize_q8_1(xp, out, x.length);
    assert.equal(mem.slice(out, out + want.length), want, `case ${i}`);
    // d and qs are quantize_q8_0's
    const q8 = new Uint8Array(rowBytes(GGMLType.Q8_0, x.length));
    quantizeRow(GGMLType.Q8_0, x, q8);
    for (let b = 0; b < x.length / 32; b++) {
      assert.equal([want[36 * b], want[36 * b + 1]], [q8[34 * b], q8[34 * b + 1]], `case ${i} block ${b}: d`);
      assert.equal(want.subarray(36 * b + 4, 36 * b + 36), q8.subarray(34 * b + 2, 34 * b + 34), `case ${i} block ${b}: qs`);
    }
    const copy = mem.slice(0, arena.top);
    MORE_MATMUL_REFERENCE.quantize_q8_1(copy, xp, out, x.length);
    assert.equal(copy.subarray(out, out + want.length), want, `reference, case ${i}`);
  }
});

// ---- get_row ------------------------------------------------------------------------------------

for (const t of MORE_WEIGHT_TYPES) {
  test(`get_row_${t} equals ggml's dequantizer bit for bit`, () => {
    for (const cols of COLS[t]) {
      for (const random of [false, true]) {
        reset();
        const rows = 5;
        const w = random ? randomBlocks(t, moreWeightRowBytes(t, cols) * rows, cols + 7) : quantize(moreGgmlType(t), randomFloats(rows * cols, cols, 0.05), cols);
        const wp = put(w);
        for (const row of [0, 3, 4]) {
          const out = alloc(4 * cols);
          k[`get_row_${t}`](wp, out, cols, row);
          assertBitsEqual(f32Bits(out, cols), bits(moreGetRow(t, w, cols, row)), `get_row_${t} cols ${cols} row ${row}${random ? ' (random blocks)' : ''}`);
        }
      }
    }
  });
}

// ---- matvec and matmul ---------------------------------------------------------------------------

/** The flavours this runtime compiles (the baseline first), each instantiated over the test memory. */
const FLAVOURS = Object.entries(familyFlavours('matmul', memory, manifest).flavours);

/** Blocks at the ends of every field's range: `fill` everywhere (levels, high bits, scales, mins), then the f16 fields (d, dmin: `halves`); q3_K's scales may be set apart (`q3Scales`: 0x00 → −32, 0xff → 31). */
function boundBlocks(t: MoreWeightType, bytes: number, fill: number, q3Scales = fill, halves = [0.013, -0.007]): Uint8Array {
  const w = new Uint8Array(bytes).fill(fill);
  const [block, offsets] = HALVES[t];
  for (let b = 0; b < w.length; b += block) {
    if (t === 'q3_K') w.fill(q3Scales, b + 96, b + 108);
    for (const [i, o] of offsets.entries()) {
      const h = f32ToF16(halves[i]);
      w[b + o] = h & 0xff;
      w[b + o + 1] = h >> 8;
    }
  }
  return w;
}

/** q8_K blocks with every qs = q (bsums 16·q), d = 0.02. */
function constantQ8K(cols: number, q: number): Uint8Array {
  const x = new Uint8Array(rowBytes(GGMLType.Q8_K, cols));
  const dv = new DataView(x.buffer);
  for (let b = 0; b < cols / 256; b++) {
    dv.setFloat32(292 * b, 0.02, true);
    x.fill(q & 0xff, 292 * b + 4, 292 * b + 260);
    for (let g = 0; g < 16; g++) dv.setInt16(292 * b + 260 + 2 * g, 16 * q, true);
  }
  return x;
}

for (const [flavour, kf] of FLAVOURS) {
  for (const t of MORE_WEIGHT_TYPES) {
    test(`${flavour}: matvec_${t} equals the reference bit for bit (cols ${COLS[t].join('/')} × rows ${ROWS.join('/')}, quantized and random blocks)`, () => {
      for (const cols of COLS[t]) {
        for (const rows of ROWS) {
          for (const random of [false, true]) {
            reset();
            const p = problem(t, rows, cols, 1, rows * 1000 + cols, random);
            const y = alloc(4 * rows);
            kf[`matvec_${t}`](p.wp, p.xp, y, cols, 0, rows);
            assertBitsEqual(f32Bits(y, rows), reference(p), `${flavour} matvec_${t} ${rows}×${cols}${random ? ' (random blocks)' : ''}`);
          }
        }
      }
    });

    test(`${flavour}: matvec_${t} over any split of the rows gives one call's bits, and writes only its rows`, () => {
      reset();
      const rows = 37, cols = COLS[t][1];
      const p = problem(t, rows, cols, 1, 99, false);
      const want = reference(p);
      for (const cuts of [[0, 1, 37], [0, 4, 8, 37], [0, 13, 14, 30, 37], [0, 36, 37]]) {
        const y = alloc(4 * (rows + 2));
        mem.fill(0x7f, y, y + 4 * (rows + 2));
        for (let i = 0; i + 1 < cuts.length; i++) kf[`matvec_${t}`](p.wp, p.xp, y + 4, cols, cuts[i], cuts[i + 1]);
        assertBitsEqual(f32Bits(y + 4, rows), want, `${flavour} matvec_${t} split ${cuts.join('/')}`);
        assert.equal([...mem.slice(y, y + 4), ...mem.slice(y + 4 + 4 * rows, y + 8 + 4 * rows)], Array(8).fill(0x7f), 'outside the rows');
      }
      // an empty range writes nothing
      const y = alloc(4 * rows);
      mem.fill(0x7f, y, y + 4 * rows);
      for (const r of [0, 5, rows]) kf[`matvec_${t}`](p.wp, p.xp, y, cols, r, r);
      assert.ok(mem.subarray(y, y + 4 * rows).every((b) => b === 0x7f), 'an empty range wrote');
    });

    test(`${flavour}: matmul_${t} equals the reference and per-token matvec bit for bit, 1..9 tokens, row ranges`, () => {
      for (const random of [false, true]) {
        for (let nTok = 1; nTok <= 9; nTok++) {
          reset();
          const rows = 13, cols = COLS[t][nTok % 2];
          const p = problem(t, rows, cols, nTok, 500 + nTok, random);
          const want = reference(p);
          const y = alloc(4 * rows * nTok);
          kf[`matmul_${t}`](p.wp, p.xp, y, cols, rows, nTok, 0, rows);
          assertBitsEqual(f32Bits(y, rows * nTok), want, `${flavour} matmul_${t} ×${nTok}${random ? ' (random blocks)' : ''}`);
          // two row ranges
          const y2 = alloc(4 * rows * nTok);
          kf[`matmul_${t}`](p.wp, p.xp, y2, cols, rows, nTok, 0, 5);
          kf[`matmul_${t}`](p.wp, p.xp, y2, cols, rows, nTok, 5, rows);
          assertBitsEqual(f32Bits(y2, rows * nTok), want, `${flavour} matmul_${t} ×${nTok} split at row 5`);
          // the reference export over memory agrees
          const copy = mem.slice(0, arena.top);
          MORE_MATMUL_REFERENCE[`matmul_${t}`](copy, p.wp, p.xp, y2, cols, rows, nTok, 0, rows);
          assertBitsEqual(new Uint32Array(copy.buffer.slice(y2, y2 + 4 * rows * nTok)), want, `reference matmul_${t} ×${nTok}`);
        }
      }
    });

    if (moreActivation(t) !== 'q8_K') continue;
    test(`${flavour}: matvec_${t} and matmul_${t} at the bounds (largest levels, scales and mins against activations of −128 and 127; subnormal d and dmin) equal the reference`, () => {
      const cols = 768, rows = 3;
      const patterns: Array<[number, number]> = [[0xff, 0xff], [0x00, 0x00], [0xff, 0x00], [0x00, 0xff], [0xaa, 0x55]];
      // d and dmin normal, then subnormal halves (ggml's small K-quant scales)
      for (const [fill, sc, halves] of [...patterns.map(([f, s]) => [f, s, [0.013, -0.007]] as const), [0xff, 0xff, [3 * 2 ** -24, -1000 * 2 ** -24]] as const]) {
        for (const q of [-128, 127]) {
          reset();
          const w = boundBlocks(t, moreWeightRowBytes(t, cols) * rows, fill, sc, [...halves]);
          const xr = constantQ8K(cols, q);
          const x = new Uint8Array(xr.length * 5);
          for (let i = 0; i < 5; i++) x.set(i % 2 ? constantQ8K(cols, -1 - q) : xr, i * xr.length);
          const p: Problem = { t, rows, cols, nTok: 5, w, x, wp: put(w), xp: put(x) };
          const want = reference(p);
          const y = alloc(4 * rows * 5);
          kf[`matvec_${t}`](p.wp, p.xp, y, cols, 0, rows);
          assertBitsEqual(f32Bits(y, rows), want.subarray(0, rows), `${flavour} matvec_${t} fill 0x${fill.toString(16)} q ${q}`);
          kf[`matmul_${t}`](p.wp, p.xp, y, cols, rows, 5, 0, rows);
          assertBitsEqual(f32Bits(y, rows * 5), want, `${flavour} matmul_${t} fill 0x${fill.toString(16)} q ${q}`);
        }
      }
    });
  }
}

// ---- the f16 bounds of the block scales --------------------------------------------------------

/** Halves at the bounds: ±0, the smallest and largest subnormals, the smallest normal, the largest finite, ±infinity, NaN. */
const BOUND_HALVES = [0x0000, 0x8000, 0x0001, 0x83ff, 0x0400, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00];

/** Bits equal, NaN where the reference has NaN (wasm leaves a NaN's payload open). */
function assertSameOrBothNaN(got: Uint32Array, want: Uint32Array, what: string): void {
  const isNaN32 = (u: number) => (u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0;
  const g = Uint32Array.from(got, (u, i) => (isNaN32(u) && isNaN32(want[i]) ? want[i] : u));
  assertBitsEqual(g, want, what);
}

for (const t of ['q4_1', 'q5_0', 'q5_1'] as const) for (const [flavour, k] of FLAVOURS) {
  test(`${flavour}: matvec_${t} and matmul_${t} with scales at the f16 bounds (zeros, subnormals, the largest, infinities, NaN) equal the reference`, () => {
    reset();
    const rows = 11, cols = 224, nTok = 5;
    const r = mulberry32(77);
    const pick = () => (r() < 0.5 ? BOUND_HALVES[Math.floor(r() * BOUND_HALVES.length)] : f32ToF16((r() * 2 - 1) * 0.01));
    const p = problem(t, rows, cols, nTok, 31, true);
    const setHalves = (bytes: Uint8Array, block: number, offsets: number[]) => {
      for (let b = 0; b < bytes.length; b += block) for (const o of offsets) {
        const h = pick();
        bytes[b + o] = h & 0xff;
        bytes[b + o + 1] = h >> 8;
      }
    };
    setHalves(p.w, ...HALVES[t]);
    setHalves(p.x, ...HALVES[moreActivation(t) as 'q8_0' | 'q8_1']);
    mem.set(p.w, p.wp);
    mem.set(p.x, p.xp);
    const want = reference(p);
    const y = alloc(4 * rows * nTok);
    k[`matvec_${t}`](p.wp, p.xp, y, cols, 0, rows);
    assertSameOrBothNaN(f32Bits(y, rows), want.subarray(0, rows), `matvec_${t}`);
    k[`matmul_${t}`](p.wp, p.xp, y, cols, rows, nTok, 0, rows);
    assertSameOrBothNaN(f32Bits(y, rows * nTok), want, `matmul_${t} ×${nTok}`);
  });
}

for (const t of MORE_WEIGHT_TYPES) {
  // q4_1/q5_1: ggml's Σ (q·dw + m)·qx·dx takes m·dx·Σqx as m·s, s = q8_1's f16 sum; so does this check
  test(`matvec_${t} is the dot product of the dequantized weights and activations (f64 math, within 1e-5)`, () => {
    reset();
    const rows = 9, cols = COLS[t].at(-1)!;
    const p = problem(t, rows, cols, 1, 7, false);
    const xf = new Float32Array(cols);
    const a = moreActivation(t);
    if (a === 'q8_K') dequantizeRowQ8_K(p.x, xf, cols);
    else if (a === 'q8_1') dequantizeRowQ8_1(p.x, xf, cols);
    else xf.set(dequantize(GGMLType.Q8_0, p.x, cols));
    const wf = dequantize(moreGgmlType(t), p.w, rows * cols);
    const y = alloc(4 * rows);
    k[`matvec_${t}`](p.wp, p.xp, y, cols, 0, rows);
    const got = new Float32Array(memory.buffer.slice(y, y + 4 * rows) as ArrayBuffer);
    const wb = moreWeightRowBytes(t, cols);
    const half = (b: Uint8Array, i: number) => dequantize(GGMLType.F16, b.subarray(i, i + 2), 1)[0];
    let maxDiff = 0, maxRef = 0;
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let i = 0; i < cols; i++) {
        const m = a === 'q8_1' ? half(p.w, r * wb + (i >> 5) * (wb / (cols / 32)) + 2) : 0;
        s += (wf[r * cols + i] - m) * xf[i];
      }
      if (a === 'q8_1') for (let b = 0; b < cols / 32; b++) s += half(p.w, r * wb + b * (wb / (cols / 32)) + 2) * half(p.x, 36 * b + 2);
      maxDiff = Math.max(maxDiff, Math.abs(got[r] - s));
      maxRef = Math.max(maxRef, Math.abs(s));
    }
    assert.ok(maxDiff <= 1e-5 * maxRef, `${t}: relative error ${maxDiff / maxRef}`);
  });
}

// ---- q2_Kr4, q3_Kr4: q2_K / q3_K rows repacked four at a time (asm/matmul/q2_q3_kr4.ts) --------------
// Tolerance: exact. repack_q2_K_r4 / repack_q3_K_r4 write host/kernels/reference/q2_q3_kr4.ts's layout
// (the bits moved, nothing lost), and the kernels on it equal the plain kernels' reference on the
// original rows bit for bit, in every flavour. d (and dmin) must be finite (the host repacks only such).

const KR4 = {
  q2_K: { layout: 'q2_Kr4', repack: 'repack_q2_K_r4', to: q2KToQ2Kr4, back: q2Kr4ToQ2K },
  q3_K: { layout: 'q3_Kr4', repack: 'repack_q3_K_r4', to: q3KToQ3Kr4, back: q3Kr4ToQ3K },
} as const;

/** The problem's rows repacked by the kernel into a new buffer (poisoned first); returns its pointer. */
function repackR4(t: 'q2_K' | 'q3_K', p: Problem): number {
  const dst = alloc(p.w.length);
  mem.fill(0x5a, dst, dst + p.w.length);
  k[KR4[t].repack](p.wp, dst, p.rows, p.cols);
  return dst;
}

/** The layout's activations of the problem's q8_K rows: q2_Kr4's are q8_Kp (the same blocks, pairs of groups interleaved), q3_Kr4's q8_K. */
function layoutActivations(t: 'q2_K' | 'q3_K', p: Problem): number {
  return t === 'q2_K' ? put(q8KToQ8Kp(p.x)) : p.xp;
}

for (const [flavour, kf] of FLAVOURS) {
  test(`${flavour}: quantize_q8_Kp writes quantize_q8_K's blocks with each pair of groups' values interleaved, as the JS reference (random rows, ±max, zero blocks)`, () => {
    for (const cols of [256, 768, 2048]) {
      reset();
      const r = mulberry32(cols);
      const x = new Float32Array(cols).map(() => (r() - 0.5) * 8);
      x[7] = 100;
      x[300 % cols] = -100;
      if (cols > 512) x.fill(0, 256, 512);
      const xp = put(new Uint8Array(x.buffer));
      const got = alloc(rowBytes(GGMLType.Q8_K, cols));
      kf.quantize_q8_Kp(xp, got, cols);
      const copy = new Uint8Array(mem.length);
      copy.set(new Uint8Array(x.buffer), xp);
      const ref = 0;
      MORE_MATMUL_REFERENCE.quantize_q8_Kp(copy, xp, ref, cols);
      const want = copy.slice(ref, ref + rowBytes(GGMLType.Q8_K, cols));
      assert.ok(Buffer.from(mem.slice(got, got + want.length)).equals(Buffer.from(want)), `${flavour} ${cols}: kernel bytes = reference bytes`);
    }
  });
}

for (const t of ['q2_K', 'q3_K'] as const) {
  const { layout, repack, to, back } = KR4[t];

  test(`${repack} writes the reference layout, which gives back the ${t} rows byte for byte`, () => {
    for (const [rows, cols, random] of [[12, 512, true], [8, 1280, false], [4, 256, true], [4, 768, false]] as const) {
      reset();
      const p = problem(t, rows, cols, 1, 931 + cols, random);
      const r4 = repackR4(t, p);
      const got = mem.slice(r4, r4 + p.w.length);
      assert.ok(Buffer.from(got).equals(Buffer.from(to(p.w, rows, cols))), `${rows}×${cols}: kernel bytes = reference bytes`);
      assert.ok(Buffer.from(back(got, rows, cols)).equals(Buffer.from(p.w)), `${rows}×${cols}: lossless`);
    }
  });

  for (const [flavour, kf] of FLAVOURS) {
    test(`${flavour}: matvec_${layout} on repacked rows equals matvec_${t}'s reference bit for bit, over row splits (quantized and random blocks)`, () => {
      let seed = 5000;
      for (const rows of [4, 8, 12, 36, 132]) {
        for (const cols of [256, 768, 1280]) {
          for (const random of [false, true]) {
            reset();
            const p = problem(t, rows, cols, 1, seed++, random);
            const want = reference(p);
            const wr = repackR4(t, p);
            const y = alloc(4 * rows);
            mem.fill(0xff, y, y + 4 * rows);
            const xp = layoutActivations(t, p);
            kf[`matvec_${layout}`](wr, xp, y, cols, 0, rows);
            assertBitsEqual(f32Bits(y, rows), want, `${flavour} ${layout} ${rows}×${cols}`);
            const r = mulberry32(seed);
            const cuts = [0, ...Array.from({ length: 3 }, () => 4 * Math.floor(r() * (rows / 4 + 1)))].sort((a, b) => a - b);
            cuts.push(rows);
            mem.fill(0xff, y, y + 4 * rows);
            for (let i = 0; i + 1 < cuts.length; i++) kf[`matvec_${layout}`](wr, xp, y, cols, cuts[i], cuts[i + 1]);
            assertBitsEqual(f32Bits(y, rows), want, `${flavour} ${layout} split ${cuts.join(',')} ${rows}×${cols}`);
          }
        }
      }
    });

    test(`${flavour}: matmul_${layout} for nTok 1..9 equals matmul_${t}'s reference bit for bit, over row splits`, () => {
      let seed = 6000;
      for (const [rows, cols] of [[4, 256], [12, 768], [40, 512]]) {
        for (let nTok = 1; nTok <= 9; nTok++) {
          reset();
          const p = problem(t, rows, cols, nTok, seed++, nTok % 2 === 0);
          const want = reference(p);
          const wr = repackR4(t, p);
          const y = alloc(4 * rows * nTok);
          mem.fill(0xff, y, y + 4 * rows * nTok);
          const mid = 4 * Math.floor(rows / 8);
          const xp = layoutActivations(t, p);
          kf[`matmul_${layout}`](wr, xp, y, cols, rows, nTok, 0, mid);
          kf[`matmul_${layout}`](wr, xp, y, cols, rows, nTok, mid, rows);
          assertBitsEqual(f32Bits(y, rows * nTok), want, `${flavour} ${layout} matmul ${rows}×${cols} nTok ${nTok}`);
        }
      }
    });

    test(`${flavour}: matvec_${layout} and matmul_${layout} at the fields' bounds (levels, scales and mins all 0 or all max; x = ±127, −128) equal the reference`, () => {
      const rows = 8, cols = 768, nTok = 5;
      for (const [fill, q3Scales] of [[0xff, 0xff], [0x00, 0x00], [0xff, 0x00], [0x00, 0xff]]) {
        for (const q of [127, -127, -128]) {
          reset();
          const w = boundBlocks(t, moreWeightRowBytes(t, cols) * rows, fill, q3Scales);
          const xr = constantQ8K(cols, q);
          const x = new Uint8Array(xr.length * nTok);
          for (let i = 0; i < nTok; i++) x.set(xr, i * xr.length);
          const p: Problem = { t, rows, cols, nTok, w, x, wp: put(w), xp: put(x) };
          const want = reference(p);
          const wr = repackR4(t, p);
          const y = alloc(4 * rows * nTok);
          const xp = layoutActivations(t, p);
          kf[`matvec_${layout}`](wr, xp, y, cols, 0, rows);
          assertBitsEqual(f32Bits(y, rows), want.subarray(0, rows), `${flavour} ${layout} fill ${fill} q ${q}`);
          kf[`matmul_${layout}`](wr, xp, y, cols, rows, nTok, 0, rows);
          assertBitsEqual(f32Bits(y, rows * nTok), want, `${flavour} ${layout} matmul fill ${fill} q ${q}`);
        }
      }
    });
  }
}

// ---- flavours ------------------------------------------------------------------------------------

/** Every export of these formats on fixed problems, as bits, in a fixed order. */
function outputs(kernels: Record<string, (...args: number[]) => void>): Map<string, Uint32Array> {
  const out = new Map<string, Uint32Array>();
  for (const t of MORE_WEIGHT_TYPES) {
    reset();
    const rows = 13, cols = COLS[t][1];
    const p = problem(t, rows, cols, 9, 4242, true);
    const y = alloc(4 * rows * 9);
    kernels[`matvec_${t}`](p.wp, p.xp, y, cols, 0, rows);
    out.set(`matvec_${t}`, f32Bits(y, rows));
    for (let nTok = 1; nTok <= 9; nTok++) {
      kernels[`matmul_${t}`](p.wp, p.xp, y, cols, rows, nTok, 0, rows);
      out.set(`matmul_${t} ×${nTok}`, f32Bits(y, rows * nTok));
    }
    kernels[`get_row_${t}`](p.wp, y, cols, 2);
    out.set(`get_row_${t}`, f32Bits(y, cols));
  }
  reset();
  const x = randomFloats(224, 5);
  const xp = put(new Uint8Array(x.buffer));
  const o = alloc(rowBytes(GGMLType.Q8_1, 224));
  kernels.quantize_q8_1(xp, o, 224);
  out.set('quantize_q8_1', new Uint32Array(memory.buffer.slice(o, o + rowBytes(GGMLType.Q8_1, 224)) as ArrayBuffer));
  return out;
}

const baseline = outputs(k);
for (const flavour of flavoursOf('matmul', manifest).slice(1)) {
  const bytesOf = readFileSync(join(kernelsDir(), kernelModule('matmul', flavour, manifest).file));
  (WebAssembly.validate(bytesOf) ? test : test.skip)(`the ${flavour} flavour gives the baseline's bits for every export of these formats`, () => {
    const kf = instantiateKernel(compileFamily('matmul', undefined, manifest, flavour), memory) as Record<string, (...args: number[]) => void>;
    const got = outputs(kf);
    for (const [what, b] of baseline) assert.equal(Array.from(got.get(what)!), Array.from(b), `${flavour}: ${what}`);
  });
}

test.run();
