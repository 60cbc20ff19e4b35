// matvec_q4_Kr4 and matmul_q4_Kr4 (q4_K rows in the q4_Kr4 layout on q8_K activations,
// asm/matmul/q4_kr4.ts) with relaxed-SIMD dot products: the same integers per row and block, the same
// f32 steps (kr4_finish), so the baseline's results bit for bit.
//
// In a chunk (16 bytes), row i owns bytes 4i..4i+3; masked with 0x0f they hold the quants of values
// 8L + {0, 4, 1, 5}, the high nibbles those of 8L + {2, 6, 3, 7} (nibble s of i16 lane 2i + p is value
// 8L + 2s + p). One 8-byte load of the chunk's activations, rearranged by i8x16.relaxed_swizzle
// (indices 0..7: deterministic) into those two byte orders in every row's lane, feeds
// i16x8.relaxed_dot_i8x16_i7x16_s against the nibbles (0..15: the i7 rule), whose i16 lanes 2i, 2i + 1
// are row i's pair sums. A sub-block's eight such vectors are added in i16 (≤ 8 · 2 · 15 · 128 = 30,720),
// then i32x4.dot_i16x8_s against the rows' scales (row i's sc in i16 lanes 2i, 2i + 1) gives each
// row's scaled sub-block sum in its i32 lane: no shifts back, no i32 multiply.
import { Q4_K_BLOCK, Q4_K_BYTES, Q4_KR4_QS, Q4_KR4_SCALES, Q8_K_BYTES, Q8_K_QS } from '../../lib/blocks';
import { kr4_const, kr4_finish, kr4_msum, kr4_values_hi, kr4_values_lo } from '../../matmul/q4_kr4';
import { matmul_rows4_tiles, matvec_rows4 } from '../../matmul/tile';

/** acc + the i16 pair sums of one chunk (16 bytes at q) against its eight activations at xs. */
@inline function chunk(acc: v128, q: usize, xs: usize, n0f: v128, iLo: v128, iHi: v128): v128 {
  const c = v128.load(q);
  const x = v128.load64_zero(xs);
  const lo = i16x8.relaxed_dot_i8x16_i7x16_s(i8x16.relaxed_swizzle(x, iLo), v128.and(c, n0f));
  const hi = i16x8.relaxed_dot_i8x16_i7x16_s(i8x16.relaxed_swizzle(x, iHi), v128.and(i16x8.shr_u(c, 4), n0f));
  return i16x8.add(acc, i16x8.add(lo, hi));
}

/** The q4_Kr4 group block at p · the q8_K block at xb: acc + the rows' block terms. */
@inline function block_dot(acc: v128, p: usize, xb: usize, z: i32, n0f: v128, n30: v128, iLo: v128, iHi: v128, c0: v128, c1: v128): v128 {
  let isum = i32x4.splat(0);
  let sv = kr4_values_lo(p, Q4_KR4_SCALES, 0, n0f, n30);
  let q = p + Q4_KR4_QS, xq = xb + Q8_K_QS;
  for (let j = 0; j < 8; j++) {
    if (j == 4) sv = kr4_values_hi(p, Q4_KR4_SCALES, 0, n0f, n30);
    let s = chunk(i16x8.splat(0), q, xq, n0f, iLo, iHi);
    if (z == 0) s = chunk(s, q + 16, xq + 8, n0f, iLo, iHi);
    if (z == 0) s = chunk(s, q + 32, xq + 16, n0f, iLo, iHi);
    if (z == 0) s = chunk(s, q + 48, xq + 24, n0f, iLo, iHi);
    // the rows' scales of sub-block j in both i16 halves of their lanes
    const sc = v128.and(sv, i32x4.splat(0xff | z));
    isum = i32x4.add(isum, i32x4.dot_i16x8_s(s, v128.or(sc, i32x4.shl(sc, 16))));
    sv = i32x4.shr_u(sv, 8);
    q += 64;
    xq += 32;
  }
  return kr4_finish(acc, isum, kr4_msum(p, xb, n0f, n30), p, xb, c0, c1);
}

/** One token's share of a chunk: acc + the rows' scaled pair sums (lo, hi: the chunk's nibbles; sc: the rows' sub-block scales in both i16 halves). */
@inline function token_chunk(acc: v128, xs: usize, lo: v128, hi: v128, iLo: v128, iHi: v128, sc: v128): v128 {
  const x = v128.load64_zero(xs);
  const s = i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(i8x16.relaxed_swizzle(x, iLo), lo), i16x8.relaxed_dot_i8x16_i7x16_s(i8x16.relaxed_swizzle(x, iHi), hi));
  return i32x4.add(acc, i32x4.dot_i16x8_s(s, sc));
}

/**
 * The q4_Kr4 group block at p · the q8_K blocks of four tokens at a0..a3: each chunk's nibbles taken
 * out once for the four tokens, each token's sums scaled per chunk (the same integers as block_dot:
 * sc·Σ over a sub-block's chunks = Σ of sc·each), then block_dot's f32 steps on each token's
 * accumulator, kept in y0..y3 (the four rows' results of each token: one v128 each).
 */
@inline function block_dot4(p: usize, a0: usize, a1: usize, a2: usize, a3: usize, y0: usize, y1: usize, y2: usize, y3: usize, z: i32, n0f: v128, n30: v128, iLo: v128, iHi: v128, c0: v128, c1: v128): void {
  let s0 = i32x4.splat(0), s1 = i32x4.splat(0), s2 = i32x4.splat(0), s3 = i32x4.splat(0);
  let sv = kr4_values_lo(p, Q4_KR4_SCALES, 0, n0f, n30);
  let q = p + Q4_KR4_QS, xo: usize = Q8_K_QS;
  for (let j = 0; j < 8; j++) {
    if (j == 4) sv = kr4_values_hi(p, Q4_KR4_SCALES, 0, n0f, n30);
    const sb = v128.and(sv, i32x4.splat(0xff | z));
    const sc = v128.or(sb, i32x4.shl(sb, 16));
    sv = i32x4.shr_u(sv, 8);
    for (let L: usize = 0; L < 4; L++) {
      const c = v128.load(q + (L << 4));
      const lo = v128.and(c, n0f), hi = v128.and(i16x8.shr_u(c, 4), n0f);
      const o = xo + (L << 3);
      s0 = token_chunk(s0, a0 + o, lo, hi, iLo, iHi, sc);
      s1 = token_chunk(s1, a1 + o, lo, hi, iLo, iHi, sc);
      s2 = token_chunk(s2, a2 + o, lo, hi, iLo, iHi, sc);
      s3 = token_chunk(s3, a3 + o, lo, hi, iLo, iHi, sc);
    }
    q += 64;
    xo += 32;
  }
  v128.store(y0, kr4_finish(v128.load(y0), s0, kr4_msum(p, a0, n0f, n30), p, a0, c0, c1));
  v128.store(y1, kr4_finish(v128.load(y1), s1, kr4_msum(p, a1, n0f, n30), p, a1, c0, c1));
  v128.store(y2, kr4_finish(v128.load(y2), s2, kr4_msum(p, a2, n0f, n30), p, a2, c0, c1));
  v128.store(y3, kr4_finish(v128.load(y3), s3, kr4_msum(p, a3, n0f, n30), p, a3, c0, c1));
}

/** matvec_q4_Kr4(w, x: q8_K*, y: f32*, cols, r0, r1): w in q4_Kr4, r0 and r1 multiples of 4. */
export function matvec_q4_Kr4(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_rows4<Rows4>(0, w, x, y, r0, r1, cols / Q4_K_BLOCK, Q4_K_BYTES, Q8_K_BYTES, cols >> 31);
}

/**
 * matmul_q4_Kr4(w, x: q8_K*, y: f32*, cols, rows, nTok, r0, r1): w in q4_Kr4, r0 and r1 multiples of
 * 4; y[t·rows + r]. Whole tiles of four tokens unpack each chunk once for the four (block_dot4, the
 * running sums in y); the last tile, if short, calls matvec per token. Equal to matvec bit for bit.
 */
export function matmul_q4_Kr4(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_rows4_tiles<Rows4>(0, w, x, y, cols, rows, nTok, r0, r1, cols / Q4_K_BLOCK, Q4_K_BYTES, Q8_K_BYTES, cols >> 31);
}

/**
 * The drivers' K (asm/matmul/tile.ts): block_dot, block_dot4 and their six constants (0x0f and 0x30 in
 * bytes; the swizzles, each row lane taking activation bytes 0, 4, 1, 5 for the low nibbles and 2, 6,
 * 3, 7 for the high; kr4_const's two).
 */
@final @unmanaged class Rows4 {
  @inline rows4_consts(wt: i32): i32 {
    return 6;
  }
  @inline rows4_const(wt: i32, i: i32, z: i32): v128 {
    if (i < 2) return i8x16.splat(<i8>((i == 0 ? 0x0f : 0x30) | z));
    if (i < 4) return i32x4.splat((i == 2 ? 0x05010400 : 0x07030602) | z);
    return i < 6 ? kr4_const(i - 4, z) : i32x4.splat(0);
  }
  @inline tiled(wt: i32): bool {
    return true;
  }
  @inline matvec(wt: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
    matvec_q4_Kr4(w, x, y, cols, r0, r1);
  }
  @inline block(wt: i32, acc: v128, p: usize, xb: usize, z: i32, n0f: v128, n30: v128, iLo: v128, iHi: v128, c0: v128, c1: v128, u6: v128, u7: v128, u8: v128, u9: v128): v128 {
    return block_dot(acc, p, xb, z, n0f, n30, iLo, iHi, c0, c1);
  }
  @inline block4(wt: i32, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, y0: usize, y1: usize, y2: usize, y3: usize, z: i32, n0f: v128, n30: v128, iLo: v128, iHi: v128, c0: v128, c1: v128, u6: v128, u7: v128, u8: v128, u9: v128): void {
    block_dot4(p, a0, a1, a2, a3, y0, y1, y2, y3, z, n0f, n30, iLo, iHi, c0, c1);
  }
}
