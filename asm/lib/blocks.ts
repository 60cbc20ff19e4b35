// ggml block layouts, mirrored from host/model/ggml-types.ts (the host's one traits table).
// Every quantized row is a run of these blocks; all multi-byte fields are little-endian.

// block_q8_0 { f16 d; i8 qs[32] }
export const QK8_0: i32 = 32;
export const Q8_0_BYTES: i32 = 34;
// block_q4_0 { f16 d; u8 qs[16] }: value j (j < 16) is the low nibble of qs[j], value j + 16 the high one; minus 8
export const QK4_0: i32 = 32;
export const Q4_0_BYTES: i32 = 18;
// K-quants work on super-blocks of 256 values
export const QK_K: i32 = 256;
// block_q4_K { f16 d; f16 dmin; u8 scales[12] (6-bit scales and mins of 8 sub-blocks); u8 qs[128] }
export const Q4_K_BYTES: i32 = 144;
// block_q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }
export const Q6_K_BYTES: i32 = 210;
// block_q8_K { f32 d; i8 qs[256]; i16 bsums[16] } (activations for K-quant dot products)
export const Q8_K_BYTES: i32 = 292;
