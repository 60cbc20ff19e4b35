// Q6_K: super-blocks of 256 values, { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }, cut into
// sixteen groups of 16 with a signed 8-bit scale each: x ≈ d * scale * (q - 32), q 6 bits (low
// 4 in ql, high 2 in qh). As ggml's quantize_row_q6_K_ref (no importance matrix):
//  1. each group gets a float scale from make_qx_quants (symmetric levels -32..31, the grid
//     stretched a little either way to maximise the x²-weighted fit);
//  2. the scale of largest magnitude maps to -128, giving d and the sixteen 8-bit scales;
//  3. every value is re-quantized against d * scale actually stored.
import { f16ToF32, f32ToF16 } from '../ggml-types.js';
import { GROUP_MAX_EPS, checkRow, f32, i8, nearestInt, putU16, signedMax, symmetricLevel } from './common.js';

const QK_K = 256;
const BLOCK_BYTES = QK_K / 2 + QK_K / 4 + QK_K / 16 + 2;

const L = new Int8Array(QK_K);
const scales = new Float32Array(QK_K / 16);
const TENTH = f32(0.1);

/**
 * ggml's make_qx_quants with rmse_type 1 and no importance weights (weights x²), for
 * x[off .. off+n): levels L in 0..2*nmax-1 (offset by nmax) and the returned scale s give
 * x ≈ s * (L - nmax). The value of largest magnitude first maps to -nmax; then 18 stretched
 * grids (nmax ± 0.1..0.9) are tried and the one with the best least-squares fit is kept.
 */
function makeQxQuants(n: number, nmax: number, x: Float32Array, off: number, levels: Int8Array, lOff: number): number {
  const max = signedMax(x, off, n);
  if (Math.abs(max) < GROUP_MAX_EPS) {
    levels.fill(0, lOff, lOff + n);
    return 0;
  }
  let iscale = f32(-nmax / max);
  let sumLX = 0;
  let sumL2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[off + i];
    const l = symmetricLevel(iscale, v, nmax);
    levels[lOff + i] = l + nmax;
    const w = f32(v * v);
    sumLX = f32(sumLX + f32(f32(w * v) * l));
    sumL2 = f32(sumL2 + f32(f32(w * l) * l));
  }
  let scale = sumL2 !== 0 ? f32(sumLX / sumL2) : 0;
  let best = f32(scale * sumLX);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = f32(-f32(nmax + f32(TENTH * is)) / max);
    sumLX = 0;
    sumL2 = 0;
    for (let i = 0; i < n; i++) {
      const v = x[off + i];
      const l = symmetricLevel(iscale, v, nmax);
      const w = f32(v * v);
      sumLX = f32(sumLX + f32(f32(w * v) * l));
      sumL2 = f32(sumL2 + f32(f32(w * l) * l));
    }
    if (sumL2 > 0 && f32(sumLX * sumLX) > f32(best * sumL2)) {
      for (let i = 0; i < n; i++) levels[lOff + i] = symmetricLevel(iscale, x[off + i], nmax) + nmax;
      scale = f32(sumLX / sumL2);
      best = f32(scale * sumLX);
    }
  }
  return scale;
}

export function quantizeRowQ6_K(src: Float32Array, dst: Uint8Array): void {
  const nb = checkRow('q6_K', QK_K, BLOCK_BYTES, src.length, dst);
  for (let b = 0; b < nb; b++) {
    const x = b * QK_K;
    const out = b * BLOCK_BYTES;
    const sc = out + 192; // i8 scales[16]; d follows at out + 208

    // 1. a float scale per group of 16.
    for (let g = 0; g < QK_K / 16; g++) scales[g] = makeQxQuants(16, 32, src, x + 16 * g, L, 16 * g);
    const maxScale = signedMax(scales, 0, QK_K / 16);
    if (Math.abs(maxScale) < GROUP_MAX_EPS) {
      dst.fill(0, out, out + BLOCK_BYTES); // an all-zero block, d = 0
      continue;
    }

    // 2. 8-bit scales: the largest maps to -128, the rest in proportion (capped at 127).
    const iscale = f32(-128 / maxScale);
    const dBits = f32ToF16(f32(1 / iscale));
    putU16(dst, out + 208, dBits);
    for (let g = 0; g < QK_K / 16; g++) {
      const l = nearestInt(f32(iscale * scales[g]));
      dst[sc + g] = (l < 127 ? l : 127) & 0xff;
    }

    // 3. re-quantize against what was stored; a group whose scale came out 0 keeps step 1's levels.
    const dAll = f16ToF32(dBits);
    for (let g = 0; g < QK_K / 16; g++) {
      const d = f32(dAll * i8(dst[sc + g]));
      if (d === 0) continue;
      for (let i = 0; i < 16; i++) {
        const l = nearestInt(f32(src[x + 16 * g + i] / d));
        L[16 * g + i] = (l < -32 ? -32 : l > 31 ? 31 : l) + 32;
      }
    }

    // Pack each 128-value half: 64 ql bytes (low nibbles of values 0-31 | 64-95, then 32-63 |
    // 96-127) and 32 qh bytes holding the top two bits of values l, l+32, l+64, l+96.
    for (let h = 0; h < 2; h++) {
      const ql = out + 64 * h;
      const qh = out + 128 + 32 * h;
      const v = 128 * h;
      for (let l = 0; l < 32; l++) {
        const q1 = L[v + l], q2 = L[v + l + 32], q3 = L[v + l + 64], q4 = L[v + l + 96];
        dst[ql + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
        dst[ql + l + 32] = (q2 & 0xf) | ((q4 & 0xf) << 4);
        dst[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
      }
    }
  }
}
