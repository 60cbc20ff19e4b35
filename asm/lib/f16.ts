// IEEE half <-> single precision without tables: the half's exponent and mantissa are moved into
// single-precision position and rescaled by 2^112 (127 - 15 = 112 exponent bias difference), which
// is exact for normal and subnormal halves alike.

@inline export function f16_to_f32(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  const em = h & 0x7fff;
  if (em >= 0x7c00) return reinterpret<f32>(sign | 0x7f800000 | ((em & 0x3ff) << 13)); // inf / nan
  return reinterpret<f32>(reinterpret<u32>(reinterpret<f32>(em << 13) * reinterpret<f32>(0x77800000)) | sign);
}

/** Four halves (in the low 16 bits of each i32 lane) to four floats, the same way. */
@inline export function f16x4_to_f32x4(h: v128): v128 {
  const sign = v128.and(i32x4.shl(h, 16), i32x4.splat(0x80000000));
  const em = v128.and(h, i32x4.splat(0x7fff));
  const scaled = f32x4.mul(i32x4.shl(em, 13), f32x4.splat(reinterpret<f32>(0x77800000)));
  const special = i32x4.ge_s(em, i32x4.splat(0x7c00));
  const infnan = v128.or(i32x4.splat(0x7f800000), i32x4.shl(v128.and(em, i32x4.splat(0x3ff)), 13));
  return v128.or(v128.bitselect(infnan, scaled, special), sign);
}

/** Round-to-nearest-even single -> half, as ggml's GGML_FP32_TO_FP16 (for f16 KV caches). */
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
