// Q2_K: super-blocks of 256 values, { u8 scales[16]; u8 qs[64]; f16 d; f16 dmin }, cut into sixteen
// groups of 16 with a 4-bit scale (low nibble of scales[g]) and a 4-bit min (high nibble) each:
// x ≈ d*sc * q - dmin*m, q 2 bits. In each 128-value half, byte l of its 32 qs bytes holds values
// l, l + 32, l + 64, l + 96 at bits 0, 2, 4, 6. As ggml's quantize_row_q2_K_ref (no importance matrix):
//  1. each group gets a float scale and min from make_qkx2_quants (weights |x|, absolute error);
//  2. scales and mins are quantized to 4 bits against their maxima (d = max/15, dmin likewise);
//  3. every value is re-quantized against the stored scale and min.
import { f16ToF32, f32ToF16 } from '../ggml-types.js';
import { checkRow, f32, nearestInt, putU16 } from './common.js';
import { makeQkx2Quants } from './kquant-fit.js';

const QK_K = 256;
const BLOCK_BYTES = QK_K / 16 + QK_K / 4 + 2 + 2;
const Q4SCALE = 15;

const L = new Uint8Array(QK_K);
const weights = new Float32Array(16);
const scales = new Float32Array(QK_K / 16);
const mins = new Float32Array(QK_K / 16);

export function quantizeRowQ2_K(src: Float32Array, dst: Uint8Array): void {
  const nb = checkRow('q2_K', QK_K, BLOCK_BYTES, src.length, dst);
  for (let b = 0; b < nb; b++) {
    const x = b * QK_K;
    const out = b * BLOCK_BYTES; // scales at out, qs at out + 16, d at out + 80, dmin at out + 82

    // 1.
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < QK_K / 16; j++) {
      for (let l = 0; l < 16; l++) weights[l] = Math.abs(src[x + 16 * j + l]);
      scales[j] = makeQkx2Quants(16, 3, src, x + 16 * j, weights, L, 16 * j, mins, j, f32(-0.5), f32(0.1), 15, true);
      if (scales[j] > maxScale) maxScale = scales[j];
      if (mins[j] > maxMin) maxMin = mins[j];
    }

    // 2. (a scale byte keeps the low 8 bits of what ggml stores, out-of-range levels included)
    if (maxScale > 0) {
      const iscale = f32(Q4SCALE / maxScale);
      for (let j = 0; j < QK_K / 16; j++) dst[out + j] = nearestInt(f32(iscale * scales[j])) & 0xff;
      putU16(dst, out + 80, f32ToF16(f32(maxScale / Q4SCALE)));
    } else {
      dst.fill(0, out, out + 16);
      putU16(dst, out + 80, f32ToF16(0));
    }
    if (maxMin > 0) {
      const iscale = f32(Q4SCALE / maxMin);
      for (let j = 0; j < QK_K / 16; j++) dst[out + j] |= (nearestInt(f32(iscale * mins[j])) << 4) & 0xff;
      putU16(dst, out + 82, f32ToF16(f32(maxMin / Q4SCALE)));
    } else {
      putU16(dst, out + 82, f32ToF16(0));
    }

    // 3. a group whose scale came out 0 keeps step 1's levels
    const dAll = f16ToF32(dst[out + 80] | (dst[out + 81] << 8));
    const dminAll = f16ToF32(dst[out + 82] | (dst[out + 83] << 8));
    for (let j = 0; j < QK_K / 16; j++) {
      const d = f32(dAll * (dst[out + j] & 0xf));
      if (d === 0) continue;
      const dm = f32(dminAll * (dst[out + j] >> 4));
      for (let i = 0; i < 16; i++) {
        const l = nearestInt(f32(f32(src[x + 16 * j + i] + dm) / d));
        L[16 * j + i] = l < 0 ? 0 : l > 3 ? 3 : l;
      }
    }

    for (let h = 0; h < 2; h++) {
      const q = out + 16 + 32 * h;
      const v = 128 * h;
      for (let l = 0; l < 32; l++) dst[q + l] = L[v + l] | (L[v + l + 32] << 2) | (L[v + l + 64] << 4) | (L[v + l + 96] << 6);
    }
  }
}
