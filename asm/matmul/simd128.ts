// The SIMD128 set of the `matmul` family (docs/KERNEL-ABI.md): the generic kernels every flavour starts
// from (a flavour, asm/arch/<flavour>/matmul.ts, re-exports this set and overrides what it makes
// faster). Activation quantizers, and for each weight type (f32, f16, q8_0, q4_0, q4_K, q6_K, in
// ggml's block layouts) one-token (matvec), many-token (matmul) and row-dequantizing (get_row) entry
// points. Every export is a pure function of pointers into the imported shared memory and sizes: no
// allocation, no globals, no static data.
//
// Speed notes (scripts/bench/matvec.mjs measures them): matvec passes take four rows at once from the
// four quarters of [r0, r1), so each SIMD lane streams one contiguous run of rows (neighbouring rows
// would make short streams that the hardware prefetcher keeps restarting); matmul passes take four
// tokens per weight block. V8 issues all the loads of a basic block before its arithmetic, so the
// quantized kernels split blocks with `if (z == 0)` (z = cols >> 31, always 0 but opaque to the
// compilers) to keep each piece within the 16 vector registers. Under register pressure TurboFan rebuilds a
// v128 constant at each use (three instructions) rather than keep it; a splat of `c | z` that is also used
// after the loop (in a branch never taken) is computed once before it instead (matmul_q4_0_x16).
// No relaxed SIMD here: that is the relaxed flavour's (asm/arch/relaxed/).
// f32 and f16 weights on f32 activations
export { get_row_f16, get_row_f32, matmul_f16, matmul_f32, matvec_f16, matvec_f32 } from './float';
// f16 matrices without infinite or NaN halves (the host checks): the same results, no watch for them.
export { matmul_f16f, matvec_f16f } from './float';
// dequantized rows of the quantized types (the embedding lookup)
export { get_row_q4_0, get_row_q4_K, get_row_q6_K, get_row_q8_0 } from './get_row';
// ggml's 8-bit activations (q8_0 for q8_0 and q4_0 weights, q8_K for q4_K and q6_K): ggml's own math
export { quantize_q8_0, quantize_q8_K, quantize_q8_Kp } from './quantize';
export { matmul_q4_0, matmul_q8_0, matvec_q4_0, matvec_q8_0 } from './act_q8_0';
export { matmul_q4_K, matmul_q6_K, matvec_q4_K, matvec_q6_K } from './kquants';
// ggml's other weight formats on its 8-bit activations: q5_0 on q8_0, q4_1 and q5_1 on q8_1
// (asm/matmul/legacy.ts), q2_K, q3_K and q5_K on q8_K (asm/matmul/q2_q3_q5_k.ts)
export { get_row_q4_1, get_row_q5_0, get_row_q5_1, matmul_q4_1, matmul_q5_0, matmul_q5_1, matvec_q4_1, matvec_q5_0, matvec_q5_1, quantize_q8_1 } from './legacy';
export { get_row_q2_K, get_row_q3_K, get_row_q5_K, matmul_q2_K, matmul_q3_K, matmul_q5_K, matvec_q2_K, matvec_q3_K, matvec_q5_K } from './q2_q3_q5_k';
// 16-bit activations (q16_0, q16_K: asm/matmul/quantize16.ts) for the quantized weight types: the same
// integer dot products with ~256× less activation rounding noise.
export { quantize_q16_0, quantize_q16_0s, quantize_q16_K } from './quantize16';
export { matmul_q4_0_x16, matmul_q8_0_x16, matvec_q4_0_x16, matvec_q8_0_x16 } from './act_q16_0';
export { matmul_q4_K_x16, matmul_q6_K_x16, matvec_q4_K_x16, matvec_q6_K_x16 } from './kquants';
// q4_0 rows repacked eight at a time (q4_0r8, asm/matmul/q4_0r8_x16.ts) on q16_0s activations: one
// activation load serves eight rows, no horizontal sums.
export { matmul_q4_0r8_x16s, matvec_q4_0r8_x16s, repack_q4_0_r8 } from './q4_0r8_x16';
// q4_K rows repacked four at a time (q4_Kr4, asm/matmul/q4_kr4_x16.ts) on q16_K activations: one
// activation load serves four rows, no horizontal sums; bit for bit matvec_q4_K_x16's results.
export { matmul_q4_Kr4_x16, matvec_q4_Kr4_x16, repack_q4_K_r4 } from './q4_kr4_x16';
// ggml's 8-bit activations (x86 ggml's quantize_row_q8_0) in wide layouts both flavours read
// (asm/matmul/quantize8.ts): the values as i16 for these kernels, as bytes for the relaxed flavour's.
// What the engine runs q8_0 and q4_0 matrices on by default (llama.cpp's math).
export { quantize_q8_0s, quantize_q8_0w } from './quantize8';
export { matmul_q4_0_x8s, matmul_q8_0_x8w, matvec_q4_0_x8s, matvec_q8_0_x8w } from './act_q8_0_wide';
export { matmul_q4_0r8_x8s, matvec_q4_0r8_x8s } from './q4_0r8_x8s';
// the same layout on q8_K activations (asm/matmul/q4_kr4.ts): bit for bit matvec_q4_K's results.
export { matmul_q4_Kr4, matvec_q4_Kr4 } from './q4_kr4';
// q6_K rows repacked four at a time (q6_Kr4, asm/matmul/q6_kr4.ts) on q8_K activations: one activation
// splat serves four rows; bit for bit matvec_q6_K's results. get_row reads it (a head tied to the embedding).
export { get_row_q6_Kr4, matmul_q6_Kr4, matvec_q6_Kr4, repack_q6_K_r4 } from './q6_kr4';
// q2_K and q3_K rows repacked four at a time (q2_Kr4, q3_Kr4, asm/matmul/q2_q3_kr4.ts) on q8_K
// activations: one activation splat serves four rows; bit for bit matvec_q2_K's / matvec_q3_K's results.
export { matmul_q2_Kr4, matmul_q3_Kr4, matvec_q2_Kr4, matvec_q3_Kr4, repack_q2_K_r4, repack_q3_K_r4 } from './q2_q3_kr4';
// q5_0 and q5_1 rows repacked four at a time (q5_0r4, q5_1r4: asm/matmul/q5_r4.ts) on q8_0 / q8_1
// activations: one activation splat serves four rows; bit for bit matvec_q5_0's / matvec_q5_1's results.
// (q5_0r4 on q8_0e: q8_0's blocks with their Σq, quantize_q8_0e in ./legacy.ts)
export { quantize_q8_0e } from './legacy';
export { get_row_q5_0r4, get_row_q5_1r4, matmul_q5_0r4, matmul_q5_1r4, matvec_q5_0r4, matvec_q5_1r4, repack_q5_0_r4, repack_q5_1_r4 } from './q5_r4';
