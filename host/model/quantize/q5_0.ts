// Q5_0: blocks of 32 values, { f16 d; u8 qh[4]; u8 qs[16] }, x ≈ (q - 16) * d with q 5 bits: the low
// 4 as q4_0's nibbles, the fifth of value j in bit j of the little-endian u32 qh. As ggml's
// quantize_row_q5_0_ref: the value of largest magnitude (sign kept) maps to -16, so d = max / -16,
// and each q is trunc(x / d + 16.5) capped at 31.
import { f32ToF16 } from '../ggml-types.js';
import { checkRow, f32, putU16, putU32, signedMax, truncToInt8 } from './common.js';

const QK = 32;
const BLOCK_BYTES = 2 + 4 + QK / 2;

function level(v: number, id: number): number {
  const q = truncToInt8(f32(f32(v * id) + 16.5));
  return (q < 31 ? q : 31) & 0xff;
}

export function quantizeRowQ5_0(src: Float32Array, dst: Uint8Array): void {
  const nb = checkRow('q5_0', QK, BLOCK_BYTES, src.length, dst);
  for (let b = 0; b < nb; b++) {
    const x = b * QK;
    const out = b * BLOCK_BYTES;
    const d = f32(signedMax(src, x, QK) / -16);
    const id = d !== 0 ? f32(1 / d) : 0;
    putU16(dst, out, f32ToF16(d));
    let qh = 0;
    for (let j = 0; j < QK / 2; j++) {
      const lo = level(src[x + j], id);
      const hi = level(src[x + QK / 2 + j], id);
      dst[out + 6 + j] = (lo & 0xf) | ((hi & 0xf) << 4);
      qh |= ((lo >> 4) & 1) << j;
      qh |= ((hi >> 4) & 1) << (j + 16);
    }
    putU32(dst, out + 2, qh);
  }
}
