// q2_K and q3_K weights repacked four rows at a time ("q2_Kr4", "q3_Kr4") on q8_K activations (ggml's):
// matvec_q2_Kr4 / matmul_q2_Kr4 and matvec_q3_Kr4 / matmul_q3_Kr4 give exactly matvec_q2_K's and
// matvec_q3_K's results on the original rows (the same integers per row and block, the same f32 steps),
// four rows per pass, each row's result in its own lane: the design of q6_Kr4 (./q6_kr4.ts). Same bytes
// as the source format. Rows come in groups of 4 and, per group and super-block index, one group block:
//
//   q2_Kr4 (336 bytes)
//   [0, 320)    four units t = 0..3 of 80 bytes (groups 4t..4t+3, the pairs of groups 2t + s', s' = 0, 1), at 80·t:
//               [0, 64)  pair 2t + s' (groups a = 4t + 2s', b = a + 1) at 32·s': two vectors V1, V2 (at +0, +16)
//                        whose byte 4i + e (row i, e = 0..3) holds in bits 2k, 2k + 1 row i's 2-bit quant of
//                        value 16a + 2j + e (e < 2) or 16b + 2j + e − 2 (e ≥ 2), chunk j = 4h + k of the pair
//                        (V1: h = 0, V2: h = 1; chunk k of V: V & 3, V & 0x0c (times 4), (V >> 4) & 3,
//                        (V >> 4) & 0x0c (times 4))
//               [64, 72) the 4-bit scales (ggml's scales[G] & 15): nibble s' (low for s' = 0) of byte
//                        64 + 2i + s = row i's scale of group 4t + 2s' + s (row-major: [s0a, s0b, s1a, ...])
//               [72, 80) the 4-bit mins (scales[G] >> 4), in the same order
//   [320, 328)  the four rows' f16 d (row i at 320 + 2i);  [328, 336) their f16 dmin
//   on q8_Kp activations (quantize_q8_Kp: q8_K's blocks, each pair of groups' qs interleaved two values at
//   a time, so that chunk j's four activations are the four bytes at 32·(pair) + 4j)
//
//   q3_Kr4 (440 bytes)
//   [0, 384)    a pair of groups m = 0..7 (groups 2m, 2m + 1) at 48·m: three vectors V1, V2, V3 of the 3-bit
//               levels l = low two bits (qs) | high bit (hmask) << 2 of row i's values in byte 4i + e:
//                 V1: bits 0-2 l(2m, e), bits 3-5 l(2m, 4 + e), bits 6-7 the low two bits of l(2m, 8 + e)
//                 V2: the same of group 2m + 1
//                 V3: bits 0-2 l(2m + 1, 12 + e), bits 3-5 l(2m, 12 + e), bit 6 the high bit of l(2m, 8 + e),
//                     bit 7 that of l(2m + 1, 8 + e)
//               (l(G, v): row i's level of value 16G + v)
//   [384, 432)  the 64 6-bit scales (unsigned, as stored: ggml's value + 32), scale n = 8m + 2i + s (row
//               i's scale of group 2m + s): its low four bits in byte 384 + n % 32 (low nibble for n <
//               32, high nibble after), its high two bits in byte 416 + n % 16, bits 2·(n / 16)
//   [432, 440)  the four rows' f16 d
//
// So a chunk (q3_K: four consecutive values 16G + 4k + e (e = 0..3) of each row; q2_K: two values of each of
// a pair's groups), row i in i32 lane i, comes out
// of a pair's vectors with one AND (q3_K: five operations for chunk 2), some of them times 4 (q2_K:
// bits 2-3 masked in place) or 8 (q3_K: bits 3-5): the chunk's four activations splatted to every lane
// (one v128.load32_splat) serve the four rows, and the scaled chunks' sums are shifted back exactly
// (every product a multiple of 4 or 8) before the group's four are added. The repacks are
// permutations of the bits (lossless).
//
// Per group (16 values, four rows), levels u (q2_K 0..3, q3_K 0..7 = value + 4), i8 activations x:
// - this file (no relaxed SIMD): each chunk widened to i16 and i32x4.dot_i16x8_s against its four
//   activations as i16 (twice) leaves two lanes per row, of two products each; the scaled chunks'
//   lanes shifted back, the four chunks' lanes added (≤ 8·7·128 = 7,168) narrow exactly into i16 lanes
//   [r0, r0, r1, r1, r2, r2, r3, r3];
// - the relaxed flavour (asm/arch/relaxed/q2_q3_kr4.ts): i16x8.relaxed_dot_i8x16_i7x16_s of the
//   splatted activations against a chunk (its levels, at most 7·8 = 56: the i7 operand) gives row i's
//   pair sums in i16 lanes 2i, 2i + 1 (≤ 2·56·128 = 14,336, no saturation); two scaled chunks' sums added
//   (≤ 28,672) and shifted back, the four chunks added (≤ 7,168);
// then one i32x4.dot_i16x8_s against the group's scales in the same order ([s0, s0, s1, s1, ...]) gives
// each row's scaled group sum in its i32 lane. q2_K works per pair of groups instead: its chunks hold two
// values of each group (q8_Kp's activations match), so a chunk's dot lanes 2i, 2i + 1 (or i32 lanes, in
// this file) are row i's sums of groups a and b; the pair's four unscaled chunks added, its four scaled
// ones (≤ 4·2·12·128 = 12,288) added and shifted back, one i32x4.dot_i16x8_s against the pair's scales
// in row-major order ([s0a, s0b, s1a, ...]) gives each row's scaled sum of the two groups. The terms through q8_K's bsums, per pair of groups
// (scales or mins as i16 pairs [r0,2m, r0,2m+1, r1,2m, ...] dotted with the splatted (bsums[2m],
// bsums[2m+1])): q2_K's msum = Σ_G m_G·bsums[G]; q3_K's −4·Σ_G sc_G·bsums[G], subtracted from isum.
// So per row and block the integers are q2_q3_q5_k.ts's, and the f32 steps the same, in block order:
//   q2_K: acc + (f32(isum)·(dx·d) − f32(msum)·(dx·dmin));   q3_K: acc + f32(isum)·(dx·d).
// d and dmin convert exactly for finite halves, with no subnormal arithmetic (lib/f16.ts; the host
// repacks only matrices whose d (and dmin) are all finite).
import {
  Q2_K_BLOCK, Q2_K_BYTES, Q2_K_D, Q2_K_DMIN, Q2_K_QS, Q2_KR4_BYTES, Q2_KR4_D, Q2_KR4_DMIN, Q2_KR4_UNIT, Q2_KR4_UNIT_MINS, Q2_KR4_UNIT_SCALES, Q3_K_BYTES, Q3_K_D,
  Q3_K_QS, Q3_K_SCALES, Q3_KR4_BYTES, Q3_KR4_D, Q3_KR4_SCALES, Q3_KR4_SCALES_HIGH, Q8_K_BSUMS, Q8_K_BYTES, Q8_K_QS,
} from '../lib/blocks';
import { finite_halves_s_to_f32x4_ns_k } from '../lib/f16';
import { kr4_const } from './q4_kr4';
import { matmul_rows4_tiles, matvec_rows4 } from './tile';

// ---- the layout's pieces (both flavours) -------------------------------------------------------------

/** Bytes of one group block. */
@inline export function kr4_block_bytes(q3: bool): usize {
  return q3 ? Q3_KR4_BYTES : Q2_KR4_BYTES;
}

/**
 * The masks of a call (made once, before the loops: V8 rebuilds a v128 constant at every use in a
 * loop), n = 0..7: q2_K 0x03, 0x0c, 0x0f (the rest unused); q3_K 0x07, 0x38, 0x0f, 0x03, 0x04, 0x18, 0x20, 0x30.
 */
@inline export function kr4_mask(q3: bool, n: i32, z: i32): v128 {
  const q2m: i32 = n == 0 ? 0x03 : n == 1 ? 0x0c : 0x0f;
  const q3m: i32 = n == 0 ? 0x07 : n == 1 ? 0x38 : n == 2 ? 0x0f : n == 3 ? 0x03 : n == 4 ? 0x04 : n == 5 ? 0x18 : n == 6 ? 0x20 : 0x30;
  return i8x16.splat(<i8>((q3 ? q3m : q2m) | z));
}

/**
 * q3_Kr4's chunk k of group 2m + s of a pair (s, k constants) from its vectors V1, V2, V3 and the masks:
 * chunks 1 and 3 (group 2m) or 1 and 2 (group 2m + 1) are 8 times the levels (q2_Kr4's: q2_chunk).
 */
@inline function q3_chunk(s: i32, k: i32, V1: v128, V2: v128, V3: v128, n0: v128, n1: v128, n3: v128, n4: v128, n5: v128, n6: v128): v128 {
  if (s == 0) {
    if (k == 0) return v128.and(V1, n0);
    if (k == 1) return v128.and(V1, n1);
    if (k == 3) return v128.and(V3, n1);
    return v128.or(v128.and(i16x8.shr_u(V1, 6), n3), v128.and(i16x8.shr_u(V3, 4), n4)); // bits 6-7 and V3's bit 6 -> 0-2
  }
  if (k == 0) return v128.and(V2, n0);
  if (k == 1) return v128.and(V2, n1);
  if (k == 3) return v128.and(V3, n0);
  return v128.or(v128.and(i16x8.shr_u(V2, 3), n5), v128.and(i16x8.shr_u(V3, 2), n6)); // bits 6-7 and V3's bit 7 -> 3-5
}

/** Which chunks of group 2m + s are scaled: false: 1 and 3, true: 1 and 2 (q3_K's group 2m + 1). */
@inline export function kr4_odd(q3: bool, s: i32): bool {
  return q3 && s == 1;
}

/** The shift that takes the scaled chunks' sums back: 2 (q2_K, times 4) or 3 (q3_K, times 8). */
@inline export function kr4_shift(q3: bool): i32 {
  return q3 ? 3 : 2;
}

/** The scales of groups 2m (lo) and 2m + 1 (hi) as i16 lanes [s0, s0, s1, s1, s2, s2, s3, s3], from a pair's scales v = [s0,2m, s0,2m+1, s1,2m, ...]. */
@inline export function kr4_pair_lo(v: v128): v128 {
  return i16x8.shuffle(v, v, 0, 0, 2, 2, 4, 4, 6, 6);
}
@inline export function kr4_pair_hi(v: v128): v128 {
  return i16x8.shuffle(v, v, 1, 1, 3, 3, 5, 5, 7, 7);
}

/** Each row's v_2m·bsums[2m] + v_2m+1·bsums[2m+1] for a pair's values v (i16, [r0,2m, r0,2m+1, r1,2m, ...]; bsums at bs). */
@inline export function kr4_bsum_dot(v: v128, bs: usize): v128 {
  return i32x4.dot_i16x8_s(v, v128.load32_splat(bs));
}

/**
 * q3_Kr4's 64 scales (signed: value − 32) as four byte vectors, t = 0..3 holding scales 16t..16t+15
 * (pairs 2t (bytes 0-7) and 2t + 1 (bytes 8-15)): the low nibbles of bytes 384 + 16·(t % 2) (low for t <
 * 2) | the high bit pairs of bytes 416.., bits 2t, moved to bits 4, 5.
 */
@inline export function q3r4_scales(p: usize, t: i32, m0f: v128, m30: v128, m20: v128): v128 {
  const L = v128.load(p + Q3_KR4_SCALES + (<usize>(t & 1) << 4)), H = v128.load(p, Q3_KR4_SCALES_HIGH);
  const low = v128.and(t < 2 ? L : i16x8.shr_u(L, 4), m0f);
  const high = v128.and(t == 0 ? i16x8.shl(H, 4) : t == 1 ? i16x8.shl(H, 2) : t == 2 ? H : i16x8.shr_u(H, 2), m30);
  return i8x16.sub(v128.or(low, high), m20);
}

/** The four rows' f16 at p (finite) as f32 lanes, with no subnormal arithmetic (bit for bit f16_to_f32's). */
@inline function halves4(p: usize, c0: v128, c1: v128): v128 {
  return finite_halves_s_to_f32x4_ns_k(v128.load16x4_s(p), c0, c1);
}

/** acc + the rows' f32 step of one group block at p and the q8_K block at xb (q2_K: isum and msum; q3_K: isum, the offset taken off). */
@inline export function kr4q_finish(q3: bool, acc: v128, isum: v128, msum: v128, p: usize, xb: usize, c0: v128, c1: v128): v128 {
  const dx = v128.load32_splat(xb);
  if (q3) return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.mul(dx, halves4(p + Q3_KR4_D, c0, c1))));
  const t = f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.mul(dx, halves4(p + Q2_KR4_D, c0, c1)));
  const u = f32x4.mul(f32x4.convert_i32x4_s(msum), f32x4.mul(dx, halves4(p + Q2_KR4_DMIN, c0, c1)));
  return f32x4.add(acc, f32x4.sub(t, u));
}

// ---- the block steps both flavours share ---------------------------------------------------------

/** q3_Kr4's pair m's signed scales (m a constant) as i16 [r0,2m, r0,2m+1, r1,2m, ...] from sv = q3r4_scales(p, m / 2). */
@inline function q3_pair_scales(m: i32, sv: v128): v128 {
  return (m & 1) == 0 ? i16x8.extend_low_i8x16_s(sv) : i16x8.extend_high_i8x16_s(sv);
}


/** q2_Kr4's pair m's eight 4-bit values at unit offset `at` (scales or mins) as u16 lanes: the low nibbles for even m, the high for odd. */
@inline function q2_nibbles(p: usize, m: i32, at: usize, m0f: v128): v128 {
  const v = v128.load8x8_u(p + <usize>Q2_KR4_UNIT * <usize>(m >> 1) + at);
  return (m & 1) == 0 ? v128.and(v, m0f) : i16x8.shr_u(v, 4);
}

/**
 * Four splatted activations at x + o, o a constant multiple of 4 below 64: the load's offset an
 * immediate (V8 folds it into the address; an added constant costs an instruction).
 */
@inline export function splat_at(x: usize, o: i32): v128 {
  if (o == 0) return v128.load32_splat(x);
  if (o == 4) return v128.load32_splat(x, 4);
  if (o == 8) return v128.load32_splat(x, 8);
  if (o == 12) return v128.load32_splat(x, 12);
  if (o == 16) return v128.load32_splat(x, 16);
  if (o == 20) return v128.load32_splat(x, 20);
  if (o == 24) return v128.load32_splat(x, 24);
  if (o == 28) return v128.load32_splat(x, 28);
  if (o == 32) return v128.load32_splat(x, 32);
  if (o == 36) return v128.load32_splat(x, 36);
  if (o == 40) return v128.load32_splat(x, 40);
  if (o == 44) return v128.load32_splat(x, 44);
  if (o == 48) return v128.load32_splat(x, 48);
  if (o == 52) return v128.load32_splat(x, 52);
  if (o == 56) return v128.load32_splat(x, 56);
  return v128.load32_splat(x, 60);
}

/** isum + q3_Kr4's groups 2m, 2m + 1 (m a constant) of the group block at p (pair m's vectors at 48m) against their 32 activations at xs; sc the pair's scales. */
@inline function pair_isum<K>(isum: v128, p: usize, xs: usize, m: i32, sc: v128, n0: v128, n1: v128, n3: v128, n4: v128, n5: v128, n6: v128): v128 {
  const q3 = true;
  const k = changetype<K>(0);
  const sa = kr4_pair_lo(sc), sb = kr4_pair_hi(sc);
  const q = p + 48 * <usize>m;
  const V1 = v128.load(q), V2 = v128.load(q, 16), V3 = v128.load(q, 32);
  const sh = kr4_shift(q3);
  isum = k.group(isum, xs, 0, q3_chunk(0, 0, V1, V2, V3, n0, n1, n3, n4, n5, n6), q3_chunk(0, 1, V1, V2, V3, n0, n1, n3, n4, n5, n6),
    q3_chunk(0, 2, V1, V2, V3, n0, n1, n3, n4, n5, n6), q3_chunk(0, 3, V1, V2, V3, n0, n1, n3, n4, n5, n6), sa, sh, kr4_odd(q3, 0));
  return k.group(isum, xs, 16, q3_chunk(1, 0, V1, V2, V3, n0, n1, n3, n4, n5, n6), q3_chunk(1, 1, V1, V2, V3, n0, n1, n3, n4, n5, n6),
    q3_chunk(1, 2, V1, V2, V3, n0, n1, n3, n4, n5, n6), q3_chunk(1, 3, V1, V2, V3, n0, n1, n3, n4, n5, n6), sb, sh, kr4_odd(q3, 1));
}

/** Chunk k of a q2_Kr4 vector V (H = V >> 4, as i16): V & 3, V & 0x0c (times 4), H & 3, H & 0x0c (times 4). */
@inline function q2_chunk(V: v128, H: v128, k: i32, n0: v128, n1: v128): v128 {
  return v128.and(k < 2 ? V : H, (k & 1) == 0 ? n0 : n1);
}

/**
 * isum + q2_Kr4's pair at q + o (o: 0 or 32, a constant; q a unit) against its 32 activations at xs + o
 * (q8_Kp); sc the pair's scales (row-major). K's pair() adds the pair's scaled sums from its eight chunks.
 */
@inline function q2_pair<K>(isum: v128, q: usize, xs: usize, o: i32, sc: v128, n0: v128, n1: v128): v128 {
  const V1 = o == 0 ? v128.load(q) : v128.load(q, 32), V2 = o == 0 ? v128.load(q, 16) : v128.load(q, 48);
  return changetype<K>(0).pair_v(isum, xs, o, V1, V2, sc, n0, n1);
}

/**
 * The q2_Kr4 group block at p · the q8_Kp block at xb: acc + the rows' block terms, a unit (two pairs of
 * groups and their scales) per pass of a loop whose three pointers step once: every load's offset in it
 * an immediate.
 */
@inline function q2_block<K>(acc: v128, p: usize, xb: usize, z: i32, n0: v128, n1: v128, n2: v128, c0: v128, c1: v128): v128 {
  let isum = i32x4.splat(0), msum = i32x4.splat(0);
  let q = p, xs = xb + Q8_K_QS, bs = xb + Q8_K_BSUMS;
  const end = p + 4 * Q2_KR4_UNIT;
  do {
    const sc = v128.load8x8_u(q, Q2_KR4_UNIT_SCALES), mn = v128.load8x8_u(q, Q2_KR4_UNIT_MINS);
    msum = i32x4.add(msum, i32x4.dot_i16x8_s(v128.and(mn, n2), v128.load32_splat(bs)));
    isum = q2_pair<K>(isum, q, xs, 0, v128.and(sc, n2), n0, n1);
    // a basic block per pair, or V8 issues both pairs' loads first and spills (measured ~2% faster in relaxed too)
    if (z == 0) {
      msum = i32x4.add(msum, i32x4.dot_i16x8_s(i16x8.shr_u(mn, 4), v128.load32_splat(bs, 4)));
      isum = q2_pair<K>(isum, q, xs, 32, i16x8.shr_u(sc, 4), n0, n1);
    }
    q += Q2_KR4_UNIT;
    xs += 64;
    bs += 8;
  } while (q < end);
  return kr4q_finish(false, acc, isum, msum, p, xb, c0, c1);
}

/**
 * The q3_Kr4 group block at p (q2_Kr4: q2_block) · the q8_K block at xb: acc + the rows' block terms. K's
 * group(isum, xs, xo, a, b, c, d, sc, sh, odd) adds one group's scaled sums (chunks a..d, their 16 activations at
 * xs). The bsum terms are summed apart and come off once. A loop over four pairs of pairs (written out,
 * measured ~3% faster, but the module must stay small enough to swap over MQTT: docs/PROTOCOL.md);
 * `if (z == 0)` ends a basic block, so V8 does not issue both pairs' loads first.
 */
@inline export function kr4q_block<K>(q3: bool, acc: v128, p: usize, xb: usize, z: i32, n0: v128, n1: v128, n2: v128, n3: v128, n4: v128, n5: v128, n6: v128, n7: v128, c0: v128, c1: v128): v128 {
  if (!q3) return q2_block<K>(acc, p, xb, z, n0, n1, n2, c0, c1);
  let isum = i32x4.splat(0), bsum = i32x4.splat(0);
  if (!changetype<K>(0).split()) {
    // the relaxed step: the eight pairs written out (~9% faster than the loop; the SIMD128 module keeps
    // the loop, to stay small enough to swap over MQTT)
    const xq = xb + Q8_K_QS, bs = xb + Q8_K_BSUMS;
    let sv = q3r4_scales(p, 0, n2, n7, n6);
    let raw = q3_pair_scales(0, sv);
    bsum = i32x4.add(bsum, kr4_bsum_dot(raw, bs));
    isum = pair_isum<K>(isum, p, xq, 0, raw, n0, n1, n3, n4, n5, n6);
    if (z == 0) {
      raw = q3_pair_scales(1, sv);
      bsum = i32x4.add(bsum, kr4_bsum_dot(raw, bs + 4));
      isum = pair_isum<K>(isum, p, xq + 32, 1, raw, n0, n1, n3, n4, n5, n6);
    }
    if (z == 0) {
      sv = q3r4_scales(p, 1, n2, n7, n6);
      raw = q3_pair_scales(2, sv);
      bsum = i32x4.add(bsum, kr4_bsum_dot(raw, bs + 8));
      isum = pair_isum<K>(isum, p, xq + 64, 2, raw, n0, n1, n3, n4, n5, n6);
    }
    if (z == 0) {
      raw = q3_pair_scales(3, sv);
      bsum = i32x4.add(bsum, kr4_bsum_dot(raw, bs + 12));
      isum = pair_isum<K>(isum, p, xq + 96, 3, raw, n0, n1, n3, n4, n5, n6);
    }
    if (z == 0) {
      sv = q3r4_scales(p, 2, n2, n7, n6);
      raw = q3_pair_scales(4, sv);
      bsum = i32x4.add(bsum, kr4_bsum_dot(raw, bs + 16));
      isum = pair_isum<K>(isum, p, xq + 128, 4, raw, n0, n1, n3, n4, n5, n6);
    }
    if (z == 0) {
      raw = q3_pair_scales(5, sv);
      bsum = i32x4.add(bsum, kr4_bsum_dot(raw, bs + 20));
      isum = pair_isum<K>(isum, p, xq + 160, 5, raw, n0, n1, n3, n4, n5, n6);
    }
    if (z == 0) {
      sv = q3r4_scales(p, 3, n2, n7, n6);
      raw = q3_pair_scales(6, sv);
      bsum = i32x4.add(bsum, kr4_bsum_dot(raw, bs + 24));
      isum = pair_isum<K>(isum, p, xq + 192, 6, raw, n0, n1, n3, n4, n5, n6);
    }
    if (z == 0) {
      raw = q3_pair_scales(7, sv);
      bsum = i32x4.add(bsum, kr4_bsum_dot(raw, bs + 28));
      isum = pair_isum<K>(isum, p, xq + 224, 7, raw, n0, n1, n3, n4, n5, n6);
    }
  } else {
    let q = p, xs = xb + Q8_K_QS, bs = xb + Q8_K_BSUMS;
    for (let t = 0; t < 4; t++) {
      // pairs 2t, 2t + 1: their scales from one vector, each pair in a basic block of its own
      const sv = q3r4_scales_at(p, t, n2, n3, n6);
      let raw = i16x8.extend_low_i8x16_s(sv);
      bsum = i32x4.add(bsum, kr4_bsum_dot(raw, bs));
      isum = pair_isum<K>(isum, q, xs, 0, raw, n0, n1, n3, n4, n5, n6);
      if (z == 0) {
        raw = i16x8.extend_high_i8x16_s(sv);
        bsum = i32x4.add(bsum, kr4_bsum_dot(raw, bs + 4));
        isum = pair_isum<K>(isum, q, xs + 32, 1, raw, n0, n1, n3, n4, n5, n6);
      }
      q += 96;
      xs += 64;
      bs += 8;
    }
  }
  return kr4q_finish(true, acc, i32x4.sub(isum, i32x4.shl(bsum, 2)), bsum, p, xb, c0, c1);
}

/**
 * q3r4_scales for a t known only at run time (the matmul tile's loop): the same bytes, by shifts of
 * a variable count.
 */
@inline function q3r4_scales_at(p: usize, t: i32, m0f: v128, m03: v128, m20: v128): v128 {
  const L = v128.load(p + Q3_KR4_SCALES + (<usize>(t & 1) << 4)), H = v128.load(p, Q3_KR4_SCALES_HIGH);
  const low = v128.and(i16x8.shr_u(L, (t >> 1) << 2), m0f);
  const high = i16x8.shl(v128.and(i16x8.shr_u(H, t << 1), m03), 4);
  return i8x16.sub(v128.or(low, high), m20);
}

/** One token's share of group 2m + s in kr4q_block4: isum + the group (chunks c0..c3, scales sc) against its 16 activations at xs. */
@inline function token_group<K>(q3: bool, s: i32, isum: v128, xs: usize, c0: v128, c1: v128, c2: v128, c3: v128, sc: v128): v128 {
  return changetype<K>(0).group(isum, xs, 0, c0, c1, c2, c3, sc, kr4_shift(q3), kr4_odd(q3, s));
}

/** SIMD128 tile: a q2_Kr4 chunk widened to i16, rows 0-1 (or 2-3: hi), a scaled one (sh) shifted back exactly. */
@inline function wide_chunk(c: v128, hi: bool, sh: bool): v128 {
  const w = hi ? i16x8.extend_high_i8x16_u(c) : i16x8.extend_low_i8x16_u(c);
  return sh ? i16x8.shr_u(w, 2) : w;
}

/**
 * SIMD128 tile: isum + one token's scaled sums of a pair, its chunks widened (l0..l7 rows 0-1, h0..h7 rows
 * 2-3) against its q8_Kp activations at x: i32 lanes [r0a, r0b, r1a, r1b] and [r2a, ...], narrowed, one
 * PMADDWD against the row-major scales.
 */
@inline function wide_token(isum: v128, x: usize, l0: v128, l1: v128, l2: v128, l3: v128, l4: v128, l5: v128, l6: v128, l7: v128,
  h0: v128, h1: v128, h2: v128, h3: v128, h4: v128, h5: v128, h6: v128, h7: v128, sc: v128): v128 {
  const xa = v128.load8x8_s(x), xb = v128.load8x8_s(x, 8), xc = v128.load8x8_s(x, 16), xd = v128.load8x8_s(x, 24);
  let x0 = i64x2.shuffle(xa, xa, 0, 0), x1 = i64x2.shuffle(xa, xa, 1, 1);
  let lo = i32x4.add(i32x4.dot_i16x8_s(l0, x0), i32x4.dot_i16x8_s(l1, x1)), hi = i32x4.add(i32x4.dot_i16x8_s(h0, x0), i32x4.dot_i16x8_s(h1, x1));
  x0 = i64x2.shuffle(xb, xb, 0, 0);
  x1 = i64x2.shuffle(xb, xb, 1, 1);
  lo = i32x4.add(lo, i32x4.add(i32x4.dot_i16x8_s(l2, x0), i32x4.dot_i16x8_s(l3, x1)));
  hi = i32x4.add(hi, i32x4.add(i32x4.dot_i16x8_s(h2, x0), i32x4.dot_i16x8_s(h3, x1)));
  x0 = i64x2.shuffle(xc, xc, 0, 0);
  x1 = i64x2.shuffle(xc, xc, 1, 1);
  lo = i32x4.add(lo, i32x4.add(i32x4.dot_i16x8_s(l4, x0), i32x4.dot_i16x8_s(l5, x1)));
  hi = i32x4.add(hi, i32x4.add(i32x4.dot_i16x8_s(h4, x0), i32x4.dot_i16x8_s(h5, x1)));
  x0 = i64x2.shuffle(xd, xd, 0, 0);
  x1 = i64x2.shuffle(xd, xd, 1, 1);
  lo = i32x4.add(lo, i32x4.add(i32x4.dot_i16x8_s(l6, x0), i32x4.dot_i16x8_s(l7, x1)));
  hi = i32x4.add(hi, i32x4.add(i32x4.dot_i16x8_s(h6, x0), i32x4.dot_i16x8_s(h7, x1)));
  return i32x4.add(isum, i32x4.dot_i16x8_s(i16x8.narrow_i32x4_s(lo, hi), sc));
}

/**
 * The q2_Kr4 group block at p · the q8_Kp blocks of four tokens at a0..a3: each pair's chunks taken out
 * once for the four tokens, each token's integers as q2_block's (the same sums), then its f32 step on
 * each token's accumulator, kept in y0..y3.
 */
@inline function q2_block4<K>(p: usize, a0: usize, a1: usize, a2: usize, a3: usize, y0: usize, y1: usize, y2: usize, y3: usize, z: i32, n0: v128, n1: v128, n2: v128, f0: v128, f1: v128): void {
  const k = changetype<K>(0);
  // the mins' terms first, in a loop of their own (fewer vectors live in the main one)
  let b0 = i32x4.splat(0), b1 = i32x4.splat(0), b2 = i32x4.splat(0), b3 = i32x4.splat(0);
  for (let m = 0; m < 8; m++) {
    const mn = q2_nibbles(p, m, Q2_KR4_UNIT_MINS, n2);
    const bo: usize = Q8_K_BSUMS + 4 * m;
    b0 = i32x4.add(b0, kr4_bsum_dot(mn, a0 + bo));
    b1 = i32x4.add(b1, kr4_bsum_dot(mn, a1 + bo));
    b2 = i32x4.add(b2, kr4_bsum_dot(mn, a2 + bo));
    b3 = i32x4.add(b3, kr4_bsum_dot(mn, a3 + bo));
  }
  let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
  for (let m = 0; m < 8; m++) {
    const sc = q2_nibbles(p, m, Q2_KR4_UNIT_SCALES, n2);
    const q = p + <usize>Q2_KR4_UNIT * <usize>(m >> 1) + 32 * <usize>(m & 1);
    const xo: usize = Q8_K_QS + 32 * m;
    const V1 = v128.load(q), V2 = v128.load(q, 16);
    if (k.split()) {
      // the SIMD128 step: the pair's eight chunks widened to i16 once for the four tokens (rows 0-1 and
      // 2-3 of each; the scaled ones shifted back there: exact)
      const H1 = i16x8.shr_u(V1, 4), H2 = i16x8.shr_u(V2, 4);
      const e0 = v128.and(V1, n0), e1 = v128.and(V1, n1), e2 = v128.and(H1, n0), e3 = v128.and(H1, n1);
      const e4 = v128.and(V2, n0), e5 = v128.and(V2, n1), e6 = v128.and(H2, n0), e7 = v128.and(H2, n1);
      const l0 = wide_chunk(e0, false, false), l1 = wide_chunk(e1, false, true), l2 = wide_chunk(e2, false, false), l3 = wide_chunk(e3, false, true);
      const l4 = wide_chunk(e4, false, false), l5 = wide_chunk(e5, false, true), l6 = wide_chunk(e6, false, false), l7 = wide_chunk(e7, false, true);
      const h0 = wide_chunk(e0, true, false), h1 = wide_chunk(e1, true, true), h2 = wide_chunk(e2, true, false), h3 = wide_chunk(e3, true, true);
      const h4 = wide_chunk(e4, true, false), h5 = wide_chunk(e5, true, true), h6 = wide_chunk(e6, true, false), h7 = wide_chunk(e7, true, true);
      i0 = wide_token(i0, a0 + xo, l0, l1, l2, l3, l4, l5, l6, l7, h0, h1, h2, h3, h4, h5, h6, h7, sc);
      i1 = wide_token(i1, a1 + xo, l0, l1, l2, l3, l4, l5, l6, l7, h0, h1, h2, h3, h4, h5, h6, h7, sc);
      i2 = wide_token(i2, a2 + xo, l0, l1, l2, l3, l4, l5, l6, l7, h0, h1, h2, h3, h4, h5, h6, h7, sc);
      i3 = wide_token(i3, a3 + xo, l0, l1, l2, l3, l4, l5, l6, l7, h0, h1, h2, h3, h4, h5, h6, h7, sc);
      continue;
    }
    const H1 = i16x8.shr_u(V1, 4), H2 = i16x8.shr_u(V2, 4);
    const c0 = q2_chunk(V1, H1, 0, n0, n1), c1 = q2_chunk(V1, H1, 1, n0, n1), c2 = q2_chunk(V1, H1, 2, n0, n1), c3 = q2_chunk(V1, H1, 3, n0, n1);
    const c4 = q2_chunk(V2, H2, 0, n0, n1), c5 = q2_chunk(V2, H2, 1, n0, n1), c6 = q2_chunk(V2, H2, 2, n0, n1), c7 = q2_chunk(V2, H2, 3, n0, n1);
    i0 = k.pair(i0, a0 + xo, 0, c0, c1, c2, c3, c4, c5, c6, c7, sc);
    i1 = k.pair(i1, a1 + xo, 0, c0, c1, c2, c3, c4, c5, c6, c7, sc);
    if (z == 0) {
      // the other two tokens in a basic block of their own (V8 issues a block's loads first)
      i2 = k.pair(i2, a2 + xo, 0, c0, c1, c2, c3, c4, c5, c6, c7, sc);
      i3 = k.pair(i3, a3 + xo, 0, c0, c1, c2, c3, c4, c5, c6, c7, sc);
    }
  }
  v128.store(y0, kr4q_finish(false, v128.load(y0), i0, b0, p, a0, f0, f1));
  v128.store(y1, kr4q_finish(false, v128.load(y1), i1, b1, p, a1, f0, f1));
  v128.store(y2, kr4q_finish(false, v128.load(y2), i2, b2, p, a2, f0, f1));
  v128.store(y3, kr4q_finish(false, v128.load(y3), i3, b3, p, a3, f0, f1));
}

/**
 * The q3_Kr4 group block at p (q2_Kr4: q2_block4) · the q8_K blocks of four tokens at a0..a3: each pair's chunks taken out once
 * for the four tokens, each token's integers as kr4q_block's (the same sums), then its f32 step on
 * each token's accumulator, kept in y0..y3 (the four rows' results of each token: one v128 each).
 */
@inline export function kr4q_block4<K>(q3: bool, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, y0: usize, y1: usize, y2: usize, y3: usize, z: i32, n0: v128, n1: v128, n2: v128, n3: v128, n4: v128, n5: v128, n6: v128, f0: v128, f1: v128): void {
  if (!q3) {
    q2_block4<K>(p, a0, a1, a2, a3, y0, y1, y2, y3, z, n0, n1, n2, f0, f1);
    return;
  }
  const k = changetype<K>(0);
  let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
  let b0 = i32x4.splat(0), b1 = i32x4.splat(0), b2 = i32x4.splat(0), b3 = i32x4.splat(0);
  for (let m = 0; m < 8; m++) {
    const sv = q3r4_scales_at(p, m >> 1, n2, n3, n6);
    const bv = (m & 1) == 0 ? i16x8.extend_low_i8x16_s(sv) : i16x8.extend_high_i8x16_s(sv);
    const sa = kr4_pair_lo(bv), sb = kr4_pair_hi(bv);
    const bo: usize = Q8_K_BSUMS + 4 * m;
    b0 = i32x4.add(b0, kr4_bsum_dot(bv, a0 + bo));
    b1 = i32x4.add(b1, kr4_bsum_dot(bv, a1 + bo));
    b2 = i32x4.add(b2, kr4_bsum_dot(bv, a2 + bo));
    b3 = i32x4.add(b3, kr4_bsum_dot(bv, a3 + bo));
    const q = p + 48 * <usize>m;
    const xo: usize = Q8_K_QS + 32 * m;
    let V1 = v128.load(q), V2 = v128.load(q, 16), V3 = v128.load(q, 32);
    let c0 = q3_chunk(0, 0, V1, V2, V3, n0, n1, n3, n4, n5, n6), c1 = q3_chunk(0, 1, V1, V2, V3, n0, n1, n3, n4, n5, n6);
    let c2 = q3_chunk(0, 2, V1, V2, V3, n0, n1, n3, n4, n5, n6), c3 = q3_chunk(0, 3, V1, V2, V3, n0, n1, n3, n4, n5, n6);
    if (k.split()) {
      // the SIMD128 step widens the chunks to i16 once for the four tokens
      const w0 = i16x8.extend_low_i8x16_u(c0), w1 = i16x8.extend_high_i8x16_u(c0), w2 = i16x8.extend_low_i8x16_u(c1), w3 = i16x8.extend_high_i8x16_u(c1);
      const w4 = i16x8.extend_low_i8x16_u(c2), w5 = i16x8.extend_high_i8x16_u(c2), w6 = i16x8.extend_low_i8x16_u(c3), w7 = i16x8.extend_high_i8x16_u(c3);
      i0 = k.wide_group(i0, a0 + xo, w0, w1, w2, w3, w4, w5, w6, w7, sa, kr4_shift(q3), kr4_odd(q3, 0));
      i1 = k.wide_group(i1, a1 + xo, w0, w1, w2, w3, w4, w5, w6, w7, sa, kr4_shift(q3), kr4_odd(q3, 0));
      i2 = k.wide_group(i2, a2 + xo, w0, w1, w2, w3, w4, w5, w6, w7, sa, kr4_shift(q3), kr4_odd(q3, 0));
      i3 = k.wide_group(i3, a3 + xo, w0, w1, w2, w3, w4, w5, w6, w7, sa, kr4_shift(q3), kr4_odd(q3, 0));
    } else {
      i0 = token_group<K>(q3, 0, i0, a0 + xo, c0, c1, c2, c3, sa);
      i1 = token_group<K>(q3, 0, i1, a1 + xo, c0, c1, c2, c3, sa);
      i2 = token_group<K>(q3, 0, i2, a2 + xo, c0, c1, c2, c3, sa);
      i3 = token_group<K>(q3, 0, i3, a3 + xo, c0, c1, c2, c3, sa);
    }
    if (z == 0) {
      // the group 2m + 1 in a basic block of its own (V8 issues a block's loads first)
      V1 = v128.load(q);
      V2 = v128.load(q, 16);
      V3 = v128.load(q, 32);
      c0 = q3_chunk(1, 0, V1, V2, V3, n0, n1, n3, n4, n5, n6);
      c1 = q3_chunk(1, 1, V1, V2, V3, n0, n1, n3, n4, n5, n6);
      c2 = q3_chunk(1, 2, V1, V2, V3, n0, n1, n3, n4, n5, n6);
      c3 = q3_chunk(1, 3, V1, V2, V3, n0, n1, n3, n4, n5, n6);
      if (k.split()) {
        const w0 = i16x8.extend_low_i8x16_u(c0), w1 = i16x8.extend_high_i8x16_u(c0), w2 = i16x8.extend_low_i8x16_u(c1), w3 = i16x8.extend_high_i8x16_u(c1);
        const w4 = i16x8.extend_low_i8x16_u(c2), w5 = i16x8.extend_high_i8x16_u(c2), w6 = i16x8.extend_low_i8x16_u(c3), w7 = i16x8.extend_high_i8x16_u(c3);
        i0 = k.wide_group(i0, a0 + xo + 16, w0, w1, w2, w3, w4, w5, w6, w7, sb, kr4_shift(q3), kr4_odd(q3, 1));
        i1 = k.wide_group(i1, a1 + xo + 16, w0, w1, w2, w3, w4, w5, w6, w7, sb, kr4_shift(q3), kr4_odd(q3, 1));
        i2 = k.wide_group(i2, a2 + xo + 16, w0, w1, w2, w3, w4, w5, w6, w7, sb, kr4_shift(q3), kr4_odd(q3, 1));
        i3 = k.wide_group(i3, a3 + xo + 16, w0, w1, w2, w3, w4, w5, w6, w7, sb, kr4_shift(q3), kr4_odd(q3, 1));
      } else {
        i0 = token_group<K>(q3, 1, i0, a0 + xo + 16, c0, c1, c2, c3, sb);
        i1 = token_group<K>(q3, 1, i1, a1 + xo + 16, c0, c1, c2, c3, sb);
        i2 = token_group<K>(q3, 1, i2, a2 + xo + 16, c0, c1, c2, c3, sb);
        i3 = token_group<K>(q3, 1, i3, a3 + xo + 16, c0, c1, c2, c3, sb);
      }
    }
  }
  v128.store(y0, kr4q_finish(true, v128.load(y0), i32x4.sub(i0, i32x4.shl(b0, 2)), b0, p, a0, f0, f1));
  v128.store(y1, kr4q_finish(true, v128.load(y1), i32x4.sub(i1, i32x4.shl(b1, 2)), b1, p, a1, f0, f1));
  v128.store(y2, kr4q_finish(true, v128.load(y2), i32x4.sub(i2, i32x4.shl(b2, 2)), b2, p, a2, f0, f1));
  v128.store(y3, kr4q_finish(true, v128.load(y3), i32x4.sub(i3, i32x4.shl(b3, 2)), b3, p, a3, f0, f1));
}

// ---- the drivers both flavours run (tile.ts), each with its own group step S (a field-less class)

/** matvec over [r0, r1) (multiples of 4): per group of 4 rows, kr4q_block over the blocks in order. */
@inline export function matvec_kr4q<S>(q3: bool, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_rows4<Rows4<S>>(q3 ? 1 : 0, w, x, y, r0, r1, cols / Q2_K_BLOCK, q3 ? Q3_K_BYTES : Q2_K_BYTES, Q8_K_BYTES, cols >> 31);
}

/** matmul over [r0, r1) (multiples of 4), y[t·rows + r]: whole 4-token tiles by kr4q_block4, a short last tile by S's matvec per token. */
@inline export function matmul_kr4q<S>(q3: bool, w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_rows4_tiles<Rows4<S>>(q3 ? 1 : 0, w, x, y, cols, rows, nTok, r0, r1, cols / Q2_K_BLOCK, q3 ? Q3_K_BYTES : Q2_K_BYTES, Q8_K_BYTES, cols >> 31);
}

/**
 * The drivers' K (tile.ts) for a flavour's group step S, wt = 1 for q3_Kr4, 0 for q2_Kr4: the block steps
 * above, their ten constants (kr4_mask's eight, kr4_const's two); a short tile calls S's matvec.
 */
@final @unmanaged class Rows4<S> {
  @inline rows4_consts(wt: i32): i32 {
    return 10;
  }
  @inline rows4_const(wt: i32, i: i32, z: i32): v128 {
    return i < 8 ? kr4_mask(wt != 0, i, z) : kr4_const(i - 8, z);
  }
  @inline tiled(wt: i32): bool {
    return true;
  }
  @inline matvec(wt: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
    changetype<S>(0).matvec(wt != 0, w, x, y, cols, r0, r1);
  }
  @inline block(wt: i32, acc: v128, p: usize, xb: usize, z: i32, n0: v128, n1: v128, n2: v128, n3: v128, n4: v128, n5: v128, n6: v128, n7: v128, c0: v128, c1: v128): v128 {
    return kr4q_block<S>(wt != 0, acc, p, xb, z, n0, n1, n2, n3, n4, n5, n6, n7, c0, c1);
  }
  @inline block4(wt: i32, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, y0: usize, y1: usize, y2: usize, y3: usize, z: i32, n0: v128, n1: v128, n2: v128, n3: v128, n4: v128, n5: v128, n6: v128, n7: v128, c0: v128, c1: v128): void {
    kr4q_block4<S>(wt != 0, p, a0, a1, a2, a3, y0, y1, y2, y3, z, n0, n1, n2, n3, n4, n5, n6, c0, c1);
  }
}

// ---- the SIMD128 group step ----------------------------------------------------------------------

/** A chunk's i32 dot lanes (two products each) for rows 0, 1 (lo) or 2, 3 (hi) against its four activations splatted (x). */
@inline function dot_lo(c: v128, x: v128): v128 {
  return i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(c), i16x8.extend_low_i8x16_s(x));
}
@inline function dot_hi(c: v128, x: v128): v128 {
  return i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(c), i16x8.extend_low_i8x16_s(x));
}

/** (d0 + d2) + ((d1 + d3) >> sh), or with d2 and d3 swapped (odd): a group's four chunk sums, the scaled ones shifted back exactly. */
@inline export function kr4_combine32(d0: v128, d1: v128, d2: v128, d3: v128, sh: i32, odd: bool): v128 {
  return odd ? i32x4.add(i32x4.add(d0, d3), i32x4.shr_s(i32x4.add(d1, d2), sh)) : i32x4.add(i32x4.add(d0, d2), i32x4.shr_s(i32x4.add(d1, d3), sh));
}
@inline export function kr4_combine16(d0: v128, d1: v128, d2: v128, d3: v128, sh: i32, odd: bool): v128 {
  return odd ? i16x8.add(i16x8.add(d0, d3), i16x8.shr_s(i16x8.add(d1, d2), sh)) : i16x8.add(i16x8.add(d0, d2), i16x8.shr_s(i16x8.add(d1, d3), sh));
}

/** The SIMD128 step: isum + sc·Σ u·x per row lane for one group (chunks c0..c3, the 16 activations at xs + xo, xo a constant; sh, odd: kr4_shift, kr4_odd). */
@final @unmanaged class Steps {
  /** The flavour's matvec (matmul's short last tile). */
  @inline matvec(q3: bool, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
    if (q3) matvec_q3_Kr4(w, x, y, cols, r0, r1);
    else matvec_q2_Kr4(w, x, y, cols, r0, r1);
  }
  /** Whether the shared blocks split a unit into a basic block per pair (this step keeps many vectors live). */
  @inline split(): bool {
    return true;
  }
  @inline group(isum: v128, xs: usize, xo: i32, c0: v128, c1: v128, c2: v128, c3: v128, sc: v128, sh: i32, odd: bool): v128 {
    const x0 = splat_at(xs, xo), x1 = splat_at(xs, xo + 4), x2 = splat_at(xs, xo + 8), x3 = splat_at(xs, xo + 12);
    const lo = kr4_combine32(dot_lo(c0, x0), dot_lo(c1, x1), dot_lo(c2, x2), dot_lo(c3, x3), sh, odd);
    const hi = kr4_combine32(dot_hi(c0, x0), dot_hi(c1, x1), dot_hi(c2, x2), dot_hi(c3, x3), sh, odd);
    return i32x4.add(isum, i32x4.dot_i16x8_s(i16x8.narrow_i32x4_s(lo, hi), sc));
  }
  /** pair() from the pair's vectors, each chunk taken out where it is used (fewer vectors live: no spills). */
  @inline pair_v(isum: v128, xs: usize, o: i32, V1: v128, V2: v128, sc: v128, n0: v128, n1: v128): v128 {
    const H1 = i16x8.shr_u(V1, 4), H2 = i16x8.shr_u(V2, 4);
    let x = splat_at(xs, o), c = v128.and(V1, n0);
    let loU = dot_lo(c, x), hiU = dot_hi(c, x);
    x = splat_at(xs, o + 8);
    c = v128.and(H1, n0);
    loU = i32x4.add(loU, dot_lo(c, x));
    hiU = i32x4.add(hiU, dot_hi(c, x));
    x = splat_at(xs, o + 16);
    c = v128.and(V2, n0);
    loU = i32x4.add(loU, dot_lo(c, x));
    hiU = i32x4.add(hiU, dot_hi(c, x));
    x = splat_at(xs, o + 24);
    c = v128.and(H2, n0);
    loU = i32x4.add(loU, dot_lo(c, x));
    hiU = i32x4.add(hiU, dot_hi(c, x));
    x = splat_at(xs, o + 4);
    c = v128.and(V1, n1);
    let loS = dot_lo(c, x), hiS = dot_hi(c, x);
    x = splat_at(xs, o + 12);
    c = v128.and(H1, n1);
    loS = i32x4.add(loS, dot_lo(c, x));
    hiS = i32x4.add(hiS, dot_hi(c, x));
    x = splat_at(xs, o + 20);
    c = v128.and(V2, n1);
    loS = i32x4.add(loS, dot_lo(c, x));
    hiS = i32x4.add(hiS, dot_hi(c, x));
    x = splat_at(xs, o + 28);
    c = v128.and(H2, n1);
    loS = i32x4.add(loS, dot_lo(c, x));
    hiS = i32x4.add(hiS, dot_hi(c, x));
    const lo = i32x4.add(loU, i32x4.shr_s(loS, 2)), hi = i32x4.add(hiU, i32x4.shr_s(hiS, 2));
    return i32x4.add(isum, i32x4.dot_i16x8_s(i16x8.narrow_i32x4_s(lo, hi), sc));
  }
  /** Not called (split() is true: the tile runs wide_token, matvec pair_v); the relaxed step's pair() is the one the tile's other branch needs. */
  @inline pair(isum: v128, xs: usize, o: i32, c0: v128, c1: v128, c2: v128, c3: v128, c4: v128, c5: v128, c6: v128, c7: v128, sc: v128): v128 {
    unreachable();
    return isum;
  }
  /** group with the chunks already widened (w0, w1: chunk 0's rows 0-1 and 2-3, ...), for one token of the tile. */
  @inline wide_group(isum: v128, xs: usize, w0: v128, w1: v128, w2: v128, w3: v128, w4: v128, w5: v128, w6: v128, w7: v128, sc: v128, sh: i32, odd: bool): v128 {
    const xa = v128.load8x8_s(xs), xb = v128.load8x8_s(xs, 8);
    const x0 = i64x2.shuffle(xa, xa, 0, 0), x1 = i64x2.shuffle(xa, xa, 1, 1), x2 = i64x2.shuffle(xb, xb, 0, 0), x3 = i64x2.shuffle(xb, xb, 1, 1);
    const lo = kr4_combine32(i32x4.dot_i16x8_s(w0, x0), i32x4.dot_i16x8_s(w2, x1), i32x4.dot_i16x8_s(w4, x2), i32x4.dot_i16x8_s(w6, x3), sh, odd);
    const hi = kr4_combine32(i32x4.dot_i16x8_s(w1, x0), i32x4.dot_i16x8_s(w3, x1), i32x4.dot_i16x8_s(w5, x2), i32x4.dot_i16x8_s(w7, x3), sh, odd);
    return i32x4.add(isum, i32x4.dot_i16x8_s(i16x8.narrow_i32x4_s(lo, hi), sc));
  }
}

/** matvec_q2_Kr4(w, x: q8_Kp*, y: f32*, cols, r0, r1): w in q2_Kr4, r0 and r1 multiples of 4. */
export function matvec_q2_Kr4(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_kr4q<Steps>(false, w, x, y, cols, r0, r1);
}

/** matmul_q2_Kr4(w, x: q8_Kp*, y: f32*, cols, rows, nTok, r0, r1): w in q2_Kr4, r0 and r1 multiples of 4; equal to matvec bit for bit. */
export function matmul_q2_Kr4(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_kr4q<Steps>(false, w, x, y, cols, rows, nTok, r0, r1);
}

/** matvec_q3_Kr4(w, x: q8_K*, y: f32*, cols, r0, r1): w in q3_Kr4, r0 and r1 multiples of 4. */
export function matvec_q3_Kr4(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_kr4q<Steps>(true, w, x, y, cols, r0, r1);
}

/** matmul_q3_Kr4(w, x: q8_K*, y: f32*, cols, rows, nTok, r0, r1): w in q3_Kr4, r0 and r1 multiples of 4; equal to matvec bit for bit. */
export function matmul_q3_Kr4(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_kr4q<Steps>(true, w, x, y, cols, rows, nTok, r0, r1);
}

// ---- the repacks -------------------------------------------------------------------------------------

/** The 2-bit fields (q2_K's quants, q3_K's low bits) of group G of the block whose qs are at p, as bytes: field (G / 2) % 4 of qs bytes 32·(G / 8) + 16·(G % 2).. */
@inline function low_levels(p: usize, G: i32, m03: v128): v128 {
  const v = v128.load(p + (<usize>(G >> 3) << 5) + (<usize>(G & 1) << 4));
  return v128.and(i8x16.shr_u(v, ((G >> 1) & 3) << 1), m03);
}

/** q3_K's levels 0..7 of group G of the block at p as bytes: low_levels | bit G / 2 of hmask[16·(G % 2)..] << 2. */
@inline function q3_levels_of(p: usize, G: i32, m03: v128, m04: v128): v128 {
  const h = i8x16.shl(i8x16.shr_u(v128.load(p + (<usize>(G & 1) << 4)), G >> 1), 2);
  return v128.or(low_levels(p + Q3_K_QS, G, m03), v128.and(h, m04));
}

/** Chunk k (values 4k..4k+3 of rows 0..3, row i in bytes 4i..4i+3) of four rows' 16 bytes v0..v3 (row i's value e in byte e): a 4×4 transpose of 32-bit words. */
@inline function chunk_of(v0: v128, v1: v128, v2: v128, v3: v128, k: i32): v128 {
  const lo = (k & 2) == 0;
  const t0 = lo ? i32x4.shuffle(v0, v1, 0, 4, 1, 5) : i32x4.shuffle(v0, v1, 2, 6, 3, 7);
  const t1 = lo ? i32x4.shuffle(v2, v3, 0, 4, 1, 5) : i32x4.shuffle(v2, v3, 2, 6, 3, 7);
  return (k & 1) == 0 ? i64x2.shuffle(t0, t1, 0, 2) : i64x2.shuffle(t0, t1, 1, 3);
}

/** The 6-bit scale (unsigned, as stored) of group G of the q3_K block at p (ggml's unpacking of scales[12]). */
@inline function q3_scale6(p: usize, G: i32): i32 {
  const s = p + Q3_K_SCALES;
  const low = G < 8 ? <i32>load<u8>(s + G) & 15 : <i32>load<u8>(s + G - 8) >> 4;
  return low | (((<i32>load<u8>(s + 8 + (G & 3)) >> ((G >> 2) << 1)) & 3) << 4);
}

/** Row i's bytes of a pair's chunks: groups a's and b's levels (va, vb: value v in byte v) interleaved two at a time, chunks 0-3 (hi: 4-7), one per i32 lane. */
@inline function pair_words(va: v128, vb: v128, hi: bool): v128 {
  return hi ? i16x8.shuffle(va, vb, 4, 12, 5, 13, 6, 14, 7, 15) : i16x8.shuffle(va, vb, 0, 8, 1, 9, 2, 10, 3, 11);
}

// one copy for both formats (not inlined: the module must stay small enough to swap over MQTT)
function repack_any(q3: bool, src: usize, dst: usize, rows: i32, cols: i32): void {
  const nb = cols / Q2_K_BLOCK;
  const sb: usize = q3 ? Q3_K_BYTES : Q2_K_BYTES;
  const rowBytes = <usize>nb * sb;
  const m03 = i8x16.splat(3), m04 = i8x16.splat(4), mc0 = i8x16.splat(<i8>0xc0), m40 = i8x16.splat(0x40), m80 = i8x16.splat(<i8>0x80);
  for (let g = 0; g < rows; g += 4) {
    const s0 = src + <usize>g * rowBytes;
    const d0 = dst + <usize>g * rowBytes;
    for (let b = 0; b < nb; b++) {
      const p = s0 + <usize>b * sb;
      const o = d0 + <usize>b * kr4_block_bytes(q3);
      const p1 = p + rowBytes, p2 = p1 + rowBytes, p3 = p2 + rowBytes;
      if (!q3) {
        for (let m = 0; m < 8; m++) {
          const G = 2 * m;
          const a0 = low_levels(p + Q2_K_QS, G, m03), a1 = low_levels(p1 + Q2_K_QS, G, m03), a2 = low_levels(p2 + Q2_K_QS, G, m03), a3 = low_levels(p3 + Q2_K_QS, G, m03);
          const b0 = low_levels(p + Q2_K_QS, G + 1, m03), b1 = low_levels(p1 + Q2_K_QS, G + 1, m03), b2 = low_levels(p2 + Q2_K_QS, G + 1, m03), b3 = low_levels(p3 + Q2_K_QS, G + 1, m03);
          for (let h = 0; h < 2; h++) {
            const w0 = pair_words(a0, b0, h == 1), w1 = pair_words(a1, b1, h == 1), w2 = pair_words(a2, b2, h == 1), w3 = pair_words(a3, b3, h == 1);
            // chunk 4h + k: word k of each row; levels < 4: the i16 shifts move nothing across bytes
            const V = v128.or(v128.or(chunk_of(w0, w1, w2, w3, 0), i16x8.shl(chunk_of(w0, w1, w2, w3, 1), 2)),
              v128.or(i16x8.shl(chunk_of(w0, w1, w2, w3, 2), 4), i16x8.shl(chunk_of(w0, w1, w2, w3, 3), 6)));
            v128.store(o + <usize>Q2_KR4_UNIT * <usize>(m >> 1) + 32 * <usize>(m & 1) + 16 * <usize>h, V);
          }
        }
        for (let t: usize = 0; t < 4; t++) v128.store(o + <usize>Q2_KR4_UNIT * t + Q2_KR4_UNIT_SCALES, i64x2.splat(0));
        for (let i: usize = 0; i < 4; i++) {
          const r = p + i * rowBytes;
          for (let G = 0; G < 16; G++) {
            const u = o + <usize>Q2_KR4_UNIT * <usize>(G >> 2), sh = ((G >> 1) & 1) << 2, b = <i32>load<u8>(r + G);
            const sAt = u + Q2_KR4_UNIT_SCALES + 2 * i + <usize>(G & 1), mAt = u + Q2_KR4_UNIT_MINS + 2 * i + <usize>(G & 1);
            store<u8>(sAt, load<u8>(sAt) | ((b & 15) << sh));
            store<u8>(mAt, load<u8>(mAt) | ((b >> 4) << sh));
          }
          store<u16>(o + Q2_KR4_D + 2 * i, load<u16>(r, Q2_K_D));
          store<u16>(o + Q2_KR4_DMIN + 2 * i, load<u16>(r, Q2_K_DMIN));
        }
        continue;
      }
      for (let m = 0; m < 8; m++) {
        const G = 2 * m;
        let v0 = q3_levels_of(p, G, m03, m04), v1 = q3_levels_of(p1, G, m03, m04);
        let v2 = q3_levels_of(p2, G, m03, m04), v3 = q3_levels_of(p3, G, m03, m04);
        const a0 = chunk_of(v0, v1, v2, v3, 0), a1 = chunk_of(v0, v1, v2, v3, 1), a2 = chunk_of(v0, v1, v2, v3, 2), a3 = chunk_of(v0, v1, v2, v3, 3);
        v0 = q3_levels_of(p, G + 1, m03, m04);
        v1 = q3_levels_of(p1, G + 1, m03, m04);
        v2 = q3_levels_of(p2, G + 1, m03, m04);
        v3 = q3_levels_of(p3, G + 1, m03, m04);
        const b0 = chunk_of(v0, v1, v2, v3, 0), b1 = chunk_of(v0, v1, v2, v3, 1), b2 = chunk_of(v0, v1, v2, v3, 2), b3 = chunk_of(v0, v1, v2, v3, 3);
        // levels < 8: the i16 shifts move nothing across bytes (the masks keep what lands in bits 6-7)
        const V1 = v128.or(v128.or(a0, i16x8.shl(a1, 3)), v128.and(i16x8.shl(a2, 6), mc0));
        const V2 = v128.or(v128.or(b0, i16x8.shl(b1, 3)), v128.and(i16x8.shl(b2, 6), mc0));
        const V3 = v128.or(v128.or(b3, i16x8.shl(a3, 3)), v128.or(v128.and(i16x8.shl(a2, 4), m40), v128.and(i16x8.shl(b2, 5), m80)));
        const q = o + 48 * m;
        v128.store(q, V1);
        v128.store(q, V2, 16);
        v128.store(q, V3, 32);
      }
      memory.fill(o + Q3_KR4_SCALES, 0, 48);
      for (let i: usize = 0; i < 4; i++) {
        const r = p + i * rowBytes;
        for (let G = 0; G < 16; G++) {
          const n = 8 * (G >> 1) + 2 * <i32>i + (G & 1);
          const v = q3_scale6(r, G);
          const lo = o + Q3_KR4_SCALES + (n & 31), hi = o + Q3_KR4_SCALES_HIGH + (n & 15);
          store<u8>(lo, load<u8>(lo) | ((v & 15) << ((n >> 5) << 2)));
          store<u8>(hi, load<u8>(hi) | ((v >> 4) << ((n >> 4) << 1)));
        }
        store<u16>(o + Q3_KR4_D + 2 * i, load<u16>(r, Q3_K_D));
      }
    }
  }
}

/** repack_q2_K_r4(src, dst, rows, cols): ggml q2_K rows (rows a multiple of 4) into q2_Kr4. src and dst must not overlap. */
export function repack_q2_K_r4(src: usize, dst: usize, rows: i32, cols: i32): void {
  repack_any(false, src, dst, rows, cols);
}

/** repack_q3_K_r4(src, dst, rows, cols): ggml q3_K rows (rows a multiple of 4) into q3_Kr4. src and dst must not overlap. */
export function repack_q3_K_r4(src: usize, dst: usize, rows: i32, cols: i32): void {
  repack_any(true, src, dst, rows, cols);
}
