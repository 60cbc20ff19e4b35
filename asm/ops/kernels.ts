// The `ops` kernels (docs/KERNEL-ABI.md, ABI 2): RMSNorm, SiLU·mul, add, softmax, argmax, top-k.
// Pointers are byte offsets into the shared memory; every loop runs four lanes at a time and finishes
// the last n % 4 elements one by one, with the same arithmetic as a lane.
import { exp4, expf, hmax4, silu4, siluf } from '../lib/math';

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

/** out[i] = x[i] / sqrt(mean(x²) + eps) · w[i]. out may be x. */
export function rmsnorm(x: usize, w: usize, out: usize, n: i32, eps: f32): void {
  if (n <= 0) return;
  scaleMul(x, w, out, n, rmsScale(x, n, eps));
}

/** rmsnorm on nTok rows of n floats, back to back in x and out. */
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

/**
 * In-place softmax: x[i] = exp(x[i] − max) / Σ exp(x[j] − max), the sum in f64 (as ggml). −inf entries
 * give 0. A NaN anywhere, or every entry −inf, gives NaN everywhere (as the JS reference).
 */
export function softmax(x: usize, n: i32): void {
  if (n <= 0) return;
  let mv = f32x4.splat(-Infinity);
  let i = 0;
  for (; i + 4 <= n; i += 4) mv = f32x4.max(mv, v128.load(x + (<usize>i << 2)));
  let m = hmax4(mv);
  for (; i < n; i++) m = max<f32>(m, load<f32>(x + (<usize>i << 2)));

  const ms = f32x4.splat(m);
  let acc0 = f64x2.splat(0);
  let acc1 = f64x2.splat(0);
  i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = x + (<usize>i << 2);
    const e = exp4(f32x4.sub(v128.load(p), ms));
    v128.store(p, e);
    acc0 = f64x2.add(acc0, f64x2.promote_low_f32x4(e));
    acc1 = f64x2.add(acc1, f64x2.promote_low_f32x4(v128.shuffle<f32>(e, e, 2, 3, 0, 1)));
  }
  const acc = f64x2.add(acc0, acc1);
  let sum = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  for (; i < n; i++) {
    const p = x + (<usize>i << 2);
    const e = expf(load<f32>(p) - m);
    store<f32>(p, e);
    sum += <f64>e;
  }

  const inv = <f32>(1.0 / sum);
  const iv = f32x4.splat(inv);
  i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = x + (<usize>i << 2);
    v128.store(p, f32x4.mul(v128.load(p), iv));
  }
  for (; i < n; i++) {
    const p = x + (<usize>i << 2);
    store<f32>(p, load<f32>(p) * inv);
  }
}

/**
 * Index of the first maximum, exactly as the JS reference `argmax` (host/engine/sampler.ts): a strict
 * `>` scan from index 0, so NaN entries are never chosen, except that a NaN at index 0 is never
 * replaced. n <= 0 gives 0.
 */
export function argmax(x: usize, n: i32): i32 {
  if (n <= 1) return 0;
  const x0 = load<f32>(x);
  if (x0 != x0) return 0;
  // each lane keeps the first index of its own largest value (or index 0 while nothing beats x[0])
  let bestV = f32x4.splat(x0);
  let bestI = i32x4.splat(0);
  let idx = i32x4(0, 1, 2, 3);
  const four = i32x4.splat(4);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    const gt = f32x4.gt(v, bestV);
    bestV = v128.bitselect(v, bestV, gt);
    bestI = v128.bitselect(idx, bestI, gt);
    idx = i32x4.add(idx, four);
  }
  // across lanes: the largest value, and among equal values the lowest index
  let bv = f32x4.extract_lane(bestV, 0);
  let bi = i32x4.extract_lane(bestI, 0);
  let v = f32x4.extract_lane(bestV, 1);
  let j = i32x4.extract_lane(bestI, 1);
  if (v > bv || (v == bv && j < bi)) { bv = v; bi = j; }
  v = f32x4.extract_lane(bestV, 2);
  j = i32x4.extract_lane(bestI, 2);
  if (v > bv || (v == bv && j < bi)) { bv = v; bi = j; }
  v = f32x4.extract_lane(bestV, 3);
  j = i32x4.extract_lane(bestI, 3);
  if (v > bv || (v == bv && j < bi)) { bv = v; bi = j; }
  for (; i < n; i++) {
    v = load<f32>(x + (<usize>i << 2));
    if (v > bv) {
      bv = v;
      bi = i;
    }
  }
  return bi;
}

/** True when a ranks before b in top-k order: larger first, NaN after every number. */
@inline function ranksAbove(a: f32, b: f32): bool {
  return a > b || (a == a && b != b);
}

/**
 * Indices of the min(k, n) largest entries, largest first; equal values keep ascending index order and
 * NaN ranks below every number. Written to outIdx (i32 each). An insertion list in outIdx itself; once
 * it is full, four entries at a time are skipped while none beats the smallest kept one.
 */
export function topk(x: usize, n: i32, k: i32, outIdx: usize): void {
  if (k > n) k = n;
  if (k <= 0) return;
  let count = 0;
  let i = 0;
  while (i < n) {
    if (count == k && i + 4 <= n) {
      const last = load<f32>(x + (<usize>load<i32>(outIdx + (<usize>(k - 1) << 2)) << 2));
      if (last == last && !v128.any_true(f32x4.gt(v128.load(x + (<usize>i << 2)), f32x4.splat(last)))) {
        i += 4;
        continue;
      }
    }
    const v = load<f32>(x + (<usize>i << 2));
    let j = count;
    if (count == k) {
      const last = load<f32>(x + (<usize>load<i32>(outIdx + (<usize>(k - 1) << 2)) << 2));
      if (!ranksAbove(v, last)) {
        i++;
        continue;
      }
      j = k - 1;
    } else {
      count++;
    }
    // shift smaller entries down one slot and put i where it belongs
    while (j > 0) {
      const prev = load<i32>(outIdx + (<usize>(j - 1) << 2));
      if (!ranksAbove(v, load<f32>(x + (<usize>prev << 2)))) break;
      store<i32>(outIdx + (<usize>j << 2), prev);
      j--;
    }
    store<i32>(outIdx + (<usize>j << 2), i);
    i++;
  }
}
