// q4_K and q6_K weights with q8_K activations, as ggml_vec_dot_q4_K_q8_K and ggml_vec_dot_q6_K_q8_K.
//
// q4_K (super-blocks of 256: { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }, eight sub-blocks of 32
// with 6-bit scales sc_j and mins m_j; value = d·sc_j·q − dmin·m_j):
//   dot = Σ_blocks  dx·d·Σ_j sc_j·(Σ q·qx)  −  dx·dmin·Σ_j m_j·(bsums[2j] + bsums[2j+1])
// with both sums over j done in integers. Sub-block j lives in chunk j/2 (32 bytes of qs): the low
// nibbles for even j, the high nibbles for odd j. The nibbles are widened to u16 lanes by
// v128.load8x8_u and split with an AND and a shift; each sub-block's four i32x4.dot_i16x8_s partial
// sums are scaled by sc_j with one i32x4.mul. Per block, the integer totals are turned into floats
// once: t = f32(Σ sc·qq)·(dx·d), u = f32(Σ m·bsum)·(dx·dmin), acc += t − u.
//
// q6_K (super-blocks of 256: { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }; value =
// d·scales[g]·(q − 32) for the 16-value group g):
//   dot = Σ_blocks dx·d·(Σ_g sc_g·Σ q·qx − 32·Σ_g sc_g·bsums[g])
// all in integers per block, the −32 through q8_K's bsums. Sixteen values at a time are assembled in
// bytes (lib/quants.ts), widened to u16, multiplied with the activations by i32x4.dot_i16x8_s and
// scaled by their group's scale with one i32x4.mul. Per block, acc += f32(total)·(dx·d).
//
// The block dot products of one row (block_*) and of four tokens (tokens_*, lane i = token i) do the
// same operations lane-wise, so matmul and matvec (asm/matmul/kquants.ts) agree exactly. `z` is 0
// (cols >> 31) but unknown to the compiler:
// the branches between a block's chunks (q4_K) or slices (q6_K) split the basic block, so V8 (which
// issues a block's loads before its arithmetic) keeps their vectors in registers instead of spilling.
import { Q4_K_DMIN, Q4_K_QS, Q4_K_SCALES, Q6_K_D, Q6_K_QH, Q6_K_SCALES, Q8_K_BSUMS, Q8_K_QS } from '../lib/blocks';
import { f16_to_f32 } from '../lib/f16';
import {
  bytes_to_i32x4, half_scales_hi, half_scales_lo, q4k_mins, q6_group1, q6_group2, q6_group3,
  q6_group4, q6_group_at, scales_0_3, scales_4_7,
} from '../lib/quants';
import { gather_f32, hsum_i32, lane, reduce4_i32 } from '../lib/simd';

// ---- q4_K weights ----------------------------------------------------------------------------

/** A q8_K block's 16 bsums summed in pairs: the eight 32-value sums as i16 lanes. */
@inline function bsum_pairs(xb: usize): v128 {
  return i16x8.narrow_i32x4_s(
    i32x4.extadd_pairwise_i16x8_s(v128.load(xb, Q8_K_BSUMS)),
    i32x4.extadd_pairwise_i16x8_s(v128.load(xb, Q8_K_BSUMS + 16)),
  );
}

/** The eight mins of the q4_K block at p as i16 lanes. */
@inline function mins_i16x8(p: usize): v128 {
  return i16x8.extend_low_i8x16_u(i64x2.splat(q4k_mins(p)));
}

/** Σ q·qx over 32 values: q = the u16 lanes w0..w3, qx = the 32 i8 at xq. */
@inline export function dot32(w0: v128, w1: v128, w2: v128, w3: v128, xq: usize): v128 {
  const a = i32x4.add(i32x4.dot_i16x8_s(w0, v128.load8x8_s(xq)), i32x4.dot_i16x8_s(w1, v128.load8x8_s(xq, 8)));
  const b = i32x4.add(i32x4.dot_i16x8_s(w2, v128.load8x8_s(xq, 16)), i32x4.dot_i16x8_s(w3, v128.load8x8_s(xq, 24)));
  return i32x4.add(a, b);
}

/** One chunk (64 values: 32 bytes of qs at q) · the 64 activations at xq, scaled by splat(sc_even), splat(sc_odd). */
@inline function chunk(q: usize, xq: usize, scEven: v128, scOdd: v128): v128 {
  const m = i16x8.splat(0x0f);
  const a0 = v128.load8x8_u(q), a1 = v128.load8x8_u(q, 8), a2 = v128.load8x8_u(q, 16), a3 = v128.load8x8_u(q, 24);
  const lo = dot32(v128.and(a0, m), v128.and(a1, m), v128.and(a2, m), v128.and(a3, m), xq);
  const hi = dot32(i16x8.shr_u(a0, 4), i16x8.shr_u(a1, 4), i16x8.shr_u(a2, 4), i16x8.shr_u(a3, 4), xq + 32);
  return i32x4.add(i32x4.mul(lo, scEven), i32x4.mul(hi, scOdd));
}

/** One q4_K block at p · one q8_K block at xb: t − u. */
@inline export function block_q4_K(p: usize, xb: usize, z: i32): f32 {
  const a = load<u32>(p, Q4_K_SCALES), c = load<u32>(p, Q4_K_SCALES + 8);
  const sl = bytes_to_i32x4(scales_0_3(a)), sh = bytes_to_i32x4(scales_4_7(a, c));
  const q = p + Q4_K_QS, xq = xb + Q8_K_QS;
  let isum = chunk(q, xq, i32x4.shuffle(sl, sl, 0, 0, 0, 0), i32x4.shuffle(sl, sl, 1, 1, 1, 1));
  if (z == 0) isum = i32x4.add(isum, chunk(q + 32, xq + 64, i32x4.shuffle(sl, sl, 2, 2, 2, 2), i32x4.shuffle(sl, sl, 3, 3, 3, 3)));
  if (z == 0) isum = i32x4.add(isum, chunk(q + 64, xq + 128, i32x4.shuffle(sh, sh, 0, 0, 0, 0), i32x4.shuffle(sh, sh, 1, 1, 1, 1)));
  if (z == 0) isum = i32x4.add(isum, chunk(q + 96, xq + 192, i32x4.shuffle(sh, sh, 2, 2, 2, 2), i32x4.shuffle(sh, sh, 3, 3, 3, 3)));
  const msum = hsum_i32(i32x4.dot_i16x8_s(mins_i16x8(p), bsum_pairs(xb)));
  const dx = load<f32>(xb);
  const t = <f32>hsum_i32(isum) * (dx * f16_to_f32(load<u16>(p)));
  const u = <f32>msum * (dx * f16_to_f32(load<u16>(p, Q4_K_DMIN)));
  return t - u;
}

/** The four tokens' min terms Σ_j m_j·(bsums[2j] + bsums[2j+1]) for the q4_K block at p (lane i = the q8_K block at a_i). */
@inline export function q4k_msum4(p: usize, a0: usize, a1: usize, a2: usize, a3: usize): v128 {
  const mins = mins_i16x8(p);
  return reduce4_i32(
    i32x4.dot_i16x8_s(mins, bsum_pairs(a0)), i32x4.dot_i16x8_s(mins, bsum_pairs(a1)),
    i32x4.dot_i16x8_s(mins, bsum_pairs(a2)), i32x4.dot_i16x8_s(mins, bsum_pairs(a3)),
  );
}

/** The four tokens' Σ_j sc_j·(Σ q·qx) from their i32 lanes (exact in i32 with 8-bit activations), as f32. */
@inline export function q4k_isum4(i0: v128, i1: v128, i2: v128, i3: v128): v128 {
  return f32x4.convert_i32x4_s(reduce4_i32(i0, i1, i2, i3));
}

// ---- q6_K weights ----------------------------------------------------------------------------

/** Σ q·qx over 16 values: q = 16 unsigned bytes, qx = the 16 i8 at xq. */
@inline function dot16(q: v128, xq: usize): v128 {
  return dot16w(i16x8.extend_low_i8x16_u(q), i16x8.extend_high_i8x16_u(q), xq);
}

/** Σ q·qx over 16 values already widened (q0: values 0-7, q1: 8-15) with the 16 i8 at xq. */
@inline function dot16w(q0: v128, q1: v128, xq: usize): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(q0, v128.load8x8_s(xq)), i32x4.dot_i16x8_s(q1, v128.load8x8_s(xq, 8)));
}

/** Σ_g sc_g·bsums[g] over the block's 16 groups (i32 lanes summing to it). */
@inline function scaled_bsums(p: usize, xb: usize): v128 {
  const s = v128.load(p, Q6_K_SCALES);
  return i32x4.add(
    i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(s), v128.load(xb, Q8_K_BSUMS)),
    i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(s), v128.load(xb, Q8_K_BSUMS + 16)),
  );
}

/**
 * One half (128 values) · its activations at xq, slice g (l = 16g..16g+16): the four groups, scaled by
 * the half's scales g, g+2, g+4, g+6 (lo = the half's scales 0-3, hi = 4-7).
 */
@inline function quarter(ql: usize, qh: usize, xq: usize, g: i32, lo: v128, hi: v128): v128 {
  const o = <usize>g << 4;
  const L0 = v128.load(ql + o), L32 = v128.load(ql + o, 32), H = v128.load(qh + o);
  let s = i32x4.mul(dot16(q6_group1(L0, H), xq + o), lane(lo, g));
  s = i32x4.add(s, i32x4.mul(dot16(q6_group2(L32, H), xq + o + 32), lane(lo, g + 2)));
  s = i32x4.add(s, i32x4.mul(dot16(q6_group3(L0, H), xq + o + 64), lane(hi, g)));
  return i32x4.add(s, i32x4.mul(dot16(q6_group4(L32, H), xq + o + 96), lane(hi, g + 2)));
}

/** One q6_K block at p · one q8_K block at xb. */
@inline export function block_q6_K(p: usize, xb: usize, z: i32): f32 {
  const sc = p + Q6_K_SCALES, qh = p + Q6_K_QH, xq = xb + Q8_K_QS;
  const lo0 = half_scales_lo(sc), hi0 = half_scales_hi(sc);
  let isum = quarter(p, qh, xq, 0, lo0, hi0);
  if (z == 0) isum = i32x4.add(isum, quarter(p, qh, xq, 1, lo0, hi0));
  if (z == 0) isum = i32x4.add(isum, quarter(p + 64, qh + 32, xq + 128, 0, half_scales_lo(sc + 8), half_scales_hi(sc + 8)));
  if (z == 0) isum = i32x4.add(isum, quarter(p + 64, qh + 32, xq + 128, 1, half_scales_lo(sc + 8), half_scales_hi(sc + 8)));
  isum = i32x4.sub(isum, i32x4.shl(scaled_bsums(p, xb), 5));
  return <f32>hsum_i32(isum) * (load<f32>(xb) * f16_to_f32(load<u16>(p, Q6_K_D)));
}

/** acc + the q6_K block at p · the q8_K blocks at a0..a3 (lane i = token i): each group assembled once for four tokens. */
@inline export function tokens_q6_K(acc: v128, p: usize, a0: usize, a1: usize, a2: usize, a3: usize): v128 {
  let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
  for (let v = 0; v < 16; v++) {
    // group v: half h = v >> 3, slice g = v & 1, kind k = (v >> 1) & 3, values 128h + 32k + 16g
    const h = <usize>(v >> 3), g = <usize>(v & 1), k = (v >> 1) & 3;
    const q = q6_group_at(p, h, g, k);
    const ql16 = i16x8.extend_low_i8x16_u(q), qh16 = i16x8.extend_high_i8x16_u(q);
    const sc = i32x4.splat(<i32>load<i8>(p + Q6_K_SCALES + (h << 3) + (g + (<usize>k << 1))));
    const xo = <usize>Q8_K_QS + (h << 7) + (<usize>k << 5) + (g << 4);
    i0 = i32x4.add(i0, i32x4.mul(dot16w(ql16, qh16, a0 + xo), sc));
    i1 = i32x4.add(i1, i32x4.mul(dot16w(ql16, qh16, a1 + xo), sc));
    i2 = i32x4.add(i2, i32x4.mul(dot16w(ql16, qh16, a2 + xo), sc));
    i3 = i32x4.add(i3, i32x4.mul(dot16w(ql16, qh16, a3 + xo), sc));
  }
  i0 = i32x4.sub(i0, i32x4.shl(scaled_bsums(p, a0), 5));
  i1 = i32x4.sub(i1, i32x4.shl(scaled_bsums(p, a1), 5));
  i2 = i32x4.sub(i2, i32x4.shl(scaled_bsums(p, a2), 5));
  i3 = i32x4.sub(i3, i32x4.shl(scaled_bsums(p, a3), 5));
  const dx = gather_f32(a0, a1, a2, a3);
  const scale = f32x4.mul(dx, f32x4.splat(f16_to_f32(load<u16>(p, Q6_K_D))));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(reduce4_i32(i0, i1, i2, i3)), scale));
}
