// q6_K weights repacked four rows at a time ("q6_Kr4") on q8_K activations (ggml's): matvec_q6_Kr4 and
// matmul_q6_Kr4 give exactly matvec_q6_K's results on the original rows (the same integer per row and
// block, the same f32 steps), four rows per pass, each row's result in its own lane. Same bytes as
// q6_K (210 per row per 256 values). Rows come in groups of 4 and, per group and super-block index,
// one 840-byte group block:
//
//   [0, 768)    group G = 0..15 (values 16G..16G+15 of each row) at 48·G: three 16-byte vectors A, B,
//               C. Byte 4i + e (row i, e = 0..3) of A holds in bits 0..5 row i's quant of value
//               16G + e, of B of value 16G + 4 + e, of C of value 16G + 8 + e; their bits 6..7 hold
//               the quant of value 16G + 12 + e: bits 4..5 in A, 2..3 in B, 0..1 in C
//   [768, 832)  the scales: byte 4·G + i = row i's i8 scale of group G (ggml's scales[G])
//   [832, 840)  the four rows' f16 d (row i at 832 + 2i)
//
// So a 16-byte "chunk" (a = A & 0x3f, b, c, and d from the three top-bit pairs) holds four
// consecutive values of each row, row i in i32 lane i: the chunk's four activations splatted to every
// lane (one v128.load32_splat) serve the four rows. The repack is a permutation of the bits (lossless).
//
// Per group (16 values, four rows), with 6-bit quants u (0..63) and i8 activations x (|x| ≤ 128):
// - this file (no relaxed SIMD): each chunk widened to i16 (rows 0, 1 low; 2, 3 high) and
//   i32x4.dot_i16x8_s against the chunk's four activations as i16 (twice) leaves two lanes per row, of
//   two products each; two chunks' lanes added (≤ 4·63·128 = 32,256) narrow exactly into i16 lanes
//   [r0, r0, r1, r1, r2, r2, r3, r3], and one i32x4.dot_i16x8_s against the rows' scales in the same
//   order ([s0, s0, s1, s1, ...]) gives each row's scaled sum in its i32 lane;
// - the relaxed flavour (asm/arch/relaxed/q6_kr4.ts): i16x8.relaxed_dot_i8x16_i7x16_s of the splatted
//   activations against a chunk (u: the i7 operand) gives row i's pair sums in i16 lanes 2i, 2i + 1; two
//   chunks added (≤ 32,256) go through the same dot against the scales.
// The −32 comes off per group pair through q8_K's bsums: the rows' scales of groups 2m, 2m + 1 as i16
// pairs [s0,2m, s0,2m+1, s1,2m, ...] dotted with the splatted pair (bsums[2m], bsums[2m+1]) gives each
// row's Σ sc·bsum, times 32 subtracted. So per row and block the integer is act_q8_k.ts's q6_isum
// (Σ_g sc_g·(Σ u·x − 32·bsums[g]), |…| < 2^31: act_q8_k.ts), and the f32 step is the same:
// acc + f32(isum)·(dx·d), in block order. d converts exactly for finite halves, with no subnormal
// arithmetic (lib/f16.ts; the host repacks only matrices whose d are all finite).
import { Q6_K_BLOCK, Q6_K_BYTES, Q6_K_D, Q6_K_SCALES, Q6_KR4_BYTES, Q6_KR4_D, Q6_KR4_SCALES, Q8_K_BSUMS, Q8_K_BYTES, Q8_K_QS } from '../lib/blocks';
import { f16_to_f32, finite_halves_s_to_f32x4_ns_k } from '../lib/f16';
import { q6_group_at } from '../lib/quants';
import { kr4_const } from './q4_kr4';
import { matmul_rows4_tiles, matvec_rows4 } from './tile';

/** The fourth chunk of a group from its three stored vectors and the three chunks taken out of them. */
@inline export function r4_fourth(A: v128, B: v128, C: v128, a: v128, b: v128, c: v128): v128 {
  // the top bit pairs (A ^ a keeps only bits 6, 7): to bits 4..5, 2..3, 0..1; the i16 shifts move only zeros across bytes
  return v128.or(v128.or(i16x8.shr_u(v128.xor(A, a), 2), i16x8.shr_u(v128.xor(B, b), 4)), i16x8.shr_u(v128.xor(C, c), 6));
}

/** The rows' scales of groups 2m (lo) and 2m + 1 (hi) as i16 lanes [s0, s0, s1, s1, s2, s2, s3, s3], from v = the pair's eight scales as i16. */
@inline export function r4_scales_lo(v: v128): v128 {
  return i16x8.shuffle(v, v, 0, 0, 1, 1, 2, 2, 3, 3);
}
@inline export function r4_scales_hi(v: v128): v128 {
  return i16x8.shuffle(v, v, 4, 4, 5, 5, 6, 6, 7, 7);
}

/** Each row's sc_2m·bsums[2m] + sc_2m+1·bsums[2m+1] for the group pair whose scale vectors are sa, sb (bsums at bs). */
@inline export function r4_bsum_dot(sa: v128, sb: v128, bs: usize): v128 {
  const pairs = i16x8.shuffle(sa, sb, 0, 9, 2, 11, 4, 13, 6, 15); // [s0,2m, s0,2m+1, s1,2m, s1,2m+1, ...]
  return i32x4.dot_i16x8_s(pairs, v128.load32_splat(bs));
}

/** isum − 32·r4_bsum_dot: the pair's share of the −32 offset. */
@inline export function r4_offset(isum: v128, sa: v128, sb: v128, bs: usize): v128 {
  return i32x4.sub(isum, i32x4.shl(r4_bsum_dot(sa, sb, bs), 5));
}

/** acc + f32(isum)·(dx·d), row i in lane i: the f32 step of one group block at p and the q8_K block at xb. */
@inline export function r4_finish(acc: v128, isum: v128, p: usize, xb: usize, c0: v128, c1: v128): v128 {
  const d = finite_halves_s_to_f32x4_ns_k(v128.load16x4_s(p, Q6_KR4_D), c0, c1);
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.mul(v128.load32_splat(xb), d)));
}

/** Two chunks' i32 dot lanes (two products each) for rows 0, 1 (lo) or 2, 3 (hi) against their activations qa, qb (i16, four values twice). */
@inline function pair_lo(a: v128, b: v128, qa: v128, qb: v128): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(a), qa), i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(b), qb));
}
@inline function pair_hi(a: v128, b: v128, qa: v128, qb: v128): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(a), qa), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(b), qb));
}

/** isum + one group (48 bytes at q, its 16 activations at xs, the rows' scales sc): Σ sc·Σ u·x per row lane. */
@inline function group(isum: v128, q: usize, xs: usize, sc: v128, m3f: v128): v128 {
  const A = v128.load(q), B = v128.load(q, 16), C = v128.load(q, 32);
  const a = v128.and(A, m3f), b = v128.and(B, m3f), c = v128.and(C, m3f);
  const d = r4_fourth(A, B, C, a, b, c);
  const x0 = v128.load8x8_s(xs), x1 = v128.load8x8_s(xs, 8);
  const q0 = i64x2.shuffle(x0, x0, 0, 0), q1 = i64x2.shuffle(x0, x0, 1, 1);
  const q2 = i64x2.shuffle(x1, x1, 0, 0), q3 = i64x2.shuffle(x1, x1, 1, 1);
  isum = i32x4.add(isum, i32x4.dot_i16x8_s(i16x8.narrow_i32x4_s(pair_lo(a, b, q0, q1), pair_hi(a, b, q0, q1)), sc));
  return i32x4.add(isum, i32x4.dot_i16x8_s(i16x8.narrow_i32x4_s(pair_lo(c, d, q2, q3), pair_hi(c, d, q2, q3)), sc));
}

/** The q6_Kr4 group block at p · the q8_K block at xb: acc + the rows' block terms (r4_finish). */
@inline function block_dot(acc: v128, p: usize, xb: usize, z: i32, m3f: v128, c0: v128, c1: v128): v128 {
  let isum = i32x4.splat(0);
  let q = p, xs = xb + Q8_K_QS, s = p + Q6_KR4_SCALES, bs = xb + Q8_K_BSUMS;
  for (let m = 0; m < 8; m++) {
    const v = v128.load8x8_s(s);
    const sa = r4_scales_lo(v), sb = r4_scales_hi(v);
    isum = r4_offset(isum, sa, sb, bs);
    isum = group(isum, q, xs, sa, m3f);
    if (z == 0) isum = group(isum, q + 48, xs + 16, sb, m3f);
    q += 96;
    xs += 32;
    s += 8;
    bs += 4;
  }
  return r4_finish(acc, isum, p, xb, c0, c1);
}

/** matvec_q6_Kr4(w, x: q8_K*, y: f32*, cols, r0, r1): w in q6_Kr4, r0 and r1 multiples of 4. */
export function matvec_q6_Kr4(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_r4<Steps>(w, x, y, cols, r0, r1);
}

/** One token's share of half a group: isum + the rows' scaled sums of two widened chunks (rows 0, 1: al, bl; rows 2, 3: ah, bh) against the token's 8 activations at xs. */
@inline function token_half(isum: v128, xs: usize, al: v128, ah: v128, bl: v128, bh: v128, sc: v128): v128 {
  const x = v128.load8x8_s(xs);
  const qa = i64x2.shuffle(x, x, 0, 0), qb = i64x2.shuffle(x, x, 1, 1);
  const lo = i32x4.add(i32x4.dot_i16x8_s(al, qa), i32x4.dot_i16x8_s(bl, qb));
  const hi = i32x4.add(i32x4.dot_i16x8_s(ah, qa), i32x4.dot_i16x8_s(bh, qb));
  return i32x4.add(isum, i32x4.dot_i16x8_s(i16x8.narrow_i32x4_s(lo, hi), sc));
}

/**
 * The q6_Kr4 group block at p · the q8_K blocks of four tokens at a0..a3: each group's chunks taken
 * out and widened once for the four tokens (half a group at a time), each token's integers as
 * block_dot's (the same sums; the offsets subtracted per group pair likewise), then block_dot's f32
 * step on each token's accumulator, kept in y0..y3 (the four rows' results of each token).
 */
@inline function block_dot4(p: usize, a0: usize, a1: usize, a2: usize, a3: usize, y0: usize, y1: usize, y2: usize, y3: usize, z: i32, m3f: v128, c0: v128, c1: v128): void {
  let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
  let q = p, s = p + Q6_KR4_SCALES, xo: usize = Q8_K_QS, bo: usize = Q8_K_BSUMS;
  for (let G = 0; G < 16; G++) {
    const v = v128.load8x8_s(s);
    const sa = r4_scales_lo(v), sb = r4_scales_hi(v);
    if ((G & 1) == 0) {
      i0 = r4_offset(i0, sa, sb, a0 + bo);
      i1 = r4_offset(i1, sa, sb, a1 + bo);
      i2 = r4_offset(i2, sa, sb, a2 + bo);
      i3 = r4_offset(i3, sa, sb, a3 + bo);
    }
    const sc = (G & 1) == 0 ? sa : sb;
    const A = v128.load(q), B = v128.load(q, 16), C = v128.load(q, 32);
    const a = v128.and(A, m3f), b = v128.and(B, m3f), c = v128.and(C, m3f);
    const d = r4_fourth(A, B, C, a, b, c);
    let l0 = i16x8.extend_low_i8x16_u(a), h0 = i16x8.extend_high_i8x16_u(a), l1 = i16x8.extend_low_i8x16_u(b), h1 = i16x8.extend_high_i8x16_u(b);
    i0 = token_half(i0, a0 + xo, l0, h0, l1, h1, sc);
    i1 = token_half(i1, a1 + xo, l0, h0, l1, h1, sc);
    i2 = token_half(i2, a2 + xo, l0, h0, l1, h1, sc);
    i3 = token_half(i3, a3 + xo, l0, h0, l1, h1, sc);
    if (z == 0) {
      l0 = i16x8.extend_low_i8x16_u(c);
      h0 = i16x8.extend_high_i8x16_u(c);
      l1 = i16x8.extend_low_i8x16_u(d);
      h1 = i16x8.extend_high_i8x16_u(d);
      i0 = token_half(i0, a0 + xo + 8, l0, h0, l1, h1, sc);
      i1 = token_half(i1, a1 + xo + 8, l0, h0, l1, h1, sc);
      i2 = token_half(i2, a2 + xo + 8, l0, h0, l1, h1, sc);
      i3 = token_half(i3, a3 + xo + 8, l0, h0, l1, h1, sc);
    }
    q += 48;
    xo += 16;
    if ((G & 1) != 0) {
      s += 8;
      bo += 4;
    }
  }
  v128.store(y0, r4_finish(v128.load(y0), i0, p, a0, c0, c1));
  v128.store(y1, r4_finish(v128.load(y1), i1, p, a1, c0, c1));
  v128.store(y2, r4_finish(v128.load(y2), i2, p, a2, c0, c1));
  v128.store(y3, r4_finish(v128.load(y3), i3, p, a3, c0, c1));
}

/**
 * matmul_q6_Kr4(w, x: q8_K*, y: f32*, cols, rows, nTok, r0, r1): w in q6_Kr4, r0 and r1 multiples of
 * 4; y[t·rows + r]. Whole tiles of four tokens take each group's chunks out once for the four
 * (block_dot4, the running sums in y); the last tile, if short, calls matvec per token. Equal to
 * matvec bit for bit.
 */
export function matmul_q6_Kr4(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_r4<Steps>(w, x, y, cols, rows, nTok, r0, r1);
}

// ---- the drivers both flavours run (tile.ts), each with its own block steps S (a field-less class)

/** matvec_q6_Kr4 by the shared driver (tile.ts) with the flavour's block steps S. */
@inline export function matvec_r4<S>(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_rows4<Rows4<S>>(0, w, x, y, r0, r1, cols / Q6_K_BLOCK, Q6_K_BYTES, Q8_K_BYTES, cols >> 31);
}

/** matmul_q6_Kr4 by the shared driver: whole 4-token tiles by S's block_dot4, a short last tile by S's matvec per token. */
@inline export function matmul_r4<S>(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_rows4_tiles<Rows4<S>>(0, w, x, y, cols, rows, nTok, r0, r1, cols / Q6_K_BLOCK, Q6_K_BYTES, Q8_K_BYTES, cols >> 31);
}

/** The drivers' K for a flavour's block steps S (block_dot, block_dot4): the constants 0x3f in every byte and kr4_const's two. */
@final @unmanaged class Rows4<S> {
  @inline rows4_consts(wt: i32): i32 {
    return 3;
  }
  @inline rows4_const(wt: i32, i: i32, z: i32): v128 {
    if (i == 0) return i8x16.splat(<i8>(0x3f | z));
    return i < 3 ? kr4_const(i - 1, z) : i32x4.splat(0);
  }
  @inline tiled(wt: i32): bool {
    return true;
  }
  @inline matvec(wt: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
    changetype<S>(0).matvec(wt, w, x, y, cols, r0, r1);
  }
  @inline block(wt: i32, acc: v128, p: usize, xb: usize, z: i32, m3f: v128, c0: v128, c1: v128, u3: v128, u4: v128, u5: v128, u6: v128, u7: v128, u8: v128, u9: v128): v128 {
    return changetype<S>(0).block_dot(acc, p, xb, z, m3f, c0, c1);
  }
  @inline block4(wt: i32, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, y0: usize, y1: usize, y2: usize, y3: usize, z: i32, m3f: v128, c0: v128, c1: v128, u3: v128, u4: v128, u5: v128, u6: v128, u7: v128, u8: v128, u9: v128): void {
    changetype<S>(0).block_dot4(p, a0, a1, a2, a3, y0, y1, y2, y3, z, m3f, c0, c1);
  }
}

/** The SIMD128 block steps. */
@final @unmanaged class Steps {
  /** The flavour's matvec (matmul's short last tile). */
  @inline matvec(wt: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
    matvec_q6_Kr4(w, x, y, cols, r0, r1);
  }
  @inline block_dot(acc: v128, p: usize, xb: usize, z: i32, m3f: v128, c0: v128, c1: v128): v128 {
    return block_dot(acc, p, xb, z, m3f, c0, c1);
  }
  @inline block_dot4(p: usize, a0: usize, a1: usize, a2: usize, a3: usize, y0: usize, y1: usize, y2: usize, y3: usize, z: i32, m3f: v128, c0: v128, c1: v128): void {
    block_dot4(p, a0, a1, a2, a3, y0, y1, y2, y3, z, m3f, c0, c1);
  }
}

/**
 * repack_q6_K_r4(src, dst, rows, cols): ggml q6_K rows (rows a multiple of 4) into the q6_Kr4 layout
 * above. src and dst must not overlap (the host repacks through a scratch buffer).
 */
export function repack_q6_K_r4(src: usize, dst: usize, rows: i32, cols: i32): void {
  const nb = cols / Q6_K_BLOCK;
  const rowBytes = <usize>nb * Q6_K_BYTES;
  const m0f = i8x16.splat(0x0f), m30 = i8x16.splat(0x30), mc0 = i8x16.splat(<i8>0xc0);
  for (let g = 0; g < rows; g += 4) {
    const s0 = src + <usize>g * rowBytes;
    const d0 = dst + <usize>g * rowBytes;
    for (let b = 0; b < nb; b++) {
      const p = s0 + <usize>b * Q6_K_BYTES;
      const o = d0 + <usize>b * Q6_KR4_BYTES;
      for (let i: usize = 0; i < 4; i++) {
        const r = p + i * rowBytes;
        store<u16>(o + Q6_KR4_D + 2 * i, load<u16>(r, Q6_K_D));
        for (let G: usize = 0; G < 16; G++) store<u8>(o + Q6_KR4_SCALES + 4 * G + i, load<u8>(r + Q6_K_SCALES + G));
      }
      for (let G: usize = 0; G < 16; G++) {
        // group G = values 128h + 32k + 16s .. + 15 (lib/quants.ts): each row's 16 quants as bytes
        const h = G >> 3, k = <i32>((G >> 1) & 3), s = G & 1;
        const v0 = q6_group_at(p, h, s, k, m0f, m30), v1 = q6_group_at(p + rowBytes, h, s, k, m0f, m30);
        const v2 = q6_group_at(p + 2 * rowBytes, h, s, k, m0f, m30), v3 = q6_group_at(p + 3 * rowBytes, h, s, k, m0f, m30);
        // 4×4 transpose of 32-bit words: chunk e = values 4e..4e+3 of rows 0..3
        const t0 = i32x4.shuffle(v0, v1, 0, 4, 1, 5), t1 = i32x4.shuffle(v2, v3, 0, 4, 1, 5);
        const t2 = i32x4.shuffle(v0, v1, 2, 6, 3, 7), t3 = i32x4.shuffle(v2, v3, 2, 6, 3, 7);
        const ca = i64x2.shuffle(t0, t1, 0, 2), cb = i64x2.shuffle(t0, t1, 1, 3);
        const cc = i64x2.shuffle(t2, t3, 0, 2), cd = i64x2.shuffle(t2, t3, 1, 3);
        // the fourth chunk's bits 4..5, 2..3, 0..1 to bits 6..7 of the other three (quants < 64: nothing crosses a byte)
        const q = o + (G * 48);
        v128.store(q, v128.or(ca, v128.and(i16x8.shl(cd, 2), mc0)));
        v128.store(q, v128.or(cb, v128.and(i16x8.shl(cd, 4), mc0)), 16);
        v128.store(q, v128.or(cc, v128.and(i16x8.shl(cd, 6), mc0)), 32);
      }
    }
  }
}

/** get_row_q6_Kr4(w, out: f32*, cols, row): row `row` of a q6_Kr4 matrix, get_row_q6_K's values bit for bit. */
export function get_row_q6_Kr4(w: usize, out: usize, cols: i32, row: i32): void {
  const nb = cols / Q6_K_BLOCK;
  const i = <usize>(row & 3);
  let p = w + <usize>(row & ~3) * <usize>nb * Q6_K_BYTES;
  let o = out;
  for (let b = 0; b < nb; b++) {
    const d = f16_to_f32(load<u16>(p + Q6_KR4_D + 2 * i));
    for (let G: usize = 0; G < 16; G++) {
      const ds = d * <f32>load<i8>(p + Q6_KR4_SCALES + 4 * G + i);
      const q = p + 48 * G + 4 * i;
      for (let e: usize = 0; e < 4; e++) {
        const A = <i32>load<u8>(q + e), B = <i32>load<u8>(q + e, 16), C = <i32>load<u8>(q + e, 32);
        const oe = o + ((16 * G + e) << 2);
        store<f32>(oe, <f32>((A & 63) - 32) * ds);
        store<f32>(oe, <f32>((B & 63) - 32) * ds, 16);
        store<f32>(oe, <f32>((C & 63) - 32) * ds, 32);
        store<f32>(oe, <f32>((((A >> 6) << 4) | ((B >> 6) << 2) | (C >> 6)) - 32) * ds, 48);
      }
    }
    p += Q6_KR4_BYTES;
    o += 1024;
  }
}
