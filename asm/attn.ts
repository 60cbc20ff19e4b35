// Kernel family `attn` (docs/KERNEL-ABI.md, ABI 2): RoPE, KV-cache append, and causal attention with
// grouped-query heads and an online softmax over head-major f32 or f16 caches, and `_start`, the module's
// self-test. The kernels live in asm/attn/kernels.ts.
export {
  rope, rope_many, kv_append_f32, kv_append_f16,
  attention_f32, attention_f16, attention_many_f32, attention_many_f16,
} from './attn/kernels';
export { _start } from './attn/selftest';
