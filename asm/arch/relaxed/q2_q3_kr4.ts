// matvec/matmul_q2_Kr4 and _q3_Kr4 (q2_K / q3_K rows in the four-row layouts of
// asm/matmul/q2_q3_kr4.ts, on q8_Kp / q8_K activations) with relaxed-SIMD dot products: the baseline's drivers
// and block steps with this group step, the same integers per row and block and the same f32 steps, so
// the baseline's results bit for bit.
//
// A chunk (four consecutive values of each row, row i in bytes 4i..4i+3; levels q2_K 0..3, q3_K 0..7,
// some chunks 4 (q2_K) or 8 (q3_K) times that: at most 56, the i7 rule's operand) against its four
// activations splatted to every lane (v128.load32_splat, no shuffle) by i16x8.relaxed_dot_i8x16_i7x16_s
// leaves row i's pair sums in i16 lanes 2i, 2i + 1 (≤ 2·56·128 = 14,336: no saturation); the two scaled
// chunks' sums added (≤ 28,672) and shifted back exactly, the group's four added (≤ 7,168), then
// i32x4.dot_i16x8_s against the rows' scales ([s0, s0, s1, s1, ...]) gives each row's scaled sum in its
// i32 lane: per group (16 values, four rows) four relaxed dots and one PMADDWD, against four relaxed
// dots, four PMADDWD and four scale shuffles in matvec_q2_K / matvec_q3_K (./q2_q3_q5_k.ts).
import { kr4_combine16, matmul_kr4q, matvec_kr4q, splat_at } from '../../matmul/q2_q3_kr4';

/** The relaxed step: isum + sc·Σ u·x per row lane for one group (chunks c0..c3, the 16 activations at xs + xo, xo a constant; sh, odd: kr4_shift, kr4_odd). */
@final @unmanaged class Steps {
  /** The flavour's matvec (matmul's short last tile). */
  @inline matvec(q3: bool, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
    if (q3) matvec_q3_Kr4(w, x, y, cols, r0, r1);
    else matvec_q2_Kr4(w, x, y, cols, r0, r1);
  }
  /** No basic block per pair in a unit (measured faster without). */
  @inline split(): bool {
    return false;
  }
  /** Not called (split() is false): the tile's widened form is the SIMD128 step's. */
  @inline wide_group(isum: v128, xs: usize, w0: v128, w1: v128, w2: v128, w3: v128, w4: v128, w5: v128, w6: v128, w7: v128, sc: v128, sh: i32, odd: bool): v128 {
    unreachable();
    return isum;
  }
  /**
   * q2_Kr4's pair step: a chunk's relaxed dot leaves row i's sums of the pair's groups a and b in i16
   * lanes 2i and 2i + 1 (q8_Kp's activations); the four unscaled chunks added, the four scaled ones
   * (≤ 4·2·12·128 = 12,288) added and shifted back, one PMADDWD against the row-major scales.
   */
  /** pair() from the pair's vectors (the chunks taken out as pair() is given them). */
  @inline pair_v(isum: v128, xs: usize, o: i32, V1: v128, V2: v128, sc: v128, n0: v128, n1: v128): v128 {
    const H1 = i16x8.shr_u(V1, 4), H2 = i16x8.shr_u(V2, 4);
    return this.pair(isum, xs, o, v128.and(V1, n0), v128.and(V1, n1), v128.and(H1, n0), v128.and(H1, n1), v128.and(V2, n0), v128.and(V2, n1), v128.and(H2, n0), v128.and(H2, n1), sc);
  }
  @inline pair(isum: v128, xs: usize, o: i32, c0: v128, c1: v128, c2: v128, c3: v128, c4: v128, c5: v128, c6: v128, c7: v128, sc: v128): v128 {
    const d0 = i16x8.relaxed_dot_i8x16_i7x16_s(splat_at(xs, o), c0), d1 = i16x8.relaxed_dot_i8x16_i7x16_s(splat_at(xs, o + 4), c1);
    const d2 = i16x8.relaxed_dot_i8x16_i7x16_s(splat_at(xs, o + 8), c2), d3 = i16x8.relaxed_dot_i8x16_i7x16_s(splat_at(xs, o + 12), c3);
    const d4 = i16x8.relaxed_dot_i8x16_i7x16_s(splat_at(xs, o + 16), c4), d5 = i16x8.relaxed_dot_i8x16_i7x16_s(splat_at(xs, o + 20), c5);
    const d6 = i16x8.relaxed_dot_i8x16_i7x16_s(splat_at(xs, o + 24), c6), d7 = i16x8.relaxed_dot_i8x16_i7x16_s(splat_at(xs, o + 28), c7);
    const u = i16x8.add(i16x8.add(d0, d2), i16x8.add(d4, d6)), s = i16x8.add(i16x8.add(d1, d3), i16x8.add(d5, d7));
    return i32x4.add(isum, i32x4.dot_i16x8_s(i16x8.add(u, i16x8.shr_s(s, 2)), sc));
  }
  @inline group(isum: v128, xs: usize, xo: i32, c0: v128, c1: v128, c2: v128, c3: v128, sc: v128, sh: i32, odd: bool): v128 {
    const d0 = i16x8.relaxed_dot_i8x16_i7x16_s(splat_at(xs, xo), c0), d1 = i16x8.relaxed_dot_i8x16_i7x16_s(splat_at(xs, xo + 4), c1);
    const d2 = i16x8.relaxed_dot_i8x16_i7x16_s(splat_at(xs, xo + 8), c2), d3 = i16x8.relaxed_dot_i8x16_i7x16_s(splat_at(xs, xo + 12), c3);
    return i32x4.add(isum, i32x4.dot_i16x8_s(kr4_combine16(d0, d1, d2, d3, sh, odd), sc));
  }
}

/** matvec_q2_Kr4(w, x: q8_Kp*, y: f32*, cols, r0, r1): w in q2_Kr4, r0 and r1 multiples of 4. */
export function matvec_q2_Kr4(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_kr4q<Steps>(false, w, x, y, cols, r0, r1);
}

/** matmul_q2_Kr4(w, x: q8_Kp*, y: f32*, cols, rows, nTok, r0, r1): w in q2_Kr4, r0 and r1 multiples of 4. */
export function matmul_q2_Kr4(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_kr4q<Steps>(false, w, x, y, cols, rows, nTok, r0, r1);
}

/** matvec_q3_Kr4(w, x: q8_K*, y: f32*, cols, r0, r1): w in q3_Kr4, r0 and r1 multiples of 4. */
export function matvec_q3_Kr4(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_kr4q<Steps>(true, w, x, y, cols, r0, r1);
}

/** matmul_q3_Kr4(w, x: q8_K*, y: f32*, cols, rows, nTok, r0, r1): w in q3_Kr4, r0 and r1 multiples of 4. */
export function matmul_q3_Kr4(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_kr4q<Steps>(true, w, x, y, cols, rows, nTok, r0, r1);
}
