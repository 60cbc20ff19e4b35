// The `ops` kernels (docs/KERNEL-ABI.md): RMSNorm, SiLU·mul, GELU·mul, add, scale, soft-cap.
// Pointers are byte offsets into the shared memory; every loop runs four lanes at a time and finishes
// the last n % 4 elements one by one, with the same arithmetic as a lane.
import { f16_to_f32, f32_to_f16 } from '../lib/f16';
import { silu4, siluf, tanh4, tanhf1 } from '../lib/math';

/** 1 / sqrt(mean(x²) + eps) as ggml computes it: f32 squares summed in f64, mean and root in f32. */
@inline function rmsScale(x: usize, n: i32, eps: f32): f32 {
  let acc0 = f64x2.splat(0);
  let acc1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    const sq = f32x4.mul(v, v);
    acc0 = f64x2.add(acc0, f64x2.promote_low_f32x4(sq));
    acc1 = f64x2.add(acc1, f64x2.promote_low_f32x4(v128.shuffle<f32>(sq, sq, 2, 3, 0, 1)));
  }
  const acc = f64x2.add(acc0, acc1);
  let sum = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    sum += <f64>(v * v);
  }
  const mean = <f32>(sum / <f64>n);
  return <f32>1.0 / sqrt<f32>(mean + eps);
}

/** out = (x · scale) · w, elementwise. */
@inline function scaleMul(x: usize, w: usize, out: usize, n: i32, scale: f32): void {
  const s = f32x4.splat(scale);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(f32x4.mul(v128.load(x + o), s), v128.load(w + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(x + o) * scale * load<f32>(w + o));
  }
}

/** out[i] = x[i] / sqrt(mean(x²) + eps) · w[i] on nTok rows of n floats, back to back in x and out. out may be x. */
export function rmsnorm_many(x: usize, w: usize, out: usize, n: i32, nTok: i32, eps: f32): void {
  if (n <= 0) return;
  const rowBytes = <usize>n << 2;
  for (let t = 0; t < nTok; t++) {
    const off = <usize>t * rowBytes;
    scaleMul(x + off, w, out + off, n, rmsScale(x + off, n, eps));
  }
}

/** out = silu(gate) · up, silu(g) = g / (1 + exp(−g)). out may be gate or up. */
export function silu_mul(gate: usize, up: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(silu4(v128.load(gate + o)), v128.load(up + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, siluf(load<f32>(gate + o)) * load<f32>(up + o));
  }
}

/** out = a + b. out may be a or b. */
export function add(a: usize, b: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

/** out = x · s. out may be x. */
export function scale(x: usize, out: usize, n: i32, s: f32): void {
  const sv = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(v128.load(x + o), sv));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(x + o) * s);
  }
}

/** out = cap · tanh(x / cap) (final logit soft-capping, as ggml: a scale, tanh, a scale). out may be x. */
export function softcap(x: usize, out: usize, n: i32, cap: f32): void {
  const inv = <f32>1.0 / cap;
  const iv = f32x4.splat(inv);
  const cv = f32x4.splat(cap);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(tanh4(f32x4.mul(v128.load(x + o), iv)), cv));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, tanhf1(load<f32>(x + o) * inv) * cap);
  }
}

const SQRT_2_OVER_PI: f32 = 0.79788456080286535587989211986876;
const GELU_COEF_A: f32 = 0.044715;

/**
 * GELU (tanh form) of x as ggml's CPU backend computes it in a GeGLU: through its f16 table, i.e. x
 * rounded to f16, 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²))) in f32 in ggml's order, rounded to f16;
 * 0 for x ≤ −10 and x itself for x ≥ 10 (NaN stays NaN).
 */
@inline function geluF16(x: f32): f32 {
  if (x <= -10.0) return 0;
  if (x >= 10.0) return x;
  const h = f16_to_f32(f32_to_f16(x));
  const y = <f32>0.5 * h * (<f32>1.0 + tanhf1(SQRT_2_OVER_PI * h * (<f32>1.0 + GELU_COEF_A * h * h)));
  return f16_to_f32(f32_to_f16(y));
}

/** out = gelu(gate) · up (gemma's GeGLU), gelu as geluF16. out may be gate or up. */
export function gelu_mul(gate: usize, up: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, geluF16(load<f32>(gate + o)) * load<f32>(up + o));
  }
}
