// The float "quantizers": F32 is a copy, F16 and BF16 convert value by value, rounding to
// nearest even as ggml_fp32_to_fp16_row and ggml_fp32_to_bf16_row_ref do.
import { f32ToBf16, f32ToF16 } from '../ggml-types.js';
import { checkRow, putU16 } from './common.js';

export function quantizeRowF32(src: Float32Array, dst: Uint8Array): void {
  checkRow('f32', 1, 4, src.length, dst);
  // Little-endian hosts only (every target wisp runs on), so the bytes are the GGUF bytes.
  dst.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
}

export function quantizeRowF16(src: Float32Array, dst: Uint8Array): void {
  checkRow('f16', 1, 2, src.length, dst);
  for (let i = 0; i < src.length; i++) putU16(dst, 2 * i, f32ToF16(src[i]));
}

export function quantizeRowBF16(src: Float32Array, dst: Uint8Array): void {
  checkRow('bf16', 1, 2, src.length, dst);
  for (let i = 0; i < src.length; i++) putU16(dst, 2 * i, f32ToBf16(src[i]));
}
