// Q5_1: blocks of 32 values, { f16 d; f16 m; u8 qh[4]; u8 qs[16] }, x ≈ q * d + m with q 5 bits laid
// out as q5_0's. As ggml's quantize_row_q5_1_ref: m is the block's minimum, d = (max - min) / 31,
// each q (x - min) / d + 0.5 truncated (not capped: ggml's (uint8_t) conversion).
import { f32ToF16 } from '../ggml-types.js';
import { blockMinMax, checkRow, f32, putU16, putU32, truncToUint8 } from './common.js';

const QK = 32;
const BLOCK_BYTES = 2 + 2 + 4 + QK / 2;

function level(v: number, min: number, id: number): number {
  return truncToUint8(f32(f32(f32(v - min) * id) + 0.5));
}

export function quantizeRowQ5_1(src: Float32Array, dst: Uint8Array): void {
  const nb = checkRow('q5_1', QK, BLOCK_BYTES, src.length, dst);
  for (let b = 0; b < nb; b++) {
    const x = b * QK;
    const out = b * BLOCK_BYTES;
    const [min, max] = blockMinMax(src, x, QK);
    const d = f32(f32(max - min) / 31);
    const id = d !== 0 ? f32(1 / d) : 0;
    putU16(dst, out, f32ToF16(d));
    putU16(dst, out + 2, f32ToF16(min));
    let qh = 0;
    for (let j = 0; j < QK / 2; j++) {
      const lo = level(src[x + j], min, id);
      const hi = level(src[x + QK / 2 + j], min, id);
      dst[out + 8 + j] = (lo & 0xf) | ((hi & 0xf) << 4);
      qh |= ((lo >> 4) & 1) << j;
      qh |= ((hi >> 4) & 1) << (j + 16);
    }
    putU32(dst, out + 4, qh);
  }
}
