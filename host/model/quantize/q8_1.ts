// Q8_1: the activation type q4_1 and q5_1 dot products pair with (ggml's vec_dot_type for them).
// Blocks of 32 values, { f16 d; f16 s; i8 qs[32] }: q8_0's d and qs, then s = d·Σ qs (with the f32
// d = absmax/127 before its rounding to f16), which carries the weights' offset m through the dot
// product (Σ (q·dw + m)·qx·dx = dw·dx·Σ q·qx + m·s). As ggml's quantize_row_q8_1_ref.
import { f16ToF32, f32ToF16 } from '../ggml-types.js';
import { checkRow, f32, putU16 } from './common.js';
import { quantizeRowQ8_0 } from './q8_0.js';

const QK = 32;
const BLOCK_BYTES = 2 + 2 + QK;
const Q8_0_BYTES = 2 + QK;

export function quantizeRowQ8_1(src: Float32Array, dst: Uint8Array): void {
  const nb = checkRow('q8_1', QK, BLOCK_BYTES, src.length, dst);
  const q8 = new Uint8Array(Q8_0_BYTES);
  for (let b = 0; b < nb; b++) {
    const x = b * QK;
    const out = b * BLOCK_BYTES;
    quantizeRowQ8_0(src.subarray(x, x + QK), q8);
    dst[out] = q8[0];
    dst[out + 1] = q8[1];
    dst.set(q8.subarray(2), out + 4);
    let amax = 0;
    let sum = 0;
    for (let j = 0; j < QK; j++) {
      const a = Math.abs(src[x + j]);
      amax = amax > a ? amax : a;
      sum += (q8[2 + j] << 24) >> 24;
    }
    putU16(dst, out + 2, f32ToF16(f32(sum * f32(amax / 127))));
  }
}

/** Q8_1 back to floats (q·d, as q8_0; s is only a sum); ggml-types has no Q8_1 dequantizer. */
export function dequantizeRowQ8_1(src: Uint8Array, dst: Float32Array, n: number): void {
  if (n % QK !== 0) throw new Error(`dequantize q8_1: ${n} values are not a whole number of ${QK}-value blocks`);
  for (let b = 0; b < n / QK; b++) {
    const p = b * BLOCK_BYTES;
    const d = f16ToF32(src[p] | (src[p + 1] << 8));
    for (let j = 0; j < QK; j++) dst[b * QK + j] = d * ((src[p + 4 + j] << 24) >> 24);
  }
}
