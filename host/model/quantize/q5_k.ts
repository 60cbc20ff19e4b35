// Q5_K: super-blocks of 256 values, { f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] }: q4_K's
// scales and mins with 5-bit levels, x ≈ d*sc * q - dmin*m. As ggml's quantize_row_q5_K_ref (no
// importance matrix): scales, mins and levels by fitScalesAndMinsK4 (./kquant-fit.ts, levels 0..31,
// grids from nmax - 0.5 in 16 steps); the low 4 bits of each level packed as q4_K's nibbles, the
// fifth in qh: bit 2c of qh[l] for value 64c + l, bit 2c + 1 for value 64c + 32 + l.
import { checkRow } from './common.js';
import { fitScalesAndMinsK4 } from './kquant-fit.js';

const QK_K = 256;
const BLOCK_BYTES = 2 + 2 + 12 + QK_K / 8 + QK_K / 2;

const L = new Uint8Array(QK_K);

export function quantizeRowQ5_K(src: Float32Array, dst: Uint8Array): void {
  const nb = checkRow('q5_K', QK_K, BLOCK_BYTES, src.length, dst);
  for (let b = 0; b < nb; b++) {
    const out = b * BLOCK_BYTES;
    fitScalesAndMinsK4(src, b * QK_K, dst, out, L, 31, -0.5, 15);
    const qh = out + 16;
    dst.fill(0, qh, qh + 32);
    for (let c = 0; c < QK_K / 64; c++) {
      const ql = out + 48 + 32 * c;
      for (let j = 0; j < 32; j++) {
        let l1 = L[64 * c + j];
        let l2 = L[64 * c + 32 + j];
        if (l1 > 15) {
          l1 -= 16;
          dst[qh + j] |= 1 << (2 * c);
        }
        if (l2 > 15) {
          l2 -= 16;
          dst[qh + j] |= 2 << (2 * c);
        }
        dst[ql + j] = l1 | (l2 << 4);
      }
    }
  }
}
