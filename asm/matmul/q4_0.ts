// q4_0 weights (blocks { f16 d; u8 qs[16] }: value j < 16 is the low nibble of qs[j], j + 16 the high
// one, minus 8) with q8_0 activations, as ggml_vec_dot_q4_0_q8_0: per block the integer
// Σ (q − 8)·qx, times dw·dx, summed over blocks in f32.
//
// Same shape as q8_0.ts (quarters, four rows or four tokens per pass, a branch between the two
// 16-value halves of a block, dx or dw converted four blocks at a time). The nibbles are widened to
// u16 lanes by v128.load8x8_u and split with an AND (first half: values 0-15) or a shift (second
// half: 16-31). matvec takes the −8 out once per activation block as 8·Σqx, shared by the four rows;
// matmul subtracts 8 from the weights it unpacks once for four tokens. The integer sums are equal.
import { f16_to_f32 } from '../lib/f16';
import { Q4_0_BYTES, Q8_0_BYTES, QK4_0 } from '../lib/blocks';
import { dot_i8x16, lane } from './q8_0';
import { gather_halves, halves_to_f32x4, reduce4_i32, row_ptr, store_lanes, store_quarters } from './simd';

/** Σ q·v over the low (shift 0) or high (shift 4) nibbles of the 16 bytes at p, v0/v1 = the matching 16 values as i16. */
@inline export function dot_nibbles(p: usize, shift: i32, v0: v128, v1: v128): v128 {
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
@inline function rows_block(acc: v128, p0: usize, p1: usize, p2: usize, p3: usize, xb: usize, dx: v128, z: i32): v128 {
  const eight = i16x8.splat(8);
  let x0 = v128.load8x8_s(xb, 2), x1 = v128.load8x8_s(xb, 10);
  let e = i32x4.dot_i16x8_s(i16x8.add(x0, x1), eight);
  let s0 = dot_nibbles(p0 + 2, 0, x0, x1), s1 = dot_nibbles(p1 + 2, 0, x0, x1);
  let s2 = dot_nibbles(p2 + 2, 0, x0, x1), s3 = dot_nibbles(p3 + 2, 0, x0, x1);
  if (z == 0) {
    x0 = v128.load8x8_s(xb, 18);
    x1 = v128.load8x8_s(xb, 26);
    e = i32x4.add(e, i32x4.dot_i16x8_s(i16x8.add(x0, x1), eight));
    s0 = i32x4.add(s0, dot_nibbles(p0 + 2, 4, x0, x1));
    s1 = i32x4.add(s1, dot_nibbles(p1 + 2, 4, x0, x1));
    s2 = i32x4.add(s2, dot_nibbles(p2 + 2, 4, x0, x1));
    s3 = i32x4.add(s3, dot_nibbles(p3 + 2, 4, x0, x1));
  }
  const s = reduce4_i32(i32x4.sub(s0, e), i32x4.sub(s1, e), i32x4.sub(s2, e), i32x4.sub(s3, e));
  const scale = f32x4.mul(halves_to_f32x4(gather_halves(p0, p1, p2, p3)), dx);
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(s), scale));
}

/** The 16 nibbles (shift 0: low, 4: high) of the 16 bytes at p minus 8, as two i16 vectors a (bytes 0-7), b (8-15). */
@inline export function nibbles_a(p: usize, shift: i32): v128 {
  const v = v128.load8x8_u(p);
  return i16x8.sub(shift == 0 ? v128.and(v, i16x8.splat(0x0f)) : i16x8.shr_u(v, 4), i16x8.splat(8));
}
@inline export function nibbles_b(p: usize, shift: i32): v128 {
  const v = v128.load8x8_u(p, 8);
  return i16x8.sub(shift == 0 ? v128.and(v, i16x8.splat(0x0f)) : i16x8.shr_u(v, 4), i16x8.splat(8));
}

/** acc + (Σ (q − 8)·qx)·dw·dx for one weight block and four activation blocks; lane i = token i. */
@inline function tokens_block(acc: v128, p: usize, x0: usize, x1: usize, x2: usize, x3: usize, dw: v128, z: i32): v128 {
  let wa = nibbles_a(p + 2, 0), wb = nibbles_b(p + 2, 0);
  let s0 = dot_i8x16(x0 + 2, wa, wb), s1 = dot_i8x16(x1 + 2, wa, wb);
  let s2 = dot_i8x16(x2 + 2, wa, wb), s3 = dot_i8x16(x3 + 2, wa, wb);
  if (z == 0) {
    wa = nibbles_a(p + 2, 4);
    wb = nibbles_b(p + 2, 4);
    s0 = i32x4.add(s0, dot_i8x16(x0 + 18, wa, wb));
    s1 = i32x4.add(s1, dot_i8x16(x1 + 18, wa, wb));
    s2 = i32x4.add(s2, dot_i8x16(x2 + 18, wa, wb));
    s3 = i32x4.add(s3, dot_i8x16(x3 + 18, wa, wb));
  }
  const scale = f32x4.mul(dw, halves_to_f32x4(gather_halves(x0, x1, x2, x3)));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(reduce4_i32(s0, s1, s2, s3)), scale));
}

/** matvec_q4_0(w, x: q8_0*, y: f32*, cols, r0, r1). */
export function matvec_q4_0(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const nb = cols / QK4_0;
  const rowBytes = <usize>nb * Q4_0_BYTES;
  const z = cols >> 31;
  const q = (r1 - r0 + 3) >> 2;
  const last = r1 - 1;
  for (let i = 0; i < q; i++) {
    const r = r0 + i;
    let p0 = row_ptr(w, r, last, rowBytes), p1 = row_ptr(w, r + q, last, rowBytes);
    let p2 = row_ptr(w, r + 2 * q, last, rowBytes), p3 = row_ptr(w, r + 3 * q, last, rowBytes);
    let xb = x;
    let acc = f32x4.splat(0);
    let b = 0;
    for (; b + 4 <= nb; b += 4) {
      const dx = halves_to_f32x4(gather_halves(xb, xb + 34, xb + 68, xb + 102));
      acc = rows_block(acc, p0, p1, p2, p3, xb, lane(dx, 0), z);
      acc = rows_block(acc, p0 + 18, p1 + 18, p2 + 18, p3 + 18, xb + 34, lane(dx, 1), z);
      acc = rows_block(acc, p0 + 36, p1 + 36, p2 + 36, p3 + 36, xb + 68, lane(dx, 2), z);
      acc = rows_block(acc, p0 + 54, p1 + 54, p2 + 54, p3 + 54, xb + 102, lane(dx, 3), z);
      p0 += 72; p1 += 72; p2 += 72; p3 += 72;
      xb += 136;
    }
    for (; b < nb; b++) {
      acc = rows_block(acc, p0, p1, p2, p3, xb, f32x4.splat(f16_to_f32(load<u16>(xb))), z);
      p0 += Q4_0_BYTES; p1 += Q4_0_BYTES; p2 += Q4_0_BYTES; p3 += Q4_0_BYTES;
      xb += Q8_0_BYTES;
    }
    store_quarters(y, r, q, r1, acc);
  }
}

/** matmul_q4_0(w, x: q8_0*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q4_0(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const nb = cols / QK4_0;
  const rowBytes = <usize>nb * Q4_0_BYTES, xBytes = <usize>nb * Q8_0_BYTES;
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
        const dw = halves_to_f32x4(gather_halves(p, p + 18, p + 36, p + 54));
        acc = tokens_block(acc, p, t0 + off, t1 + off, t2 + off, t3 + off, lane(dw, 0), z);
        acc = tokens_block(acc, p + 18, t0 + off + 34, t1 + off + 34, t2 + off + 34, t3 + off + 34, lane(dw, 1), z);
        acc = tokens_block(acc, p + 36, t0 + off + 68, t1 + off + 68, t2 + off + 68, t3 + off + 68, lane(dw, 2), z);
        acc = tokens_block(acc, p + 54, t0 + off + 102, t1 + off + 102, t2 + off + 102, t3 + off + 102, lane(dw, 3), z);
        p += 72;
        off += 136;
      }
      for (; b < nb; b++) {
        acc = tokens_block(acc, p, t0 + off, t1 + off, t2 + off, t3 + off, f32x4.splat(f16_to_f32(load<u16>(p))), z);
        p += Q4_0_BYTES;
        off += Q8_0_BYTES;
      }
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, acc);
    }
  }
}

/** get_row_q4_0(w, out: f32*, cols, row): (q − 8)·d per value, as ggml's dequantize_row_q4_0. */
export function get_row_q4_0(w: usize, out: usize, cols: i32, row: i32): void {
  const nb = cols / QK4_0;
  let p = w + <usize>row * <usize>nb * Q4_0_BYTES;
  let o = out;
  for (let b = 0; b < nb; b++) {
    const d = f32x4.splat(f16_to_f32(load<u16>(p)));
    store8(o, nibbles_a(p + 2, 0), d);
    store8(o + 32, nibbles_b(p + 2, 0), d);
    store8(o + 64, nibbles_a(p + 2, 4), d);
    store8(o + 96, nibbles_b(p + 2, 4), d);
    p += Q4_0_BYTES;
    o += 128;
  }
}

/** Eight i16 values times d, stored as eight floats at o. */
@inline function store8(o: usize, q: v128, d: v128): void {
  v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(q)), d));
  v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(q)), d), 16);
}
