// The q6_Kr4 layout (asm/matmul/q6_kr4.ts draws it) in plain TypeScript, for reading and for the tests:
// ggml q6_K rows, four at a time, into 840-byte group blocks per super-block index, and back. The
// repack only moves bits, so q6Kr4ToQ6K(q6KToQ6Kr4(w)) is w; the kernels on q6_Kr4 equal the q6_K
// kernels on the original rows bit for bit (test/kernel-matmul.test.ts).
import { BLOCK_FORMATS } from '../../model/block-formats.js';

const Q6_K = BLOCK_FORMATS.q6_K.blockBytes; // 210: ql[128], qh[64], scales[16], d
const GROUP = BLOCK_FORMATS.q6_Kr4.rows * Q6_K; // 840
const SCALES = 768;
const D = 832;

/** The 6-bit quant (0..63) of value j of the q6_K block at w[o..] (ggml's dequantize_row_q6_K). */
export function q6KQuant(w: Uint8Array, o: number, j: number): number {
  const h = j >> 7, k = (j >> 5) & 3, l = j & 31;
  const ql = w[o + 64 * h + l + (k & 1 ? 32 : 0)];
  const low = k < 2 ? ql & 15 : ql >> 4;
  const high = (w[o + 128 + 32 * h + l] >> (2 * k)) & 3;
  return low | (high << 4);
}

/** Sets value j's quant in the q6_K block at w[o..] (the inverse of q6KQuant; the block starts zeroed). */
function setQ6KQuant(w: Uint8Array, o: number, j: number, q: number): void {
  const h = j >> 7, k = (j >> 5) & 3, l = j & 31;
  w[o + 64 * h + l + (k & 1 ? 32 : 0)] |= k < 2 ? q & 15 : (q & 15) << 4;
  w[o + 128 + 32 * h + l] |= (q >> 4) << (2 * k);
}

/** q6_K rows (rows a multiple of 4) in the q6_Kr4 layout. */
export function q6KToQ6Kr4(w: Uint8Array, rows: number, cols: number): Uint8Array {
  const nb = cols / 256, rowBytes = nb * Q6_K;
  const out = new Uint8Array(w.length);
  for (let g = 0; g < rows; g += 4) {
    for (let b = 0; b < nb; b++) {
      const o = g * rowBytes + b * GROUP;
      for (let i = 0; i < 4; i++) {
        const src = (g + i) * rowBytes + b * Q6_K;
        out[o + D + 2 * i] = w[src + 208];
        out[o + D + 2 * i + 1] = w[src + 209];
        for (let G = 0; G < 16; G++) {
          out[o + SCALES + 4 * G + i] = w[src + 192 + G];
          for (let e = 0; e < 4; e++) {
            const top = q6KQuant(w, src, 16 * G + 12 + e); // its bits 4..5, 2..3, 0..1 go to bits 6..7 of A, B, C
            const at = o + 48 * G + 4 * i + e;
            out[at] = q6KQuant(w, src, 16 * G + e) | ((top >> 4) << 6);
            out[at + 16] = q6KQuant(w, src, 16 * G + 4 + e) | (((top >> 2) & 3) << 6);
            out[at + 32] = q6KQuant(w, src, 16 * G + 8 + e) | ((top & 3) << 6);
          }
        }
      }
    }
  }
  return out;
}

/** The quant (0..63) of value j (0..255) of row i (0..3) in the q6_Kr4 group block at r[o..]. */
export function q6Kr4Quant(r: Uint8Array, o: number, i: number, j: number): number {
  const G = j >> 4, e = j & 15, at = o + 48 * G + 4 * i + (e & 3);
  if (e < 12) return r[at + 16 * (e >> 2)] & 63;
  return ((r[at] >> 6) << 4) | ((r[at + 16] >> 6) << 2) | (r[at + 32] >> 6);
}

/** q6_Kr4 back to ggml's q6_K rows. */
export function q6Kr4ToQ6K(r: Uint8Array, rows: number, cols: number): Uint8Array {
  const nb = cols / 256, rowBytes = nb * Q6_K;
  const w = new Uint8Array(r.length);
  for (let g = 0; g < rows; g += 4) {
    for (let b = 0; b < nb; b++) {
      const o = g * rowBytes + b * GROUP;
      for (let i = 0; i < 4; i++) {
        const dst = (g + i) * rowBytes + b * Q6_K;
        for (let j = 0; j < 256; j++) setQ6KQuant(w, dst, j, q6Kr4Quant(r, o, i, j));
        for (let G = 0; G < 16; G++) w[dst + 192 + G] = r[o + SCALES + 4 * G + i];
        w[dst + 208] = r[o + D + 2 * i];
        w[dst + 209] = r[o + D + 2 * i + 1];
      }
    }
  }
  return w;
}
