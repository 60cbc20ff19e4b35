// RoPE as llama.cpp applies it: from the file's keys to each layer's rotation angles. The scaling
// llama.cpp knows (rope.scaling.type: linear, yarn, longrope), the frequency factors it takes from a
// tensor (llama 3's rope_freqs.weight, phi3's rope_factors_long/short), and the magnitude it puts on
// cos and sin (YaRN's, phi3's attention factor) all end in one table per position: dim/2 pairs
// (cos θ_i · m, sin θ_i · m), computed in f32 the way ggml's rope cache is (ggml-cpu/ops.cpp
// ggml_rope_cache_init, rope_yarn; the context-time factors from llama-context.cpp). Every engine
// rotates by this table: the reference engine, the wasm `rope_many` kernel, the ONNX RotaryEmbedding.
const f = Math.fround;

/** RoPE scaling as the file states it (what llama.cpp reads at load and at context creation). */
export interface RopeScaling {
  /** rope.scaling.type; llama.cpp's default is 'linear', which with no factor scales nothing. */
  type: 'none' | 'linear' | 'yarn' | 'longrope';
  /** 1 / rope.scaling.factor (positions are multiplied by it: linear and YaRN interpolation). */
  freqScale: number;
  /** YaRN's mix of interpolated and extrapolated angles: 1 for yarn, else 0 (llama.cpp reads no key for these architectures). */
  extFactor: number;
  /** The magnitude cos and sin are multiplied by before YaRN's own: llama.cpp's yarn_attn_factor after its context-time corrections. */
  attnFactor: number;
  betaFast: number;
  betaSlow: number;
  /** rope.scaling.original_context_length (else the context length): YaRN's correction dims, longrope's choice of factors. */
  origContext: number;
  /** Frequency factors in the file: one tensor (llama 3), or phi3's short and long pair (long when the context is longer than origContext). */
  factors?: { tensor: string } | { short: string; long: string };
}

export const NO_ROPE_SCALING: Readonly<RopeScaling> = { type: 'none', freqScale: 1, extFactor: 0, attnFactor: 1, betaFast: 32, betaSlow: 1, origContext: 0 };

/** llama.cpp's rope.scaling.type names. */
export const ROPE_SCALING_TYPES = ['none', 'linear', 'yarn', 'longrope'] as const;

/**
 * The scaling llama.cpp derives from the file's keys: `factor` (rope.scaling.factor, 0 when absent),
 * `attnFactor` (rope.scaling.attn_factor, 1 when absent). As llama_context does it: a 'none' type never
 * scales; YaRN's magnitude get_mscale(factor) is divided back out here and applied again per angle
 * (rope_yarn), so the net magnitude is (1 + 0.1·ln factor) · attnFactor.
 */
export function ropeScaling(type: RopeScaling['type'], factor: number, attnFactor: number, origContext: number, factors?: RopeScaling['factors']): RopeScaling {
  const freqScale = type === 'none' || factor === 0 ? 1 : f(1 / factor);
  const extFactor = type === 'yarn' ? 1 : 0;
  let attn = 1;
  if (extFactor !== 0) {
    const s = f(1 / freqScale);
    const mscale = s <= 1 ? 1 : f(f(0.1 * f(Math.log(s))) + 1);
    attn = f(mscale * f(1 / f(1 + f(0.1 * f(Math.log(s))))));
  }
  return { type, freqScale, extFactor, attnFactor: f(attn * attnFactor), betaFast: 32, betaSlow: 1, origContext, ...(factors ? { factors } : {}) };
}

/** One layer's RoPE, resolved: what its (cos, sin) table is computed from. */
export interface LayerRope {
  /** Dimensions rotated (rope.dimension_count): dim/2 pairs. */
  dim: number;
  base: number;
  freqScale: number;
  extFactor: number;
  attnFactor: number;
  /** YaRN's correction range [low, high] of pair indices. */
  corrDims: [number, number];
  /** Per-pair divisors of the angle (dim/2 of them), or none. */
  factors?: Float32Array;
}

/** ggml_rope_yarn_corr_dim: the pair index where `nRot` rotations fit the original context. */
function corrDim(dim: number, origContext: number, nRot: number, base: number): number {
  return f(f(dim * f(Math.log(f(origContext / f(nRot * 2 * f(Math.PI)))))) / f(2 * f(Math.log(base))));
}

/** A layer's RoPE from the scaling, its base and scale (a sliding layer's may differ), and the frequency factors (if the file has them). */
export function layerRope(dim: number, base: number, freqScale: number, s: RopeScaling, factors?: Float32Array): LayerRope {
  if (factors && factors.length < dim / 2) throw new Error(`RoPE frequency factors: ${factors.length} values, ${dim / 2} rotated pairs need one each`);
  // YaRN's ramp (only YaRN reads it; llama.cpp computes it for every RoPE)
  const corrDims: [number, number] = s.extFactor === 0 ? [0, dim - 1] : [Math.max(0, Math.floor(corrDim(dim, s.origContext, s.betaFast, base))), Math.min(dim - 1, Math.ceil(corrDim(dim, s.origContext, s.betaSlow, base)))];
  return {
    dim,
    base,
    freqScale,
    extFactor: s.extFactor,
    attnFactor: s.attnFactor,
    corrDims,
    ...(factors ? { factors: factors.subarray(0, dim / 2) } : {}),
  };
}

/** The same layer RoPE (sliding and full layers often share one): one table serves both. */
export function sameRope(a: LayerRope, b: LayerRope): boolean {
  return a.dim === b.dim && a.base === b.base && a.freqScale === b.freqScale && a.extFactor === b.extFactor && a.attnFactor === b.attnFactor && a.factors === b.factors;
}

/**
 * The (cos, sin) pairs of one position: out[2i] = cos θ_i · m, out[2i+1] = sin θ_i · m, where
 * θ_i = pos · base^(−2i/dim) (by repeated f32 multiplication, as ggml) over factor_i, mixed between
 * interpolated (· freqScale) and extrapolated by YaRN's ramp, and m the magnitude.
 */
export function ropeCosSin(r: LayerRope, pos: number, out: Float32Array = new Float32Array(r.dim)): Float32Array {
  const thetaScale = f(Math.pow(r.base, f(-2 / r.dim)));
  let theta = f(pos);
  for (let i = 0; i < r.dim / 2; i++) {
    const extrap = r.factors ? f(theta / r.factors[i]) : theta;
    const interp = f(r.freqScale * extrap);
    let angle = interp;
    let m = r.attnFactor;
    if (r.extFactor !== 0) {
      const y = f(f(i - r.corrDims[0]) / Math.max(0.001, f(r.corrDims[1] - r.corrDims[0])));
      const mix = f(f(1 - Math.min(1, Math.max(0, y))) * r.extFactor);
      angle = f(f(interp * f(1 - mix)) + f(extrap * mix));
      m = f(m * f(1 + f(0.1 * f(Math.log(f(1 / r.freqScale))))));
    }
    out[2 * i] = f(f(Math.cos(angle)) * m);
    out[2 * i + 1] = f(f(Math.sin(angle)) * m);
    theta = f(theta * thetaScale);
  }
  return out;
}

/** The tables of positions pos0 .. pos0 + n − 1, back to back (rows of dim floats): what `rope_many` reads. */
export function ropeCosSinMany(r: LayerRope, pos0: number, n: number): Float32Array {
  const out = new Float32Array(n * r.dim);
  for (let t = 0; t < n; t++) ropeCosSin(r, pos0 + t, out.subarray(t * r.dim, (t + 1) * r.dim));
  return out;
}

/** Plain RoPE (no scaling, no factors) of `dim` dimensions at `base`. */
export function plainRope(dim: number, base: number): LayerRope {
  return { dim, base, freqScale: 1, extFactor: 0, attnFactor: 1, corrDims: [0, dim - 1] };
}
