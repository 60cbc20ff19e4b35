// Vectorized single-precision exp for softmax (ops, attention) and SiLU. No tables, no static data:
// every constant is an immediate, so kernels that inline it stay pure functions of their arguments.
//
//   exp(x) = 2^k · exp(r),  k = nearest(x · log2 e),  r = x − k·ln2   (|r| ≤ ~0.347)
//
// k·ln2 is subtracted in two parts (Cody–Waite): LN2_HI has 15 significant bits, so k·LN2_HI is exact
// for |k| < 512 and x − k·LN2_HI is exact (Sterbenz); LN2_LO carries the rest of ln 2. exp(r) is the
// degree-7 Taylor polynomial (truncation error < 1e-8 relative on |r| ≤ 0.35, well under half an ulp),
// evaluated by Horner. 2^k is applied as two exact power-of-two factors 2^(k>>1) · 2^(k−(k>>1)), so
// results in the subnormal range are rounded once and k = 128 (x just below ln FLT_MAX) does not overflow
// early.
//
// Accuracy, against Math.exp in f64 where the result is a normal float: max relative error 1.03e-7,
// 1.22 ulp (measured over 2·10^8 evenly spaced points of [−103.9, 88.7]; test/kernel-ops.test.ts
// re-measures a sweep and holds it to 1.5 ulp, the ops self-test to 2 ulp). Subnormal results are
// within one subnormal step. Special inputs: exp(−inf) = 0 and every x below −103.98 gives 0 (never
// NaN); exp(+inf) = +inf and every x above 88.73 gives +inf; NaN gives NaN.

const LOG2E: f32 = 1.44269504088896340736;
const LN2_HI: f32 = 0.693145751953125; // 0x3f317200: ln 2 rounded to 15 significant bits
const LN2_LO: f32 = 1.42860682030941723212e-6; // ln 2 − LN2_HI
const X_MAX: f32 = 89.0; // exp(89) > FLT_MAX: clamping here still gives +inf
const X_MIN: f32 = -104.0; // exp(-104) < 2^-150 (half the smallest subnormal): clamping here still gives 0

// 1/n! for the Taylor polynomial
const C2: f32 = 1.0 / 2.0;
const C3: f32 = 1.0 / 6.0;
const C4: f32 = 1.0 / 24.0;
const C5: f32 = 1.0 / 120.0;
const C6: f32 = 1.0 / 720.0;
const C7: f32 = 1.0 / 5040.0;

/** exp of each lane of an f32x4. */
@inline export function exp4(x: v128): v128 {
  // f32x4.min/max propagate NaN, so NaN lanes stay NaN through the clamp and the polynomial
  const xc = f32x4.max(f32x4.min(x, f32x4.splat(X_MAX)), f32x4.splat(X_MIN));
  const kf = f32x4.nearest(f32x4.mul(xc, f32x4.splat(LOG2E)));
  const r = f32x4.sub(f32x4.sub(xc, f32x4.mul(kf, f32x4.splat(LN2_HI))), f32x4.mul(kf, f32x4.splat(LN2_LO)));
  let p = f32x4.add(f32x4.mul(f32x4.splat(C7), r), f32x4.splat(C6));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(C5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(C4));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(C3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(C2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0));
  // 2^k in two halves; k is in [-150, 128] after the clamp, each half in [-75, 64]
  const k = i32x4.trunc_sat_f32x4_s(kf);
  const k1 = i32x4.shr_s(k, 1);
  const k2 = i32x4.sub(k, k1);
  const s1 = i32x4.shl(i32x4.add(k1, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(k2, i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

/** Scalar exp, bit for bit the same as one lane of exp4 (used for SIMD tails). */
@inline export function expf(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

/** silu(x) = x / (1 + exp(−x)) on each lane; silu(+inf) = +inf, silu(−inf) = −0, NaN stays NaN. */
@inline export function silu4(x: v128): v128 {
  // −inf would give −inf/inf = NaN; −FLT_MAX gives −FLT_MAX/inf = −0, the limit
  const g = f32x4.max(x, f32x4.splat(-3.40282346638528859812e38));
  return f32x4.div(g, f32x4.add(f32x4.splat(1.0), exp4(f32x4.neg(g))));
}

@inline export function siluf(x: f32): f32 {
  return f32x4.extract_lane(silu4(f32x4.splat(x)), 0);
}

// tanh for GeGLU's GELU and the logit soft-cap, from exp4: tanh |x| = 1 − 2/(exp(2|x|) + 1) from 0.25
// up (the subtraction loses at most 2 bits there), the odd Taylor polynomial to x¹³ below (its first
// omitted term, x¹⁵·929569/638512875, is under 2^-36 of x at 0.25), the sign put back. tanh(±inf) = ±1,
// NaN stays NaN. test/kernel-ops.test.ts measures it against Math.tanh.
const T3: f32 = -1.0 / 3.0;
const T5: f32 = 2.0 / 15.0;
const T7: f32 = -17.0 / 315.0;
const T9: f32 = 62.0 / 2835.0;
const T11: f32 = -1382.0 / 155925.0;
const T13: f32 = 21844.0 / 6081075.0;

/** tanh of each lane of an f32x4. */
@inline export function tanh4(x: v128): v128 {
  const sign = v128.and(x, i32x4.splat(0x80000000));
  const a = f32x4.abs(x);
  const big = f32x4.sub(f32x4.splat(1.0), f32x4.div(f32x4.splat(2.0), f32x4.add(exp4(f32x4.add(a, a)), f32x4.splat(1.0))));
  const a2 = f32x4.mul(a, a);
  let p = f32x4.add(f32x4.mul(f32x4.splat(T13), a2), f32x4.splat(T11));
  p = f32x4.add(f32x4.mul(p, a2), f32x4.splat(T9));
  p = f32x4.add(f32x4.mul(p, a2), f32x4.splat(T7));
  p = f32x4.add(f32x4.mul(p, a2), f32x4.splat(T5));
  p = f32x4.add(f32x4.mul(p, a2), f32x4.splat(T3));
  const small = f32x4.add(a, f32x4.mul(f32x4.mul(p, a2), a));
  // NaN lanes compare false and take `big`, which is NaN
  const t = v128.bitselect(small, big, f32x4.lt(a, f32x4.splat(0.25)));
  return v128.or(t, sign);
}

/** Scalar tanh, bit for bit one lane of tanh4. */
@inline export function tanhf1(x: f32): f32 {
  return f32x4.extract_lane(tanh4(f32x4.splat(x)), 0);
}
