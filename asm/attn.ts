// The `attn` kernel family's module (docs/KERNEL-ABI.md): the kernel set of the flavour being built
// (asm/attn/flavour.ts) and `_start`, the module's self-test of that set (asm/attn/selftest.ts).
export * from './attn/flavour';
export { _start } from './attn/selftest';
