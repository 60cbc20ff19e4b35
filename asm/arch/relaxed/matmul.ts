// The relaxed-SIMD flavour of the `matmul` family (docs/KERNEL-ABI.md, "Flavours"): the SIMD128 set,
// with the kernels this flavour makes faster exported here under the same names and signatures, each
// giving the same bits as the baseline's for the same inputs. It overrides nothing yet: the relaxed
// kernels themselves come with the relaxed-SIMD issue; until then this module is the baseline's code
// built with relaxed SIMD enabled, and no faster.
export * from '../../matmul/simd128';
