// The q2_Kr4 and q3_Kr4 layouts (asm/matmul/q2_q3_kr4.ts draws them) in plain TypeScript, for reading and
// for the tests: ggml q2_K / q3_K rows, four at a time, into 336- / 440-byte group blocks per super-block
// index, and back. The repacks only move bits, so back(to(w)) is w; the kernels on the layouts equal the
// q2_K / q3_K kernels on the original rows bit for bit (test/kernel-matmul.test.ts).
import { BLOCK_FORMATS } from '../../model/block-formats.js';

const Q2_K = BLOCK_FORMATS.q2_K.blockBytes; // 84: scales[16], qs[64], d, dmin
const Q3_K = BLOCK_FORMATS.q3_K.blockBytes; // 110: hmask[32], qs[64], scales[12], d
const R2 = { unit: 80, unitScales: 64, unitMins: 72, d: 320, dmin: 328 };
const R3 = { scales: 384, scalesHigh: 416, d: 432 };

/** The 2-bit field (q2_K's quant, q3_K's low bits) of value j of the block whose qs start at w[qs..] (ggml's dequantizers). */
function low2(w: Uint8Array, qs: number, j: number): number {
  const G = j >> 4;
  return (w[qs + 32 * (G >> 3) + 16 * (G & 1) + (j & 15)] >> (2 * ((G >> 1) & 3))) & 3;
}

/** Sets low2's field (the block starts zeroed). */
function setLow2(w: Uint8Array, qs: number, j: number, q: number): void {
  const G = j >> 4;
  w[qs + 32 * (G >> 3) + 16 * (G & 1) + (j & 15)] |= q << (2 * ((G >> 1) & 3));
}

/** q3_K's high bit of value j of the block at w[o..]: bit G / 2 of hmask[16·(G % 2) + j % 16]. */
function high1(w: Uint8Array, o: number, j: number): number {
  const G = j >> 4;
  return (w[o + 16 * (G & 1) + (j & 15)] >> (G >> 1)) & 1;
}

/** q3_K's 6-bit scale (unsigned, as stored) of group G of the block at w[o..] (ggml's unpacking of scales[12]). */
export function q3KScale(w: Uint8Array, o: number, G: number): number {
  const s = o + 96;
  const low = G < 8 ? w[s + G] & 15 : w[s + G - 8] >> 4;
  return low | (((w[s + 8 + (G & 3)] >> (2 * (G >> 2))) & 3) << 4);
}

function setQ3KScale(w: Uint8Array, o: number, G: number, v: number): void {
  const s = o + 96;
  w[G < 8 ? s + G : s + G - 8] |= G < 8 ? v & 15 : (v & 15) << 4;
  w[s + 8 + (G & 3)] |= (v >> 4) << (2 * (G >> 2));
}

/**
 * Where value j of row i sits in q2_Kr4's quant vectors (j = 16G + v, pair m = G / 2, s = G % 2): chunk
 * c = v / 2 of the pair, byte 80·(m / 2) + 32·(m % 2) + 16·(c / 4) + 4i + 2s + v % 2, bits 2·(c % 4).
 */
function quantAt(i: number, j: number): { at: number; shift: number } {
  const G = j >> 4, m = G >> 1, v = j & 15, c = v >> 1;
  return { at: R2.unit * (m >> 1) + 32 * (m & 1) + 16 * (c >> 2) + 4 * i + 2 * (G & 1) + (v & 1), shift: 2 * (c & 3) };
}

/**
 * Where row i's 4-bit scale and min of group G sit in q2_Kr4: in unit G / 4, nibble (G / 2) % 2 (low
 * first) of byte 64 + 2i + G % 2 (scales) and of byte 72 + 2i + G % 2 (mins), both row-major.
 */
function q2NibblesAt(i: number, G: number): { scale: number; min: number; shift: number } {
  const u = R2.unit * (G >> 2);
  return { scale: u + R2.unitScales + 2 * i + (G & 1), min: u + R2.unitMins + 2 * i + (G & 1), shift: 4 * ((G >> 1) & 1) };
}

/**
 * q3_Kr4's level bits of value j of row i: [byte, shift, bits taken from the level at `from`] pieces of
 * the pair's vectors V1, V2, V3 (at 48m, 48m + 16, 48m + 32; j = 16(2m + s) + 4k + e, byte 4i + e).
 */
function levelAt(i: number, j: number): Array<{ at: number; shift: number; from: number; bits: number }> {
  const G = j >> 4, m = G >> 1, s = G & 1, k = (j >> 2) & 3, e = j & 3;
  const v = (n: number) => 48 * m + 16 * n + 4 * i + e;
  if (k < 2) return [{ at: v(s), shift: 3 * k, from: 0, bits: 3 }];
  if (k === 3) return [{ at: v(2), shift: s === 0 ? 3 : 0, from: 0, bits: 3 }];
  return [{ at: v(s), shift: 6, from: 0, bits: 2 }, { at: v(2), shift: 6 + s, from: 2, bits: 1 }];
}

/** The index n of row i's scale of group G in a group block: 8·(G / 2) + 2i + G % 2. */
const scaleIndex = (i: number, G: number) => 8 * (G >> 1) + 2 * i + (G & 1);

function repack(q3: boolean, w: Uint8Array, rows: number, cols: number, toR4: boolean): Uint8Array {
  const src = q3 ? Q3_K : Q2_K, qs = q3 ? 32 : 16;
  const nb = cols / 256, rowBytes = nb * src;
  const out = new Uint8Array(w.length);
  for (let g = 0; g < rows; g += 4) {
    for (let b = 0; b < nb; b++) {
      const o = g * rowBytes + b * 4 * src;
      for (let i = 0; i < 4; i++) {
        const r = (g + i) * rowBytes + b * src;
        for (let j = 0; j < 256; j++) {
          if (!q3) {
            const { at, shift } = quantAt(i, j);
            if (toR4) out[o + at] |= low2(w, r + qs, j) << shift;
            else setLow2(out, r + qs, j, (w[o + at] >> shift) & 3);
            continue;
          }
          if (toR4) {
            const level = low2(w, r + qs, j) | (high1(w, r, j) << 2);
            for (const f of levelAt(i, j)) out[o + f.at] |= ((level >> f.from) & ((1 << f.bits) - 1)) << f.shift;
          } else {
            let level = 0;
            for (const f of levelAt(i, j)) level |= ((w[o + f.at] >> f.shift) & ((1 << f.bits) - 1)) << f.from;
            setLow2(out, r + qs, j, level & 3);
            out[r + 16 * ((j >> 4) & 1) + (j & 15)] |= (level >> 2) << ((j >> 4) >> 1);
          }
        }
        for (let G = 0; G < 16; G++) {
          const n = scaleIndex(i, G);
          if (q3) {
            const lo = o + R3.scales + (n & 31), hi = o + R3.scalesHigh + (n & 15);
            if (toR4) {
              const v = q3KScale(w, r, G);
              out[lo] |= (v & 15) << (4 * (n >> 5));
              out[hi] |= (v >> 4) << (2 * (n >> 4));
            } else {
              setQ3KScale(out, r, G, ((w[lo] >> (4 * (n >> 5))) & 15) | (((w[hi] >> (2 * (n >> 4))) & 3) << 4));
            }
          } else {
            const at = q2NibblesAt(i, G);
            if (toR4) {
              out[o + at.scale] |= (w[r + G] & 15) << at.shift;
              out[o + at.min] |= (w[r + G] >> 4) << at.shift;
            } else {
              out[r + G] = ((w[o + at.scale] >> at.shift) & 15) | (((w[o + at.min] >> at.shift) & 15) << 4);
            }
          }
        }
        const halves = q3 ? [[108, R3.d]] : [[80, R2.d], [82, R2.dmin]];
        for (const [at, to] of halves) {
          for (const h of [0, 1]) {
            if (toR4) out[o + to + 2 * i + h] = w[r + at + h];
            else out[r + at + h] = w[o + to + 2 * i + h];
          }
        }
      }
    }
  }
  return out;
}

/** q2_K rows (rows a multiple of 4) in the q2_Kr4 layout. */
export const q2KToQ2Kr4 = (w: Uint8Array, rows: number, cols: number): Uint8Array => repack(false, w, rows, cols, true);
/** q2_Kr4 back to ggml's q2_K rows. */
export const q2Kr4ToQ2K = (r: Uint8Array, rows: number, cols: number): Uint8Array => repack(false, r, rows, cols, false);
/** q3_K rows (rows a multiple of 4) in the q3_Kr4 layout. */
export const q3KToQ3Kr4 = (w: Uint8Array, rows: number, cols: number): Uint8Array => repack(true, w, rows, cols, true);
/** q3_Kr4 back to ggml's q3_K rows. */
export const q3Kr4ToQ3K = (r: Uint8Array, rows: number, cols: number): Uint8Array => repack(true, r, rows, cols, false);
