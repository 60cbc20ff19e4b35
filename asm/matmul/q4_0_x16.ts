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
import { Q4_0_BYTES, QK4_0 } from '../lib/blocks';
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

/** halves_f32 with its constants passed in (see matmul_q4_0_x16). */
@inline export function halves_f32_k(h: v128, c1: v128, c2: v128, c3: v128, c4: v128): v128 {
  const t = i32x4.shr_s(i32x4.shl(h, 16), 3);
  const v = f32x4.mul(v128.and(t, c1), c2);
  const special = i32x4.eq(v128.and(t, c3), c3);
  return v128.or(v, v128.and(special, c4));
}

/** Σ w·x over 16 values: wa/wb the weights as i16, the 16 i16 activations at xq + off. */
@inline function dot16(wa: v128, wb: v128, xq: usize, off: usize): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(wa, v128.load(xq + off)), i32x4.dot_i16x8_s(wb, v128.load(xq + off, 16)));
}

/**
 * acc + (Σ (q − 8)·qx)·dw·dx for one weight block at p and four q16_0 blocks at a0..a3; lane i = token i.
 * m, eight, c1..c4 are the constants, computed once per call (see matmul_q4_0_x16).
 */
@inline function tokens_block(acc: v128, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, z: i32,
  m: v128, eight: v128, c1: v128, c2: v128, c3: v128, c4: v128): v128 {
  const wa = v128.load8x8_u(p, 2), wb = v128.load8x8_u(p, 10);
  let la = i16x8.sub(v128.and(wa, m), eight), lb = i16x8.sub(v128.and(wb, m), eight);
  let s0 = dot16(la, lb, a0, 4), s1 = dot16(la, lb, a1, 4), s2 = dot16(la, lb, a2, 4), s3 = dot16(la, lb, a3, 4);
  if (z == 0) {
    la = i16x8.sub(i16x8.shr_u(wa, 4), eight);
    lb = i16x8.sub(i16x8.shr_u(wb, 4), eight);
    s0 = i32x4.add(s0, dot16(la, lb, a0, 36));
    s1 = i32x4.add(s1, dot16(la, lb, a1, 36));
    s2 = i32x4.add(s2, dot16(la, lb, a2, 36));
    s3 = i32x4.add(s3, dot16(la, lb, a3, 36));
  }
  const scale = f32x4.mul(halves_f32_k(v128.load16_splat(p), c1, c2, c3, c4), gather_f32(a0, a1, a2, a3));
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

/**
 * matmul_q4_0_x16(w, x: q16_0*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass.
 *
 * Code shape for V8 (measured, one thread, 16 tokens: +27% over the first version): the four token
 * pointers advance by one block per iteration (computed from t inside the loop, they were rebuilt with
 * a multiply and a select per block); the weight scale is converted as a splat by halves_f32 (not the
 * scalar f16_to_f32); and the vector constants are splats of `c | z` (z = 0 but opaque) that are also
 * used after the block loop (in a branch never taken), so TurboFan computes them once before the loop
 * and keeps them in registers or spill slots instead of rebuilding each one (three instructions) in
 * every iteration.
 */
export function matmul_q4_0_x16(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const nb = cols / QK4_0;
  const rowBytes = <usize>nb * Q4_0_BYTES, xBytes = <usize>nb * Q16_0_BYTES;
  const z = cols >> 31;
  const m = i16x8.splat(<i16>(0x0f | z)), eight = i16x8.splat(<i16>(8 | z));
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
        acc = tokens_block(acc, p, a0, a1, a2, a3, z, m, eight, c1, c2, c3, c4);
        p += Q4_0_BYTES;
        a0 += Q16_0_BYTES; a1 += Q16_0_BYTES; a2 += Q16_0_BYTES; a3 += Q16_0_BYTES;
      }
      if (z != 0) acc = v128.xor(v128.xor(v128.xor(acc, m), v128.xor(eight, c1)), v128.xor(v128.xor(c2, c3), c4));
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, acc);
    }
  }
}
