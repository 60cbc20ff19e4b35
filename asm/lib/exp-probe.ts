// Not a kernel family: a probe that test/kernel-ops.test.ts compiles on its own (asc, into a temporary
// directory) to measure asm/lib/math.ts's exp and silu against Math.exp, lane by lane, over sweeps.
import { exp4, expf, silu4, siluf, tanh4, tanhf1 } from '../lib/math';

/** out[i] = exp(x[i]); four lanes at a time, the n % 4 tail through the scalar path. */
export function exp_array(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), exp4(v128.load(x + (<usize>i << 2))));
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), expf(load<f32>(x + (<usize>i << 2))));
}

/** out[i] = silu(x[i]), the same way. */
export function silu_array(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), silu4(v128.load(x + (<usize>i << 2))));
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), siluf(load<f32>(x + (<usize>i << 2))));
}

/** out[i] = tanh(x[i]), the same way. */
export function tanh_array(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), tanh4(v128.load(x + (<usize>i << 2))));
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), tanhf1(load<f32>(x + (<usize>i << 2))));
}
