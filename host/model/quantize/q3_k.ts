// Q3_K: super-blocks of 256 values, { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d }, cut into
// sixteen groups of 16 with a signed 6-bit scale each (stored + 32: low 4 bits in the nibbles of bytes
// 0-7, top 2 bits in bytes 8-11): x ≈ d*sc * q, q in -4..3 as 2 low bits (laid out as q2_K's) and a
// high bit in hmask (bit k of hmask[m] for value 32k + m), set when q >= 0. As ggml's
// quantize_row_q3_K_ref (no importance matrix):
//  1. each group gets a float scale from make_q3_quants (x²-weighted, refined by trying each level);
//  2. the scale of largest magnitude maps to -32, giving d and the sixteen 6-bit scales;
//  3. every value is re-quantized against the stored scale.
import { f16ToF32, f32ToF16 } from '../ggml-types.js';
import { GROUP_MAX_EPS, checkRow, clampLevel, f32, nearestInt, putU16, signedMax, symmetricLevel } from './common.js';

const QK_K = 256;
const BLOCK_BYTES = QK_K / 8 + QK_K / 4 + 12 + 2;

const L = new Int8Array(QK_K);
const scales = new Float32Array(QK_K / 16);

/**
 * ggml's make_q3_quants with do_rmse for x[off .. off+n): levels (offset by nmax, in 0..2·nmax-1) to
 * L[off..] and the scale s with x ≈ s · (L − nmax). The value of largest magnitude first maps to −nmax;
 * then up to five passes move single levels where that improves the x²-weighted least-squares fit.
 */
function makeQ3Quants(n: number, nmax: number, x: Float32Array, off: number, levels: Int8Array, lOff: number): number {
  const max = signedMax(x, off, n);
  if (Math.abs(max) < GROUP_MAX_EPS) {
    levels.fill(0, lOff, lOff + n);
    return 0;
  }
  const iscale = f32(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[off + i];
    const l = symmetricLevel(iscale, v, nmax);
    levels[lOff + i] = l;
    const w = f32(v * v);
    sumlx = f32(sumlx + f32(f32(w * v) * l));
    suml2 = f32(suml2 + f32(f32(w * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const v = x[off + i];
      const w = f32(v * v);
      const li = levels[lOff + i];
      let slx = f32(sumlx - f32(f32(w * v) * li));
      if (slx > 0) {
        let sl2 = f32(suml2 - f32(f32(w * li) * li));
        const nl = clampLevel(nearestInt(f32(f32(v * sl2) / slx)), nmax);
        if (nl !== li) {
          slx = f32(slx + f32(f32(w * v) * nl));
          sl2 = f32(sl2 + f32(f32(w * nl) * nl));
          if (sl2 > 0 && f32(f32(slx * slx) * suml2) > f32(f32(sumlx * sumlx) * sl2)) {
            levels[lOff + i] = nl;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (changed === 0) break;
  }
  for (let i = 0; i < n; i++) levels[lOff + i] += nmax;
  return suml2 > 0 ? f32(sumlx / suml2) : 0;
}

/** The signed scale of group j from the 12 scale bytes at s (minus 32). */
function scaleAt(dst: Uint8Array, s: number, j: number): number {
  const low = j < 8 ? dst[s + j] & 0xf : dst[s + j - 8] >> 4;
  return (low | (((dst[s + 8 + (j % 4)] >> (2 * (j >> 2))) & 3) << 4)) - 32;
}

export function quantizeRowQ3_K(src: Float32Array, dst: Uint8Array): void {
  const nb = checkRow('q3_K', QK_K, BLOCK_BYTES, src.length, dst);
  for (let b = 0; b < nb; b++) {
    const x = b * QK_K;
    const out = b * BLOCK_BYTES; // hmask at out, qs at out + 32, scales at out + 96, d at out + 108
    const sc = out + 96;

    // 1.
    for (let j = 0; j < QK_K / 16; j++) scales[j] = makeQ3Quants(16, 4, src, x + 16 * j, L, 16 * j);
    const maxScale = signedMax(scales, 0, QK_K / 16);

    // 2.
    dst.fill(0, sc, sc + 12);
    if (maxScale !== 0) {
      const iscale = f32(-32 / maxScale);
      for (let j = 0; j < QK_K / 16; j++) {
        const q = (nearestInt(f32(iscale * scales[j])) << 24) >> 24; // int8_t
        const l = (q < -32 ? -32 : q > 31 ? 31 : q) + 32;
        if (j < 8) dst[sc + j] = l & 0xf;
        else dst[sc + j - 8] |= (l & 0xf) << 4;
        dst[sc + 8 + (j % 4)] |= (l >> 4) << (2 * (j >> 2));
      }
      putU16(dst, out + 108, f32ToF16(f32(1 / iscale)));
    } else {
      putU16(dst, out + 108, f32ToF16(0));
    }

    // 3. a group whose scale came out 0 keeps step 1's levels
    const dAll = f16ToF32(dst[out + 108] | (dst[out + 109] << 8));
    for (let j = 0; j < QK_K / 16; j++) {
      const d = f32(dAll * scaleAt(dst, sc, j));
      if (d === 0) continue;
      for (let i = 0; i < 16; i++) {
        const l = nearestInt(f32(src[x + 16 * j + i] / d));
        L[16 * j + i] = (l < -4 ? -4 : l > 3 ? 3 : l) + 4;
      }
    }

    // the high bit of value 32k + m in bit k of hmask[m], the two low bits packed as q2_K's
    dst.fill(0, out, out + 32);
    for (let j = 0; j < QK_K; j++) {
      if (L[j] > 3) {
        dst[out + (j % 32)] |= 1 << (j >> 5);
        L[j] -= 4;
      }
    }
    for (let h = 0; h < 2; h++) {
      const q = out + 32 + 32 * h;
      const v = 128 * h;
      for (let l = 0; l < 32; l++) dst[q + l] = L[v + l] | (L[v + l + 32] << 2) | (L[v + l + 64] << 4) | (L[v + l + 96] << 6);
    }
  }
}
