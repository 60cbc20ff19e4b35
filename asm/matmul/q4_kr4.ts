// q4_K weights in the q4_Kr4 layout (four rows interleaved, asm/matmul/q4_kr4_x16.ts draws it) on
// q8_K activations (ggml's): matvec_q4_Kr4 and matmul_q4_Kr4 give exactly matvec_q4_K's results on
// the original rows (the same integers per row and block, the same f32 steps), four rows per pass,
// each row's sums in its own lane.
//
// Per chunk L of sub-block j (16 bytes: row i in i16 lanes 2i, 2i + 1, nibble s of lane 2i + p = the
// quant of value 8L + 2s + p), the chunk's eight activations are widened once (v128.load8x8_s) and
// each value pair 8L + 2s, 8L + 2s + 1 splatted from its i32 lane: i32x4.dot_i16x8_s of nibble s
// (taken out with a mask, as q, 16·q, 256·q, or with one shift) against it leaves row i's partial sum in
// lane i. Per sub-block the four nibble sums are shifted back (exact: they are multiples of 16 and 256)
// and added, then multiplied by the rows' scales (one i32 multiply for four rows).
//
// The integers (the same as matvec_q4_K's, act_q8_k.ts): Σ_j sc_j·Σ q·qx per row, |…| ≤ 30,965,760
// (8 sub-blocks · 32 values · 15 · 128 · 63), and on the way a lane of s2 (256·q) holds at most
// 4 chunks · 2 products · 256·15·128 = 3,932,160; the min term Σ_j m_j·(bsums[2j] + bsums[2j+1]) ≤
// 8·63·4096. The f32 steps per row and block: t = f32(isum)·(dx·d), u = f32(msum)·(dx·dmin),
// acc = acc + (t − u), in block order. d and dmin convert exactly for finite halves, with no
// subnormal arithmetic (lib/f16.ts; the host repacks only matrices whose d and dmin are all finite).
import { Q4_K_BLOCK, Q4_K_BYTES, Q4_KR4_DMIN, Q4_KR4_HIGH, Q4_KR4_MINS, Q4_KR4_QS, Q4_KR4_SCALES, Q8_K_BSUMS, Q8_K_BYTES, Q8_K_QS } from '../lib/blocks';
import { F16_BIAS, F16_EXP1, finite_halves_s_to_f32x4_ns_k } from '../lib/f16';
import { reduce4_i32 } from '../lib/simd';
import { matmul_rows4_tiles, matvec_rows4 } from './tile';

/** A q8_K block's 16 bsums summed in pairs: the eight 32-value sums as i16 lanes (|sum| ≤ 4096). */
@inline export function bsum_pairs(xb: usize): v128 {
  return i16x8.narrow_i32x4_s(i32x4.extadd_pairwise_i16x8_s(v128.load(xb, Q8_K_BSUMS)), i32x4.extadd_pairwise_i16x8_s(v128.load(xb, Q8_K_BSUMS + 16)));
}

/**
 * The four rows' 6-bit values of sub-blocks 0..3 (lo) or 4..7 (hi) of a re-encoded field (scales at
 * Q4_KR4_SCALES, mins at Q4_KR4_MINS; their top bits in Q4_KR4_HIGH at bit pair `hb`): byte t of row
 * lane i is row i's value for sub-block t (lo) or 4 + t (hi).
 */
@inline export function kr4_values_lo(p: usize, field: i32, hb: i32, n0f: v128, n30: v128): v128 {
  const f = field == Q4_KR4_SCALES ? v128.load(p, Q4_KR4_SCALES) : v128.load(p, Q4_KR4_MINS);
  const h = v128.load(p, Q4_KR4_HIGH);
  return v128.or(v128.and(f, n0f), v128.and(hb == 0 ? i32x4.shl(h, 4) : i32x4.shl(h, 0), n30));
}
@inline export function kr4_values_hi(p: usize, field: i32, hb: i32, n0f: v128, n30: v128): v128 {
  const f = field == Q4_KR4_SCALES ? v128.load(p, Q4_KR4_SCALES) : v128.load(p, Q4_KR4_MINS);
  const h = v128.load(p, Q4_KR4_HIGH);
  return v128.or(v128.and(i32x4.shr_u(f, 4), n0f), v128.and(hb == 0 ? i32x4.shl(h, 2) : i32x4.shr_u(h, 2), n30));
}

/**
 * The four rows' min terms Σ_j m_j·(bsums[2j] + bsums[2j+1]) of the group block at p and the q8_K
 * block at xb, row i in lane i: each row's eight mins as i16 lanes dotted with the eight bsum pairs.
 */
@inline export function kr4_msum(p: usize, xb: usize, n0f: v128, n30: v128): v128 {
  const ma = kr4_values_lo(p, Q4_KR4_MINS, 4, n0f, n30), mb = kr4_values_hi(p, Q4_KR4_MINS, 4, n0f, n30);
  // rows 0, 1 (then 2, 3): their eight mins, row by row
  const m01 = i8x16.shuffle(ma, mb, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const m23 = i8x16.shuffle(ma, mb, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  const bp = bsum_pairs(xb);
  return reduce4_i32(
    i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(m01), bp), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(m01), bp),
    i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(m23), bp), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(m23), bp),
  );
}

/**
 * The f32 steps of one group block: acc + (f32(isum)·(dx·d) − f32(msum)·(dx·dmin)), row i in lane i.
 * d and dmin convert with no subnormal arithmetic (lib/f16.ts: subnormal scales are common); c0, c1
 * are that conversion's constants (kr4_const).
 */
@inline export function kr4_finish(acc: v128, isum: v128, msum: v128, p: usize, xb: usize, c0: v128, c1: v128): v128 {
  const dx = v128.load32_splat(xb);
  const t = f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.mul(dx, finite_halves_s_to_f32x4_ns_k(v128.load16x4_s(p), c0, c1)));
  const u = f32x4.mul(f32x4.convert_i32x4_s(msum), f32x4.mul(dx, finite_halves_s_to_f32x4_ns_k(v128.load16x4_s(p, Q4_KR4_DMIN), c0, c1)));
  return f32x4.add(acc, f32x4.sub(t, u));
}

/** The two constants of kr4_finish's conversion, made once per call (z: 0, not known to the compiler). */
@inline export function kr4_const(k: i32, z: i32): v128 {
  return i32x4.splat((k == 0 ? F16_BIAS : F16_EXP1) | z);
}

/** The q4_Kr4 group block at p · the q8_K block at xb: acc + the rows' block terms (kr4_finish). */
@inline function block_dot(acc: v128, p: usize, xb: usize, z: i32, m0: v128, m1: v128, m2: v128, n0f: v128, n30: v128, c0: v128, c1: v128): v128 {
  let isum = i32x4.splat(0);
  let sv = kr4_values_lo(p, Q4_KR4_SCALES, 0, n0f, n30);
  let q = p + Q4_KR4_QS, xq = xb + Q8_K_QS;
  for (let j = 0; j < 8; j++) {
    if (j == 4) sv = kr4_values_hi(p, Q4_KR4_SCALES, 0, n0f, n30);
    // chunk 0, then chunks 1..3 behind an opaque `if (z == 0)` (V8 issues a basic block's loads first)
    let c = v128.load(q);
    let x = v128.load8x8_s(xq);
    let s0 = i32x4.dot_i16x8_s(v128.and(c, m0), i32x4.shuffle(x, x, 0, 0, 0, 0));
    let s1 = i32x4.dot_i16x8_s(v128.and(c, m1), i32x4.shuffle(x, x, 1, 1, 1, 1));
    let s2 = i32x4.dot_i16x8_s(v128.and(c, m2), i32x4.shuffle(x, x, 2, 2, 2, 2));
    let s3 = i32x4.dot_i16x8_s(i16x8.shr_u(c, 12), i32x4.shuffle(x, x, 3, 3, 3, 3));
    if (z == 0) {
      c = v128.load(q, 16);
      x = v128.load8x8_s(xq, 8);
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(v128.and(c, m0), i32x4.shuffle(x, x, 0, 0, 0, 0)));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(v128.and(c, m1), i32x4.shuffle(x, x, 1, 1, 1, 1)));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(v128.and(c, m2), i32x4.shuffle(x, x, 2, 2, 2, 2)));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(i16x8.shr_u(c, 12), i32x4.shuffle(x, x, 3, 3, 3, 3)));
    }
    if (z == 0) {
      c = v128.load(q, 32);
      x = v128.load8x8_s(xq, 16);
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(v128.and(c, m0), i32x4.shuffle(x, x, 0, 0, 0, 0)));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(v128.and(c, m1), i32x4.shuffle(x, x, 1, 1, 1, 1)));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(v128.and(c, m2), i32x4.shuffle(x, x, 2, 2, 2, 2)));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(i16x8.shr_u(c, 12), i32x4.shuffle(x, x, 3, 3, 3, 3)));
    }
    if (z == 0) {
      c = v128.load(q, 48);
      x = v128.load8x8_s(xq, 24);
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(v128.and(c, m0), i32x4.shuffle(x, x, 0, 0, 0, 0)));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(v128.and(c, m1), i32x4.shuffle(x, x, 1, 1, 1, 1)));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(v128.and(c, m2), i32x4.shuffle(x, x, 2, 2, 2, 2)));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(i16x8.shr_u(c, 12), i32x4.shuffle(x, x, 3, 3, 3, 3)));
    }
    const sub = i32x4.add(i32x4.add(s0, s3), i32x4.add(i32x4.shr_s(s1, 4), i32x4.shr_s(s2, 8)));
    isum = i32x4.add(isum, i32x4.mul(sub, v128.and(sv, i32x4.splat(0xff | z))));
    sv = i32x4.shr_u(sv, 8);
    q += 64;
    xq += 32;
  }
  return kr4_finish(acc, isum, kr4_msum(p, xb, n0f, n30), p, xb, c0, c1);
}

/** matvec_q4_Kr4(w, x: q8_K*, y: f32*, cols, r0, r1): w in q4_Kr4, r0 and r1 multiples of 4. */
export function matvec_q4_Kr4(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_rows4<Rows4>(0, w, x, y, r0, r1, cols / Q4_K_BLOCK, Q4_K_BYTES, Q8_K_BYTES, cols >> 31);
}

/**
 * matmul_q4_Kr4(w, x: q8_K*, y: f32*, cols, rows, nTok, r0, r1): w in q4_Kr4, r0 and r1 multiples of
 * 4; y[t·rows + r]. Tiles of four tokens, each token calling matvec on a group's rows (the group row
 * comes from memory once per tile): equal to matvec bit for bit.
 */
export function matmul_q4_Kr4(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_rows4_tiles<Rows4>(0, w, x, y, cols, rows, nTok, r0, r1, cols / Q4_K_BLOCK, Q4_K_BYTES, Q8_K_BYTES, cols >> 31);
}

/** The drivers' K (tile.ts): block_dot and its seven constants (masks 0x000f, 0x00f0, 0x0f00 in i16 lanes, 0x0f and 0x30 in bytes, kr4_const's two); no tile step. */
@final @unmanaged class Rows4 {
  @inline rows4_consts(wt: i32): i32 {
    return 7;
  }
  @inline rows4_const(wt: i32, i: i32, z: i32): v128 {
    if (i < 3) return i16x8.splat(<i16>((i == 0 ? 0x000f : i == 1 ? 0x00f0 : 0x0f00) | z));
    if (i < 5) return i8x16.splat(<i8>((i == 3 ? 0x0f : 0x30) | z));
    return i < 7 ? kr4_const(i - 5, z) : i32x4.splat(0);
  }
  @inline tiled(wt: i32): bool {
    return false;
  }
  @inline matvec(wt: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
    matvec_q4_Kr4(w, x, y, cols, r0, r1);
  }
  @inline block(wt: i32, acc: v128, p: usize, xb: usize, z: i32, m0: v128, m1: v128, m2: v128, n0f: v128, n30: v128, c0: v128, c1: v128, u7: v128, u8: v128, u9: v128): v128 {
    return block_dot(acc, p, xb, z, m0, m1, m2, n0f, n30, c0, c1);
  }
  @inline block4(wt: i32, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, y0: usize, y1: usize, y2: usize, y3: usize, z: i32, c0: v128, c1: v128, c2: v128, c3: v128, c4: v128, c5: v128, c6: v128, c7: v128, c8: v128, c9: v128): void {} // not tiled: never called
}
