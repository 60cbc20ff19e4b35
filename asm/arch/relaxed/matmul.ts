// The relaxed-SIMD flavour of the `matmul` family (docs/KERNEL-ABI.md, "Flavours"): the SIMD128 set,
// with the kernels this flavour makes faster exported here under the same names and signatures, each
// giving the same bits as the baseline's for the same inputs.
export * from '../../matmul/simd128';
// q4_K and q6_K weights on q8_K activations: 16 multiply-adds per relaxed dot (./kquants.ts)
export { matmul_q4_K, matmul_q6_K, matvec_q4_K, matvec_q6_K } from './kquants';
export { matmul_q4_Kr4, matvec_q4_Kr4 } from './q4_kr4';
