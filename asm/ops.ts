// The `ops` kernel family's module (docs/KERNEL-ABI.md): the kernel set of the flavour being built
// (asm/ops/flavour.ts) and `_start`, the module's self-test of that set (asm/ops/selftest.ts).
export * from './ops/flavour';
export { _start } from './ops/selftest';
