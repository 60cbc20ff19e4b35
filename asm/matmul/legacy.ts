// ggml's other 32-value weight formats on ggml's 8-bit activations (its vec_dot_type for each):
// q5_0 with q8_0 (as ggml_vec_dot_q5_0_q8_0), q4_1 and q5_1 with q8_1 (ggml_vec_dot_q4_1_q8_1,
// ggml_vec_dot_q5_1_q8_1), and quantize_q8_1 (and quantize_q8_0e, q5_0r4's activations: q8_0's with
// their sum, asm/matmul/q5_r4.ts). The relaxed flavour's matvec/matmul are
// asm/arch/relaxed/legacy.ts, on this file's drivers and unpacking.
//
// Per block the integer isum = Σ q·qx, with q the block's unsigned levels (q4_1: 0..15; q5_0, q5_1:
// 0..31) and, for q5_0, minus 16·Σqx (its values are q − 16). The float steps are fixed (the ABI,
// docs/KERNEL-ABI.md), per row in block order from acc = 0:
//   q5_0:        acc = acc + f32(isum)·(dw·dx)
//   q4_1, q5_1:  acc = acc + (f32(isum)·(dw·dx) + mw·sx)      (sx = q8_1's s = dx·Σqx)
// host/kernels/reference/matmul-types.ts does the same in JS, and the tests hold the two equal bit for bit.
//
// The levels of 16 values are assembled in bytes: the nibbles (an AND, or an i16 shift and an AND for
// the high half) OR'ed with q5's fifth bits: two unpacks spread qh's four bytes four times each, a lane
// shuffle takes the two bytes of a half eight times each (byte j holds qh's byte j/8), and a compare
// against each byte's bit (bit j%8) turns it into 0x10. The baseline widens the levels to u16 and
// multiplies them with the activations (widened to i16 once per block) by i32x4.dot_i16x8_s:
// |q·qx| ≤ 31·128, pair sums far inside i32.
//
// Speed: every v128 constant is made once per call, from z = cols >> 31 (0, but opaque to the
// compilers) and kept alive past the loops (`keep`): V8 otherwise rebuilds a constant at each use inside
// the loop (two to four instructions each; the previous version spent most of its time there). The
// block scales are converted four at a time by lib/f16.ts's multiply form, exact for every half: step
// 2 alone when no half of the block is an infinity or NaN (one test per block), steps 2 and 3 otherwise
// (block_acc). A subnormal scale takes the CPU's slow path there, but legacy weight scales are normal
// for any weights above ~1e-3, and activation scales for any activation block above ~8e-3.
// matvec takes four rows per pass from the four quarters of [r0, r1) (each lane one long sequential
// stream, as act_q8_0.ts), each activation block loaded once for the four rows; matmul takes four
// tokens per pass (asm/matmul/tile.ts), each weight block unpacked once for the four. The integer sums
// are exact, and the float steps are the same lane-wise, so matmul equals matvec and both equal the
// reference.
import {
  Q4_1_BYTES, Q4_1_M, Q4_1_QS, Q5_0_BYTES, Q5_0_QH, Q5_0_QS, Q5_1_BYTES, Q5_1_M, Q5_1_QH, Q5_1_QS, Q8_0_BLOCK, Q8_0_BYTES,
  Q8_0_QS, Q8_0E_BYTES, Q8_0E_QS, Q8_0E_SUM, Q8_1_BYTES, Q8_1_QS, Q8_1_S,
} from '../lib/blocks';
import { F16_EXP, F16_K112, F16_MS, F32_EXP, f16_to_f32, f32_to_f16, placed_to_f32x4_k } from '../lib/f16';
import { amax8 } from '../lib/quants';
import { gather_f32, gather_halves, hmax_f32, reduce4_i32, row_ptr, store_quarters } from '../lib/simd';
import { quantize_q8_0 } from './quantize';
import { matmul_tiles } from './tile';

// The weight format of a driver call (always a constant: each export compiles to its own code).
export const W_Q4_1: i32 = 0;
export const W_Q5_0: i32 = 1;
export const W_Q5_1: i32 = 2;

@inline export function weight_bytes(wt: i32): usize {
  return wt == W_Q4_1 ? Q4_1_BYTES : wt == W_Q5_0 ? Q5_0_BYTES : Q5_1_BYTES;
}

/** Bytes of one activation block: q8_0 for q5_0, q8_1 for q4_1 and q5_1. */
@inline export function act_bytes(wt: i32): usize {
  return wt == W_Q5_0 ? Q8_0_BYTES : Q8_1_BYTES;
}

/** Where an activation block's 32 i8 start. */
@inline export function act_qs(wt: i32): usize {
  return wt == W_Q5_0 ? Q8_0_QS : Q8_1_QS;
}

/** Where a weight block's 16 nibble bytes start. */
@inline function weight_qs(wt: i32): usize {
  return wt == W_Q4_1 ? Q4_1_QS : wt == W_Q5_0 ? Q5_0_QS : Q5_1_QS;
}

// ---- the constants a call keeps in registers ---------------------------------------------------

/** 0x0f in every byte (z = 0, opaque: made once per call). */
@inline export function c_nib(z: i32): v128 {
  return i8x16.splat(<i8>(0x0f | z));
}
/** Byte j's bit of qh within its byte: 1 << (j % 8). */
@inline export function c_bit(z: i32): v128 {
  return v128.or(i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128), i8x16.splat(<i8>z));
}
/** 0x10 (the fifth bit's weight) in every byte. */
@inline export function c_b4(z: i32): v128 {
  return i8x16.splat(<i8>(0x10 | z));
}
/** The constants of the finite half conversion (lib/f16.ts, step 2), then 0x7c00 (a half's exponent) in every i16 lane. */
@inline export function c_f16(k: i32, z: i32): v128 {
  return k == 2 ? i16x8.splat(<i16>(0x7c00 | z)) : i32x4.splat((k == 0 ? F16_MS : F16_K112) | z);
}

/** The tile driver's constants (tile.ts) for format wt: the nibble mask, qh's bit masks, 0x10, ones (q5_0), the half conversion's. */
@inline export function legacy_tile_const(wt: i32, i: i32, z: i32): v128 {
  if (i == 0) return c_nib(z);
  if (i == 1) return wt == W_Q4_1 ? c_nib(z) : c_bit(z);
  if (i == 2) return wt == W_Q4_1 ? c_nib(z) : c_b4(z);
  if (i == 3) return wt == W_Q5_0 ? i8x16.splat(<i8>(1 | z)) : c_nib(z);
  if (i == 4) return c_f16(0, z);
  if (i == 5) return c_f16(1, z);
  return c_f16(2, z);
}

// ---- unpacking a weight block -------------------------------------------------------------------

/** The low nibbles of the 16 bytes at the block's qs: the levels of values 0..15 (q4_1), or their low four bits. */
@inline export function nibbles_lo(wt: i32, p: usize, n0f: v128): v128 {
  return v128.and(v128.load(p + weight_qs(wt)), n0f);
}
/** The high nibbles: values 16..31 (an i16 shift and a mask: i8x16.shr_u is three instructions on x86). */
@inline export function nibbles_hi(wt: i32, p: usize, n0f: v128): v128 {
  return v128.and(i16x8.shr_u(v128.load(p + weight_qs(wt)), 4), n0f);
}

/** qh's four bytes b0..b3, each four times: [b0 ×4, b1 ×4, b2 ×4, b3 ×4] (two unpacks). */
@inline export function qh_spread(wt: i32, p: usize): v128 {
  const v = v128.load32_zero(p + (wt == W_Q5_0 ? Q5_0_QH : Q5_1_QH));
  const u = i8x16.shuffle(v, v, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  return i8x16.shuffle(u, u, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
}

/** The levels of values 0..15 (half 0) or 16..31 (half 1): nibbles | 0x10 where the value's bit of qh is set (s = qh_spread). */
@inline export function with_fifth(nib: v128, s: v128, half: i32, bit: v128, b4: v128): v128 {
  const bytes = half == 0 ? i32x4.shuffle(s, s, 0, 0, 1, 1) : i32x4.shuffle(s, s, 2, 2, 3, 3);
  return v128.or(nib, v128.and(i8x16.eq(v128.and(bytes, bit), bit), b4));
}

// ---- the float steps ----------------------------------------------------------------------------

/** A half in the low 16 bits of each lane, placed (lib/f16.ts step 1). */
@inline function place_lo(v: v128): v128 {
  return i32x4.shr_s(i32x4.shl(v, 16), 3);
}
/** A half in the high 16 bits of each lane, placed (its low bits are cleared by step 2's mask). */
@inline function place_hi(v: v128): v128 {
  return i32x4.shr_s(v, 3);
}

/** The f32 of placed halves known to be finite (lib/f16.ts step 2: exact for normals, subnormals and ±0). */
@inline function finite_f32(t: v128, ms: v128, k112: v128): v128 {
  return f32x4.mul(v128.and(t, ms), k112);
}

/** Whether any half of w or x (every i16 lane) is an infinity or NaN (h7c: 0x7c00 in every i16 lane). */
@inline function any_special(w: v128, x: v128, h7c: v128): bool {
  return v128.any_true(v128.or(i16x8.eq(v128.and(w, h7c), h7c), i16x8.eq(v128.and(x, h7c), h7c)));
}

/**
 * acc + the value the blocks add, lane-wise: f32(isum)·(dw·dx) (+ mw·sx for q4_1 and q5_1). Lane i's
 * weight block is at pw_i, its activation block at px_i; w holds their weight halves (d | m << 16; q5_0:
 * d and another block's d), x the activation halves (d | s << 16; q5_0: d and another block's d);
 * `xSplat`: one activation block in every lane (matvec), whose d and s convert together. Every half there
 * is a scale, so the rare infinity or NaN among them takes the exact conversion (block_acc_special, which
 * reads the halves again: its loads keep the optimizer from computing it ahead of the branch); the others
 * the finite one.
 */
@inline export function block_acc(wt: i32, xSplat: bool, acc: v128, isum: v128, w: v128, x: v128, pw0: usize, pw1: usize, pw2: usize, pw3: usize, px0: usize, px1: usize, px2: usize, px3: usize, ms: v128, k112: v128, h7c: v128): v128 {
  if (any_special(w, x, h7c)) return block_acc_special(wt, acc, isum, pw0, pw1, pw2, pw3, px0, px1, px2, px3);
  const dw = finite_f32(place_lo(w), ms, k112);
  let dx: v128, sx: v128;
  if (xSplat && wt != W_Q5_0) {
    // i32 lanes d | d << 16, s | s << 16 (twice): one conversion gives [dx, sx, dx, sx]
    const ds = finite_f32(place_hi(i8x16.shuffle(x, x, 0, 1, 0, 1, 2, 3, 2, 3, 0, 1, 0, 1, 2, 3, 2, 3)), ms, k112);
    dx = i32x4.shuffle(ds, ds, 0, 0, 0, 0);
    sx = i32x4.shuffle(ds, ds, 1, 1, 1, 1);
  } else {
    dx = finite_f32(place_lo(x), ms, k112);
    sx = wt == W_Q5_0 ? dx : finite_f32(place_hi(x), ms, k112);
  }
  const t = f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.mul(dw, dx));
  if (wt == W_Q5_0) return f32x4.add(acc, t);
  return f32x4.add(acc, f32x4.add(t, f32x4.mul(finite_f32(place_hi(w), ms, k112), sx)));
}

/** block_acc with every half read from the blocks and converted exactly (infinities and NaN included). */
function block_acc_special(wt: i32, acc: v128, isum: v128, pw0: usize, pw1: usize, pw2: usize, pw3: usize, px0: usize, px1: usize, px2: usize, px3: usize): v128 {
  const ms = i32x4.splat(F16_MS), k112 = i32x4.splat(F16_K112), e16 = i32x4.splat(F16_EXP), e32 = i32x4.splat(F32_EXP);
  const w = gather_f32(pw0, pw1, pw2, pw3), x = gather_f32(px0, px1, px2, px3);
  const t = f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.mul(placed_to_f32x4_k(place_lo(w), ms, k112, e16, e32), placed_to_f32x4_k(place_lo(x), ms, k112, e16, e32)));
  if (wt == W_Q5_0) return f32x4.add(acc, t);
  return f32x4.add(acc, f32x4.add(t, f32x4.mul(placed_to_f32x4_k(place_hi(w), ms, k112, e16, e32), placed_to_f32x4_k(place_hi(x), ms, k112, e16, e32))));
}

/** The weight halves of four rows' blocks (lane i from p_i): d (q5_0), or d | m << 16. */
@inline export function weight_halves(wt: i32, p0: usize, p1: usize, p2: usize, p3: usize): v128 {
  return wt == W_Q5_0 ? gather_halves(p0, p1, p2, p3) : gather_f32(p0, p1, p2, p3);
}

/** v with the call's constants folded in when z != 0 (never): keeps them made once, before the loops (as tile.ts's drivers do). */
@inline export function keep(v: v128, z: i32, a: v128, b: v128, c: v128, d: v128, e: v128, f: v128, g: v128, h: v128): v128 {
  return z != 0 ? v128.xor(v128.xor(v128.xor(v, a), v128.xor(b, c)), v128.xor(v128.xor(d, e), v128.xor(v128.xor(f, g), h))) : v;
}

// ---- the drivers ----------------------------------------------------------------------------

/**
 * y[r] for r in [r0, r1): four rows per pass from the quarters of the range (lane i = row r + i·q).
 * K (a field-less class, called on changetype<K>(0) as in tile.ts: the baseline's Simd128 below, the
 * relaxed flavour's Relaxed) gives the four rows' integer block sums with rows4 (lane i = row i, q5_0's
 * offset included), from the constants made here and two of its own (rows_const).
 */
@inline export function matvec_rows<K>(wt: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const k = changetype<K>(0);
  const wb = weight_bytes(wt), xs = act_bytes(wt);
  const nb = cols / Q8_0_BLOCK;
  const rowBytes = <usize>nb * wb;
  const z = cols >> 31;
  const n0f = c_nib(z), bit = c_bit(z), b4 = c_b4(z), one = i8x16.splat(<i8>((wt == W_Q5_0 ? 1 : 0) | z));
  const ms = c_f16(0, z), k112 = c_f16(1, z), h7c = c_f16(2, z);
  const k0 = wt == W_Q4_1 ? n0f : k.rows_const(0, z), k1 = wt == W_Q4_1 ? n0f : k.rows_const(1, z);
  if (r1 <= r0) return;
  // rows per quarter, odd: quarters a large power of two bytes apart ran 1.7× slower (q5_1, 2048 rows of 5632)
  const q = ((r1 - r0 + 3) >> 2) | 1;
  const last = r1 - 1;
  for (let i = 0; i < q; i++) {
    const r = r0 + i;
    let p0 = row_ptr(w, r, last, rowBytes), p1 = row_ptr(w, r + q, last, rowBytes);
    let p2 = row_ptr(w, r + 2 * q, last, rowBytes), p3 = row_ptr(w, r + 3 * q, last, rowBytes);
    let xb = x;
    let acc = f32x4.splat(0);
    for (let b = 0; b < nb; b++) {
      const isum = k.rows4(wt, p0, p1, p2, p3, xb, n0f, bit, b4, one, k0, k1);
      const xh = wt == W_Q5_0 ? v128.load16_splat(xb) : v128.load32_splat(xb);
      acc = block_acc(wt, true, acc, isum, weight_halves(wt, p0, p1, p2, p3), xh, p0, p1, p2, p3, xb, xb, xb, xb, ms, k112, h7c);
      p0 += wb; p1 += wb; p2 += wb; p3 += wb;
      xb += xs;
    }
    acc = keep(acc, z, n0f, wt == W_Q4_1 ? n0f : bit, wt == W_Q4_1 ? n0f : b4, wt == W_Q5_0 ? one : n0f, ms, k112, h7c, v128.xor(k0, k1));
    store_quarters(y, r, q, r1, acc);
  }
}

/**
 * acc + one row's weight block at p · four tokens' activation blocks a0..a3 (lane i = token i): the
 * token-tile step (tile.ts) after K's tokens gave the integer sums isum.
 */
@inline export function tokens_acc(wt: i32, acc: v128, isum: v128, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, ms: v128, k112: v128, h7c: v128): v128 {
  const w = wt == W_Q5_0 ? v128.load16_splat(p) : v128.load32_splat(p);
  const x = wt == W_Q5_0 ? gather_halves(a0, a1, a2, a3) : gather_f32(a0, a1, a2, a3);
  return block_acc(wt, false, acc, isum, w, x, p, p, p, p, a0, a1, a2, a3, ms, k112, h7c);
}

// ---- the baseline (SIMD128) integer sums --------------------------------------------------------

/** Σ q·qx (i32 lanes summing to it) of the weight block at p and the activations a0..a3 (values 0-7, …, 24-31, as i16). */
@inline function row_dot(wt: i32, p: usize, a0: v128, a1: v128, a2: v128, a3: v128, n0f: v128, bit: v128, b4: v128): v128 {
  let lo = nibbles_lo(wt, p, n0f), hi = nibbles_hi(wt, p, n0f);
  if (wt != W_Q4_1) {
    const s = qh_spread(wt, p);
    lo = with_fifth(lo, s, 0, bit, b4);
    hi = with_fifth(hi, s, 1, bit, b4);
  }
  return levels_dot(lo, hi, a0, a1, a2, a3);
}

/** Σ q·qx of 32 levels (bytes: lo values 0..15, hi 16..31) and the activations a0..a3 as i16. */
@inline function levels_dot(lo: v128, hi: v128, a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(lo), a0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(lo), a1)),
    i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(hi), a2), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(hi), a3)),
  );
}

/** 16·Σqx of the activations a0..a3 (i32 lanes summing to it): q5_0's −16 offset. */
@inline function offset16(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  return i32x4.shl(i32x4.extadd_pairwise_i16x8_s(i16x8.add(i16x8.add(a0, a1), i16x8.add(a2, a3))), 4);
}

/** The baseline's integer block sums (the K of the drivers). */
@final @unmanaged class Simd128 {
  /** Four rows' Σ q·qx (− 16·Σqx for q5_0) with the activation block at xb, lane i = row i. */
  /** The call's own constants k0, k1 (the relaxed flavour's swizzles): none here (c_nib's value, which the compilers merge with n0f). */
  @inline rows_const(k: i32, z: i32): v128 {
    return c_nib(z);
  }

  @inline rows4(wt: i32, p0: usize, p1: usize, p2: usize, p3: usize, xb: usize, n0f: v128, bit: v128, b4: v128, one: v128, k0: v128, k1: v128): v128 {
    const xq = xb + act_qs(wt);
    const a0 = v128.load8x8_s(xq), a1 = v128.load8x8_s(xq, 8), a2 = v128.load8x8_s(xq, 16), a3 = v128.load8x8_s(xq, 24);
    let s0 = row_dot(wt, p0, a0, a1, a2, a3, n0f, bit, b4), s1 = row_dot(wt, p1, a0, a1, a2, a3, n0f, bit, b4);
    let s2 = row_dot(wt, p2, a0, a1, a2, a3, n0f, bit, b4), s3 = row_dot(wt, p3, a0, a1, a2, a3, n0f, bit, b4);
    if (wt == W_Q5_0) {
      const e = offset16(a0, a1, a2, a3);
      s0 = i32x4.sub(s0, e); s1 = i32x4.sub(s1, e); s2 = i32x4.sub(s2, e); s3 = i32x4.sub(s3, e);
    }
    return reduce4_i32(s0, s1, s2, s3);
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
    const w0 = i16x8.extend_low_i8x16_u(lo), w1 = i16x8.extend_high_i8x16_u(lo);
    const w2 = i16x8.extend_low_i8x16_u(hi), w3 = i16x8.extend_high_i8x16_u(hi);
    const xq = act_qs(wt);
    const isum = reduce4_i32(
      token_dot(wt, w0, w1, w2, w3, a0 + xq), token_dot(wt, w0, w1, w2, w3, a1 + xq),
      token_dot(wt, w0, w1, w2, w3, a2 + xq), token_dot(wt, w0, w1, w2, w3, a3 + xq),
    );
    return tokens_acc(wt, acc, isum, p, a0, a1, a2, a3, ms, k112, h7c);
  }
}

/** One token's Σ q·qx (minus 16·Σqx for q5_0) for the widened weight levels w0..w3 and the 32 activations at xq. */
@inline function token_dot(wt: i32, w0: v128, w1: v128, w2: v128, w3: v128, xq: usize): v128 {
  const a0 = v128.load8x8_s(xq), a1 = v128.load8x8_s(xq, 8), a2 = v128.load8x8_s(xq, 16), a3 = v128.load8x8_s(xq, 24);
  const s = i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(w0, a0), i32x4.dot_i16x8_s(w1, a1)),
    i32x4.add(i32x4.dot_i16x8_s(w2, a2), i32x4.dot_i16x8_s(w3, a3)),
  );
  return wt == W_Q5_0 ? i32x4.sub(s, offset16(a0, a1, a2, a3)) : s;
}

// ---- the exports ------------------------------------------------------------------------------

/** matvec_q4_1(w, x: q8_1*, y: f32*, cols, r0, r1). */
export function matvec_q4_1(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_rows<Simd128>(W_Q4_1, w, x, y, cols, r0, r1);
}

/** matmul_q4_1(w, x: q8_1*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q4_1(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_tiles<Simd128>(W_Q4_1, w, x, y, rows, nTok, r0, r1, cols / Q8_0_BLOCK, weight_bytes(W_Q4_1), act_bytes(W_Q4_1), cols >> 31);
}

/** matvec_q5_0(w, x: q8_0*, y: f32*, cols, r0, r1). */
export function matvec_q5_0(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_rows<Simd128>(W_Q5_0, w, x, y, cols, r0, r1);
}

/** matmul_q5_0(w, x: q8_0*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q5_0(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_tiles<Simd128>(W_Q5_0, w, x, y, rows, nTok, r0, r1, cols / Q8_0_BLOCK, weight_bytes(W_Q5_0), act_bytes(W_Q5_0), cols >> 31);
}

/** matvec_q5_1(w, x: q8_1*, y: f32*, cols, r0, r1). */
export function matvec_q5_1(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_rows<Simd128>(W_Q5_1, w, x, y, cols, r0, r1);
}

/** matmul_q5_1(w, x: q8_1*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q5_1(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_tiles<Simd128>(W_Q5_1, w, x, y, rows, nTok, r0, r1, cols / Q8_0_BLOCK, weight_bytes(W_Q5_1), act_bytes(W_Q5_1), cols >> 31);
}

// ---- get_row: ggml's dequantizers, the same f32 operations in the same order ---------------------

/** get_row_q4_1(w, out: f32*, cols, row): q·d + m per value (the product rounded first), as ggml's dequantize_row_q4_1. */
export function get_row_q4_1(w: usize, out: usize, cols: i32, row: i32): void {
  get_row_any(W_Q4_1, w, out, cols, row);
}

/** get_row_q5_0(w, out: f32*, cols, row): (q − 16)·d per value, as ggml's dequantize_row_q5_0. */
export function get_row_q5_0(w: usize, out: usize, cols: i32, row: i32): void {
  get_row_any(W_Q5_0, w, out, cols, row);
}

/** get_row_q5_1(w, out: f32*, cols, row): q·d + m per value, as ggml's dequantize_row_q5_1. */
export function get_row_q5_1(w: usize, out: usize, cols: i32, row: i32): void {
  get_row_any(W_Q5_1, w, out, cols, row);
}

@inline function get_row_any(wt: i32, w: usize, out: usize, cols: i32, row: i32): void {
  const wb = weight_bytes(wt);
  const nb = cols / Q8_0_BLOCK;
  let p = w + <usize>row * <usize>nb * wb;
  let o = out;
  for (let b = 0; b < nb; b++) {
    const d = f32x4.splat(f16_to_f32(load<u16>(p)));
    const m = wt == W_Q5_0 ? f32x4.splat(0) : f32x4.splat(f16_to_f32(load<u16>(p + (wt == W_Q4_1 ? Q4_1_M : Q5_1_M))));
    store16(wt, o, levels16(wt, p, 0), d, m);
    store16(wt, o + 64, levels16(wt, p, 1), d, m);
    p += wb;
    o += 128;
  }
}

/** The levels of values 0..15 (half 0) or 16..31 (half 1) of the weight block at p, one byte each. */
@inline function levels16(wt: i32, p: usize, half: i32): v128 {
  const n0f = c_nib(0);
  const nib = half == 0 ? nibbles_lo(wt, p, n0f) : nibbles_hi(wt, p, n0f);
  return wt == W_Q4_1 ? nib : with_fifth(nib, qh_spread(wt, p), half, c_bit(0), c_b4(0));
}

/** 16 levels (bytes) as floats at o: (q − 16)·d for q5_0, f32(q·d) + m otherwise. */
@inline function store16(wt: i32, o: usize, q: v128, d: v128, m: v128): void {
  const lo = i16x8.extend_low_i8x16_u(q), hi = i16x8.extend_high_i8x16_u(q);
  const off = i32x4.splat(wt == W_Q5_0 ? 16 : 0);
  v128.store(o, value4(wt, i32x4.sub(i32x4.extend_low_i16x8_u(lo), off), d, m));
  v128.store(o, value4(wt, i32x4.sub(i32x4.extend_high_i16x8_u(lo), off), d, m), 16);
  v128.store(o, value4(wt, i32x4.sub(i32x4.extend_low_i16x8_u(hi), off), d, m), 32);
  v128.store(o, value4(wt, i32x4.sub(i32x4.extend_high_i16x8_u(hi), off), d, m), 48);
}

@inline function value4(wt: i32, q: v128, d: v128, m: v128): v128 {
  const v = f32x4.mul(f32x4.convert_i32x4_s(q), d);
  return wt == W_Q5_0 ? v : f32x4.add(v, m);
}

// ---- quantize_q8_0e ----------------------------------------------------------------------------

/**
 * quantize_q8_0e(x: f32*, out: q8_0e*, n): n values (a multiple of 32) into n/32 blocks
 * { f16 d; i16 e; i8 qs[32] }: d and qs exactly quantize_q8_0's (each block quantized by it), e = Σ qs
 * (|e| ≤ 32·127).
 */
export function quantize_q8_0e(x: usize, out: usize, n: i32): void {
  const nb = n / Q8_0_BLOCK;
  for (let b = 0; b < nb; b++) {
    const o = out + <usize>b * Q8_0E_BYTES;
    // q8_0's block { d; qs } written at o + 2 puts qs where q8_0e has them; d then moves to o
    quantize_q8_0(x + (<usize>b << 7), o + Q8_0E_SUM, Q8_0_BLOCK);
    store<u16>(o, load<u16>(o + Q8_0E_SUM));
    const q = o + Q8_0E_QS;
    const sums = i32x4.add(
      i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(v128.load(q))),
      i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(v128.load(q, 16))),
    );
    store<i16>(o, <i16>i32x4.extract_lane(reduce4_i32(sums, sums, sums, sums), 0), Q8_0E_SUM);
  }
}

// ---- quantize_q8_1 ----------------------------------------------------------------------------

/**
 * quantize_q8_1(x: f32*, out: q8_1*, n): n values (a multiple of 32) into n/32 blocks
 * { f16 d; f16 s; i8 qs[32] }: d and qs exactly quantize_q8_0's (each block quantized by it), then
 * s = d·Σ qs with the f32 d = absmax/127 before its rounding to f16, as ggml's quantize_row_q8_1_ref.
 */
export function quantize_q8_1(x: usize, out: usize, n: i32): void {
  const nb = n / Q8_0_BLOCK;
  for (let b = 0; b < nb; b++) {
    const p = x + (<usize>b << 7);
    const o = out + <usize>b * Q8_1_BYTES;
    // q8_0's block { d; qs } written at o + 2 puts qs where q8_1 has them; d then moves to o
    quantize_q8_0(p, o + Q8_1_S, Q8_0_BLOCK);
    store<u16>(o, load<u16>(o + Q8_1_S));
    const amax = hmax_f32(amax8(
      v128.load(p), v128.load(p, 16), v128.load(p, 32), v128.load(p, 48),
      v128.load(p, 64), v128.load(p, 80), v128.load(p, 96), v128.load(p, 112),
    ));
    const q = o + Q8_1_QS;
    const sums = i32x4.add(
      i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(v128.load(q))),
      i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(v128.load(q, 16))),
    );
    const sum = reduce4_i32(sums, sums, sums, sums);
    store<u16>(o, <u16>f32_to_f16(<f32>i32x4.extract_lane(sum, 0) * (amax / 127.0)), Q8_1_S);
  }
}
