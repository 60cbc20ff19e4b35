// Block layouts of every format the kernels read or write: ggml's weight and activation blocks,
// wisp's own 16-bit activation blocks, and the repacked weight layouts. This file mirrors the host's
// block-format table (host/model/block-formats.ts) and test/kernel-blocks.test.ts holds the two to
// each other: the kernels use these names, never the numbers. All multi-byte fields are little-endian.
//
// For each format F: F_BLOCK values per block, F_BYTES bytes per block, then the byte offsets of the
// block's fields. A repacked layout R interleaves R_ROWS rows: R_BYTES is one group block (R_ROWS
// rows' blocks of one block index).

// ---- ggml's formats ------------------------------------------------------------------------------

export const F32_BLOCK: i32 = 1;
export const F32_BYTES: i32 = 4;
export const F16_BLOCK: i32 = 1;
export const F16_BYTES: i32 = 2;

// block_q8_0 { f16 d; i8 qs[32] } (weights, and the activations of q8_0 and q4_0 weights)
export const Q8_0_BLOCK: i32 = 32;
export const Q8_0_BYTES: i32 = 34;
export const Q8_0_QS: i32 = 2;

// block_q4_0 { f16 d; u8 qs[16] }: value j (j < 16) is the low nibble of qs[j], value j + 16 the high one; minus 8
export const Q4_0_BLOCK: i32 = 32;
export const Q4_0_BYTES: i32 = 18;
export const Q4_0_QS: i32 = 2;

// block_q4_1 { f16 d; f16 m; u8 qs[16] }: q4_0's nibbles, value = q·d + m
export const Q4_1_BLOCK: i32 = 32;
export const Q4_1_BYTES: i32 = 20;
export const Q4_1_M: i32 = 2;
export const Q4_1_QS: i32 = 4;

// block_q5_0 { f16 d; u8 qh[4]; u8 qs[16] }: q4_0's nibbles, the fifth bit of value j is bit j of the
// little-endian u32 qh; value = (q − 16)·d
export const Q5_0_BLOCK: i32 = 32;
export const Q5_0_BYTES: i32 = 22;
export const Q5_0_QH: i32 = 2;
export const Q5_0_QS: i32 = 6;

// block_q5_1 { f16 d; f16 m; u8 qh[4]; u8 qs[16] }: q5_0's bits, value = q·d + m
export const Q5_1_BLOCK: i32 = 32;
export const Q5_1_BYTES: i32 = 24;
export const Q5_1_M: i32 = 2;
export const Q5_1_QH: i32 = 4;
export const Q5_1_QS: i32 = 8;

// block_q8_1 { f16 d; f16 s; i8 qs[32] }, s = d·Σ qs (the activations of q4_1 and q5_1 weights)
export const Q8_1_BLOCK: i32 = 32;
export const Q8_1_BYTES: i32 = 36;
export const Q8_1_S: i32 = 2;
export const Q8_1_QS: i32 = 4;

// q8_0e { f16 d; i16 e; i8 qs[32] }: q8_0's d and qs, e = Σ qs (the activations of q5_0r4 weights:
// their −16·Σqx without a horizontal sum)
export const Q8_0E_BLOCK: i32 = 32;
export const Q8_0E_BYTES: i32 = 36;
export const Q8_0E_SUM: i32 = 2;
export const Q8_0E_QS: i32 = 4;

// K-quants: super-blocks of 256 values
// block_q2_K { u8 scales[16] (4-bit scale | 4-bit min << 4 per 16 values); u8 qs[64]; f16 d; f16 dmin }
export const Q2_K_BLOCK: i32 = 256;
export const Q2_K_BYTES: i32 = 84;
export const Q2_K_QS: i32 = 16;
export const Q2_K_D: i32 = 80;
export const Q2_K_DMIN: i32 = 82;

// block_q3_K { u8 hmask[32]; u8 qs[64]; u8 scales[12] (sixteen 6-bit scales + 32); f16 d }
export const Q3_K_BLOCK: i32 = 256;
export const Q3_K_BYTES: i32 = 110;
export const Q3_K_QS: i32 = 32;
export const Q3_K_SCALES: i32 = 96;
export const Q3_K_D: i32 = 108;

// block_q5_K { f16 d; f16 dmin; u8 scales[12] (as q4_K's); u8 qh[32]; u8 qs[128] }
export const Q5_K_BLOCK: i32 = 256;
export const Q5_K_BYTES: i32 = 176;
export const Q5_K_DMIN: i32 = 2;
export const Q5_K_SCALES: i32 = 4;
export const Q5_K_QH: i32 = 16;
export const Q5_K_QS: i32 = 48;

// block_q4_K { f16 d; f16 dmin; u8 scales[12] (6-bit scales and mins of 8 sub-blocks); u8 qs[128] }
export const Q4_K_BLOCK: i32 = 256;
export const Q4_K_BYTES: i32 = 144;
export const Q4_K_DMIN: i32 = 2;
export const Q4_K_SCALES: i32 = 4;
export const Q4_K_QS: i32 = 16;

// block_q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }
export const Q6_K_BLOCK: i32 = 256;
export const Q6_K_BYTES: i32 = 210;
export const Q6_K_QH: i32 = 128;
export const Q6_K_SCALES: i32 = 192;
export const Q6_K_D: i32 = 208;

// block_q8_K { f32 d; i8 qs[256]; i16 bsums[16] } (the activations of the K-quant weights)
export const Q8_K_BLOCK: i32 = 256;
export const Q8_K_BYTES: i32 = 292;
export const Q8_K_QS: i32 = 4;
export const Q8_K_BSUMS: i32 = 260;
// q8_Kp: q8_K's blocks, each pair of groups' qs interleaved two values at a time (q2_Kr4's activations,
// asm/matmul/quantize.ts): the same offsets
export const Q8_KP_BLOCK: i32 = 256;
export const Q8_KP_BYTES: i32 = 292;

// ---- wisp's 16-bit activations (asm/matmul/quantize16.ts) ------------------------------------------

// q16_0 { f32 d; i16 q[32] }
export const Q16_0_BLOCK: i32 = 32;
export const Q16_0_BYTES: i32 = 68;
export const Q16_0_Q: i32 = 4;

// q16_0s { f32 d; i16 q[32]; i32 e }: q16_0's bytes, then e = 8·Σ q (the −8 of q4_0r8's weights)
export const Q16_0S_BLOCK: i32 = 32;
export const Q16_0S_BYTES: i32 = 72;
export const Q16_0S_SUM: i32 = 68;

// q16_K { f32 d; i16 q[256]; i32 bsums[16] }, bsums[g] = Σ q[16g..16g+16)
export const Q16_K_BLOCK: i32 = 256;
export const Q16_K_BYTES: i32 = 580;
export const Q16_K_Q: i32 = 4;
export const Q16_K_BSUMS: i32 = 516;

// ---- ggml's 8-bit activations, laid out for both flavours (asm/matmul/quantize8.ts) ------------------
// The values are q8_0's (x86 ggml's quantize_row_q8_0), held as i16 (the SIMD128 kernels'
// i32x4.dot_i16x8_s takes them as they are); q8_0s also as the bytes the relaxed flavour's 8-bit dot
// products read.

// q8_0w { f32 d; i16 q[32] }: q16_0's layout, |q| ≤ 127 (q8_0 weights)
export const Q8_0W_BLOCK: i32 = 32;
export const Q8_0W_BYTES: i32 = 68;
export const Q8_0W_Q: i32 = 4;

// q8_0s { f32 d; i16 q[32]; i32 e; i8 qr[32] }: e = 8·Σq, qr = q in q4_0r8's nibble order (q4_0 weights)
export const Q8_0S_BLOCK: i32 = 32;
export const Q8_0S_BYTES: i32 = 104;
export const Q8_0S_Q: i32 = 4;
export const Q8_0S_SUM: i32 = 68;
export const Q8_0S_QR: i32 = 72;

// ---- repacked weights (the same bytes as their ggml type, rows interleaved) ------------------------

// q4_0r8: eight q4_0 rows per group; a group block is two 72-byte halves (rows 0..3, 4..7), each
// the four rows' f16 scales then four 16-byte chunks (asm/matmul/q4_0r8_x16.ts)
export const Q4_0R8_ROWS: i32 = 8;
export const Q4_0R8_BYTES: i32 = 144;
export const Q4_0R8_HALF: i32 = 72;

// q4_Kr4: four q4_K rows per group; a group block holds their d, dmin, re-encoded scales and mins,
// and eight sub-blocks of four 16-byte chunks (asm/matmul/q4_kr4_x16.ts)
export const Q4_KR4_ROWS: i32 = 4;
export const Q4_KR4_BYTES: i32 = 576;
export const Q4_KR4_DMIN: i32 = 8;
export const Q4_KR4_SCALES: i32 = 16;
export const Q4_KR4_MINS: i32 = 32;
export const Q4_KR4_HIGH: i32 = 48;
export const Q4_KR4_QS: i32 = 64;

// q6_Kr4: four q6_K rows per group; a group block is 16 groups of 16 values (48 bytes each: the four
// rows' 6-bit quants, bits re-arranged losslessly), then the 64 scales (group-major) and the four f16 d
// (asm/matmul/q6_kr4.ts)
export const Q6_KR4_ROWS: i32 = 4;
export const Q6_KR4_BYTES: i32 = 840;
export const Q6_KR4_SCALES: i32 = 768;
export const Q6_KR4_D: i32 = 832;

// q2_Kr4: four q2_K rows per group; a group block is 4 units of two pairs of groups (two 16-byte vectors
// each: the four rows' 2-bit quants of the pair's 32 values, bits re-arranged losslessly), their 16
// scales and 16 mins (8 bytes of nibbles each), then the four f16 d and the four f16 dmin
// (asm/matmul/q2_q3_kr4.ts)
export const Q2_KR4_ROWS: i32 = 4;
export const Q2_KR4_BYTES: i32 = 336;
export const Q2_KR4_UNIT: i32 = 80;
export const Q2_KR4_UNIT_SCALES: i32 = 64;
export const Q2_KR4_UNIT_MINS: i32 = 72;
export const Q2_KR4_D: i32 = 320;
export const Q2_KR4_DMIN: i32 = 328;

// q3_Kr4: four q3_K rows per group; a group block is 8 pairs of groups (48 bytes each: the four rows'
// 3-bit levels of 32 values, bits re-arranged losslessly), the 64 6-bit scales (32 bytes of low
// nibbles, 16 of high bit pairs) and the four f16 d (asm/matmul/q2_q3_kr4.ts)
export const Q3_KR4_ROWS: i32 = 4;
export const Q3_KR4_BYTES: i32 = 440;
export const Q3_KR4_SCALES: i32 = 384;
export const Q3_KR4_SCALES_HIGH: i32 = 416;
export const Q3_KR4_D: i32 = 432;

// q5_0r4 / q5_1r4: four q5_0 / q5_1 rows per group; a group block is the four rows' f16 d (q5_1: then
// their four m), then five 16-byte vectors holding eight chunks of the four rows' 5-bit levels
// (asm/matmul/q5_r4.ts)
export const Q5_0R4_ROWS: i32 = 4;
export const Q5_0R4_BYTES: i32 = 88;
export const Q5_0R4_QS: i32 = 8;
export const Q5_1R4_ROWS: i32 = 4;
export const Q5_1R4_BYTES: i32 = 96;
export const Q5_1R4_M: i32 = 8;
export const Q5_1R4_QS: i32 = 16;
