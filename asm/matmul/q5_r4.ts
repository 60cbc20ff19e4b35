// q5_0 and q5_1 weights repacked four rows at a time ("q5_0r4", "q5_1r4") on ggml's 8-bit activations
// (q5_1: q8_1, as the plain kernel; q5_0: q8_0's values in q8_0e blocks, which carry e = Σqs):
// matvec_q5_0r4 / matmul_q5_0r4 give exactly matvec_q5_0's results on the original rows (q8_0 blocks
// of the same values), matvec_q5_1r4 / matmul_q5_1r4 matvec_q5_1's, four rows
// per pass, each row's result in its own lane. Same bytes as ggml's (22 / 24 per row per 32 values).
// Rows come in groups of 4 and, per group and block index, one group block:
//
//   q5_0r4 (88 bytes): [0, 8) the four rows' f16 d (row i at 2i); [8, 88) vectors V0..V4
//   q5_1r4 (96 bytes): [0, 8) the four d; [8, 16) the four m; [16, 96) V0..V4
//
// Chunk k (k = 0..7) is 16 bytes: byte 4i + e holds row i's 5-bit level q (0..31) of value 4k + e.
// V0..V4 hold chunks 0..4 in bits 0..4; bits 5..7 hold the other three chunks' levels:
//   chunk 5: bits 0..2 in V0's bits 5..7, bits 3..4 in V1's bits 5..6
//   chunk 6: bits 0..2 in V2's bits 5..7, bits 3..4 in V3's bits 5..6
//   chunk 7: bits 0..2 in V4's bits 5..7, bit 3 in V1's bit 7, bit 4 in V3's bit 7
// So five ANDs give chunks 0..4 and 18 more operations (i16 shifts that move only zeros across
// bytes) chunks 5..7: 23 per 32 values of four rows, where ggml's layout takes ~11 per row's fifth bits
// alone. A chunk against its four activations (the same in every lane: one splat) leaves each row's
// sums in its own lanes: no horizontal sums. The repack is a permutation of the bits (lossless).
//
// Per block the integer is the plain kernels' (asm/matmul/legacy.ts): Σ q·qx, minus 16·Σqx for q5_0
// (16·e, one scalar load: the plain kernel's horizontal sum of the activations, which measured ~17% of
// this kernel's time, is the quantizer's now);
// and the f32 steps are theirs, lane-wise: acc + f32(isum)·(dw·dx) (q5_1: + mw·sx). The weight halves
// convert by lib/f16.ts's finite form, four rows at once (the host repacks only matrices whose d and m
// are all finite: block-formats.ts's finiteHalves); the activation's d and s by f16_to_f32, exact for
// every half (infinities and NaN as the plain kernels), in the scalar unit, which this kernel leaves idle.
//
// This file's (SIMD128) integer sums: a chunk widened to i16 (rows 0, 1 low; 2, 3 high) and
// i32x4.dot_i16x8_s against its four activations as i16 (twice). The relaxed flavour:
// asm/arch/relaxed/q5_r4.ts.
import {
  Q5_0R4_BYTES, Q5_0R4_QS, Q5_1_M, Q5_1R4_BYTES, Q5_1R4_M, Q5_1R4_QS, Q8_0_BLOCK, Q8_0E_BYTES, Q8_0E_QS,
  Q8_0E_SUM, Q8_1_BYTES, Q8_1_QS, Q8_1_S,
} from '../lib/blocks';
import { F16_K112, F16_MS, f16_to_f32 } from '../lib/f16';
import { c_b4, c_bit, c_nib, nibbles_hi, nibbles_lo, qh_spread, W_Q5_0, W_Q5_1, weight_bytes, with_fifth } from './legacy';
import { matmul_rows4_tiles, matvec_rows4 } from './tile';

/** Bytes of one group block. */
@inline export function r4_bytes(wt: i32): usize {
  return wt == W_Q5_0 ? Q5_0R4_BYTES : Q5_1R4_BYTES;
}

/** Bytes of one activation block: q8_0e for q5_0r4, q8_1 for q5_1r4. */
@inline export function r4_act_bytes(wt: i32): usize {
  return wt == W_Q5_0 ? Q8_0E_BYTES : Q8_1_BYTES;
}

/** Where an activation block's 32 i8 start. */
@inline export function r4_act_qs(wt: i32): usize {
  return wt == W_Q5_0 ? Q8_0E_QS : Q8_1_QS;
}

/** q5_0's 16·Σqx of the q8_0e block at xb in every lane, from its e (the integer the plain kernel takes off). */
@inline export function r4_offset(xb: usize): v128 {
  return i32x4.splat(<i32>load<i16>(xb, Q8_0E_SUM) << 4);
}

/** Where a group block's V0 starts. */
@inline export function r4_qs(wt: i32): usize {
  return wt == W_Q5_0 ? Q5_0R4_QS : Q5_1R4_QS;
}

// ---- the chunks -----------------------------------------------------------------------------------

/** Chunk 5 from (A, a) = (V0, V0 & 0x1f) and B = V1, or chunk 6 from V2 and V3 (m60: 0x60 in every byte). */
@inline export function r4_split(A: v128, a: v128, B: v128, m60: v128): v128 {
  return v128.or(i16x8.shr_u(v128.xor(A, a), 5), i16x8.shr_u(v128.and(B, m60), 2));
}

/** Chunk 7 from (E, e) = (V4, V4 & 0x1f), B = V1 and D = V3 (m80: 0x80 in every byte). */
@inline export function r4_last(E: v128, e: v128, B: v128, D: v128, m80: v128): v128 {
  return v128.or(i16x8.shr_u(v128.xor(E, e), 5), i16x8.shr_u(v128.or(i16x8.shr_u(v128.and(B, m80), 1), v128.and(D, m80)), 3));
}

// ---- the f32 step ---------------------------------------------------------------------------------

/** acc + the four rows' block terms (row i in lane i) for the integer sums isum of the group block at p and the activation block at xb. */
@inline export function r4_acc(wt: i32, acc: v128, isum: v128, p: usize, xb: usize, ms: v128, k112: v128): v128 {
  const dw = f32x4.mul(v128.and(i32x4.shl(v128.load16x4_s(p), 13), ms), k112);
  const dx = f32x4.splat(f16_to_f32(load<u16>(xb)));
  const t = f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.mul(dw, dx));
  if (wt == W_Q5_0) return f32x4.add(acc, t);
  const mw = f32x4.mul(v128.and(i32x4.shl(v128.load16x4_s(p, Q5_1R4_M), 13), ms), k112);
  const sx = f32x4.splat(f16_to_f32(load<u16>(xb, Q8_1_S)));
  return f32x4.add(acc, f32x4.add(t, f32x4.mul(mw, sx)));
}

/** The constants a call makes once (z = cols >> 31: 0, but opaque to the compilers): 0x1f, 0x60, 0x80 in every byte, the half conversion's two. */
@inline export function r4_const(i: i32, z: i32): v128 {
  if (i == 0) return i8x16.splat(<i8>(0x1f | z));
  if (i == 1) return i8x16.splat(<i8>(0x60 | z));
  if (i == 2) return i8x16.splat(<i8>(0x80 | z));
  if (i == 3) return i32x4.splat(F16_MS | z);
  return i32x4.splat(F16_K112 | z);
}

// ---- the drivers both flavours run (tile.ts), each with its own chunk sums S (a field-less class)

/** matvec over the groups of rows [r0, r1) (multiples of 4): per group, r4_block over the blocks in order. */
@inline export function matvec_q5r4<S>(wt: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_rows4<Rows4<S>>(wt, w, x, y, r0, r1, cols / Q8_0_BLOCK, weight_bytes(wt), r4_act_bytes(wt), cols >> 31);
}

/** matmul: whole 4-token tiles by r4_block4 (the running sums in y), a short last tile by S's matvec per token. */
@inline export function matmul_q5r4<S>(wt: i32, w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_rows4_tiles<Rows4<S>>(wt, w, x, y, cols, rows, nTok, r0, r1, cols / Q8_0_BLOCK, weight_bytes(wt), r4_act_bytes(wt), cols >> 31);
}

/** The drivers' K for a flavour's chunk sums S: the block steps below, their five constants (r4_const). */
@final @unmanaged class Rows4<S> {
  @inline rows4_consts(wt: i32): i32 {
    return 5;
  }
  @inline rows4_const(wt: i32, i: i32, z: i32): v128 {
    return i < 5 ? r4_const(i, z) : i32x4.splat(0);
  }
  @inline tiled(wt: i32): bool {
    return true;
  }
  @inline matvec(wt: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
    changetype<S>(0).matvec(wt, w, x, y, cols, r0, r1);
  }
  @inline block(wt: i32, acc: v128, p: usize, xb: usize, z: i32, c0: v128, c1: v128, c2: v128, c3: v128, c4: v128, u5: v128, u6: v128, u7: v128, u8: v128, u9: v128): v128 {
    return r4_block<S>(wt, acc, p, xb, c0, c1, c2, c3, c4);
  }
  @inline block4(wt: i32, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, y0: usize, y1: usize, y2: usize, y3: usize, z: i32, c0: v128, c1: v128, c2: v128, c3: v128, c4: v128, u5: v128, u6: v128, u7: v128, u8: v128, u9: v128): void {
    r4_block4<S>(wt, p, a0, a1, a2, a3, y0, y1, y2, y3, c0, c1, c2, c3, c4);
  }
}

// ---- the SIMD128 block steps --------------------------------------------------------------------------

/** Rows 0, 1 (lo) or 2, 3 (hi): the i32 dot lanes of two chunks c, d against their activations qa, qb (i16, four values twice). */
@inline function pair_lo(c: v128, d: v128, qa: v128, qb: v128): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(c), qa), i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(d), qb));
}
@inline function pair_hi(c: v128, d: v128, qa: v128, qb: v128): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(c), qa), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(d), qb));
}

/** The four rows' Σ q·qx of chunks c0..c7 against the 32 activations at xq, row i in lane i. */
@inline function chunks_sum(c0: v128, c1: v128, c2: v128, c3: v128, c4: v128, c5: v128, c6: v128, c7: v128, xq: usize): v128 {
  let x = v128.load8x8_s(xq);
  let qa = i64x2.shuffle(x, x, 0, 0), qb = i64x2.shuffle(x, x, 1, 1);
  let lo = pair_lo(c0, c1, qa, qb), hi = pair_hi(c0, c1, qa, qb);
  x = v128.load8x8_s(xq, 8);
  qa = i64x2.shuffle(x, x, 0, 0);
  qb = i64x2.shuffle(x, x, 1, 1);
  lo = i32x4.add(lo, pair_lo(c2, c3, qa, qb));
  hi = i32x4.add(hi, pair_hi(c2, c3, qa, qb));
  x = v128.load8x8_s(xq, 16);
  qa = i64x2.shuffle(x, x, 0, 0);
  qb = i64x2.shuffle(x, x, 1, 1);
  lo = i32x4.add(lo, pair_lo(c4, c5, qa, qb));
  hi = i32x4.add(hi, pair_hi(c4, c5, qa, qb));
  x = v128.load8x8_s(xq, 24);
  qa = i64x2.shuffle(x, x, 0, 0);
  qb = i64x2.shuffle(x, x, 1, 1);
  lo = i32x4.add(lo, pair_lo(c6, c7, qa, qb));
  hi = i32x4.add(hi, pair_hi(c6, c7, qa, qb));
  // lo = [r0, r0, r1, r1], hi = [r2, r2, r3, r3]: each row's two lanes added
  return i32x4.add(i32x4.shuffle(lo, hi, 0, 2, 4, 6), i32x4.shuffle(lo, hi, 1, 3, 5, 7));
}

/** The SIMD128 chunk sums, as S for the drivers (a flavour passes a class whose `chunks` is its own). */
@final @unmanaged class Steps {
  /** The flavour's matvec (matmul's short last tile). */
  @inline matvec(wt: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
    if (wt == W_Q5_0) matvec_q5_0r4(w, x, y, cols, r0, r1);
    else matvec_q5_1r4(w, x, y, cols, r0, r1);
  }
  @inline chunks(c0: v128, c1: v128, c2: v128, c3: v128, c4: v128, c5: v128, c6: v128, c7: v128, xq: usize): v128 {
    return chunks_sum(c0, c1, c2, c3, c4, c5, c6, c7, xq);
  }
}

// ---- the block steps of both flavours: K's `chunks(c0..c7, xq)` gives the four rows' Σ q·qx of a group block's chunks ----

/** acc + the group block at p · the activation block at xb (c: r4_const): Σ q·qx, minus 16·Σqx for q5_0, through r4_acc. */
@inline function r4_block<K>(wt: i32, acc: v128, p: usize, xb: usize, m1f: v128, m60: v128, m80: v128, ms: v128, k112: v128): v128 {
  const q = p + r4_qs(wt);
  const V0 = v128.load(q), V1 = v128.load(q, 16), V2 = v128.load(q, 32), V3 = v128.load(q, 48), V4 = v128.load(q, 64);
  const a0 = v128.and(V0, m1f), a2 = v128.and(V2, m1f), a4 = v128.and(V4, m1f);
  let isum = changetype<K>(0).chunks(
    a0, v128.and(V1, m1f), a2, v128.and(V3, m1f), a4, r4_split(V0, a0, V1, m60), r4_split(V2, a2, V3, m60), r4_last(V4, a4, V1, V3, m80),
    xb + r4_act_qs(wt),
  );
  if (wt == W_Q5_0) isum = i32x4.sub(isum, r4_offset(xb));
  return r4_acc(wt, acc, isum, p, xb, ms, k112);
}

/** The group block at p · four tokens' activation blocks a0..a3: each token's block term added to its running sums at y0..y3; the chunks taken out once. */
@inline function r4_block4<K>(wt: i32, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, y0: usize, y1: usize, y2: usize, y3: usize, m1f: v128, m60: v128, m80: v128, ms: v128, k112: v128): void {
  const k = changetype<K>(0);
  const q = p + r4_qs(wt), xq = r4_act_qs(wt);
  const V0 = v128.load(q), V1 = v128.load(q, 16), V2 = v128.load(q, 32), V3 = v128.load(q, 48), V4 = v128.load(q, 64);
  const c0 = v128.and(V0, m1f), c1 = v128.and(V1, m1f), c2 = v128.and(V2, m1f), c3 = v128.and(V3, m1f), c4 = v128.and(V4, m1f);
  const c5 = r4_split(V0, c0, V1, m60), c6 = r4_split(V2, c2, V3, m60), c7 = r4_last(V4, c4, V1, V3, m80);
  let i0 = k.chunks(c0, c1, c2, c3, c4, c5, c6, c7, a0 + xq), i1 = k.chunks(c0, c1, c2, c3, c4, c5, c6, c7, a1 + xq);
  let i2 = k.chunks(c0, c1, c2, c3, c4, c5, c6, c7, a2 + xq), i3 = k.chunks(c0, c1, c2, c3, c4, c5, c6, c7, a3 + xq);
  if (wt == W_Q5_0) {
    i0 = i32x4.sub(i0, r4_offset(a0));
    i1 = i32x4.sub(i1, r4_offset(a1));
    i2 = i32x4.sub(i2, r4_offset(a2));
    i3 = i32x4.sub(i3, r4_offset(a3));
  }
  v128.store(y0, r4_acc(wt, v128.load(y0), i0, p, a0, ms, k112));
  v128.store(y1, r4_acc(wt, v128.load(y1), i1, p, a1, ms, k112));
  v128.store(y2, r4_acc(wt, v128.load(y2), i2, p, a2, ms, k112));
  v128.store(y3, r4_acc(wt, v128.load(y3), i3, p, a3, ms, k112));
}

// ---- the exports --------------------------------------------------------------------------------

/** matvec_q5_0r4(w, x: q8_0e*, y: f32*, cols, r0, r1): w in q5_0r4, r0 and r1 multiples of 4. */
export function matvec_q5_0r4(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_q5r4<Steps>(W_Q5_0, w, x, y, cols, r0, r1);
}

/** matmul_q5_0r4(w, x: q8_0e*, y: f32*, cols, rows, nTok, r0, r1): w in q5_0r4, r0 and r1 multiples of 4; y[t·rows + r]. Equal to matvec bit for bit. */
export function matmul_q5_0r4(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_q5r4<Steps>(W_Q5_0, w, x, y, cols, rows, nTok, r0, r1);
}

/** matvec_q5_1r4(w, x: q8_1*, y: f32*, cols, r0, r1): w in q5_1r4, r0 and r1 multiples of 4. */
export function matvec_q5_1r4(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_q5r4<Steps>(W_Q5_1, w, x, y, cols, r0, r1);
}

/** matmul_q5_1r4(w, x: q8_1*, y: f32*, cols, rows, nTok, r0, r1): w in q5_1r4, r0 and r1 multiples of 4; y[t·rows + r]. Equal to matvec bit for bit. */
export function matmul_q5_1r4(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_q5r4<Steps>(W_Q5_1, w, x, y, cols, rows, nTok, r0, r1);
}

// ---- the repack and get_row ---------------------------------------------------------------------

/** Steps of a 4×4 transpose of 32-bit words (as q6_kr4.ts's repack): words 0, 1 (lo) or 2, 3 (hi) of v0 and v1 interleaved. */
@inline function transpose_lo(v0: v128, v1: v128): v128 {
  return i32x4.shuffle(v0, v1, 0, 4, 1, 5);
}
@inline function transpose_hi(v0: v128, v1: v128): v128 {
  return i32x4.shuffle(v0, v1, 2, 6, 3, 7);
}

@inline function repack(wt: i32, src: usize, dst: usize, rows: i32, cols: i32): void {
  const nb = cols / Q8_0_BLOCK;
  const wb = weight_bytes(wt), gb = r4_bytes(wt), qo = r4_qs(wt);
  const rowBytes = <usize>nb * wb;
  const n0f = c_nib(0), bit = c_bit(0), b4 = c_b4(0);
  const m07 = i8x16.splat(7), m18 = i8x16.splat(0x18), m08 = i8x16.splat(8), m10 = i8x16.splat(16);
  for (let g = 0; g < rows; g += 4) {
    for (let b = 0; b < nb; b++) {
      const p = src + <usize>g * rowBytes + <usize>b * wb;
      const o = dst + <usize>g * rowBytes + <usize>b * gb;
      for (let i: usize = 0; i < 4; i++) {
        store<u16>(o + 2 * i, load<u16>(p + i * rowBytes));
        if (wt != W_Q5_0) store<u16>(o + Q5_1R4_M + 2 * i, load<u16>(p + i * rowBytes + Q5_1_M));
      }
      // each row's levels of values 0..15 (lo) and 16..31 (hi) as bytes (legacy.ts's unpacking)
      const p1 = p + rowBytes, p2 = p1 + rowBytes, p3 = p2 + rowBytes;
      const s0 = qh_spread(wt, p), s1 = qh_spread(wt, p1), s2 = qh_spread(wt, p2), s3 = qh_spread(wt, p3);
      const l0 = with_fifth(nibbles_lo(wt, p, n0f), s0, 0, bit, b4), l1 = with_fifth(nibbles_lo(wt, p1, n0f), s1, 0, bit, b4);
      const l2 = with_fifth(nibbles_lo(wt, p2, n0f), s2, 0, bit, b4), l3 = with_fifth(nibbles_lo(wt, p3, n0f), s3, 0, bit, b4);
      const h0 = with_fifth(nibbles_hi(wt, p, n0f), s0, 1, bit, b4), h1 = with_fifth(nibbles_hi(wt, p1, n0f), s1, 1, bit, b4);
      const h2 = with_fifth(nibbles_hi(wt, p2, n0f), s2, 1, bit, b4), h3 = with_fifth(nibbles_hi(wt, p3, n0f), s3, 1, bit, b4);
      // chunk k = word k of every row's 32 levels (a 4×4 transpose of 32-bit words per half)
      let t0 = transpose_lo(l0, l1), t1 = transpose_lo(l2, l3), t2 = transpose_hi(l0, l1), t3 = transpose_hi(l2, l3);
      const c0 = i64x2.shuffle(t0, t1, 0, 2), c1 = i64x2.shuffle(t0, t1, 1, 3), c2 = i64x2.shuffle(t2, t3, 0, 2), c3 = i64x2.shuffle(t2, t3, 1, 3);
      t0 = transpose_lo(h0, h1);
      t1 = transpose_lo(h2, h3);
      t2 = transpose_hi(h0, h1);
      t3 = transpose_hi(h2, h3);
      const c4 = i64x2.shuffle(t0, t1, 0, 2), c5 = i64x2.shuffle(t0, t1, 1, 3), c6 = i64x2.shuffle(t2, t3, 0, 2), c7 = i64x2.shuffle(t2, t3, 1, 3);
      // chunks 5..7 into bits 5..7 of V0..V4 (each masked piece stays in its byte through the i16 shift)
      const q = o + qo;
      v128.store(q, v128.or(c0, i16x8.shl(v128.and(c5, m07), 5)));
      v128.store(q, v128.or(v128.or(c1, i16x8.shl(v128.and(c5, m18), 2)), i16x8.shl(v128.and(c7, m08), 4)), 16);
      v128.store(q, v128.or(c2, i16x8.shl(v128.and(c6, m07), 5)), 32);
      v128.store(q, v128.or(v128.or(c3, i16x8.shl(v128.and(c6, m18), 2)), i16x8.shl(v128.and(c7, m10), 3)), 48);
      v128.store(q, v128.or(c4, i16x8.shl(v128.and(c7, m07), 5)), 64);
    }
  }
}

/** repack_q5_0_r4(src, dst, rows, cols): ggml q5_0 rows (rows a multiple of 4) into the q5_0r4 layout. src and dst must not overlap. */
export function repack_q5_0_r4(src: usize, dst: usize, rows: i32, cols: i32): void {
  repack(W_Q5_0, src, dst, rows, cols);
}

/** repack_q5_1_r4(src, dst, rows, cols): ggml q5_1 rows (rows a multiple of 4) into the q5_1r4 layout. src and dst must not overlap. */
export function repack_q5_1_r4(src: usize, dst: usize, rows: i32, cols: i32): void {
  repack(W_Q5_1, src, dst, rows, cols);
}

/** Level (0..31) of chunk k (0..7), byte n (4·row + e) of the group block's vectors at q. */
@inline function r4_level(q: usize, k: i32, n: usize): u32 {
  if (k < 5) return <u32>load<u8>(q + n + 16 * <usize>k) & 31;
  const V0 = <u32>load<u8>(q + n), V1 = <u32>load<u8>(q + n, 16), V2 = <u32>load<u8>(q + n, 32), V3 = <u32>load<u8>(q + n, 48), V4 = <u32>load<u8>(q + n, 64);
  if (k == 5) return (V0 >> 5) | (((V1 >> 5) & 3) << 3);
  if (k == 6) return (V2 >> 5) | (((V3 >> 5) & 3) << 3);
  return (V4 >> 5) | ((V1 >> 7) << 3) | ((V3 >> 7) << 4);
}

@inline function get_row(wt: i32, w: usize, out: usize, cols: i32, row: i32): void {
  const nb = cols / Q8_0_BLOCK;
  const i = <usize>(row & 3);
  let p = w + <usize>(row & ~3) * <usize>nb * weight_bytes(wt);
  let o = out;
  for (let b = 0; b < nb; b++) {
    const d = f16_to_f32(load<u16>(p + 2 * i));
    const m = wt == W_Q5_0 ? <f32>0 : f16_to_f32(load<u16>(p + Q5_1R4_M + 2 * i));
    for (let j = 0; j < 32; j++) {
      const q = <i32>r4_level(p + r4_qs(wt), j >> 2, 4 * i + <usize>(j & 3));
      store<f32>(o + (<usize>j << 2), wt == W_Q5_0 ? <f32>(q - 16) * d : <f32>q * d + m);
    }
    p += r4_bytes(wt);
    o += 128;
  }
}

/** get_row_q5_0r4(w, out: f32*, cols, row): row `row` of a q5_0r4 matrix, get_row_q5_0's values bit for bit. */
export function get_row_q5_0r4(w: usize, out: usize, cols: i32, row: i32): void {
  get_row(W_Q5_0, w, out, cols, row);
}

/** get_row_q5_1r4(w, out: f32*, cols, row): row `row` of a q5_1r4 matrix, get_row_q5_1's values bit for bit. */
export function get_row_q5_1r4(w: usize, out: usize, cols: i32, row: i32): void {
  get_row(W_Q5_1, w, out, cols, row);
}
