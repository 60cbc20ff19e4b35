// q8_0 weights (blocks { f16 d; i8 qs[32] }) with q8_0 activations, as ggml_vec_dot_q8_0_q8_0:
// per block the integer Σ qw·qx, times dw·dx (an f32 product), summed over blocks in f32.
//
// The integer dot: both sides are widened to i16 by v128.load8x8_s (one pmovsxbw each) and multiplied
// pairwise into i32 lanes by i32x4.dot_i16x8_s. matvec works on four rows per pass, so each activation
// block is widened once for four weight blocks; the four rows' lane sums are reduced together into one
// vector (lane i = row i), scaled by the rows' d (converted four at a time) times dx (converted four
// blocks at a time), and accumulated in one f32x4. The four rows of a pass are the i-th rows of the
// four quarters of [r0, r1), so each lane reads one long sequential stream (four neighbouring rows
// would be four short streams the hardware prefetcher keeps restarting: half the speed from DRAM).
// matmul works on four tokens per pass the same way (lane i = token i), loading each weight block
// once for the four tokens; the per-lane operations are the same, so matmul equals matvec exactly.
//
// Code shape for V8 (TurboFan): it issues every load of a basic block before the arithmetic, so a
// whole block for four rows (20 vectors) would spill. `z` is 0 (cols >> 31) but not known to the
// compiler: `if (z == 0)` between the two 16-value halves of a block splits the basic block, and the
// halves' loads stay within the 16 registers.
import { f16_to_f32 } from '../lib/f16';
import { Q8_0_BYTES, QK8_0 } from '../lib/blocks';
import { gather_halves, halves_to_f32x4, reduce4_i32, row_ptr, store_lanes, store_quarters } from './simd';

/** Σ q·v over 16 i8 at p, v0/v1 the other side's 16 values as i16. */
@inline export function dot_i8x16(p: usize, v0: v128, v1: v128): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(v128.load8x8_s(p), v0), i32x4.dot_i16x8_s(v128.load8x8_s(p, 8), v1));
}

/**
 * acc + (Σ qw·qx)·dw·dx for one block of four weight rows (blocks at p0..p3) and one activation block
 * at xb, lane i = row i; dx is the activation block's scale in every lane.
 */
@inline function rows_block(acc: v128, p0: usize, p1: usize, p2: usize, p3: usize, xb: usize, dx: v128, z: i32): v128 {
  let x0 = v128.load8x8_s(xb, 2), x1 = v128.load8x8_s(xb, 10);
  let s0 = dot_i8x16(p0 + 2, x0, x1), s1 = dot_i8x16(p1 + 2, x0, x1);
  let s2 = dot_i8x16(p2 + 2, x0, x1), s3 = dot_i8x16(p3 + 2, x0, x1);
  if (z == 0) {
    x0 = v128.load8x8_s(xb, 18);
    x1 = v128.load8x8_s(xb, 26);
    s0 = i32x4.add(s0, dot_i8x16(p0 + 18, x0, x1));
    s1 = i32x4.add(s1, dot_i8x16(p1 + 18, x0, x1));
    s2 = i32x4.add(s2, dot_i8x16(p2 + 18, x0, x1));
    s3 = i32x4.add(s3, dot_i8x16(p3 + 18, x0, x1));
  }
  const scale = f32x4.mul(halves_to_f32x4(gather_halves(p0, p1, p2, p3)), dx);
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(reduce4_i32(s0, s1, s2, s3)), scale));
}

/**
 * acc + (Σ qw·qx)·dw·dx for one weight block at p and four activation blocks at x0..x3, lane i =
 * token i; dw is the weight block's scale in every lane.
 */
@inline function tokens_block(acc: v128, p: usize, x0: usize, x1: usize, x2: usize, x3: usize, dw: v128, z: i32): v128 {
  let w0 = v128.load8x8_s(p, 2), w1 = v128.load8x8_s(p, 10);
  let s0 = dot_i8x16(x0 + 2, w0, w1), s1 = dot_i8x16(x1 + 2, w0, w1);
  let s2 = dot_i8x16(x2 + 2, w0, w1), s3 = dot_i8x16(x3 + 2, w0, w1);
  if (z == 0) {
    w0 = v128.load8x8_s(p, 18);
    w1 = v128.load8x8_s(p, 26);
    s0 = i32x4.add(s0, dot_i8x16(x0 + 18, w0, w1));
    s1 = i32x4.add(s1, dot_i8x16(x1 + 18, w0, w1));
    s2 = i32x4.add(s2, dot_i8x16(x2 + 18, w0, w1));
    s3 = i32x4.add(s3, dot_i8x16(x3 + 18, w0, w1));
  }
  const scale = f32x4.mul(dw, halves_to_f32x4(gather_halves(x0, x1, x2, x3)));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(reduce4_i32(s0, s1, s2, s3)), scale));
}

/** Lane k of v in all four lanes. */
@inline export function lane(v: v128, k: i32): v128 {
  return k == 0 ? i32x4.shuffle(v, v, 0, 0, 0, 0) : k == 1 ? i32x4.shuffle(v, v, 1, 1, 1, 1)
    : k == 2 ? i32x4.shuffle(v, v, 2, 2, 2, 2) : i32x4.shuffle(v, v, 3, 3, 3, 3);
}

/** matvec_q8_0(w, x: q8_0*, y: f32*, cols, r0, r1). */
export function matvec_q8_0(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const nb = cols / QK8_0;
  const rowBytes = <usize>nb * Q8_0_BYTES;
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
      const dx = halves_to_f32x4(gather_halves(xb, xb + 34, xb + 68, xb + 102));
      acc = rows_block(acc, p0, p1, p2, p3, xb, lane(dx, 0), z);
      acc = rows_block(acc, p0 + 34, p1 + 34, p2 + 34, p3 + 34, xb + 34, lane(dx, 1), z);
      acc = rows_block(acc, p0 + 68, p1 + 68, p2 + 68, p3 + 68, xb + 68, lane(dx, 2), z);
      acc = rows_block(acc, p0 + 102, p1 + 102, p2 + 102, p3 + 102, xb + 102, lane(dx, 3), z);
      p0 += 136; p1 += 136; p2 += 136; p3 += 136;
      xb += 136;
    }
    for (; b < nb; b++) {
      acc = rows_block(acc, p0, p1, p2, p3, xb, f32x4.splat(f16_to_f32(load<u16>(xb))), z);
      p0 += Q8_0_BYTES; p1 += Q8_0_BYTES; p2 += Q8_0_BYTES; p3 += Q8_0_BYTES;
      xb += Q8_0_BYTES;
    }
    store_quarters(y, r, q, r1, acc);
  }
}

/** matmul_q8_0(w, x: q8_0*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q8_0(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const nb = cols / QK8_0;
  const rowBytes = <usize>nb * Q8_0_BYTES;
  const z = cols >> 31;
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const t0 = row_ptr(x, t, lastT, rowBytes), t1 = row_ptr(x, t + 1, lastT, rowBytes);
    const t2 = row_ptr(x, t + 2, lastT, rowBytes), t3 = row_ptr(x, t + 3, lastT, rowBytes);
    for (let r = r0; r < r1; r++) {
      let p = w + <usize>r * rowBytes;
      let off: usize = 0;
      let acc = f32x4.splat(0);
      let b = 0;
      for (; b + 4 <= nb; b += 4) {
        const dw = halves_to_f32x4(gather_halves(p, p + 34, p + 68, p + 102));
        acc = tokens_block(acc, p, t0 + off, t1 + off, t2 + off, t3 + off, lane(dw, 0), z);
        acc = tokens_block(acc, p + 34, t0 + off + 34, t1 + off + 34, t2 + off + 34, t3 + off + 34, lane(dw, 1), z);
        acc = tokens_block(acc, p + 68, t0 + off + 68, t1 + off + 68, t2 + off + 68, t3 + off + 68, lane(dw, 2), z);
        acc = tokens_block(acc, p + 102, t0 + off + 102, t1 + off + 102, t2 + off + 102, t3 + off + 102, lane(dw, 3), z);
        p += 136;
        off += 136;
      }
      for (; b < nb; b++) {
        acc = tokens_block(acc, p, t0 + off, t1 + off, t2 + off, t3 + off, f32x4.splat(f16_to_f32(load<u16>(p))), z);
        p += Q8_0_BYTES;
        off += Q8_0_BYTES;
      }
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, acc);
    }
  }
}

/** get_row_q8_0(w, out: f32*, cols, row): q·d per value, as ggml's dequantize_row_q8_0. */
export function get_row_q8_0(w: usize, out: usize, cols: i32, row: i32): void {
  const nb = cols / QK8_0;
  let p = w + <usize>row * <usize>nb * Q8_0_BYTES;
  let o = out;
  for (let b = 0; b < nb; b++) {
    const d = f32x4.splat(f16_to_f32(load<u16>(p)));
    for (let k: usize = 0; k < 32; k += 8) {
      const q = v128.load8x8_s(p + 2 + k);
      v128.store(o + (k << 2), f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(q)), d));
      v128.store(o + (k << 2), f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(q)), d), 16);
    }
    p += Q8_0_BYTES;
    o += 128;
  }
}
