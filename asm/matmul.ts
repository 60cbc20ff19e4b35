// The `matmul` kernel family's module (docs/KERNEL-ABI.md): the kernel set of the flavour being built
// (asm/matmul/flavour.ts) and `_start`, the module's self-test of that set (asm/matmul/selftest.ts).
export * from './matmul/flavour';
export { _start } from './matmul/selftest';
