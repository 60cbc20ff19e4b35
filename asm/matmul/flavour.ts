// The kernel set this build of the family compiles: the SIMD128 set. The build (asm/build-kernels.mjs)
// reads `export * from '<asm/arch/<flavour>/matmul.ts>'` here instead when it compiles another flavour,
// so the module's exports and its self-test (which imports its kernels from this file) are that
// flavour's. Keep this file this one line.
export * from './simd128';
