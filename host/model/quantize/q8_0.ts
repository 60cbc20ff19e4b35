// Q8_0: blocks of 32 values, { f16 d; i8 qs[32] }, x ≈ q * d.
// As ggml's quantize_row_q8_0_ref: d = absmax / 127, q = roundf(x / d) computed as x * (1/d).
import { f32ToF16 } from '../ggml-types.js';
import { checkRow, f32, putU16, roundAway } from './common.js';

const QK = 32;
const BLOCK_BYTES = 2 + QK;

export function quantizeRowQ8_0(src: Float32Array, dst: Uint8Array): void {
  const nb = checkRow('q8_0', QK, BLOCK_BYTES, src.length, dst);
  for (let b = 0; b < nb; b++) {
    const x = b * QK;
    const out = b * BLOCK_BYTES;
    let amax = 0;
    for (let j = 0; j < QK; j++) {
      const a = Math.abs(src[x + j]);
      amax = amax > a ? amax : a; // C's MAX(amax, a), NaN included
    }
    const d = f32(amax / 127);
    const id = d !== 0 ? f32(1 / d) : 0;
    putU16(dst, out, f32ToF16(d));
    for (let j = 0; j < QK; j++) {
      dst[out + 2 + j] = roundAway(f32(src[x + j] * id)) & 0xff; // two's complement byte
    }
  }
}
