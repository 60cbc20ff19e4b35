// q2_K, q3_K and q5_K weights on q8_K activations, as ggml_vec_dot_q2_K_q8_K, ggml_vec_dot_q3_K_q8_K
// and ggml_vec_dot_q5_K_q8_K, and their get_row (ggml's dequantizers).
//
// Each super-block of 256 values is walked as sixteen groups G of 16 values (values 16G..16G+15, whose
// activations are q8_K's qs[16G..] and whose sum is bsums[G]), each with its unsigned levels q and an
// integer scale sc_G:
//   q2_K: q = 2 bits (byte 32·(G/8) + 16·(G%2) + i of qs, shifted by 2·((G/2)%4)); sc = scales[G] & 15;
//         min m_G = scales[G] >> 4;           isum = Σ_G sc·Σ q·qx,  msum = Σ_G m_G·bsums[G]
//   q3_K: q = q2_K's two bits | the hmask bit (bit G/2 of hmask[16·(G%2) + i]) << 2, value q − 4;
//         sc = 6-bit scale − 32;              isum = Σ_G sc·(Σ q·qx − 4·bsums[G])
//   q5_K: q = q4_K's nibble of sub-block G/2 | bit G/2 of qh[16·(G%2) + i] << 4; sc, m = q4_K's 6-bit
//         scale and min of sub-block G/2;     isum = Σ_G sc·Σ q·qx,  msum = Σ_j m_j·(bsums[2j] + bsums[2j+1])
// all exact in i32 (|isum| < 2^26). The float steps are fixed (the ABI, docs/KERNEL-ABI.md), per row
// in block order from acc = 0:
//   q2_K, q5_K:  acc = acc + (f32(isum)·(dx·d) − f32(msum)·(dx·dmin))
//   q3_K:        acc = acc + f32(isum)·(dx·d)
// host/kernels/reference/matmul-types.ts does the same in JS; the tests hold the two equal bit for bit.
//
// A group's levels are assembled as 16 bytes (shifts and masks of whole vectors), widened to u16, times
// sc_G in i16 (|q·sc| ≤ 31·63), and multiplied with the activations (i8 widened to i16) by
// i32x4.dot_i16x8_s: one i32 accumulator per block, no i32 multiply. matvec does one row at a time, its
// sixteen groups unrolled (constant shifts and offsets); matmul four tokens per pass, each group unpacked
// once for the four (lane i = token i). The integer sums are exact and the float steps the same lane-wise
// as matvec's: equal results bit for bit.
import {
  Q2_K_BLOCK, Q2_K_BYTES, Q2_K_D, Q2_K_DMIN, Q2_K_QS, Q3_K_BYTES, Q3_K_D, Q3_K_QS, Q3_K_SCALES, Q5_K_BYTES, Q5_K_DMIN,
  Q5_K_QH, Q5_K_QS, Q8_K_BSUMS, Q8_K_BYTES, Q8_K_QS,
} from '../lib/blocks';
import { f16_to_f32 } from '../lib/f16';
import { q4k_mins, q4k_scales } from '../lib/quants';
import { gather_f32, hsum_i32, reduce4_i32, store_lanes } from '../lib/simd';

// The weight format of a driver call (always a constant: each export compiles to its own code).
const W_Q2_K: i32 = 0;
const W_Q3_K: i32 = 1;
const W_Q5_K: i32 = 2;

@inline function weight_bytes(wt: i32): usize {
  return wt == W_Q2_K ? Q2_K_BYTES : wt == W_Q3_K ? Q3_K_BYTES : Q5_K_BYTES;
}

// ---- a block's scales -------------------------------------------------------------------------

/**
 * The block's sixteen group scales as bytes of two u64 (lo: groups 0-7, hi: 8-15), unsigned: q2_K's
 * low nibbles; q3_K's 6-bit scales + 32 (ggml's unpacking of scales[12]); for q5_K lo holds the eight
 * sub-block scales (group G uses byte G/2) and hi is unused.
 */
@inline function scales_lo(wt: i32, p: usize): u64 {
  if (wt == W_Q2_K) return load<u64>(p) & 0x0f0f0f0f0f0f0f0f;
  if (wt == W_Q5_K) return q4k_scales(p);
  const a = load<u32>(p, Q3_K_SCALES), b = load<u32>(p, Q3_K_SCALES + 4), c = load<u32>(p, Q3_K_SCALES + 8);
  return <u64>((a & 0x0f0f0f0f) | ((c & 0x03030303) << 4)) | (<u64>((b & 0x0f0f0f0f) | (((c >> 2) & 0x03030303) << 4)) << 32);
}
@inline function scales_hi(wt: i32, p: usize): u64 {
  if (wt == W_Q2_K) return load<u64>(p, 8) & 0x0f0f0f0f0f0f0f0f;
  if (wt == W_Q5_K) return 0;
  const a = load<u32>(p, Q3_K_SCALES), b = load<u32>(p, Q3_K_SCALES + 4), c = load<u32>(p, Q3_K_SCALES + 8);
  return <u64>(((a >> 4) & 0x0f0f0f0f) | (((c >> 4) & 0x03030303) << 4)) | (<u64>(((b >> 4) & 0x0f0f0f0f) | (((c >> 6) & 0x03030303) << 4)) << 32);
}

/** The integer scale of group G (q3_K's signed, the others' unsigned). */
@inline function group_scale(wt: i32, lo: u64, hi: u64, G: i32): i32 {
  if (wt == W_Q5_K) return <i32>(lo >> (<u64>(G >> 1) << 3)) & 0xff;
  const byte = <i32>((G < 8 ? lo : hi) >> (<u64>(G & 7) << 3)) & 0xff;
  return wt == W_Q3_K ? byte - 32 : byte;
}

// ---- a group's levels -------------------------------------------------------------------------

/** The 16 unsigned levels of group G of the block at p, one byte each (q3_K: 0..7, its value minus 4). */
@inline function levels16(wt: i32, p: usize, G: i32): v128 {
  const slice = <usize>(G & 1) << 4;
  if (wt == W_Q5_K) {
    const j = G >> 1;
    const qs = v128.load(p + Q5_K_QS + (<usize>(j >> 1) << 5) + slice);
    const nibble = (j & 1) == 0 ? v128.and(qs, i8x16.splat(0x0f)) : i8x16.shr_u(qs, 4);
    const fifth = i8x16.shl(v128.and(i8x16.shr_u(v128.load(p + Q5_K_QH + slice), j), i8x16.splat(1)), 4);
    return v128.or(nibble, fifth);
  }
  const qsAt: usize = wt == W_Q2_K ? Q2_K_QS : Q3_K_QS;
  const two = v128.and(i8x16.shr_u(v128.load(p + qsAt + (<usize>(G >> 3) << 5) + slice), ((G >> 1) & 3) << 1), i8x16.splat(3));
  if (wt == W_Q2_K) return two;
  // q3_K's high bit of value 16G + i: bit G/2 of hmask[16·(G%2) + i]
  return v128.or(two, i8x16.shl(v128.and(i8x16.shr_u(v128.load(p + slice), G >> 1), i8x16.splat(1)), 2));
}

/** Σ q·qx over 16 values: q = 16 level bytes widened (w0: values 0-7, w1: 8-15), qx = the 16 i8 at xq. */
@inline function dot16(w0: v128, w1: v128, xq: usize): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(w0, v128.load8x8_s(xq)), i32x4.dot_i16x8_s(w1, v128.load8x8_s(xq, 8)));
}

// ---- the offsets through q8_K's bsums -----------------------------------------------------------

/** The integer a block subtracts through the activation block's bsums (i32 lanes summing to it): q2_K's and q5_K's msum, q3_K's 4·Σ sc·bsums. */
@inline function bsum_term(wt: i32, p: usize, lo: u64, hi: u64, xb: usize): v128 {
  const b0 = v128.load(xb, Q8_K_BSUMS), b1 = v128.load(xb, Q8_K_BSUMS + 16);
  if (wt == W_Q5_K) {
    // the eight 32-value sums, as i16 lanes, dotted with the eight 6-bit mins
    const pairs = i16x8.narrow_i32x4_s(i32x4.extadd_pairwise_i16x8_s(b0), i32x4.extadd_pairwise_i16x8_s(b1));
    return i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(i64x2.splat(q4k_mins(p))), pairs);
  }
  if (wt == W_Q2_K) {
    const mins = i8x16.shr_u(v128.load(p), 4);
    return i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(mins), b0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(mins), b1));
  }
  const sc = i8x16.sub(i64x2.replace_lane(i64x2.splat(lo), 1, hi), i8x16.splat(32)); // signed scales
  const s = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(sc), b0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(sc), b1));
  return i32x4.shl(s, 2);
}

// ---- one block --------------------------------------------------------------------------------

/**
 * acc + sc_G·Σ q·qx for group G of the block at p (a constant at every call, so its shifts and offsets
 * fold), activations at xq (q8_K's qs). The scale multiplies the levels in i16 (|q·sc| ≤ 31·63) before
 * the dot product: the same integer as scaling the group's sum.
 */
@inline function group_acc(wt: i32, acc: v128, p: usize, xq: usize, lo: u64, hi: u64, G: i32): v128 {
  const q = levels16(wt, p, G);
  const sc = i16x8.splat(<i16>group_scale(wt, lo, hi, G));
  const w0 = i16x8.mul(i16x8.extend_low_i8x16_u(q), sc), w1 = i16x8.mul(i16x8.extend_high_i8x16_u(q), sc);
  return i32x4.add(acc, dot16(w0, w1, xq + (<usize>G << 4)));
}

/** One weight block at p · one q8_K block at xb: the value it adds to the row's sum. */
@inline function block_value(wt: i32, p: usize, xb: usize): f32 {
  const lo = scales_lo(wt, p), hi = scales_hi(wt, p);
  const xq = xb + Q8_K_QS;
  let isum = group_acc(wt, i32x4.splat(0), p, xq, lo, hi, 0);
  isum = group_acc(wt, isum, p, xq, lo, hi, 1);
  isum = group_acc(wt, isum, p, xq, lo, hi, 2);
  isum = group_acc(wt, isum, p, xq, lo, hi, 3);
  isum = group_acc(wt, isum, p, xq, lo, hi, 4);
  isum = group_acc(wt, isum, p, xq, lo, hi, 5);
  isum = group_acc(wt, isum, p, xq, lo, hi, 6);
  isum = group_acc(wt, isum, p, xq, lo, hi, 7);
  isum = group_acc(wt, isum, p, xq, lo, hi, 8);
  isum = group_acc(wt, isum, p, xq, lo, hi, 9);
  isum = group_acc(wt, isum, p, xq, lo, hi, 10);
  isum = group_acc(wt, isum, p, xq, lo, hi, 11);
  isum = group_acc(wt, isum, p, xq, lo, hi, 12);
  isum = group_acc(wt, isum, p, xq, lo, hi, 13);
  isum = group_acc(wt, isum, p, xq, lo, hi, 14);
  isum = group_acc(wt, isum, p, xq, lo, hi, 15);
  const dx = load<f32>(xb);
  if (wt == W_Q3_K) {
    const total = hsum_i32(i32x4.sub(isum, bsum_term(wt, p, lo, hi, xb)));
    return <f32>total * (dx * f16_to_f32(load<u16>(p, Q3_K_D)));
  }
  const dAt: usize = wt == W_Q2_K ? <usize>Q2_K_D : 0, dminAt: usize = wt == W_Q2_K ? <usize>Q2_K_DMIN : <usize>Q5_K_DMIN;
  const t = <f32>hsum_i32(isum) * (dx * f16_to_f32(load<u16>(p + dAt)));
  const u = <f32>hsum_i32(bsum_term(wt, p, lo, hi, xb)) * (dx * f16_to_f32(load<u16>(p + dminAt)));
  return t - u;
}

/** acc + the weight block at p · the q8_K blocks at a0..a3, lane i = token i: each group unpacked once for the four tokens. */
@inline function tokens_value(wt: i32, acc: v128, p: usize, a0: usize, a1: usize, a2: usize, a3: usize): v128 {
  const lo = scales_lo(wt, p), hi = scales_hi(wt, p);
  let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
  for (let G = 0; G < 16; G++) {
    // the levels times the group's scale, in i16 (as group_acc)
    const q = levels16(wt, p, G);
    const sc = i16x8.splat(<i16>group_scale(wt, lo, hi, G));
    const w0 = i16x8.mul(i16x8.extend_low_i8x16_u(q), sc), w1 = i16x8.mul(i16x8.extend_high_i8x16_u(q), sc);
    const xo = <usize>Q8_K_QS + (<usize>G << 4);
    i0 = i32x4.add(i0, dot16(w0, w1, a0 + xo));
    i1 = i32x4.add(i1, dot16(w0, w1, a1 + xo));
    i2 = i32x4.add(i2, dot16(w0, w1, a2 + xo));
    i3 = i32x4.add(i3, dot16(w0, w1, a3 + xo));
  }
  const dx = gather_f32(a0, a1, a2, a3);
  const off = reduce4_i32(bsum_term(wt, p, lo, hi, a0), bsum_term(wt, p, lo, hi, a1), bsum_term(wt, p, lo, hi, a2), bsum_term(wt, p, lo, hi, a3));
  const isum = reduce4_i32(i0, i1, i2, i3);
  if (wt == W_Q3_K) {
    const scale = f32x4.mul(dx, f32x4.splat(f16_to_f32(load<u16>(p, Q3_K_D))));
    return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(isum, off)), scale));
  }
  const dAt: usize = wt == W_Q2_K ? <usize>Q2_K_D : 0, dminAt: usize = wt == W_Q2_K ? <usize>Q2_K_DMIN : <usize>Q5_K_DMIN;
  const t = f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.mul(dx, f32x4.splat(f16_to_f32(load<u16>(p + dAt)))));
  const u = f32x4.mul(f32x4.convert_i32x4_s(off), f32x4.mul(dx, f32x4.splat(f16_to_f32(load<u16>(p + dminAt)))));
  return f32x4.add(acc, f32x4.sub(t, u));
}

// ---- the drivers ----------------------------------------------------------------------------

@inline function matvec_any(wt: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const wb = weight_bytes(wt);
  const nb = cols / Q2_K_BLOCK;
  const rowBytes = <usize>nb * wb;
  for (let r = r0; r < r1; r++) {
    let p = w + <usize>r * rowBytes;
    let xb = x;
    let acc: f32 = 0;
    for (let b = 0; b < nb; b++) {
      acc += block_value(wt, p, xb);
      p += wb;
      xb += Q8_K_BYTES;
    }
    store<f32>(y + (<usize>r << 2), acc);
  }
}

@inline function matmul_any(wt: i32, w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const wb = weight_bytes(wt), xs: usize = Q8_K_BYTES;
  const nb = cols / Q2_K_BLOCK;
  const rowBytes = <usize>nb * wb, xBytes = <usize>nb * xs;
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const t0 = x + <usize>t * xBytes, t1 = x + <usize>min(t + 1, lastT) * xBytes;
    const t2 = x + <usize>min(t + 2, lastT) * xBytes, t3 = x + <usize>min(t + 3, lastT) * xBytes;
    for (let r = r0; r < r1; r++) {
      let p = w + <usize>r * rowBytes;
      let off: usize = 0;
      let acc = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        acc = tokens_value(wt, acc, p, t0 + off, t1 + off, t2 + off, t3 + off);
        p += wb;
        off += xs;
      }
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, acc);
    }
  }
}

/** matvec_q2_K(w, x: q8_K*, y: f32*, cols, r0, r1). */
export function matvec_q2_K(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_any(W_Q2_K, w, x, y, cols, r0, r1);
}

/** matmul_q2_K(w, x: q8_K*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q2_K(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_any(W_Q2_K, w, x, y, cols, rows, nTok, r0, r1);
}

/** matvec_q3_K(w, x: q8_K*, y: f32*, cols, r0, r1). */
export function matvec_q3_K(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_any(W_Q3_K, w, x, y, cols, r0, r1);
}

/** matmul_q3_K(w, x: q8_K*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q3_K(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_any(W_Q3_K, w, x, y, cols, rows, nTok, r0, r1);
}

/** matvec_q5_K(w, x: q8_K*, y: f32*, cols, r0, r1). */
export function matvec_q5_K(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_any(W_Q5_K, w, x, y, cols, r0, r1);
}

/** matmul_q5_K(w, x: q8_K*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q5_K(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_any(W_Q5_K, w, x, y, cols, rows, nTok, r0, r1);
}

// ---- get_row: ggml's dequantizers, the same f32 operations in the same order ---------------------

/** get_row_q2_K(w, out: f32*, cols, row): f32(d·sc)·q − f32(dmin·m) per value, as ggml's dequantize_row_q2_K. */
export function get_row_q2_K(w: usize, out: usize, cols: i32, row: i32): void {
  get_row_any(W_Q2_K, w, out, cols, row);
}

/** get_row_q3_K(w, out: f32*, cols, row): f32(d·sc)·(q − 4) per value, as ggml's dequantize_row_q3_K. */
export function get_row_q3_K(w: usize, out: usize, cols: i32, row: i32): void {
  get_row_any(W_Q3_K, w, out, cols, row);
}

/** get_row_q5_K(w, out: f32*, cols, row): f32(d·sc)·q − f32(dmin·m) per value, as ggml's dequantize_row_q5_K. */
export function get_row_q5_K(w: usize, out: usize, cols: i32, row: i32): void {
  get_row_any(W_Q5_K, w, out, cols, row);
}

@inline function get_row_any(wt: i32, w: usize, out: usize, cols: i32, row: i32): void {
  const wb = weight_bytes(wt);
  const nb = cols / Q2_K_BLOCK;
  let p = w + <usize>row * <usize>nb * wb;
  let o = out;
  for (let b = 0; b < nb; b++) {
    const lo = scales_lo(wt, p), hi = scales_hi(wt, p);
    const d = f16_to_f32(load<u16>(p + (wt == W_Q2_K ? <usize>Q2_K_D : wt == W_Q3_K ? <usize>Q3_K_D : 0)));
    const dmin = wt == W_Q3_K ? <f32>0 : f16_to_f32(load<u16>(p + <usize>(wt == W_Q2_K ? Q2_K_DMIN : Q5_K_DMIN)));
    const mins = wt == W_Q5_K ? q4k_mins(p) : 0;
    for (let G = 0; G < 16; G++) {
      const dl = f32x4.splat(d * <f32>group_scale(wt, lo, hi, G));
      const m = wt == W_Q2_K ? <i32>load<u8>(p + G) >> 4 : wt == W_Q5_K ? <i32>(mins >> (<u64>(G >> 1) << 3)) & 0xff : 0;
      const ml = f32x4.splat(dmin * <f32>m);
      const q = levels16(wt, p, G);
      const off = i32x4.splat(wt == W_Q3_K ? 4 : 0);
      const lo16 = i16x8.extend_low_i8x16_u(q), hi16 = i16x8.extend_high_i8x16_u(q);
      v128.store(o, value4(wt, i32x4.sub(i32x4.extend_low_i16x8_u(lo16), off), dl, ml));
      v128.store(o, value4(wt, i32x4.sub(i32x4.extend_high_i16x8_u(lo16), off), dl, ml), 16);
      v128.store(o, value4(wt, i32x4.sub(i32x4.extend_low_i16x8_u(hi16), off), dl, ml), 32);
      v128.store(o, value4(wt, i32x4.sub(i32x4.extend_high_i16x8_u(hi16), off), dl, ml), 48);
      o += 64;
    }
    p += wb;
  }
}

/** dl·q (q3_K), or dl·q − ml (q2_K, q5_K), four lanes. */
@inline function value4(wt: i32, q: v128, dl: v128, ml: v128): v128 {
  const v = f32x4.mul(f32x4.convert_i32x4_s(q), dl);
  return wt == W_Q3_K ? v : f32x4.sub(v, ml);
}
