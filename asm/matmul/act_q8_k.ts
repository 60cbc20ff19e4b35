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
import { bytes_to_i32x4, q4k_mins, q6_group1, q6_group2, q6_group3, q6_group4, scales_0_3, scales_4_7 } from '../lib/quants';
import { gather_f32, hsum_i32, lane, reduce4_i32 } from '../lib/simd';

// ---- q4_K weights ----------------------------------------------------------------------------

/** A q8_K block's 16 bsums summed in pairs: the eight 32-value sums as i16 lanes (|sum| ≤ 4096). */
@inline export function bsum_pairs(xb: usize): v128 {
  return i16x8.narrow_i32x4_s(
    i32x4.extadd_pairwise_i16x8_s(v128.load(xb, Q8_K_BSUMS)),
    i32x4.extadd_pairwise_i16x8_s(v128.load(xb, Q8_K_BSUMS + 16)),
  );
}

/** The eight mins of the q4_K block at p as i16 lanes. */
@inline export function mins_i16x8(p: usize): v128 {
  return i16x8.extend_low_i8x16_u(i64x2.splat(q4k_mins(p)));
}

/** Σ q·qx over 32 values: q = the u16 lanes w0..w3, qx = the 32 i8 at xq. */
@inline export function dot32(w0: v128, w1: v128, w2: v128, w3: v128, xq: usize): v128 {
  const a = i32x4.add(i32x4.dot_i16x8_s(w0, v128.load8x8_s(xq)), i32x4.dot_i16x8_s(w1, v128.load8x8_s(xq, 8)));
  const b = i32x4.add(i32x4.dot_i16x8_s(w2, v128.load8x8_s(xq, 16)), i32x4.dot_i16x8_s(w3, v128.load8x8_s(xq, 24)));
  return i32x4.add(a, b);
}

/** One chunk (64 values: 32 bytes of qs at q) · the 64 activations at xq, scaled by splat(sc_even), splat(sc_odd). */
@inline function chunk(q: usize, xq: usize, scEven: v128, scOdd: v128, m: v128): v128 {
  const a0 = v128.load8x8_u(q), a1 = v128.load8x8_u(q, 8), a2 = v128.load8x8_u(q, 16), a3 = v128.load8x8_u(q, 24);
  const lo = dot32(v128.and(a0, m), v128.and(a1, m), v128.and(a2, m), v128.and(a3, m), xq);
  const hi = dot32(i16x8.shr_u(a0, 4), i16x8.shr_u(a1, 4), i16x8.shr_u(a2, 4), i16x8.shr_u(a3, 4), xq + 32);
  return i32x4.add(i32x4.mul(lo, scEven), i32x4.mul(hi, scOdd));
}

/** One q4_K block at p · one q8_K block at xb: t − u. */
@inline export function block_q4_K(p: usize, xb: usize, z: i32, m0f: v128): f32 {
  const a = load<u32>(p, Q4_K_SCALES), c = load<u32>(p, Q4_K_SCALES + 8);
  const sl = bytes_to_i32x4(scales_0_3(a)), sh = bytes_to_i32x4(scales_4_7(a, c));
  const q = p + Q4_K_QS, xq = xb + Q8_K_QS;
  let isum = chunk(q, xq, i32x4.shuffle(sl, sl, 0, 0, 0, 0), i32x4.shuffle(sl, sl, 1, 1, 1, 1), m0f);
  if (z == 0) isum = i32x4.add(isum, chunk(q + 32, xq + 64, i32x4.shuffle(sl, sl, 2, 2, 2, 2), i32x4.shuffle(sl, sl, 3, 3, 3, 3), m0f));
  if (z == 0) isum = i32x4.add(isum, chunk(q + 64, xq + 128, i32x4.shuffle(sh, sh, 0, 0, 0, 0), i32x4.shuffle(sh, sh, 1, 1, 1, 1), m0f));
  if (z == 0) isum = i32x4.add(isum, chunk(q + 96, xq + 192, i32x4.shuffle(sh, sh, 2, 2, 2, 2), i32x4.shuffle(sh, sh, 3, 3, 3, 3), m0f));
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
// Per group of 16 values (16 unsigned 6-bit quants u, 0..63) both sides are widened to i16 and
// i32x4.dot_i16x8_s gives four i32 lanes of two products each; the two halves' lanes added hold four
// products, |lane| ≤ 4·63·128 = 32,256, so two groups' lanes narrow exactly into one i16x8
// (i16x8.narrow_i32x4_s) and one more i32x4.dot_i16x8_s multiplies them by their groups' scales (the
// i16 lanes [sc_a ×4, sc_b ×4]): no i32 multiply (two slow uops on Intel) and no scale splat per group.
// The scales are kept as i32 lanes holding one scale in both i16 halves (groups 4k..4k+3 of a half),
// so a pair's scale vector is one i32x4.shuffle. The −32 comes off through the bsums per block:
// Σ_g sc_g·(Σ u·qx − 32·bsums[g]). All exact in i32 (|Σ_g sc_g·Σ u·qx| ≤ 256·63·128·128).

/** Σ u·qx over one group as i32 lanes (|lane| ≤ 32,256): u = 16 unsigned bytes, qx = the 16 i8 at xq. */
@inline function group_sum(u: v128, xq: usize): v128 {
  return i32x4.add(
    i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(u), v128.load8x8_s(xq)),
    i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(u), v128.load8x8_s(xq, 8)),
  );
}

/** Two groups' sums (a, b: i32 lanes within i16) times their scales (sv: [sc_a, sc_a, sc_b, sc_b] as i32 lanes of i16 pairs). */
@inline function scaled_pair(a: v128, b: v128, sv: v128): v128 {
  return i32x4.dot_i16x8_s(i16x8.narrow_i32x4_s(a, b), sv);
}

/** [sc_k, sc_k, sc_k+2, sc_k+2] (k = 0, 1) of four groups' scales held as i32 lanes of i16 pairs. */
@inline function pair_scales(s: v128, k: i32): v128 {
  return k == 0 ? i32x4.shuffle(s, s, 0, 0, 2, 2) : i32x4.shuffle(s, s, 1, 1, 3, 3);
}

/** Eight i16 scales (lanes 0-7) duplicated into i32 lanes, each scale in both halves: lanes 0-3 (lo), 4-7 (hi). */
@inline export function scale_pairs_lo(s16: v128): v128 {
  return i16x8.shuffle(s16, s16, 0, 0, 1, 1, 2, 2, 3, 3);
}
@inline export function scale_pairs_hi(s16: v128): v128 {
  return i16x8.shuffle(s16, s16, 4, 4, 5, 5, 6, 6, 7, 7);
}

/** −32·Σ_g sc_g·bsums[g] over the block's 16 groups (i32 lanes summing to it): q6_K's offset through the q8_K block at xb; s0, s1 = the i16 scales of groups 0-7, 8-15. */
@inline export function q6_offset_sum(s0: v128, s1: v128, xb: usize): v128 {
  const bs = i32x4.add(i32x4.dot_i16x8_s(s0, v128.load(xb, Q8_K_BSUMS)), i32x4.dot_i16x8_s(s1, v128.load(xb, Q8_K_BSUMS + 16)));
  return i32x4.sub(i32x4.splat(0), i32x4.shl(bs, 5));
}

/**
 * One slice of a q6_K half (values l = 16g..16g+16 of each kind k: 128h + 32k + l): quants from ql
 * (ql[l], ql[l + 32]) and qh, activations at xs (kind k at xs + 32k); sa/sb the half's scales (lo/hi
 * pairs), of which this slice's groups take lanes g and g + 2. Returns acc + Σ_k sc·Σ u·qx.
 */
@inline function q6_slice(acc: v128, ql: usize, qh: usize, xs: usize, g: i32, sa: v128, sb: v128, m0f: v128, m30: v128): v128 {
  const L0 = v128.load(ql), L32 = v128.load(ql, 32), H = v128.load(qh);
  const a = group_sum(q6_group1(L0, H, m0f, m30), xs);
  const b = group_sum(q6_group2(L32, H, m0f, m30), xs + 32);
  acc = i32x4.add(acc, scaled_pair(a, b, pair_scales(sa, g)));
  const c = group_sum(q6_group3(L0, H, m0f, m30), xs + 64);
  const d = group_sum(q6_group4(L32, H, m0f, m30), xs + 96);
  return i32x4.add(acc, scaled_pair(c, d, pair_scales(sb, g)));
}

/** The q6_K block at p · the q8_K block at xb: Σ_g sc_g·(Σ u·qx − 32·bsums[g]) as i32 lanes. */
@inline export function q6_isum(p: usize, xb: usize, z: i32, m0f: v128, m30: v128): v128 {
  const s0 = v128.load8x8_s(p, Q6_K_SCALES), s1 = v128.load8x8_s(p, Q6_K_SCALES + 8);
  const xq = xb + Q8_K_QS, qh = p + Q6_K_QH;
  let acc = q6_offset_sum(s0, s1, xb);
  let sa = scale_pairs_lo(s0), sb = scale_pairs_hi(s0);
  acc = q6_slice(acc, p, qh, xq, 0, sa, sb, m0f, m30);
  if (z == 0) acc = q6_slice(acc, p + 16, qh + 16, xq + 16, 1, sa, sb, m0f, m30);
  sa = scale_pairs_lo(s1);
  sb = scale_pairs_hi(s1);
  if (z == 0) acc = q6_slice(acc, p + 64, qh + 32, xq + 128, 0, sa, sb, m0f, m30);
  if (z == 0) acc = q6_slice(acc, p + 80, qh + 48, xq + 144, 1, sa, sb, m0f, m30);
  return acc;
}

/** One q6_K block at p · one q8_K block at xb: f32(Σ)·(dx·d). */
@inline export function block_q6_K(p: usize, xb: usize, z: i32, m0f: v128, m30: v128): f32 {
  return <f32>hsum_i32(q6_isum(p, xb, z, m0f, m30)) * (load<f32>(xb) * f16_to_f32(load<u16>(p, Q6_K_D)));
}

/** One token's two groups (widened quants a0/a1 and b0/b1, activations at xa and xb) scaled by sv. */
@inline function token_pair(acc: v128, a0: v128, a1: v128, b0: v128, b1: v128, xa: usize, xb: usize, sv: v128): v128 {
  const a = i32x4.add(i32x4.dot_i16x8_s(a0, v128.load8x8_s(xa)), i32x4.dot_i16x8_s(a1, v128.load8x8_s(xa, 8)));
  const b = i32x4.add(i32x4.dot_i16x8_s(b0, v128.load8x8_s(xb)), i32x4.dot_i16x8_s(b1, v128.load8x8_s(xb, 8)));
  return i32x4.add(acc, scaled_pair(a, b, sv));
}

/** acc + the q6_K block at p · the q8_K blocks at a0..a3 (lane i = token i): each group pair's quants widened once for the four tokens. */
@inline export function tokens_q6_K(acc: v128, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, m0f: v128, m30: v128): v128 {
  const s0 = v128.load8x8_s(p, Q6_K_SCALES), s1 = v128.load8x8_s(p, Q6_K_SCALES + 8);
  let i0 = q6_offset_sum(s0, s1, a0);
  let i1 = q6_offset_sum(s0, s1, a1);
  let i2 = q6_offset_sum(s0, s1, a2);
  let i3 = q6_offset_sum(s0, s1, a3);
  for (let v: usize = 0; v < 8; v++) {
    // pair v: half h = v >> 2, slice g = (v >> 1) & 1, kinds 2c and 2c + 1 (c = v & 1): the groups
    // 8h + 4c + g and 8h + 4c + 2 + g, scales at those bytes
    const h = v >> 2, g = (v >> 1) & 1, c = v & 1;
    const ql = p + (h << 6) + (g << 4), H = v128.load(p + Q6_K_QH + (h << 5) + (g << 4));
    let ua: v128, ub: v128;
    if (c == 0) {
      ua = q6_group1(v128.load(ql), H, m0f, m30);
      ub = q6_group2(v128.load(ql, 32), H, m0f, m30);
    } else {
      ua = q6_group3(v128.load(ql), H, m0f, m30);
      ub = q6_group4(v128.load(ql, 32), H, m0f, m30);
    }
    const ua0 = i16x8.extend_low_i8x16_u(ua), ua1 = i16x8.extend_high_i8x16_u(ua);
    const ub0 = i16x8.extend_low_i8x16_u(ub), ub1 = i16x8.extend_high_i8x16_u(ub);
    const sc = p + Q6_K_SCALES + (h << 3) + (c << 2) + g;
    // [sa ×4, sb ×4] as i16 lanes, the order of narrow(a, b)
    const sv = i64x2.replace_lane(i64x2.splat(<i64>(<i32>load<i8>(sc) & 0xffff) * 0x0001000100010001), 1, <i64>(<i32>load<i8>(sc, 2) & 0xffff) * 0x0001000100010001);
    const xo = <usize>Q8_K_QS + (h << 7) + (c << 6) + (g << 4);
    i0 = token_pair(i0, ua0, ua1, ub0, ub1, a0 + xo, a0 + xo + 32, sv);
    i1 = token_pair(i1, ua0, ua1, ub0, ub1, a1 + xo, a1 + xo + 32, sv);
    i2 = token_pair(i2, ua0, ua1, ub0, ub1, a2 + xo, a2 + xo + 32, sv);
    i3 = token_pair(i3, ua0, ua1, ub0, ub1, a3 + xo, a3 + xo + 32, sv);
  }
  const dx = gather_f32(a0, a1, a2, a3);
  const scale = f32x4.mul(dx, f32x4.splat(f16_to_f32(load<u16>(p, Q6_K_D))));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(reduce4_i32(i0, i1, i2, i3)), scale));
}
