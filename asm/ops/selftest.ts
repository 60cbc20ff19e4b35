// `_start` of the ops module: its golden cases. Each kernel is checked against a scalar f64 version
// written here (on deterministic inputs, with odd sizes for the SIMD tails) and against constants the
// JS reference computed on the same inputs (asm/ops/goldens.ts). Scratch memory from SELFTEST_BASE up.
import { check, ensureMemory, finish, SELFTEST_BASE } from '../lib/selftest';
import { expf, exp4, siluf } from '../lib/math';
import { add, argmax, rmsnorm, rmsnorm_many, silu_mul, softmax, topk } from './kernels';
import { allClose, closeToGolden, fillUniform, sameBits } from './testkit';
import { ARGMAX_37, RMSNORM_37, SILU_MUL_37, SOFTMAX_37, TOPK_37 } from './goldens';

const REGION: usize = 64 << 10; // 64 KiB: room for 16384 floats
const X: usize = SELFTEST_BASE;
const Y: usize = X + REGION;
const Z: usize = Y + REGION;
const OUT: usize = Z + REGION;
const REF: usize = OUT + REGION;
const IDX: usize = REF + REGION;
const END: usize = IDX + REGION;

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
    rmsnorm(X, Y, OUT, n, 1e-5);
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
  check(ok, 'rmsnorm matches f64 on n = 1, 3, 5, 63, 4097');

  // three rows of 63 at once give the rows of three single calls, bit for bit
  fillUniform(X, 3 * 63, 7, 2);
  fillUniform(Y, 63, 8, 1);
  rmsnorm_many(X, Y, OUT, 63, 3, 1e-6);
  for (let t: usize = 0; t < 3; t++) rmsnorm(X + t * 252, Y, REF + t * 252, 63, 1e-6);
  check(sameBits(OUT, REF, 3 * 63), 'rmsnorm_many equals rmsnorm per row');

  // in place (out = x)
  fillUniform(X, 63, 9, 2);
  rmsnorm(X, Y, REF, 63, 1e-5);
  rmsnorm(X, Y, X, 63, 1e-5);
  check(sameBits(X, REF, 63), 'rmsnorm in place');

  const seed = fillUniform(X, 37, 1, 4);
  fillUniform(Y, 37, seed, 1);
  rmsnorm(X, Y, OUT, 37, 1e-5);
  check(closeToGolden(OUT, RMSNORM_37, 1e-6, 2e-6), 'rmsnorm matches the JS reference golden');
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

function checkSoftmax(): void {
  let ok = true;
  let sums = true;
  for (let s = 0; s < SIZES.length; s++) {
    const n = SIZES[s];
    fillUniform(X, n, <u32>(400 + n), 10);
    let m: f64 = -Infinity;
    for (let i = 0; i < n; i++) m = Math.max(m, <f64>load<f32>(X + (<usize>i << 2)));
    let sum: f64 = 0;
    for (let i = 0; i < n; i++) sum += Math.exp(<f64>load<f32>(X + (<usize>i << 2)) - m);
    for (let i = 0; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(REF + o, <f32>(Math.exp(<f64>load<f32>(X + o) - m) / sum));
    }
    softmax(X, n);
    // x − max is rounded to f32 (as in ggml): up to |x − max|·2^-24 relative on top of exp's 2 ulp
    ok = ok && allClose(X, REF, n, 1e-30, 3e-6);
    let total: f64 = 0;
    for (let i = 0; i < n; i++) total += <f64>load<f32>(X + (<usize>i << 2));
    sums = sums && Math.abs(total - 1) < 1e-5;
  }
  check(ok, 'softmax matches f64 on n = 1, 3, 5, 63, 4097');
  check(sums, 'softmax sums to 1');

  // −inf entries (masked logits) give exactly 0, the rest still sum to 1
  fillUniform(X, 63, 11, 4);
  for (let i: usize = 0; i < 63; i += 5) store<f32>(X + (i << 2), -Infinity);
  softmax(X, 63);
  let zeros = true;
  let total: f64 = 0;
  for (let i: usize = 0; i < 63; i++) {
    const p = load<f32>(X + (i << 2));
    if (i % 5 == 0) zeros = zeros && p == 0;
    else zeros = zeros && p > 0;
    total += <f64>p;
  }
  check(zeros && Math.abs(total - 1) < 1e-5, 'softmax gives 0 for -inf entries');

  fillUniform(X, 37, 3, 8);
  softmax(X, 37);
  check(closeToGolden(X, SOFTMAX_37, 1e-30, 3e-6), 'softmax matches the JS reference golden');
}

function checkArgmaxTopk(): void {
  // ties: the maximum 5 at indices 6, 9 (a SIMD lane each) and 66 (the tail): the first wins
  for (let i: usize = 0; i < 67; i++) store<f32>(X + (i << 2), <f32>(i % 7) * 0.5);
  store<f32>(X + (6 << 2), 5);
  store<f32>(X + (9 << 2), 5);
  store<f32>(X + (66 << 2), 5);
  check(argmax(X, 67) == 6, 'argmax returns the first of tied maxima');
  store<f32>(X + (66 << 2), 5.5);
  check(argmax(X, 67) == 66, 'argmax finds a maximum in the SIMD tail');
  store<f32>(X + (3 << 2), NaN);
  check(argmax(X, 67) == 66, 'argmax skips NaN');
  store<f32>(X, NaN);
  check(argmax(X, 67) == 0, 'argmax keeps a NaN at index 0, as the JS reference');
  store<f32>(X, -Infinity);
  for (let i: usize = 1; i < 5; i++) store<f32>(X + (i << 2), -Infinity);
  check(argmax(X, 5) == 0 && argmax(X, 1) == 0, 'argmax of all -inf is 0');

  fillUniform(X, 37, 4, 1);
  store<f32>(X + (5 << 2), 2);
  store<f32>(X + (20 << 2), 2);
  store<f32>(X + (30 << 2), 2);
  store<f32>(X + (11 << 2), 1.5);
  store<f32>(X + (33 << 2), 1.5);
  topk(X, 37, 6, IDX);
  let ok = true;
  for (let i = 0; i < TOPK_37.length; i++) ok = ok && load<i32>(IDX + (<usize>i << 2)) == TOPK_37[i];
  check(ok, 'topk matches the JS reference golden (ties by lower index)');
  check(argmax(X, 37) == ARGMAX_37, 'argmax matches the JS reference golden');

  // topk: k = 1 is argmax; k > n gives all n; NaN ranks last
  for (let n = 1; n < 70; n += 7) {
    fillUniform(X, n, <u32>(500 + n), 1);
    topk(X, n, 1, IDX);
    ok = ok && load<i32>(IDX) == argmax(X, n);
  }
  check(ok, 'topk with k = 1 is argmax');
  store<f32>(X, NaN);
  store<f32>(X + 4, 1);
  store<f32>(X + 8, -Infinity);
  topk(X, 3, 5, IDX);
  check(load<i32>(IDX) == 1 && load<i32>(IDX + 4) == 2 && load<i32>(IDX + 8) == 0, 'topk ranks NaN last and clamps k to n');
}

export function _start(): void {
  ensureMemory(END);
  checkExp();
  checkRmsnorm();
  checkSiluMul();
  checkAdd();
  checkSoftmax();
  checkArgmaxTopk();
  finish('ops');
}
