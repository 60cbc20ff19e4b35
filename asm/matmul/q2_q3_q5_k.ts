// q2_K, q3_K and q5_K weights on q8_K activations, as ggml_vec_dot_q2_K_q8_K, ggml_vec_dot_q3_K_q8_K
// and ggml_vec_dot_q5_K_q8_K, and their get_row (ggml's dequantizers).
//
// Each super-block of 256 values is walked as sixteen groups G of 16 values (values 16G..16G+15, whose
// activations are q8_K's qs[16G..] and whose sum is bsums[G]), each with its unsigned levels q and an
// integer scale sc_G:
//   q2_K: q = 2 bits (byte 32·(G/8) + 16·(G%2) + i of qs, shifted by 2·((G/2)%4)); sc = scales[G] & 15;
//         min m_G = scales[G] >> 4;           isum = Σ_G sc·Σ q·qx,  msum = Σ_G m_G·bsums[G]
//   q3_K: q = q2_K's two bits | the hmask bit (bit G/2 of hmask[16·(G%2) + i]) << 2, value q − 4;
//         sc = 6-bit scale − 32;              isum = Σ_G sc·(Σ q·qx − 4·bsums[G])
//   q5_K: q = q4_K's nibble of sub-block G/2 | bit G/2 of qh[16·(G%2) + i] << 4; sc, m = q4_K's 6-bit
//         scale and min of sub-block G/2;     isum = Σ_G sc·Σ q·qx,  msum = Σ_j m_j·(bsums[2j] + bsums[2j+1])
// all exact in i32 (|isum| < 2^26). The float steps are fixed (the ABI, docs/KERNEL-ABI.md), per row
// in block order from acc = 0:
//   q2_K, q5_K:  acc = acc + (f32(isum)·(dx·d) − f32(msum)·(dx·dmin))
//   q3_K:        acc = acc + f32(isum)·(dx·d)
// host/kernels/reference/matmul-types.ts does the same in JS; the tests hold the two equal bit for bit.
//
// The levels of 16 values are assembled as bytes with i16 shifts and byte masks (no byte shifts, which
// x86 lacks), from whole 16-byte loads: q2_K's 2-bit fields shifted down, q3_K's and q5_K's high bits
// moved from bit G/2 (j) to bit 2 (4) of each byte. The masks are made once per call from `z` (cols >>
// 31: 0, unknown to the compiler) and passed down: V8 13 rebuilds a v128 constant at every use in a
// loop otherwise. The relaxed flavour (asm/arch/relaxed/q2_q3_q5_k.ts) shares these unpackers.
//
// matvec takes four rows per pass from the four quarters of [r0, r1) (each lane one long run of rows,
// as act_q8_0.ts): per row and block each group's (q5_K: sub-block's) levels widened to u16 and
// multiplied with the activations by i32x4.dot_i16x8_s; two groups' (sub-blocks') i32 lanes (|lane| ≤
// 4·7·128 for q3_K, 8·31·128 = 31,744 for a q5_K sub-block) narrow exactly into one i16x8, and one more
// i32x4.dot_i16x8_s multiplies them by their two scales (lanes [sc_a ×4, sc_b ×4], one PSHUFD from the
// scales held as i32 lanes with the scale in both i16 halves): no i32 multiply and no splat per group.
// The f32 steps run for the four rows at once (lane i = row i; their d, dmin converted four at a time
// without subnormal arithmetic, bit for bit f16_to_f32's). matmul (the tile driver) four tokens per
// pass (lane i = token i), each group unpacked once for the four. The integer sums are exact and the
// float steps the same lane-wise: matvec, matmul and the reference agree bit for bit.
import {
  Q2_K_BLOCK, Q2_K_BYTES, Q2_K_D, Q2_K_DMIN, Q2_K_QS, Q3_K_BYTES, Q3_K_D, Q3_K_QS, Q3_K_SCALES, Q5_K_BYTES, Q5_K_DMIN, Q5_K_SCALES,
  Q5_K_QH, Q5_K_QS, Q8_K_BSUMS, Q8_K_BYTES, Q8_K_QS,
} from '../lib/blocks';
import { F16_BIAS, F16_EXP, F16_EXP1, F32_EXP, f16_to_f32, finite_halves_s_to_f32x4_ns_k } from '../lib/f16';
import { q4k_mins, q4k_scales } from '../lib/quants';
import { gather_f32, gather_halves, reduce4_i32, row_ptr, store_quarters } from '../lib/simd';
import { matmul_tiles } from './tile';
import { bsum_pairs, mins_i16x8, scale_pairs_hi, scale_pairs_lo } from './act_q8_k';

// The weight format of a driver call (always a constant: each export compiles to its own code).
export const W_Q2_K: i32 = 0;
export const W_Q3_K: i32 = 1;
export const W_Q5_K: i32 = 2;

@inline export function weight_bytes(wt: i32): usize {
  return wt == W_Q2_K ? Q2_K_BYTES : wt == W_Q3_K ? Q3_K_BYTES : Q5_K_BYTES;
}

// ---- unpacking (shared with the relaxed flavour) ---------------------------------------------------

/** The byte masks of a call (splats of 0x0f, 0x03, 0x04, 0x10, 0x20 | z): made once, before the loops. */
@inline export function mask(byte: i32, z: i32): v128 {
  return i8x16.splat(<i8>(byte | z));
}

/** v with bit `from` of each byte moved to bit `to` (i16 shifts: only bit `to` of each byte is meaningful after). */
@inline function move_bit(v: v128, from: i32, to: i32): v128 {
  return from == to ? v : from < to ? i16x8.shl(v, to - from) : i16x8.shr_u(v, from - to);
}

/** q2_K's (and q3_K's low) 2-bit levels at bits 2k, 2k + 1 of the 16 bytes v, one byte each (k a constant). */
@inline export function q2_levels(v: v128, k: i32, m03: v128): v128 {
  return v128.and(k == 0 ? v : i16x8.shr_u(v, k << 1), m03);
}

/** q3_K's levels 0..7 (value + 4): the 2-bit field k of v | bit `hb` of the hmask bytes hm << 2 (k, hb constants). */
@inline export function q3_levels(v: v128, hm: v128, k: i32, hb: i32, m03: v128, m04: v128): v128 {
  return v128.or(q2_levels(v, k, m03), v128.and(move_bit(hm, hb, 2), m04));
}

/** q5_K's levels 0..31 of sub-block j: the nibble of qs (low for even j, high for odd) | bit j of qh << 4 (j a constant). */
@inline export function q5_levels(qs: v128, qh: v128, j: i32, m0f: v128, m10: v128): v128 {
  const nibble = (j & 1) == 0 ? v128.and(qs, m0f) : v128.and(i16x8.shr_u(qs, 4), m0f);
  return v128.or(nibble, v128.and(move_bit(qh, j, 4), m10));
}

// ---- scales and the terms through q8_K's bsums -------------------------------------------------------

/** q3_K's sixteen 6-bit scales − 32 as i8 bytes (byte G = group G; ggml's unpacking of scales[12]). */
@inline export function q3_scale_bytes(p: usize, m20: v128): v128 {
  const a = load<u32>(p, Q3_K_SCALES), b = load<u32>(p, Q3_K_SCALES + 4), c = load<u32>(p, Q3_K_SCALES + 8);
  const lo = <u64>((a & 0x0f0f0f0f) | ((c & 0x03030303) << 4)) | (<u64>((b & 0x0f0f0f0f) | (((c >> 2) & 0x03030303) << 4)) << 32);
  const hi = <u64>(((a >> 4) & 0x0f0f0f0f) | (((c >> 4) & 0x03030303) << 4)) | (<u64>(((b >> 4) & 0x0f0f0f0f) | (((c >> 6) & 0x03030303) << 4)) << 32);
  return i8x16.sub(i64x2.replace_lane(i64x2.splat(lo), 1, hi), m20);
}

/** q2_K's msum Σ_G m_G·bsums[G] for the q8_K block at xb (i32 lanes summing to it). */
@inline export function q2_msum(p: usize, xb: usize, m0f: v128): v128 {
  const mins = v128.and(i16x8.shr_u(v128.load(p), 4), m0f);
  return i32x4.add(
    i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(mins), v128.load(xb, Q8_K_BSUMS)),
    i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(mins), v128.load(xb, Q8_K_BSUMS + 16)),
  );
}

/** q3_K's 4·Σ_G sc_G·bsums[G] (s0, s1: the signed scales of groups 0-7, 8-15 as i16) for the q8_K block at xb. */
@inline export function q3_offset(s0: v128, s1: v128, xb: usize): v128 {
  const s = i32x4.add(i32x4.dot_i16x8_s(s0, v128.load(xb, Q8_K_BSUMS)), i32x4.dot_i16x8_s(s1, v128.load(xb, Q8_K_BSUMS + 16)));
  return i32x4.shl(s, 2);
}

/** q5_K's msum Σ_j m_j·(bsums[2j] + bsums[2j+1]) for the q8_K block at xb (i32 lanes summing to it). */
@inline export function q5_msum(p: usize, xb: usize): v128 {
  return i32x4.dot_i16x8_s(mins_i16x8(p), bsum_pairs(xb));
}

/**
 * q5_K's (q4_K's) eight 6-bit scales and eight mins as bytes 0-7 and 8-15 (ggml's unpacking of
 * scales[12] = words a, b, c: scales a & 0x3f.., (c & 0x0f..) | ((a >> 2) & 0x30..), mins b & 0x3f..,
 * ((c >> 4) & 0x0f..) | ((b >> 2) & 0x30..)) in one vector; mlo, mhi the masks [0x3f.., 0x0f..] and
 * [0, 0x30..] per pair of words (made once per call).
 */
@inline export function q5_scales_mins(p: usize, mlo: v128, mhi: v128): v128 {
  const v = v128.load(p, Q5_K_SCALES); // words a, b, c (and four bytes of qh, unused)
  const x = i32x4.shuffle(v, i32x4.shr_u(v, 4), 0, 2, 1, 6); // a, c, b, c >> 4
  const y = i32x4.shr_u(i32x4.shuffle(v, v, 0, 0, 1, 1), 2); // a >> 2, a >> 2, b >> 2, b >> 2
  return v128.or(v128.and(x, mlo), v128.and(y, mhi));
}

/** The masks of q5_scales_mins. */
@inline export function q5_mask_lo(z: i32): v128 {
  return i64x2.splat(0x0f0f0f0f3f3f3f3f | <i64>z);
}
@inline export function q5_mask_hi(z: i32): v128 {
  return i64x2.splat(0x3030303000000000 | <i64>z);
}

/**
 * Four halves (the low 16 bits of each i32 lane, as gather_halves leaves them) as f32, bit for bit
 * f16_to_f32's and with no subnormal arithmetic (lib/f16.ts: ggml-quantized K-quant scales are often
 * subnormal halves): finite_halves_s_to_f32x4_ns_k, then infinity and NaN get the f32 all-ones exponent
 * (their mantissa kept, as f16_to_f32).
 */
@inline export function block_halves_to_f32x4(h: v128, bias: v128, exp1: v128, exp16: v128): v128 {
  const f = finite_halves_s_to_f32x4_ns_k(h, bias, exp1);
  const special = i32x4.eq(v128.and(i32x4.shl(h, 13), exp16), exp16);
  return v128.or(f, v128.and(special, i32x4.splat(F32_EXP)));
}

/** acc + (f32(isum)·(dx·d) − f32(msum)·(dx·dmin)) for four tokens (lane i = token i; dx their scales, d and dmin the block's). */
@inline export function tokens_min_value(acc: v128, isum: v128, msum: v128, dx: v128, d: f32, dmin: f32): v128 {
  const t = f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.mul(dx, f32x4.splat(d)));
  const u = f32x4.mul(f32x4.convert_i32x4_s(msum), f32x4.mul(dx, f32x4.splat(dmin)));
  return f32x4.add(acc, f32x4.sub(t, u));
}

/** i32 lanes [s_2k, s_2k, s_2k+1, s_2k+1] of scales held as i32 lanes (each scale in both i16 halves): two groups' scale vector for scaled_pair. */
@inline function pair_lanes(s: v128, k: i32): v128 {
  return k == 0 ? i32x4.shuffle(s, s, 0, 0, 1, 1) : i32x4.shuffle(s, s, 2, 2, 3, 3);
}

// ---- the SIMD128 integer sums --------------------------------------------------------------------

/** Σ q·qx over 16 values as i32 lanes (|lane| ≤ 4·q·128): q = 16 level bytes, qx = the 16 i8 at xq. */
@inline function sum16(q: v128, xq: usize): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(q), v128.load8x8_s(xq)), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(q), v128.load8x8_s(xq, 8)));
}

/** sc_a·Σa + sc_b·Σb: a, b two sums' i32 lanes (each within i16), sv their scales (pair_lanes). */
@inline function scaled_pair(a: v128, b: v128, sv: v128): v128 {
  return i32x4.dot_i16x8_s(i16x8.narrow_i32x4_s(a, b), sv);
}

/**
 * acc + groups 8h + 2k + {0, 1} for k = 0..3 of a q2_K (q3 false) or q3_K (q3 true) block: v0, v1 its qs
 * bytes 32h..32h+31, hm0, hm1 q3_K's hmask, x the groups' activations (values 128h..), P0, P1 the
 * groups' scales (pair form).
 */
@inline function q23_half(q3: bool, acc: v128, v0: v128, v1: v128, hm0: v128, hm1: v128, h: i32, x: usize, P0: v128, P1: v128, z: i32, m03: v128, m04: v128): v128 {
  const b = h << 2;
  acc = i32x4.add(acc, scaled_pair(
    sum16(q3 ? q3_levels(v0, hm0, 0, b, m03, m04) : q2_levels(v0, 0, m03), x),
    sum16(q3 ? q3_levels(v1, hm1, 0, b, m03, m04) : q2_levels(v1, 0, m03), x + 16), pair_lanes(P0, 0)));
  acc = i32x4.add(acc, scaled_pair(
    sum16(q3 ? q3_levels(v0, hm0, 1, b + 1, m03, m04) : q2_levels(v0, 1, m03), x + 32),
    sum16(q3 ? q3_levels(v1, hm1, 1, b + 1, m03, m04) : q2_levels(v1, 1, m03), x + 48), pair_lanes(P0, 1)));
  if (z != 0) return acc;
  acc = i32x4.add(acc, scaled_pair(
    sum16(q3 ? q3_levels(v0, hm0, 2, b + 2, m03, m04) : q2_levels(v0, 2, m03), x + 64),
    sum16(q3 ? q3_levels(v1, hm1, 2, b + 2, m03, m04) : q2_levels(v1, 2, m03), x + 80), pair_lanes(P1, 0)));
  return i32x4.add(acc, scaled_pair(
    sum16(q3 ? q3_levels(v0, hm0, 3, b + 3, m03, m04) : q2_levels(v0, 3, m03), x + 96),
    sum16(q3 ? q3_levels(v1, hm1, 3, b + 3, m03, m04) : q2_levels(v1, 3, m03), x + 112), pair_lanes(P1, 1)));
}

/** acc + sub-blocks 2c, 2c + 1 of the q5_K block at p (c a constant) · their 64 activations at xq + 64c; sp their scales' pair form. */
@inline function q5_chunk(acc: v128, p: usize, xq: usize, c: i32, sp: v128, m0f: v128, m10: v128): v128 {
  const q = p + Q5_K_QS + (<usize>c << 5), x = xq + (<usize>c << 6);
  const q0 = v128.load(q), q1 = v128.load(q, 16), h0 = v128.load(p, Q5_K_QH), h1 = v128.load(p, Q5_K_QH + 16);
  const j = c << 1;
  const a = i32x4.add(sum16(q5_levels(q0, h0, j, m0f, m10), x), sum16(q5_levels(q1, h1, j, m0f, m10), x + 16));
  const b = i32x4.add(sum16(q5_levels(q0, h0, j + 1, m0f, m10), x + 32), sum16(q5_levels(q1, h1, j + 1, m0f, m10), x + 48));
  return i32x4.add(acc, scaled_pair(a, b, pair_lanes(sp, c & 1)));
}

// ---- four rows: the block values ---------------------------------------------------------------

/** The q2_K (q3 false) or q3_K block at p · the q8_K block at xb: q2_K's isum, q3_K's isum less its offset (i32 lanes summing to it). */
@inline function q23_isum(q3: bool, p: usize, xb: usize, z: i32, m0f: v128, m03: v128, m04: v128, m20: v128): v128 {
  const scb = q3 ? q3_scale_bytes(p, m20) : v128.and(v128.load(p), m0f);
  const s0 = q3 ? i16x8.extend_low_i8x16_s(scb) : i16x8.extend_low_i8x16_u(scb);
  const s1 = q3 ? i16x8.extend_high_i8x16_s(scb) : i16x8.extend_high_i8x16_u(scb);
  const qs = p + (q3 ? Q3_K_QS : Q2_K_QS), xq = xb + Q8_K_QS;
  const hm0 = q3 ? v128.load(p) : m03, hm1 = q3 ? v128.load(p, 16) : m03;
  let isum = q23_half(q3, i32x4.splat(0), v128.load(qs), v128.load(qs, 16), hm0, hm1, 0, xq, scale_pairs_lo(s0), scale_pairs_hi(s0), z, m03, m04);
  if (z == 0) isum = q23_half(q3, isum, v128.load(qs, 32), v128.load(qs, 48), hm0, hm1, 1, xq + 128, scale_pairs_lo(s1), scale_pairs_hi(s1), z, m03, m04);
  return q3 ? i32x4.sub(isum, q3_offset(s0, s1, xb)) : isum;
}

/** The q5_K block at p · the q8_K block at xb: its isum (i32 lanes summing to it); s16 its scales as i16. */
@inline function q5_isum(p: usize, xb: usize, z: i32, m0f: v128, m10: v128, s16: v128): v128 {
  const sa = scale_pairs_lo(s16), sb = scale_pairs_hi(s16);
  const xq = xb + Q8_K_QS;
  let isum = q5_chunk(i32x4.splat(0), p, xq, 0, sa, m0f, m10);
  if (z == 0) isum = q5_chunk(isum, p, xq, 1, sa, m0f, m10);
  if (z == 0) isum = q5_chunk(isum, p, xq, 2, sb, m0f, m10);
  if (z == 0) isum = q5_chunk(isum, p, xq, 3, sb, m0f, m10);
  return isum;
}

/** acc + (f32(isum)·(dx·d) − f32(msum)·(dx·dmin)) lane-wise: the ABI's steps for four rows at once (q2_K, q5_K). */
@inline export function rows_min_value(acc: v128, isum: v128, msum: v128, dx: v128, d: v128, dmin: v128): v128 {
  const t = f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.mul(dx, d));
  const u = f32x4.mul(f32x4.convert_i32x4_s(msum), f32x4.mul(dx, dmin));
  return f32x4.add(acc, f32x4.sub(t, u));
}

/** One block of four rows (their blocks at p0..p3, lane i = row i) · the q8_K block at xb: acc + each row's block value. */
@inline function rows_block(wt: i32, acc: v128, p0: usize, p1: usize, p2: usize, p3: usize, xb: usize, z: i32, m0f: v128, m03: v128, m04: v128, m10: v128, m20: v128, bias: v128, exp1: v128, exp16: v128, mlo: v128, mhi: v128): v128 {
  const dx = f32x4.splat(load<f32>(xb));
  if (wt == W_Q5_K) {
    // each row's scales (bytes 0-7) and mins (8-15); the mins dotted with the activation's bsum pairs
    const bp = bsum_pairs(xb);
    let sm = q5_scales_mins(p0, mlo, mhi);
    let i0 = q5_isum(p0, xb, z, m0f, m10, i16x8.extend_low_i8x16_u(sm)), i1 = i0, i2 = i0, i3 = i0;
    let n0 = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(sm), bp), n1 = n0, n2 = n0, n3 = n0;
    if (z == 0) {
      sm = q5_scales_mins(p1, mlo, mhi);
      i1 = q5_isum(p1, xb, z, m0f, m10, i16x8.extend_low_i8x16_u(sm));
      n1 = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(sm), bp);
    }
    if (z == 0) {
      sm = q5_scales_mins(p2, mlo, mhi);
      i2 = q5_isum(p2, xb, z, m0f, m10, i16x8.extend_low_i8x16_u(sm));
      n2 = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(sm), bp);
    }
    if (z == 0) {
      sm = q5_scales_mins(p3, mlo, mhi);
      i3 = q5_isum(p3, xb, z, m0f, m10, i16x8.extend_low_i8x16_u(sm));
      n3 = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(sm), bp);
    }
    const isum = reduce4_i32(i0, i1, i2, i3);
    const msum = reduce4_i32(n0, n1, n2, n3);
    const d = block_halves_to_f32x4(gather_halves(p0, p1, p2, p3), bias, exp1, exp16);
    const dmin = block_halves_to_f32x4(gather_halves(p0 + Q5_K_DMIN, p1 + Q5_K_DMIN, p2 + Q5_K_DMIN, p3 + Q5_K_DMIN), bias, exp1, exp16);
    return rows_min_value(acc, isum, msum, dx, d, dmin);
  }
  const q3 = wt == W_Q3_K;
  let i0 = q23_isum(q3, p0, xb, z, m0f, m03, m04, m20), i1 = i0, i2 = i0, i3 = i0;
  if (z == 0) i1 = q23_isum(q3, p1, xb, z, m0f, m03, m04, m20);
  if (z == 0) i2 = q23_isum(q3, p2, xb, z, m0f, m03, m04, m20);
  if (z == 0) i3 = q23_isum(q3, p3, xb, z, m0f, m03, m04, m20);
  const isum = reduce4_i32(i0, i1, i2, i3);
  if (q3) {
    const d = block_halves_to_f32x4(gather_halves(p0 + Q3_K_D, p1 + Q3_K_D, p2 + Q3_K_D, p3 + Q3_K_D), bias, exp1, exp16);
    return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.mul(dx, d)));
  }
  const msum = reduce4_i32(q2_msum(p0, xb, m0f), q2_msum(p1, xb, m0f), q2_msum(p2, xb, m0f), q2_msum(p3, xb, m0f));
  const d = block_halves_to_f32x4(gather_halves(p0 + Q2_K_D, p1 + Q2_K_D, p2 + Q2_K_D, p3 + Q2_K_D), bias, exp1, exp16);
  const dmin = block_halves_to_f32x4(gather_halves(p0 + Q2_K_DMIN, p1 + Q2_K_DMIN, p2 + Q2_K_DMIN, p3 + Q2_K_DMIN), bias, exp1, exp16);
  return rows_min_value(acc, isum, msum, dx, d, dmin);
}

// ---- four tokens: the block values --------------------------------------------------------------

/** acc + sc_a·Σ a·qx + sc_b·Σ b·qx for one token: a0/a1, b0/b1 two groups' levels widened (values 0-7, 8-15), their activations at xa, xa + 16. */
@inline function token_pair(acc: v128, xa: usize, a0: v128, a1: v128, b0: v128, b1: v128, sv: v128): v128 {
  const a = i32x4.add(i32x4.dot_i16x8_s(a0, v128.load8x8_s(xa)), i32x4.dot_i16x8_s(a1, v128.load8x8_s(xa, 8)));
  const b = i32x4.add(i32x4.dot_i16x8_s(b0, v128.load8x8_s(xa, 16)), i32x4.dot_i16x8_s(b1, v128.load8x8_s(xa, 24)));
  return i32x4.add(acc, scaled_pair(a, b, sv));
}

/** The levels of group 2P + half (P a constant): field P % 4 of qs bytes 32·(P / 4) + 16·half..; q3_K's with bit P of hmask[16·half..]. */
@inline function tok_levels(q3: bool, qs: usize, p: usize, P: i32, half: i32, m03: v128, m04: v128): v128 {
  const v = v128.load(qs + (<usize>(P >> 2) << 5) + (<usize>half << 4));
  return q3 ? q3_levels(v, v128.load(p + (<usize>half << 4)), P & 3, P, m03, m04) : q2_levels(v, P & 3, m03);
}

/** acc + sc_j·Σ q·qx over a q5_K sub-block for one token: w0..w3 its 32 levels widened, xs its activations. */
@inline function token_sub(acc: v128, xs: usize, w0: v128, w1: v128, w2: v128, w3: v128, sc: v128): v128 {
  const a = i32x4.add(i32x4.dot_i16x8_s(w0, v128.load8x8_s(xs)), i32x4.dot_i16x8_s(w1, v128.load8x8_s(xs, 8)));
  const b = i32x4.add(i32x4.dot_i16x8_s(w2, v128.load8x8_s(xs, 16)), i32x4.dot_i16x8_s(w3, v128.load8x8_s(xs, 24)));
  return i32x4.add(acc, i32x4.mul(i32x4.add(a, b), sc));
}

/** acc + the weight block at p · the q8_K blocks at a0..a3, lane i = token i: each group unpacked once for the four tokens. */
@inline function tokens_value(wt: i32, acc: v128, p: usize, a0: usize, a1: usize, a2: usize, a3: usize): v128 {
  // the masks, made once per block (the tile driver passes none)
  const m0f = i8x16.splat(0x0f), m03 = i8x16.splat(0x03), m04 = i8x16.splat(0x04), m10 = i8x16.splat(0x10);
  let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
  const dx = gather_f32(a0, a1, a2, a3);
  if (wt == W_Q5_K) {
    const scales = q4k_scales(p);
    const h0 = v128.load(p, Q5_K_QH), h1 = v128.load(p, Q5_K_QH + 16);
    for (let j = 0; j < 8; j++) {
      // sub-block j: chunk j/2's nibbles (low for even j) | bit j of qh << 4, as in q5_levels
      const q = p + Q5_K_QS + (<usize>(j >> 1) << 5);
      const shift = (j & 1) << 2;
      const l0 = v128.or(v128.and(i16x8.shr_u(v128.load(q), shift), m0f), v128.and(i16x8.shl(i16x8.shr_u(h0, j), 4), m10));
      const l1 = v128.or(v128.and(i16x8.shr_u(v128.load(q, 16), shift), m0f), v128.and(i16x8.shl(i16x8.shr_u(h1, j), 4), m10));
      const w0 = i16x8.extend_low_i8x16_u(l0), w1 = i16x8.extend_high_i8x16_u(l0), w2 = i16x8.extend_low_i8x16_u(l1), w3 = i16x8.extend_high_i8x16_u(l1);
      const sc = i32x4.splat(<i32>(scales >> (<u64>j << 3)) & 0xff);
      const xo = <usize>Q8_K_QS + (<usize>j << 5);
      i0 = token_sub(i0, a0 + xo, w0, w1, w2, w3, sc);
      i1 = token_sub(i1, a1 + xo, w0, w1, w2, w3, sc);
      i2 = token_sub(i2, a2 + xo, w0, w1, w2, w3, sc);
      i3 = token_sub(i3, a3 + xo, w0, w1, w2, w3, sc);
    }
    const msum = reduce4_i32(q5_msum(p, a0), q5_msum(p, a1), q5_msum(p, a2), q5_msum(p, a3));
    return tokens_min_value(acc, reduce4_i32(i0, i1, i2, i3), msum, dx, f16_to_f32(load<u16>(p)), f16_to_f32(load<u16>(p, Q5_K_DMIN)));
  }
  const q3 = wt == W_Q3_K;
  const scb = q3 ? q3_scale_bytes(p, i8x16.splat(0x20)) : v128.and(v128.load(p), m0f);
  const s0 = q3 ? i16x8.extend_low_i8x16_s(scb) : i16x8.extend_low_i8x16_u(scb);
  const s1 = q3 ? i16x8.extend_high_i8x16_s(scb) : i16x8.extend_high_i8x16_u(scb);
  const qs = p + (q3 ? Q3_K_QS : Q2_K_QS);
  // pairs P = 0..7 written out (constant shifts and lanes), each after the first its own basic block
  // (`if (z == 0)`: V8 issues a basic block's loads first); z is 0 (a0 > a1 and a1 > a0 never both
  // hold), which the compilers do not fold
  const z = <i32>(a0 > a1) & <i32>(a1 > a0);
  const g0 = scale_pairs_lo(s0), g1 = scale_pairs_hi(s0), g2 = scale_pairs_lo(s1), g3 = scale_pairs_hi(s1);
  let la: v128, lb: v128, sv: v128;
  la = tok_levels(q3, qs, p, 0, 0, m03, m04);
  lb = tok_levels(q3, qs, p, 0, 1, m03, m04);
  sv = pair_lanes(g0, 0);
  i0 = token_pair(i0, a0 + <usize>Q8_K_QS, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
  i1 = token_pair(i1, a1 + <usize>Q8_K_QS, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
  i2 = token_pair(i2, a2 + <usize>Q8_K_QS, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
  i3 = token_pair(i3, a3 + <usize>Q8_K_QS, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
  if (z == 0) {
    la = tok_levels(q3, qs, p, 1, 0, m03, m04);
    lb = tok_levels(q3, qs, p, 1, 1, m03, m04);
    sv = pair_lanes(g0, 1);
    i0 = token_pair(i0, a0 + <usize>Q8_K_QS + 32, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i1 = token_pair(i1, a1 + <usize>Q8_K_QS + 32, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i2 = token_pair(i2, a2 + <usize>Q8_K_QS + 32, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i3 = token_pair(i3, a3 + <usize>Q8_K_QS + 32, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
  }
  if (z == 0) {
    la = tok_levels(q3, qs, p, 2, 0, m03, m04);
    lb = tok_levels(q3, qs, p, 2, 1, m03, m04);
    sv = pair_lanes(g1, 0);
    i0 = token_pair(i0, a0 + <usize>Q8_K_QS + 64, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i1 = token_pair(i1, a1 + <usize>Q8_K_QS + 64, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i2 = token_pair(i2, a2 + <usize>Q8_K_QS + 64, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i3 = token_pair(i3, a3 + <usize>Q8_K_QS + 64, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
  }
  if (z == 0) {
    la = tok_levels(q3, qs, p, 3, 0, m03, m04);
    lb = tok_levels(q3, qs, p, 3, 1, m03, m04);
    sv = pair_lanes(g1, 1);
    i0 = token_pair(i0, a0 + <usize>Q8_K_QS + 96, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i1 = token_pair(i1, a1 + <usize>Q8_K_QS + 96, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i2 = token_pair(i2, a2 + <usize>Q8_K_QS + 96, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i3 = token_pair(i3, a3 + <usize>Q8_K_QS + 96, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
  }
  if (z == 0) {
    la = tok_levels(q3, qs, p, 4, 0, m03, m04);
    lb = tok_levels(q3, qs, p, 4, 1, m03, m04);
    sv = pair_lanes(g2, 0);
    i0 = token_pair(i0, a0 + <usize>Q8_K_QS + 128, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i1 = token_pair(i1, a1 + <usize>Q8_K_QS + 128, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i2 = token_pair(i2, a2 + <usize>Q8_K_QS + 128, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i3 = token_pair(i3, a3 + <usize>Q8_K_QS + 128, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
  }
  if (z == 0) {
    la = tok_levels(q3, qs, p, 5, 0, m03, m04);
    lb = tok_levels(q3, qs, p, 5, 1, m03, m04);
    sv = pair_lanes(g2, 1);
    i0 = token_pair(i0, a0 + <usize>Q8_K_QS + 160, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i1 = token_pair(i1, a1 + <usize>Q8_K_QS + 160, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i2 = token_pair(i2, a2 + <usize>Q8_K_QS + 160, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i3 = token_pair(i3, a3 + <usize>Q8_K_QS + 160, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
  }
  if (z == 0) {
    la = tok_levels(q3, qs, p, 6, 0, m03, m04);
    lb = tok_levels(q3, qs, p, 6, 1, m03, m04);
    sv = pair_lanes(g3, 0);
    i0 = token_pair(i0, a0 + <usize>Q8_K_QS + 192, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i1 = token_pair(i1, a1 + <usize>Q8_K_QS + 192, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i2 = token_pair(i2, a2 + <usize>Q8_K_QS + 192, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i3 = token_pair(i3, a3 + <usize>Q8_K_QS + 192, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
  }
  if (z == 0) {
    la = tok_levels(q3, qs, p, 7, 0, m03, m04);
    lb = tok_levels(q3, qs, p, 7, 1, m03, m04);
    sv = pair_lanes(g3, 1);
    i0 = token_pair(i0, a0 + <usize>Q8_K_QS + 224, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i1 = token_pair(i1, a1 + <usize>Q8_K_QS + 224, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i2 = token_pair(i2, a2 + <usize>Q8_K_QS + 224, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
    i3 = token_pair(i3, a3 + <usize>Q8_K_QS + 224, i16x8.extend_low_i8x16_u(la), i16x8.extend_high_i8x16_u(la), i16x8.extend_low_i8x16_u(lb), i16x8.extend_high_i8x16_u(lb), sv);
  }
  if (q3) {
    const off = reduce4_i32(q3_offset(s0, s1, a0), q3_offset(s0, s1, a1), q3_offset(s0, s1, a2), q3_offset(s0, s1, a3));
    const scale = f32x4.mul(dx, f32x4.splat(f16_to_f32(load<u16>(p, Q3_K_D))));
    return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(reduce4_i32(i0, i1, i2, i3), off)), scale));
  }
  const msum = reduce4_i32(q2_msum(p, a0, m0f), q2_msum(p, a1, m0f), q2_msum(p, a2, m0f), q2_msum(p, a3, m0f));
  return tokens_min_value(acc, reduce4_i32(i0, i1, i2, i3), msum, dx, f16_to_f32(load<u16>(p, Q2_K_D)), f16_to_f32(load<u16>(p, Q2_K_DMIN)));
}

// ---- get_row's unpacking (a group at a time) ----------------------------------------------------

/**
 * The block's sixteen group scales as bytes of two u64 (lo: groups 0-7, hi: 8-15), unsigned: q2_K's
 * low nibbles; q3_K's 6-bit scales + 32 (ggml's unpacking of scales[12]); for q5_K lo holds the eight
 * sub-block scales (group G uses byte G/2) and hi is unused.
 */
@inline function scales_lo(wt: i32, p: usize): u64 {
  if (wt == W_Q2_K) return load<u64>(p) & 0x0f0f0f0f0f0f0f0f;
  if (wt == W_Q5_K) return q4k_scales(p);
  const a = load<u32>(p, Q3_K_SCALES), b = load<u32>(p, Q3_K_SCALES + 4), c = load<u32>(p, Q3_K_SCALES + 8);
  return <u64>((a & 0x0f0f0f0f) | ((c & 0x03030303) << 4)) | (<u64>((b & 0x0f0f0f0f) | (((c >> 2) & 0x03030303) << 4)) << 32);
}
@inline function scales_hi(wt: i32, p: usize): u64 {
  if (wt == W_Q2_K) return load<u64>(p, 8) & 0x0f0f0f0f0f0f0f0f;
  if (wt == W_Q5_K) return 0;
  const a = load<u32>(p, Q3_K_SCALES), b = load<u32>(p, Q3_K_SCALES + 4), c = load<u32>(p, Q3_K_SCALES + 8);
  return <u64>(((a >> 4) & 0x0f0f0f0f) | (((c >> 4) & 0x03030303) << 4)) | (<u64>(((b >> 4) & 0x0f0f0f0f) | (((c >> 6) & 0x03030303) << 4)) << 32);
}

/** The integer scale of group G (q3_K's signed, the others' unsigned). */
@inline function group_scale(wt: i32, lo: u64, hi: u64, G: i32): i32 {
  if (wt == W_Q5_K) return <i32>(lo >> (<u64>(G >> 1) << 3)) & 0xff;
  const byte = <i32>((G < 8 ? lo : hi) >> (<u64>(G & 7) << 3)) & 0xff;
  return wt == W_Q3_K ? byte - 32 : byte;
}

/** The 16 unsigned levels of group G of the block at p, one byte each (q3_K: 0..7, its value minus 4). */
@inline function levels16(wt: i32, p: usize, G: i32): v128 {
  const slice = <usize>(G & 1) << 4;
  if (wt == W_Q5_K) {
    const j = G >> 1;
    const qs = v128.load(p + Q5_K_QS + (<usize>(j >> 1) << 5) + slice);
    const nibble = (j & 1) == 0 ? v128.and(qs, i8x16.splat(0x0f)) : i8x16.shr_u(qs, 4);
    const fifth = i8x16.shl(v128.and(i8x16.shr_u(v128.load(p + Q5_K_QH + slice), j), i8x16.splat(1)), 4);
    return v128.or(nibble, fifth);
  }
  const qsAt: usize = wt == W_Q2_K ? Q2_K_QS : Q3_K_QS;
  const two = v128.and(i8x16.shr_u(v128.load(p + qsAt + (<usize>(G >> 3) << 5) + slice), ((G >> 1) & 3) << 1), i8x16.splat(3));
  if (wt == W_Q2_K) return two;
  // q3_K's high bit of value 16G + i: bit G/2 of hmask[16·(G%2) + i]
  return v128.or(two, i8x16.shl(v128.and(i8x16.shr_u(v128.load(p + slice), G >> 1), i8x16.splat(1)), 2));
}

// ---- the drivers ----------------------------------------------------------------------------

/**
 * y[r] for r in [r0, r1): four rows per pass from the quarters of the range (each lane one long run of
 * rows, as act_q8_0.ts). The per-block step is K's rows_block, a method of a field-less class (one per
 * flavour, as tile.ts's K): the relaxed flavour's driver is this one with its own step.
 */
@inline export function matvec_quarters<K>(wt: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const k = changetype<K>(0);
  const wb = weight_bytes(wt);
  const nb = cols / Q2_K_BLOCK;
  const rowBytes = <usize>nb * wb;
  const z = cols >> 31;
  const m0f = mask(0x0f, z), m03 = mask(0x03, z), m04 = mask(0x04, z), m10 = mask(0x10, z), m20 = mask(0x20, z);
  // the block scales' conversion constants, kept in registers the same way
  const bias = i32x4.splat(F16_BIAS | z), exp1 = i32x4.splat(F16_EXP1 | z), exp16 = i32x4.splat(F16_EXP | z);
  const mlo = q5_mask_lo(z), mhi = q5_mask_hi(z); // q5_scales_mins's
  const q = (r1 - r0 + 3) >> 2; // rows per quarter
  const last = r1 - 1;
  for (let i = 0; i < q; i++) {
    const r = r0 + i;
    let p0 = row_ptr(w, r, last, rowBytes), p1 = row_ptr(w, r + q, last, rowBytes);
    let p2 = row_ptr(w, r + 2 * q, last, rowBytes), p3 = row_ptr(w, r + 3 * q, last, rowBytes);
    let xb = x;
    let acc = f32x4.splat(0);
    for (let b = 0; b < nb; b++) {
      acc = k.rows_block(wt, acc, p0, p1, p2, p3, xb, z, m0f, m03, m04, m10, m20, bias, exp1, exp16, mlo, mhi);
      p0 += wb;
      p1 += wb;
      p2 += wb;
      p3 += wb;
      xb += Q8_K_BYTES;
    }
    // never taken (z is 0): keeps the constants made once, before the loops
    if (z != 0) acc = v128.xor(v128.xor(v128.xor(acc, v128.xor(mlo, mhi)), v128.xor(bias, v128.xor(exp1, exp16))), v128.xor(v128.xor(m0f, m03), v128.xor(m04, v128.xor(m10, m20))));
    store_quarters(y, r, q, r1, acc);
  }
}

/** The SIMD128 step of matvec_quarters. */
@final @unmanaged class Rows {
  @inline rows_block(wt: i32, acc: v128, p0: usize, p1: usize, p2: usize, p3: usize, xb: usize, z: i32, m0f: v128, m03: v128, m04: v128, m10: v128, m20: v128, bias: v128, exp1: v128, exp16: v128, mlo: v128, mhi: v128): v128 {
    return rows_block(wt, acc, p0, p1, p2, p3, xb, z, m0f, m03, m04, m10, m20, bias, exp1, exp16, mlo, mhi);
  }
}

/** The K of tile.ts's token-tile driver: tokens_value per block (no constants of its own). */
@final @unmanaged class Tiles {
  @inline tile_const(wt: i32, i: i32, z: i32): v128 { return i32x4.splat(z); }
  @inline tokens(wt: i32, acc: v128, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, c0: v128, c1: v128, c2: v128, c3: v128, c4: v128, c5: v128, c6: v128, c7: v128): v128 {
    return tokens_value(wt, acc, p, a0, a1, a2, a3);
  }
}

@inline function matmul_any(wt: i32, w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_tiles<Tiles>(wt, w, x, y, rows, nTok, r0, r1, cols / Q2_K_BLOCK, weight_bytes(wt), Q8_K_BYTES, cols >> 31);
}

/** matvec_q2_K(w, x: q8_K*, y: f32*, cols, r0, r1). */
export function matvec_q2_K(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_quarters<Rows>(W_Q2_K, w, x, y, cols, r0, r1);
}

/** matmul_q2_K(w, x: q8_K*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q2_K(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_any(W_Q2_K, w, x, y, cols, rows, nTok, r0, r1);
}

/** matvec_q3_K(w, x: q8_K*, y: f32*, cols, r0, r1). */
export function matvec_q3_K(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_quarters<Rows>(W_Q3_K, w, x, y, cols, r0, r1);
}

/** matmul_q3_K(w, x: q8_K*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q3_K(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_any(W_Q3_K, w, x, y, cols, rows, nTok, r0, r1);
}

/** matvec_q5_K(w, x: q8_K*, y: f32*, cols, r0, r1). */
export function matvec_q5_K(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_quarters<Rows>(W_Q5_K, w, x, y, cols, r0, r1);
}

/** matmul_q5_K(w, x: q8_K*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q5_K(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_any(W_Q5_K, w, x, y, cols, rows, nTok, r0, r1);
}

// ---- get_row: ggml's dequantizers, the same f32 operations in the same order ---------------------

/** get_row_q2_K(w, out: f32*, cols, row): f32(d·sc)·q − f32(dmin·m) per value, as ggml's dequantize_row_q2_K. */
export function get_row_q2_K(w: usize, out: usize, cols: i32, row: i32): void {
  get_row_any(W_Q2_K, w, out, cols, row);
}

/** get_row_q3_K(w, out: f32*, cols, row): f32(d·sc)·(q − 4) per value, as ggml's dequantize_row_q3_K. */
export function get_row_q3_K(w: usize, out: usize, cols: i32, row: i32): void {
  get_row_any(W_Q3_K, w, out, cols, row);
}

/** get_row_q5_K(w, out: f32*, cols, row): f32(d·sc)·q − f32(dmin·m) per value, as ggml's dequantize_row_q5_K. */
export function get_row_q5_K(w: usize, out: usize, cols: i32, row: i32): void {
  get_row_any(W_Q5_K, w, out, cols, row);
}

@inline function get_row_any(wt: i32, w: usize, out: usize, cols: i32, row: i32): void {
  const wb = weight_bytes(wt);
  const nb = cols / Q2_K_BLOCK;
  let p = w + <usize>row * <usize>nb * wb;
  let o = out;
  for (let b = 0; b < nb; b++) {
    const lo = scales_lo(wt, p), hi = scales_hi(wt, p);
    const d = f16_to_f32(load<u16>(p + (wt == W_Q2_K ? <usize>Q2_K_D : wt == W_Q3_K ? <usize>Q3_K_D : 0)));
    const dmin = wt == W_Q3_K ? <f32>0 : f16_to_f32(load<u16>(p + <usize>(wt == W_Q2_K ? Q2_K_DMIN : Q5_K_DMIN)));
    const mins = wt == W_Q5_K ? q4k_mins(p) : 0;
    for (let G = 0; G < 16; G++) {
      const dl = f32x4.splat(d * <f32>group_scale(wt, lo, hi, G));
      const m = wt == W_Q2_K ? <i32>load<u8>(p + G) >> 4 : wt == W_Q5_K ? <i32>(mins >> (<u64>(G >> 1) << 3)) & 0xff : 0;
      const ml = f32x4.splat(dmin * <f32>m);
      const q = levels16(wt, p, G);
      const off = i32x4.splat(wt == W_Q3_K ? 4 : 0);
      const lo16 = i16x8.extend_low_i8x16_u(q), hi16 = i16x8.extend_high_i8x16_u(q);
      v128.store(o, value4(wt, i32x4.sub(i32x4.extend_low_i16x8_u(lo16), off), dl, ml));
      v128.store(o, value4(wt, i32x4.sub(i32x4.extend_high_i16x8_u(lo16), off), dl, ml), 16);
      v128.store(o, value4(wt, i32x4.sub(i32x4.extend_low_i16x8_u(hi16), off), dl, ml), 32);
      v128.store(o, value4(wt, i32x4.sub(i32x4.extend_high_i16x8_u(hi16), off), dl, ml), 48);
      o += 64;
    }
    p += wb;
  }
}

/** dl·q (q3_K), or dl·q − ml (q2_K, q5_K), four lanes. */
@inline function value4(wt: i32, q: v128, dl: v128, ml: v128): v128 {
  const v = f32x4.mul(f32x4.convert_i32x4_s(q), dl);
  return wt == W_Q3_K ? v : f32x4.sub(v, ml);
}
