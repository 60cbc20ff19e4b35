// Not a kernel family: a probe that test/kernel-f16.test.ts compiles on its own (asc, into a temporary
// directory) to hold every form of lib/f16.ts's conversion to the host's, on all 65536 halves. Each
// function converts n halves at src (u16) to floats at dst, or n floats to halves.
import {
  F16_BIAS, F16_EXP, F16_EXP1, F16_K112, F16_MS, F16_SPLIT, F32_EXP, f16_to_f32, f32_to_f16, finite_halves_s_to_f32x4,
  finite_halves_s_to_f32x4_k, finite_halves_s_to_f32x4_ns_k, halves_s_to_f32x4, halves_to_f32x4, halves_to_f32x4_k,
  placed_high, placed_low, placed_to_f32x4_k, split_high, split_low,
} from './f16';

export function scalar(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(dst + (<usize>i << 2), f16_to_f32(load<u16>(src + (<usize>i << 1))));
}

/**
 * form: 0 halves_to_f32x4, 1 halves_to_f32x4_k, 2 halves_s_to_f32x4, 3 finite_halves_s_to_f32x4, 4 finite_halves_s_to_f32x4_k,
 * 5 finite_halves_s_to_f32x4_ns_k (n a multiple of 4); 6 split_low..placed_high × 2^112 (finite), 7 the same completed by
 * placed_to_f32x4_k (n a multiple of 8).
 */
export function lanes(form: i32, src: usize, dst: usize, n: i32): void {
  const ms = i32x4.splat(F16_MS), k112 = i32x4.splat(F16_K112), e16 = i32x4.splat(F16_EXP), e32 = i32x4.splat(F32_EXP);
  if (form >= 6) {
    const split = i16x8.splat(<i16>F16_SPLIT);
    for (let i = 0; i < n; i += 8) {
      const h = v128.load(src + (<usize>i << 1));
      const lo = split_low(h), hi = split_high(h, split);
      const a = placed_low(lo, hi), b = placed_high(lo, hi);
      const d = dst + (<usize>i << 2);
      v128.store(d, form == 6 ? f32x4.mul(a, k112) : placed_to_f32x4_k(a, ms, k112, e16, e32));
      v128.store(d, form == 6 ? f32x4.mul(b, k112) : placed_to_f32x4_k(b, ms, k112, e16, e32), 16);
    }
    return;
  }
  for (let i = 0; i < n; i += 4) {
    const p = src + (<usize>i << 1);
    let v: v128;
    if (form == 0) v = halves_to_f32x4(v128.load16x4_u(p));
    else if (form == 1) v = halves_to_f32x4_k(v128.load16x4_u(p), ms, k112, e16, e32);
    else if (form == 2) v = halves_s_to_f32x4(v128.load16x4_s(p));
    else if (form == 3) v = finite_halves_s_to_f32x4(v128.load16x4_s(p));
    else if (form == 4) v = finite_halves_s_to_f32x4_k(v128.load16x4_s(p), ms, k112);
    else v = finite_halves_s_to_f32x4_ns_k(v128.load16x4_s(p), i32x4.splat(F16_BIAS), i32x4.splat(F16_EXP1));
    v128.store(dst + (<usize>i << 2), v);
  }
}

export function to_halves(src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<u16>(dst + (<usize>i << 1), <u16>f32_to_f16(load<f32>(src + (<usize>i << 2))));
}
