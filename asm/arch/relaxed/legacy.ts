// The relaxed-SIMD matvec and matmul of q4_1, q5_0 and q5_1 (ggml's 8-bit activations: q8_1, q8_0):
// the baseline's drivers, unpacking and f32 steps (asm/matmul/legacy.ts) with the integer block sums
// done 16 bytes at a time by i16x8.relaxed_dot_i8x16_i7x16_s, so the results are the baseline's bit
// for bit.
//
// The i7 rule: the levels go second, unsigned (q4_1's nibbles 0..15, q5's 0..31: q − 16 is never
// formed); the activations (any i8, −128 included) first. q5_0's −16 comes off through the activation
// block's sum, Σqx, taken by the same dot against ones (1 ≤ 127); q4_1's and q5_1's min needs no
// integer term (the ABI adds it in f32 as mw·sx, sx = q8_1's s).
//
// Exactness: a relaxed-dot i16 lane is q·x + q'·x' with q ≤ 31, |x| ≤ 128: |·| ≤ 7,936; the two
// halves' added ≤ 15,872; q5_0's 16·(the ones-dot pair sums, ≤ 4·128 per lane) ≤ 8,192, so the
// difference stays within ±24,064 < 2^15: no wrap, no saturation (none is possible: plain i16 adds).
// One i32x4.extadd_pairwise_i16x8_s per row and block widens it; the lanes sum to the baseline's
// integer, and the baseline's reduce and f32 steps follow.
import { Q5_0_QH, Q5_1_QH, Q8_0_BLOCK } from '../../lib/blocks';
import { reduce4_i32 } from '../../lib/simd';
import {
  act_bytes, act_qs, legacy_tile_const, matvec_rows, nibbles_hi, nibbles_lo, qh_spread, tokens_acc, W_Q4_1, W_Q5_0, W_Q5_1,
  weight_bytes, with_fifth,
} from '../../matmul/legacy';
import { matmul_tiles } from '../../matmul/tile';

/**
 * The i16 pair sums of Σ q·qx of the weight block at p (levels second) and the 32 activations x0, x1.
 * q5's fifth bits: i8x16.relaxed_swizzle (indices 0..3: deterministic) spreads qh's bytes (byte j gets
 * byte j/8 of its half) by the masks sLo, sHi (one PSHUFB each, against two unpacks and two shuffles in
 * the baseline's qh_spread), then the baseline's compare makes 0x10 of each value's bit.
 */
@inline function row_pairs(wt: i32, p: usize, x0: v128, x1: v128, n0f: v128, bit: v128, b4: v128, sLo: v128, sHi: v128): v128 {
  let lo = nibbles_lo(wt, p, n0f), hi = nibbles_hi(wt, p, n0f);
  if (wt != W_Q4_1) {
    const v = v128.load32_splat(p + (wt == W_Q5_0 ? Q5_0_QH : Q5_1_QH));
    lo = v128.or(lo, v128.and(i8x16.eq(v128.and(i8x16.relaxed_swizzle(v, sLo), bit), bit), b4));
    hi = v128.or(hi, v128.and(i8x16.eq(v128.and(i8x16.relaxed_swizzle(v, sHi), bit), bit), b4));
  }
  return i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(x0, lo), i16x8.relaxed_dot_i8x16_i7x16_s(x1, hi));
}

/** 16·Σqx of the 32 activations x0, x1 as i16 pair sums (q5_0's offset). */
@inline function offset_pairs(x0: v128, x1: v128, one: v128): v128 {
  return i16x8.shl(i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(x0, one), i16x8.relaxed_dot_i8x16_i7x16_s(x1, one)), 4);
}

/** The relaxed integer block sums (the K of the baseline's drivers). */
@final @unmanaged class Relaxed {
  /** The call's own constants k0, k1 (made once by the driver): the swizzles of qh's bytes for values 0..15 and 16..31. */
  @inline rows_const(k: i32, z: i32): v128 {
    return v128.or(k == 0 ? i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1) : i8x16(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3), i8x16.splat(<i8>z));
  }

  /** Four rows' Σ q·qx (− 16·Σqx for q5_0) with the activation block at xb, lane i = row i. */
  @inline rows4(wt: i32, p0: usize, p1: usize, p2: usize, p3: usize, xb: usize, n0f: v128, bit: v128, b4: v128, one: v128, sLo: v128, sHi: v128): v128 {
    const xq = xb + act_qs(wt);
    const x0 = v128.load(xq), x1 = v128.load(xq, 16);
    let s0 = row_pairs(wt, p0, x0, x1, n0f, bit, b4, sLo, sHi), s1 = row_pairs(wt, p1, x0, x1, n0f, bit, b4, sLo, sHi);
    let s2 = row_pairs(wt, p2, x0, x1, n0f, bit, b4, sLo, sHi), s3 = row_pairs(wt, p3, x0, x1, n0f, bit, b4, sLo, sHi);
    if (wt == W_Q5_0) {
      const e = offset_pairs(x0, x1, one);
      s0 = i16x8.sub(s0, e); s1 = i16x8.sub(s1, e); s2 = i16x8.sub(s2, e); s3 = i16x8.sub(s3, e);
    }
    return reduce4_i32(i32x4.extadd_pairwise_i16x8_s(s0), i32x4.extadd_pairwise_i16x8_s(s1), i32x4.extadd_pairwise_i16x8_s(s2), i32x4.extadd_pairwise_i16x8_s(s3));
  }

  /** The tile driver's constants (tile_const). */
  @inline tile_const(wt: i32, i: i32, z: i32): v128 {
    return legacy_tile_const(wt, i, z);
  }

  /** acc + one row's block at p · four tokens' activation blocks (lane i = token i): the block unpacked once (c: tile_const). */
  @inline tokens(wt: i32, acc: v128, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, n0f: v128, bit: v128, b4: v128, one: v128, ms: v128, k112: v128, h7c: v128, c7: v128): v128 {
    let lo = nibbles_lo(wt, p, n0f), hi = nibbles_hi(wt, p, n0f);
    if (wt != W_Q4_1) {
      const s = qh_spread(wt, p);
      lo = with_fifth(lo, s, 0, bit, b4);
      hi = with_fifth(hi, s, 1, bit, b4);
    }
    const xq = act_qs(wt);
    const isum = reduce4_i32(
      token_sum(wt, lo, hi, a0 + xq, one), token_sum(wt, lo, hi, a1 + xq, one),
      token_sum(wt, lo, hi, a2 + xq, one), token_sum(wt, lo, hi, a3 + xq, one),
    );
    return tokens_acc(wt, acc, isum, p, a0, a1, a2, a3, ms, k112, h7c);
  }
}

/** One token's Σ q·qx (− 16·Σqx for q5_0), i32 lanes summing to it, for the levels lo, hi and the 32 activations at xq. */
@inline function token_sum(wt: i32, lo: v128, hi: v128, xq: usize, one: v128): v128 {
  const x0 = v128.load(xq), x1 = v128.load(xq, 16);
  let s = i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(x0, lo), i16x8.relaxed_dot_i8x16_i7x16_s(x1, hi));
  if (wt == W_Q5_0) s = i16x8.sub(s, offset_pairs(x0, x1, one));
  return i32x4.extadd_pairwise_i16x8_s(s);
}

/** matvec_q4_1(w, x: q8_1*, y: f32*, cols, r0, r1). */
export function matvec_q4_1(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_rows<Relaxed>(W_Q4_1, w, x, y, cols, r0, r1);
}

/** matmul_q4_1(w, x: q8_1*, y: f32*, cols, rows, nTok, r0, r1). */
export function matmul_q4_1(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_tiles<Relaxed>(W_Q4_1, w, x, y, rows, nTok, r0, r1, cols / Q8_0_BLOCK, weight_bytes(W_Q4_1), act_bytes(W_Q4_1), cols >> 31);
}

/** matvec_q5_0(w, x: q8_0*, y: f32*, cols, r0, r1). */
export function matvec_q5_0(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_rows<Relaxed>(W_Q5_0, w, x, y, cols, r0, r1);
}

/** matmul_q5_0(w, x: q8_0*, y: f32*, cols, rows, nTok, r0, r1). */
export function matmul_q5_0(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_tiles<Relaxed>(W_Q5_0, w, x, y, rows, nTok, r0, r1, cols / Q8_0_BLOCK, weight_bytes(W_Q5_0), act_bytes(W_Q5_0), cols >> 31);
}

/** matvec_q5_1(w, x: q8_1*, y: f32*, cols, r0, r1). */
export function matvec_q5_1(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_rows<Relaxed>(W_Q5_1, w, x, y, cols, r0, r1);
}

/** matmul_q5_1(w, x: q8_1*, y: f32*, cols, rows, nTok, r0, r1). */
export function matmul_q5_1(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_tiles<Relaxed>(W_Q5_1, w, x, y, rows, nTok, r0, r1, cols / Q8_0_BLOCK, weight_bytes(W_Q5_1), act_bytes(W_Q5_1), cols >> 31);
}
