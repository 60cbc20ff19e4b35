// matvec_q6_Kr4 and matmul_q6_Kr4 (q6_K rows in the q6_Kr4 layout on q8_K activations,
// asm/matmul/q6_kr4.ts) with relaxed-SIMD dot products: the same integers per row and block, the same
// f32 steps (r4_finish), so the baseline's results bit for bit.
//
// A chunk (four consecutive values of each row, row i in bytes 4i..4i+3, 6-bit quants 0..63: the i7
// rule's operand) against its four activations splatted to every lane (v128.load32_splat, no shuffle)
// by i16x8.relaxed_dot_i8x16_i7x16_s leaves row i's pair sums in i16 lanes 2i, 2i + 1 (≤ 2·63·128 =
// 16,128); two chunks added (≤ 32,256, no saturation), then i32x4.dot_i16x8_s against the rows' scales
// ([s0, s0, s1, s1, ...]) gives each row's scaled sum in its i32 lane: per group (16 values, four rows)
// four relaxed dots and two PMADDWD, against four relaxed dots, four PMADDWD and four scale splats in
// matvec_q6_K (asm/arch/relaxed/kquants.ts).
import { Q6_KR4_SCALES, Q8_K_BSUMS, Q8_K_QS } from '../../lib/blocks';
import { matmul_r4, matvec_r4, r4_bsum_dot, r4_finish, r4_fourth, r4_offset, r4_scales_hi, r4_scales_lo } from '../../matmul/q6_kr4';

/** isum + one group (48 bytes at q, its 16 activations at xs, the rows' scales sc): Σ sc·Σ u·x per row lane. */
@inline function group(isum: v128, q: usize, xs: usize, sc: v128, m3f: v128): v128 {
  const A = v128.load(q), B = v128.load(q, 16), C = v128.load(q, 32);
  const a = v128.and(A, m3f), b = v128.and(B, m3f), c = v128.and(C, m3f);
  const d = r4_fourth(A, B, C, a, b, c);
  const s = i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xs), a), i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xs, 4), b));
  const t = i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xs, 8), c), i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xs, 12), d));
  return i32x4.add(isum, i32x4.add(i32x4.dot_i16x8_s(s, sc), i32x4.dot_i16x8_s(t, sc)));
}

/**
 * The q6_Kr4 group block at p · the q8_K block at xb: acc + the rows' block terms. The offsets' bsum
 * dots are summed apart and come off once (the same integer); a pair's two groups in one basic block
 * (measured 1–1.5% faster than split, and 1.5–2% for the separate offset sum, in cache).
 */
@inline function block_dot(acc: v128, p: usize, xb: usize, m3f: v128, c0: v128, c1: v128): v128 {
  let isum = i32x4.splat(0), off = i32x4.splat(0);
  let q = p, xs = xb + Q8_K_QS, s = p + Q6_KR4_SCALES, bs = xb + Q8_K_BSUMS;
  for (let m = 0; m < 8; m++) {
    const v = v128.load8x8_s(s);
    const sa = r4_scales_lo(v), sb = r4_scales_hi(v);
    off = i32x4.add(off, r4_bsum_dot(sa, sb, bs));
    isum = group(isum, q, xs, sa, m3f);
    isum = group(isum, q + 48, xs + 16, sb, m3f);
    q += 96;
    xs += 32;
    s += 8;
    bs += 4;
  }
  return r4_finish(acc, i32x4.sub(isum, i32x4.shl(off, 5)), p, xb, c0, c1);
}

/** matvec_q6_Kr4(w, x: q8_K*, y: f32*, cols, r0, r1): w in q6_Kr4, r0 and r1 multiples of 4. */
export function matvec_q6_Kr4(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_r4<Steps>(w, x, y, cols, r0, r1);
}

/** One token's share of a group: isum + the rows' scaled sums of the chunks a..d against the token's 16 activations at xs. */
@inline function token_group(isum: v128, xs: usize, a: v128, b: v128, c: v128, d: v128, sc: v128): v128 {
  const s = i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xs), a), i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xs, 4), b));
  const t = i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xs, 8), c), i16x8.relaxed_dot_i8x16_i7x16_s(v128.load32_splat(xs, 12), d));
  return i32x4.add(isum, i32x4.add(i32x4.dot_i16x8_s(s, sc), i32x4.dot_i16x8_s(t, sc)));
}

/**
 * The q6_Kr4 group block at p · the q8_K blocks of four tokens at a0..a3: each group's chunks taken
 * out once for the four tokens, each token's integers as block_dot's (the same sums, the offsets
 * subtracted per group pair likewise), then block_dot's f32 step on each token's accumulator, kept in
 * y0..y3 (the four rows' results of each token: one v128 each).
 */
@inline function block_dot4(p: usize, a0: usize, a1: usize, a2: usize, a3: usize, y0: usize, y1: usize, y2: usize, y3: usize, z: i32, m3f: v128, c0: v128, c1: v128): void {
  let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
  let q = p, s = p + Q6_KR4_SCALES, xo: usize = Q8_K_QS, bo: usize = Q8_K_BSUMS;
  for (let G = 0; G < 16; G++) {
    const v = v128.load8x8_s(s);
    const sa = r4_scales_lo(v), sb = r4_scales_hi(v);
    if ((G & 1) == 0) {
      i0 = r4_offset(i0, sa, sb, a0 + bo);
      i1 = r4_offset(i1, sa, sb, a1 + bo);
      i2 = r4_offset(i2, sa, sb, a2 + bo);
      i3 = r4_offset(i3, sa, sb, a3 + bo);
    }
    const sc = (G & 1) == 0 ? sa : sb;
    const A = v128.load(q), B = v128.load(q, 16), C = v128.load(q, 32);
    const a = v128.and(A, m3f), b = v128.and(B, m3f), c = v128.and(C, m3f);
    const d = r4_fourth(A, B, C, a, b, c);
    i0 = token_group(i0, a0 + xo, a, b, c, d, sc);
    i1 = token_group(i1, a1 + xo, a, b, c, d, sc);
    i2 = token_group(i2, a2 + xo, a, b, c, d, sc);
    i3 = token_group(i3, a3 + xo, a, b, c, d, sc);
    q += 48;
    xo += 16;
    if ((G & 1) != 0) {
      s += 8;
      bo += 4;
    }
  }
  v128.store(y0, r4_finish(v128.load(y0), i0, p, a0, c0, c1));
  v128.store(y1, r4_finish(v128.load(y1), i1, p, a1, c0, c1));
  v128.store(y2, r4_finish(v128.load(y2), i2, p, a2, c0, c1));
  v128.store(y3, r4_finish(v128.load(y3), i3, p, a3, c0, c1));
}

/**
 * matmul_q6_Kr4(w, x: q8_K*, y: f32*, cols, rows, nTok, r0, r1): w in q6_Kr4, r0 and r1 multiples of
 * 4; y[t·rows + r]. Whole tiles of four tokens take each group's chunks out once for the four
 * (block_dot4, the running sums in y); the last tile, if short, calls matvec per token. Equal to
 * matvec bit for bit.
 */
export function matmul_q6_Kr4(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_r4<Steps>(w, x, y, cols, rows, nTok, r0, r1);
}

/** The relaxed block steps of the shared drivers (block_dot needs no z here). */
@final @unmanaged class Steps {
  /** The flavour's matvec (matmul's short last tile). */
  @inline matvec(wt: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
    matvec_q6_Kr4(w, x, y, cols, r0, r1);
  }
  @inline block_dot(acc: v128, p: usize, xb: usize, z: i32, m3f: v128, c0: v128, c1: v128): v128 {
    return block_dot(acc, p, xb, m3f, c0, c1);
  }
  @inline block_dot4(p: usize, a0: usize, a1: usize, a2: usize, a3: usize, y0: usize, y1: usize, y2: usize, y3: usize, z: i32, m3f: v128, c0: v128, c1: v128): void {
    block_dot4(p, a0, a1, a2, a3, y0, y1, y2, y3, z, m3f, c0, c1);
  }
}
