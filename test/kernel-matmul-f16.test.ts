// The f16 weight kernels (asm/matmul/float.ts: matvec/matmul_f16 and _f16f) against the ABI's f32
// summation order written out in JS (abiDot below: lane j of a row adds columns j, j + 4 of each group
// of eight, in order, then (l0 + l2) + (l1 + l3), then the cols % 8 tail column by column), bit for bit,
// in every flavour this runtime compiles. The inputs reach every path of the kernels: halves of every
// kind (subnormals, ±0, ±65504), x scaled by 2^112 (every |x| < 2^16) or not (a value at or past 2^16,
// an infinity, NaN), f16 rows with an infinity or NaN (redone on the exact conversion), ragged column
// counts, row splits, 1–9 tokens. Tolerance: exact (a NaN result only has to be NaN).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mulberry32 } from '../host/engine/sampler.js';
import { createSharedMemory, loadManifest } from '../host/kernels/load.js';
import { KernelArena } from './helpers/kernel-arena.js';
import { familyFlavours, type Kernels } from './helpers/kernel-flavours.js';
import { f16ToF32 } from '../host/model/ggml-types.js';


const memory = createSharedMemory(512); // 32 MiB
const mem = new Uint8Array(memory.buffer);
const manifest = loadManifest();
// a flavour this runtime cannot validate is left out: test/kernel-matmul-x8.test.ts reports it
const FLAVOURS = familyFlavours('matmul', memory, manifest).flavours;

const arena = new KernelArena(memory);
const alloc = (bytes: number, align?: number): number => arena.alloc(bytes, align);

const fr = Math.fround;

/** One row of halves · x in the ABI's order, every step rounded to f32. */
function abiDot(w: Uint16Array, wOff: number, x: Float32Array, xOff: number, cols: number): number {
  const acc = [0, 0, 0, 0];
  const n8 = cols & ~7;
  const prod = (i: number) => fr(f16ToF32(w[wOff + i]) * x[xOff + i]);
  for (let i = 0; i < n8; i += 8) {
    for (let j = 0; j < 4; j++) acc[j] = fr(acc[j] + prod(i + j));
    for (let j = 0; j < 4; j++) acc[j] = fr(acc[j] + prod(i + 4 + j));
  }
  let s = fr(fr(acc[0] + acc[2]) + fr(acc[1] + acc[3]));
  for (let i = n8; i < cols; i++) s = fr(s + prod(i));
  return s;
}

/** Random halves: every exponent 0..30 (subnormals and ±0 included), both signs, the extremes at fixed places. */
function finiteHalves(n: number, seed: number): Uint16Array {
  const r = mulberry32(seed);
  const h = new Uint16Array(n);
  for (let i = 0; i < n; i++) h[i] = (r() < 0.5 ? 0x8000 : 0) | (Math.floor(r() * 31) << 10) | Math.floor(r() * 1024);
  [0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x83ff, 0x0400, 0x7bff, 0xfbff, 0x3c00].forEach((v, i) => (h[(i * 7919) % n] = v));
  return h;
}

/** Random activations of moderate size (every |x| < 2^16), with -0 and subnormal floats at fixed places. */
function smallX(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  const x = Float32Array.from({ length: n }, () => (r() * 2 - 1) * 4);
  [-0, 1e-40, -3e-45, 65535.99609375, -65535.99609375].forEach((v, i) => (x[(i * 104729) % n] = v));
  return x;
}

const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

function assertAbi(got: Float32Array, want: number[], what: string): void {
  for (let i = 0; i < want.length; i++) {
    if (!same(got[i], fr(want[i]))) assert.unreachable(`${what}: [${i}] ${got[i]} vs ${want[i]}`);
  }
}

/** matvec of rows×cols halves on x over the row ranges `cuts`, against the ABI order. */
function checkMatvec(k: Kernels, name: string, h: Uint16Array, x: Float32Array, rows: number, cols: number, cuts: number[], what: string): void {
  arena.reset();
  const wp = alloc(h.length * 2), xp = alloc(x.length * 4), yp = alloc(rows * 4);
  new Uint16Array(memory.buffer, wp, h.length).set(h);
  new Float32Array(memory.buffer, xp, x.length).set(x);
  mem.fill(0xff, yp, yp + rows * 4);
  for (let i = 0; i + 1 < cuts.length; i++) k[name](wp, xp, yp, cols, cuts[i], cuts[i + 1]);
  const want = Array.from({ length: rows }, (_, r) => abiDot(h, r * cols, x, 0, cols));
  assertAbi(new Float32Array(memory.buffer.slice(yp, yp + rows * 4) as ArrayBuffer), want, `${name} ${what}`);
}

/** matmul of rows×cols halves on nTok x rows over the row ranges `cuts`, against the ABI order per token. */
function checkMatmul(k: Kernels, name: string, h: Uint16Array, x: Float32Array, rows: number, cols: number, nTok: number, cuts: number[], what: string): void {
  arena.reset();
  const wp = alloc(h.length * 2), xp = alloc(x.length * 4), yp = alloc(rows * nTok * 4);
  new Uint16Array(memory.buffer, wp, h.length).set(h);
  new Float32Array(memory.buffer, xp, x.length).set(x);
  mem.fill(0xff, yp, yp + rows * nTok * 4);
  for (let i = 0; i + 1 < cuts.length; i++) k[name](wp, xp, yp, cols, rows, nTok, cuts[i], cuts[i + 1]);
  const want: number[] = [];
  for (let t = 0; t < nTok; t++) for (let r = 0; r < rows; r++) want.push(abiDot(h, r * cols, x, t * cols, cols));
  assertAbi(new Float32Array(memory.buffer.slice(yp, yp + rows * nTok * 4) as ArrayBuffer), want, `${name} ${what}`);
}

const COLS = [1, 7, 8, 9, 15, 16, 17, 33, 100, 257, 800];
const SHAPES: Array<[number, number[]]> = [[1, [0, 1]], [3, [0, 3]], [5, [0, 2, 5]], [17, [0, 17]], [37, [0, 5, 6, 22, 37]]];

for (const [flavour, k] of Object.entries(FLAVOURS)) {
  test(`${flavour}: matvec_f16 and matvec_f16f give the ABI order's bits on halves of every kind, over ragged columns and row splits`, () => {
    let seed = 1;
    for (const cols of COLS) {
      for (const [rows, cuts] of SHAPES) {
        const h = finiteHalves(rows * cols, seed++), x = smallX(cols, seed++);
        for (const name of ['matvec_f16', 'matvec_f16f']) checkMatvec(k, name, h, x, rows, cols, cuts, `${rows}×${cols} split ${cuts}`);
      }
    }
  });

  test(`${flavour}: an x at or past 2^16, infinite or NaN (no scaling by 2^112) gives the same bits as the ABI order`, () => {
    let seed = 500;
    for (const big of [65536, -65536, 1e30, -3.4e38, Infinity, -Infinity, NaN]) {
      for (const cols of [9, 100, 257]) {
        for (const at of [0, cols - 1]) {
          const rows = 7;
          const h = finiteHalves(rows * cols, seed++), x = smallX(cols, seed++);
          x[at] = big;
          for (const name of ['matvec_f16', 'matvec_f16f']) checkMatvec(k, name, h, x, rows, cols, [0, 3, 7], `x[${at}] = ${big}, ${rows}×${cols}`);
        }
      }
    }
  });

  test(`${flavour}: matvec_f16 on rows with an infinite or NaN half gives the ABI order's results there and the same bits elsewhere`, () => {
    let seed = 900;
    for (const cols of [8, 17, 100, 257]) {
      for (const special of [0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xffff]) {
        const rows = 13;
        const h = finiteHalves(rows * cols, seed++), x = smallX(cols, seed++);
        h[4 * cols + ((seed * 31) % cols)] = special; // one row of a pass of four
        h[12 * cols + cols - 1] = special; // the last column of the last row (the tail, when cols % 8 != 0)
        checkMatvec(k, 'matvec_f16', h, x, rows, cols, [0, 13], `half 0x${special.toString(16)}, 13×${cols}`);
        checkMatvec(k, 'matvec_f16', h, x, rows, cols, [0, 4, 5, 13], `half 0x${special.toString(16)}, 13×${cols}, split`);
      }
    }
  });

  test(`${flavour}: matmul_f16 and matmul_f16f for 1..9 tokens give each token the ABI order's bits, over row splits`, () => {
    let seed = 1300;
    for (const cols of [7, 33, 257]) {
      const rows = 11;
      const h = finiteHalves(rows * cols, seed++);
      for (let nTok = 1; nTok <= 9; nTok++) {
        const x = smallX(cols * nTok, seed++);
        if (nTok === 5) x[3] = 70000; // a token that matvec would run unscaled
        for (const name of ['matmul_f16', 'matmul_f16f']) checkMatmul(k, name, h, x, rows, cols, nTok, [0, 4, 11], `${rows}×${cols}, ${nTok} tokens`);
      }
      const hs = h.slice();
      hs[2 * cols + 1] = 0x7c00;
      checkMatmul(k, 'matmul_f16', hs, smallX(cols * 3, seed++), rows, cols, 3, [0, 11], `${rows}×${cols}, an infinite half`);
    }
  });
}

test.run();
