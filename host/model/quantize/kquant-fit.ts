// The scale-and-min search the K-quants with a minimum share (ggml's make_qkx2_quants), and the step of
// q4_K and q5_K that fits, packs and re-applies their 6-bit scales and mins (the two formats differ only
// in the level count and the search grid, then in how they pack the levels).
import { f16ToF32, f32ToF16 } from '../ggml-types.js';
import { f32, nearestInt, putU16 } from './common.js';

// Scratch, reused across calls (quantizing is single-threaded per call).
const Laux = new Uint8Array(32);
const weights = new Float32Array(32);
const scales = new Float32Array(8);
const mins = new Float32Array(8);

/**
 * ggml's make_qkx2_quants for x[off .. off+n): finds scale and min (min <= 0) so that
 * x ≈ scale * L + min with L in 0..nmax. It starts from the plain range fit, then tries nstep+1
 * stretched grids, refitting scale and min by weighted least squares on each, and keeps the one
 * with the smallest weighted error (squared, or absolute with `useMad`, as q2_K asks). Writes the
 * levels to L[lOff..], returns the scale and leaves -min in minOut[minIdx].
 */
export function makeQkx2Quants(
  n: number, nmax: number, x: Float32Array, off: number, w: Float32Array, levels: Uint8Array, lOff: number,
  minOut: Float32Array, minIdx: number, rmin: number, rdelta: number, nstep: number, useMad: boolean,
): number {
  const err = (diff: number): number => (useMad ? Math.abs(diff) : f32(diff * diff));
  let min = x[off];
  let max = x[off];
  let sumW = w[0];
  let sumX = f32(sumW * x[off]);
  for (let i = 1; i < n; i++) {
    const v = x[off + i];
    if (v < min) min = v;
    if (v > max) max = v;
    sumW = f32(sumW + w[i]);
    sumX = f32(sumX + f32(w[i] * v));
  }
  if (min > 0) min = 0;
  if (max === min) {
    levels.fill(0, lOff, lOff + n);
    minOut[minIdx] = -min;
    return 0;
  }
  let iscale = f32(nmax / f32(max - min));
  let scale = f32(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = nearestInt(f32(iscale * f32(x[off + i] - min)));
    const q = l < 0 ? 0 : l > nmax ? nmax : l;
    levels[lOff + i] = q;
    const diff = f32(f32(f32(scale * q) + min) - x[off + i]);
    bestError = f32(bestError + f32(w[i] * err(diff)));
  }
  if (nstep < 1) {
    minOut[minIdx] = -min;
    return scale;
  }
  for (let is = 0; is <= nstep; is++) {
    // min moves whenever a better fit is found, and later grids start from it (as in ggml).
    iscale = f32(f32(f32(rmin + f32(rdelta * is)) + nmax) / f32(max - min));
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = nearestInt(f32(iscale * f32(x[off + i] - min)));
      const q = l < 0 ? 0 : l > nmax ? nmax : l;
      Laux[i] = q;
      const wl = f32(w[i] * q);
      sumL = f32(sumL + wl);
      sumL2 = f32(sumL2 + f32(wl * q));
      sumXL = f32(sumXL + f32(wl * x[off + i]));
    }
    const D = f32(f32(sumW * sumL2) - f32(sumL * sumL));
    if (D > 0) {
      let thisScale = f32(f32(f32(sumW * sumXL) - f32(sumX * sumL)) / D);
      let thisMin = f32(f32(f32(sumL2 * sumX) - f32(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f32(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        const diff = f32(f32(f32(thisScale * Laux[i]) + thisMin) - x[off + i]);
        curError = f32(curError + f32(w[i] * err(diff)));
      }
      if (curError < bestError) {
        for (let i = 0; i < n; i++) levels[lOff + i] = Laux[i];
        bestError = curError;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  minOut[minIdx] = -min;
  return scale;
}

/** Scale and min of group j from the 12 packed bytes at b[s..] (ggml's get_scale_min_k4). */
export function scaleMinK4(b: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [b[s + j] & 63, b[s + j + 4] & 63];
  return [(b[s + j + 4] & 0xf) | ((b[s + j - 4] >> 6) << 4), (b[s + j + 4] >> 4) | ((b[s + j] >> 6) << 4)];
}

/**
 * Steps 1-3 of ggml's quantize_row_q4_K_ref / quantize_row_q5_K_ref for the 256 values at src[x..],
 * a block { f16 d; f16 dmin; u8 scales[12]; ... } at dst[out..]:
 *  1. each group of 32 gets a float scale and min from make_qkx2_quants (weights av|x| + |x|);
 *  2. the eight scales and the eight mins are each quantized to 6 bits against their maxima and
 *     packed (groups 0-3 whole in bytes 0-3 / 4-7; groups 4-7 low 4 bits in bytes 8-11, top 2 bits in
 *     the spare tops of 0-7), d and dmin written;
 *  3. every value is re-quantized against the 6-bit scale and min actually stored.
 * The levels (0..nmax) are left in L[0..256) for the caller to pack.
 */
export function fitScalesAndMinsK4(
  src: Float32Array, x: number, dst: Uint8Array, out: number, L: Uint8Array, nmax: number, rmin: number, nstep: number,
): void {
  const sc = out + 4;
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    const g = x + 32 * j;
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) sumX2 = f32(sumX2 + f32(src[g + l] * src[g + l]));
    const avX = f32(Math.sqrt(f32(sumX2 / 32)));
    for (let l = 0; l < 32; l++) weights[l] = f32(avX + Math.abs(src[g + l]));
    scales[j] = makeQkx2Quants(32, nmax, src, g, weights, L, 32 * j, mins, j, rmin, f32(0.1), nstep, false);
    if (scales[j] > maxScale) maxScale = scales[j];
    if (mins[j] > maxMin) maxMin = mins[j];
  }

  const invScale = maxScale > 0 ? f32(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? f32(63 / maxMin) : 0;
  for (let j = 0; j < 8; j++) {
    let ls = nearestInt(f32(invScale * scales[j])) & 0xff;
    let lm = nearestInt(f32(invMin * mins[j])) & 0xff;
    ls = ls < 63 ? ls : 63;
    lm = lm < 63 ? lm : 63;
    if (j < 4) {
      dst[sc + j] = ls;
      dst[sc + j + 4] = lm;
    } else {
      dst[sc + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
      dst[sc + j - 4] |= (ls >> 4) << 6;
      dst[sc + j] |= (lm >> 4) << 6;
    }
  }
  const dBits = f32ToF16(f32(maxScale / 63));
  const dminBits = f32ToF16(f32(maxMin / 63));
  putU16(dst, out, dBits);
  putU16(dst, out + 2, dminBits);

  // a group whose scale came out 0 keeps step 1's levels
  const dAll = f16ToF32(dBits);
  const dminAll = f16ToF32(dminBits);
  for (let j = 0; j < 8; j++) {
    const [s, m] = scaleMinK4(dst, sc, j);
    const d = f32(dAll * s);
    if (d === 0) continue;
    const dm = f32(dminAll * m);
    for (let i = 0; i < 32; i++) {
      const l = nearestInt(f32(f32(src[x + 32 * j + i] + dm) / d));
      L[32 * j + i] = l < 0 ? 0 : l > nmax ? nmax : l;
    }
  }
}
