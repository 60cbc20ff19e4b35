// q8_0 and q4_0 weights with q8_0 activations, as ggml_vec_dot_q8_0_q8_0 and ggml_vec_dot_q4_0_q8_0:
// per block the integer Σ qw·qx (q4_0: Σ (q − 8)·qx), times dw·dx (an f32 product), summed over
// blocks in f32.
//
// The integer dot: both sides are widened to i16 (q8_0 by v128.load8x8_s; q4_0's nibbles by
// v128.load8x8_u, split with an AND (values 0-15) or a shift (16-31)) and multiplied pairwise into i32
// lanes by i32x4.dot_i16x8_s. matvec works on four rows per pass, so each activation block is widened
// once for four weight blocks; the four rows' lane sums are reduced together into one vector (lane i =
// row i), scaled by the rows' d (converted four at a time) times dx (converted four blocks at a time),
// and accumulated in one f32x4. q4_0's −8 comes off once per activation block as 8·Σqx, shared by the
// four rows. The four rows of a pass are the i-th rows of the four quarters of [r0, r1), so each lane
// reads one long sequential stream (four neighbouring rows would be four short streams the hardware
// prefetcher keeps restarting: half the speed from DRAM). matmul works on four tokens per pass the
// same way (lane i = token i), unpacking each weight block once for the four tokens (q4_0: minus 8);
// the per-lane integer sums and f32 operations are the same, so matmul equals matvec exactly.
//
// Code shape for V8 (TurboFan): it issues every load of a basic block before the arithmetic, so a
// whole block for four rows (20 vectors) would spill. `z` is 0 (cols >> 31) but not known to the
// compiler: `if (z == 0)` between the two 16-value halves of a block splits the basic block, and the
// halves' loads stay within the 16 registers.
import { Q4_0_BYTES, Q4_0_QS, Q8_0_BLOCK, Q8_0_BYTES, Q8_0_QS } from '../lib/blocks';
import { f16_to_f32, halves_to_f32x4 } from '../lib/f16';
import { dot_i8x16, nibbles_a, nibbles_b } from '../lib/quants';
import { gather_halves, lane, reduce4_i32, row_ptr, store_lanes, store_quarters } from '../lib/simd';

// The weight format of a driver call (always a constant: each export compiles to its own code).
const W_Q8_0: i32 = 0;
const W_Q4_0: i32 = 1;

// ---- q8_0 weights ----------------------------------------------------------------------------

/**
 * acc + (Σ qw·qx)·dw·dx for one block of four weight rows (blocks at p0..p3) and one activation block
 * at xb, lane i = row i; dx is the activation block's scale in every lane.
 */
@inline function rows_block_q8_0(acc: v128, p0: usize, p1: usize, p2: usize, p3: usize, xb: usize, dx: v128, z: i32): v128 {
  let x0 = v128.load8x8_s(xb, Q8_0_QS), x1 = v128.load8x8_s(xb, Q8_0_QS + 8);
  let s0 = dot_i8x16(p0 + Q8_0_QS, x0, x1), s1 = dot_i8x16(p1 + Q8_0_QS, x0, x1);
  let s2 = dot_i8x16(p2 + Q8_0_QS, x0, x1), s3 = dot_i8x16(p3 + Q8_0_QS, x0, x1);
  if (z == 0) {
    x0 = v128.load8x8_s(xb, Q8_0_QS + 16);
    x1 = v128.load8x8_s(xb, Q8_0_QS + 24);
    s0 = i32x4.add(s0, dot_i8x16(p0 + Q8_0_QS + 16, x0, x1));
    s1 = i32x4.add(s1, dot_i8x16(p1 + Q8_0_QS + 16, x0, x1));
    s2 = i32x4.add(s2, dot_i8x16(p2 + Q8_0_QS + 16, x0, x1));
    s3 = i32x4.add(s3, dot_i8x16(p3 + Q8_0_QS + 16, x0, x1));
  }
  const scale = f32x4.mul(halves_to_f32x4(gather_halves(p0, p1, p2, p3)), dx);
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(reduce4_i32(s0, s1, s2, s3)), scale));
}

// ---- q4_0 weights ----------------------------------------------------------------------------

/** Σ q·v over the low (shift 0) or high (shift 4) nibbles of the 16 bytes at p, v0/v1 = the matching 16 values as i16. */
@inline function dot_nibbles(p: usize, shift: i32, v0: v128, v1: v128): v128 {
  let a = v128.load8x8_u(p), b = v128.load8x8_u(p, 8);
  if (shift == 0) {
    a = v128.and(a, i16x8.splat(0x0f));
    b = v128.and(b, i16x8.splat(0x0f));
  } else {
    a = i16x8.shr_u(a, 4);
    b = i16x8.shr_u(b, 4);
  }
  return i32x4.add(i32x4.dot_i16x8_s(a, v0), i32x4.dot_i16x8_s(b, v1));
}

/** acc + (Σ (q − 8)·qx)·dw·dx for one block of four weight rows and one activation block; lane i = row i. */
@inline function rows_block_q4_0(acc: v128, p0: usize, p1: usize, p2: usize, p3: usize, xb: usize, dx: v128, z: i32): v128 {
  const eight = i16x8.splat(8);
  let x0 = v128.load8x8_s(xb, Q8_0_QS), x1 = v128.load8x8_s(xb, Q8_0_QS + 8);
  let e = i32x4.dot_i16x8_s(i16x8.add(x0, x1), eight);
  let s0 = dot_nibbles(p0 + Q4_0_QS, 0, x0, x1), s1 = dot_nibbles(p1 + Q4_0_QS, 0, x0, x1);
  let s2 = dot_nibbles(p2 + Q4_0_QS, 0, x0, x1), s3 = dot_nibbles(p3 + Q4_0_QS, 0, x0, x1);
  if (z == 0) {
    x0 = v128.load8x8_s(xb, Q8_0_QS + 16);
    x1 = v128.load8x8_s(xb, Q8_0_QS + 24);
    e = i32x4.add(e, i32x4.dot_i16x8_s(i16x8.add(x0, x1), eight));
    s0 = i32x4.add(s0, dot_nibbles(p0 + Q4_0_QS, 4, x0, x1));
    s1 = i32x4.add(s1, dot_nibbles(p1 + Q4_0_QS, 4, x0, x1));
    s2 = i32x4.add(s2, dot_nibbles(p2 + Q4_0_QS, 4, x0, x1));
    s3 = i32x4.add(s3, dot_nibbles(p3 + Q4_0_QS, 4, x0, x1));
  }
  const s = reduce4_i32(i32x4.sub(s0, e), i32x4.sub(s1, e), i32x4.sub(s2, e), i32x4.sub(s3, e));
  const scale = f32x4.mul(halves_to_f32x4(gather_halves(p0, p1, p2, p3)), dx);
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(s), scale));
}

// ---- the drivers, shared by both weight formats ----------------------------------------------------

@inline function rows_block(wt: i32, acc: v128, p0: usize, p1: usize, p2: usize, p3: usize, xb: usize, dx: v128, z: i32): v128 {
  return wt == W_Q8_0 ? rows_block_q8_0(acc, p0, p1, p2, p3, xb, dx, z) : rows_block_q4_0(acc, p0, p1, p2, p3, xb, dx, z);
}

/**
 * acc + (Σ qw·qx)·dw·dx (q4_0: Σ (q − 8)·qx) for one weight block at p and four activation blocks at
 * x0..x3, lane i = token i; each half's 16 weights unpacked once for the four tokens; dw is the weight
 * block's scale in every lane.
 */
@inline function tokens_block(wt: i32, acc: v128, p: usize, x0: usize, x1: usize, x2: usize, x3: usize, dw: v128, z: i32): v128 {
  let w0 = wt == W_Q8_0 ? v128.load8x8_s(p, Q8_0_QS) : nibbles_a(p + Q4_0_QS, 0);
  let w1 = wt == W_Q8_0 ? v128.load8x8_s(p, Q8_0_QS + 8) : nibbles_b(p + Q4_0_QS, 0);
  let s0 = dot_i8x16(x0 + Q8_0_QS, w0, w1), s1 = dot_i8x16(x1 + Q8_0_QS, w0, w1);
  let s2 = dot_i8x16(x2 + Q8_0_QS, w0, w1), s3 = dot_i8x16(x3 + Q8_0_QS, w0, w1);
  if (z == 0) {
    w0 = wt == W_Q8_0 ? v128.load8x8_s(p, Q8_0_QS + 16) : nibbles_a(p + Q4_0_QS, 4);
    w1 = wt == W_Q8_0 ? v128.load8x8_s(p, Q8_0_QS + 24) : nibbles_b(p + Q4_0_QS, 4);
    s0 = i32x4.add(s0, dot_i8x16(x0 + Q8_0_QS + 16, w0, w1));
    s1 = i32x4.add(s1, dot_i8x16(x1 + Q8_0_QS + 16, w0, w1));
    s2 = i32x4.add(s2, dot_i8x16(x2 + Q8_0_QS + 16, w0, w1));
    s3 = i32x4.add(s3, dot_i8x16(x3 + Q8_0_QS + 16, w0, w1));
  }
  const scale = f32x4.mul(dw, halves_to_f32x4(gather_halves(x0, x1, x2, x3)));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(reduce4_i32(s0, s1, s2, s3)), scale));
}

/** y[r] for r in [r0, r1): four rows per pass from the quarters of the range, four blocks per step. */
@inline function matvec_any(wt: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const wb: usize = wt == W_Q8_0 ? Q8_0_BYTES : Q4_0_BYTES, xs: usize = Q8_0_BYTES;
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
    for (; b + 4 <= nb; b += 4) {
      // four blocks: their four dx converted at once
      const dx = halves_to_f32x4(gather_halves(xb, xb + xs, xb + 2 * xs, xb + 3 * xs));
      acc = rows_block(wt, acc, p0, p1, p2, p3, xb, lane(dx, 0), z);
      acc = rows_block(wt, acc, p0 + wb, p1 + wb, p2 + wb, p3 + wb, xb + xs, lane(dx, 1), z);
      acc = rows_block(wt, acc, p0 + 2 * wb, p1 + 2 * wb, p2 + 2 * wb, p3 + 2 * wb, xb + 2 * xs, lane(dx, 2), z);
      acc = rows_block(wt, acc, p0 + 3 * wb, p1 + 3 * wb, p2 + 3 * wb, p3 + 3 * wb, xb + 3 * xs, lane(dx, 3), z);
      p0 += 4 * wb; p1 += 4 * wb; p2 += 4 * wb; p3 += 4 * wb;
      xb += 4 * xs;
    }
    for (; b < nb; b++) {
      acc = rows_block(wt, acc, p0, p1, p2, p3, xb, f32x4.splat(f16_to_f32(load<u16>(xb))), z);
      p0 += wb; p1 += wb; p2 += wb; p3 += wb;
      xb += xs;
    }
    store_quarters(y, r, q, r1, acc);
  }
}

/** y[t·rows + r] for nTok tokens and r in [r0, r1): four tokens per pass, four blocks per step. */
@inline function matmul_any(wt: i32, w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const wb: usize = wt == W_Q8_0 ? Q8_0_BYTES : Q4_0_BYTES, xs: usize = Q8_0_BYTES;
  const nb = cols / Q8_0_BLOCK;
  const rowBytes = <usize>nb * wb, xBytes = <usize>nb * xs;
  const z = cols >> 31;
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const t0 = row_ptr(x, t, lastT, xBytes), t1 = row_ptr(x, t + 1, lastT, xBytes);
    const t2 = row_ptr(x, t + 2, lastT, xBytes), t3 = row_ptr(x, t + 3, lastT, xBytes);
    for (let r = r0; r < r1; r++) {
      let p = w + <usize>r * rowBytes;
      let off: usize = 0;
      let acc = f32x4.splat(0);
      let b = 0;
      for (; b + 4 <= nb; b += 4) {
        const dw = halves_to_f32x4(gather_halves(p, p + wb, p + 2 * wb, p + 3 * wb));
        acc = tokens_block(wt, acc, p, t0 + off, t1 + off, t2 + off, t3 + off, lane(dw, 0), z);
        acc = tokens_block(wt, acc, p + wb, t0 + off + xs, t1 + off + xs, t2 + off + xs, t3 + off + xs, lane(dw, 1), z);
        acc = tokens_block(wt, acc, p + 2 * wb, t0 + off + 2 * xs, t1 + off + 2 * xs, t2 + off + 2 * xs, t3 + off + 2 * xs, lane(dw, 2), z);
        acc = tokens_block(wt, acc, p + 3 * wb, t0 + off + 3 * xs, t1 + off + 3 * xs, t2 + off + 3 * xs, t3 + off + 3 * xs, lane(dw, 3), z);
        p += 4 * wb;
        off += 4 * xs;
      }
      for (; b < nb; b++) {
        acc = tokens_block(wt, acc, p, t0 + off, t1 + off, t2 + off, t3 + off, f32x4.splat(f16_to_f32(load<u16>(p))), z);
        p += wb;
        off += xs;
      }
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, acc);
    }
  }
}

/** matvec_q8_0(w, x: q8_0*, y: f32*, cols, r0, r1). */
export function matvec_q8_0(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_any(W_Q8_0, w, x, y, cols, r0, r1);
}

/** matmul_q8_0(w, x: q8_0*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q8_0(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_any(W_Q8_0, w, x, y, cols, rows, nTok, r0, r1);
}

/** matvec_q4_0(w, x: q8_0*, y: f32*, cols, r0, r1). */
export function matvec_q4_0(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_any(W_Q4_0, w, x, y, cols, r0, r1);
}

/** matmul_q4_0(w, x: q8_0*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q4_0(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_any(W_Q4_0, w, x, y, cols, rows, nTok, r0, r1);
}
