// Activation quantizers: f32 rows to q8_0 blocks (for q8_0 and q4_0 weights) and q8_K blocks (for
// q4_K and q6_K weights), bit-identical to ggml's quantize_row_q8_0_ref and quantize_row_q8_K_ref
// (and so to host/model/quantize/, which the tests hold them to), degenerate blocks included (all
// values subnormal: ±inf/NaN products become byte 0, as x86 ggml and the JS quantizers give).
// Not matched: inputs containing NaN (the block maximum then differs; the output is garbage either way).
import { Q8_0_BLOCK, Q8_0_BYTES, Q8_0_QS, Q8_K_BLOCK, Q8_K_BSUMS, Q8_K_BYTES, Q8_K_QS } from '../lib/blocks';
import { f32_to_f16 } from '../lib/f16';
import { amax256, amax8 } from '../lib/quants';
import { hmax_f32, reduce4_i32 } from '../lib/simd';

/** C's roundf on four lanes: to nearest, halves away from zero, done exactly (x − trunc(x) is exact). */
@inline function round_away(v: v128): v128 {
  const t = f32x4.trunc(v);
  const half = f32x4.ge(f32x4.abs(f32x4.sub(v, t)), f32x4.splat(0.5));
  const one = v128.or(v128.and(v, i32x4.splat(0x80000000)), f32x4.splat(1.0)); // ±1 with v's sign
  return f32x4.add(t, v128.and(half, one));
}

/**
 * The low bytes of 16 i32 lanes, packed: C's (int8_t) conversion as x86 does it, so out-of-range
 * values wrap (the quantizers only produce them for degenerate blocks, e.g. all values subnormal).
 */
@inline function low_bytes(a: v128, b: v128, c: v128, d: v128): v128 {
  const m = i32x4.splat(0xff);
  return i8x16.narrow_i16x8_u(
    i16x8.narrow_i32x4_u(v128.and(a, m), v128.and(b, m)),
    i16x8.narrow_i32x4_u(v128.and(c, m), v128.and(d, m)),
  );
}

/**
 * roundf(v) as an integer the way ggml's (int8_t)roundf(...) ends up on x86: exact below 2^31 in
 * magnitude; anything else (±inf, NaN, huge) becomes 0x80000000, whose low byte is 0.
 */
@inline function roundf_i32(v: v128): v128 {
  const r = round_away(v);
  return v128.andnot(i32x4.trunc_sat_f32x4_s(r), f32x4.ge(r, f32x4.splat(2147483648.0)));
}

/**
 * quantize_q8_0(x: f32*, out: q8_0*, n): n values (a multiple of 32) into n/32 blocks { f16 d; i8 qs[32] }
 * with d = absmax/127 (rounded to f16 when stored), q = roundf(x · (1/d)) using the unrounded d, as ggml.
 */
export function quantize_q8_0(x: usize, out: usize, n: i32): void {
  const nb = n / Q8_0_BLOCK;
  for (let b = 0; b < nb; b++) {
    const p = x + (<usize>b << 7);
    const o = out + <usize>b * Q8_0_BYTES;
    const v0 = v128.load(p), v1 = v128.load(p, 16), v2 = v128.load(p, 32), v3 = v128.load(p, 48);
    const v4 = v128.load(p, 64), v5 = v128.load(p, 80), v6 = v128.load(p, 96), v7 = v128.load(p, 112);
    const amax = hmax_f32(amax8(v0, v1, v2, v3, v4, v5, v6, v7));
    const d: f32 = amax / 127.0;
    const id: f32 = d != 0 ? <f32>1.0 / d : 0;
    store<u16>(o, <u16>f32_to_f16(d));
    const s = f32x4.splat(id);
    const q0 = roundf_i32(f32x4.mul(v0, s)), q1 = roundf_i32(f32x4.mul(v1, s));
    const q2 = roundf_i32(f32x4.mul(v2, s)), q3 = roundf_i32(f32x4.mul(v3, s));
    const q4 = roundf_i32(f32x4.mul(v4, s)), q5 = roundf_i32(f32x4.mul(v5, s));
    const q6 = roundf_i32(f32x4.mul(v6, s)), q7 = roundf_i32(f32x4.mul(v7, s));
    v128.store(o, low_bytes(q0, q1, q2, q3), Q8_0_QS);
    v128.store(o, low_bytes(q4, q5, q6, q7), Q8_0_QS + 16);
  }
}

/**
 * ggml's nearest_int on 16 values at p scaled by s, capped at 127: add 1.5·2^23 and read the integer
 * from the mantissa bits (round half to even in range; the same bits as ggml for anything else).
 */
@inline function q8k_lanes(p: usize, s: v128, off: usize): v128 {
  const f = f32x4.add(f32x4.mul(s, v128.load(p + off)), f32x4.splat(12582912.0));
  const i = i32x4.sub(v128.and(f, i32x4.splat(0x007fffff)), i32x4.splat(0x00400000));
  return i32x4.min_s(i, i32x4.splat(127));
}

/** Quantizes the 16 values at p into o (16 bytes) and returns their partial sums (i32 lanes summing to the group's sum). */
@inline function q8k_group(p: usize, o: usize, s: v128): v128 {
  const q = low_bytes(q8k_lanes(p, s, 0), q8k_lanes(p, s, 16), q8k_lanes(p, s, 32), q8k_lanes(p, s, 48));
  v128.store(o, q);
  return i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(q));
}

/**
 * quantize_q8_K(x: f32*, out: q8_K*, n): n values (a multiple of 256) into blocks
 * { f32 d; i8 qs[256]; i16 bsums[16] }. The value of largest magnitude (the first one, sign kept)
 * maps to −127: iscale = −127/max, q = nearest_int(iscale·x) capped at 127 (stored as its low byte),
 * d = 1/iscale,
 * bsums[g] = Σ qs[16g..16g+16). An all-zero block is all zero bytes.
 */
export function quantize_q8_K(x: usize, out: usize, n: i32): void {
  const nb = n / Q8_K_BLOCK;
  for (let b = 0; b < nb; b++) {
    const p = x + (<usize>b << 10);
    const o = out + <usize>b * Q8_K_BYTES;
    const amax = hmax_f32(amax256(p));
    if (amax == 0) {
      const z = i32x4.splat(0);
      for (let i: usize = 0; i < 288; i += 16) v128.store(o + i, z);
      store<u32>(o, 0, Q8_K_BYTES - 4);
      continue;
    }
    // the first value whose magnitude is amax, with its sign
    let max: f32 = amax;
    const va = f32x4.splat(amax);
    for (let i: usize = 0; i < 1024; i += 16) {
      const hit = i32x4.bitmask(f32x4.eq(f32x4.abs(v128.load(p + i)), va));
      if (hit != 0) {
        max = load<f32>(p + i + (<usize>ctz(hit) << 2));
        break;
      }
    }
    const iscale: f32 = <f32>-127.0 / max;
    const s = f32x4.splat(iscale);
    for (let h: usize = 0; h < 2; h++) {
      const ph = p + (h << 9), oh = o + Q8_K_QS + (h << 7);
      const s0 = reduce4_i32(q8k_group(ph, oh, s), q8k_group(ph + 64, oh + 16, s), q8k_group(ph + 128, oh + 32, s), q8k_group(ph + 192, oh + 48, s));
      const s1 = reduce4_i32(q8k_group(ph + 256, oh + 64, s), q8k_group(ph + 320, oh + 80, s), q8k_group(ph + 384, oh + 96, s), q8k_group(ph + 448, oh + 112, s));
      v128.store(o + Q8_K_BSUMS + (h << 4), i16x8.narrow_i32x4_s(s0, s1));
    }
    store<f32>(o, <f32>1.0 / iscale);
  }
}

/**
 * quantize_q8_Kp(x: f32*, out: q8_Kp*, n): quantize_q8_K's blocks (the same d, bsums and values) with
 * each pair of groups' qs interleaved two values at a time: bytes 32m + 4j .. 32m + 4j + 3 of qs hold
 * values 32m + 2j, 32m + 2j + 1, 32m + 16 + 2j, 32m + 17 + 2j (m, j = 0..7): q2_Kr4's activations, whose
 * four splatted bytes then serve the two groups of a pair, one in each i16 lane of a row
 * (asm/matmul/q2_q3_kr4.ts).
 */
export function quantize_q8_Kp(x: usize, out: usize, n: i32): void {
  quantize_q8_K(x, out, n);
  const nb = n / Q8_K_BLOCK;
  for (let b = 0; b < nb; b++) {
    const q = out + <usize>b * Q8_K_BYTES + Q8_K_QS;
    for (let m: usize = 0; m < 256; m += 32) {
      const a = v128.load(q + m), c = v128.load(q + m, 16);
      v128.store(q + m, i16x8.shuffle(a, c, 0, 8, 1, 9, 2, 10, 3, 11));
      v128.store(q + m, i16x8.shuffle(a, c, 4, 12, 5, 13, 6, 14, 7, 15), 16);
    }
  }
}
