// Q4_0: blocks of 32 values, { f16 d; u8 qs[16] }, x ≈ (nibble - 8) * d; value j sits in
// the low nibble of byte j, value j + 16 in its high nibble.
// As ggml's quantize_row_q4_0_ref: the value of largest magnitude (sign kept) maps to -8, so
// d = max / -8, and each nibble is trunc(x / d + 8.5) capped at 15.
import { f32ToF16 } from '../ggml-types.js';
import { checkRow, f32, putU16, signedMax, truncToInt8 } from './common.js';

const QK = 32;
const BLOCK_BYTES = 2 + QK / 2;

function nibble(v: number, id: number): number {
  const q = truncToInt8(f32(f32(v * id) + 8.5));
  return (q < 15 ? q : 15) & 0xff;
}

export function quantizeRowQ4_0(src: Float32Array, dst: Uint8Array): void {
  const nb = checkRow('q4_0', QK, BLOCK_BYTES, src.length, dst);
  for (let b = 0; b < nb; b++) {
    const x = b * QK;
    const out = b * BLOCK_BYTES;
    const d = f32(signedMax(src, x, QK) / -8);
    const id = d !== 0 ? f32(1 / d) : 0;
    putU16(dst, out, f32ToF16(d));
    for (let j = 0; j < QK / 2; j++) {
      const lo = nibble(src[x + j], id);
      const hi = nibble(src[x + QK / 2 + j], id);
      dst[out + 2 + j] = (lo | (hi << 4)) & 0xff;
    }
  }
}
