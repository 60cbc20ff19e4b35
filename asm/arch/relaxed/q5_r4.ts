// matvec / matmul of q5_0r4 and q5_1r4 (asm/matmul/q5_r4.ts draws the layout) with relaxed-SIMD dot
// products: the same integers per row and block, the same f32 steps (r4_acc), so the baseline's
// results bit for bit.
//
// A chunk (four consecutive values of each row, row i in bytes 4i..4i+3, levels 0..31: the i7 rule's
// operand) against its four activations splatted to every lane (v128.load32_splat, any i8, −128
// included) by i16x8.relaxed_dot_i8x16_i7x16_s leaves row i's pair sums in i16 lanes 2i, 2i + 1, each
// ≤ 2·31·128 = 7,936 in magnitude; four chunks added ≤ 31,744 < 2^15 (no wrap), then
// i32x4.extadd_pairwise_i16x8_s puts row i's sum in i32 lane i. q5_0's 16·Σqx comes from q8_0e's e
// (r4_offset), as in the baseline. Per 32 values of four rows: five loads, 23 operations for the
// chunks, eight splats and relaxed dots, eight adds and two widenings, then the f32 step.
import { W_Q5_0, W_Q5_1 } from '../../matmul/legacy';
import { matmul_q5r4, matvec_q5r4 } from '../../matmul/q5_r4';

/** The four rows' Σ q·qx of chunks c0..c7 against the 32 activations at xq, row i in lane i. */
@inline function chunks_sum(c0: v128, c1: v128, c2: v128, c3: v128, c4: v128, c5: v128, c6: v128, c7: v128, xq: usize): v128 {
  const s = i16x8.add(
    i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xq), c0), i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xq, 4), c1)),
    i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xq, 8), c2), i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xq, 12), c3)),
  );
  const t = i16x8.add(
    i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xq, 16), c4), i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xq, 20), c5)),
    i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xq, 24), c6), i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xq, 28), c7)),
  );
  return i32x4.add(i32x4.extadd_pairwise_i16x8_s(s), i32x4.extadd_pairwise_i16x8_s(t));
}

/** The relaxed chunk sums, as S for the baseline's drivers (asm/matmul/q5_r4.ts: the block steps are theirs). */
@final @unmanaged class Steps {
  /** The flavour's matvec (matmul's short last tile). */
  @inline matvec(wt: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
    if (wt == W_Q5_0) matvec_q5_0r4(w, x, y, cols, r0, r1);
    else matvec_q5_1r4(w, x, y, cols, r0, r1);
  }
  @inline chunks(c0: v128, c1: v128, c2: v128, c3: v128, c4: v128, c5: v128, c6: v128, c7: v128, xq: usize): v128 {
    return chunks_sum(c0, c1, c2, c3, c4, c5, c6, c7, xq);
  }
}

/** matvec_q5_0r4(w, x: q8_0e*, y: f32*, cols, r0, r1): w in q5_0r4, r0 and r1 multiples of 4. */
export function matvec_q5_0r4(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_q5r4<Steps>(W_Q5_0, w, x, y, cols, r0, r1);
}

/** matmul_q5_0r4(w, x: q8_0e*, y: f32*, cols, rows, nTok, r0, r1): w in q5_0r4, r0 and r1 multiples of 4. */
export function matmul_q5_0r4(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_q5r4<Steps>(W_Q5_0, w, x, y, cols, rows, nTok, r0, r1);
}

/** matvec_q5_1r4(w, x: q8_1*, y: f32*, cols, r0, r1): w in q5_1r4, r0 and r1 multiples of 4. */
export function matvec_q5_1r4(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_q5r4<Steps>(W_Q5_1, w, x, y, cols, r0, r1);
}

/** matmul_q5_1r4(w, x: q8_1*, y: f32*, cols, rows, nTok, r0, r1): w in q5_1r4, r0 and r1 multiples of 4. */
export function matmul_q5_1r4(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_q5r4<Steps>(W_Q5_1, w, x, y, cols, rows, nTok, r0, r1);
}
