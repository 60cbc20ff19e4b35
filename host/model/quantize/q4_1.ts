// Q4_1: blocks of 32 values, { f16 d; f16 m; u8 qs[16] }, x ≈ nibble * d + m; value j sits in the
// low nibble of byte j, value j + 16 in its high nibble. As ggml's quantize_row_q4_1_ref: m is the
// block's minimum, d = (max - min) / 15, each nibble (x - min) / d + 0.5 truncated, capped at 15.
import { f32ToF16 } from '../ggml-types.js';
import { blockMinMax, checkRow, f32, putU16, truncToInt8 } from './common.js';

const QK = 32;
const BLOCK_BYTES = 2 + 2 + QK / 2;

function nibble(v: number, min: number, id: number): number {
  const q = truncToInt8(f32(f32(f32(v - min) * id) + 0.5));
  return (q < 15 ? q : 15) & 0xff;
}

export function quantizeRowQ4_1(src: Float32Array, dst: Uint8Array): void {
  const nb = checkRow('q4_1', QK, BLOCK_BYTES, src.length, dst);
  for (let b = 0; b < nb; b++) {
    const x = b * QK;
    const out = b * BLOCK_BYTES;
    const [min, max] = blockMinMax(src, x, QK);
    const d = f32(f32(max - min) / 15);
    const id = d !== 0 ? f32(1 / d) : 0;
    putU16(dst, out, f32ToF16(d));
    putU16(dst, out + 2, f32ToF16(min));
    for (let j = 0; j < QK / 2; j++) {
      dst[out + 4 + j] = nibble(src[x + j], min, id) | (nibble(src[x + QK / 2 + j], min, id) << 4);
    }
  }
}
