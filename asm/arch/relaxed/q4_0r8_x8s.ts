// The relaxed-SIMD flavour of matvec_q4_0r8_x8s / matmul_q4_0r8_x8s (asm/matmul/q4_0r8_x8s.ts): the
// same contract and results bit for bit, with 8-bit dot products.
//
// i16x8.relaxed_dot_i8x16_i7x16_s(a, b) multiplies bytes pairwise and adds each pair into an i16 lane
// (x86: one pmaddubsw; ARM: smull/smull2 + addp). Its second operand must stay in 0..127 (x86 reads it
// as unsigned): here it is always a q4_0 nibble (0..15), the first the activation (q8_0s's qr bytes,
// |q| ≤ 127). A q4_0r8 chunk holds, in i32 lane r, four bytes of row r whose low nibbles are the row's
// values 8L + 0, 4, 1, 5 and whose high nibbles are 8L + 2, 6, 3, 7 (asm/matmul/q4_0r8_x16.ts), which
// is the order of qr's bytes 8L..8L+3 and 8L+4..8L+7: the nibbles against a splat of those four bytes
// leave row r's partial sums in i16 lanes 2r and 2r + 1.
//
// Exactness: each i16 lane adds 8 such pair sums per block (4 chunks × low and high nibbles), each at
// most 2·15·127 = 3810 in magnitude: ≤ 30480 < 2^15, no overflow, and no saturation in the dot (whose
// pairs stay below 2^15 too). i32x4.extadd_pairwise_i16x8_s then gives row r's Σ q·qx, minus e = 8·Σqx
// the block's integer Σ (q − 8)·qx, the SIMD128 kernel's exactly; the f32 steps are that kernel's
// (acc + f32(s)·(dw·dx), blocks in order), so the results are the same bits.
import { Q4_0_BLOCK, Q4_0_BYTES, Q4_0R8_BYTES, Q4_0R8_HALF, Q8_0S_BYTES, Q8_0S_QR, Q8_0S_SUM } from '../../lib/blocks';
import { F16_K112, F16_MS, finite_halves_s_to_f32x4_k } from '../../lib/f16';
import { row_ptr } from '../../lib/simd';

/**
 * s + Σ over chunk L (a constant: 4 rows × 8 values; lo, hi its nibbles) against the qr bytes of the
 * q8_0s block at xb. The loads take their offsets as immediates, which V8 folds into the address.
 */
@inline function chunk_dot(s: v128, lo: v128, hi: v128, xb: usize, L: i32): v128 {
  const xl = L == 0 ? v128.load32_splat(xb, Q8_0S_QR) : L == 1 ? v128.load32_splat(xb, Q8_0S_QR + 8)
    : L == 2 ? v128.load32_splat(xb, Q8_0S_QR + 16) : v128.load32_splat(xb, Q8_0S_QR + 24);
  const xh = L == 0 ? v128.load32_splat(xb, Q8_0S_QR + 4) : L == 1 ? v128.load32_splat(xb, Q8_0S_QR + 12)
    : L == 2 ? v128.load32_splat(xb, Q8_0S_QR + 20) : v128.load32_splat(xb, Q8_0S_QR + 28);
  s = i16x8.add(s, i16x8.relaxed_dot_i8x16_i7x16_s(xl, lo));
  return i16x8.add(s, i16x8.relaxed_dot_i8x16_i7x16_s(xh, hi));
}

/** s + Σ over chunk L (a constant) of the half block at h against the q8_0s block at xb. */
@inline function half_chunk(s: v128, h: usize, L: i32, xb: usize, m: v128): v128 {
  const c = L == 0 ? v128.load(h, 8) : L == 1 ? v128.load(h, 24) : L == 2 ? v128.load(h, 40) : v128.load(h, 56);
  return chunk_dot(s, v128.and(c, m), v128.and(i16x8.shr_u(c, 4), m), xb, L);
}

/** acc + (Σ q·qx − e)·(dw·dx) for one half block: s the i16 pair sums, hw the four rows' scales, xb the q8_0s block. */
@inline function block_acc(acc: v128, s: v128, hw: v128, xb: usize): v128 {
  const si = i32x4.sub(i32x4.extadd_pairwise_i16x8_s(s), v128.load32_splat(xb, Q8_0S_SUM));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(si), f32x4.mul(hw, v128.load32_splat(xb))));
}

/** matvec_q4_0r8_x8s(w, x: q8_0s*, y: f32*, cols, r0, r1): w in q4_0r8, r0 and r1 multiples of 8. */
export function matvec_q4_0r8_x8s(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const nb = cols / Q4_0_BLOCK;
  const rowBytes = <usize>nb * Q4_0_BYTES;
  const z = cols >> 31;
  // splats of c | z, also used after the loop (a branch never taken): computed once (see act_q16_0.ts)
  const m = i8x16.splat(<i8>(0x0f | z));
  const ms = i32x4.splat(F16_MS | z), k112 = i32x4.splat(F16_K112 | z);
  for (let r = r0; r < r1; r += 8) {
    let p = w + <usize>r * rowBytes;
    let xb = x;
    let accA = f32x4.splat(0), accB = f32x4.splat(0);
    for (let b = 0; b < nb; b++) {
      // the four chunks, unrolled (immediate offsets, no loop bookkeeping)
      let sA = i16x8.splat(0), sB = i16x8.splat(0);
      sA = half_chunk(sA, p, 0, xb, m); sB = half_chunk(sB, p + Q4_0R8_HALF, 0, xb, m);
      sA = half_chunk(sA, p, 1, xb, m); sB = half_chunk(sB, p + Q4_0R8_HALF, 1, xb, m);
      sA = half_chunk(sA, p, 2, xb, m); sB = half_chunk(sB, p + Q4_0R8_HALF, 2, xb, m);
      sA = half_chunk(sA, p, 3, xb, m); sB = half_chunk(sB, p + Q4_0R8_HALF, 3, xb, m);
      accA = block_acc(accA, sA, finite_halves_s_to_f32x4_k(v128.load16x4_s(p), ms, k112), xb);
      accB = block_acc(accB, sB, finite_halves_s_to_f32x4_k(v128.load16x4_s(p + Q4_0R8_HALF), ms, k112), xb);
      p += Q4_0R8_BYTES;
      xb += Q8_0S_BYTES;
    }
    if (z != 0) accA = v128.xor(accA, v128.xor(m, v128.xor(ms, k112)));
    v128.store(y + (<usize>r << 2), accA);
    v128.store(y + (<usize>r << 2), accB, 16);
  }
}

/**
 * matmul_q4_0r8_x8s(w, x: q8_0s*, y: f32*, cols, rows, nTok, r0, r1): w in q4_0r8, r0 and r1 multiples
 * of 8; y[t·rows + r]. Four tokens by four rows (one half block) per pass: each chunk's nibbles are
 * taken out once for the four tokens.
 */
export function matmul_q4_0r8_x8s(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const nb = cols / Q4_0_BLOCK;
  const rowBytes = <usize>nb * Q4_0_BYTES, xBytes = <usize>nb * Q8_0S_BYTES;
  const z = cols >> 31;
  const m = i8x16.splat(<i8>(0x0f | z));
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
        // the four chunks, unrolled: each chunk's nibbles serve the four tokens
        let s0 = i16x8.splat(0), s1 = i16x8.splat(0), s2 = i16x8.splat(0), s3 = i16x8.splat(0);
        let c = v128.load(p, 8);
        let lo = v128.and(c, m), hi = v128.and(i16x8.shr_u(c, 4), m);
        s0 = chunk_dot(s0, lo, hi, a0, 0); s1 = chunk_dot(s1, lo, hi, a1, 0);
        s2 = chunk_dot(s2, lo, hi, a2, 0); s3 = chunk_dot(s3, lo, hi, a3, 0);
        c = v128.load(p, 24);
        lo = v128.and(c, m); hi = v128.and(i16x8.shr_u(c, 4), m);
        s0 = chunk_dot(s0, lo, hi, a0, 1); s1 = chunk_dot(s1, lo, hi, a1, 1);
        s2 = chunk_dot(s2, lo, hi, a2, 1); s3 = chunk_dot(s3, lo, hi, a3, 1);
        c = v128.load(p, 40);
        lo = v128.and(c, m); hi = v128.and(i16x8.shr_u(c, 4), m);
        s0 = chunk_dot(s0, lo, hi, a0, 2); s1 = chunk_dot(s1, lo, hi, a1, 2);
        s2 = chunk_dot(s2, lo, hi, a2, 2); s3 = chunk_dot(s3, lo, hi, a3, 2);
        c = v128.load(p, 56);
        lo = v128.and(c, m); hi = v128.and(i16x8.shr_u(c, 4), m);
        s0 = chunk_dot(s0, lo, hi, a0, 3); s1 = chunk_dot(s1, lo, hi, a1, 3);
        s2 = chunk_dot(s2, lo, hi, a2, 3); s3 = chunk_dot(s3, lo, hi, a3, 3);
        const hw = finite_halves_s_to_f32x4_k(v128.load16x4_s(p), ms, k112);
        acc0 = block_acc(acc0, s0, hw, a0);
        acc1 = block_acc(acc1, s1, hw, a1);
        acc2 = block_acc(acc2, s2, hw, a2);
        acc3 = block_acc(acc3, s3, hw, a3);
        p += Q4_0R8_BYTES;
        a0 += Q8_0S_BYTES; a1 += Q8_0S_BYTES; a2 += Q8_0S_BYTES; a3 += Q8_0S_BYTES;
      }
      if (z != 0) acc0 = v128.xor(acc0, v128.xor(m, v128.xor(ms, k112)));
      const o = y + ((<usize>t * rows + r) << 2), step = <usize>rows << 2;
      v128.store(o, acc0);
      if (t + 1 < nTok) v128.store(o + step, acc1);
      if (t + 2 < nTok) v128.store(o + 2 * step, acc2);
      if (t + 3 < nTok) v128.store(o + 3 * step, acc3);
    }
  }
}
