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
import { matmul_q5r4, matvec_q5r4, r4_acc, r4_act_qs, r4_last, r4_offset, r4_qs, r4_split } from '../../matmul/q5_r4';
import { W_Q5_0, W_Q5_1 } from '../../matmul/legacy';

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

/** The relaxed block steps of the drivers. */
@final @unmanaged class Steps {
  /** acc + the group block at p · the activation block at xb (c: r4_const). */
  @inline block(wt: i32, acc: v128, p: usize, xb: usize, m1f: v128, m60: v128, m80: v128, ms: v128, k112: v128): v128 {
    const q = p + r4_qs(wt);
    const V0 = v128.load(q), V1 = v128.load(q, 16), V2 = v128.load(q, 32), V3 = v128.load(q, 48), V4 = v128.load(q, 64);
    const a0 = v128.and(V0, m1f), a2 = v128.and(V2, m1f), a4 = v128.and(V4, m1f);
    let isum = chunks_sum(
      a0, v128.and(V1, m1f), a2, v128.and(V3, m1f), a4, r4_split(V0, a0, V1, m60), r4_split(V2, a2, V3, m60), r4_last(V4, a4, V1, V3, m80),
      xb + r4_act_qs(wt),
    );
    if (wt == W_Q5_0) isum = i32x4.sub(isum, r4_offset(xb));
    return r4_acc(wt, acc, isum, p, xb, ms, k112);
  }

  /** The group block at p · four tokens' activation blocks a0..a3: each token's block term added to its running sums at y0..y3; the chunks taken out once. */
  @inline block4(wt: i32, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, y0: usize, y1: usize, y2: usize, y3: usize, m1f: v128, m60: v128, m80: v128, ms: v128, k112: v128): void {
    const q = p + r4_qs(wt), xq = r4_act_qs(wt);
    const V0 = v128.load(q), V1 = v128.load(q, 16), V2 = v128.load(q, 32), V3 = v128.load(q, 48), V4 = v128.load(q, 64);
    const c0 = v128.and(V0, m1f), c1 = v128.and(V1, m1f), c2 = v128.and(V2, m1f), c3 = v128.and(V3, m1f), c4 = v128.and(V4, m1f);
    const c5 = r4_split(V0, c0, V1, m60), c6 = r4_split(V2, c2, V3, m60), c7 = r4_last(V4, c4, V1, V3, m80);
    let i0 = chunks_sum(c0, c1, c2, c3, c4, c5, c6, c7, a0 + xq), i1 = chunks_sum(c0, c1, c2, c3, c4, c5, c6, c7, a1 + xq);
    let i2 = chunks_sum(c0, c1, c2, c3, c4, c5, c6, c7, a2 + xq), i3 = chunks_sum(c0, c1, c2, c3, c4, c5, c6, c7, a3 + xq);
    if (wt == W_Q5_0) {
      i0 = i32x4.sub(i0, r4_offset(a0));
      i1 = i32x4.sub(i1, r4_offset(a1));
      i2 = i32x4.sub(i2, r4_offset(a2));
      i3 = i32x4.sub(i3, r4_offset(a3));
    }
    v128.store(y0, r4_acc(wt, v128.load(y0), i0, p, a0, ms, k112));
    v128.store(y1, r4_acc(wt, v128.load(y1), i1, p, a1, ms, k112));
    v128.store(y2, r4_acc(wt, v128.load(y2), i2, p, a2, ms, k112));
    v128.store(y3, r4_acc(wt, v128.load(y3), i3, p, a3, ms, k112));
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
