// Q4_K: super-blocks of 256 values, { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }, cut into
// eight groups of 32 with a 6-bit scale sc and a 6-bit min m each: x ≈ d*sc * q - dmin*m,
// q a 4-bit nibble. As ggml's quantize_row_q4_K_ref (no importance matrix): scales, mins and
// levels by fitScalesAndMinsK4 (./kquant-fit.ts, levels 0..15, grids from nmax - 1 in 21 steps),
// then the levels packed as nibbles.
import { checkRow } from './common.js';
import { fitScalesAndMinsK4 } from './kquant-fit.js';

const QK_K = 256;
const BLOCK_BYTES = 2 + 2 + 12 + QK_K / 2;

const L = new Uint8Array(QK_K);

export function quantizeRowQ4_K(src: Float32Array, dst: Uint8Array): void {
  const nb = checkRow('q4_K', QK_K, BLOCK_BYTES, src.length, dst);
  for (let b = 0; b < nb; b++) {
    const out = b * BLOCK_BYTES;
    fitScalesAndMinsK4(src, b * QK_K, dst, out, L, 15, -1, 20);
    // Pack: each 64-value chunk fills 32 bytes, its first 32 values in the low nibbles.
    for (let c = 0; c < QK_K / 64; c++) {
      const q = out + 16 + 32 * c;
      for (let l = 0; l < 32; l++) dst[q + l] = L[64 * c + l] | (L[64 * c + 32 + l] << 4);
    }
  }
}

