// q8_0 weights with q16_0 activations (asm/matmul/quantize16.ts): per block the integer Σ qw·qx, times
// dw·dx (an f32 product), summed over blocks in f32 — the q8_0 path (q8_0.ts) with 16-bit activations.
// Overflow: |qw| ≤ 128, |qx| ≤ 32767, so a block's sum is ≤ 32·128·32767 ≈ 1.3e8 < 2^31 (and each
// i32x4.dot_i16x8_s lane ≤ 2·128·32767); exact in i32.
//
// Same shape as q8_0.ts: four rows from the four quarters of [r0, r1) per matvec pass, four tokens per
// matmul pass, and `if (z == 0)` splitting each block's two 16-value halves (z = cols >> 31, always 0).
// The activations are already i16, so they are loaded as they are (two v128 per half) and only the
// weights are widened (v128.load8x8_s). matmul does the same lane-wise operations as matvec, so the
// two agree bit for bit.
import { Q8_0_BYTES, QK8_0 } from '../lib/blocks';
import { dot_i8x16 } from './q8_0';
import { Q16_0_BYTES } from './quantize16';
import { halves_f32_k } from './q4_0_x16';
import { gather_f32, gather_halves, halves_to_f32x4, reduce4_i32, row_ptr, store_lanes, store_quarters } from './simd';

/** acc + (Σ qw·qx)·dw·dx for one block of four weight rows and one q16_0 block at xb; lane i = row i. */
@inline function rows_block(acc: v128, p0: usize, p1: usize, p2: usize, p3: usize, xb: usize, z: i32): v128 {
  let x0 = v128.load(xb, 4), x1 = v128.load(xb, 20);
  let s0 = dot_i8x16(p0 + 2, x0, x1), s1 = dot_i8x16(p1 + 2, x0, x1);
  let s2 = dot_i8x16(p2 + 2, x0, x1), s3 = dot_i8x16(p3 + 2, x0, x1);
  if (z == 0) {
    x0 = v128.load(xb, 36);
    x1 = v128.load(xb, 52);
    s0 = i32x4.add(s0, dot_i8x16(p0 + 18, x0, x1));
    s1 = i32x4.add(s1, dot_i8x16(p1 + 18, x0, x1));
    s2 = i32x4.add(s2, dot_i8x16(p2 + 18, x0, x1));
    s3 = i32x4.add(s3, dot_i8x16(p3 + 18, x0, x1));
  }
  const scale = f32x4.mul(halves_to_f32x4(gather_halves(p0, p1, p2, p3)), v128.load32_splat(xb));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(reduce4_i32(s0, s1, s2, s3)), scale));
}

/** Σ w·x over 16 values: w0/w1 the weights as i16, the 16 i16 activations at xq. */
@inline export function dot_x16(w0: v128, w1: v128, xq: usize): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(w0, v128.load(xq)), i32x4.dot_i16x8_s(w1, v128.load(xq, 16)));
}

/**
 * acc + (Σ qw·qx)·dw·dx for one weight block at p and four q16_0 blocks at a0..a3; lane i = token i.
 * c1..c4: halves_f32_k's constants (see matmul_q8_0_x16).
 */
@inline function tokens_block(acc: v128, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, z: i32,
  c1: v128, c2: v128, c3: v128, c4: v128): v128 {
  let w0 = v128.load8x8_s(p, 2), w1 = v128.load8x8_s(p, 10);
  let s0 = dot_x16(w0, w1, a0 + 4), s1 = dot_x16(w0, w1, a1 + 4);
  let s2 = dot_x16(w0, w1, a2 + 4), s3 = dot_x16(w0, w1, a3 + 4);
  if (z == 0) {
    w0 = v128.load8x8_s(p, 18);
    w1 = v128.load8x8_s(p, 26);
    s0 = i32x4.add(s0, dot_x16(w0, w1, a0 + 36));
    s1 = i32x4.add(s1, dot_x16(w0, w1, a1 + 36));
    s2 = i32x4.add(s2, dot_x16(w0, w1, a2 + 36));
    s3 = i32x4.add(s3, dot_x16(w0, w1, a3 + 36));
  }
  const scale = f32x4.mul(halves_f32_k(v128.load16_splat(p), c1, c2, c3, c4), gather_f32(a0, a1, a2, a3));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(reduce4_i32(s0, s1, s2, s3)), scale));
}

/** matvec_q8_0_x16(w, x: q16_0*, y: f32*, cols, r0, r1). */
export function matvec_q8_0_x16(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
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
    for (let b = 0; b < nb; b++) {
      acc = rows_block(acc, p0, p1, p2, p3, xb, z);
      p0 += Q8_0_BYTES; p1 += Q8_0_BYTES; p2 += Q8_0_BYTES; p3 += Q8_0_BYTES;
      xb += Q16_0_BYTES;
    }
    store_quarters(y, r, q, r1, acc);
  }
}

/**
 * matmul_q8_0_x16(w, x: q16_0*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass; the code shape
 * of matmul_q4_0_x16 (token pointers advanced per block, the weight scale converted as a splat, the
 * constants computed once before the loop).
 */
export function matmul_q8_0_x16(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const nb = cols / QK8_0;
  const rowBytes = <usize>nb * Q8_0_BYTES, xBytes = <usize>nb * Q16_0_BYTES;
  const z = cols >> 31;
  const c1 = i32x4.splat(0x8fffe000 | z), c2 = i32x4.splat(0x77800000 | z);
  const c3 = i32x4.splat(0x0f800000 | z), c4 = i32x4.splat(0x7f800000 | z);
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const t0 = row_ptr(x, t, lastT, xBytes), t1 = row_ptr(x, t + 1, lastT, xBytes);
    const t2 = row_ptr(x, t + 2, lastT, xBytes), t3 = row_ptr(x, t + 3, lastT, xBytes);
    for (let r = r0; r < r1; r++) {
      let p = w + <usize>r * rowBytes;
      let a0 = t0, a1 = t1, a2 = t2, a3 = t3;
      let acc = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        acc = tokens_block(acc, p, a0, a1, a2, a3, z, c1, c2, c3, c4);
        p += Q8_0_BYTES;
        a0 += Q16_0_BYTES; a1 += Q16_0_BYTES; a2 += Q16_0_BYTES; a3 += Q16_0_BYTES;
      }
      if (z != 0) acc = v128.xor(v128.xor(acc, c1), v128.xor(v128.xor(c2, c3), c4));
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, acc);
    }
  }
}
