// JS reference of every `attn` kernel export (docs/KERNEL-ABI.md), in the kernels' memory layouts:
// head vectors [head][headDim], KV caches head-major [kvHead][cap][headDim] (f32, or f16 bits in a
// Uint16Array; cap = the positions the cache holds per head), RoPE driven by a per-position (cos, sin) table. The oracle for the kernel tests, the attn self-test
// goldens and the registry's canary; it reuses the reference engine's softmax.
import { softmax } from '../../engine/reference.js';
import { f16ToF32, f32ToF16 } from '../../model/ggml-types.js';
import { plainRope, ropeCosSin, ropeCosSinMany } from '../../model/llama/rope.js';

/**
 * The plain RoPE table of one position, as the host hands it to the `rope` kernels: ropeDim/2 pairs
 * (cos θ_i, sin θ_i), θ_i = pos · base^(−2i/ropeDim), in f32 as ggml computes it
 * (host/model/llama/rope.ts has the scaled and factored tables the engines use).
 */
export function ropeTable(pos: number, ropeDim: number, base: number): Float32Array {
  return ropeCosSin(plainRope(ropeDim, base), pos);
}

/** The tables of positions pos0 .. pos0 + nTok − 1, back to back (rows of ropeDim floats), for `rope_many`. */
export function ropeTableMany(pos0: number, nTok: number, ropeDim: number, base: number): Float32Array {
  return ropeCosSinMany(plainRope(ropeDim, base), pos0, nTok);
}

/**
 * RoPE in place on nHeads head vectors of x with one position's table cs. neox = false rotates
 * adjacent pairs (x[2i], x[2i+1]), true rotates halves (x[i], x[i + ropeDim/2]); dimensions past
 * ropeDim are left alone.
 */
function rope(x: Float32Array, cs: Float32Array, nHeads: number, headDim: number, ropeDim: number, neox: boolean): void {
  const half = ropeDim / 2;
  for (let h = 0; h < nHeads; h++) {
    const base = h * headDim;
    for (let i = 0; i < half; i++) {
      const cos = cs[2 * i];
      const sin = cs[2 * i + 1];
      const a = neox ? base + i : base + 2 * i;
      const b = neox ? a + half : a + 1;
      const x0 = x[a];
      const x1 = x[b];
      x[a] = x0 * cos - x1 * sin;
      x[b] = x0 * sin + x1 * cos;
    }
  }
}

/** rope_many: RoPE on nTok rows of nHeads·headDim floats; row t uses row t of cs (ropeDim floats). */
export function ropeMany(x: Float32Array, cs: Float32Array, nTok: number, nHeads: number, headDim: number, ropeDim: number, neox: boolean): void {
  const row = nHeads * headDim;
  for (let t = 0; t < nTok; t++) rope(x.subarray(t * row, (t + 1) * row), cs.subarray(t * ropeDim, (t + 1) * ropeDim), nHeads, headDim, ropeDim, neox);
}

/** Element index of KV head h's vector at position pos in a head-major cache of cap positions. */
export function kvIndex(h: number, pos: number, headDim: number, cap: number): number {
  return (h * cap + pos) * headDim;
}

/** Copies the nKvHeads·headDim floats of src (head h at h·headDim) to position pos of each head of an f32 cache. */
export function kvAppendF32(src: Float32Array, cache: Float32Array, pos: number, nKvHeads: number, headDim: number, cap: number): void {
  for (let h = 0; h < nKvHeads; h++) cache.set(src.subarray(h * headDim, (h + 1) * headDim), kvIndex(h, pos, headDim, cap));
}

/** Stores the nKvHeads·headDim floats of src as halves (round to nearest even) at position pos of each head of an f16 cache. */
export function kvAppendF16(src: Float32Array, cache: Uint16Array, pos: number, nKvHeads: number, headDim: number, cap: number): void {
  for (let h = 0; h < nKvHeads; h++) {
    const at = kvIndex(h, pos, headDim, cap);
    for (let i = 0; i < headDim; i++) cache[at + i] = f32ToF16(src[h * headDim + i]);
  }
}

/** The floats an f16 cache holds. */
export function halvesToF32(h: Uint16Array): Float32Array {
  return Float32Array.from(h, (b) => f16ToF32(b));
}

/** Shapes shared by the attention functions. */
export interface AttnShape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  scale: number;
}

/**
 * Attention of one query vector (q[qOff ..]) over positions [0, nPos) of KV head kvHead of head-major
 * caches of cap positions, as the reference engine does it: scores rounded to f32, softmax, f64
 * weighted sum of the values.
 */
function attendHead(q: Float32Array, qOff: number, kCache: Float32Array, vCache: Float32Array, out: Float32Array, kvHead: number, nPos: number, cap: number, s: AttnShape, first = 0): void {
  if (first + nPos > cap) throw new RangeError(`${first + nPos} positions do not fit a cache of ${cap}`);
  const kvOff = kvIndex(kvHead, first, s.headDim, cap);
  const scores = new Float32Array(nPos);
  for (let t = 0; t < nPos; t++) {
    let dot = 0;
    for (let i = 0; i < s.headDim; i++) dot += q[qOff + i] * kCache[kvOff + t * s.headDim + i];
    scores[t] = dot * s.scale;
  }
  softmax(scores, nPos);
  for (let i = 0; i < s.headDim; i++) {
    let acc = 0;
    for (let t = 0; t < nPos; t++) acc += scores[t] * vCache[kvOff + t * s.headDim + i];
    out[qOff + i] = acc;
  }
}

/**
 * attention_many_f32: causal prefill of nTok query rows; row t (position pos0 + t) sees positions
 * [0, pos0 + t] of caches of cap positions per head. Work items [w0, w1) index t·nHeads + h.
 */
export function attentionMany(q: Float32Array, kCache: Float32Array, vCache: Float32Array, out: Float32Array, s: AttnShape, nTok: number, pos0: number, cap: number, w0 = 0, w1 = nTok * s.nHeads): void {
  const group = s.nHeads / s.nKvHeads;
  for (let w = w0; w < w1; w++) {
    const t = Math.floor(w / s.nHeads);
    const h = w % s.nHeads;
    attendHead(q, w * s.headDim, kCache, vCache, out, Math.floor(h / group), pos0 + t + 1, cap, s);
  }
}

/**
 * attention_window_f32: attentionMany over a sliding window; row t (position p = pos0 + t) sees
 * positions [max(0, p − window + 1), p].
 */
export function attentionWindow(q: Float32Array, kCache: Float32Array, vCache: Float32Array, out: Float32Array, s: AttnShape, nTok: number, pos0: number, cap: number, window: number, w0 = 0, w1 = nTok * s.nHeads): void {
  const group = s.nHeads / s.nKvHeads;
  for (let w = w0; w < w1; w++) {
    const t = Math.floor(w / s.nHeads);
    const h = w % s.nHeads;
    const p = pos0 + t;
    const first = Math.max(0, p - window + 1);
    attendHead(q, w * s.headDim, kCache, vCache, out, Math.floor(h / group), p + 1 - first, cap, s, first);
  }
}

/** attention_window_f16: the same over an f16 cache. */
export function attentionWindowF16(q: Float32Array, kCache: Uint16Array, vCache: Uint16Array, out: Float32Array, s: AttnShape, nTok: number, pos0: number, cap: number, window: number, w0 = 0, w1 = nTok * s.nHeads): void {
  attentionWindow(q, halvesToF32(kCache), halvesToF32(vCache), out, s, nTok, pos0, cap, window, w0, w1);
}

/** attention_many_f16: the same over an f16 cache. */
export function attentionManyF16(q: Float32Array, kCache: Uint16Array, vCache: Uint16Array, out: Float32Array, s: AttnShape, nTok: number, pos0: number, cap: number, w0 = 0, w1 = nTok * s.nHeads): void {
  attentionMany(q, halvesToF32(kCache), halvesToF32(vCache), out, s, nTok, pos0, cap, w0, w1);
}
