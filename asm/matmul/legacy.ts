// ggml's other 32-value weight formats on ggml's 8-bit activations (its vec_dot_type for each):
// q5_0 with q8_0 (as ggml_vec_dot_q5_0_q8_0), q4_1 and q5_1 with q8_1 (ggml_vec_dot_q4_1_q8_1,
// ggml_vec_dot_q5_1_q8_1), and quantize_q8_1.
//
// Per block the integer isum = Σ q·qx, with q the block's unsigned levels (q4_1: 0..15; q5_0, q5_1:
// 0..31) and, for q5_0, minus 16·Σqx (its values are q − 16). The float steps are fixed (the ABI,
// docs/KERNEL-ABI.md), per row in block order from acc = 0:
//   q5_0:        acc = acc + f32(isum)·(dw·dx)
//   q4_1, q5_1:  acc = acc + (f32(isum)·(dw·dx) + mw·sx)      (sx = q8_1's s = dx·Σqx)
// host/kernels/reference/matmul-types.ts does the same in JS, and the tests hold the two equal bit for bit.
//
// The levels of 16 values are assembled in bytes: the nibbles (an AND, or a shift for the high half)
// OR'ed with q5's fifth bits, which a byte swizzle of qh spreads one byte per value (bit j of qh to value
// j) and a compare against each value's bit turns into 0x10. They are widened to u16 and multiplied with
// the activations (widened to i16) by i32x4.dot_i16x8_s: |q·qx| ≤ 31·128, pair sums far inside i32.
// matvec takes four rows per pass from the four quarters of [r0, r1) (each lane one long sequential
// stream, as act_q8_0.ts), each activation block widened once for the four rows; matmul takes four
// tokens per pass, each weight block unpacked once for the four. The integer sums are exact, and the
// float steps are the same lane-wise, so matmul equals matvec and both equal the reference.
import {
  Q4_1_BYTES, Q4_1_M, Q4_1_QS, Q5_0_BYTES, Q5_0_QH, Q5_0_QS, Q5_1_BYTES, Q5_1_M, Q5_1_QH, Q5_1_QS, Q8_0_BLOCK, Q8_0_BYTES,
  Q8_0_QS, Q8_1_BYTES, Q8_1_QS, Q8_1_S,
} from '../lib/blocks';
import { f16_to_f32, f32_to_f16, halves_to_f32x4 } from '../lib/f16';
import { amax8 } from '../lib/quants';
import { gather_halves, hmax_f32, reduce4_i32, row_ptr, store_lanes, store_quarters } from '../lib/simd';
import { quantize_q8_0 } from './quantize';

// The weight format of a driver call (always a constant: each export compiles to its own code).
const W_Q4_1: i32 = 0;
const W_Q5_0: i32 = 1;
const W_Q5_1: i32 = 2;

@inline function weight_bytes(wt: i32): usize {
  return wt == W_Q4_1 ? Q4_1_BYTES : wt == W_Q5_0 ? Q5_0_BYTES : Q5_1_BYTES;
}

/** Bytes of one activation block: q8_0 for q5_0, q8_1 for q4_1 and q5_1. */
@inline function act_bytes(wt: i32): usize {
  return wt == W_Q5_0 ? Q8_0_BYTES : Q8_1_BYTES;
}

/** Where an activation block's 32 i8 start. */
@inline function act_qs(wt: i32): usize {
  return wt == W_Q5_0 ? Q8_0_QS : Q8_1_QS;
}

// ---- unpacking a weight block ---------------------------------------------------------------------

/** 0x10 in byte j where bit j of qh is set, for the 16 values 16·half .. 16·half + 15 (bytes 2·half, 2·half + 1 of qh). */
@inline function fifth_bits(qh: u32, half: i32): v128 {
  const v = i32x4.splat(qh);
  const spread = half == 0
    ? i8x16.swizzle(v, i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1))
    : i8x16.swizzle(v, i8x16(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const bit = i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  return v128.and(i8x16.eq(v128.and(spread, bit), bit), i8x16.splat(0x10));
}

/** The levels of values 0..15 (half 0) or 16..31 (half 1) of the weight block at p, one byte each. */
@inline function levels16(wt: i32, p: usize, half: i32): v128 {
  const qs = v128.load(p + (wt == W_Q4_1 ? Q4_1_QS : wt == W_Q5_0 ? Q5_0_QS : Q5_1_QS));
  const nibbles = half == 0 ? v128.and(qs, i8x16.splat(0x0f)) : i8x16.shr_u(qs, 4);
  if (wt == W_Q4_1) return nibbles;
  return v128.or(nibbles, fifth_bits(load<u32>(p + (wt == W_Q5_0 ? Q5_0_QH : Q5_1_QH)), half));
}

/** Σ q·qx over 16 values: q = 16 level bytes, a0/a1 = the 16 activations as i16 (values 0-7, 8-15). */
@inline function dot16(q: v128, a0: v128, a1: v128): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(q), a0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(q), a1));
}

/** Σ q·qx (i32 lanes summing to it) of the weight block at p and the activations a0..a3 (values 0-7, …, 24-31, as i16). */
@inline function block_dot(wt: i32, p: usize, a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  return i32x4.add(dot16(levels16(wt, p, 0), a0, a1), dot16(levels16(wt, p, 1), a2, a3));
}

/** 16·Σqx of the activations a0..a3 (i32 lanes summing to it): q5_0's −16 offset. */
@inline function offset16(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  return i32x4.dot_i16x8_s(i16x8.add(i16x8.add(a0, a1), i16x8.add(a2, a3)), i16x8.splat(16));
}

/** The value a block adds to a row's sum, lane-wise: f32(isum)·(dw·dx) (+ mw·sx for q4_1 and q5_1). */
@inline function block_value(wt: i32, isum: v128, dw: v128, dx: v128, mw: v128, sx: v128): v128 {
  const t = f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.mul(dw, dx));
  return wt == W_Q5_0 ? t : f32x4.add(t, f32x4.mul(mw, sx));
}

// ---- the drivers ----------------------------------------------------------------------------

/** y[r] for r in [r0, r1): four rows per pass from the quarters of the range (lane i = row r + i·q). */
@inline function matvec_any(wt: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const wb = weight_bytes(wt), xs = act_bytes(wt), xq = act_qs(wt);
  const mo: usize = wt == W_Q4_1 ? Q4_1_M : Q5_1_M;
  const nb = cols / Q8_0_BLOCK;
  const rowBytes = <usize>nb * wb;
  const q = (r1 - r0 + 3) >> 2; // rows per quarter
  const last = r1 - 1;
  for (let i = 0; i < q; i++) {
    const r = r0 + i;
    let p0 = row_ptr(w, r, last, rowBytes), p1 = row_ptr(w, r + q, last, rowBytes);
    let p2 = row_ptr(w, r + 2 * q, last, rowBytes), p3 = row_ptr(w, r + 3 * q, last, rowBytes);
    let xb = x;
    let acc = f32x4.splat(0);
    for (let b = 0; b < nb; b++) {
      const a0 = v128.load8x8_s(xb + xq), a1 = v128.load8x8_s(xb + xq, 8);
      const a2 = v128.load8x8_s(xb + xq, 16), a3 = v128.load8x8_s(xb + xq, 24);
      let s0 = block_dot(wt, p0, a0, a1, a2, a3), s1 = block_dot(wt, p1, a0, a1, a2, a3);
      let s2 = block_dot(wt, p2, a0, a1, a2, a3), s3 = block_dot(wt, p3, a0, a1, a2, a3);
      let isum = reduce4_i32(s0, s1, s2, s3);
      if (wt == W_Q5_0) {
        const e = offset16(a0, a1, a2, a3);
        isum = i32x4.sub(isum, reduce4_i32(e, e, e, e));
      }
      const dw = halves_to_f32x4(gather_halves(p0, p1, p2, p3));
      const dx = f32x4.splat(f16_to_f32(load<u16>(xb)));
      const mw = wt == W_Q5_0 ? dw : halves_to_f32x4(gather_halves(p0 + mo, p1 + mo, p2 + mo, p3 + mo));
      const sx = wt == W_Q5_0 ? dx : f32x4.splat(f16_to_f32(load<u16>(xb, Q8_1_S)));
      acc = f32x4.add(acc, block_value(wt, isum, dw, dx, mw, sx));
      p0 += wb; p1 += wb; p2 += wb; p3 += wb;
      xb += xs;
    }
    store_quarters(y, r, q, r1, acc);
  }
}

/** y[t·rows + r] for nTok tokens and r in [r0, r1): four tokens per pass (lane i = token t + i). */
@inline function matmul_any(wt: i32, w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const wb = weight_bytes(wt), xs = act_bytes(wt), xq = act_qs(wt);
  const mo: usize = wt == W_Q4_1 ? Q4_1_M : Q5_1_M;
  const nb = cols / Q8_0_BLOCK;
  const rowBytes = <usize>nb * wb, xBytes = <usize>nb * xs;
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const t0 = row_ptr(x, t, lastT, xBytes), t1 = row_ptr(x, t + 1, lastT, xBytes);
    const t2 = row_ptr(x, t + 2, lastT, xBytes), t3 = row_ptr(x, t + 3, lastT, xBytes);
    for (let r = r0; r < r1; r++) {
      let p = w + <usize>r * rowBytes;
      let off: usize = 0;
      let acc = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        const lo = levels16(wt, p, 0), hi = levels16(wt, p, 1);
        const w0 = i16x8.extend_low_i8x16_u(lo), w1 = i16x8.extend_high_i8x16_u(lo);
        const w2 = i16x8.extend_low_i8x16_u(hi), w3 = i16x8.extend_high_i8x16_u(hi);
        let s0 = token_dot(wt, w0, w1, w2, w3, t0 + off + xq), s1 = token_dot(wt, w0, w1, w2, w3, t1 + off + xq);
        let s2 = token_dot(wt, w0, w1, w2, w3, t2 + off + xq), s3 = token_dot(wt, w0, w1, w2, w3, t3 + off + xq);
        const isum = reduce4_i32(s0, s1, s2, s3);
        const dw = f32x4.splat(f16_to_f32(load<u16>(p)));
        const dx = halves_to_f32x4(gather_halves(t0 + off, t1 + off, t2 + off, t3 + off));
        const mw = wt == W_Q5_0 ? dw : f32x4.splat(f16_to_f32(load<u16>(p + mo)));
        const sx = wt == W_Q5_0 ? dx : halves_to_f32x4(gather_halves(t0 + off + Q8_1_S, t1 + off + Q8_1_S, t2 + off + Q8_1_S, t3 + off + Q8_1_S));
        acc = f32x4.add(acc, block_value(wt, isum, dw, dx, mw, sx));
        p += wb;
        off += xs;
      }
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, acc);
    }
  }
}

/** One token's Σ q·qx (minus 16·Σqx for q5_0) for the unpacked weight levels w0..w3 and the 32 activations at xq. */
@inline function token_dot(wt: i32, w0: v128, w1: v128, w2: v128, w3: v128, xq: usize): v128 {
  const a0 = v128.load8x8_s(xq), a1 = v128.load8x8_s(xq, 8), a2 = v128.load8x8_s(xq, 16), a3 = v128.load8x8_s(xq, 24);
  const s = i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(w0, a0), i32x4.dot_i16x8_s(w1, a1)),
    i32x4.add(i32x4.dot_i16x8_s(w2, a2), i32x4.dot_i16x8_s(w3, a3)),
  );
  return wt == W_Q5_0 ? i32x4.sub(s, offset16(a0, a1, a2, a3)) : s;
}

// ---- the exports ------------------------------------------------------------------------------

/** matvec_q4_1(w, x: q8_1*, y: f32*, cols, r0, r1). */
export function matvec_q4_1(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_any(W_Q4_1, w, x, y, cols, r0, r1);
}

/** matmul_q4_1(w, x: q8_1*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q4_1(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_any(W_Q4_1, w, x, y, cols, rows, nTok, r0, r1);
}

/** matvec_q5_0(w, x: q8_0*, y: f32*, cols, r0, r1). */
export function matvec_q5_0(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_any(W_Q5_0, w, x, y, cols, r0, r1);
}

/** matmul_q5_0(w, x: q8_0*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q5_0(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_any(W_Q5_0, w, x, y, cols, rows, nTok, r0, r1);
}

/** matvec_q5_1(w, x: q8_1*, y: f32*, cols, r0, r1). */
export function matvec_q5_1(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_any(W_Q5_1, w, x, y, cols, r0, r1);
}

/** matmul_q5_1(w, x: q8_1*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q5_1(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_any(W_Q5_1, w, x, y, cols, rows, nTok, r0, r1);
}

// ---- get_row: ggml's dequantizers, the same f32 operations in the same order ---------------------

/** get_row_q4_1(w, out: f32*, cols, row): q·d + m per value (the product rounded first), as ggml's dequantize_row_q4_1. */
export function get_row_q4_1(w: usize, out: usize, cols: i32, row: i32): void {
  get_row_any(W_Q4_1, w, out, cols, row);
}

/** get_row_q5_0(w, out: f32*, cols, row): (q − 16)·d per value, as ggml's dequantize_row_q5_0. */
export function get_row_q5_0(w: usize, out: usize, cols: i32, row: i32): void {
  get_row_any(W_Q5_0, w, out, cols, row);
}

/** get_row_q5_1(w, out: f32*, cols, row): q·d + m per value, as ggml's dequantize_row_q5_1. */
export function get_row_q5_1(w: usize, out: usize, cols: i32, row: i32): void {
  get_row_any(W_Q5_1, w, out, cols, row);
}

@inline function get_row_any(wt: i32, w: usize, out: usize, cols: i32, row: i32): void {
  const wb = weight_bytes(wt);
  const nb = cols / Q8_0_BLOCK;
  let p = w + <usize>row * <usize>nb * wb;
  let o = out;
  for (let b = 0; b < nb; b++) {
    const d = f32x4.splat(f16_to_f32(load<u16>(p)));
    const m = wt == W_Q5_0 ? f32x4.splat(0) : f32x4.splat(f16_to_f32(load<u16>(p + (wt == W_Q4_1 ? Q4_1_M : Q5_1_M))));
    store16(wt, o, levels16(wt, p, 0), d, m);
    store16(wt, o + 64, levels16(wt, p, 1), d, m);
    p += wb;
    o += 128;
  }
}

/** 16 levels (bytes) as floats at o: (q − 16)·d for q5_0, f32(q·d) + m otherwise. */
@inline function store16(wt: i32, o: usize, q: v128, d: v128, m: v128): void {
  const lo = i16x8.extend_low_i8x16_u(q), hi = i16x8.extend_high_i8x16_u(q);
  const off = i32x4.splat(wt == W_Q5_0 ? 16 : 0);
  v128.store(o, value4(wt, i32x4.sub(i32x4.extend_low_i16x8_u(lo), off), d, m));
  v128.store(o, value4(wt, i32x4.sub(i32x4.extend_high_i16x8_u(lo), off), d, m), 16);
  v128.store(o, value4(wt, i32x4.sub(i32x4.extend_low_i16x8_u(hi), off), d, m), 32);
  v128.store(o, value4(wt, i32x4.sub(i32x4.extend_high_i16x8_u(hi), off), d, m), 48);
}

@inline function value4(wt: i32, q: v128, d: v128, m: v128): v128 {
  const v = f32x4.mul(f32x4.convert_i32x4_s(q), d);
  return wt == W_Q5_0 ? v : f32x4.add(v, m);
}

// ---- quantize_q8_1 ----------------------------------------------------------------------------

/**
 * quantize_q8_1(x: f32*, out: q8_1*, n): n values (a multiple of 32) into n/32 blocks
 * { f16 d; f16 s; i8 qs[32] }: d and qs exactly quantize_q8_0's (each block quantized by it), then
 * s = d·Σ qs with the f32 d = absmax/127 before its rounding to f16, as ggml's quantize_row_q8_1_ref.
 */
export function quantize_q8_1(x: usize, out: usize, n: i32): void {
  const nb = n / Q8_0_BLOCK;
  for (let b = 0; b < nb; b++) {
    const p = x + (<usize>b << 7);
    const o = out + <usize>b * Q8_1_BYTES;
    // q8_0's block { d; qs } written at o + 2 puts qs where q8_1 has them; d then moves to o
    quantize_q8_0(p, o + Q8_1_S, Q8_0_BLOCK);
    store<u16>(o, load<u16>(o + Q8_1_S));
    const amax = hmax_f32(amax8(
      v128.load(p), v128.load(p, 16), v128.load(p, 32), v128.load(p, 48),
      v128.load(p, 64), v128.load(p, 80), v128.load(p, 96), v128.load(p, 112),
    ));
    const q = o + Q8_1_QS;
    const sums = i32x4.add(
      i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(v128.load(q))),
      i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(v128.load(q, 16))),
    );
    const sum = reduce4_i32(sums, sums, sums, sums);
    store<u16>(o, <u16>f32_to_f16(<f32>i32x4.extract_lane(sum, 0) * (amax / 127.0)), Q8_1_S);
  }
}
