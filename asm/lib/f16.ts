// The one IEEE half <-> single conversion of every kernel, without tables.
//
// Half -> single, one rule in three steps (scalar, four lanes, or four lanes with the constants passed
// in; each kernel picks the form that suits its code shape, and every form gives the same bits):
//   1. place: the half's sign smeared over bits 28..31, its exponent and mantissa at bits 13..27
//      (the half shifted into the f32 exponent/mantissa position);
//   2. finite: AND with 0x8fffe000 (the sign's copies in bits 28..30 off) and multiply by 2^112 (the
//      exponent bias difference, 127 − 15): exact for every finite half, normals, subnormals and ±0;
//   3. specials: a half with the all-ones exponent (infinity or NaN) came out as ±2^16 or more; OR in the
//      f32 all-ones exponent, which keeps the mantissa (NaN payloads survive, as in ggml's table).
// Kernels that read only halves known to be finite (the host checks: f16f matrices, repacked scales)
// stop after step 2. test/kernel-f16.test.ts checks every form on all 65536 halves against the host.
//
// Step 2 multiplies a subnormal f32 when the half is subnormal (exponent 0), and x86 cores take a slow
// path on a subnormal operand (AMD Zen 4 here: a q6_K matvec ran 2× slower on ggml-quantized weights,
// whose super-block scales d are mostly subnormal halves; Intel's microcode assists cost more). So
// the block-scale conversions (one per block, where subnormal scales are common: q6_K's d ≈ max/4064)
// use forms with no subnormal arithmetic: a normal half's f32 bits are its placed bits plus the
// exponent bias difference (an integer add), a subnormal one's value m·2^-24 comes from the integer m
// (f16_to_f32) or as 2^-14·(1 + m/1024) − 2^-14, exact (finite_halves_s_to_f32x4_ns_k). The weight
// kernels (f16, f16f) keep the multiply of a placed half (the matvec ones multiply it by x·2^112, not
// by 2^112: asm/matmul/float.ts), and subnormal f16 weights are rare (~0.1% of a random-weight
// matrix: measured 6% slower than none, 1%: 35%).
//
// Single -> half: f32_to_f16, round to nearest even as ggml's GGML_FP32_TO_FP16.

/** Step 2's AND mask: sign bit 31 kept, its copies in bits 28..30 dropped, exponent and mantissa kept. */
export const F16_MS: i32 = 0x8fffe000;
/** Step 2's factor 2^112, as f32 bits. */
export const F16_K112: i32 = 0x77800000;
/** Where step 1 leaves the half's exponent field. */
export const F16_EXP: i32 = 0x0f800000;
/** The f32 all-ones exponent. */
export const F32_EXP: i32 = 0x7f800000;

/**
 * One half (the low 16 bits of h) as f32, with no subnormal arithmetic (the kernels convert block
 * scales with it): a normal half's bits rebiased (+112 in the exponent field; infinity and NaN +224,
 * payload kept), zero or a subnormal half m·2^-24 from the integer m, then the sign.
 */
@inline export function f16_to_f32(h: u32): f32 {
  const t = <i32>(h << 16) >> 3; // step 1
  const mag = t & 0x0fffe000; // exponent and mantissa at bits 13..27
  const e = t & F16_EXP;
  const bits = e == 0 ? reinterpret<i32>(<f32>(mag >> 13) * <f32>5.9604644775390625e-8) : mag + (e == F16_EXP ? 224 << 23 : 112 << 23);
  return reinterpret<f32>(bits | (t & 0x80000000));
}

/** Steps 2 and 3 on four placed halves t, with the four constants passed in (kernels that keep them in registers). */
@inline export function placed_to_f32x4_k(t: v128, ms: v128, k112: v128, exp16: v128, exp32: v128): v128 {
  const f = f32x4.mul(v128.and(t, ms), k112);
  return v128.or(f, v128.and(i32x4.eq(v128.and(t, exp16), exp16), exp32));
}

/** Four halves (the low 16 bits of each i32 lane; the upper bits are ignored) as f32. */
@inline export function halves_to_f32x4(h: v128): v128 {
  return placed_to_f32x4_k(i32x4.shr_s(i32x4.shl(h, 16), 3), i32x4.splat(F16_MS), i32x4.splat(F16_K112), i32x4.splat(F16_EXP), i32x4.splat(F32_EXP));
}

/** halves_to_f32x4 with its constants passed in. */
@inline export function halves_to_f32x4_k(h: v128, ms: v128, k112: v128, exp16: v128, exp32: v128): v128 {
  return placed_to_f32x4_k(i32x4.shr_s(i32x4.shl(h, 16), 3), ms, k112, exp16, exp32);
}

/** Four halves already sign-extended to 32 bits (i32x4.extend_*_i16x8_s, v128.load16x4_s) as f32. */
@inline export function halves_s_to_f32x4(h: v128): v128 {
  return placed_to_f32x4_k(i32x4.shl(h, 13), i32x4.splat(F16_MS), i32x4.splat(F16_K112), i32x4.splat(F16_EXP), i32x4.splat(F32_EXP));
}

/** halves_s_to_f32x4 for finite halves only (steps 1 and 2): wrong for infinities and NaN. */
@inline export function finite_halves_s_to_f32x4(h: v128): v128 {
  return finite_halves_s_to_f32x4_k(h, i32x4.splat(F16_MS), i32x4.splat(F16_K112));
}

/** finite_halves_s_to_f32x4 with its constants passed in. */
@inline export function finite_halves_s_to_f32x4_k(h: v128, ms: v128, k112: v128): v128 {
  return f32x4.mul(v128.and(i32x4.shl(h, 13), ms), k112);
}

/**
 * Step 1 and step 2's mask for eight halves at once (a v128 of eight i16), in two 16-bit words per
 * half: split_low gives each half's mantissa bits 2..0 at bits 13..15 of its word, split_high its sign
 * at bit 15 and its exponent and mantissa bits 9..3 at bits 0..11 (m = i16x8.splat(0x8fff)), and
 * placed_low / placed_high interleave the words of halves 0..3 / 4..7 into four lanes each: the placed,
 * masked bits of step 2 (times 2^112 they are the finite half's f32; placed_to_f32x4_k completes any
 * half). Five operations per eight halves, where sign-extending each four costs six.
 */
@inline export function split_low(h: v128): v128 {
  return i16x8.shl(h, 13);
}

/** See split_low. */
@inline export function split_high(h: v128, m: v128): v128 {
  return v128.and(i16x8.shr_s(h, 3), m);
}

/** See split_low: halves 0..3 placed. */
@inline export function placed_low(lo: v128, hi: v128): v128 {
  return i16x8.shuffle(lo, hi, 0, 8, 1, 9, 2, 10, 3, 11);
}

/** See split_low: halves 4..7 placed. */
@inline export function placed_high(lo: v128, hi: v128): v128 {
  return i16x8.shuffle(lo, hi, 4, 12, 5, 13, 6, 14, 7, 15);
}

/** split_high's mask: the sign and the 12 bits below the three copies sra leaves of it. */
export const F16_SPLIT: i32 = 0x8fff;

/** The constants of finite_halves_s_to_f32x4_ns_k: the exponent bias difference 112 << 23, and 1 << 23. */
export const F16_BIAS: i32 = 112 << 23;
export const F16_EXP1: i32 = 1 << 23;

/**
 * Four finite halves sign-extended to 32 bits (the low 16 bits are what count) as f32 with no
 * subnormal arithmetic (block scales: see above): the magnitude placed at bits 13..27 plus the bias is a
 * normal half's f32 bits; for a subnormal half (or zero) one more in the exponent makes
 * 2^-14·(1 + m/1024), and subtracting 2^-14 leaves m·2^-24 exactly (every other lane subtracts 0); then
 * the sign. Shifts place the magnitude and the sign, so the only constants are bias and exp1 (kernels
 * keep them in registers). Wrong for infinities and NaN.
 */
@inline export function finite_halves_s_to_f32x4_ns_k(h: v128, bias: v128, exp1: v128): v128 {
  const m = i32x4.shr_u(i32x4.shl(h, 17), 4); // bits 0..14 -> 13..27
  const sub = i32x4.lt_s(m, exp1); // exponent 0: zero or subnormal
  const f = f32x4.sub(i32x4.add(i32x4.add(m, bias), v128.and(sub, exp1)), v128.and(sub, i32x4.add(bias, exp1)));
  return v128.or(f, i32x4.shl(i32x4.shr_u(h, 15), 31));
}

/** Round-to-nearest-even single -> half, as ggml's GGML_FP32_TO_FP16 (activation scales, f16 KV caches). */
export function f32_to_f16(f: f32): u32 {
  const x = reinterpret<u32>(f);
  const sign = (x >> 16) & 0x8000;
  const ax = x & 0x7fffffff;
  if (ax > 0x7f800000) return sign | 0x7e00; // nan
  if (ax >= 0x477ff000) return sign | 0x7c00; // overflow -> inf (>= 65520 rounds up)
  if (ax < 0x38800000) {
    // subnormal half (or zero): add 0.5 so the float adder rounds the mantissa for us
    return sign | (reinterpret<u32>(reinterpret<f32>(ax) + 0.5) - 0x3f000000);
  }
  const mant_odd = (ax >> 13) & 1;
  return sign | ((ax + 0xc8000fff + mant_odd) >> 13);
}
