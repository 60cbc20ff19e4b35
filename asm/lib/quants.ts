// Unpacking ggml's weight blocks, shared by the kernels of every activation format (8-bit q8_0 / q8_K
// and 16-bit q16_0 / q16_K) and by the activation quantizers: what a block's bytes mean is written once.
import { Q16_K_BSUMS, Q4_K_SCALES, Q6_K_QH } from './blocks';

// ---- q8_0 ------------------------------------------------------------------------------------

/** Σ q·v over 16 i8 at p, v0/v1 the other side's 16 values as i16. */
@inline export function dot_i8x16(p: usize, v0: v128, v1: v128): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(v128.load8x8_s(p), v0), i32x4.dot_i16x8_s(v128.load8x8_s(p, 8), v1));
}

// ---- q4_0 ------------------------------------------------------------------------------------

/** The 16 nibbles (shift 0: low, 4: high) of the 16 bytes at p minus 8, as two i16 vectors a (bytes 0-7), b (8-15). */
@inline export function nibbles_a(p: usize, shift: i32): v128 {
  const v = v128.load8x8_u(p);
  return i16x8.sub(shift == 0 ? v128.and(v, i16x8.splat(0x0f)) : i16x8.shr_u(v, 4), i16x8.splat(8));
}
@inline export function nibbles_b(p: usize, shift: i32): v128 {
  const v = v128.load8x8_u(p, 8);
  return i16x8.sub(shift == 0 ? v128.and(v, i16x8.splat(0x0f)) : i16x8.shr_u(v, 4), i16x8.splat(8));
}

// ---- q4_K ------------------------------------------------------------------------------------
// The 12 scale bytes as three little-endian words a (bytes 0-3), b (4-7), c (8-11): scales 0-3 are the
// low 6 bits of a, mins 0-3 the low 6 bits of b; scales 4-7 take their low 4 bits from c's low
// nibbles and their top 2 bits from the top bits of a; mins 4-7 take c's high nibbles and b's top bits
// (ggml's get_scale_min_k4, four at a time).

@inline export function scales_0_3(a: u32): u32 {
  return a & 0x3f3f3f3f;
}
@inline export function scales_4_7(a: u32, c: u32): u32 {
  return (c & 0x0f0f0f0f) | ((a >> 2) & 0x30303030);
}
@inline export function mins_0_3(b: u32): u32 {
  return b & 0x3f3f3f3f;
}
@inline export function mins_4_7(b: u32, c: u32): u32 {
  return ((c >> 4) & 0x0f0f0f0f) | ((b >> 2) & 0x30303030);
}

/** The eight 6-bit scales of the q4_K block at p, byte j = sub-block j. */
@inline export function q4k_scales(p: usize): u64 {
  const a = load<u32>(p, Q4_K_SCALES), c = load<u32>(p, Q4_K_SCALES + 8);
  return <u64>scales_0_3(a) | (<u64>scales_4_7(a, c) << 32);
}

/** The eight 6-bit mins of the q4_K block at p, byte j = sub-block j. */
@inline export function q4k_mins(p: usize): u64 {
  const b = load<u32>(p, Q4_K_SCALES + 4), c = load<u32>(p, Q4_K_SCALES + 8);
  return <u64>mins_0_3(b) | (<u64>mins_4_7(b, c) << 32);
}

/** Four bytes (a little-endian word) as four i32 lanes. */
@inline export function bytes_to_i32x4(v: u32): v128 {
  return i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(i32x4.splat(v)));
}

// ---- q16_K (wisp's 16-bit activations of the K-quants) ----------------------------------------------

/** The 32-value sums (bsums[2j] + bsums[2j+1]) of sub-blocks 4h .. 4h + 3 of the q16_K block at xb, as i32 lanes. */
@inline export function q16k_sub_sums(xb: usize, h: i32): v128 {
  // h is a constant at every call: immediate offsets, no address arithmetic
  const b0 = h == 0 ? v128.load(xb, Q16_K_BSUMS) : v128.load(xb, Q16_K_BSUMS + 32);
  const b1 = h == 0 ? v128.load(xb, Q16_K_BSUMS + 16) : v128.load(xb, Q16_K_BSUMS + 48);
  return i32x4.add(i32x4.shuffle(b0, b1, 0, 2, 4, 6), i32x4.shuffle(b0, b1, 1, 3, 5, 7));
}

// ---- q6_K ------------------------------------------------------------------------------------
// Layout (ggml's dequantize_row_q6_K): each 128-value half uses 64 bytes of ql and 32 of qh; for
// l < 32, value l takes ql[l]'s low nibble and qh[l] bits 0-1, value l+32 ql[l+32]'s low nibble and
// qh[l] bits 2-3, value l+64 ql[l]'s high nibble and bits 4-5, value l+96 ql[l+32]'s high nibble and
// bits 6-7.

/**
 * The 16 values of each kind in a 16-byte slice of a half (L0 = ql[l..], L32 = ql[l+32..], H = qh[l..]):
 * group1 = values l, group2 = l+32, group3 = l+64, group4 = l+96, as unsigned 6-bit bytes. The shifts
 * work on 16-bit lanes; the masks (m0f = splat 0x0f, m30 = splat 0x30 bytes) keep only bits that came
 * from the same byte. The masks are passed in: a kernel makes them once, before its loops, since V8
 * (13.x) rebuilds a v128 constant at every use inside a loop (three instructions each).
 */
@inline export function q6_group1(L0: v128, H: v128, m0f: v128, m30: v128): v128 {
  return v128.or(v128.and(L0, m0f), v128.and(i16x8.shl(H, 4), m30));
}
@inline export function q6_group2(L32: v128, H: v128, m0f: v128, m30: v128): v128 {
  return v128.or(v128.and(L32, m0f), v128.and(i16x8.shl(H, 2), m30));
}
@inline export function q6_group3(L0: v128, H: v128, m0f: v128, m30: v128): v128 {
  return v128.or(v128.and(i16x8.shr_u(L0, 4), m0f), v128.and(H, m30));
}
@inline export function q6_group4(L32: v128, H: v128, m0f: v128, m30: v128): v128 {
  return v128.or(v128.and(i16x8.shr_u(L32, 4), m0f), v128.and(i16x8.shr_u(H, 2), m30));
}

/**
 * The 16 values 128h + 32k + 16g .. + 15 (half h, kind k, slice g) of the q6_K block at p as unsigned
 * 6-bit bytes, one group at a time (the matmul kernels' loop over groups); their scale is byte
 * 8h + g + 2k of the block's scales.
 */
@inline export function q6_group_at(p: usize, h: usize, g: usize, k: i32, m0f: v128, m30: v128): v128 {
  const ql = p + (h << 6) + (g << 4);
  const L = (k & 1) != 0 ? v128.load(ql, 32) : v128.load(ql), H = v128.load(p + Q6_K_QH + (h << 5) + (g << 4));
  const lowNibble = v128.and(k < 2 ? L : i16x8.shr_u(L, 4), m0f);
  const high = v128.and(k == 0 ? i16x8.shl(H, 4) : k == 1 ? i16x8.shl(H, 2) : k == 2 ? H : i16x8.shr_u(H, 2), m30); // qh bits 2k, 2k+1 -> 4, 5
  return v128.or(lowNibble, high);
}

/** The eight scales of one half at p (its 8 scale bytes) as i32 lanes: [sc0..sc3], [sc4..sc7]. */
@inline export function half_scales_lo(p: usize): v128 {
  return i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load64_zero(p)));
}
@inline export function half_scales_hi(p: usize): v128 {
  return i32x4.extend_high_i16x8_s(i16x8.extend_low_i8x16_s(v128.load64_zero(p)));
}

// ---- activation quantizers -------------------------------------------------------------------

/** The largest |v| of eight vectors (32 values; NaN if any is NaN). */
@inline export function amax8(v0: v128, v1: v128, v2: v128, v3: v128, v4: v128, v5: v128, v6: v128, v7: v128): v128 {
  const m01 = f32x4.max(f32x4.abs(v0), f32x4.abs(v1)), m23 = f32x4.max(f32x4.abs(v2), f32x4.abs(v3));
  const m45 = f32x4.max(f32x4.abs(v4), f32x4.abs(v5)), m67 = f32x4.max(f32x4.abs(v6), f32x4.abs(v7));
  return f32x4.max(f32x4.max(m01, m23), f32x4.max(m45, m67));
}

/** Lane-wise largest |x| over the 256 floats at p. */
@inline export function amax256(p: usize): v128 {
  let m = f32x4.splat(0);
  for (let i: usize = 0; i < 1024; i += 64) {
    const a = f32x4.max(f32x4.abs(v128.load(p + i)), f32x4.abs(v128.load(p + i, 16)));
    const c = f32x4.max(f32x4.abs(v128.load(p + i, 32)), f32x4.abs(v128.load(p + i, 48)));
    m = f32x4.max(m, f32x4.max(a, c));
  }
  return m;
}
