// JS reference of every `ops` kernel export (docs/KERNEL-ABI.md): plain f64 arithmetic on typed arrays,
// the oracle for the kernel tests, the ops self-test goldens and the registry's canary. Where the
// reference engine (host/engine/reference.ts) already has the function, it is reused.
import { gelu, rmsnorm as engineRmsnorm } from '../../engine/reference.js';

/** rmsnorm_many: out[i] = x[i] / sqrt(mean(x²) + eps) · w[i] on each of nTok rows of n floats (back to back). */
export function rmsnormMany(x: Float32Array, w: Float32Array, out: Float32Array, n: number, nTok: number, eps: number): void {
  for (let t = 0; t < nTok; t++) engineRmsnorm(out.subarray(t * n, (t + 1) * n), x.subarray(t * n, (t + 1) * n), w.subarray(0, n), eps);
}

/** silu(x) = x / (1 + exp(−x)); its limits at ±inf (−inf gives −0 rather than −inf/inf = NaN). */
export function silu(x: number): number {
  if (x === -Infinity) return -0;
  return x / (1 + Math.exp(-x));
}

/** out = silu(gate) · up. */
export function siluMul(gate: Float32Array, up: Float32Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = silu(gate[i]) * up[i];
}

/** out = a + b. */
export function add(a: Float32Array, b: Float32Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/** out = gelu(gate) · up: gemma's GeGLU, GELU as ggml's CPU backend computes it (through f16; the reference engine's gelu). */
export function geluMul(gate: Float32Array, up: Float32Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = gelu(gate[i]) * up[i];
}

/** out = x · s. */
export function scale(x: Float32Array, out: Float32Array, n: number, s: number): void {
  for (let i = 0; i < n; i++) out[i] = x[i] * s;
}

/** out = cap · tanh(x / cap). */
export function softcap(x: Float32Array, out: Float32Array, n: number, cap: number): void {
  for (let i = 0; i < n; i++) out[i] = cap * Math.tanh(x[i] / cap);
}
