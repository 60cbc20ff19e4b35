// q4_K and q6_K weights with q16_K activations (asm/matmul/quantize16.ts): the act_q8_k.ts kernels with
// 16-bit activations, loaded as they are, only the weights widened.
//
// q4_K, per super-block:
//   dot = dx·d·Σ_j sc_j·(Σ q·qx)  −  dx·dmin·Σ_j m_j·(bsums[2j] + bsums[2j+1])
// Overflow bound (why the first sum is turned into floats per i32 lane, not summed horizontally):
// i32x4.dot_i16x8_s gives each lane two products, and dot32 adds four of them, so for one sub-block
// a lane holds 8 products q·qx with 0 ≤ q ≤ 15, |qx| ≤ 32767: |lane| ≤ 8·15·32767 = 3,932,040; times
// sc_j ≤ 63 and summed over the 8 sub-blocks, |lane| ≤ 8·63·3,932,040 = 1,981,748,160 < 2^31 − 1.
// So each lane's Σ_j sc_j·(…) is exact in i32, but the four lanes' total (≤ 7.9e9) is not: the lanes
// are converted to f32 and summed as (l0 + l2) + (l1 + l3) (hsum_f32 / reduce4_f32, the same pairing).
// The min term is exact in i32: |bsums[2j] + bsums[2j+1]| ≤ 32·32767 = 1,048,544, times m_j ≤ 63,
// over 8 sub-blocks ≤ 528,466,176 < 2^31. Per block: acc += f32(lanes)·(dx·d) − f32(msum)·(dx·dmin).
//
// q6_K, per super-block:
//   dot = dx·d·Σ_g sc_g·Σ (q − 32)·qx
// The −32 is taken from the weights (i8x16.sub on the assembled 6-bit bytes, then widened signed), not
// through bsums as in act_q8_k.ts: with 16-bit activations sc_g·Σ q·qx alone could reach 128·16·63·32767.
// Overflow bound: each i32x4.dot_i16x8_s lane holds two products, and a group's dot (16 values) four,
// with |q − 32| ≤ 32, |qx| ≤ 32767, |sc_g| ≤ 128. A quarter (four groups, 64 values) summed lane-wise
// holds 16 scaled products per lane: |lane| ≤ 16·32·32767·128 = 2,147,418,112 ≤ 2^31 − 1 = 2,147,483,647.
// So each quarter is exact in i32 lanes; the lanes are converted to f32 per quarter and summed in f32
// (quarters in order, then (l0 + l2) + (l1 + l3)), and acc += f32(that)·(dx·d).
//
// tokens_* accumulate the same values in the same order per token as block_*, so matmul and matvec
// (asm/matmul/kquants.ts) agree bit for bit. `z` (0, opaque) splits a block's chunks or quarters for
// V8's register allocation (act_q8_k.ts).
import { Q16_K_Q, Q4_K_DMIN, Q4_K_QS, Q4_K_SCALES, Q6_K_D, Q6_K_QH, Q6_K_SCALES } from '../lib/blocks';
import { f16_to_f32 } from '../lib/f16';
import { bytes_to_i32x4, half_scales_hi, half_scales_lo, mins_0_3, mins_4_7, q16k_sub_sums, q6_group1, q6_group2, q6_group3, q6_group4, q6_group_at, scales_0_3, scales_4_7 } from '../lib/quants';
import { gather_f32, hsum_f32, hsum_i32, lane, reduce4_f32, reduce4_i32 } from '../lib/simd';

// ---- q4_K weights ----------------------------------------------------------------------------

/** Σ q·qx over 32 values: q = the u16 lanes w0..w3, qx = the 32 i16 at xq. */
@inline export function dot32(w0: v128, w1: v128, w2: v128, w3: v128, xq: usize): v128 {
  const a = i32x4.add(i32x4.dot_i16x8_s(w0, v128.load(xq)), i32x4.dot_i16x8_s(w1, v128.load(xq, 16)));
  const b = i32x4.add(i32x4.dot_i16x8_s(w2, v128.load(xq, 32)), i32x4.dot_i16x8_s(w3, v128.load(xq, 48)));
  return i32x4.add(a, b);
}

/** One chunk (64 values: 32 bytes of qs at q) · the 64 i16 activations at xq, scaled by splat(sc_even), splat(sc_odd). */
@inline function chunk(q: usize, xq: usize, scEven: v128, scOdd: v128, z: i32, m: v128): v128 {
  let a0 = v128.load8x8_u(q), a1 = v128.load8x8_u(q, 8), a2 = v128.load8x8_u(q, 16), a3 = v128.load8x8_u(q, 24);
  let s = i32x4.mul(dot32(v128.and(a0, m), v128.and(a1, m), v128.and(a2, m), v128.and(a3, m), xq), scEven);
  if (z == 0) {
    a0 = v128.load8x8_u(q);
    a1 = v128.load8x8_u(q, 8);
    a2 = v128.load8x8_u(q, 16);
    a3 = v128.load8x8_u(q, 24);
    s = i32x4.add(s, i32x4.mul(dot32(i16x8.shr_u(a0, 4), i16x8.shr_u(a1, 4), i16x8.shr_u(a2, 4), i16x8.shr_u(a3, 4), xq + 64), scOdd));
  }
  return s;
}

/** i32 lanes summing to Σ_j m_j·(bsums[2j] + bsums[2j+1]) for the q4_K block at p and the q16_K block at xb. */
@inline function mins_dot(p: usize, xb: usize): v128 {
  const b = load<u32>(p, Q4_K_SCALES + 4), c = load<u32>(p, Q4_K_SCALES + 8);
  const lo = q16k_sub_sums(xb, 0), hi = q16k_sub_sums(xb, 1); // the 32-value sums of sub-blocks 0-3, 4-7
  return i32x4.add(i32x4.mul(bytes_to_i32x4(mins_0_3(b)), lo), i32x4.mul(bytes_to_i32x4(mins_4_7(b, c)), hi));
}

/** One q4_K block at p · one q16_K block at xb: t − u. */
@inline export function block_q4_K(p: usize, xb: usize, z: i32, m0f: v128): f32 {
  const a = load<u32>(p, Q4_K_SCALES), c = load<u32>(p, Q4_K_SCALES + 8);
  const sl = bytes_to_i32x4(scales_0_3(a)), sh = bytes_to_i32x4(scales_4_7(a, c));
  const q = p + Q4_K_QS, xq = xb + Q16_K_Q;
  let isum = chunk(q, xq, i32x4.shuffle(sl, sl, 0, 0, 0, 0), i32x4.shuffle(sl, sl, 1, 1, 1, 1), z, m0f);
  if (z == 0) isum = i32x4.add(isum, chunk(q + 32, xq + 128, i32x4.shuffle(sl, sl, 2, 2, 2, 2), i32x4.shuffle(sl, sl, 3, 3, 3, 3), z, m0f));
  if (z == 0) isum = i32x4.add(isum, chunk(q + 64, xq + 256, i32x4.shuffle(sh, sh, 0, 0, 0, 0), i32x4.shuffle(sh, sh, 1, 1, 1, 1), z, m0f));
  if (z == 0) isum = i32x4.add(isum, chunk(q + 96, xq + 384, i32x4.shuffle(sh, sh, 2, 2, 2, 2), i32x4.shuffle(sh, sh, 3, 3, 3, 3), z, m0f));
  const msum = hsum_i32(mins_dot(p, xb));
  const dx = load<f32>(xb);
  const t = hsum_f32(f32x4.convert_i32x4_s(isum)) * (dx * f16_to_f32(load<u16>(p)));
  const u = <f32>msum * (dx * f16_to_f32(load<u16>(p, Q4_K_DMIN)));
  return t - u;
}

/** The four tokens' min terms Σ_j m_j·(bsums[2j] + bsums[2j+1]) for the q4_K block at p (lane i = the q16_K block at a_i). */
@inline export function q4k_msum4(p: usize, a0: usize, a1: usize, a2: usize, a3: usize): v128 {
  return reduce4_i32(mins_dot(p, a0), mins_dot(p, a1), mins_dot(p, a2), mins_dot(p, a3));
}

/** The four tokens' Σ_j sc_j·(Σ q·qx): each token's i32 lanes to f32, summed as (l0 + l2) + (l1 + l3) (see the bound above). */
@inline export function q4k_isum4(i0: v128, i1: v128, i2: v128, i3: v128): v128 {
  return reduce4_f32(f32x4.convert_i32x4_s(i0), f32x4.convert_i32x4_s(i1), f32x4.convert_i32x4_s(i2), f32x4.convert_i32x4_s(i3));
}

// ---- q6_K weights ----------------------------------------------------------------------------

/** Σ w·x over 16 values already widened (w0: values 0-7, w1: 8-15) with the 16 i16 at xq. */
@inline function dot16w(w0: v128, w1: v128, xq: usize): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(w0, v128.load(xq)), i32x4.dot_i16x8_s(w1, v128.load(xq, 16)));
}

/** Σ (q − 32)·qx over 16 values: q = 16 unsigned 6-bit bytes, qx = the 16 i16 at xq. */
@inline function dot16(q: v128, xq: usize, m20: v128): v128 {
  const v = i8x16.sub(q, m20);
  return dot16w(i16x8.extend_low_i8x16_s(v), i16x8.extend_high_i8x16_s(v), xq);
}

/** One quarter of a block: half at ql/qh, slice g, activations of the half at xq; i32 lanes (exact, see above). */
@inline function quarter(ql: usize, qh: usize, xq: usize, g: i32, lo: v128, hi: v128, m0f: v128, m30: v128, m20: v128): v128 {
  const o = <usize>g << 4, xo = <usize>g << 5;
  const L0 = v128.load(ql + o), L32 = v128.load(ql + o, 32), H = v128.load(qh + o);
  let s = i32x4.mul(dot16(q6_group1(L0, H, m0f, m30), xq + xo, m20), lane(lo, g));
  s = i32x4.add(s, i32x4.mul(dot16(q6_group2(L32, H, m0f, m30), xq + xo + 64, m20), lane(lo, g + 2)));
  s = i32x4.add(s, i32x4.mul(dot16(q6_group3(L0, H, m0f, m30), xq + xo + 128, m20), lane(hi, g)));
  return i32x4.add(s, i32x4.mul(dot16(q6_group4(L32, H, m0f, m30), xq + xo + 192, m20), lane(hi, g + 2)));
}

/** One q6_K block at p · one q16_K block at xb. */
@inline export function block_q6_K(p: usize, xb: usize, z: i32, m0f: v128, m30: v128, m20: v128): f32 {
  const sc = p + Q6_K_SCALES, qh = p + Q6_K_QH, xq = xb + Q16_K_Q;
  const lo0 = half_scales_lo(sc), hi0 = half_scales_hi(sc);
  let f = f32x4.add(f32x4.splat(0), f32x4.convert_i32x4_s(quarter(p, qh, xq, 0, lo0, hi0, m0f, m30, m20)));
  if (z == 0) f = f32x4.add(f, f32x4.convert_i32x4_s(quarter(p, qh, xq, 1, lo0, hi0, m0f, m30, m20)));
  if (z == 0) f = f32x4.add(f, f32x4.convert_i32x4_s(quarter(p + 64, qh + 32, xq + 256, 0, half_scales_lo(sc + 8), half_scales_hi(sc + 8), m0f, m30, m20)));
  if (z == 0) f = f32x4.add(f, f32x4.convert_i32x4_s(quarter(p + 64, qh + 32, xq + 256, 1, half_scales_lo(sc + 8), half_scales_hi(sc + 8), m0f, m30, m20)));
  return hsum_f32(f) * (load<f32>(xb) * f16_to_f32(load<u16>(p, Q6_K_D)));
}

/** acc + the q6_K block at p · the q16_K blocks at a0..a3 (lane i = token i), quarter by quarter as block_q6_K. */
@inline export function tokens_q6_K(acc: v128, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, m0f: v128, m30: v128, m20: v128): v128 {
  let f0 = f32x4.splat(0), f1 = f32x4.splat(0), f2 = f32x4.splat(0), f3 = f32x4.splat(0);
  for (let qt = 0; qt < 4; qt++) {
    // quarter qt: half h = qt >> 1, slice g = qt & 1; its four kinds k (values 128h + 32k + 16g)
    const h = <usize>(qt >> 1), g = <usize>(qt & 1);
    let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
    for (let k = 0; k < 4; k++) {
      const v = i8x16.sub(q6_group_at(p, h, g, k, m0f, m30), m20);
      const w0 = i16x8.extend_low_i8x16_s(v), w1 = i16x8.extend_high_i8x16_s(v);
      const sc = i32x4.splat(<i32>load<i8>(p + Q6_K_SCALES + (h << 3) + (g + (<usize>k << 1))));
      const xo = <usize>Q16_K_Q + (h << 8) + (<usize>k << 6) + (g << 5);
      i0 = i32x4.add(i0, i32x4.mul(dot16w(w0, w1, a0 + xo), sc));
      i1 = i32x4.add(i1, i32x4.mul(dot16w(w0, w1, a1 + xo), sc));
      i2 = i32x4.add(i2, i32x4.mul(dot16w(w0, w1, a2 + xo), sc));
      i3 = i32x4.add(i3, i32x4.mul(dot16w(w0, w1, a3 + xo), sc));
    }
    f0 = f32x4.add(f0, f32x4.convert_i32x4_s(i0));
    f1 = f32x4.add(f1, f32x4.convert_i32x4_s(i1));
    f2 = f32x4.add(f2, f32x4.convert_i32x4_s(i2));
    f3 = f32x4.add(f3, f32x4.convert_i32x4_s(i3));
  }
  const dx = gather_f32(a0, a1, a2, a3);
  const scale = f32x4.mul(dx, f32x4.splat(f16_to_f32(load<u16>(p, Q6_K_D))));
  return f32x4.add(acc, f32x4.mul(reduce4_f32(f0, f1, f2, f3), scale));
}
