// q4_0 weights with q16_0 activations: per block the integer Σ (q − 8)·qx, times dw·dx, summed over
// blocks in f32 — the q4_0 path (q4_0.ts) with 16-bit activations. Overflow: 0 ≤ q ≤ 15, |qx| ≤ 32767,
// so |Σ q·qx| ≤ 32·15·32767 ≈ 1.6e7 and |8·Σ qx| ≤ 8·32·32767 ≈ 8.4e6 per block: exact in i32.
//
// Same shape as q4_0.ts. matvec takes the −8 out once per activation block for the four rows as
// Σ 8·qx, computed with i32x4.dot_i16x8_s against splat(8) (q4_0.ts adds the two i16 halves first,
// which would overflow i16 here); matmul subtracts 8 from the nibbles it unpacks once for four tokens.
// The integer sums are equal, and the f32 operations are the same, so matmul equals matvec exactly.
//
// matvec code shape for V8 (measured, one thread): each row's 16 quant bytes are one v128.load (not
// four load8x8_u), the low nibbles masked as bytes before widening, so only four weight vectors stay
// live across the `if (z == 0)` split; two blocks per loop iteration (one block per iteration, or four,
// are ~12% slower: TurboFan then spills more and rebuilds the constants inside the loop); the f16
// infinity/NaN test on the integer exponent bits. ~+13% over one load8x8_u pair per half.
import { f16_to_f32 } from '../lib/f16';
import { Q4_0_BYTES, QK4_0 } from '../lib/blocks';
import { nibbles_a, nibbles_b } from './q4_0';
import { dot_x16 } from './q8_0_x16';
import { Q16_0_BYTES } from './quantize16';
import { gather_f32, gather_halves, reduce4_i32, row_ptr, store_lanes, store_quarters } from './simd';

/**
 * halves_to_f32x4 (simd.ts) with the infinity/NaN test done on the integer bits (exponent field all
 * ones: 2 ops instead of abs and a float compare); the same exact conversion.
 */
@inline function halves_f32(h: v128): v128 {
  const t = i32x4.shr_s(i32x4.shl(h, 16), 3);
  const v = f32x4.mul(v128.and(t, i32x4.splat(0x8fffe000)), f32x4.splat(reinterpret<f32>(0x77800000)));
  const special = i32x4.eq(v128.and(t, i32x4.splat(0x0f800000)), i32x4.splat(0x0f800000));
  return v128.or(v, v128.and(special, i32x4.splat(0x7f800000)));
}

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
@inline function rows_block(acc: v128, p0: usize, p1: usize, p2: usize, p3: usize, xb: usize, z: i32): v128 {
  const eight = i16x8.splat(8);
  let x0 = v128.load(xb, 4), x1 = v128.load(xb, 20);
  const w0 = v128.load(p0, 2), w1 = v128.load(p1, 2), w2 = v128.load(p2, 2), w3 = v128.load(p3, 2);
  let e = i32x4.add(i32x4.dot_i16x8_s(x0, eight), i32x4.dot_i16x8_s(x1, eight));
  let s0 = dot_nib16(w0, 0, x0, x1), s1 = dot_nib16(w1, 0, x0, x1);
  let s2 = dot_nib16(w2, 0, x0, x1), s3 = dot_nib16(w3, 0, x0, x1);
  if (z == 0) {
    x0 = v128.load(xb, 36);
    x1 = v128.load(xb, 52);
    e = i32x4.add(e, i32x4.add(i32x4.dot_i16x8_s(x0, eight), i32x4.dot_i16x8_s(x1, eight)));
    s0 = i32x4.add(s0, dot_nib16(w0, 4, x0, x1));
    s1 = i32x4.add(s1, dot_nib16(w1, 4, x0, x1));
    s2 = i32x4.add(s2, dot_nib16(w2, 4, x0, x1));
    s3 = i32x4.add(s3, dot_nib16(w3, 4, x0, x1));
  }
  const s = reduce4_i32(i32x4.sub(s0, e), i32x4.sub(s1, e), i32x4.sub(s2, e), i32x4.sub(s3, e));
  const scale = f32x4.mul(halves_f32(gather_halves(p0, p1, p2, p3)), v128.load32_splat(xb));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(s), scale));
}

/** acc + (Σ (q − 8)·qx)·dw·dx for one weight block and four q16_0 blocks; lane i = token i. */
@inline function tokens_block(acc: v128, p: usize, x0: usize, x1: usize, x2: usize, x3: usize, z: i32): v128 {
  let wa = nibbles_a(p + 2, 0), wb = nibbles_b(p + 2, 0);
  let s0 = dot_x16(wa, wb, x0 + 4), s1 = dot_x16(wa, wb, x1 + 4);
  let s2 = dot_x16(wa, wb, x2 + 4), s3 = dot_x16(wa, wb, x3 + 4);
  if (z == 0) {
    wa = nibbles_a(p + 2, 4);
    wb = nibbles_b(p + 2, 4);
    s0 = i32x4.add(s0, dot_x16(wa, wb, x0 + 36));
    s1 = i32x4.add(s1, dot_x16(wa, wb, x1 + 36));
    s2 = i32x4.add(s2, dot_x16(wa, wb, x2 + 36));
    s3 = i32x4.add(s3, dot_x16(wa, wb, x3 + 36));
  }
  const scale = f32x4.mul(f32x4.splat(f16_to_f32(load<u16>(p))), gather_f32(x0, x1, x2, x3));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(reduce4_i32(s0, s1, s2, s3)), scale));
}

/** matvec_q4_0_x16(w, x: q16_0*, y: f32*, cols, r0, r1). */
export function matvec_q4_0_x16(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
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
    for (; b + 2 <= nb; b += 2) {
      acc = rows_block(acc, p0, p1, p2, p3, xb, z);
      acc = rows_block(acc, p0 + Q4_0_BYTES, p1 + Q4_0_BYTES, p2 + Q4_0_BYTES, p3 + Q4_0_BYTES, xb + Q16_0_BYTES, z);
      p0 += 2 * Q4_0_BYTES; p1 += 2 * Q4_0_BYTES; p2 += 2 * Q4_0_BYTES; p3 += 2 * Q4_0_BYTES;
      xb += 2 * Q16_0_BYTES;
    }
    if (b < nb) acc = rows_block(acc, p0, p1, p2, p3, xb, z);
    store_quarters(y, r, q, r1, acc);
  }
}

/** matmul_q4_0_x16(w, x: q16_0*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q4_0_x16(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const nb = cols / QK4_0;
  const rowBytes = <usize>nb * Q4_0_BYTES, xBytes = <usize>nb * Q16_0_BYTES;
  const z = cols >> 31;
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const t0 = row_ptr(x, t, lastT, xBytes), t1 = row_ptr(x, t + 1, lastT, xBytes);
    const t2 = row_ptr(x, t + 2, lastT, xBytes), t3 = row_ptr(x, t + 3, lastT, xBytes);
    for (let r = r0; r < r1; r++) {
      let p = w + <usize>r * rowBytes;
      let off: usize = 0;
      let acc = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        acc = tokens_block(acc, p, t0 + off, t1 + off, t2 + off, t3 + off, z);
        p += Q4_0_BYTES;
        off += Q16_0_BYTES;
      }
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, acc);
    }
  }
}
