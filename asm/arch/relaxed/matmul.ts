// The relaxed-SIMD flavour of the `matmul` family (docs/KERNEL-ABI.md, "Flavours"): the SIMD128 set,
// with the kernels this flavour makes faster exported here under the same names and signatures, each
// giving the same bits as the baseline's for the same inputs. Relaxed SIMD's 8-bit dot products
// (i16x8.relaxed_dot_i8x16_i7x16_s, i32x4.relaxed_dot_i8x16_i7x16_add_s) always get a second operand in
// 0..127, the one range every engine computes alike (docs/KERNEL-ABI.md, "the i7 rule").
export * from '../../matmul/simd128';
// q4_0r8 on ggml's 8-bit activations (q8_0s): nibbles against the activation bytes
export { matmul_q4_0r8_x8s, matvec_q4_0r8_x8s } from './q4_0r8_x8s';
// q4_K and q6_K weights on q8_K activations: 16 multiply-adds per relaxed dot (./kquants.ts)
export { matmul_q4_K, matmul_q6_K, matvec_q4_K, matvec_q6_K } from './kquants';
export { matmul_q4_Kr4, matvec_q4_Kr4 } from './q4_kr4';
// q2_K, q3_K and q5_K weights on q8_K activations: one relaxed dot per 16 values (./q2_q3_q5_k.ts)
export { matmul_q2_K, matmul_q3_K, matmul_q5_K, matvec_q2_K, matvec_q3_K, matvec_q5_K } from './q2_q3_q5_k';
// q4_1, q5_0 and q5_1 on ggml's q8_1/q8_0 activations: unsigned levels against the activation bytes
export { matmul_q4_1, matmul_q5_0, matmul_q5_1, matvec_q4_1, matvec_q5_0, matvec_q5_1 } from './legacy';
export { matmul_q6_Kr4, matvec_q6_Kr4 } from './q6_kr4';
export { matmul_q2_Kr4, matmul_q3_Kr4, matvec_q2_Kr4, matvec_q3_Kr4 } from './q2_q3_kr4';
export { matmul_q5_0r4, matmul_q5_1r4, matvec_q5_0r4, matvec_q5_1r4 } from './q5_r4';
