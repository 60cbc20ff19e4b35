// JS reference of every `ops` kernel export (docs/KERNEL-ABI.md): plain f64 arithmetic on typed arrays,
// the oracle for the kernel tests, the ops self-test goldens and the registry's canary. Where the
// reference engine (host/engine/reference.ts) or the sampler already has the function, it is reused.
import { rmsnorm as engineRmsnorm, softmax as engineSoftmax } from '../../engine/reference.js';
import { argmax as samplerArgmax } from '../../engine/sampler.js';

/** out[i] = x[i] / sqrt(mean(x²) + eps) · w[i] over the first n entries. */
export function rmsnorm(x: Float32Array, w: Float32Array, out: Float32Array, n: number, eps: number): void {
  engineRmsnorm(out.subarray(0, n), x.subarray(0, n), w.subarray(0, n), eps);
}

/** rmsnorm of nTok rows of n floats each (back to back). */
export function rmsnormMany(x: Float32Array, w: Float32Array, out: Float32Array, n: number, nTok: number, eps: number): void {
  for (let t = 0; t < nTok; t++) rmsnorm(x.subarray(t * n), w, out.subarray(t * n), n, eps);
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

/** In-place softmax of the first n entries (−inf entries give 0). */
export function softmax(x: Float32Array, n: number): void {
  if (n > 0) engineSoftmax(x, n);
}

/** Index of the first maximum (a NaN is never chosen unless it is x[0]). */
export function argmax(x: Float32Array, n: number): number {
  return n <= 0 ? 0 : samplerArgmax(x.subarray(0, n));
}

/** Top-k order: larger first, NaN after every number, then ascending index. */
function topkOrder(x: Float32Array, a: number, b: number): number {
  const va = x[a];
  const vb = x[b];
  const na = Number.isNaN(va);
  const nb = Number.isNaN(vb);
  if (na !== nb) return na ? 1 : -1;
  if (!na && va !== vb) return vb > va ? 1 : -1;
  return a - b;
}

/** Indices of the min(k, n) largest of the first n entries, largest first; ties by lower index. */
export function topk(x: Float32Array, n: number, k: number): Int32Array {
  const ids = Array.from({ length: n }, (_, i) => i);
  ids.sort((a, b) => topkOrder(x, a, b));
  return Int32Array.from(ids.slice(0, Math.max(0, Math.min(k, n))));
}
