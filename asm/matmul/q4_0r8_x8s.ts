// q4_0r8 weights (asm/matmul/q4_0r8_x16.ts) on ggml's 8-bit activations in q8_0s blocks
// (asm/matmul/quantize8.ts), the SIMD128 kernels: q8_0s begins as q16_0s does (f32 d, i16 q[32],
// i32 e = 8·Σq), so these are the q16_0s kernels' drivers over 104-byte blocks. Per block and row the
// integer Σ q·qx − 8·Σ qx is ggml's Σ (q − 8)·qx, and the f32 steps are matvec_q4_0_x8s's: results
// equal it (and ggml's q4_0 · q8_0 math on the same values) bit for bit. The relaxed flavour overrides
// both (asm/arch/relaxed/q4_0r8_x8s.ts) with 8-bit dot products on the block's qr bytes, the same values
// in the order this layout's nibbles need.
import { Q8_0S_BYTES } from '../lib/blocks';
import { matmul_q4_0r8, matvec_q4_0r8 } from './q4_0r8_x16';

/** matvec_q4_0r8_x8s(w, x: q8_0s*, y: f32*, cols, r0, r1): w in q4_0r8, r0 and r1 multiples of 8. */
export function matvec_q4_0r8_x8s(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_q4_0r8(w, x, y, cols, r0, r1, Q8_0S_BYTES);
}

/** matmul_q4_0r8_x8s(w, x: q8_0s*, y: f32*, cols, rows, nTok, r0, r1): w in q4_0r8, r0 and r1 multiples of 8. */
export function matmul_q4_0r8_x8s(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_q4_0r8(w, x, y, cols, rows, nTok, r0, r1, Q8_0S_BYTES);
}
