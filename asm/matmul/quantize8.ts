// ggml's 8-bit activations as llama.cpp's CPU backend computes them, in the two layouts wisp's q8_0 and
// q4_0 kernels read (asm/lib/blocks.ts): the values are those of x86 ggml's quantize_row_q8_0
// (ggml-cpu/arch/x86/quants.c, its AVX path, which llama.cpp runs on every x86 CPU with AVX, and
// the repacked-q4_0 path's ggml_quantize_mat_q8_0_4x8 too), per block of 32 values:
//
//   amax = max |x|,  d = amax / 127 (f32), stored as f16,  id = amax ≠ 0 ? 127 / amax : 0,
//   q = nearest-even(x · id)                                 (_mm256_round_ps(_MM_ROUND_NEAREST))
//
// That differs from ggml's reference quantize_row_q8_0_ref (quantize_q8_0 in quantize.ts, which writes
// model files): roundf (halves away from zero) and id = 1 / d. ARM's NEON path rounds to nearest even
// too but takes id = 1 / d; where 127 / amax and 1 / (amax / 127) differ in the last bit a value can
// round the other way, so wisp follows x86 (docs/KERNEL-ABI.md, "8-bit activations").
//
// Each block stores d as the f32 value of that f16 (exact) and the q as i16 (the SIMD128 kernels'
// i32x4.dot_i16x8_s takes them as they are): q8_0w is that, q16_0's layout. q8_0s adds e = 8·Σq and q as
// bytes in q4_0r8's nibble order, for the relaxed flavour's 8-bit dot products (the nibbles are their
// second operand, which must stay in 0..127). No relaxed q8_0 kernel: the only exact 8-bit form of a
// q8_0 weight (any i8, −128 included) times q is two dot products (weights against max(q, 0) and
// max(−q, 0)), which measured 20% (matvec) to 40% (matmul) slower than the SIMD128 kernel where V8
// lowers the relaxed dot without VNNI (docs/MEASUREMENTS.md, "Activations").
//
// |q| ≤ 127 always (the kernels' bounds rely on it): x · id ≤ 127·(1 + 2^-23)² < 127.5 for finite x.
// Only degenerate blocks differ from ggml's bytes: amax below 2^-122 (127 / amax overflows: ggml writes
// −128 bytes, these kernels 0), where d rounds to the f16 zero and the block adds nothing to a dot
// either way; and inputs with infinities or NaN (here NaN → 0; the output is garbage either way).
import { Q8_0S_BLOCK, Q8_0S_BYTES, Q8_0S_Q, Q8_0S_QR, Q8_0S_SUM, Q8_0W_BLOCK, Q8_0W_BYTES, Q8_0W_Q } from '../lib/blocks';
import { f16_to_f32, f32_to_f16 } from '../lib/f16';
import { amax8 } from '../lib/quants';
import { hmax_f32 } from '../lib/simd';

/** nearest-even(v·s) as i32 lanes, clamped to ±127 (trunc_sat: NaN → 0). */
@inline function q8_lanes(v: v128, s: v128): v128 {
  const r = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v, s)));
  return i32x4.max_s(i32x4.min_s(r, i32x4.splat(127)), i32x4.splat(-127));
}

/**
 * The 32 values at p quantized: stores d (f32) at o and q (i16) at o + qOffset; returns i32 lanes
 * summing to Σq. The callers read q back from the block for their byte forms.
 */
@inline function quantize_block(p: usize, o: usize, qOffset: usize): v128 {
  const v0 = v128.load(p), v1 = v128.load(p, 16), v2 = v128.load(p, 32), v3 = v128.load(p, 48);
  const v4 = v128.load(p, 64), v5 = v128.load(p, 80), v6 = v128.load(p, 96), v7 = v128.load(p, 112);
  const amax = hmax_f32(amax8(v0, v1, v2, v3, v4, v5, v6, v7));
  store<f32>(o, f16_to_f32(f32_to_f16(amax / <f32>127.0)));
  const s = f32x4.splat(amax != 0 ? <f32>127.0 / amax : 0);
  const a = i16x8.narrow_i32x4_s(q8_lanes(v0, s), q8_lanes(v1, s));
  const b = i16x8.narrow_i32x4_s(q8_lanes(v2, s), q8_lanes(v3, s));
  const c = i16x8.narrow_i32x4_s(q8_lanes(v4, s), q8_lanes(v5, s));
  const d = i16x8.narrow_i32x4_s(q8_lanes(v6, s), q8_lanes(v7, s));
  v128.store(o + qOffset, a);
  v128.store(o + qOffset, b, 16);
  v128.store(o + qOffset, c, 32);
  v128.store(o + qOffset, d, 48);
  // the sum of the 32 values, as i32 lanes (for q8_0s's e)
  const ones = i16x8.splat(1);
  return i32x4.add(i32x4.add(i32x4.dot_i16x8_s(a, ones), i32x4.dot_i16x8_s(b, ones)), i32x4.add(i32x4.dot_i16x8_s(c, ones), i32x4.dot_i16x8_s(d, ones)));
}

/**
 * quantize_q8_0w(x: f32*, out: q8_0w*, n): n values (a multiple of 32) into n/32 blocks
 * { f32 d; i16 q[32] }: the activations of the q8_0 weight kernels (`_x8w`).
 */
export function quantize_q8_0w(x: usize, out: usize, n: i32): void {
  const nb = n / Q8_0W_BLOCK;
  for (let b = 0; b < nb; b++) quantize_block(x + (<usize>b << 7), out + <usize>b * Q8_0W_BYTES, Q8_0W_Q);
}

/**
 * quantize_q8_0s(x: f32*, out: q8_0s*, n): n values (a multiple of 32) into n/32 blocks
 * { f32 d; i16 q[32]; i32 e; i8 qr[32] }, e = 8·Σq, qr = q in q4_0r8's nibble order: each group of
 * eight values 8L..8L+7 as [0, 4, 1, 5, 2, 6, 3, 7] (asm/matmul/q4_0r8_x8s.ts says why). The
 * activations of the q4_0 and q4_0r8 weight kernels (`_x8s`).
 */
export function quantize_q8_0s(x: usize, out: usize, n: i32): void {
  const nb = n / Q8_0S_BLOCK;
  for (let b = 0; b < nb; b++) {
    const o = out + <usize>b * Q8_0S_BYTES;
    const sums = quantize_block(x + (<usize>b << 7), o, Q8_0S_Q);
    const u = i32x4.add(sums, i32x4.shuffle(sums, sums, 2, 3, 0, 1));
    store<i32>(o + Q8_0S_SUM, (i32x4.extract_lane(u, 0) + i32x4.extract_lane(u, 1)) << 3);
    const lo = i8x16.narrow_i16x8_s(v128.load(o, Q8_0S_Q), v128.load(o, Q8_0S_Q + 16));
    const hi = i8x16.narrow_i16x8_s(v128.load(o, Q8_0S_Q + 32), v128.load(o, Q8_0S_Q + 48));
    v128.store(o, i8x16.shuffle(lo, lo, 0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15), Q8_0S_QR);
    v128.store(o, i8x16.shuffle(hi, hi, 0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15), Q8_0S_QR + 16);
  }
}
