// q4_K weights with q16_K activations (asm/matmul/quantize16.ts): per super-block
//   dot = dx·d·Σ_j sc_j·(Σ q·qx)  −  dx·dmin·Σ_j m_j·(bsums[2j] + bsums[2j+1])
// as q4_k.ts, with 16-bit activations loaded as they are and only the nibbles widened.
//
// Overflow bound (why the first sum is turned into floats per i32 lane, not summed horizontally):
// i32x4.dot_i16x8_s gives each lane two products, and dot32 adds four of them, so for one sub-block
// a lane holds 8 products q·qx with 0 ≤ q ≤ 15, |qx| ≤ 32767: |lane| ≤ 8·15·32767 = 3,932,040; times
// sc_j ≤ 63 and summed over the 8 sub-blocks, |lane| ≤ 8·63·3,932,040 = 1,981,748,160 < 2^31 − 1.
// So each lane's Σ_j sc_j·(…) is exact in i32, but the four lanes' total (≤ 7.9e9) is not: the lanes
// are converted to f32 and summed as (l0 + l2) + (l1 + l3) (hsum_f32 / reduce4_f32, the same pairing).
// The min term is exact in i32: |bsums[2j] + bsums[2j+1]| ≤ 32·32767 = 1,048,544, times m_j ≤ 63,
// over 8 sub-blocks ≤ 528,466,176 < 2^31. Per block: acc += f32(lanes)·(dx·d) − f32(msum)·(dx·dmin).
// matmul does the same lane-wise operations per token, so it equals matvec bit for bit.
import { f16_to_f32 } from '../lib/f16';
import { Q4_K_BYTES, QK_K } from '../lib/blocks';
import { bytes_to_i32x4, mins_0_3, mins_4_7, scales_0_3, scales_4_7 } from './q4_k';
import { Q16_K_BYTES } from './quantize16';
import { gather_f32, hsum_f32, hsum_i32, reduce4_f32, reduce4_i32, store_lanes } from './simd';

/** Σ q·qx over 32 values: q = the u16 lanes w0..w3, qx = the 32 i16 at xq. */
@inline function dot32(w0: v128, w1: v128, w2: v128, w3: v128, xq: usize): v128 {
  const a = i32x4.add(i32x4.dot_i16x8_s(w0, v128.load(xq)), i32x4.dot_i16x8_s(w1, v128.load(xq, 16)));
  const b = i32x4.add(i32x4.dot_i16x8_s(w2, v128.load(xq, 32)), i32x4.dot_i16x8_s(w3, v128.load(xq, 48)));
  return i32x4.add(a, b);
}

/** One chunk (64 values: 32 bytes of qs at q) · the 64 i16 activations at xq, scaled by splat(sc_even), splat(sc_odd). */
@inline function chunk(q: usize, xq: usize, scEven: v128, scOdd: v128, z: i32): v128 {
  const m = i16x8.splat(0x0f);
  let a0 = v128.load8x8_u(q), a1 = v128.load8x8_u(q, 8), a2 = v128.load8x8_u(q, 16), a3 = v128.load8x8_u(q, 24);
  let s = i32x4.mul(dot32(v128.and(a0, m), v128.and(a1, m), v128.and(a2, m), v128.and(a3, m), xq), scEven);
  if (z == 0) {
    a0 = v128.load8x8_u(q);
    a1 = v128.load8x8_u(q, 8);
    a2 = v128.load8x8_u(q, 16);
    a3 = v128.load8x8_u(q, 24);
    s = i32x4.add(s, i32x4.mul(dot32(i16x8.shr_u(a0, 4), i16x8.shr_u(a1, 4), i16x8.shr_u(a2, 4), i16x8.shr_u(a3, 4), xq + 64), scOdd));
  }
  return s;
}

/** i32 lanes summing to Σ_j m_j·(bsums[2j] + bsums[2j+1]) for the q4_K block at p and the q16_K block at xb. */
@inline function mins_dot(p: usize, xb: usize): v128 {
  const b = load<u32>(p, 8), c = load<u32>(p, 12);
  const b0 = v128.load(xb, 516), b1 = v128.load(xb, 532), b2 = v128.load(xb, 548), b3 = v128.load(xb, 564);
  const lo = i32x4.add(i32x4.shuffle(b0, b1, 0, 2, 4, 6), i32x4.shuffle(b0, b1, 1, 3, 5, 7)); // 32-value sums 0-3
  const hi = i32x4.add(i32x4.shuffle(b2, b3, 0, 2, 4, 6), i32x4.shuffle(b2, b3, 1, 3, 5, 7)); // 4-7
  return i32x4.add(i32x4.mul(bytes_to_i32x4(mins_0_3(b)), lo), i32x4.mul(bytes_to_i32x4(mins_4_7(b, c)), hi));
}

/** One q4_K row (nb blocks at p) · one q16_K row at xb; `z` (0, opaque) splits the block for V8's register allocation. */
@inline function dot_row(p: usize, xb: usize, nb: i32, z: i32): f32 {
  let acc: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const a = load<u32>(p, 4), c = load<u32>(p, 12);
    const sl = bytes_to_i32x4(scales_0_3(a)), sh = bytes_to_i32x4(scales_4_7(a, c));
    let isum = chunk(p + 16, xb + 4, i32x4.shuffle(sl, sl, 0, 0, 0, 0), i32x4.shuffle(sl, sl, 1, 1, 1, 1), z);
    if (z == 0) isum = i32x4.add(isum, chunk(p + 48, xb + 132, i32x4.shuffle(sl, sl, 2, 2, 2, 2), i32x4.shuffle(sl, sl, 3, 3, 3, 3), z));
    if (z == 0) isum = i32x4.add(isum, chunk(p + 80, xb + 260, i32x4.shuffle(sh, sh, 0, 0, 0, 0), i32x4.shuffle(sh, sh, 1, 1, 1, 1), z));
    if (z == 0) isum = i32x4.add(isum, chunk(p + 112, xb + 388, i32x4.shuffle(sh, sh, 2, 2, 2, 2), i32x4.shuffle(sh, sh, 3, 3, 3, 3), z));
    const msum = hsum_i32(mins_dot(p, xb));
    const dx = load<f32>(xb);
    const t = hsum_f32(f32x4.convert_i32x4_s(isum)) * (dx * f16_to_f32(load<u16>(p)));
    const u = <f32>msum * (dx * f16_to_f32(load<u16>(p, 2)));
    acc += t - u;
    p += Q4_K_BYTES;
    xb += Q16_K_BYTES;
  }
  return acc;
}

/** matvec_q4_K_x16(w, x: q16_K*, y: f32*, cols, r0, r1). */
export function matvec_q4_K_x16(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const nb = cols / QK_K;
  const rowBytes = <usize>nb * Q4_K_BYTES;
  const z = cols >> 31;
  for (let r = r0; r < r1; r++) store<f32>(y + (<usize>r << 2), dot_row(w + <usize>r * rowBytes, x, nb, z));
}

/** matmul_q4_K_x16(w, x: q16_K*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q4_K_x16(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const nb = cols / QK_K;
  const rowBytes = <usize>nb * Q4_K_BYTES, xBytes = <usize>nb * Q16_K_BYTES;
  const m = i16x8.splat(0x0f);
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const t0 = x + <usize>t * xBytes, t1 = x + <usize>min(t + 1, lastT) * xBytes;
    const t2 = x + <usize>min(t + 2, lastT) * xBytes, t3 = x + <usize>min(t + 3, lastT) * xBytes;
    for (let r = r0; r < r1; r++) {
      let p = w + <usize>r * rowBytes;
      let off: usize = 0;
      let acc = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        const a = load<u32>(p, 4), c = load<u32>(p, 12);
        const scales: u64 = <u64>scales_0_3(a) | (<u64>scales_4_7(a, c) << 32);
        let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
        for (let j = 0; j < 8; j++) {
          const q = p + 16 + (<usize>(j >> 1) << 5);
          const shift = (j & 1) << 2;
          const w0 = v128.and(i16x8.shr_u(v128.load8x8_u(q), shift), m);
          const w1 = v128.and(i16x8.shr_u(v128.load8x8_u(q, 8), shift), m);
          const w2 = v128.and(i16x8.shr_u(v128.load8x8_u(q, 16), shift), m);
          const w3 = v128.and(i16x8.shr_u(v128.load8x8_u(q, 24), shift), m);
          const sc = i32x4.splat(<i32>(scales >> (<u64>j << 3)) & 0xff);
          const xo = off + 4 + (<usize>j << 6);
          i0 = i32x4.add(i0, i32x4.mul(dot32(w0, w1, w2, w3, t0 + xo), sc));
          i1 = i32x4.add(i1, i32x4.mul(dot32(w0, w1, w2, w3, t1 + xo), sc));
          i2 = i32x4.add(i2, i32x4.mul(dot32(w0, w1, w2, w3, t2 + xo), sc));
          i3 = i32x4.add(i3, i32x4.mul(dot32(w0, w1, w2, w3, t3 + xo), sc));
        }
        const msum = reduce4_i32(mins_dot(p, t0 + off), mins_dot(p, t1 + off), mins_dot(p, t2 + off), mins_dot(p, t3 + off));
        const dx = gather_f32(t0 + off, t1 + off, t2 + off, t3 + off);
        const isum = reduce4_f32(f32x4.convert_i32x4_s(i0), f32x4.convert_i32x4_s(i1), f32x4.convert_i32x4_s(i2), f32x4.convert_i32x4_s(i3));
        const tv = f32x4.mul(isum, f32x4.mul(dx, f32x4.splat(f16_to_f32(load<u16>(p)))));
        const uv = f32x4.mul(f32x4.convert_i32x4_s(msum), f32x4.mul(dx, f32x4.splat(f16_to_f32(load<u16>(p, 2)))));
        acc = f32x4.add(acc, f32x4.sub(tv, uv));
        p += Q4_K_BYTES;
        off += Q16_K_BYTES;
      }
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, acc);
    }
  }
}
