// Kernel family `ops` (docs/KERNEL-ABI.md, ABI 2): RMSNorm, SiLU·mul, add, softmax, argmax, top-k,
// and `_start`, the module's self-test. The kernels live in asm/ops/kernels.ts.
export { rmsnorm, rmsnorm_many, silu_mul, add, softmax, argmax, topk } from './ops/kernels';
export { _start } from './ops/selftest';
