// The relaxed-SIMD q2_K, q3_K and q5_K kernels on q8_K activations: the baseline's exports
// (asm/matmul/q2_q3_q5_k.ts) with each group's 16 products done by one
// i16x8.relaxed_dot_i8x16_i7x16_s (PMADDUBSW on x86), each giving exactly the baseline's integer block
// sums and then the baseline's f32 steps, so the results are the baseline's bit for bit.
//
// The i7 rule: the relaxed dot's second operand must stay in 0..127: the weights go there as their
// unsigned levels (the baseline's unpackers: q2_K 0..3, q3_K 0..7 — its value + 4 —, q5_K 0..31), the
// q8_K activations (any i8) in the first operand. The offsets come off through q8_K's bsums as in the
// baseline: q2_K's and q5_K's mins (msum, its own f32 step), q3_K's −4·Σ_G sc_G·bsums[G].
//
// The relaxed dot's i16 pair sums go straight into i32x4.dot_i16x8_s against the group's (q5_K: the
// sub-block's) scale, held as i32 lanes with the scale in both i16 halves (one PSHUFD per group): no
// widening of the levels, no i32 multiply. The drivers have the baseline's shape: matvec four rows per
// pass from the quarters of the range with the f32 steps four rows at once, matmul four tokens per pass
// with each group's levels made once for the four (its groups written out: constant shifts and lanes).
//
// Exactness (no saturation, no overflow, so the sums are the baseline's integers):
// - a relaxed-dot i16 lane is q·x + q'·x' with |x| ≤ 128: q2_K ≤ 2·3·128 = 768, q3_K ≤ 1,792, q5_K
//   ≤ 7,936 (a q5_K sub-block's two vectors added: ≤ 15,872 < 2^15);
// - times the scale in pairs: q2_K ≤ 2·768·15, q3_K ≤ 2·1,792·32, q5_K ≤ 2·15,872·63 per i32 lane per
//   group (sub-block), sixteen groups (eight sub-blocks) far inside i32, as are the bsum terms
//   (≤ 16·15·2,048, 4·16·32·2,048, 8·63·4,096).
import { Q2_K_BLOCK, Q2_K_D, Q2_K_DMIN, Q2_K_QS, Q3_K_D, Q3_K_QS, Q5_K_DMIN, Q5_K_QH, Q5_K_QS, Q8_K_BYTES, Q8_K_QS } from '../../lib/blocks';
import { f16_to_f32 } from '../../lib/f16';
import { gather_f32, gather_halves, lane, reduce4_i32, store_lanes } from '../../lib/simd';
import { bsum_pairs, scale_pairs_hi, scale_pairs_lo } from '../../matmul/act_q8_k';
import {
  block_halves_to_f32x4, mask, matvec_quarters, q2_levels, q2_msum, q3_levels, q3_offset, q3_scale_bytes, q5_levels, q5_mask_hi, q5_mask_lo, q5_msum, q5_scales_mins,
  rows_min_value, tokens_min_value, W_Q2_K, W_Q3_K, W_Q5_K, weight_bytes,
} from '../../matmul/q2_q3_q5_k';


/** acc + sc·Σ q·x over 16 values: q the level bytes, x the 16 activations at xs, sc the scale in both i16 halves of each lane. */
@inline function group(acc: v128, xs: usize, q: v128, sc: v128): v128 {
  return i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xs), q), sc));
}

/** The levels of field k of the qs bytes v (q3_K: with bit hb of the hmask bytes hm). */
@inline function levels(q3: bool, v: v128, hm: v128, k: i32, hb: i32, m03: v128, m04: v128): v128 {
  return q3 ? q3_levels(v, hm, k, hb, m03, m04) : q2_levels(v, k, m03);
}

/** The scales of a q2_K (q3 false) or q3_K block as i16 lanes: groups 0-7 (half 0), 8-15 (half 1). */
@inline function q23_scales16(q3: bool, scb: v128, half: i32): v128 {
  if (q3) return half == 0 ? i16x8.extend_low_i8x16_s(scb) : i16x8.extend_high_i8x16_s(scb);
  return half == 0 ? i16x8.extend_low_i8x16_u(scb) : i16x8.extend_high_i8x16_u(scb);
}

// ---- one row's block sums, four rows per matvec pass ------------------------------------------------

/**
 * acc + groups 8h..8h+7 of a q2_K / q3_K block (h a constant): v0, v1 its qs bytes 32h..32h+31 (groups
 * 8h + 2k and 8h + 2k + 1 in field k), hm0, hm1 q3_K's hmask, x the activations of value 128h, s16 the
 * groups' scales as i16.
 */
@inline function q23_half(q3: bool, acc: v128, v0: v128, v1: v128, hm0: v128, hm1: v128, h: i32, x: usize, s16: v128, z: i32, m03: v128, m04: v128): v128 {
  const b = h << 2;
  const P0 = scale_pairs_lo(s16);
  acc = group(acc, x, levels(q3, v0, hm0, 0, b, m03, m04), lane(P0, 0));
  acc = group(acc, x + 16, levels(q3, v1, hm1, 0, b, m03, m04), lane(P0, 1));
  acc = group(acc, x + 32, levels(q3, v0, hm0, 1, b + 1, m03, m04), lane(P0, 2));
  acc = group(acc, x + 48, levels(q3, v1, hm1, 1, b + 1, m03, m04), lane(P0, 3));
  if (z != 0) return acc;
  const P1 = scale_pairs_hi(s16);
  acc = group(acc, x + 64, levels(q3, v0, hm0, 2, b + 2, m03, m04), lane(P1, 0));
  acc = group(acc, x + 80, levels(q3, v1, hm1, 2, b + 2, m03, m04), lane(P1, 1));
  acc = group(acc, x + 96, levels(q3, v0, hm0, 3, b + 3, m03, m04), lane(P1, 2));
  return group(acc, x + 112, levels(q3, v1, hm1, 3, b + 3, m03, m04), lane(P1, 3));
}

/** The q2_K (q3 false) or q3_K block at p · the q8_K block at xb: q2_K's isum, q3_K's isum less its offset (i32 lanes summing to it). */
@inline function q23_isum(q3: bool, p: usize, xb: usize, z: i32, m0f: v128, m03: v128, m04: v128, m20: v128): v128 {
  const scb = q3 ? q3_scale_bytes(p, m20) : v128.and(v128.load(p), m0f);
  const qs = p + (q3 ? Q3_K_QS : Q2_K_QS), xq = xb + Q8_K_QS;
  const hm0 = q3 ? v128.load(p) : m03, hm1 = q3 ? v128.load(p, 16) : m03;
  let isum = q23_half(q3, i32x4.splat(0), v128.load(qs), v128.load(qs, 16), hm0, hm1, 0, xq, q23_scales16(q3, scb, 0), z, m03, m04);
  if (z == 0) isum = q23_half(q3, isum, v128.load(qs, 32), v128.load(qs, 48), hm0, hm1, 1, xq + 128, q23_scales16(q3, scb, 1), z, m03, m04);
  return q3 ? i32x4.sub(isum, q3_offset(q23_scales16(q3, scb, 0), q23_scales16(q3, scb, 1), xb)) : isum;
}

/** acc + sub-blocks 2c, 2c + 1 of the q5_K block at p (c a constant) · their 64 activations at xq + 64c; sp their scales (pair form). */
@inline function q5_chunk(acc: v128, p: usize, xq: usize, c: i32, sp: v128, m0f: v128, m10: v128, h0: v128, h1: v128): v128 {
  const q = p + Q5_K_QS + (<usize>c << 5), x = xq + (<usize>c << 6);
  const q0 = v128.load(q), q1 = v128.load(q, 16);
  const j = c << 1, k = (c & 1) << 1;
  const a = i16x8.add(
    i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(x), q5_levels(q0, h0, j, m0f, m10)),
    i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(x, 16), q5_levels(q1, h1, j, m0f, m10)),
  );
  const b = i16x8.add(
    i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(x, 32), q5_levels(q0, h0, j + 1, m0f, m10)),
    i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(x, 48), q5_levels(q1, h1, j + 1, m0f, m10)),
  );
  return i32x4.add(acc, i32x4.add(i32x4.dot_i16x8_s(a, lane(sp, k)), i32x4.dot_i16x8_s(b, lane(sp, k + 1))));
}

/** The q5_K block at p · the q8_K block at xb: its isum (i32 lanes summing to it); s16 its scales as i16. */
@inline function q5_isum(p: usize, xb: usize, z: i32, m0f: v128, m10: v128, s16: v128): v128 {
  const sa = scale_pairs_lo(s16), sb = scale_pairs_hi(s16);
  const xq = xb + Q8_K_QS;
  const h0 = v128.load(p, Q5_K_QH), h1 = v128.load(p, Q5_K_QH + 16);
  let isum = q5_chunk(i32x4.splat(0), p, xq, 0, sa, m0f, m10, h0, h1);
  if (z == 0) isum = q5_chunk(isum, p, xq, 1, sa, m0f, m10, h0, h1);
  if (z == 0) isum = q5_chunk(isum, p, xq, 2, sb, m0f, m10, h0, h1);
  if (z == 0) isum = q5_chunk(isum, p, xq, 3, sb, m0f, m10, h0, h1);
  return isum;
}

/** One block of four rows (their blocks at p0..p3, lane i = row i) · the q8_K block at xb: acc + each row's block value, in the baseline's f32 steps. */
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
    const d = block_halves_to_f32x4(gather_halves(p0, p1, p2, p3), bias, exp1, exp16), dmin = block_halves_to_f32x4(gather_halves(p0 + Q5_K_DMIN, p1 + Q5_K_DMIN, p2 + Q5_K_DMIN, p3 + Q5_K_DMIN), bias, exp1, exp16);
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

/** The relaxed step of the shared matvec_quarters driver. */
@final @unmanaged class Rows {
  @inline rows_block(wt: i32, acc: v128, p0: usize, p1: usize, p2: usize, p3: usize, xb: usize, z: i32, m0f: v128, m03: v128, m04: v128, m10: v128, m20: v128, bias: v128, exp1: v128, exp16: v128, mlo: v128, mhi: v128): v128 {
    return rows_block(wt, acc, p0, p1, p2, p3, xb, z, m0f, m03, m04, m10, m20, bias, exp1, exp16, mlo, mhi);
  }
}

// ---- four tokens (lane i = token i) --------------------------------------------------------------

/** The levels of group 2P + half (P a constant): field P % 4 of qs bytes 32·(P / 4) + 16·half..; q3_K's with bit P of hmask[16·half..]. */
@inline function pair_levels(q3: bool, qs: usize, p: usize, P: i32, half: i32, m03: v128, m04: v128): v128 {
  const v = v128.load(qs + (<usize>(P >> 2) << 5) + (<usize>half << 4));
  return levels(q3, v, q3 ? v128.load(p + (<usize>half << 4)) : m03, P & 3, P, m03, m04);
}

/** acc + two neighbouring groups for one token: la, lb their levels, sa, sb their scales, xs their 32 activations. */
@inline function tok_pair(acc: v128, xs: usize, la: v128, lb: v128, sa: v128, sb: v128): v128 {
  return group(group(acc, xs, la, sa), xs + 16, lb, sb);
}

/** acc + sc·Σ q·x over a q5_K sub-block for one token: l0, l1 its 32 levels, xs their activations. */
@inline function tok_sub(acc: v128, xs: usize, l0: v128, l1: v128, sc: v128): v128 {
  const s = i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xs), l0), i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xs, 16), l1));
  return i32x4.add(acc, i32x4.dot_i16x8_s(s, sc));
}

@inline function matmul_any(wt: i32, w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const wb = weight_bytes(wt), xs: usize = Q8_K_BYTES;
  const nb = cols / Q2_K_BLOCK;
  const rowBytes = <usize>nb * wb, xBytes = <usize>nb * xs;
  const z = cols >> 31;
  const m0f = mask(0x0f, z), m03 = mask(0x03, z), m04 = mask(0x04, z), m10 = mask(0x10, z), m20 = mask(0x20, z);
  const mlo = q5_mask_lo(z), mhi = q5_mask_hi(z);
  const q3 = wt == W_Q3_K;
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const t0 = x + <usize>t * xBytes, t1 = x + <usize>min(t + 1, lastT) * xBytes;
    const t2 = x + <usize>min(t + 2, lastT) * xBytes, t3 = x + <usize>min(t + 3, lastT) * xBytes;
    for (let r = r0; r < r1; r++) {
      let p = w + <usize>r * rowBytes;
      let off: usize = 0;
      let acc = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        const a0 = t0 + off, a1 = t1 + off, a2 = t2 + off, a3 = t3 + off;
        let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
        const dx = gather_f32(a0, a1, a2, a3);
        if (wt == W_Q5_K) {
          const h0 = v128.load(p, Q5_K_QH), h1 = v128.load(p, Q5_K_QH + 16);
          // sub-blocks j = 0..7 written out (constant shifts and lanes; `if (z == 0)` ends a basic block):
          // chunk j / 2's low (even j) or high nibbles | bit j of qh, scale sc_j; ss the scales as i16 in pair form
          const s16 = i16x8.extend_low_i8x16_u(q5_scales_mins(p, mlo, mhi));
          const ss0 = scale_pairs_lo(s16), ss1 = scale_pairs_hi(s16);
          let l0: v128, l1: v128, sc: v128;
          l0 = q5_levels(v128.load(p + Q5_K_QS + 0), h0, 0, m0f, m10);
          l1 = q5_levels(v128.load(p + Q5_K_QS + 0, 16), h1, 0, m0f, m10);
          sc = lane(ss0, 0);
          i0 = tok_sub(i0, a0 + <usize>Q8_K_QS, l0, l1, sc);
          i1 = tok_sub(i1, a1 + <usize>Q8_K_QS, l0, l1, sc);
          i2 = tok_sub(i2, a2 + <usize>Q8_K_QS, l0, l1, sc);
          i3 = tok_sub(i3, a3 + <usize>Q8_K_QS, l0, l1, sc);
          if (z == 0) {
            l0 = q5_levels(v128.load(p + Q5_K_QS + 0), h0, 1, m0f, m10);
            l1 = q5_levels(v128.load(p + Q5_K_QS + 0, 16), h1, 1, m0f, m10);
            sc = lane(ss0, 1);
            i0 = tok_sub(i0, a0 + <usize>Q8_K_QS + 32, l0, l1, sc);
            i1 = tok_sub(i1, a1 + <usize>Q8_K_QS + 32, l0, l1, sc);
            i2 = tok_sub(i2, a2 + <usize>Q8_K_QS + 32, l0, l1, sc);
            i3 = tok_sub(i3, a3 + <usize>Q8_K_QS + 32, l0, l1, sc);
          }
          if (z == 0) {
            l0 = q5_levels(v128.load(p + Q5_K_QS + 32), h0, 2, m0f, m10);
            l1 = q5_levels(v128.load(p + Q5_K_QS + 32, 16), h1, 2, m0f, m10);
            sc = lane(ss0, 2);
            i0 = tok_sub(i0, a0 + <usize>Q8_K_QS + 64, l0, l1, sc);
            i1 = tok_sub(i1, a1 + <usize>Q8_K_QS + 64, l0, l1, sc);
            i2 = tok_sub(i2, a2 + <usize>Q8_K_QS + 64, l0, l1, sc);
            i3 = tok_sub(i3, a3 + <usize>Q8_K_QS + 64, l0, l1, sc);
          }
          if (z == 0) {
            l0 = q5_levels(v128.load(p + Q5_K_QS + 32), h0, 3, m0f, m10);
            l1 = q5_levels(v128.load(p + Q5_K_QS + 32, 16), h1, 3, m0f, m10);
            sc = lane(ss0, 3);
            i0 = tok_sub(i0, a0 + <usize>Q8_K_QS + 96, l0, l1, sc);
            i1 = tok_sub(i1, a1 + <usize>Q8_K_QS + 96, l0, l1, sc);
            i2 = tok_sub(i2, a2 + <usize>Q8_K_QS + 96, l0, l1, sc);
            i3 = tok_sub(i3, a3 + <usize>Q8_K_QS + 96, l0, l1, sc);
          }
          if (z == 0) {
            l0 = q5_levels(v128.load(p + Q5_K_QS + 64), h0, 4, m0f, m10);
            l1 = q5_levels(v128.load(p + Q5_K_QS + 64, 16), h1, 4, m0f, m10);
            sc = lane(ss1, 0);
            i0 = tok_sub(i0, a0 + <usize>Q8_K_QS + 128, l0, l1, sc);
            i1 = tok_sub(i1, a1 + <usize>Q8_K_QS + 128, l0, l1, sc);
            i2 = tok_sub(i2, a2 + <usize>Q8_K_QS + 128, l0, l1, sc);
            i3 = tok_sub(i3, a3 + <usize>Q8_K_QS + 128, l0, l1, sc);
          }
          if (z == 0) {
            l0 = q5_levels(v128.load(p + Q5_K_QS + 64), h0, 5, m0f, m10);
            l1 = q5_levels(v128.load(p + Q5_K_QS + 64, 16), h1, 5, m0f, m10);
            sc = lane(ss1, 1);
            i0 = tok_sub(i0, a0 + <usize>Q8_K_QS + 160, l0, l1, sc);
            i1 = tok_sub(i1, a1 + <usize>Q8_K_QS + 160, l0, l1, sc);
            i2 = tok_sub(i2, a2 + <usize>Q8_K_QS + 160, l0, l1, sc);
            i3 = tok_sub(i3, a3 + <usize>Q8_K_QS + 160, l0, l1, sc);
          }
          if (z == 0) {
            l0 = q5_levels(v128.load(p + Q5_K_QS + 96), h0, 6, m0f, m10);
            l1 = q5_levels(v128.load(p + Q5_K_QS + 96, 16), h1, 6, m0f, m10);
            sc = lane(ss1, 2);
            i0 = tok_sub(i0, a0 + <usize>Q8_K_QS + 192, l0, l1, sc);
            i1 = tok_sub(i1, a1 + <usize>Q8_K_QS + 192, l0, l1, sc);
            i2 = tok_sub(i2, a2 + <usize>Q8_K_QS + 192, l0, l1, sc);
            i3 = tok_sub(i3, a3 + <usize>Q8_K_QS + 192, l0, l1, sc);
          }
          if (z == 0) {
            l0 = q5_levels(v128.load(p + Q5_K_QS + 96), h0, 7, m0f, m10);
            l1 = q5_levels(v128.load(p + Q5_K_QS + 96, 16), h1, 7, m0f, m10);
            sc = lane(ss1, 3);
            i0 = tok_sub(i0, a0 + <usize>Q8_K_QS + 224, l0, l1, sc);
            i1 = tok_sub(i1, a1 + <usize>Q8_K_QS + 224, l0, l1, sc);
            i2 = tok_sub(i2, a2 + <usize>Q8_K_QS + 224, l0, l1, sc);
            i3 = tok_sub(i3, a3 + <usize>Q8_K_QS + 224, l0, l1, sc);
          }
          const msum = reduce4_i32(q5_msum(p, a0), q5_msum(p, a1), q5_msum(p, a2), q5_msum(p, a3));
          acc = tokens_min_value(acc, reduce4_i32(i0, i1, i2, i3), msum, dx, f16_to_f32(load<u16>(p)), f16_to_f32(load<u16>(p, Q5_K_DMIN)));
        } else {
          const scb = q3 ? q3_scale_bytes(p, m20) : v128.and(v128.load(p), m0f);
          const s0 = q23_scales16(q3, scb, 0), s1 = q23_scales16(q3, scb, 1);
          const qs = p + (q3 ? Q3_K_QS : Q2_K_QS);
          // pairs P = 0..7 written out (constant shifts and lanes; `if (z == 0)` ends a basic block, so V8
          // does not issue all eight pairs' loads first): groups 2P, 2P + 1, field P % 4 of qs half P / 4
          const g0 = scale_pairs_lo(s0), g1 = scale_pairs_hi(s0), g2 = scale_pairs_lo(s1), g3 = scale_pairs_hi(s1);
          let la: v128, lb: v128, sa: v128, sb: v128;
          la = pair_levels(q3, qs, p, 0, 0, m03, m04);
          lb = pair_levels(q3, qs, p, 0, 1, m03, m04);
          sa = lane(g0, 0);
          sb = lane(g0, 1);
          i0 = tok_pair(i0, a0 + <usize>Q8_K_QS, la, lb, sa, sb);
          i1 = tok_pair(i1, a1 + <usize>Q8_K_QS, la, lb, sa, sb);
          i2 = tok_pair(i2, a2 + <usize>Q8_K_QS, la, lb, sa, sb);
          i3 = tok_pair(i3, a3 + <usize>Q8_K_QS, la, lb, sa, sb);
          if (z == 0) {
            la = pair_levels(q3, qs, p, 1, 0, m03, m04);
            lb = pair_levels(q3, qs, p, 1, 1, m03, m04);
            sa = lane(g0, 2);
            sb = lane(g0, 3);
            i0 = tok_pair(i0, a0 + <usize>Q8_K_QS + 32, la, lb, sa, sb);
            i1 = tok_pair(i1, a1 + <usize>Q8_K_QS + 32, la, lb, sa, sb);
            i2 = tok_pair(i2, a2 + <usize>Q8_K_QS + 32, la, lb, sa, sb);
            i3 = tok_pair(i3, a3 + <usize>Q8_K_QS + 32, la, lb, sa, sb);
          }
          if (z == 0) {
            la = pair_levels(q3, qs, p, 2, 0, m03, m04);
            lb = pair_levels(q3, qs, p, 2, 1, m03, m04);
            sa = lane(g1, 0);
            sb = lane(g1, 1);
            i0 = tok_pair(i0, a0 + <usize>Q8_K_QS + 64, la, lb, sa, sb);
            i1 = tok_pair(i1, a1 + <usize>Q8_K_QS + 64, la, lb, sa, sb);
            i2 = tok_pair(i2, a2 + <usize>Q8_K_QS + 64, la, lb, sa, sb);
            i3 = tok_pair(i3, a3 + <usize>Q8_K_QS + 64, la, lb, sa, sb);
          }
          if (z == 0) {
            la = pair_levels(q3, qs, p, 3, 0, m03, m04);
            lb = pair_levels(q3, qs, p, 3, 1, m03, m04);
            sa = lane(g1, 2);
            sb = lane(g1, 3);
            i0 = tok_pair(i0, a0 + <usize>Q8_K_QS + 96, la, lb, sa, sb);
            i1 = tok_pair(i1, a1 + <usize>Q8_K_QS + 96, la, lb, sa, sb);
            i2 = tok_pair(i2, a2 + <usize>Q8_K_QS + 96, la, lb, sa, sb);
            i3 = tok_pair(i3, a3 + <usize>Q8_K_QS + 96, la, lb, sa, sb);
          }
          if (z == 0) {
            la = pair_levels(q3, qs, p, 4, 0, m03, m04);
            lb = pair_levels(q3, qs, p, 4, 1, m03, m04);
            sa = lane(g2, 0);
            sb = lane(g2, 1);
            i0 = tok_pair(i0, a0 + <usize>Q8_K_QS + 128, la, lb, sa, sb);
            i1 = tok_pair(i1, a1 + <usize>Q8_K_QS + 128, la, lb, sa, sb);
            i2 = tok_pair(i2, a2 + <usize>Q8_K_QS + 128, la, lb, sa, sb);
            i3 = tok_pair(i3, a3 + <usize>Q8_K_QS + 128, la, lb, sa, sb);
          }
          if (z == 0) {
            la = pair_levels(q3, qs, p, 5, 0, m03, m04);
            lb = pair_levels(q3, qs, p, 5, 1, m03, m04);
            sa = lane(g2, 2);
            sb = lane(g2, 3);
            i0 = tok_pair(i0, a0 + <usize>Q8_K_QS + 160, la, lb, sa, sb);
            i1 = tok_pair(i1, a1 + <usize>Q8_K_QS + 160, la, lb, sa, sb);
            i2 = tok_pair(i2, a2 + <usize>Q8_K_QS + 160, la, lb, sa, sb);
            i3 = tok_pair(i3, a3 + <usize>Q8_K_QS + 160, la, lb, sa, sb);
          }
          if (z == 0) {
            la = pair_levels(q3, qs, p, 6, 0, m03, m04);
            lb = pair_levels(q3, qs, p, 6, 1, m03, m04);
            sa = lane(g3, 0);
            sb = lane(g3, 1);
            i0 = tok_pair(i0, a0 + <usize>Q8_K_QS + 192, la, lb, sa, sb);
            i1 = tok_pair(i1, a1 + <usize>Q8_K_QS + 192, la, lb, sa, sb);
            i2 = tok_pair(i2, a2 + <usize>Q8_K_QS + 192, la, lb, sa, sb);
            i3 = tok_pair(i3, a3 + <usize>Q8_K_QS + 192, la, lb, sa, sb);
          }
          if (z == 0) {
            la = pair_levels(q3, qs, p, 7, 0, m03, m04);
            lb = pair_levels(q3, qs, p, 7, 1, m03, m04);
            sa = lane(g3, 2);
            sb = lane(g3, 3);
            i0 = tok_pair(i0, a0 + <usize>Q8_K_QS + 224, la, lb, sa, sb);
            i1 = tok_pair(i1, a1 + <usize>Q8_K_QS + 224, la, lb, sa, sb);
            i2 = tok_pair(i2, a2 + <usize>Q8_K_QS + 224, la, lb, sa, sb);
            i3 = tok_pair(i3, a3 + <usize>Q8_K_QS + 224, la, lb, sa, sb);
          }
          if (q3) {
            const off = reduce4_i32(q3_offset(s0, s1, a0), q3_offset(s0, s1, a1), q3_offset(s0, s1, a2), q3_offset(s0, s1, a3));
            const scale = f32x4.mul(dx, f32x4.splat(f16_to_f32(load<u16>(p, Q3_K_D))));
            acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(reduce4_i32(i0, i1, i2, i3), off)), scale));
          } else {
            const msum = reduce4_i32(q2_msum(p, a0, m0f), q2_msum(p, a1, m0f), q2_msum(p, a2, m0f), q2_msum(p, a3, m0f));
            acc = tokens_min_value(acc, reduce4_i32(i0, i1, i2, i3), msum, dx, f16_to_f32(load<u16>(p, Q2_K_D)), f16_to_f32(load<u16>(p, Q2_K_DMIN)));
          }
        }
        p += wb;
        off += xs;
      }
      if (z != 0) acc = v128.xor(v128.xor(acc, v128.xor(mlo, mhi)), v128.xor(v128.xor(m0f, m03), v128.xor(m04, v128.xor(m10, m20))));
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, acc);
    }
  }
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
