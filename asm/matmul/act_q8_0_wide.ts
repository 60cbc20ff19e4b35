// q8_0 and q4_0 weights on ggml's 8-bit activations in wisp's wide layouts (asm/matmul/quantize8.ts):
// q8_0 weights on q8_0w blocks (the `_x8w` kernels), q4_0 weights on q8_0s blocks (`_x8s`). Both layouts
// begin as q16_0's does (f32 d, then the values as i16), so these are act_q16_0.ts's drivers over
// blocks of another size: the same integer sums (ggml's Σ qw·qx, Σ (q − 8)·qx, exact) and the same f32
// steps (acc + f32(sum)·(dw·dx), blocks in order), so the results equal ggml's math on the same q8_0
// values and the plain matvec_q8_0 / matvec_q4_0 on those values in ggml's q8_0 blocks, bit for bit.
// No relaxed override of the q4_0 ones: q4_0 matrices run repacked (q4_0r8_x8s.ts) unless their rows
// or scales do not allow it.
import { Q8_0S_BYTES, Q8_0W_BYTES } from '../lib/blocks';
import { matmul_any, matvec_any, W_Q4_0, W_Q8_0 } from './act_q16_0';

/** matvec_q8_0_x8w(w, x: q8_0w*, y: f32*, cols, r0, r1). */
export function matvec_q8_0_x8w(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_any(W_Q8_0, w, x, y, cols, r0, r1, Q8_0W_BYTES);
}

/** matmul_q8_0_x8w(w, x: q8_0w*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q8_0_x8w(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_any(W_Q8_0, w, x, y, cols, rows, nTok, r0, r1, Q8_0W_BYTES);
}

/** matvec_q4_0_x8s(w, x: q8_0s*, y: f32*, cols, r0, r1). */
export function matvec_q4_0_x8s(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_any(W_Q4_0, w, x, y, cols, r0, r1, Q8_0S_BYTES);
}

/** matmul_q4_0_x8s(w, x: q8_0s*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q4_0_x8s(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_any(W_Q4_0, w, x, y, cols, rows, nTok, r0, r1, Q8_0S_BYTES);
}
