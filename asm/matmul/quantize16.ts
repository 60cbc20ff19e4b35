// 16-bit activation quantizers, for the `_x16` dot products (no ggml equivalent). The rounding noise
// of an 8-bit activation (q8_0 / q8_K) is ~1/254 of the block maximum; at 16 bits it is ~1/65534, so
// the integer dot products stay but move the result ~256× less. Layouts (little-endian):
//
//   q16_0  per 32 values:  { f32 d; i16 q[32] }                       68 bytes
//   q16_K  per 256 values: { f32 d; i16 q[256]; i32 bsums[16] }      580 bytes (q at 4, bsums at 516)
//   q16_0s per 32 values:  { f32 d; i16 q[32]; i32 e }                72 bytes, e = 8·Σ q (q4_0r8's −8)
//
// d = amax/32767 (f32 division), id = 1/d (0 when d is 0), q = nearest-even(x·id) clamped to
// [−32767, 32767] (NaN → 0); bsums[g] = Σ q[16g..16g+16) (|bsums| ≤ 16·32767, hence i32). q is never
// −32768, so |q| ≤ 32767 is what the kernels' overflow bounds use. host/kernels/reference/matmul.ts
// (quantizeQ16_0 / quantizeQ16_K) writes the same bytes.
import { Q16_0_BLOCK, Q16_0_BYTES, Q16_0_Q, Q16_0S_BYTES, Q16_0S_SUM, Q16_K_BLOCK, Q16_K_BSUMS, Q16_K_BYTES, Q16_K_Q } from '../lib/blocks';
import { amax256, amax8 } from '../lib/quants';
import { hmax_f32, reduce4_i32 } from '../lib/simd';

/** nearest-even(v·s) as i32 lanes, clamped to ±32767 (trunc_sat: NaN → 0, ±inf saturate then clamp). */
@inline function q16_lanes(v: v128, s: v128): v128 {
  const r = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v, s)));
  return i32x4.max_s(i32x4.min_s(r, i32x4.splat(32767)), i32x4.splat(-32767));
}

/** The scale d = amax/32767 and its inverse (0 for an all-zero block). */
@inline function scale_of(amax: f32): f32 {
  return amax / <f32>32767.0;
}

/** quantize_q16_0(x: f32*, out: q16_0*, n): n values (a multiple of 32) into n/32 blocks { f32 d; i16 q[32] }. */
export function quantize_q16_0(x: usize, out: usize, n: i32): void {
  quantize_blocks32(x, out, n, Q16_0_BYTES, false);
}

/** quantize_q16_0s(x: f32*, out: q16_0s*, n): as quantize_q16_0, each block followed by e = 8·Σ q (i32). */
export function quantize_q16_0s(x: usize, out: usize, n: i32): void {
  quantize_blocks32(x, out, n, Q16_0S_BYTES, true);
}

@inline function quantize_blocks32(x: usize, out: usize, n: i32, blockBytes: i32, withSum: bool): void {
  const nb = n / Q16_0_BLOCK;
  for (let b = 0; b < nb; b++) {
    const p = x + (<usize>b << 7);
    const o = out + <usize>b * blockBytes;
    const v0 = v128.load(p), v1 = v128.load(p, 16), v2 = v128.load(p, 32), v3 = v128.load(p, 48);
    const v4 = v128.load(p, 64), v5 = v128.load(p, 80), v6 = v128.load(p, 96), v7 = v128.load(p, 112);
    const d = scale_of(hmax_f32(amax8(v0, v1, v2, v3, v4, v5, v6, v7)));
    const id: f32 = d != 0 ? <f32>1.0 / d : 0;
    store<f32>(o, d);
    const s = f32x4.splat(id);
    const q0 = q16_lanes(v0, s), q1 = q16_lanes(v1, s), q2 = q16_lanes(v2, s), q3 = q16_lanes(v3, s);
    const q4 = q16_lanes(v4, s), q5 = q16_lanes(v5, s), q6 = q16_lanes(v6, s), q7 = q16_lanes(v7, s);
    v128.store(o, i16x8.narrow_i32x4_s(q0, q1), Q16_0_Q);
    v128.store(o, i16x8.narrow_i32x4_s(q2, q3), Q16_0_Q + 16);
    v128.store(o, i16x8.narrow_i32x4_s(q4, q5), Q16_0_Q + 32);
    v128.store(o, i16x8.narrow_i32x4_s(q6, q7), Q16_0_Q + 48);
    if (withSum) {
      const t = i32x4.add(i32x4.add(i32x4.add(q0, q1), i32x4.add(q2, q3)), i32x4.add(i32x4.add(q4, q5), i32x4.add(q6, q7)));
      const u = i32x4.add(t, i32x4.shuffle(t, t, 2, 3, 0, 1));
      store<i32>(o + Q16_0S_SUM, (i32x4.extract_lane(u, 0) + i32x4.extract_lane(u, 1)) << 3);
    }
  }
}

/** Quantizes the 16 values at p into o (32 bytes); returns i32 lanes summing to their sum. */
@inline function q16k_group(p: usize, o: usize, s: v128): v128 {
  const a = q16_lanes(v128.load(p), s), b = q16_lanes(v128.load(p, 16), s);
  const c = q16_lanes(v128.load(p, 32), s), d = q16_lanes(v128.load(p, 48), s);
  v128.store(o, i16x8.narrow_i32x4_s(a, b));
  v128.store(o, i16x8.narrow_i32x4_s(c, d), 16);
  return i32x4.add(i32x4.add(a, b), i32x4.add(c, d));
}

/** quantize_q16_K(x: f32*, out: q16_K*, n): n values (a multiple of 256) into blocks { f32 d; i16 q[256]; i32 bsums[16] }. */
export function quantize_q16_K(x: usize, out: usize, n: i32): void {
  const nb = n / Q16_K_BLOCK;
  for (let b = 0; b < nb; b++) {
    const p = x + (<usize>b << 10);
    const o = out + <usize>b * Q16_K_BYTES;
    const d = scale_of(hmax_f32(amax256(p)));
    const id: f32 = d != 0 ? <f32>1.0 / d : 0;
    store<f32>(o, d);
    const s = f32x4.splat(id);
    for (let g: usize = 0; g < 16; g += 4) {
      const pg = p + (g << 6), og = o + Q16_K_Q + (g << 5);
      const sums = reduce4_i32(q16k_group(pg, og, s), q16k_group(pg + 64, og + 32, s), q16k_group(pg + 128, og + 64, s), q16k_group(pg + 192, og + 96, s));
      v128.store(o + Q16_K_BSUMS + (g << 2), sums);
    }
  }
}
