// q4_0 weights repacked four rows at a time ("q4_0r4"), with q16_0 activations. Same bytes as q4_0
// (18 per row per 32 values); rows come in groups of 4 and, per group and block index, one 72-byte
// group block:
//
//   [0, 8)    the four rows' f16 scales d (row i at 2·i)
//   [8, 72)   four 16-byte chunks L = 0..3; in chunk L, i16 lane j (bytes 2j, 2j+1) belongs to row
//             i = j >> 1 and holds, in its nibble s (bits 4s..4s+3), value 2k + (j & 1) of that row's
//             block, k = 4L + s, as the 4-bit two's complement of q − 8 (that is q ^ 8)
//
// so one chunk load gives, per nibble s, an i16x8 (rows 0..3 × value pair k) by a shift left and an
// arithmetic shift right (no mask, no −8), and i32x4.dot_i16x8_s against the activation pair k
// splatted to all four i32 lanes leaves row i's partial sum in lane i: no horizontal sum per block.
//
// Exactness: per block and row the integer Σ (q − 8)·qx is the same integer as q4_0_x16.ts computes
// (|Σ| ≤ 32·8·32767 ≈ 8.4e6, exact in i32), and the f32 steps are the same (acc + f32(s)·(dw·dx), blocks
// in order, acc from 0), so matvec_q4_0r4_x16 / matmul_q4_0r4_x16 equal matvec_q4_0_x16 bit for bit.
import { Q4_0_BYTES, QK4_0 } from '../lib/blocks';
import { Q16_0_BYTES } from './quantize16';
import { halves_f32_k } from './q4_0_x16';
import { row_ptr } from './simd';

/** Bytes of one group block: four rows' q4_0 blocks. */
const G_BYTES: i32 = 4 * Q4_0_BYTES;

/**
 * repack_q4_0_r4(src, dst, rows, cols): ggml q4_0 rows (rows a multiple of 4) into the q4_0r4 layout
 * above. src and dst must not overlap (the host repacks through a scratch buffer).
 */
export function repack_q4_0_r4(src: usize, dst: usize, rows: i32, cols: i32): void {
  const nb = cols / QK4_0;
  const rowBytes = <usize>nb * Q4_0_BYTES;
  for (let g = 0; g < rows; g += 4) {
    const s0 = src + <usize>g * rowBytes;
    const d0 = dst + <usize>g * rowBytes;
    for (let b = 0; b < nb; b++) {
      const p = s0 + <usize>b * Q4_0_BYTES;
      const o = d0 + <usize>b * G_BYTES;
      store<u16>(o, load<u16>(p));
      store<u16>(o, load<u16>(p + rowBytes), 2);
      store<u16>(o, load<u16>(p + 2 * rowBytes), 4);
      store<u16>(o, load<u16>(p + 3 * rowBytes), 6);
      const r0 = row_chunks(v128.load(p, 2)), r1 = row_chunks(v128.load(p + rowBytes, 2));
      const r2 = row_chunks(v128.load(p + 2 * rowBytes, 2)), r3 = row_chunks(v128.load(p + 3 * rowBytes, 2));
      // 4×4 transpose of 32-bit words: chunk L = word L of rows 0..3
      const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5), t1 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
      const t2 = i32x4.shuffle(r0, r1, 2, 6, 3, 7), t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
      v128.store(o, i64x2.shuffle(t0, t1, 0, 2), 8);
      v128.store(o, i64x2.shuffle(t0, t1, 1, 3), 24);
      v128.store(o, i64x2.shuffle(t2, t3, 0, 2), 40);
      v128.store(o, i64x2.shuffle(t2, t3, 1, 3), 56);
    }
  }
}

/**
 * One row's 16 quant bytes (one q4_0 block) -> its four 4-byte pieces of the chunks L = 0..3: word L
 * holds the lanes j = 2i, 2i + 1 (parity p = 0, 1) of chunk L, i16 (nibble s = value 2(4L + s) + p, xor 8).
 */
@inline function row_chunks(v: v128): v128 {
  const lo = v128.and(v, i8x16.splat(0x0f));
  const hi = v128.and(i16x8.shr_u(v, 4), i8x16.splat(0x0f));
  // values 8L + t, t = 2s + p: byte 0 of lane p takes s = 0, 1, byte 1 takes s = 2, 3
  const a = i8x16.shuffle(lo, hi, 0, 4, 1, 5, 8, 12, 9, 13, 16, 20, 17, 21, 24, 28, 25, 29);
  const c = i8x16.shuffle(lo, hi, 2, 6, 3, 7, 10, 14, 11, 15, 18, 22, 19, 23, 26, 30, 27, 31);
  return v128.xor(v128.or(a, i16x8.shl(c, 4)), i8x16.splat(<i8>0x88));
}

/** Σ over the 8 values (pairs k = 4L..4L+3) of one chunk: i32 lanes = rows. xp points at pair 4L of the q16 block. */
@inline function chunk_dot(c: v128, xp: usize): v128 {
  const a0 = i16x8.shr_s(i16x8.shl(c, 12), 12);
  const a1 = i16x8.shr_s(i16x8.shl(c, 8), 12);
  const a2 = i16x8.shr_s(i16x8.shl(c, 4), 12);
  const a3 = i16x8.shr_s(c, 12);
  const d01 = i32x4.add(i32x4.dot_i16x8_s(a0, v128.load32_splat(xp)), i32x4.dot_i16x8_s(a1, v128.load32_splat(xp, 4)));
  const d23 = i32x4.add(i32x4.dot_i16x8_s(a2, v128.load32_splat(xp, 8)), i32x4.dot_i16x8_s(a3, v128.load32_splat(xp, 12)));
  return i32x4.add(d01, d23);
}

/** acc + (Σ (q − 8)·qx)·dw·dx for one group block at p and the q16_0 block at xb; lane i = row i of the group. */
@inline function group_block(acc: v128, p: usize, xb: usize, z: i32, c1: v128, c2: v128, c3: v128, c4: v128): v128 {
  let s = chunk_dot(v128.load(p, 8), xb + 4);
  if (z == 0) s = i32x4.add(s, chunk_dot(v128.load(p, 24), xb + 20));
  if (z == 0) s = i32x4.add(s, chunk_dot(v128.load(p, 40), xb + 36));
  if (z == 0) s = i32x4.add(s, chunk_dot(v128.load(p, 56), xb + 52));
  const scale = f32x4.mul(halves_f32_k(v128.load16x4_u(p), c1, c2, c3, c4), v128.load32_splat(xb));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(s), scale));
}

/** matvec_q4_0r4_x16(w, x: q16_0*, y: f32*, cols, r0, r1): w in q4_0r4, r0 and r1 multiples of 4. */
export function matvec_q4_0r4_x16(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const nb = cols / QK4_0;
  const rowBytes = <usize>nb * Q4_0_BYTES;
  const z = cols >> 31;
  // the f16 constants as splats of c | z, also used after the loops (a branch never taken): TurboFan then
  // computes them once instead of rebuilding each (three instructions) in every block (see q4_0_x16.ts)
  const c1 = i32x4.splat(0x8fffe000 | z), c2 = i32x4.splat(0x77800000 | z);
  const c3 = i32x4.splat(0x0f800000 | z), c4 = i32x4.splat(0x7f800000 | z);
  for (let r = r0; r < r1; r += 4) {
    let p = w + <usize>r * rowBytes;
    let xb = x;
    let acc = f32x4.splat(0);
    for (let b = 0; b < nb; b++) {
      acc = group_block(acc, p, xb, z, c1, c2, c3, c4);
      p += G_BYTES;
      xb += Q16_0_BYTES;
    }
    if (z != 0) acc = v128.xor(v128.xor(acc, c1), v128.xor(v128.xor(c2, c3), c4));
    v128.store(y + (<usize>r << 2), acc);
  }
}

/** Σ over one chunk's 8 values for one token: n0..n3 the chunk's nibble vectors, xp the token's pair 4L. */
@inline function tok_dot(n0: v128, n1: v128, n2: v128, n3: v128, xp: usize): v128 {
  const d01 = i32x4.add(i32x4.dot_i16x8_s(n0, v128.load32_splat(xp)), i32x4.dot_i16x8_s(n1, v128.load32_splat(xp, 4)));
  const d23 = i32x4.add(i32x4.dot_i16x8_s(n2, v128.load32_splat(xp, 8)), i32x4.dot_i16x8_s(n3, v128.load32_splat(xp, 12)));
  return i32x4.add(d01, d23);
}

/**
 * matmul_q4_0r4_x16(w, x: q16_0*, y: f32*, cols, rows, nTok, r0, r1): w in q4_0r4, r0 and r1 multiples
 * of 4; y[t·rows + r]. Four tokens per pass over a row group: each chunk is unpacked once for the four.
 * Each token's integer block sums and f32 steps are matvec's, so the results are equal bit for bit.
 */
export function matmul_q4_0r4_x16(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const nb = cols / QK4_0;
  const rowBytes = <usize>nb * Q4_0_BYTES, xBytes = <usize>nb * Q16_0_BYTES;
  const z = cols >> 31;
  const c1 = i32x4.splat(0x8fffe000 | z), c2 = i32x4.splat(0x77800000 | z);
  const c3 = i32x4.splat(0x0f800000 | z), c4 = i32x4.splat(0x7f800000 | z);
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const t0 = row_ptr(x, t, lastT, xBytes), t1 = row_ptr(x, t + 1, lastT, xBytes);
    const t2 = row_ptr(x, t + 2, lastT, xBytes), t3 = row_ptr(x, t + 3, lastT, xBytes);
    for (let r = r0; r < r1; r += 4) {
      let p = w + <usize>r * rowBytes;
      let a0 = t0, a1 = t1, a2 = t2, a3 = t3;
      let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0), acc2 = f32x4.splat(0), acc3 = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        let c = v128.load(p, 8);
        let n0 = i16x8.shr_s(i16x8.shl(c, 12), 12), n1 = i16x8.shr_s(i16x8.shl(c, 8), 12);
        let n2 = i16x8.shr_s(i16x8.shl(c, 4), 12), n3 = i16x8.shr_s(c, 12);
        let s0 = tok_dot(n0, n1, n2, n3, a0 + 4), s1 = tok_dot(n0, n1, n2, n3, a1 + 4);
        let s2 = s0, s3 = s1;
        if (z == 0) {
          s2 = tok_dot(n0, n1, n2, n3, a2 + 4);
          s3 = tok_dot(n0, n1, n2, n3, a3 + 4);
        }
        for (let L: usize = 1; L < 4; L++) {
          if (z == 0) {
            c = v128.load(p + (L << 4), 8);
            n0 = i16x8.shr_s(i16x8.shl(c, 12), 12); n1 = i16x8.shr_s(i16x8.shl(c, 8), 12);
            n2 = i16x8.shr_s(i16x8.shl(c, 4), 12); n3 = i16x8.shr_s(c, 12);
            s0 = i32x4.add(s0, tok_dot(n0, n1, n2, n3, a0 + 4 + (L << 4)));
            s1 = i32x4.add(s1, tok_dot(n0, n1, n2, n3, a1 + 4 + (L << 4)));
          }
          if (z == 0) {
            s2 = i32x4.add(s2, tok_dot(n0, n1, n2, n3, a2 + 4 + (L << 4)));
            s3 = i32x4.add(s3, tok_dot(n0, n1, n2, n3, a3 + 4 + (L << 4)));
          }
        }
        const hw = halves_f32_k(v128.load16x4_u(p), c1, c2, c3, c4);
        acc0 = f32x4.add(acc0, f32x4.mul(f32x4.convert_i32x4_s(s0), f32x4.mul(hw, v128.load32_splat(a0))));
        acc1 = f32x4.add(acc1, f32x4.mul(f32x4.convert_i32x4_s(s1), f32x4.mul(hw, v128.load32_splat(a1))));
        acc2 = f32x4.add(acc2, f32x4.mul(f32x4.convert_i32x4_s(s2), f32x4.mul(hw, v128.load32_splat(a2))));
        acc3 = f32x4.add(acc3, f32x4.mul(f32x4.convert_i32x4_s(s3), f32x4.mul(hw, v128.load32_splat(a3))));
        p += G_BYTES;
        a0 += Q16_0_BYTES; a1 += Q16_0_BYTES; a2 += Q16_0_BYTES; a3 += Q16_0_BYTES;
      }
      if (z != 0) acc0 = v128.xor(v128.xor(acc0, c1), v128.xor(v128.xor(c2, c3), c4));
      const o = y + ((<usize>t * rows + r) << 2), step = <usize>rows << 2;
      v128.store(o, acc0);
      if (t + 1 < nTok) v128.store(o + step, acc1);
      if (t + 2 < nTok) v128.store(o + 2 * step, acc2);
      if (t + 3 < nTok) v128.store(o + 3 * step, acc3);
    }
  }
}
