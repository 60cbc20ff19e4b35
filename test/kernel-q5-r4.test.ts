// q5_0r4 and q5_1r4: q5_0 / q5_1 rows repacked four at a time (asm/matmul/q5_r4.ts), held to the
// plain kernels on the original rows. Tolerance: exact, bit for bit, in every flavour this runtime
// compiles: repack then get_row gives back get_row_q5_0's / get_row_q5_1's values (the layout loses
// nothing), and matvec / matmul on the repacked rows equal matvec_q5_0 / matmul_q5_0 (q5_1 likewise) on
// the original rows (the same integer per row and block, the same f32 steps). The weights' d and m must
// be finite (the host repacks only such matrices); the activations' halves may be anything.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mulberry32 } from '../host/engine/sampler.js';
import { createSharedMemory, loadManifest } from '../host/kernels/load.js';
import { MORE_MATMUL_REFERENCE, quantizeMoreActivation } from '../host/kernels/reference/matmul-types.js';
import { BLOCK_FORMATS } from '../host/model/block-formats.js';
import { GGMLType, f32ToF16 } from '../host/model/ggml-types.js';
import { quantize } from '../host/model/quantize/index.js';
import { KernelArena } from './helpers/kernel-arena.js';
import { familyFlavours } from './helpers/kernel-flavours.js';

const memory = createSharedMemory(1024); // 64 MiB
const { flavours, skipped } = familyFlavours('matmul', memory, loadManifest());
const FLAVOURS = Object.entries(flavours);
const base = FLAVOURS[0][1];
const mem = new Uint8Array(memory.buffer);
for (const [f, why] of Object.entries(skipped)) console.log(`kernel-q5-r4: flavour ${f} skipped: ${why}`);

const arena = new KernelArena(memory);
const alloc = (bytes: number, align?: number): number => arena.alloc(bytes, align);
function put(bytes: Uint8Array): number {
  const p = alloc(bytes.length);
  mem.set(bytes, p);
  return p;
}
function bitsAt(p: number, n: number): Uint32Array {
  return new Uint32Array(memory.buffer.slice(p, p + 4 * n) as ArrayBuffer);
}
const isNaN32 = (u: number) => (u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0;
/** Bits equal (NaN where the plain kernel has NaN: wasm leaves a NaN's payload open). */
function assertBitsEqual(got: Uint32Array, want: Uint32Array, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i] && !(isNaN32(got[i]) && isNaN32(want[i]))) {
      const f = (u: number) => new Float32Array(new Uint32Array([u]).buffer)[0];
      assert.unreachable(`${what}: [${i}] is ${f(got[i])} (0x${got[i].toString(16)}), the plain kernel's ${f(want[i])} (0x${want[i].toString(16)})`);
    }
  }
}

type T = 'q5_0' | 'q5_1';
const TYPES: readonly T[] = ['q5_0', 'q5_1'];
const BLOCK: Record<T, number> = { q5_0: 22, q5_1: 24 };
const HALVES: Record<T, number[]> = { q5_0: [0], q5_1: [0, 2] };
const ACT: Record<T, [number, number[]]> = { q5_0: [34, [0]], q5_1: [36, [0, 2]] }; // q8_0, q8_1: block bytes, f16 fields

function setHalf(b: Uint8Array, o: number, h: number): void {
  b[o] = h & 0xff;
  b[o + 1] = h >> 8;
}

/** Random weight blocks (every bit pattern of levels and fifth bits), d and m random finite halves (one in eight subnormal). */
function randomWeights(t: T, rows: number, cols: number, seed: number): Uint8Array {
  const r = mulberry32(seed);
  const w = Uint8Array.from({ length: rows * (cols / 32) * BLOCK[t] }, () => Math.floor(r() * 256));
  for (let b = 0; b < w.length; b += BLOCK[t]) {
    for (const o of HALVES[t]) setHalf(w, b + o, r() < 0.125 ? Math.floor(r() * 0x3ff) | (r() < 0.5 ? 0x8000 : 0) : f32ToF16((r() * 2 - 1) * 0.02));
  }
  return w;
}

/** nTok activation rows: random blocks (qs any i8, −128 included; d and s random finite halves) or quantized random floats. */
function activations(t: T, cols: number, nTok: number, seed: number, random: boolean): Uint8Array {
  const [block, offsets] = ACT[t];
  const r = mulberry32(seed);
  const out = new Uint8Array(nTok * (cols / 32) * block);
  if (!random) {
    for (let tok = 0; tok < nTok; tok++) {
      const x = Float32Array.from({ length: cols }, () => (r() + r() + r() - 1.5) * (r() < 0.02 ? 20 : 1));
      out.set(quantizeMoreActivation(t, x), tok * (cols / 32) * block);
    }
    return out;
  }
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(r() * 256);
  for (let b = 0; b < out.length; b += block) for (const o of offsets) setHalf(out, b + o, f32ToF16((r() * 2 - 1) * 0.05));
  return out;
}

function weights(t: T, rows: number, cols: number, seed: number, random: boolean): Uint8Array {
  if (random) return randomWeights(t, rows, cols, seed);
  const r = mulberry32(seed);
  return quantize(t === 'q5_0' ? GGMLType.Q5_0 : GGMLType.Q5_1, Float32Array.from({ length: rows * cols }, () => (r() + r() - 1) * 0.05), cols);
}

/** The weights repacked by the baseline's repack kernel into a fresh buffer (filled with junk first). */
function repacked(t: T, wp: number, bytes: number, rows: number, cols: number): number {
  const dst = alloc(bytes);
  mem.fill(0x5a, dst, dst + bytes);
  base[`repack_${t}_r4`](wp, dst, rows, cols);
  return dst;
}

/** q8_0 blocks as q8_0e (d, e = Σqs, qs): q5_0r4's activations of the same values; q8_1 (q5_1's) as they are. */
function r4Activations(t: T, x: Uint8Array): Uint8Array {
  if (t === 'q5_1') return x;
  const out = new Uint8Array((x.length / 34) * 36);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < x.length / 34; b++) {
    out.set(x.subarray(34 * b, 34 * b + 2), 36 * b);
    const qs = new Int8Array(x.buffer, x.byteOffset + 34 * b + 2, 32);
    out.set(x.subarray(34 * b + 2, 34 * b + 34), 36 * b + 4);
    dv.setInt16(36 * b + 2, qs.reduce((a, q) => a + q, 0), true);
  }
  return out;
}

/** y of the plain matmul of the given kernels (nTok = 1: matvec) over rows [0, rows). */
function plain(k: Record<string, (...a: number[]) => void>, t: T, wp: number, xp: number, rows: number, cols: number, nTok: number): Uint32Array {
  const y = alloc(4 * rows * nTok);
  if (nTok === 1) k[`matvec_${t}`](wp, xp, y, cols, 0, rows);
  else k[`matmul_${t}`](wp, xp, y, cols, rows, nTok, 0, rows);
  return bitsAt(y, rows * nTok);
}

test('the block-format table makes q5_0r4 and q5_1r4 from q5_0 and q5_1 with the repack kernels, on q8_0e (q8_0\'s values) and q8_1', () => {
  for (const t of TYPES) {
    const f = BLOCK_FORMATS[`${t}r4`];
    assert.equal([f.rows, f.blockBytes, f.madeFrom?.format, f.madeFrom?.repackKernel, f.madeFrom?.finiteHalves], [4, BLOCK[t], t, `repack_${t}_r4`, HALVES[t]]);
  }
  assert.equal(BLOCK_FORMATS.q5_0r4.pairs, { x16: 'q8_0e', x8: 'q8_0e' });
  assert.equal(BLOCK_FORMATS.q5_1r4.pairs, BLOCK_FORMATS.q5_1.pairs);
});

test('quantize_q8_0e writes quantize_q8_0\'s d and qs, and e = Σqs, as the JS reference (random rows, ±max, zero blocks)', () => {
  const r = mulberry32(77);
  const cols = 256;
  const x = Float32Array.from({ length: cols }, (_, i) => (i < 32 ? 0 : i < 64 ? (i % 2 ? 1e4 : -1e4) : (r() - 0.5) * (i % 3 ? 1 : 100)));
  const xp = put(new Uint8Array(x.buffer));
  for (const [flavour, k] of FLAVOURS) {
    const q0 = alloc(34 * cols / 32), qe = alloc(36 * cols / 32);
    k.quantize_q8_0(xp, q0, cols);
    k.quantize_q8_0e(xp, qe, cols);
    const dv = new DataView(memory.buffer);
    for (let b = 0; b < cols / 32; b++) {
      assert.is(dv.getUint16(qe + 36 * b, true), dv.getUint16(q0 + 34 * b, true), `${flavour} d of block ${b}`);
      const qs = new Int8Array(memory.buffer.slice(q0 + 34 * b + 2, q0 + 34 * b + 34));
      assert.equal(new Int8Array(memory.buffer.slice(qe + 36 * b + 4, qe + 36 * b + 36)), qs, `${flavour} qs of block ${b}`);
      assert.is(dv.getInt16(qe + 36 * b + 2, true), qs.reduce((a, q) => a + q, 0), `${flavour} e of block ${b}`);
    }
    const copy = new Uint8Array(mem), ref = alloc(36 * cols / 32);
    MORE_MATMUL_REFERENCE.quantize_q8_0e(copy, xp, ref, cols);
    assert.equal(mem.subarray(qe, qe + 36 * cols / 32), copy.subarray(ref, ref + 36 * cols / 32), `${flavour}: the reference's bytes`);
  }
});

for (const t of TYPES) {
  test(`repack_${t}_r4 loses nothing: get_row_${t}r4 of every row equals get_row_${t} of the original row bit for bit (every bit pattern)`, () => {
    for (const [rows, cols, random] of [[8, 96, true], [12, 64, true], [4, 256, false]] as const) {
      const w = weights(t, rows, cols, rows * 7 + cols, random);
      const wp = put(w);
      const wr = repacked(t, wp, w.length, rows, cols);
      const a = alloc(4 * cols), b = alloc(4 * cols);
      for (let r = 0; r < rows; r++) {
        base[`get_row_${t}`](wp, a, cols, r);
        for (const [flavour, k] of FLAVOURS) {
          if (!k[`get_row_${t}r4`]) continue;
          k[`get_row_${t}r4`](wr, b, cols, r);
          assertBitsEqual(bitsAt(b, cols), bitsAt(a, cols), `${flavour} ${t} row ${r} of ${rows}×${cols}`);
        }
      }
    }
  });
}

for (const [flavour, k] of FLAVOURS) {
  for (const t of TYPES) {
    test(`${flavour}: matvec_${t}r4 on repacked rows equals matvec_${t} bit for bit (rows 4/8/36, cols 32/96/320, quantized and random blocks, row splits)`, () => {
      for (const cols of [32, 96, 320]) {
        for (const rows of [4, 8, 36]) {
          for (const random of [false, true]) {
            const w = weights(t, rows, cols, rows + 3 * cols + (random ? 1 : 0), random);
            const x = activations(t, cols, 1, cols + rows, random);
            const wp = put(w), xp = put(x), xe = put(r4Activations(t, x));
            const want = plain(k, t, wp, xp, rows, cols, 1);
            const wr = repacked(t, wp, w.length, rows, cols);
            const y = alloc(4 * rows);
            mem.fill(0xff, y, y + 4 * rows);
            k[`matvec_${t}r4`](wr, xe, y, cols, 0, rows);
            assertBitsEqual(bitsAt(y, rows), want, `${t}r4 ${rows}×${cols}${random ? ' random' : ''}`);
            const cuts = rows === 36 ? [0, 4, 20, 24, 36] : [0, 4, rows];
            mem.fill(0xff, y, y + 4 * rows);
            for (let i = 0; i + 1 < cuts.length; i++) k[`matvec_${t}r4`](wr, xe, y, cols, cuts[i], cuts[i + 1]);
            assertBitsEqual(bitsAt(y, rows), want, `${t}r4 split ${cuts.join(',')} ${rows}×${cols}`);
          }
        }
      }
    });

    test(`${flavour}: matvec_${t}r4 writes only its rows`, () => {
      const rows = 12, cols = 64;
      const w = weights(t, rows, cols, 5, true);
      const wr = repacked(t, put(w), w.length, rows, cols), xp = put(r4Activations(t, activations(t, cols, 1, 6, true)));
      const y = alloc(4 * rows);
      mem.fill(0xee, y, y + 4 * rows);
      k[`matvec_${t}r4`](wr, xp, y, cols, 4, 8);
      k[`matvec_${t}r4`](wr, xp, y, cols, 8, 8);
      assert.ok(mem.subarray(y, y + 16).every((b) => b === 0xee) && mem.subarray(y + 32, y + 48).every((b) => b === 0xee), 'rows outside [4, 8) untouched');
    });

    test(`${flavour}: matmul_${t}r4 for 1..9 tokens equals matmul_${t} on the original rows bit for bit, over row splits`, () => {
      for (const random of [false, true]) {
        const rows = 12, cols = 160;
        const w = weights(t, rows, cols, 11 + (random ? 1 : 0), random);
        const wp = put(w);
        const wr = repacked(t, wp, w.length, rows, cols);
        for (let nTok = 1; nTok <= 9; nTok++) {
          const x = activations(t, cols, nTok, 100 + nTok, random);
          const xp = put(x), xe = put(r4Activations(t, x));
          const want = plain(k, t, wp, xp, rows, cols, nTok);
          const y = alloc(4 * rows * nTok);
          mem.fill(0xff, y, y + 4 * rows * nTok);
          k[`matmul_${t}r4`](wr, xe, y, cols, rows, nTok, 0, 4);
          k[`matmul_${t}r4`](wr, xe, y, cols, rows, nTok, 4, rows);
          assertBitsEqual(bitsAt(y, rows * nTok), want, `${t}r4 matmul nTok ${nTok}${random ? ' random' : ''}`);
        }
      }
    });

    test(`${flavour}: matvec_${t}r4 and matmul_${t}r4 at the bounds (levels 31 or 0, x = −128 or 127; activation halves zeros, subnormals, the largest, infinities, NaN) equal the plain kernels`, () => {
      const rows = 8, cols = 128, nTok = 5;
      const [block, offsets] = ACT[t];
      const bounds = [0x0000, 0x8000, 0x0001, 0x83ff, 0x0400, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00];
      for (const fill of [0x00, 0xff]) {
        for (const q of [-128, 127]) {
          const w = randomWeights(t, rows, cols, fill + q);
          for (let b = 0; b < w.length; b += BLOCK[t]) w.fill(fill, b + (t === 'q5_0' ? 2 : 4), b + BLOCK[t]); // qh and qs: every level 0 or 31
          const x = activations(t, cols, nTok, 9, true);
          for (let b = 0, i = 0; b < x.length; b += block) {
            x.fill(q & 0xff, b + (t === 'q5_0' ? 2 : 4), b + block);
            for (const o of offsets) setHalf(x, b + o, bounds[i++ % bounds.length]);
          }
          const wp = put(w), xp = put(x), xe = put(r4Activations(t, x));
          const wr = repacked(t, wp, w.length, rows, cols);
          const y = alloc(4 * rows * nTok);
          const eBlock = t === 'q5_0' ? 36 : block;
          for (let tok = 0; tok < nTok; tok++) {
            const xt = xp + tok * (cols / 32) * block;
            const want = plain(k, t, wp, xt, rows, cols, 1);
            k[`matvec_${t}r4`](wr, xe + tok * (cols / 32) * eBlock, y, cols, 0, rows);
            assertBitsEqual(bitsAt(y, rows), want, `${t}r4 bounds fill ${fill} x ${q} token ${tok}`);
          }
          const want = plain(k, t, wp, xp, rows, cols, nTok);
          k[`matmul_${t}r4`](wr, xe, y, cols, rows, nTok, 0, rows);
          assertBitsEqual(bitsAt(y, rows * nTok), want, `${t}r4 matmul bounds fill ${fill} x ${q}`);
        }
      }
    });
  }
}

test.run();
