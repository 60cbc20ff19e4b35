// `_start` of the ops module: its golden cases, run on the kernel set of the flavour being built
// (./flavour). Each kernel is checked against a scalar f64 version
// written here (on deterministic inputs, with odd sizes for the SIMD tails) and against constants the
// JS reference computed on the same inputs (asm/ops/goldens.ts). Scratch memory from SELFTEST_BASE up.
import { check, ensureMemory, finish, SELFTEST_BASE } from '../lib/selftest';
import { f16_to_f32, f32_to_f16 } from '../lib/f16';
import { expf, exp4, siluf, tanh4, tanhf1 } from '../lib/math';
import { add, gelu_mul, rmsnorm_many, scale, silu_mul, softcap } from './flavour';
import { allClose, closeToGolden, fillUniform, sameBits } from '../lib/testkit';
import { GELU_MUL_37, RMSNORM_37, SILU_MUL_37, SOFTCAP_37 } from './goldens';

const REGION: usize = 64 << 10; // 64 KiB: room for 16384 floats
const X: usize = SELFTEST_BASE;
const Y: usize = X + REGION;
const Z: usize = Y + REGION;
const OUT: usize = Z + REGION;
const REF: usize = OUT + REGION;
const END: usize = REF + REGION;

const SIZES: StaticArray<i32> = [1, 3, 5, 63, 4097];

/** exp against f64 Math.exp: within 2 ulp (relative 2.4e-7) of normal results, 1 subnormal step below. */
function checkExp(): void {
  let ok = true;
  // a sweep of [-104, 89] with an odd step, so the points fall everywhere in the reduced range
  for (let i = 0; i <= 193000; i++) {
    const x = <f32>(-104.0 + <f64>i * 0.001000037);
    const want = Math.exp(<f64>x);
    const got = <f64>expf(x);
    if (want > 3.4028234663852886e38) ok = ok && got == Infinity;
    else if (want >= 1.1754943508222875e-38) ok = ok && Math.abs(got - want) <= 2.4e-7 * want;
    else ok = ok && Math.abs(got - want) <= 1.401298464324817e-45;
  }
  check(ok, 'exp within 2 ulp of f64 exp over [-104, 89]');
  check(expf(-Infinity) == 0 && expf(-1000) == 0 && expf(-104) == 0, 'exp of large negative inputs is 0');
  check(expf(Infinity) == Infinity && expf(89) == Infinity && expf(1000) == Infinity, 'exp of large positive inputs is +inf');
  const nan = expf(NaN);
  check(nan != nan, 'exp(NaN) is NaN');
  check(expf(0) == 1 && expf(-0.0) == 1, 'exp(0) is exactly 1');
  // the four lanes of exp4 agree with the scalar path
  const v = exp4(f32x4(-3.5, 0.25, 10.0, -80.0));
  check(f32x4.extract_lane(v, 0) == expf(-3.5) && f32x4.extract_lane(v, 1) == expf(0.25) &&
    f32x4.extract_lane(v, 2) == expf(10.0) && f32x4.extract_lane(v, 3) == expf(-80.0), 'exp4 lanes equal scalar exp');
}

function checkRmsnorm(): void {
  let ok = true;
  for (let s = 0; s < SIZES.length; s++) {
    const n = SIZES[s];
    const seed = fillUniform(X, n, <u32>(100 + n), 3);
    fillUniform(Y, n, seed, 1);
    rmsnorm_many(X, Y, OUT, n, 1, 1e-5);
    let ss: f64 = 0;
    for (let i = 0; i < n; i++) {
      const x = <f64>load<f32>(X + (<usize>i << 2));
      ss += x * x;
    }
    const scale = 1 / Math.sqrt(ss / <f64>n + <f64><f32>1e-5);
    for (let i = 0; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(REF + o, <f32>(<f64>load<f32>(X + o) * scale * <f64>load<f32>(Y + o)));
    }
    ok = ok && allClose(OUT, REF, n, 1e-6, 2e-6);
  }
  check(ok, 'rmsnorm_many (one row) matches f64 on n = 1, 3, 5, 63, 4097');

  // three rows of 63 at once give the rows of three one-row calls, bit for bit
  fillUniform(X, 3 * 63, 7, 2);
  fillUniform(Y, 63, 8, 1);
  rmsnorm_many(X, Y, OUT, 63, 3, 1e-6);
  for (let t: usize = 0; t < 3; t++) rmsnorm_many(X + t * 252, Y, REF + t * 252, 63, 1, 1e-6);
  check(sameBits(OUT, REF, 3 * 63), 'rmsnorm_many over several rows equals one row at a time');

  // in place (out = x)
  fillUniform(X, 2 * 63, 9, 2);
  rmsnorm_many(X, Y, REF, 63, 2, 1e-5);
  rmsnorm_many(X, Y, X, 63, 2, 1e-5);
  check(sameBits(X, REF, 2 * 63), 'rmsnorm_many in place');

  const seed = fillUniform(X, 37, 1, 4);
  fillUniform(Y, 37, seed, 1);
  rmsnorm_many(X, Y, OUT, 37, 1, 1e-5);
  check(closeToGolden(OUT, RMSNORM_37, 1e-6, 2e-6), 'rmsnorm_many matches the JS reference golden');
}

function checkSiluMul(): void {
  let ok = true;
  for (let s = 0; s < SIZES.length; s++) {
    const n = SIZES[s];
    const seed = fillUniform(X, n, <u32>(200 + n), 16);
    fillUniform(Y, n, seed, 2);
    silu_mul(X, Y, OUT, n);
    for (let i = 0; i < n; i++) {
      const o = <usize>i << 2;
      const g = <f64>load<f32>(X + o);
      store<f32>(REF + o, <f32>(g / (1 + Math.exp(-g)) * <f64>load<f32>(Y + o)));
    }
    ok = ok && allClose(OUT, REF, n, 1e-30, 1e-6);
  }
  check(ok, 'silu_mul matches f64 on n = 1, 3, 5, 63, 4097');
  check(siluf(Infinity) == Infinity && siluf(100) == 100 && siluf(1e30) == 1e30, 'silu(x) = x for large x and +inf');
  check(siluf(-Infinity) == 0 && siluf(-1000) == 0, 'silu of large negative inputs is 0, not NaN');
  const nan = siluf(NaN);
  check(nan != nan, 'silu(NaN) is NaN');

  const seed = fillUniform(X, 37, 2, 16);
  fillUniform(Y, 37, seed, 2);
  silu_mul(X, Y, OUT, 37);
  check(closeToGolden(OUT, SILU_MUL_37, 1e-30, 1e-6), 'silu_mul matches the JS reference golden');
}

function checkAdd(): void {
  let ok = true;
  for (let s = 0; s < SIZES.length; s++) {
    const n = SIZES[s];
    const seed = fillUniform(X, n, <u32>(300 + n), 5);
    fillUniform(Y, n, seed, 5);
    add(X, Y, OUT, n);
    for (let i = 0; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(REF + o, load<f32>(X + o) + load<f32>(Y + o));
    }
    ok = ok && sameBits(OUT, REF, n);
    add(X, Y, X, n); // in place
    ok = ok && sameBits(X, REF, n);
  }
  check(ok, 'add is exact on n = 1, 3, 5, 63, 4097, also in place');
}

function checkTanh(): void {
  let ok = true;
  // a sweep of [-12, 12] through the polynomial, the exp form and the saturated range
  for (let i = 0; i <= 240000; i++) {
    const x = <f32>(-12.0 + <f64>i * 0.0001000037);
    const want = Math.tanh(<f64>x);
    ok = ok && Math.abs(<f64>tanhf1(x) - want) <= 4e-7 * Math.abs(want) + 1e-45;
  }
  check(ok, 'tanh within 4e-7 relative of f64 tanh over [-12, 12]');
  check(tanhf1(Infinity) == 1 && tanhf1(-Infinity) == -1 && tanhf1(0) == 0, 'tanh(±inf) = ±1, tanh(0) = 0');
  const nan = tanhf1(NaN);
  check(nan != nan, 'tanh(NaN) is NaN');
  const v = tanh4(f32x4(-3.5, 0.125, 0.3, -80.0));
  check(f32x4.extract_lane(v, 0) == tanhf1(-3.5) && f32x4.extract_lane(v, 1) == tanhf1(0.125) &&
    f32x4.extract_lane(v, 2) == tanhf1(0.3) && f32x4.extract_lane(v, 3) == tanhf1(-80.0), 'tanh4 lanes equal scalar tanh');
}

/** ggml's GELU through f16: f32 arithmetic in ggml's order, with f64 tanh rounded to f32 (libm's tanhf). */
function geluRef(x: f32): f64 {
  if (x <= -10.0) return 0;
  if (x >= 10.0) return <f64>x;
  const h = f16_to_f32(f32_to_f16(x));
  const inner = <f32>0.7978845608028654 * h * (<f32>1.0 + <f32>0.044715 * h * h);
  const y = <f32>0.5 * h * (<f32>1.0 + <f32>Math.tanh(<f64>inner));
  return <f64>f16_to_f32(f32_to_f16(y));
}

function checkGeluMul(): void {
  let ok = true;
  for (let s = 0; s < SIZES.length; s++) {
    const n = SIZES[s];
    const seed = fillUniform(X, n, <u32>(500 + n), 12);
    fillUniform(Y, n, seed, 2);
    gelu_mul(X, Y, OUT, n);
    for (let i = 0; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(REF + o, <f32>(geluRef(load<f32>(X + o)) * <f64>load<f32>(Y + o)));
    }
    // one f16 step of the GELU where the f32 tanh and f64's round to different halves
    ok = ok && allClose(OUT, REF, n, 1e-30, 1e-3);
  }
  check(ok, 'gelu_mul matches f64 GELU through f16 on n = 1, 3, 5, 63, 4097');
  store<f32>(X, -10.0);
  store<f32>(X, 10.0, 4);
  store<f32>(X, 1e30, 8);
  store<f32>(X, -Infinity, 12);
  for (let i = 0; i < 4; i++) store<f32>(Y + (<usize>i << 2), 1);
  gelu_mul(X, Y, OUT, 4);
  check(load<f32>(OUT) == 0 && load<f32>(OUT, 4) == 10 && load<f32>(OUT, 8) == 1e30 && load<f32>(OUT, 12) == 0, 'gelu is 0 from -10 down and x from 10 up');

  const seed = fillUniform(X, 37, 3, 12);
  fillUniform(Y, 37, seed, 2);
  gelu_mul(X, Y, OUT, 37);
  check(closeToGolden(OUT, GELU_MUL_37, 1e-30, 1e-3), 'gelu_mul matches the JS reference golden');
}

function checkSoftcapScale(): void {
  let ok = true;
  let exact = true;
  for (let s = 0; s < SIZES.length; s++) {
    const n = SIZES[s];
    fillUniform(X, n, <u32>(600 + n), 80);
    softcap(X, OUT, n, 30);
    scale(X, REF, n, 0.375);
    for (let i = 0; i < n; i++) {
      const x = <f64>load<f32>(X + (<usize>i << 2));
      ok = ok && Math.abs(<f64>load<f32>(OUT + (<usize>i << 2)) - 30 * Math.tanh(x / 30)) <= 6e-7 * Math.abs(30 * Math.tanh(x / 30)) + 1e-30;
      exact = exact && load<f32>(REF + (<usize>i << 2)) == load<f32>(X + (<usize>i << 2)) * <f32>0.375;
    }
  }
  check(ok, 'softcap matches f64 cap·tanh(x/cap) on n = 1, 3, 5, 63, 4097');
  check(exact, 'scale is exact on n = 1, 3, 5, 63, 4097');
  fillUniform(X, 37, 4, 80);
  softcap(X, OUT, 37, 30);
  check(closeToGolden(OUT, SOFTCAP_37, 1e-30, 6e-7), 'softcap matches the JS reference golden');
}

export function _start(): void {
  ensureMemory(END);
  checkExp();
  checkTanh();
  checkRmsnorm();
  checkSiluMul();
  checkGeluMul();
  checkSoftcapScale();
  checkAdd();
  finish('ops');
}
