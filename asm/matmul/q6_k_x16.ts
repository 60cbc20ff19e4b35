// q6_K weights with q16_K activations: per super-block
//   dot = dx·d·Σ_g sc_g·Σ (q − 32)·qx
// The −32 is taken from the weights (i8x16.sub on the assembled 6-bit bytes, then widened signed), not
// through bsums as in q6_k.ts: with 16-bit activations sc_g·Σ q·qx alone could reach 128·16·63·32767.
//
// Overflow bound: each i32x4.dot_i16x8_s lane holds two products, and a group's dot (16 values) four,
// with |q − 32| ≤ 32, |qx| ≤ 32767, |sc_g| ≤ 128. A quarter (four groups, 64 values) summed lane-wise
// holds 16 scaled products per lane: |lane| ≤ 16·32·32767·128 = 2,147,418,112 ≤ 2^31 − 1 = 2,147,483,647.
// So each quarter is exact in i32 lanes; the lanes are converted to f32 per quarter and summed in f32
// (quarters in order, then (l0 + l2) + (l1 + l3)), and acc += f32(that)·(dx·d). matmul accumulates the
// same quarters in the same order per token, so it equals matvec bit for bit.
import { f16_to_f32 } from '../lib/f16';
import { Q6_K_BYTES, QK_K } from '../lib/blocks';
import { lane } from './q8_0';
import { half_scales_hi, half_scales_lo, q6_group1, q6_group2, q6_group3, q6_group4 } from './q6_k';
import { Q16_K_BYTES } from './quantize16';
import { gather_f32, hsum_f32, reduce4_f32, store_lanes } from './simd';

/** Σ (q − 32)·qx over 16 values: q = 16 unsigned 6-bit bytes, qx = the 16 i16 at xq. */
@inline function dot16(q: v128, xq: usize): v128 {
  const v = i8x16.sub(q, i8x16.splat(32));
  return i32x4.add(
    i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(v), v128.load(xq)),
    i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(v), v128.load(xq, 16)),
  );
}

/** One quarter of a block: half at ql/qh, slice g, activations of the half at xq; i32 lanes (exact, see above). */
@inline function quarter(ql: usize, qh: usize, xq: usize, g: i32, lo: v128, hi: v128): v128 {
  const o = <usize>g << 4, xo = <usize>g << 5;
  const L0 = v128.load(ql + o), L32 = v128.load(ql + o, 32), H = v128.load(qh + o);
  let s = i32x4.mul(dot16(q6_group1(L0, H), xq + xo), lane(lo, g));
  s = i32x4.add(s, i32x4.mul(dot16(q6_group2(L32, H), xq + xo + 64), lane(lo, g + 2)));
  s = i32x4.add(s, i32x4.mul(dot16(q6_group3(L0, H), xq + xo + 128), lane(hi, g)));
  return i32x4.add(s, i32x4.mul(dot16(q6_group4(L32, H), xq + xo + 192), lane(hi, g + 2)));
}

@inline function dot_row(p: usize, xb: usize, nb: i32, z: i32): f32 {
  let acc: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const lo0 = half_scales_lo(p + 192), hi0 = half_scales_hi(p + 192);
    let f = f32x4.add(f32x4.splat(0), f32x4.convert_i32x4_s(quarter(p, p + 128, xb + 4, 0, lo0, hi0)));
    if (z == 0) f = f32x4.add(f, f32x4.convert_i32x4_s(quarter(p, p + 128, xb + 4, 1, lo0, hi0)));
    if (z == 0) f = f32x4.add(f, f32x4.convert_i32x4_s(quarter(p + 64, p + 160, xb + 260, 0, half_scales_lo(p + 200), half_scales_hi(p + 200))));
    if (z == 0) f = f32x4.add(f, f32x4.convert_i32x4_s(quarter(p + 64, p + 160, xb + 260, 1, half_scales_lo(p + 200), half_scales_hi(p + 200))));
    acc += hsum_f32(f) * (load<f32>(xb) * f16_to_f32(load<u16>(p, 208)));
    p += Q6_K_BYTES;
    xb += Q16_K_BYTES;
  }
  return acc;
}

/** matvec_q6_K_x16(w, x: q16_K*, y: f32*, cols, r0, r1). */
export function matvec_q6_K_x16(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const nb = cols / QK_K;
  const rowBytes = <usize>nb * Q6_K_BYTES;
  const z = cols >> 31;
  for (let r = r0; r < r1; r++) store<f32>(y + (<usize>r << 2), dot_row(w + <usize>r * rowBytes, x, nb, z));
}

/** Σ w·x over 16 values already widened (w0: values 0-7, w1: 8-15) with the 16 i16 at xq. */
@inline function dot16w(w0: v128, w1: v128, xq: usize): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(w0, v128.load(xq)), i32x4.dot_i16x8_s(w1, v128.load(xq, 16)));
}

/** matmul_q6_K_x16(w, x: q16_K*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q6_K_x16(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const nb = cols / QK_K;
  const rowBytes = <usize>nb * Q6_K_BYTES, xBytes = <usize>nb * Q16_K_BYTES;
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const t0 = x + <usize>t * xBytes, t1 = x + <usize>min(t + 1, lastT) * xBytes;
    const t2 = x + <usize>min(t + 2, lastT) * xBytes, t3 = x + <usize>min(t + 3, lastT) * xBytes;
    for (let r = r0; r < r1; r++) {
      let p = w + <usize>r * rowBytes;
      let off: usize = 0;
      let acc = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        let f0 = f32x4.splat(0), f1 = f32x4.splat(0), f2 = f32x4.splat(0), f3 = f32x4.splat(0);
        for (let qt = 0; qt < 4; qt++) {
          // quarter qt: half h = qt >> 1, slice g = qt & 1; its four kinds k (values 128h + 32k + 16g)
          const h = <usize>(qt >> 1), g = <usize>(qt & 1);
          let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
          for (let k = 0; k < 4; k++) {
            const ql = p + (h << 6) + (g << 4) + ((k & 1) != 0 ? 32 : 0);
            const L = v128.load(ql), H = v128.load(p + 128 + (h << 5) + (g << 4));
            const lowNibble = v128.and(k < 2 ? L : i16x8.shr_u(L, 4), i8x16.splat(0x0f));
            const high = v128.and(i16x8.shl(i16x8.shr_u(H, <i32>k << 1), 4), i8x16.splat(0x30));
            const v = i8x16.sub(v128.or(lowNibble, high), i8x16.splat(32));
            const w0 = i16x8.extend_low_i8x16_s(v), w1 = i16x8.extend_high_i8x16_s(v);
            const sc = i32x4.splat(<i32>load<i8>(p + 192 + (h << 3) + (g + (<usize>k << 1))));
            const xo = off + 4 + (h << 8) + (<usize>k << 6) + (g << 5);
            i0 = i32x4.add(i0, i32x4.mul(dot16w(w0, w1, t0 + xo), sc));
            i1 = i32x4.add(i1, i32x4.mul(dot16w(w0, w1, t1 + xo), sc));
            i2 = i32x4.add(i2, i32x4.mul(dot16w(w0, w1, t2 + xo), sc));
            i3 = i32x4.add(i3, i32x4.mul(dot16w(w0, w1, t3 + xo), sc));
          }
          f0 = f32x4.add(f0, f32x4.convert_i32x4_s(i0));
          f1 = f32x4.add(f1, f32x4.convert_i32x4_s(i1));
          f2 = f32x4.add(f2, f32x4.convert_i32x4_s(i2));
          f3 = f32x4.add(f3, f32x4.convert_i32x4_s(i3));
        }
        const dx = gather_f32(t0 + off, t1 + off, t2 + off, t3 + off);
        const scale = f32x4.mul(dx, f32x4.splat(f16_to_f32(load<u16>(p, 208))));
        acc = f32x4.add(acc, f32x4.mul(reduce4_f32(f0, f1, f2, f3), scale));
        p += Q6_K_BYTES;
        off += Q16_K_BYTES;
      }
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, acc);
    }
  }
}
