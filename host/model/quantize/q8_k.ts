// Q8_K: the activation type K-quant dot products pair with. Super-blocks of 256 values,
// { f32 d; i8 qs[256]; i16 bsums[16] }, x ≈ q * d, bsums[g] = sum of qs[16g .. 16g+16).
// As ggml's quantize_row_q8_K_ref: the value of largest magnitude (sign kept) maps to -127,
// q = nearest_int(x * (-127 / max)) capped at 127, and d = 1 / that factor.
import { checkRow, f32, nearestInt, signedMax } from './common.js';

const QK_K = 256;
const BLOCK_BYTES = 4 + QK_K + (QK_K / 16) * 2;

export function quantizeRowQ8_K(src: Float32Array, dst: Uint8Array): void {
  const nb = checkRow('q8_K', QK_K, BLOCK_BYTES, src.length, dst);
  const view = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  for (let b = 0; b < nb; b++) {
    const x = b * QK_K;
    const out = b * BLOCK_BYTES;
    const max = signedMax(src, x, QK_K);
    if (max === 0) {
      // ggml zeroes d and qs and leaves bsums as they were; here they are zeroed too (their true sum).
      dst.fill(0, out, out + BLOCK_BYTES);
      continue;
    }
    const iscale = f32(-127 / max);
    for (let j = 0; j < QK_K; j++) {
      const v = nearestInt(f32(iscale * src[x + j]));
      dst[out + 4 + j] = (v < 127 ? v : 127) & 0xff;
    }
    for (let g = 0; g < QK_K / 16; g++) {
      let sum = 0;
      for (let i = 0; i < 16; i++) sum += (dst[out + 4 + 16 * g + i] << 24) >> 24;
      view.setInt16(out + 4 + QK_K + 2 * g, sum, true);
    }
    view.setFloat32(out, f32(1 / iscale), true);
  }
}

/** Q8_K back to floats (ggml's dequantize_row_q8_K: q * d); ggml-types has no Q8_K entry. */
export function dequantizeRowQ8_K(src: Uint8Array, dst: Float32Array, n: number): void {
  if (n % QK_K !== 0) throw new Error(`dequantize q8_K: ${n} values are not a whole number of ${QK_K}-value blocks`);
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let b = 0; b < n / QK_K; b++) {
    const p = b * BLOCK_BYTES;
    const d = view.getFloat32(p, true);
    for (let j = 0; j < QK_K; j++) dst[b * QK_K + j] = d * ((src[p + 4 + j] << 24) >> 24);
  }
}
