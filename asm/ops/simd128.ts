// The SIMD128 set of the `ops` family (docs/KERNEL-ABI.md): RMSNorm, SiLU·mul, GELU·mul, add, scale
// and soft-cap, in asm/ops/kernels.ts. A flavour (asm/arch/<flavour>/ops.ts) re-exports this set and overrides what it
// makes faster.
export { add, gelu_mul, rmsnorm_many, scale, silu_mul, softcap } from './kernels';
