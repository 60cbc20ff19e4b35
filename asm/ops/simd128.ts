// The SIMD128 set of the `ops` family (docs/KERNEL-ABI.md): RMSNorm, SiLU·mul and add, in
// asm/ops/kernels.ts. A flavour (asm/arch/<flavour>/ops.ts) re-exports this set and overrides what it
// makes faster.
export { add, rmsnorm_many, silu_mul } from './kernels';
