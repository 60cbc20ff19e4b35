// q4_0 weights repacked eight rows at a time ("q4_0r8"), with q16_0s activations (q16_0 plus each
// block's 8·Σq, quantize16.ts). Same bytes as q4_0 (18 per row per 32 values). Rows come in groups of
// 8 and, per group and block index, one 144-byte block: two 72-byte halves, rows 0..3 then rows 4..7,
// each laid out as
//
//   [0, 8)    the four rows' f16 scales d (row i at 2·i)
//   [8, 72)   four 16-byte chunks L = 0..3; in chunk L, i16 lane j (bytes 2j, 2j+1) belongs to row
//             i = j >> 1 and holds, in its nibble s (bits 4s..4s+3), the quant q (0..15, as stored by
//             ggml) of value 2k + (j & 1) of that row's block, k = 4L + s
//
// so one chunk load gives, per nibble s, an i16x8 (rows 0..3 × value pair k), and i32x4.dot_i16x8_s
// against the activation pair k splatted to all four i32 lanes leaves row i's partial sum in lane i:
// no horizontal sum per block, and one splat serves both halves (8 rows). The nibbles come out with
// masks, not shifts (on x86 the shifts and the dot products share two ports; masks run on three):
// nibbles 0 and 2 as q (c & 0xf, (c >> 8) & 0xf), nibbles 1 and 3 as 16·q (c & 0xf0, (c >> 8) & 0xf0)
// into a second sum taken >> 4 once per block (exact: 16 times an integer). The −8 of q4_0 comes off
// once per block as the activation's precomputed 8·Σqx. The scales are converted in three operations
// (lib/f16.ts's finite form): the host repacks only matrices whose scales are all finite.
//
// Measured (an A/B of the two kernels in one process, one thread, AMD EPYC; `wisp bench kernels` gives
// the q4_0r8 row): the two halves must share one stream —
// eight rows read as two 4-row streams ran 18% slower than four rows when the matrix came from DRAM.
//
// Exactness: per block and row the integer Σ q·qx − 8·Σ qx is the same integer as act_q16_0.ts's
// Σ (q − 8)·qx (the ×16 sum covers 16 values per row: |16·Σ q·qx| ≤ 16·16·15·32767 ≈ 1.3e8, exact in i32), and the f32 steps are the same
// (acc + f32(s)·(dw·dx), blocks in order, acc from 0), so matvec_q4_0r8_x16s / matmul_q4_0r8_x16s
// equal matvec_q4_0_x16 bit for bit.
import { Q16_0S_BYTES, Q16_0S_SUM, Q4_0_BLOCK, Q4_0_BYTES, Q4_0R8_BYTES, Q4_0R8_HALF } from '../lib/blocks';
import { F16_K112, F16_MS, finite_halves_s_to_f32x4_k } from '../lib/f16';
import { row_ptr } from '../lib/simd';

/**
 * repack_q4_0_r8(src, dst, rows, cols): ggml q4_0 rows (rows a multiple of 8) into the q4_0r8 layout
 * above. src and dst must not overlap (the host repacks through a scratch buffer).
 */
export function repack_q4_0_r8(src: usize, dst: usize, rows: i32, cols: i32): void {
  const nb = cols / Q4_0_BLOCK;
  const rowBytes = <usize>nb * Q4_0_BYTES;
  for (let g = 0; g < rows; g += 8) {
    const s0 = src + <usize>g * rowBytes;
    const d0 = dst + <usize>g * rowBytes;
    for (let b = 0; b < nb; b++) {
      const p = s0 + <usize>b * Q4_0_BYTES;
      const o = d0 + <usize>b * Q4_0R8_BYTES;
      write_half(p, rowBytes, o);
      write_half(p + 4 * rowBytes, rowBytes, o + Q4_0R8_HALF);
    }
  }
}

/** Rows p, p + rowBytes, .. (four q4_0 blocks) into one 72-byte half block at o. */
@inline function write_half(p: usize, rowBytes: usize, o: usize): void {
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

/**
 * One row's 16 quant bytes (one q4_0 block) -> its four 4-byte pieces of the chunks L = 0..3: word L
 * holds the lanes j = 2i, 2i + 1 (parity p = 0, 1) of chunk L, i16 (nibble s = value 2(4L + s) + p).
 */
@inline function row_chunks(v: v128): v128 {
  const lo = v128.and(v, i8x16.splat(0x0f));
  const hi = v128.and(i16x8.shr_u(v, 4), i8x16.splat(0x0f));
  // values 8L + t, t = 2s + p: byte 0 of lane p takes s = 0, 1, byte 1 takes s = 2, 3
  const a = i8x16.shuffle(lo, hi, 0, 4, 1, 5, 8, 12, 9, 13, 16, 20, 17, 21, 24, 28, 25, 29);
  const c = i8x16.shuffle(lo, hi, 2, 6, 3, 7, 10, 14, 11, 15, 18, 22, 19, 23, 26, 30, 27, 31);
  return v128.or(a, i16x8.shl(c, 4));
}

/** acc + s·dw·dx: s a half block's integer sums, p the half block (its scales), xb the q16_0s block. */
@inline function half_acc(acc: v128, s: v128, p: usize, xb: usize, ms: v128, k112: v128): v128 {
  const scale = f32x4.mul(finite_halves_s_to_f32x4_k(v128.load16x4_s(p), ms, k112), v128.load32_splat(xb));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(s), scale));
}

/**
 * matvec_q4_0r8_x16s(w, x: q16_0s*, y: f32*, cols, r0, r1): w in q4_0r8, r0 and r1 multiples of 8.
 * Per block, each activation pair is splatted once for the eight rows.
 */
export function matvec_q4_0r8_x16s(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_q4_0r8(w, x, y, cols, r0, r1, Q16_0S_BYTES);
}

/**
 * The matvec driver over activation blocks `xs` bytes apart that begin as q16_0s's do: f32 d at 0, i16
 * q[32] at 4, i32 e = 8·Σq at 68 (q16_0s, and ggml's 8-bit values in q8_0s: asm/matmul/q4_0r8_x8s.ts).
 */
@inline export function matvec_q4_0r8(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32, xs: usize): void {
  const nb = cols / Q4_0_BLOCK;
  const rowBytes = <usize>nb * Q4_0_BYTES;
  const z = cols >> 31;
  // the constants as splats of c | z, also used after the loops (a branch never taken): TurboFan then
  // computes them once instead of rebuilding each (three instructions) in every block (see act_q16_0.ts)
  const m1 = i16x8.splat(<i16>(0x000f | z)), m16 = i16x8.splat(<i16>(0x00f0 | z));
  const ms = i32x4.splat(F16_MS | z), k112 = i32x4.splat(F16_K112 | z);
  for (let r = r0; r < r1; r += 8) {
    let p = w + <usize>r * rowBytes;
    let xb = x;
    let accA = f32x4.splat(0), accB = f32x4.splat(0);
    for (let b = 0; b < nb; b++) {
      // sums of rows 0..3 (A) and 4..7 (B): s1 over nibbles 0 and 2, s16 over nibbles 1 and 3 (×16)
      let sA1 = i32x4.splat(0), sA16 = i32x4.splat(0), sB1 = i32x4.splat(0), sB16 = i32x4.splat(0);
      {
        const cA = v128.load(p, 8), cB = v128.load(p, 80);
        const hA = i16x8.shr_u(cA, 8), hB = i16x8.shr_u(cB, 8);
        let xv = v128.load32_splat(xb, 4);
        sA1 = i32x4.add(sA1, i32x4.dot_i16x8_s(v128.and(cA, m1), xv));
        sB1 = i32x4.add(sB1, i32x4.dot_i16x8_s(v128.and(cB, m1), xv));
        xv = v128.load32_splat(xb, 12);
        sA1 = i32x4.add(sA1, i32x4.dot_i16x8_s(v128.and(hA, m1), xv));
        sB1 = i32x4.add(sB1, i32x4.dot_i16x8_s(v128.and(hB, m1), xv));
        xv = v128.load32_splat(xb, 8);
        sA16 = i32x4.add(sA16, i32x4.dot_i16x8_s(v128.and(cA, m16), xv));
        sB16 = i32x4.add(sB16, i32x4.dot_i16x8_s(v128.and(cB, m16), xv));
        xv = v128.load32_splat(xb, 16);
        sA16 = i32x4.add(sA16, i32x4.dot_i16x8_s(v128.and(hA, m16), xv));
        sB16 = i32x4.add(sB16, i32x4.dot_i16x8_s(v128.and(hB, m16), xv));
      }
      // chunks 1..3, each behind an opaque `if (z == 0)` that keeps V8 from hoisting all the loads
      // of the block ahead of the arithmetic (which spills: see asm/matmul.ts)
      if (z == 0) {
        const cA = v128.load(p, 24), cB = v128.load(p, 96);
        const hA = i16x8.shr_u(cA, 8), hB = i16x8.shr_u(cB, 8);
        let xv = v128.load32_splat(xb, 20);
        sA1 = i32x4.add(sA1, i32x4.dot_i16x8_s(v128.and(cA, m1), xv));
        sB1 = i32x4.add(sB1, i32x4.dot_i16x8_s(v128.and(cB, m1), xv));
        xv = v128.load32_splat(xb, 28);
        sA1 = i32x4.add(sA1, i32x4.dot_i16x8_s(v128.and(hA, m1), xv));
        sB1 = i32x4.add(sB1, i32x4.dot_i16x8_s(v128.and(hB, m1), xv));
        xv = v128.load32_splat(xb, 24);
        sA16 = i32x4.add(sA16, i32x4.dot_i16x8_s(v128.and(cA, m16), xv));
        sB16 = i32x4.add(sB16, i32x4.dot_i16x8_s(v128.and(cB, m16), xv));
        xv = v128.load32_splat(xb, 32);
        sA16 = i32x4.add(sA16, i32x4.dot_i16x8_s(v128.and(hA, m16), xv));
        sB16 = i32x4.add(sB16, i32x4.dot_i16x8_s(v128.and(hB, m16), xv));
      }
      if (z == 0) {
        const cA = v128.load(p, 40), cB = v128.load(p, 112);
        const hA = i16x8.shr_u(cA, 8), hB = i16x8.shr_u(cB, 8);
        let xv = v128.load32_splat(xb, 36);
        sA1 = i32x4.add(sA1, i32x4.dot_i16x8_s(v128.and(cA, m1), xv));
        sB1 = i32x4.add(sB1, i32x4.dot_i16x8_s(v128.and(cB, m1), xv));
        xv = v128.load32_splat(xb, 44);
        sA1 = i32x4.add(sA1, i32x4.dot_i16x8_s(v128.and(hA, m1), xv));
        sB1 = i32x4.add(sB1, i32x4.dot_i16x8_s(v128.and(hB, m1), xv));
        xv = v128.load32_splat(xb, 40);
        sA16 = i32x4.add(sA16, i32x4.dot_i16x8_s(v128.and(cA, m16), xv));
        sB16 = i32x4.add(sB16, i32x4.dot_i16x8_s(v128.and(cB, m16), xv));
        xv = v128.load32_splat(xb, 48);
        sA16 = i32x4.add(sA16, i32x4.dot_i16x8_s(v128.and(hA, m16), xv));
        sB16 = i32x4.add(sB16, i32x4.dot_i16x8_s(v128.and(hB, m16), xv));
      }
      if (z == 0) {
        const cA = v128.load(p, 56), cB = v128.load(p, 128);
        const hA = i16x8.shr_u(cA, 8), hB = i16x8.shr_u(cB, 8);
        let xv = v128.load32_splat(xb, 52);
        sA1 = i32x4.add(sA1, i32x4.dot_i16x8_s(v128.and(cA, m1), xv));
        sB1 = i32x4.add(sB1, i32x4.dot_i16x8_s(v128.and(cB, m1), xv));
        xv = v128.load32_splat(xb, 60);
        sA1 = i32x4.add(sA1, i32x4.dot_i16x8_s(v128.and(hA, m1), xv));
        sB1 = i32x4.add(sB1, i32x4.dot_i16x8_s(v128.and(hB, m1), xv));
        xv = v128.load32_splat(xb, 56);
        sA16 = i32x4.add(sA16, i32x4.dot_i16x8_s(v128.and(cA, m16), xv));
        sB16 = i32x4.add(sB16, i32x4.dot_i16x8_s(v128.and(cB, m16), xv));
        xv = v128.load32_splat(xb, 64);
        sA16 = i32x4.add(sA16, i32x4.dot_i16x8_s(v128.and(hA, m16), xv));
        sB16 = i32x4.add(sB16, i32x4.dot_i16x8_s(v128.and(hB, m16), xv));
      }
      const e = v128.load32_splat(xb, Q16_0S_SUM);
      accA = half_acc(accA, i32x4.sub(i32x4.add(sA1, i32x4.shr_s(sA16, 4)), e), p, xb, ms, k112);
      accB = half_acc(accB, i32x4.sub(i32x4.add(sB1, i32x4.shr_s(sB16, 4)), e), p + Q4_0R8_HALF, xb, ms, k112);
      p += Q4_0R8_BYTES;
      xb += xs;
    }
    if (z != 0) accA = v128.xor(v128.xor(accA, v128.xor(m1, m16)), v128.xor(ms, k112));
    v128.store(y + (<usize>r << 2), accA);
    v128.store(y + (<usize>r << 2), accB, 16);
  }
}

/** Σ over one chunk's 8 values for one token: n0..n3 the chunk's nibble vectors (q), xp the token's pair 4L. */
@inline function tok_dot(n0: v128, n1: v128, n2: v128, n3: v128, xp: usize): v128 {
  const d01 = i32x4.add(i32x4.dot_i16x8_s(n0, v128.load32_splat(xp)), i32x4.dot_i16x8_s(n1, v128.load32_splat(xp, 4)));
  const d23 = i32x4.add(i32x4.dot_i16x8_s(n2, v128.load32_splat(xp, 8)), i32x4.dot_i16x8_s(n3, v128.load32_splat(xp, 12)));
  return i32x4.add(d01, d23);
}

/**
 * matmul_q4_0r8_x16s(w, x: q16_0s*, y: f32*, cols, rows, nTok, r0, r1): w in q4_0r8, r0 and r1
 * multiples of 8; y[t·rows + r]. Four tokens by four rows (one half block) per pass: each chunk is
 * unpacked once for the four tokens; the second half of a group is read right after the first, from
 * the cache. Each token's integer block sums and f32 steps are matvec's: equal bit for bit.
 */
export function matmul_q4_0r8_x16s(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_q4_0r8(w, x, y, cols, rows, nTok, r0, r1, Q16_0S_BYTES);
}

/** The matmul driver over activation blocks `xs` bytes apart laid out as matvec_q4_0r8's. */
@inline export function matmul_q4_0r8(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32, xs: usize): void {
  const nb = cols / Q4_0_BLOCK;
  const rowBytes = <usize>nb * Q4_0_BYTES, xBytes = <usize>nb * xs;
  const z = cols >> 31;
  const m1 = i16x8.splat(<i16>(0x000f | z));
  const ms = i32x4.splat(F16_MS | z), k112 = i32x4.splat(F16_K112 | z);
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const t0 = row_ptr(x, t, lastT, xBytes), t1 = row_ptr(x, t + 1, lastT, xBytes);
    const t2 = row_ptr(x, t + 2, lastT, xBytes), t3 = row_ptr(x, t + 3, lastT, xBytes);
    for (let r = r0; r < r1; r += 4) {
      // rows r..r+3: the first or second half of the group block of rows r & ~7
      let p = w + <usize>(r & ~7) * rowBytes + (r & 4 ? <usize>Q4_0R8_HALF : 0);
      let a0 = t0, a1 = t1, a2 = t2, a3 = t3;
      let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0), acc2 = f32x4.splat(0), acc3 = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        let c = v128.load(p, 8);
        let n0 = v128.and(c, m1), n1 = v128.and(i16x8.shr_u(c, 4), m1);
        let n2 = v128.and(i16x8.shr_u(c, 8), m1), n3 = i16x8.shr_u(c, 12);
        let s0 = tok_dot(n0, n1, n2, n3, a0 + 4), s1 = tok_dot(n0, n1, n2, n3, a1 + 4);
        let s2 = s0, s3 = s1;
        if (z == 0) {
          s2 = tok_dot(n0, n1, n2, n3, a2 + 4);
          s3 = tok_dot(n0, n1, n2, n3, a3 + 4);
        }
        for (let L: usize = 1; L < 4; L++) {
          if (z == 0) {
            c = v128.load(p + (L << 4), 8);
            n0 = v128.and(c, m1); n1 = v128.and(i16x8.shr_u(c, 4), m1);
            n2 = v128.and(i16x8.shr_u(c, 8), m1); n3 = i16x8.shr_u(c, 12);
            s0 = i32x4.add(s0, tok_dot(n0, n1, n2, n3, a0 + 4 + (L << 4)));
            s1 = i32x4.add(s1, tok_dot(n0, n1, n2, n3, a1 + 4 + (L << 4)));
          }
          if (z == 0) {
            s2 = i32x4.add(s2, tok_dot(n0, n1, n2, n3, a2 + 4 + (L << 4)));
            s3 = i32x4.add(s3, tok_dot(n0, n1, n2, n3, a3 + 4 + (L << 4)));
          }
        }
        const hw = finite_halves_s_to_f32x4_k(v128.load16x4_s(p), ms, k112);
        acc0 = tok_acc(acc0, s0, hw, a0);
        acc1 = tok_acc(acc1, s1, hw, a1);
        acc2 = tok_acc(acc2, s2, hw, a2);
        acc3 = tok_acc(acc3, s3, hw, a3);
        p += Q4_0R8_BYTES;
        a0 += xs; a1 += xs; a2 += xs; a3 += xs;
      }
      if (z != 0) acc0 = v128.xor(v128.xor(acc0, m1), v128.xor(ms, k112));
      const o = y + ((<usize>t * rows + r) << 2), step = <usize>rows << 2;
      v128.store(o, acc0);
      if (t + 1 < nTok) v128.store(o + step, acc1);
      if (t + 2 < nTok) v128.store(o + 2 * step, acc2);
      if (t + 3 < nTok) v128.store(o + 3 * step, acc3);
    }
  }
}

/** acc + (s − 8·Σ qx)·dw·dx for one token: hw the four rows' scales, xb the token's q16_0s block. */
@inline function tok_acc(acc: v128, s: v128, hw: v128, xb: usize): v128 {
  const si = i32x4.sub(s, v128.load32_splat(xb, Q16_0S_SUM));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(si), f32x4.mul(hw, v128.load32_splat(xb))));
}
