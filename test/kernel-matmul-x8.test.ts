// ggml's 8-bit activations in the `matmul` family (asm/matmul/quantize8.ts, act_q8_0_wide.ts,
// q4_0r8_x8s.ts; the relaxed flavour's asm/arch/relaxed/): every flavour this runtime can compile
// against the JS reference (host/kernels/reference/matmul.ts) and against each other, in one shared
// memory as the host loads them. A flavour the runtime cannot validate (relaxed SIMD before Node 22's
// V8 without a flag) is skipped with the reason.
//
// Tolerances:
//   quantize_q8_0w, quantize_q8_0s                        exact (bytes, vs the reference: x86 ggml's rounding)
//   matvec/matmul_<t>_x8* vs the f64 reference             1e-5 (same integer math; blocks summed in f32)
//   _x8* vs the plain matvec_q8_0 / matvec_q4_0 on the same values in ggml's q8_0 blocks: exact
//   matmul vs nTok matvec calls, row splits, q4_0r8 vs plain q4_0, every flavour vs simd128: exact
import { mulberry32 } from '../host/engine/sampler.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSharedMemory, flavoursOf, kernelModule, loadManifest } from '../host/kernels/load.js';
import { KernelArena } from './helpers/kernel-arena.js';
import { familyFlavours, type Kernels } from './helpers/kernel-flavours.js';
import {
  MATMUL_REFERENCE, QR_ORDER, quantizeBlockQ8_0Cpu, quantizeQ8_0S, quantizeQ8_0W, weightRowBytes, X8_OF, X8_WEIGHT_TYPES, type X8WeightType,
  matmulX8 as refMatmulX8, matvecX8 as refMatvecX8,
} from '../host/kernels/reference/matmul.js';
import { f32ToF16, GGMLType } from '../host/model/ggml-types.js';
import { quantize } from '../host/model/quantize/index.js';


// ---- harness: one memory, every flavour that compiles here ---------------------------------------

const memory = createSharedMemory(2048); // 128 MiB
const mem = new Uint8Array(memory.buffer);
const manifest = loadManifest();
const { flavours: FLAVOURS, skipped: SKIPPED } = familyFlavours('matmul', memory, manifest);
const base = FLAVOURS.simd128;

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
function f32s(p: number, n: number): Float32Array {
  return new Float32Array(memory.buffer.slice(p, p + 4 * n) as ArrayBuffer);
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

/** Weights of type t: quantized from random values, or random bytes (every quant pattern, q8_0's −128 too) with finite random scales. */
function weights(t: X8WeightType, rows: number, cols: number, seed: number, random: boolean): Uint8Array {
  if (!random) return quantize(t === 'q8_0' ? GGMLType.Q8_0 : GGMLType.Q4_0, randomFloats(rows * cols, seed, 0.05), cols);
  const r = mulberry32(seed);
  const w = new Uint8Array(weightRowBytes(t, cols) * rows);
  for (let i = 0; i < w.length; i++) w[i] = Math.floor(r() * 256);
  const block = t === 'q8_0' ? 34 : 18;
  for (let b = 0; b < w.length; b += block) {
    const h = f32ToF16((r() * 2 - 1) * 0.01);
    w[b] = h & 0xff;
    w[b + 1] = h >> 8;
  }
  return w;
}

function bitsEqual(got: Float32Array, want: Float32Array, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length), b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) assert.unreachable(`${what}: [${i}] ${got[i]} vs ${want[i]}`);
}

function within(got: Float32Array, want: Float64Array, tol: number, what: string): void {
  let md = 0, mr = 0;
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i])) continue;
    if (!Number.isFinite(got[i])) assert.unreachable(`${what}: [${i}] is ${got[i]}`);
    md = Math.max(md, Math.abs(got[i] - want[i]));
    mr = Math.max(mr, Math.abs(want[i]));
  }
  assert.ok(md <= tol * mr, `${what}: relative error ${(md / mr).toExponential(2)} > ${tol}`);
}

const TOL = 1e-5;
const xBytes = (t: X8WeightType, cols: number) => (cols / 32) * X8_OF[t].blockBytes;

interface Problem {
  t: X8WeightType;
  rows: number;
  cols: number;
  nTok: number;
  w: Uint8Array;
  x: Uint8Array;
  wp: number;
  xp: number;
}

function problem(t: X8WeightType, rows: number, cols: number, nTok: number, seed: number, random = false): Problem {
  const w = weights(t, rows, cols, seed, random);
  const xf = randomFloats(cols * nTok, seed + 1);
  const x = new Uint8Array(xBytes(t, cols) * nTok);
  X8_OF[t].quantize(xf, x);
  return { t, rows, cols, nTok, w, x, wp: put(w), xp: put(x) };
}

function matvec(k: Kernels, kernel: string, wp: number, xp: number, rows: number, cols: number, r0 = 0, r1 = rows, y = alloc(4 * rows)): Float32Array {
  if (r0 === 0) mem.fill(0xff, y, y + 4 * rows);
  k[kernel](wp, xp, y, cols, r0, r1);
  return f32s(y, rows);
}

function matmul(k: Kernels, kernel: string, wp: number, xp: number, rows: number, cols: number, nTok: number, r0 = 0, r1 = rows, y = alloc(4 * rows * nTok)): Float32Array {
  if (r0 === 0) mem.fill(0xff, y, y + 4 * rows * nTok);
  k[kernel](wp, xp, y, cols, rows, nTok, r0, r1);
  return f32s(y, rows * nTok);
}

/** The same activations as ggml's q8_0 blocks { f16 d; i8 qs[32] } (d is an f16 value, so exact). */
function asGgmlQ8_0(t: X8WeightType, x: Uint8Array, cols: number, nTok: number): Uint8Array {
  const bb = X8_OF[t].blockBytes;
  const out = new Uint8Array((cols / 32) * 34 * nTok);
  const dv = new DataView(x.buffer, x.byteOffset, x.byteLength);
  for (let b = 0; b < (cols / 32) * nTok; b++) {
    const h = f32ToF16(dv.getFloat32(b * bb, true));
    out[34 * b] = h & 0xff;
    out[34 * b + 1] = h >> 8;
    for (let j = 0; j < 32; j++) out[34 * b + 2 + j] = dv.getInt16(b * bb + 4 + 2 * j, true) & 0xff;
  }
  return out;
}

function repackR8(k: Kernels, p: Problem): number {
  const dst = alloc(p.w.length);
  k.repack_q4_0_r8(p.wp, dst, p.rows, p.cols);
  return dst;
}

const name = (t: X8WeightType, op: 'matvec' | 'matmul', layout = t as string) => `${op}_${layout}${X8_OF[t].suffix}`;

// ---- the module ----------------------------------------------------------------------------------

test('the manifest lists the 8-bit-activation exports in every flavour, and the reference has the plain ones', () => {
  const sig = (n: number) => ({ params: Array<string>(n).fill('i32'), results: [] });
  for (const flavour of flavoursOf('matmul', manifest)) {
    const fam = kernelModule('matmul', flavour, manifest);
    for (const [n, args] of [['quantize_q8_0w', 3], ['quantize_q8_0s', 3], ['matvec_q8_0_x8w', 6], ['matmul_q8_0_x8w', 8], ['matvec_q4_0_x8s', 6], ['matmul_q4_0_x8s', 8], ['matvec_q4_0r8_x8s', 6], ['matmul_q4_0r8_x8s', 8]] as const) {
      assert.equal(fam.exports[n], sig(args), `${flavour} ${n}`);
      if (!n.includes('r8')) assert.type(MATMUL_REFERENCE[n], 'function', `reference ${n}`);
    }
  }
  for (const [flavour, why] of Object.entries(SKIPPED)) console.log(`  skipped flavour ${flavour}: ${why}`);
  assert.ok(base, 'the baseline flavour compiles everywhere');
});

// ---- the quantizers ------------------------------------------------------------------------------

/** Quantizer inputs: several scales, exact halves (ties), a zero block, ±max, subnormals only. */
function quantizerInputs(): Float32Array[] {
  const cases = [randomFloats(32, 1), randomFloats(96, 2, 0.01), randomFloats(224, 3, 300), randomFloats(512, 4, 1e-6)];
  // ties: absmax 127 makes id = 1, so every k + 0.5 is an exact half (nearest-even: 0.5 → 0, 1.5 → 2, −2.5 → −2)
  const ties = new Float32Array(64);
  for (let i = 0; i < ties.length; i++) ties[i] = ((i % 50) - 25) + 0.5;
  ties[3] = -127;
  ties[40] = 127;
  cases.push(ties);
  const mixed = randomFloats(96, 9);
  mixed.fill(0, 32, 64);
  cases.push(mixed);
  const tiny = new Float32Array(32);
  for (let i = 0; i < 32; i++) tiny[i] = i % 2 ? -0 : (i - 16) * 1e-44;
  cases.push(tiny);
  return cases;
}

test('the values are x86 ggml\'s quantize_row_q8_0: id = 127/amax, halves to even (where ggml\'s reference rounds them away from zero)', () => {
  const x = new Float32Array(32); // amax 127: d = 1, id = 1, so x·id is x and halves are exact ties
  x[0] = 127;
  x[1] = 0.5;
  x[2] = 1.5;
  x[3] = -2.5;
  x[4] = 2.5;
  const { d, q } = quantizeBlockQ8_0Cpu(x, 0);
  assert.is(d, 1);
  assert.equal(Array.from(q.subarray(0, 5)), [127, 0, 2, -2, 2]);
});

for (const [kernel, ref, bb] of [['quantize_q8_0w', quantizeQ8_0W, 68], ['quantize_q8_0s', quantizeQ8_0S, 104]] as const) {
  test(`${kernel} writes the reference's bytes in every flavour`, () => {
    for (const [i, x] of quantizerInputs().entries()) {
      reset();
      const xp = put(new Uint8Array(x.buffer));
      const want = new Uint8Array((x.length / 32) * bb);
      ref(x, want);
      for (const [flavour, k] of Object.entries(FLAVOURS)) {
        const out = alloc(want.length);
        mem.fill(0xa5, out, out + want.length);
        k[kernel](xp, out, x.length);
        const got = mem.subarray(out, out + want.length);
        for (let j = 0; j < want.length; j++) if (got[j] !== want[j]) assert.unreachable(`${flavour} ${kernel} case ${i}: byte ${j}: ${got[j]} vs ${want[j]}`);
      }
    }
  });
}

test('q8_0w holds q as i16 and q8_0s holds q, 8·Σq, q in q4_0r8\'s nibble order; |q| ≤ 127', () => {
  const x = randomFloats(320, 17, 3);
  const w = new Uint8Array(10 * 68), s = new Uint8Array(10 * 104);
  quantizeQ8_0W(x, w);
  quantizeQ8_0S(x, s);
  const dw = new DataView(w.buffer), ds = new DataView(s.buffer);
  for (let b = 0; b < 10; b++) {
    let sum = 0;
    for (let j = 0; j < 32; j++) {
      const q = dw.getInt16(68 * b + 4 + 2 * j, true);
      assert.ok(Math.abs(q) <= 127);
      assert.is(ds.getInt16(104 * b + 4 + 2 * j, true), q);
      sum += q;
    }
    assert.is(ds.getInt32(104 * b + 68, true), 8 * sum);
    for (let j = 0; j < 32; j++) assert.is(ds.getInt8(104 * b + 72 + j), ds.getInt16(104 * b + 4 + 2 * ((j & ~7) + QR_ORDER[j & 7]), true));
  }
});

// ---- the dot products ------------------------------------------------------------------------------

const COLS = [32, 96, 160, 352, 800];
const ROWS = [1, 3, 17, 100];

for (const t of X8_WEIGHT_TYPES) {
  test(`matvec_${t}${X8_OF[t].suffix} matches the reference within ${TOL} and equals plain matvec_${t} on the same values bit for bit, in every flavour`, () => {
    for (const cols of COLS) {
      for (const rows of ROWS) {
        for (const random of [false, true]) {
          reset();
          const p = problem(t, rows, cols, 1, rows * 1000 + cols, random);
          const want = matvec(base, `matvec_${t}`, p.wp, put(asGgmlQ8_0(t, p.x, cols, 1)), rows, cols);
          for (const [flavour, k] of Object.entries(FLAVOURS)) {
            const got = matvec(k, name(t, 'matvec'), p.wp, p.xp, rows, cols);
            within(got, refMatvecX8(t, p.w, p.x, cols, 0, rows), TOL, `${flavour} ${rows}×${cols}`);
            bitsEqual(got, want, `${flavour} ${t} ${rows}×${cols}${random ? ' (random blocks)' : ''} vs plain matvec_${t}`);
          }
        }
      }
    }
  });

  test(`matmul_${t}${X8_OF[t].suffix} for nTok 1..9 equals nTok matvec calls exactly, over row splits, in every flavour`, () => {
    for (const random of [false, true]) {
      reset();
      const cols = 352, rows = 19, nMax = 9;
      const p = problem(t, rows, cols, nMax, 300 + cols, random);
      const perToken = Array.from({ length: nMax }, (_, tok) => matvec(base, name(t, 'matvec'), p.wp, p.xp + tok * xBytes(t, cols), rows, cols));
      for (const [flavour, k] of Object.entries(FLAVOURS)) {
        for (let nTok = 1; nTok <= nMax; nTok++) {
          const y = matmul(k, name(t, 'matmul'), p.wp, p.xp, rows, cols, nTok);
          for (let tok = 0; tok < nTok; tok++) bitsEqual(y.subarray(tok * rows, (tok + 1) * rows), perToken[tok], `${flavour} nTok ${nTok} token ${tok}`);
          within(y, refMatmulX8(t, p.w, p.x, cols, rows, nTok, 0, rows), TOL, `${flavour} nTok ${nTok} vs reference`);
          const ys = alloc(4 * rows * nTok);
          for (const [r0, r1] of [[0, 5], [5, 6], [6, 17], [17, 19]]) matmul(k, name(t, 'matmul'), p.wp, p.xp, rows, cols, nTok, r0, r1, ys);
          bitsEqual(f32s(ys, rows * nTok), y, `${flavour} nTok ${nTok} split`);
        }
        const ys = alloc(4 * rows);
        for (const [r0, r1] of [[0, 1], [1, 8], [8, 19]]) matvec(k, name(t, 'matvec'), p.wp, p.xp, rows, cols, r0, r1, ys);
        bitsEqual(f32s(ys, rows), perToken[0], `${flavour} matvec split`);
      }
    }
  });
}

test('q8_0 weights of −128 and q4_0 nibbles of 0 and 15 with activations of ±127 (the bounds): every flavour equals the reference and plain kernels', () => {
  for (const t of X8_WEIGHT_TYPES) {
    reset();
    const rows = 8, cols = 800;
    const w = weights(t, rows, cols, 31, true);
    const rb = weightRowBytes(t, cols), bb = t === 'q8_0' ? 34 : 18;
    for (let r = 0; r < 4; r++) {
      for (let b = r * rb; b < (r + 1) * rb; b += bb) w.fill(t === 'q8_0' ? 0x80 : r & 1 ? 0x00 : 0xff, b + 2, b + bb);
    }
    const xf = new Float32Array(cols).map((_, i) => (i % 3 === 0 ? -3 : 3)); // every q ±127
    const x = new Uint8Array(xBytes(t, cols));
    X8_OF[t].quantize(xf, x);
    const p: Problem = { t, rows, cols, nTok: 1, w, x, wp: put(w), xp: put(x) };
    const want = matvec(base, `matvec_${t}`, p.wp, put(asGgmlQ8_0(t, x, cols, 1)), rows, cols);
    within(want, refMatvecX8(t, w, x, cols, 0, rows), TOL, `${t} plain vs reference`);
    for (const [flavour, k] of Object.entries(FLAVOURS)) {
      bitsEqual(matvec(k, name(t, 'matvec'), p.wp, p.xp, rows, cols), want, `${flavour} ${t} matvec extremes`);
      bitsEqual(matmul(k, name(t, 'matmul'), p.wp, p.xp, rows, cols, 1), want, `${flavour} ${t} matmul extremes`);
      if (t === 'q4_0') {
        const wr = repackR8(k, p);
        bitsEqual(matvec(k, 'matvec_q4_0r8_x8s', wr, p.xp, rows, cols), want, `${flavour} q4_0r8 extremes`);
        bitsEqual(matmul(k, 'matmul_q4_0r8_x8s', wr, p.xp, rows, cols, 1), want, `${flavour} q4_0r8 matmul extremes`);
      }
    }
  }
});

// ---- q4_0r8 on q8_0s ----------------------------------------------------------------------------

test('matvec_q4_0r8_x8s on repacked rows equals matvec_q4_0_x8s bit for bit, over row splits at multiples of 8, in every flavour', () => {
  let seed = 1000;
  for (const random of [false, true]) {
    for (const rows of [8, 16, 24, 40, 136]) {
      for (const cols of [32, 96, 160, 288, 800]) {
        reset();
        const p = problem('q4_0', rows, cols, 1, seed++, random);
        const want = matvec(base, 'matvec_q4_0_x8s', p.wp, p.xp, rows, cols);
        const wr = repackR8(base, p);
        const r = mulberry32(seed);
        const cuts = [0, ...Array.from({ length: 3 }, () => 8 * Math.floor(r() * (rows / 8 + 1)))].sort((a, b) => a - b);
        cuts.push(rows);
        for (const [flavour, k] of Object.entries(FLAVOURS)) {
          bitsEqual(matvec(k, 'matvec_q4_0r8_x8s', wr, p.xp, rows, cols), want, `${flavour} r8 ${rows}×${cols}`);
          const y = alloc(4 * rows);
          for (let i = 0; i + 1 < cuts.length; i++) matvec(k, 'matvec_q4_0r8_x8s', wr, p.xp, rows, cols, cuts[i], cuts[i + 1], y);
          bitsEqual(f32s(y, rows), want, `${flavour} r8 split ${cuts.join(',')} ${rows}×${cols}`);
        }
      }
    }
  }
});

test('matmul_q4_0r8_x8s for nTok 1..9 equals nTok matvec_q4_0_x8s calls on the original rows exactly, over row splits, in every flavour', () => {
  let seed = 2000;
  for (const [rows, cols] of [[8, 64], [16, 160], [40, 288]]) {
    for (let nTok = 1; nTok <= 9; nTok++) {
      reset();
      const p = problem('q4_0', rows, cols, nTok, seed++, nTok % 2 === 0);
      const want = matmul(base, 'matmul_q4_0_x8s', p.wp, p.xp, rows, cols, nTok);
      const wr = repackR8(base, p);
      const mid = 8 * Math.floor(rows / 16);
      for (const [flavour, k] of Object.entries(FLAVOURS)) {
        const y = alloc(4 * rows * nTok);
        matmul(k, 'matmul_q4_0r8_x8s', wr, p.xp, rows, cols, nTok, 0, mid, y);
        matmul(k, 'matmul_q4_0r8_x8s', wr, p.xp, rows, cols, nTok, mid, rows, y);
        bitsEqual(f32s(y, rows * nTok), want, `${flavour} r8 matmul ${rows}×${cols} nTok ${nTok}`);
      }
    }
  }
});

test.run();
