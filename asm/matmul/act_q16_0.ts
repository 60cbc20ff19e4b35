// q8_0 and q4_0 weights with q16_0 activations (asm/matmul/quantize16.ts): per block the integer
// Σ qw·qx (q4_0: Σ (q − 8)·qx), times dw·dx (an f32 product), summed over blocks in f32 — the
// act_q8_0.ts kernels with 16-bit activations. The activations are already i16, so they are loaded as
// they are (two v128 per 16 values) and only the weights are widened.
//
// Overflow: q8_0: |qw| ≤ 128, |qx| ≤ 32767, so a block's sum is ≤ 32·128·32767 ≈ 1.3e8 < 2^31 (and
// each i32x4.dot_i16x8_s lane ≤ 2·128·32767). q4_0: 0 ≤ q ≤ 15, so |Σ q·qx| ≤ 32·15·32767 ≈ 1.6e7 and
// |8·Σ qx| ≤ 8·32·32767 ≈ 8.4e6 per block. Exact in i32.
//
// Same shape as act_q8_0.ts: four rows from the four quarters of [r0, r1) per matvec pass, four tokens
// per matmul pass, and `if (z == 0)` splitting each block's two 16-value halves (z = cols >> 31,
// always 0). q4_0's matvec takes the −8 out once per activation block for the four rows as Σ 8·qx,
// computed with i32x4.dot_i16x8_s against splat(8) (act_q8_0.ts adds the two i16 halves first, which
// would overflow i16 here); matmul subtracts 8 from the nibbles it unpacks once for four tokens. The
// integer sums are equal, and the f32 operations are the same, so matmul equals matvec bit for bit.
//
// q4_0 matvec code shape for V8 (measured, one thread): each row's 16 quant bytes are one v128.load
// (not four load8x8_u), the low nibbles masked as bytes before widening, so only four weight vectors
// stay live across the `if (z == 0)` split; two blocks per loop iteration (one block per iteration, or
// four, are ~12% slower: TurboFan then spills more and rebuilds the constants inside the loop); the f16
// infinity/NaN test on the integer exponent bits (since then lib/f16.ts's one rule). ~+13% over one
// load8x8_u pair per half.
import { Q16_0_BYTES, Q16_0_Q, Q4_0_BYTES, Q4_0_QS, Q8_0_BLOCK, Q8_0_BYTES, Q8_0_QS } from '../lib/blocks';
import { F16_EXP, F16_K112, F16_MS, F32_EXP, halves_to_f32x4, halves_to_f32x4_k } from '../lib/f16';
import { dot_i8x16 } from '../lib/quants';
import { gather_f32, gather_halves, reduce4_i32, row_ptr, store_lanes, store_quarters } from '../lib/simd';

// The weight format of a driver call (always a constant: each export compiles to its own code).
export const W_Q8_0: i32 = 0;
export const W_Q4_0: i32 = 1;

/** Σ w·x over 16 values: w0/w1 the weights as i16, the 16 i16 activations at xq. */
@inline function dot_x16(w0: v128, w1: v128, xq: usize): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(w0, v128.load(xq)), i32x4.dot_i16x8_s(w1, v128.load(xq, 16)));
}

// ---- q8_0 weights ----------------------------------------------------------------------------

/** acc + (Σ qw·qx)·dw·dx for one block of four weight rows and one q16_0 block at xb; lane i = row i. */
@inline function rows_block_q8_0(acc: v128, p0: usize, p1: usize, p2: usize, p3: usize, xb: usize, z: i32): v128 {
  let x0 = v128.load(xb, Q16_0_Q), x1 = v128.load(xb, Q16_0_Q + 16);
  let s0 = dot_i8x16(p0 + Q8_0_QS, x0, x1), s1 = dot_i8x16(p1 + Q8_0_QS, x0, x1);
  let s2 = dot_i8x16(p2 + Q8_0_QS, x0, x1), s3 = dot_i8x16(p3 + Q8_0_QS, x0, x1);
  if (z == 0) {
    x0 = v128.load(xb, Q16_0_Q + 32);
    x1 = v128.load(xb, Q16_0_Q + 48);
    s0 = i32x4.add(s0, dot_i8x16(p0 + Q8_0_QS + 16, x0, x1));
    s1 = i32x4.add(s1, dot_i8x16(p1 + Q8_0_QS + 16, x0, x1));
    s2 = i32x4.add(s2, dot_i8x16(p2 + Q8_0_QS + 16, x0, x1));
    s3 = i32x4.add(s3, dot_i8x16(p3 + Q8_0_QS + 16, x0, x1));
  }
  const scale = f32x4.mul(halves_to_f32x4(gather_halves(p0, p1, p2, p3)), v128.load32_splat(xb));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(reduce4_i32(s0, s1, s2, s3)), scale));
}

// ---- q4_0 weights ----------------------------------------------------------------------------

/** Σ q·v over the low (shift 0) or high (shift 4) nibbles of the 16 bytes w, v0/v1 the matching 16 values as i16. */
@inline function dot_nib16(w: v128, shift: i32, v0: v128, v1: v128): v128 {
  let a: v128, b: v128;
  if (shift == 0) {
    const lo = v128.and(w, i8x16.splat(0x0f));
    a = i16x8.extend_low_i8x16_u(lo);
    b = i16x8.extend_high_i8x16_u(lo);
  } else {
    a = i16x8.shr_u(i16x8.extend_low_i8x16_u(w), 4);
    b = i16x8.shr_u(i16x8.extend_high_i8x16_u(w), 4);
  }
  return i32x4.add(i32x4.dot_i16x8_s(a, v0), i32x4.dot_i16x8_s(b, v1));
}

/** acc + (Σ (q − 8)·qx)·dw·dx for one block of four weight rows and one q16_0 block; lane i = row i. */
@inline function rows_block_q4_0(acc: v128, p0: usize, p1: usize, p2: usize, p3: usize, xb: usize, z: i32): v128 {
  const eight = i16x8.splat(8);
  let x0 = v128.load(xb, Q16_0_Q), x1 = v128.load(xb, Q16_0_Q + 16);
  const w0 = v128.load(p0, Q4_0_QS), w1 = v128.load(p1, Q4_0_QS), w2 = v128.load(p2, Q4_0_QS), w3 = v128.load(p3, Q4_0_QS);
  let e = i32x4.add(i32x4.dot_i16x8_s(x0, eight), i32x4.dot_i16x8_s(x1, eight));
  let s0 = dot_nib16(w0, 0, x0, x1), s1 = dot_nib16(w1, 0, x0, x1);
  let s2 = dot_nib16(w2, 0, x0, x1), s3 = dot_nib16(w3, 0, x0, x1);
  if (z == 0) {
    x0 = v128.load(xb, Q16_0_Q + 32);
    x1 = v128.load(xb, Q16_0_Q + 48);
    e = i32x4.add(e, i32x4.add(i32x4.dot_i16x8_s(x0, eight), i32x4.dot_i16x8_s(x1, eight)));
    s0 = i32x4.add(s0, dot_nib16(w0, 4, x0, x1));
    s1 = i32x4.add(s1, dot_nib16(w1, 4, x0, x1));
    s2 = i32x4.add(s2, dot_nib16(w2, 4, x0, x1));
    s3 = i32x4.add(s3, dot_nib16(w3, 4, x0, x1));
  }
  const s = reduce4_i32(i32x4.sub(s0, e), i32x4.sub(s1, e), i32x4.sub(s2, e), i32x4.sub(s3, e));
  const scale = f32x4.mul(halves_to_f32x4(gather_halves(p0, p1, p2, p3)), v128.load32_splat(xb));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(s), scale));
}

// ---- matvec ------------------------------------------------------------------------------------

@inline function rows_block(wt: i32, acc: v128, p0: usize, p1: usize, p2: usize, p3: usize, xb: usize, z: i32): v128 {
  return wt == W_Q8_0 ? rows_block_q8_0(acc, p0, p1, p2, p3, xb, z) : rows_block_q4_0(acc, p0, p1, p2, p3, xb, z);
}

/**
 * y[r] for r in [r0, r1): four rows per pass from the quarters of the range; q8_0 one block per step,
 * q4_0 two (measured, see above), then the odd block.
 */
@inline export function matvec_any(wt: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32, xs: usize = Q16_0_BYTES): void {
  const wb: usize = wt == W_Q8_0 ? Q8_0_BYTES : Q4_0_BYTES;
  const nb = cols / Q8_0_BLOCK;
  const rowBytes = <usize>nb * wb;
  const z = cols >> 31;
  const q = (r1 - r0 + 3) >> 2; // rows per quarter
  const last = r1 - 1;
  for (let i = 0; i < q; i++) {
    const r = r0 + i;
    let p0 = row_ptr(w, r, last, rowBytes), p1 = row_ptr(w, r + q, last, rowBytes);
    let p2 = row_ptr(w, r + 2 * q, last, rowBytes), p3 = row_ptr(w, r + 3 * q, last, rowBytes);
    let xb = x;
    let acc = f32x4.splat(0);
    let b = 0;
    if (wt == W_Q4_0) {
      for (; b + 2 <= nb; b += 2) {
        acc = rows_block(wt, acc, p0, p1, p2, p3, xb, z);
        acc = rows_block(wt, acc, p0 + wb, p1 + wb, p2 + wb, p3 + wb, xb + xs, z);
        p0 += 2 * wb; p1 += 2 * wb; p2 += 2 * wb; p3 += 2 * wb;
        xb += 2 * xs;
      }
      if (b < nb) acc = rows_block(wt, acc, p0, p1, p2, p3, xb, z);
    } else {
      for (; b < nb; b++) {
        acc = rows_block(wt, acc, p0, p1, p2, p3, xb, z);
        p0 += wb; p1 += wb; p2 += wb; p3 += wb;
        xb += xs;
      }
    }
    store_quarters(y, r, q, r1, acc);
  }
}

/** matvec_q8_0_x16(w, x: q16_0*, y: f32*, cols, r0, r1). */
export function matvec_q8_0_x16(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_any(W_Q8_0, w, x, y, cols, r0, r1);
}

/** matvec_q4_0_x16(w, x: q16_0*, y: f32*, cols, r0, r1). */
export function matvec_q4_0_x16(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_any(W_Q4_0, w, x, y, cols, r0, r1);
}

// ---- matmul, one driver for both -----------------------------------------------------------------

/**
 * acc + (Σ qw·qx)·dw·dx (q4_0: Σ (q − 8)·qx) for one weight block at p and four q16_0 blocks at
 * a0..a3; lane i = token i. Each half's 16 weights are unpacked once for the four tokens (q4_0: the
 * 16 bytes loaded once, low nibbles then high, minus 8). m, eight (q4_0's nibble mask and offset) and
 * c1..c4 (halves_to_f32x4_k's) are the constants, computed once per call (see matmul_any).
 */
@inline function tokens_block(wt: i32, acc: v128, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, z: i32,
  m: v128, eight: v128, c1: v128, c2: v128, c3: v128, c4: v128): v128 {
  let wa = i32x4.splat(0), wb = i32x4.splat(0), la: v128, lb: v128;
  if (wt == W_Q8_0) {
    la = v128.load8x8_s(p, Q8_0_QS);
    lb = v128.load8x8_s(p, Q8_0_QS + 8);
  } else {
    wa = v128.load8x8_u(p, Q4_0_QS);
    wb = v128.load8x8_u(p, Q4_0_QS + 8);
    la = i16x8.sub(v128.and(wa, m), eight);
    lb = i16x8.sub(v128.and(wb, m), eight);
  }
  let s0 = dot_x16(la, lb, a0 + Q16_0_Q), s1 = dot_x16(la, lb, a1 + Q16_0_Q);
  let s2 = dot_x16(la, lb, a2 + Q16_0_Q), s3 = dot_x16(la, lb, a3 + Q16_0_Q);
  if (z == 0) {
    if (wt == W_Q8_0) {
      la = v128.load8x8_s(p, Q8_0_QS + 16);
      lb = v128.load8x8_s(p, Q8_0_QS + 24);
    } else {
      la = i16x8.sub(i16x8.shr_u(wa, 4), eight);
      lb = i16x8.sub(i16x8.shr_u(wb, 4), eight);
    }
    s0 = i32x4.add(s0, dot_x16(la, lb, a0 + Q16_0_Q + 32));
    s1 = i32x4.add(s1, dot_x16(la, lb, a1 + Q16_0_Q + 32));
    s2 = i32x4.add(s2, dot_x16(la, lb, a2 + Q16_0_Q + 32));
    s3 = i32x4.add(s3, dot_x16(la, lb, a3 + Q16_0_Q + 32));
  }
  const scale = f32x4.mul(halves_to_f32x4_k(v128.load16_splat(p), c1, c2, c3, c4), gather_f32(a0, a1, a2, a3));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(reduce4_i32(s0, s1, s2, s3)), scale));
}

/**
 * y[t·rows + r] for nTok tokens and r in [r0, r1), four tokens per pass.
 *
 * Code shape for V8 (measured on q4_0, one thread, 16 tokens: +27% over the first version): the four
 * token pointers advance by one block per iteration (computed from t inside the loop, they were rebuilt
 * with a multiply and a select per block); the weight scale is converted as a splat by
 * halves_to_f32x4_k (not the scalar f16_to_f32); and the vector constants are splats of `c | z` (z = 0
 * but opaque) that are also used after the block loop (in a branch never taken), so TurboFan computes
 * them once before the loop and keeps them in registers or spill slots instead of rebuilding each one
 * (three instructions) in every iteration.
 */
@inline export function matmul_any(wt: i32, w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32, xs: usize = Q16_0_BYTES): void {
  const wb: usize = wt == W_Q8_0 ? Q8_0_BYTES : Q4_0_BYTES;
  const nb = cols / Q8_0_BLOCK;
  const rowBytes = <usize>nb * wb, xBytes = <usize>nb * xs;
  const z = cols >> 31;
  const m = i16x8.splat(<i16>(0x0f | z)), eight = i16x8.splat(<i16>(8 | z));
  const c1 = i32x4.splat(F16_MS | z), c2 = i32x4.splat(F16_K112 | z);
  const c3 = i32x4.splat(F16_EXP | z), c4 = i32x4.splat(F32_EXP | z);
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const t0 = row_ptr(x, t, lastT, xBytes), t1 = row_ptr(x, t + 1, lastT, xBytes);
    const t2 = row_ptr(x, t + 2, lastT, xBytes), t3 = row_ptr(x, t + 3, lastT, xBytes);
    for (let r = r0; r < r1; r++) {
      let p = w + <usize>r * rowBytes;
      let a0 = t0, a1 = t1, a2 = t2, a3 = t3;
      let acc = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        acc = tokens_block(wt, acc, p, a0, a1, a2, a3, z, m, eight, c1, c2, c3, c4);
        p += wb;
        a0 += xs; a1 += xs; a2 += xs; a3 += xs;
      }
      if (z != 0) {
        // never taken; keeps the constants computed once (see above); q8_0 has no m and eight
        acc = v128.xor(v128.xor(acc, c1), v128.xor(v128.xor(c2, c3), c4));
        if (wt == W_Q4_0) acc = v128.xor(acc, v128.xor(m, eight));
      }
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, acc);
    }
  }
}

/** matmul_q8_0_x16(w, x: q16_0*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q8_0_x16(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_any(W_Q8_0, w, x, y, cols, rows, nTok, r0, r1);
}

/** matmul_q4_0_x16(w, x: q16_0*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q4_0_x16(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_any(W_Q4_0, w, x, y, cols, rows, nTok, r0, r1);
}
