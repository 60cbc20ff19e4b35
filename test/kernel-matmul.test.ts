// The `matmul` kernel family against its JS reference (host/kernels/reference/matmul.ts), ggml's
// quantizers (host/model/quantize/) and ggml's dequantizers (host/model/ggml-types.ts), loaded the way
// the host loads it: one shared memory, WASI stubs.
//
// Tolerances (max |kernel − reference| / max |reference| over an output vector):
//   quantize_q8_0, quantize_q8_K, get_row_*           exact (bytes / float bits)
//   matvec_*, matmul_* vs the f64 reference            1e-5 (same integer math; blocks summed in f32)
//   matmul_* vs nTok matvec_* calls, and row splits    exact (the same operations in the same order)
//   quantized matvec vs f32 matvec of the dequantized weights and the unquantized x: 2e-2 (q8 activations)
//   quantize_q16_0, quantize_q16_K                     exact (bytes, vs the JS reference)
//   matvec_*_x16, matmul_*_x16 vs the f64 reference    1e-5; matmul vs matvec and row splits exact
//   x16 vs f32 math: its error at least 50× below the 8-bit path's on the same weights and x
import { mulberry32 } from '../host/engine/sampler.js';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WASI } from 'node:wasi';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KERNEL_ABI, compileFamily, createSharedMemory, flavoursOf, instantiateKernel, kernelModule, kernelsDir, loadManifest } from '../host/kernels/load.js';
import {
  MATMUL_REFERENCE, MATMUL_WEIGHT_TYPES, type MatmulWeightType, activationRowBytes, activationType, getRow, ggmlTypeOf,
  matmul as refMatmul, matvec as refMatvec, quantizeActivation, weightRowBytes,
  X16_WEIGHT_TYPES, type X16WeightType, activationRowBytesX16, matmulX16 as refMatmulX16, matvecX16 as refMatvecX16,
  quantizeActivationX16, quantizeQ16_0, quantizeQ16_0S, quantizeQ16_K,
} from '../host/kernels/reference/matmul.js';
import { q6KToQ6Kr4, q6Kr4ToQ6K } from '../host/kernels/reference/q6_kr4.js';
import { GGMLType, dequantize, f32ToF16 } from '../host/model/ggml-types.js';
import { quantize, quantizeRow } from '../host/model/quantize/index.js';
import { KernelArena } from './helpers/kernel-arena.js';

// ---- harness ---------------------------------------------------------------------------------

const PAGES = 2048; // 128 MiB
const memory = createSharedMemory(PAGES);
const k = instantiateKernel(compileFamily('matmul'), memory) as Record<string, (...args: number[]) => void>;
const mem = new Uint8Array(memory.buffer);

/** A bump allocator over the memory from 1 MiB (below belongs to the modules' static data). */
const arena = new KernelArena(memory);
const alloc = (bytes: number, align?: number): number => arena.alloc(bytes, align);
function reset(): void {
  arena.reset();
}
function put(bytes: Uint8Array, align = 64): number {
  const p = alloc(bytes.length, align);
  mem.set(bytes, p);
  return p;
}
function putF32(x: Float32Array): number {
  return put(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
}
function f32s(p: number, n: number): Float32Array {
  return new Float32Array(memory.buffer.slice(p, p + 4 * n) as ArrayBuffer);
}
function bytes(p: number, n: number): Uint8Array {
  return mem.slice(p, p + n);
}

const rng = mulberry32;

/** n floats, roughly normal with standard deviation `scale`, with a few outliers. */
function randomFloats(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const g = (r() + r() + r() + r() - 2) * 1.7;
    out[i] = (r() < 0.01 ? 6 * g : g) * scale;
  }
  return out;
}

/** Weights of type t for a rows×cols matrix, as a ggml quantizer writes them. */
function quantizedWeights(t: MatmulWeightType, rows: number, cols: number, seed: number): Uint8Array {
  return quantize(ggmlTypeOf(t), randomFloats(rows * cols, seed, 0.05), cols);
}

/**
 * Weights of type t made of random bytes (every bit pattern of qs, scales, mins: q8_0 −128, q6_K
 * scale −128, 6-bit q4_K scales up to 63), with each f16 d / dmin a random finite half of moderate size.
 */
function randomBlockWeights(t: MatmulWeightType, rows: number, cols: number, seed: number): Uint8Array {
  if (t === 'f32' || t === 'f16') return quantizedWeights(t, rows, cols, seed);
  const r = rng(seed);
  const w = new Uint8Array(weightRowBytes(t, cols) * rows);
  for (let i = 0; i < w.length; i++) w[i] = Math.floor(r() * 256);
  const half = (p: number) => {
    const h = f32ToF16((r() * 2 - 1) * 0.01);
    w[p] = h & 0xff;
    w[p + 1] = h >> 8;
  };
  const [block, dOffsets] = ({ q8_0: [34, [0]], q4_0: [18, [0]], q4_K: [144, [0, 2]], q6_K: [210, [208]] } as const)[t];
  for (let b = 0; b < w.length; b += block) for (const o of dOffsets) half(b + o);
  return w;
}

/** max |got − want| / max |want| (0 when both are all zero). */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let maxDiff = 0, maxRef = 0;
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i])) continue;
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    maxRef = Math.max(maxRef, Math.abs(want[i]));
  }
  if (Number.isNaN(maxDiff)) return Infinity;
  return maxDiff === 0 ? 0 : maxDiff / maxRef;
}

function assertWithin(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (!Number.isNaN(want[i]) && !Number.isFinite(got[i])) assert.unreachable(`${what}: [${i}] is ${got[i]}`);
  }
  const e = relErr(got, want);
  assert.ok(e <= tol, `${what}: relative error ${e.toExponential(2)} > ${tol}`);
}

function assertBitsEqual(got: Float32Array, want: Float32Array, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length), b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) assert.unreachable(`${what}: [${i}] ${got[i]} (0x${a[i].toString(16)}) vs ${want[i]} (0x${b[i].toString(16)})`);
  }
}

function assertBytesEqual(got: Uint8Array, want: Uint8Array, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== want[i]) assert.unreachable(`${what}: byte ${i}: ${got[i]} vs ${want[i]}`);
  }
}

const isK = (t: MatmulWeightType) => t === 'q4_K' || t === 'q6_K';
const isFloat = (t: MatmulWeightType) => t === 'f32' || t === 'f16';
/** Column counts for a type: k·block with k odd (and, for f32/f16 whose block is one value, ragged tails). */
function colsFor(t: MatmulWeightType): number[] {
  if (isK(t)) return [256, 768, 1280];
  if (isFloat(t)) return [1, 7, 33, 100, 257, 800];
  return [32, 96, 160, 352, 800];
}
const ROWS = [1, 3, 17, 100];

interface Problem {
  t: MatmulWeightType;
  rows: number;
  cols: number;
  w: Uint8Array;
  xf: Float32Array; // nTok rows of cols floats
  x: Uint8Array; // their activation bytes (f32, q8_0 or q8_K)
  wp: number;
  xp: number;
}

/** A rows×cols problem with nTok activation rows, written into the memory. */
function problem(t: MatmulWeightType, rows: number, cols: number, nTok: number, seed: number, random = false): Problem {
  const w = random ? randomBlockWeights(t, rows, cols, seed) : quantizedWeights(t, rows, cols, seed);
  const xf = randomFloats(cols * nTok, seed + 1);
  const x = new Uint8Array(activationRowBytes(t, cols) * nTok);
  const xb = activationRowBytes(t, cols);
  for (let i = 0; i < nTok; i++) x.set(quantizeActivation(t, xf.subarray(i * cols, (i + 1) * cols)), i * xb);
  return { t, rows, cols, w, xf, x, wp: put(w), xp: put(x) };
}

function runMatvec(p: Problem, r0 = 0, r1 = p.rows): Float32Array {
  const y = alloc(4 * p.rows);
  mem.fill(0xff, y, y + 4 * p.rows); // NaN sentinels
  k[`matvec_${p.t}`](p.wp, p.xp, y, p.cols, r0, r1);
  return f32s(y, p.rows);
}

function runMatmul(p: Problem, nTok: number, r0 = 0, r1 = p.rows): Float32Array {
  const y = alloc(4 * p.rows * nTok);
  mem.fill(0xff, y, y + 4 * p.rows * nTok);
  k[`matmul_${p.t}`](p.wp, p.xp, y, p.cols, p.rows, nTok, r0, r1);
  return f32s(y, p.rows * nTok);
}

// ---- the module --------------------------------------------------------------------------------

const EXPORTS = [
  'quantize_q8_0', 'quantize_q8_K',
  ...MATMUL_WEIGHT_TYPES.flatMap((t) => [`matvec_${t}`, `matmul_${t}`, `get_row_${t}`]),
  'quantize_q16_0', 'quantize_q16_0s', 'quantize_q16_K',
  ...X16_WEIGHT_TYPES.flatMap((t) => [`matvec_${t}_x16`, `matmul_${t}_x16`]),
];

test('the manifest lists every export of the host ABI version with its signature, and the reference has each one', () => {
  const fam = kernelModule('matmul', undefined, loadManifest());
  assert.is(fam.abi, KERNEL_ABI);
  const sig = (n: number) => ({ params: Array<string>(n).fill('i32'), results: [] });
  for (const name of EXPORTS) {
    const want = name.startsWith('quantize') ? sig(3) : name.startsWith('matvec') ? sig(6) : name.startsWith('matmul') ? sig(8) : sig(4);
    assert.equal(fam.exports[name], want, name);
    assert.type(MATMUL_REFERENCE[name], 'function', `reference ${name}`);
  }
  // the load-time specializations: signatures only (they are checked bit for bit against the kernels they specialize)
  const specialized: Record<string, number> = {
    repack_q4_0_r8: 4, matvec_q4_0r8_x16s: 6, matmul_q4_0r8_x16s: 8,
    repack_q4_K_r4: 4, matvec_q4_Kr4_x16: 6, matmul_q4_Kr4_x16: 8, matvec_q4_Kr4: 6, matmul_q4_Kr4: 8,
    repack_q6_K_r4: 4, matvec_q6_Kr4: 6, matmul_q6_Kr4: 8, get_row_q6_Kr4: 4,
    repack_q5_0_r4: 4, matvec_q5_0r4: 6, matmul_q5_0r4: 8, get_row_q5_0r4: 4, quantize_q8_0e: 3,
    repack_q5_1_r4: 4, matvec_q5_1r4: 6, matmul_q5_1r4: 8, get_row_q5_1r4: 4,
    repack_q2_K_r4: 4, matvec_q2_Kr4: 6, matmul_q2_Kr4: 8, quantize_q8_Kp: 3, repack_q3_K_r4: 4, matvec_q3_Kr4: 6, matmul_q3_Kr4: 8,
    matvec_f16f: 6, matmul_f16f: 8,
  };
  for (const [name, n] of Object.entries(specialized)) assert.equal(fam.exports[name], sig(n), name);
  assert.equal(fam.exports._start, { params: [], results: [] });
  assert.equal(fam.wasiImports.filter((i) => !['wasi_snapshot_preview1.fd_write', 'wasi_snapshot_preview1.proc_exit'].includes(i)), []);
});

/** Runs the module's `_start` under node:wasi in a fresh shared memory; returns its exit code and output. */
function runSelfTest(): { code: number; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'wisp-selftest-'));
  try {
    const file = join(dir, 'stdout');
    const fd = openSync(file, 'w');
    const wasi = new WASI({ version: 'preview1', returnOnExit: true, stdout: fd });
    const instance = new WebAssembly.Instance(compileFamily('matmul'), {
      env: { memory: createSharedMemory(17) },
      ...(wasi.getImportObject() as WebAssembly.Imports),
    });
    const code = wasi.start(instance);
    closeSync(fd);
    return { code, out: readFileSync(file, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the module self-test passes under node:wasi', () => {
  const { code, out } = runSelfTest();
  assert.match(out, /^matmul: \d+ checks, 0 failed$/m);
  assert.is(code, 0, out);
});

// ---- activation quantizers ---------------------------------------------------------------------

/** Inputs that exercise the quantizers' corners: several scales, exact ties, zero blocks, ±max. */
function quantizerInputs(block: number): Float32Array[] {
  const cases: Float32Array[] = [];
  for (const [n, scale, seed] of [[block, 1, 1], [block * 3, 0.01, 2], [block * 7, 300, 3], [block * 16, 1e-6, 4]]) {
    cases.push(randomFloats(n, seed, scale));
  }
  // ties: with absmax 127 (q8_0: d = 1) or max −127 (q8_K: scale 1) every k + 0.5 is an exact half
  const ties = new Float32Array(block * 2);
  for (let i = 0; i < ties.length; i++) ties[i] = ((i % 50) - 25) + 0.5;
  for (let b = 0; b < 2; b++) ties[b * block + 3] = -127;
  cases.push(ties);
  // a zero block between two others; one with +m and −m (the first of them sets the sign)
  const mixed = randomFloats(block * 3, 9);
  mixed.fill(0, block, 2 * block);
  mixed[2 * block + 5] = 40;
  mixed[2 * block + 9] = -40;
  cases.push(mixed);
  // negative zeros and subnormals only
  const tiny = new Float32Array(block);
  for (let i = 0; i < block; i++) tiny[i] = i % 2 ? -0 : (i - block / 2) * 1e-44;
  cases.push(tiny);
  return cases;
}

for (const [name, type, block] of [['quantize_q8_0', GGMLType.Q8_0, 32], ['quantize_q8_K', GGMLType.Q8_K, 256]] as const) {
  test(`${name} writes the same bytes as ggml's reference quantizer`, () => {
    for (const [i, x] of quantizerInputs(block).entries()) {
      reset();
      const xp = putF32(x);
      const n = x.length;
      const want = new Uint8Array(type === GGMLType.Q8_0 ? (n / 32) * 34 : (n / 256) * 292);
      quantizeRow(type, x, want);
      const out = alloc(want.length);
      mem.fill(0xa5, out, out + want.length);
      k[name](xp, out, n);
      assertBytesEqual(bytes(out, want.length), want, `${name} case ${i}`);
      // the reference export over memory does the same
      const copy = mem.slice(0, arena.top);
      MATMUL_REFERENCE[name](copy, xp, out, n);
      assertBytesEqual(copy.subarray(out, out + want.length), want, `reference ${name} case ${i}`);
    }
  });
}

// ---- get_row ---------------------------------------------------------------------------------

for (const t of MATMUL_WEIGHT_TYPES) {
  test(`get_row_${t} equals ggml's dequantizer bit for bit`, () => {
    for (const cols of colsFor(t)) {
      for (const random of [false, true]) {
        reset();
        const rows = 5;
        const w = random ? randomBlockWeights(t, rows, cols, cols + 7) : quantizedWeights(t, rows, cols, cols);
        const wp = put(w, 2);
        for (const row of [0, 3, 4]) {
          const out = alloc(4 * cols);
          k[`get_row_${t}`](wp, out, cols, row);
          assertBitsEqual(f32s(out, cols), getRow(t, w, cols, row), `get_row_${t} cols ${cols} row ${row}${random ? ' (random blocks)' : ''}`);
        }
      }
    }
  });
}

test('get_row_f16 converts every kind of half exactly: ±0, subnormals, infinities, NaN payloads', () => {
  reset();
  const halves = new Uint16Array([0x0000, 0x8000, 0x0001, 0x83ff, 0x0400, 0x3c00, 0xbc00, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xfd55, 0x3555, 0x0200, 0x1234]);
  const w = new Uint8Array(halves.buffer);
  const wp = put(w, 2);
  const out = alloc(4 * halves.length);
  k.get_row_f16(wp, out, halves.length, 0);
  assertBitsEqual(f32s(out, halves.length), dequantize(GGMLType.F16, w, halves.length), 'special halves');
});

// ---- matvec ----------------------------------------------------------------------------------

const MATVEC_TOL = 1e-5;

for (const t of MATMUL_WEIGHT_TYPES) {
  test(`matvec_${t} matches the reference (cols ${colsFor(t).join('/')} × rows ${ROWS.join('/')}) within ${MATVEC_TOL}`, () => {
    let worst = 0;
    for (const cols of colsFor(t)) {
      for (const rows of ROWS) {
        for (const random of [false, true]) {
          reset();
          const p = problem(t, rows, cols, 1, rows * 1000 + cols, random);
          const got = runMatvec(p);
          const want = refMatvec(t, p.w, p.x, cols, 0, rows);
          assertWithin(got, want, MATVEC_TOL, `matvec_${t} ${rows}×${cols}${random ? ' (random blocks)' : ''}`);
          worst = Math.max(worst, relErr(got, want));
        }
      }
    }
    assert.ok(worst <= MATVEC_TOL);
  });

  test(`matvec_${t} over row ranges that split a matrix equals one full call, and writes only its rows`, () => {
    reset();
    const cols = colsFor(t)[2], rows = 37;
    const p = problem(t, rows, cols, 1, 77);
    const full = runMatvec(p);
    for (const cuts of [[0, 1, 37], [0, 4, 8, 37], [0, 5, 6, 7, 22, 37], [0, 13, 29, 30, 37]]) {
      const y = alloc(4 * rows);
      mem.fill(0xff, y, y + 4 * rows);
      for (let i = 0; i + 1 < cuts.length; i++) {
        const before = f32s(y, rows);
        k[`matvec_${t}`](p.wp, p.xp, y, cols, cuts[i], cuts[i + 1]);
        const after = f32s(y, rows);
        for (let r = 0; r < rows; r++) {
          const inside = r >= cuts[i] && r < cuts[i + 1];
          if (!inside) assert.is(new Uint32Array(after.buffer)[r], new Uint32Array(before.buffer)[r], `row ${r} written by [${cuts[i]}, ${cuts[i + 1]})`);
        }
      }
      assertBitsEqual(f32s(y, rows), full, `split ${cuts.join(',')}`);
    }
  });
}

// ---- matmul ----------------------------------------------------------------------------------

for (const t of MATMUL_WEIGHT_TYPES) {
  test(`matmul_${t} for nTok 1..9 equals nTok matvec calls exactly, and the reference within ${MATVEC_TOL}`, () => {
    for (const random of [false, true]) {
      reset();
      const cols = colsFor(t)[1], rows = 19, nMax = 9;
      const p = problem(t, rows, cols, nMax, 300 + cols, random);
      const xb = activationRowBytes(t, cols);
      const perToken: Float32Array[] = [];
      for (let tok = 0; tok < nMax; tok++) {
        perToken.push(runMatvec({ ...p, xp: p.xp + tok * xb }));
      }
      for (let nTok = 1; nTok <= nMax; nTok++) {
        const y = runMatmul(p, nTok);
        for (let tok = 0; tok < nTok; tok++) {
          assertBitsEqual(y.subarray(tok * rows, (tok + 1) * rows), perToken[tok], `matmul_${t} nTok ${nTok} token ${tok}`);
        }
        assertWithin(y, refMatmul(t, p.w, p.x, cols, rows, nTok, 0, rows), MATVEC_TOL, `matmul_${t} nTok ${nTok} vs reference`);
      }
    }
  });

  test(`matmul_${t} over row ranges that split a matrix equals one full call, and writes only its rows`, () => {
    reset();
    const cols = colsFor(t)[2], rows = 23, nTok = 6;
    const p = problem(t, rows, cols, nTok, 99);
    const full = runMatmul(p, nTok);
    for (const cuts of [[0, 1, 23], [0, 4, 8, 23], [0, 5, 6, 17, 23]]) {
      const y = alloc(4 * rows * nTok);
      mem.fill(0xff, y, y + 4 * rows * nTok);
      for (let i = 0; i + 1 < cuts.length; i++) {
        const before = new Uint32Array(f32s(y, rows * nTok).buffer);
        k[`matmul_${t}`](p.wp, p.xp, y, cols, rows, nTok, cuts[i], cuts[i + 1]);
        const after = new Uint32Array(f32s(y, rows * nTok).buffer);
        for (let j = 0; j < rows * nTok; j++) {
          const r = j % rows;
          if (r < cuts[i] || r >= cuts[i + 1]) assert.is(after[j], before[j], `entry ${j} written by rows [${cuts[i]}, ${cuts[i + 1]})`);
        }
      }
      assertBitsEqual(f32s(y, rows * nTok), full, `split ${cuts.join(',')}`);
    }
  });
}

// ---- meaning ---------------------------------------------------------------------------------

const CLOSE_TOL = 2e-2;

test(`quantized matvec is close (${CLOSE_TOL}) to an f32 matvec of the dequantized weights and the unquantized x`, () => {
  for (const t of MATMUL_WEIGHT_TYPES) {
    reset();
    const cols = isK(t) ? 2048 : 1024, rows = 64;
    const p = problem(t, rows, cols, 1, 4242);
    const got = runMatvec(p);
    const wf = dequantize(ggmlTypeOf(t), p.w, rows * cols);
    const want = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let i = 0; i < cols; i++) s += wf[r * cols + i] * p.xf[i];
      want[r] = s;
    }
    const tol = activationType(t) === 'f32' ? MATVEC_TOL : CLOSE_TOL;
    assertWithin(got, want, tol, `matvec_${t} vs f32 math`);
  }
});

test('the reference exports over memory agree with the typed-array reference', () => {
  for (const t of MATMUL_WEIGHT_TYPES) {
    reset();
    const cols = colsFor(t)[1], rows = 9, nTok = 3;
    const p = problem(t, rows, cols, nTok, 5);
    const y = alloc(4 * rows * nTok);
    const copy = mem.slice(0, arena.top);
    MATMUL_REFERENCE[`matmul_${t}`](copy, p.wp, p.xp, y, cols, rows, nTok, 2, 7);
    const got = new Float32Array(copy.buffer.slice(y, y + 4 * rows * nTok));
    const want = refMatmul(t, p.w, p.x, cols, rows, nTok, 2, 7);
    for (let i = 0; i < want.length; i++) if (!Number.isNaN(want[i])) assert.is(got[i], Math.fround(want[i]), `${t} [${i}]`);
  }
});

// ---- 16-bit activations (q16_0 / q16_K and the _x16 kernels) ---------------------------------------

for (const [name, block, blockBytes, ref] of [['quantize_q16_0', 32, 68, quantizeQ16_0], ['quantize_q16_0s', 32, 72, quantizeQ16_0S], ['quantize_q16_K', 256, 580, quantizeQ16_K]] as const) {
  test(`${name} writes the same bytes as the JS reference`, () => {
    for (const [i, x] of quantizerInputs(block).entries()) {
      reset();
      const xp = putF32(x);
      const n = x.length;
      const want = new Uint8Array((n / block) * blockBytes);
      ref(x, want);
      const out = alloc(want.length);
      mem.fill(0xa5, out, out + want.length);
      k[name](xp, out, n);
      assertBytesEqual(bytes(out, want.length), want, `${name} case ${i}`);
      const copy = mem.slice(0, arena.top);
      MATMUL_REFERENCE[name](copy, xp, out, n);
      assertBytesEqual(copy.subarray(out, out + want.length), want, `reference ${name} case ${i}`);
    }
  });
}

interface ProblemX16 extends Problem {
  t: X16WeightType;
}

/** As problem(), with the activations quantized to q16_0 / q16_K. */
function problemX16(t: X16WeightType, rows: number, cols: number, nTok: number, seed: number, random = false): ProblemX16 {
  const w = random ? randomBlockWeights(t, rows, cols, seed) : quantizedWeights(t, rows, cols, seed);
  const xf = randomFloats(cols * nTok, seed + 1);
  const xb = activationRowBytesX16(t, cols);
  const x = new Uint8Array(xb * nTok);
  for (let i = 0; i < nTok; i++) x.set(quantizeActivationX16(t, xf.subarray(i * cols, (i + 1) * cols)), i * xb);
  return { t, rows, cols, w, xf, x, wp: put(w), xp: put(x) };
}

function runMatvecX16(p: ProblemX16, r0 = 0, r1 = p.rows): Float32Array {
  const y = alloc(4 * p.rows);
  mem.fill(0xff, y, y + 4 * p.rows);
  k[`matvec_${p.t}_x16`](p.wp, p.xp, y, p.cols, r0, r1);
  return f32s(y, p.rows);
}

function runMatmulX16(p: ProblemX16, nTok: number, r0 = 0, r1 = p.rows): Float32Array {
  const y = alloc(4 * p.rows * nTok);
  mem.fill(0xff, y, y + 4 * p.rows * nTok);
  k[`matmul_${p.t}_x16`](p.wp, p.xp, y, p.cols, p.rows, nTok, r0, r1);
  return f32s(y, p.rows * nTok);
}

for (const t of X16_WEIGHT_TYPES) {
  test(`matvec_${t}_x16 matches the reference (cols ${colsFor(t).join('/')} × rows ${ROWS.join('/')}) within ${MATVEC_TOL}`, () => {
    for (const cols of colsFor(t)) {
      for (const rows of ROWS) {
        for (const random of [false, true]) {
          reset();
          const p = problemX16(t, rows, cols, 1, rows * 1000 + cols, random);
          assertWithin(runMatvecX16(p), refMatvecX16(t, p.w, p.x, cols, 0, rows), MATVEC_TOL, `matvec_${t}_x16 ${rows}×${cols}${random ? ' (random blocks)' : ''}`);
        }
      }
    }
  });

  test(`matvec_${t}_x16 at the overflow bounds (all quants and scales extreme, x = ±max) matches the reference`, () => {
    reset();
    const cols = colsFor(t)[2], rows = 8;
    const w = randomBlockWeights(t, rows, cols, 31);
    const rb = weightRowBytes(t, cols);
    // rows 0-3: every quant byte / scale byte at one extreme; x = +max or alternating
    for (let r = 0; r < 4; r++) {
      const row = w.subarray(r * rb, (r + 1) * rb);
      const fill = r & 1 ? 0x00 : 0xff;
      if (t === 'q8_0') for (let b = 0; b < row.length; b += 34) row.fill(0x80, b + 2, b + 34);
      else if (t === 'q4_0') for (let b = 0; b < row.length; b += 18) row.fill(fill, b + 2, b + 18);
      else if (t === 'q4_K') for (let b = 0; b < row.length; b += 144) row.fill(0xff, b + 4, b + 144);
      else for (let b = 0; b < row.length; b += 210) { row.fill(0x00, b, b + 192); row.fill(0x80, b + 192, b + 208); }
    }
    const xf = new Float32Array(cols);
    xf.fill(-3); // every q = −32767
    const x = quantizeActivationX16(t, xf);
    const p: ProblemX16 = { t, rows, cols, w, xf, x, wp: put(w), xp: put(x) };
    const want = refMatvecX16(t, w, x, cols, 0, rows);
    assertWithin(runMatvecX16(p), want, MATVEC_TOL, `matvec_${t}_x16 extremes`);
    const m = runMatmulX16(p, 1);
    assertWithin(m, want, MATVEC_TOL, `matmul_${t}_x16 extremes`);
  });

  test(`matvec_${t}_x16 over row ranges that split a matrix equals one full call, and writes only its rows`, () => {
    reset();
    const cols = colsFor(t)[2], rows = 37;
    const p = problemX16(t, rows, cols, 1, 77);
    const full = runMatvecX16(p);
    for (const cuts of [[0, 1, 37], [0, 4, 8, 37], [0, 5, 6, 7, 22, 37], [0, 13, 29, 30, 37]]) {
      const y = alloc(4 * rows);
      mem.fill(0xff, y, y + 4 * rows);
      for (let i = 0; i + 1 < cuts.length; i++) {
        const before = new Uint32Array(f32s(y, rows).buffer);
        k[`matvec_${t}_x16`](p.wp, p.xp, y, cols, cuts[i], cuts[i + 1]);
        const after = new Uint32Array(f32s(y, rows).buffer);
        for (let r = 0; r < rows; r++) {
          if (r < cuts[i] || r >= cuts[i + 1]) assert.is(after[r], before[r], `row ${r} written by [${cuts[i]}, ${cuts[i + 1]})`);
        }
      }
      assertBitsEqual(f32s(y, rows), full, `split ${cuts.join(',')}`);
    }
  });

  test(`matmul_${t}_x16 for nTok 1..9 equals nTok matvec calls exactly, and the reference within ${MATVEC_TOL}`, () => {
    for (const random of [false, true]) {
      reset();
      const cols = colsFor(t)[1], rows = 19, nMax = 9;
      const p = problemX16(t, rows, cols, nMax, 300 + cols, random);
      const xb = activationRowBytesX16(t, cols);
      const perToken: Float32Array[] = [];
      for (let tok = 0; tok < nMax; tok++) perToken.push(runMatvecX16({ ...p, xp: p.xp + tok * xb }));
      for (let nTok = 1; nTok <= nMax; nTok++) {
        const y = runMatmulX16(p, nTok);
        for (let tok = 0; tok < nTok; tok++) {
          assertBitsEqual(y.subarray(tok * rows, (tok + 1) * rows), perToken[tok], `matmul_${t}_x16 nTok ${nTok} token ${tok}`);
        }
        assertWithin(y, refMatmulX16(t, p.w, p.x, cols, rows, nTok, 0, rows), MATVEC_TOL, `matmul_${t}_x16 nTok ${nTok} vs reference`);
      }
    }
  });

  test(`matmul_${t}_x16 over row ranges that split a matrix equals one full call, and writes only its rows`, () => {
    reset();
    const cols = colsFor(t)[2], rows = 23, nTok = 6;
    const p = problemX16(t, rows, cols, nTok, 99);
    const full = runMatmulX16(p, nTok);
    for (const cuts of [[0, 1, 23], [0, 4, 8, 23], [0, 5, 6, 17, 23]]) {
      const y = alloc(4 * rows * nTok);
      mem.fill(0xff, y, y + 4 * rows * nTok);
      for (let i = 0; i + 1 < cuts.length; i++) {
        const before = new Uint32Array(f32s(y, rows * nTok).buffer);
        k[`matmul_${t}_x16`](p.wp, p.xp, y, cols, rows, nTok, cuts[i], cuts[i + 1]);
        const after = new Uint32Array(f32s(y, rows * nTok).buffer);
        for (let j = 0; j < rows * nTok; j++) {
          const r = j % rows;
          if (r < cuts[i] || r >= cuts[i + 1]) assert.is(after[j], before[j], `entry ${j} written by rows [${cuts[i]}, ${cuts[i + 1]})`);
        }
      }
      assertBitsEqual(f32s(y, rows * nTok), full, `split ${cuts.join(',')}`);
    }
  });

  test(`the reference matmul_${t}_x16 export over memory agrees with the typed-array reference`, () => {
    reset();
    const cols = colsFor(t)[1], rows = 9, nTok = 3;
    const p = problemX16(t, rows, cols, nTok, 5);
    const y = alloc(4 * rows * nTok);
    const copy = mem.slice(0, arena.top);
    MATMUL_REFERENCE[`matmul_${t}_x16`](copy, p.wp, p.xp, y, cols, rows, nTok, 2, 7);
    const got = new Float32Array(copy.buffer.slice(y, y + 4 * rows * nTok));
    const want = refMatmulX16(t, p.w, p.x, cols, rows, nTok, 2, 7);
    for (let i = 0; i < want.length; i++) if (!Number.isNaN(want[i])) assert.is(got[i], Math.fround(want[i]), `${t} [${i}]`);
  });
}

/** The figure of merit below, measured by the last run of the accuracy test (for the report line). */
const X16_ACCURACY: Record<string, { e8: number; e16: number }> = {};

test('x16 matvec is at least 50× closer to f32 math (dequantized weights · unquantized x) than the 8-bit path', () => {
  for (const t of X16_WEIGHT_TYPES) {
    reset();
    const cols = isK(t) ? 2048 : 1024, rows = 64;
    const p8 = problem(t, rows, cols, 1, 4242);
    const p16 = problemX16(t, rows, cols, 1, 4242);
    const wf = dequantize(ggmlTypeOf(t), p8.w, rows * cols);
    const want = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let i = 0; i < cols; i++) s += wf[r * cols + i] * p8.xf[i];
      want[r] = s;
    }
    const e8 = relErr(runMatvec(p8), want), e16 = relErr(runMatvecX16(p16), want);
    X16_ACCURACY[t] = { e8, e16 };
    if (process.env.WISP_X16_REPORT) console.log(`  ${t}: 8-bit ${e8.toExponential(2)}, x16 ${e16.toExponential(2)}, ratio ${(e8 / e16).toFixed(0)}×`);
    assert.ok(e16 * 50 <= e8, `${t}: x16 error ${e16.toExponential(2)} is not 50× below the 8-bit path's ${e8.toExponential(2)}`);
  }
});

// ---- q4_0r8: q4_0 rows repacked eight at a time (asm/matmul/q4_0r8_x16.ts) -------------------------
// Tolerance: exact. repack_q4_0_r8 + matvec_q4_0r8_x16s / matmul_q4_0r8_x16s (on q16_0s activations:
// q16_0's bytes plus 8·Σq per block) equal matvec_q4_0_x16 on the original rows (q16_0) bit for bit:
// the same integer block sums, the same f32 steps in the same order. Scales must be finite (the host
// repacks only such matrices: test/wasm-backend.test.ts).

/** Repacks the q4_0 rows of p into a new buffer; returns its pointer. */
function repackR8(p: ProblemX16): number {
  const dst = alloc(p.w.length);
  mem.fill(0x5a, dst, dst + p.w.length);
  k.repack_q4_0_r8(p.wp, dst, p.rows, p.cols);
  return dst;
}

/** p's activations (all its tokens) as q16_0s. */
function q16sOf(p: ProblemX16, nTok: number): number {
  const out = new Uint8Array((p.cols / 32) * 72 * nTok);
  quantizeQ16_0S(p.xf.subarray(0, p.cols * nTok), out);
  return put(out);
}

test('repack_q4_0_r8 is a permutation of the bytes per row group (scales kept, nibbles as stored)', () => {
  reset();
  const p = problemX16('q4_0', 16, 96, 1, 901, true);
  const dst = repackR8(p);
  const got = bytes(dst, p.w.length);
  const rb = weightRowBytes('q4_0', p.cols);
  const nb = p.cols / 32;
  for (let g = 0; g < p.rows; g += 8) {
    for (let b = 0; b < nb; b++) {
      for (let row = 0; row < 8; row++) {
        const o = g * rb + b * 144 + (row >> 2) * 72; // the half block of rows 0..3 or 4..7
        const i = row & 3;
        const src = (g + row) * rb + b * 18;
        assert.is(got[o + 2 * i] | (got[o + 2 * i + 1] << 8), p.w[src] | (p.w[src + 1] << 8), `scale g${g} b${b} row ${row}`);
        for (let e = 0; e < 32; e++) {
          const q = e < 16 ? p.w[src + 2 + e] & 15 : p.w[src + 2 + e - 16] >> 4;
          const kk = e >> 1, L = kk >> 2, s = kk & 3, j = 2 * i + (e & 1);
          const lane = got[o + 8 + L * 16 + 2 * j] | (got[o + 8 + L * 16 + 2 * j + 1] << 8);
          assert.is((lane >> (4 * s)) & 15, q, `nibble g${g} b${b} row ${row} value ${e}`);
        }
      }
    }
  }
});

for (const random of [false, true]) {
  test(`matvec_q4_0r8_x16s on repacked rows equals matvec_q4_0_x16 bit for bit, over row splits${random ? ' (random blocks)' : ''}`, () => {
    let seed = 1000 + (random ? 500 : 0);
    for (const rows of [8, 16, 24, 40, 136]) {
      for (const cols of [32, 96, 160, 288, 800]) {
        reset();
        const p = problemX16('q4_0', rows, cols, 1, seed++, random);
        const want = runMatvecX16(p);
        const wr = repackR8(p);
        const xs = q16sOf(p, 1);
        const y = alloc(4 * rows);
        mem.fill(0xff, y, y + 4 * rows);
        k.matvec_q4_0r8_x16s(wr, xs, y, cols, 0, rows);
        assertBitsEqual(f32s(y, rows), want, `r8 ${rows}×${cols}`);
        // a split at multiples of 8 (as the pool's grain 8 for q4_0r8 makes them)
        const r = rng(seed);
        const cuts = [0, ...Array.from({ length: 3 }, () => 8 * Math.floor(r() * (rows / 8 + 1)))].sort((a, b) => a - b);
        cuts.push(rows);
        const y2 = alloc(4 * rows);
        mem.fill(0xff, y2, y2 + 4 * rows);
        for (let i = 0; i + 1 < cuts.length; i++) k.matvec_q4_0r8_x16s(wr, xs, y2, cols, cuts[i], cuts[i + 1]);
        assertBitsEqual(f32s(y2, rows), want, `r8 split ${cuts.join(',')} ${rows}×${cols}`);
      }
    }
  });
}

test('matmul_q4_0r8_x16s for nTok 1..9 equals nTok matvec_q4_0_x16 calls on the original rows exactly, over row splits', () => {
  let seed = 2000;
  for (const [rows, cols] of [[8, 64], [16, 160], [40, 288]]) {
    for (let nTok = 1; nTok <= 9; nTok++) {
      reset();
      const p = problemX16('q4_0', rows, cols, nTok, seed++, nTok % 2 === 0);
      const want = runMatmulX16(p, nTok); // matmul_q4_0_x16 == nTok matvec_q4_0_x16 (tested above)
      const wr = repackR8(p);
      const xs = q16sOf(p, nTok);
      const y = alloc(4 * rows * nTok);
      mem.fill(0xff, y, y + 4 * rows * nTok);
      const mid = 8 * Math.floor(rows / 16);
      k.matmul_q4_0r8_x16s(wr, xs, y, cols, rows, nTok, 0, mid);
      k.matmul_q4_0r8_x16s(wr, xs, y, cols, rows, nTok, mid, rows);
      assertBitsEqual(f32s(y, rows * nTok), want, `r8 matmul ${rows}×${cols} nTok ${nTok}`);
    }
  }
});

// ---- q4_Kr4: q4_K rows repacked four at a time (asm/matmul/q4_kr4_x16.ts) -------------------------
// Tolerance: exact. repack_q4_K_r4 + matvec_q4_Kr4_x16 / matmul_q4_Kr4_x16 (on q16_K activations as they
// are) equal matvec_q4_K_x16 on the original rows bit for bit: the same four i32 lane sums per row
// (values split by pair index mod 4), the same f32 steps. d and dmin must be finite (the host repacks
// only such matrices: test/wasm-backend.test.ts).

/** Repacks the q4_K rows of p into a new buffer; returns its pointer. */
function repackKR4(p: Problem): number {
  const dst = alloc(p.w.length);
  mem.fill(0x5a, dst, dst + p.w.length);
  k.repack_q4_K_r4(p.wp, dst, p.rows, p.cols);
  return dst;
}

/** ggml's 6-bit scale and min of sub-block j of the q4_K block at w[o..] (get_scale_min_k4). */
function scaleMinK4(w: Uint8Array, o: number, j: number): [number, number] {
  const q = o + 4;
  if (j < 4) return [w[q + j] & 63, w[q + j + 4] & 63];
  return [(w[q + j + 4] & 0xf) | ((w[q + j - 4] >> 6) << 4), (w[q + j + 4] >> 4) | ((w[q + j] >> 6) << 4)];
}

test('repack_q4_K_r4 re-encodes each row group losslessly (d, dmin, 6-bit scales and mins, nibbles as stored)', () => {
  reset();
  const p = problemX16('q4_K', 12, 512, 1, 911, true);
  const dst = repackKR4(p);
  const got = bytes(dst, p.w.length);
  const rb = weightRowBytes('q4_K', p.cols);
  const nb = p.cols / 256;
  for (let g = 0; g < p.rows; g += 4) {
    for (let b = 0; b < nb; b++) {
      const o = g * rb + b * 576;
      for (let i = 0; i < 4; i++) {
        const src = (g + i) * rb + b * 144;
        assert.is(got[o + 2 * i] | (got[o + 2 * i + 1] << 8), p.w[src] | (p.w[src + 1] << 8), `d g${g} b${b} row ${i}`);
        assert.is(got[o + 8 + 2 * i] | (got[o + 9 + 2 * i] << 8), p.w[src + 2] | (p.w[src + 3] << 8), `dmin g${g} b${b} row ${i}`);
        for (let j = 0; j < 8; j++) {
          const t = j & 3, hi = j >> 2, kb = o + 4 * i + t;
          const sc = ((got[kb + 16] >> (4 * hi)) & 15) | (((got[kb + 48] >> (2 * hi)) & 3) << 4);
          const mn = ((got[kb + 32] >> (4 * hi)) & 15) | (((got[kb + 48] >> (4 + 2 * hi)) & 3) << 4);
          assert.equal([sc, mn], scaleMinK4(p.w, src, j), `scale/min g${g} b${b} row ${i} sub-block ${j}`);
          for (let e = 0; e < 32; e++) {
            const q = (p.w[src + 16 + 32 * (j >> 1) + e] >> (4 * (j & 1))) & 15;
            const m = e >> 1, L = m >> 2, s = m & 3, l = 2 * i + (e & 1);
            const c = o + 64 + 64 * j + 16 * L + 2 * l;
            assert.is(((got[c] | (got[c + 1] << 8)) >> (4 * s)) & 15, q, `nibble g${g} b${b} row ${i} sub-block ${j} value ${e}`);
          }
        }
      }
    }
  }
});

/** The q4_Kr4 kernels of one activation format: x16 (q16_K, `_x16`) or x8 (ggml's q8_K, no suffix), and the plain q4_K kernels they equal. */
const KR4 = {
  x16: { suffix: '_x16', problem: (rows: number, cols: number, nTok: number, seed: number, random = false) => problemX16('q4_K', rows, cols, nTok, seed, random), quantize: (xf: Float32Array) => quantizeActivationX16('q4_K', xf) },
  x8: { suffix: '', problem: (rows: number, cols: number, nTok: number, seed: number, random = false) => problem('q4_K', rows, cols, nTok, seed, random), quantize: (xf: Float32Array) => quantizeActivation('q4_K', xf) },
} as const;

function runKR4Plain(act: keyof typeof KR4, p: Problem, nTok: number): Float32Array {
  const y = alloc(4 * p.rows * nTok);
  mem.fill(0xff, y, y + 4 * p.rows * nTok);
  k[`matmul_q4_K${KR4[act].suffix}`](p.wp, p.xp, y, p.cols, p.rows, nTok, 0, p.rows);
  return f32s(y, p.rows * nTok);
}

for (const act of ['x16', 'x8'] as const) {
  const sfx = KR4[act].suffix;
  for (const random of [false, true]) {
    test(`matvec_q4_Kr4${sfx} on repacked rows equals matvec_q4_K${sfx} bit for bit, over row splits${random ? ' (random blocks)' : ''}`, () => {
      let seed = 3000 + (random ? 500 : 0);
      for (const rows of [4, 8, 12, 36, 132]) {
        for (const cols of [256, 512, 1280]) {
          reset();
          const p = KR4[act].problem(rows, cols, 1, seed++, random);
          const want = runKR4Plain(act, p, 1);
          const wr = repackKR4(p);
          const y = alloc(4 * rows);
          mem.fill(0xff, y, y + 4 * rows);
          k[`matvec_q4_Kr4${sfx}`](wr, p.xp, y, cols, 0, rows);
          assertBitsEqual(f32s(y, rows), want, `kr4 ${rows}×${cols}`);
          // a split at multiples of 4 (as the pool's grain 4 makes them)
          const r = rng(seed);
          const cuts = [0, ...Array.from({ length: 3 }, () => 4 * Math.floor(r() * (rows / 4 + 1)))].sort((a, b) => a - b);
          cuts.push(rows);
          const y2 = alloc(4 * rows);
          mem.fill(0xff, y2, y2 + 4 * rows);
          for (let i = 0; i + 1 < cuts.length; i++) k[`matvec_q4_Kr4${sfx}`](wr, p.xp, y2, cols, cuts[i], cuts[i + 1]);
          assertBitsEqual(f32s(y2, rows), want, `kr4 split ${cuts.join(',')} ${rows}×${cols}`);
        }
      }
    });
  }

  test(`matvec_q4_Kr4${sfx} at the overflow bounds (all quants, scales and mins 63 or 0, x = ±max) equals matvec_q4_K${sfx} bit for bit`, () => {
    reset();
    const cols = 1024, rows = 8;
    const w = randomBlockWeights('q4_K', rows, cols, 41);
    const rb = weightRowBytes('q4_K', cols);
    for (let r = 0; r < rows; r++) {
      const row = w.subarray(r * rb, (r + 1) * rb);
      for (let b = 0; b < row.length; b += 144) {
        row.fill(r & 1 ? 0x00 : 0xff, b + 16, b + 144);
        row.fill(r & 2 ? 0x00 : 0xff, b + 4, b + 16);
      }
    }
    for (const v of [-3, 3]) {
      const xf = new Float32Array(cols).fill(v); // every q = ∓32767 (q16_K) or ∓127 (q8_K)
      const x = KR4[act].quantize(xf);
      const p: Problem = { t: 'q4_K', rows, cols, w, xf, x, wp: put(w), xp: put(x) };
      const want = runKR4Plain(act, p, 1);
      const wr = repackKR4(p);
      const y = alloc(4 * rows);
      k[`matvec_q4_Kr4${sfx}`](wr, p.xp, y, cols, 0, rows);
      assertBitsEqual(f32s(y, rows), want, `kr4 extremes x = ${v}`);
    }
  });

  test(`matmul_q4_Kr4${sfx} for nTok 1..9 equals nTok matvec_q4_K${sfx} calls on the original rows exactly, over row splits`, () => {
    let seed = 4000;
    for (const [rows, cols] of [[4, 256], [12, 512], [40, 768]]) {
      for (let nTok = 1; nTok <= 9; nTok++) {
        reset();
        const p = KR4[act].problem(rows, cols, nTok, seed++, nTok % 2 === 0);
        const want = runKR4Plain(act, p, nTok); // matmul_q4_K == nTok matvec_q4_K calls (tested above)
        const wr = repackKR4(p);
        const y = alloc(4 * rows * nTok);
        mem.fill(0xff, y, y + 4 * rows * nTok);
        const mid = 4 * Math.floor(rows / 8);
        k[`matmul_q4_Kr4${sfx}`](wr, p.xp, y, cols, rows, nTok, 0, mid);
        k[`matmul_q4_Kr4${sfx}`](wr, p.xp, y, cols, rows, nTok, mid, rows);
        assertBitsEqual(f32s(y, rows * nTok), want, `kr4 matmul ${rows}×${cols} nTok ${nTok}`);
      }
    }
  });
}

// ---- q6_Kr4: q6_K rows repacked four at a time (asm/matmul/q6_kr4.ts) ------------------------------
// Tolerance: exact. repack_q6_K_r4 writes host/kernels/reference/q6_kr4.ts's layout (the q6_K bits
// moved, nothing lost), and matvec_q6_Kr4 / matmul_q6_Kr4 on it equal matvec_q6_K / matmul_q6_K on the
// original rows bit for bit (the same integer per row and block, the same f32 steps). d must be finite
// (the host repacks only such matrices).

/** Repacks the q6_K rows of p into a new buffer; returns its pointer. */
function repackKR6(p: Problem): number {
  const dst = alloc(p.w.length);
  mem.fill(0x5a, dst, dst + p.w.length);
  k.repack_q6_K_r4(p.wp, dst, p.rows, p.cols);
  return dst;
}

function runQ6KPlain(p: Problem, nTok: number): Float32Array {
  const y = alloc(4 * p.rows * nTok);
  mem.fill(0xff, y, y + 4 * p.rows * nTok);
  k.matmul_q6_K(p.wp, p.xp, y, p.cols, p.rows, nTok, 0, p.rows);
  return f32s(y, p.rows * nTok);
}

test('repack_q6_K_r4 writes the reference layout, which gives back the q6_K rows byte for byte', () => {
  for (const [rows, cols, random] of [[12, 512, true], [8, 1280, false], [4, 256, true]] as const) {
    reset();
    const p = problem('q6_K', rows, cols, 1, 931 + cols, random);
    const got = bytes(repackKR6(p), p.w.length);
    const want = q6KToQ6Kr4(p.w, rows, cols);
    assert.ok(Buffer.from(got).equals(Buffer.from(want)), `repack ${rows}×${cols}: kernel bytes = reference bytes`);
    assert.ok(Buffer.from(q6Kr4ToQ6K(got, rows, cols)).equals(Buffer.from(p.w)), `repack ${rows}×${cols}: lossless`);
  }
});

for (const random of [false, true]) {
  test(`matvec_q6_Kr4 on repacked rows equals matvec_q6_K bit for bit, over row splits${random ? ' (random blocks)' : ''}`, () => {
    let seed = 5000 + (random ? 500 : 0);
    for (const rows of [4, 8, 12, 36, 132]) {
      for (const cols of [256, 512, 1280]) {
        reset();
        const p = problem('q6_K', rows, cols, 1, seed++, random);
        const want = runQ6KPlain(p, 1);
        const wr = repackKR6(p);
        const y = alloc(4 * rows);
        mem.fill(0xff, y, y + 4 * rows);
        k.matvec_q6_Kr4(wr, p.xp, y, cols, 0, rows);
        assertBitsEqual(f32s(y, rows), want, `q6_Kr4 ${rows}×${cols}`);
        const r = rng(seed);
        const cuts = [0, ...Array.from({ length: 3 }, () => 4 * Math.floor(r() * (rows / 4 + 1)))].sort((a, b) => a - b);
        cuts.push(rows);
        const y2 = alloc(4 * rows);
        mem.fill(0xff, y2, y2 + 4 * rows);
        for (let i = 0; i + 1 < cuts.length; i++) k.matvec_q6_Kr4(wr, p.xp, y2, cols, cuts[i], cuts[i + 1]);
        assertBitsEqual(f32s(y2, rows), want, `q6_Kr4 split ${cuts.join(',')} ${rows}×${cols}`);
      }
    }
  });
}

test('matvec_q6_Kr4 at the overflow bounds (quants 63 or 0, scales −128 or 127, x = ±max, −128 included) equals matvec_q6_K bit for bit', () => {
  reset();
  const cols = 1024, rows = 8;
  const w = randomBlockWeights('q6_K', rows, cols, 43);
  const rb = weightRowBytes('q6_K', cols);
  for (let r = 0; r < rows; r++) {
    const row = w.subarray(r * rb, (r + 1) * rb);
    for (let b = 0; b < row.length; b += 210) {
      row.fill(r & 1 ? 0x00 : 0xff, b, b + 192);
      row.fill(r & 2 ? 0x80 : 0x7f, b + 192, b + 208);
    }
  }
  for (const v of [-3, 3]) {
    const xf = new Float32Array(cols).fill(v);
    const x = quantizeActivation('q6_K', xf); // every q = ∓127 (ggml's q8_K)
    const p: Problem = { t: 'q6_K', rows, cols, w, xf, x, wp: put(w), xp: put(x) };
    const want = runQ6KPlain(p, 1);
    const y = alloc(4 * rows);
    k.matvec_q6_Kr4(repackKR6(p), p.xp, y, cols, 0, rows);
    assertBitsEqual(f32s(y, rows), want, `q6_Kr4 extremes x = ${v}`);
  }
  // q8_K blocks of −128 (what ggml's quantizer writes for the value of largest magnitude when negative)
  const nb = cols / 256;
  const x = new Uint8Array(nb * 292);
  const dv = new DataView(x.buffer);
  for (let b = 0; b < nb; b++) {
    dv.setFloat32(b * 292, 0.01, true);
    x.fill(0x80, b * 292 + 4, b * 292 + 260);
    for (let g = 0; g < 16; g++) dv.setInt16(b * 292 + 260 + 2 * g, -2048, true);
  }
  const p: Problem = { t: 'q6_K', rows, cols, w, xf: new Float32Array(cols), x, wp: put(w), xp: put(x) };
  const want = runQ6KPlain(p, 1);
  const y = alloc(4 * rows);
  k.matvec_q6_Kr4(repackKR6(p), p.xp, y, cols, 0, rows);
  assertBitsEqual(f32s(y, rows), want, 'q6_Kr4 extremes x = −128');
});

test('matmul_q6_Kr4 for nTok 1..9 equals matmul_q6_K on the original rows exactly, over row splits', () => {
  let seed = 6000;
  for (const [rows, cols] of [[4, 256], [12, 512], [40, 768]]) {
    for (let nTok = 1; nTok <= 9; nTok++) {
      reset();
      const p = problem('q6_K', rows, cols, nTok, seed++, nTok % 2 === 0);
      const want = runQ6KPlain(p, nTok);
      const wr = repackKR6(p);
      const y = alloc(4 * rows * nTok);
      mem.fill(0xff, y, y + 4 * rows * nTok);
      const mid = 4 * Math.floor(rows / 8);
      k.matmul_q6_Kr4(wr, p.xp, y, cols, rows, nTok, 0, mid);
      k.matmul_q6_Kr4(wr, p.xp, y, cols, rows, nTok, mid, rows);
      assertBitsEqual(f32s(y, rows * nTok), want, `q6_Kr4 matmul ${rows}×${cols} nTok ${nTok}`);
    }
  }
});

test('get_row_q6_Kr4 of every row equals get_row_q6_K of the original row bit for bit', () => {
  reset();
  const rows = 12, cols = 512;
  const p = problem('q6_K', rows, cols, 1, 977, true);
  const wr = repackKR6(p);
  const a = alloc(4 * cols), b = alloc(4 * cols);
  for (let r = 0; r < rows; r++) {
    k.get_row_q6_K(p.wp, a, cols, r);
    k.get_row_q6_Kr4(wr, b, cols, r);
    assertBitsEqual(f32s(b, cols), f32s(a, cols), `row ${r}`);
  }
});

// ---- flavours: same inputs, same bits --------------------------------------------------------

/**
 * The kernel calls of every matvec/matmul export on one random case per weight type and activation
 * format: (export, weights, activations of nTok tokens, cols, rows). Repacked weights go through the
 * baseline's repack; f16f gets finite halves (a ggml quantizer's).
 */
function flavourCases(): Array<{ name: string; w: number; x: (nTok: number) => number; cols: number; rows: number; grain: number }> {
  reset();
  const cases: Array<{ name: string; w: number; x: (nTok: number) => number; cols: number; rows: number; grain: number }> = [];
  const rows = 24;
  for (const t of MATMUL_WEIGHT_TYPES) {
    const cols = t === 'q4_K' || t === 'q6_K' ? 512 : t === 'f32' || t === 'f16' ? 37 : 96;
    const xf = randomFloats(cols * 9, 7000 + cols);
    const w = put(randomBlockWeights(t, rows, cols, 6000 + cols));
    const x8 = (nTok: number) => put(quantizeActivation(t, xf.subarray(0, cols * nTok)));
    cases.push({ name: t, w, x: x8, cols, rows, grain: 1 });
    if (t === 'f16') cases.push({ name: 'f16f', w: put(quantizedWeights('f16', rows, cols, 6100)), x: x8, cols, rows, grain: 1 });
    if ((X16_WEIGHT_TYPES as readonly string[]).includes(t)) {
      const tx = t as X16WeightType;
      cases.push({ name: `${t}_x16`, w, x: (nTok) => put(quantizeActivationX16(tx, xf.subarray(0, cols * nTok))), cols, rows, grain: 1 });
    }
    if (t === 'q4_0') {
      const r8 = alloc(weightRowBytes(t, cols) * rows);
      k.repack_q4_0_r8(w, r8, rows, cols);
      cases.push({ name: 'q4_0r8_x16s', w: r8, x: (nTok) => { const out = new Uint8Array((cols / 32) * 72 * nTok); quantizeQ16_0S(xf.subarray(0, cols * nTok), out); return put(out); }, cols, rows, grain: 8 });
    }
    if (t === 'q4_K') {
      const r4 = alloc(weightRowBytes(t, cols) * rows);
      k.repack_q4_K_r4(w, r4, rows, cols);
      cases.push({ name: 'q4_Kr4_x16', w: r4, x: (nTok) => put(quantizeActivationX16('q4_K', xf.subarray(0, cols * nTok))), cols, rows, grain: 4 });
      cases.push({ name: 'q4_Kr4', w: r4, x: x8, cols, rows, grain: 4 });
    }
    if (t === 'q6_K') {
      const r4 = alloc(weightRowBytes(t, cols) * rows);
      k.repack_q6_K_r4(w, r4, rows, cols);
      cases.push({ name: 'q6_Kr4', w: r4, x: x8, cols, rows, grain: 4 });
    }
  }
  // the K-quants on q8_K blocks of random bytes (every i8 value, −128 included: the relaxed flavour's
  // first operand), an odd block count and an odd row count (the plain kernels), ggml-quantized weights
  // (their scales d mostly subnormal halves)
  for (const t of ['q4_K', 'q6_K'] as const) {
    const cols = 1280, rows = t === 'q4_K' ? 12 : 13;
    const w = put(quantizedWeights(t, rows, cols, 6200));
    const xr = randomQ8K(cols * 9, 6300);
    const x = (nTok: number) => put(xr.subarray(0, (cols / 256) * 292 * nTok));
    cases.push({ name: t, w, x, cols, rows, grain: 1 });
    if (t === 'q4_K') {
      const r4 = alloc(weightRowBytes(t, cols) * rows);
      k.repack_q4_K_r4(w, r4, rows, cols);
      cases.push({ name: 'q4_Kr4', w: r4, x, cols, rows, grain: 4 });
    } else {
      // the twelve rows of the thirteen that fill groups of four
      const r4 = alloc(weightRowBytes(t, cols) * 12);
      k.repack_q6_K_r4(w, r4, 12, cols);
      cases.push({ name: 'q6_Kr4', w: r4, x, cols, rows: 12, grain: 4 });
    }
  }
  return cases;
}

/** q8_K blocks of n values with random qs (every i8 value), their bsums, and a random d. */
function randomQ8K(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array((n / 256) * 292);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < n / 256; b++) {
    const o = b * 292;
    dv.setFloat32(o, (r() * 2 - 1) * 0.05, true);
    for (let g = 0; g < 16; g++) {
      let sum = 0;
      for (let i = 0; i < 16; i++) {
        const q = Math.floor(r() * 256) - 128;
        out[o + 4 + 16 * g + i] = q & 0xff;
        sum += q;
      }
      dv.setInt16(o + 260 + 2 * g, sum, true);
    }
  }
  return out;
}

/** Every matvec/matmul output of `kernels` on the cases: one call, a row split, and 1..9 tokens. */
function flavourOutputs(kernels: Record<string, (...args: number[]) => void>): Map<string, Uint32Array> {
  const out = new Map<string, Uint32Array>();
  for (const c of flavourCases()) {
    const y = alloc(4 * c.rows * 9);
    const x1 = c.x(1);
    kernels[`matvec_${c.name}`](c.w, x1, y, c.cols, 0, c.rows);
    const id = `${c.name} ${c.rows}×${c.cols}`;
    out.set(`matvec_${id}`, new Uint32Array(f32s(y, c.rows).buffer));
    const split = c.grain * Math.ceil(c.rows / 3 / c.grain);
    kernels[`matvec_${c.name}`](c.w, x1, y, c.cols, 0, split);
    kernels[`matvec_${c.name}`](c.w, x1, y, c.cols, split, c.rows);
    out.set(`matvec_${id} split`, new Uint32Array(f32s(y, c.rows).buffer));
    for (let nTok = 1; nTok <= 9; nTok++) {
      kernels[`matmul_${c.name}`](c.w, c.x(nTok), y, c.cols, c.rows, nTok, 0, c.rows);
      out.set(`matmul_${id} ×${nTok}`, new Uint32Array(f32s(y, c.rows * nTok).buffer));
    }
  }
  return out;
}

const baselineOutputs = flavourOutputs(k);
const matmulManifest = loadManifest();
for (const flavour of flavoursOf('matmul', matmulManifest).slice(1)) {
  const bytesOf = readFileSync(join(kernelsDir(), kernelModule('matmul', flavour, matmulManifest).file));
  // a flavour this runtime cannot compile is skipped, and shows as skipped
  (WebAssembly.validate(bytesOf) ? test : test.skip)(`the ${flavour} flavour's matvec and matmul give the baseline's bits (every weight type and activation format, a row split, 1..9 tokens)`, () => {
    const kf = instantiateKernel(compileFamily('matmul', undefined, matmulManifest, flavour), memory) as Record<string, (...args: number[]) => void>;
    const got = flavourOutputs(kf);
    assert.equal([...got.keys()], [...baselineOutputs.keys()]);
    for (const [what, bits] of baselineOutputs) assert.equal(Array.from(got.get(what)!), Array.from(bits), `${flavour}: ${what}`);
  });
}

test.run();
