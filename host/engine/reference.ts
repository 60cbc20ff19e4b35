// The reference engine: a plain f32 forward pass for llama-family models, written to be read
// beside the paper (and llama2.c's run.c). It is the oracle every kernel and backend is checked
// against, so it favours clarity over speed: no SIMD, no threads, float64 accumulators.
//
// One block is llama's, with each architecture's differences as config fields (host/model/llama/):
//   x = embed(token) · embedScale                                          (gemma: √dim)
//   per layer:  h = rmsnorm(x)
//               q, k, v = Wq·h (+bq), Wk·h (+bk), Wv·h (+bv)              (qwen2: biases)
//               q, k = rmsnorm per head (qNorm, kNorm)                     (qwen3, gemma3)
//               q, k = RoPE(q), RoPE(k)      the layer's table: scaling, frequency factors, local base
//               a = Wo·attention(q, K, V)    causal, over the sliding window on sliding layers (gemma3)
//               x = x + rmsnorm(a) or x + a                                (gemma3: post-attention norm)
//               h = rmsnorm(x)
//               f = Wdown·(act(Wgate·h) ⊙ Wup·h)     act: SiLU, or gemma's GELU (ggml's, through f16)
//               x = x + rmsnorm(f) or x + f                                (gemma3: post-FFN norm)
//   logits = Wout·rmsnorm(x), soft-capped c·tanh(logits/c)                 (when the file sets c)
import { defaultContextSize, isSlidingLayer, type LlamaConfig } from '../model/llama/config.js';
import { layerRope, plainRope, ropeCosSin, type LayerRope } from '../model/llama/rope.js';
import type { LayerTensors, ModelTensors } from '../model/llama/tensors.js';
import { f16ToF32, f32ToF16 } from '../model/ggml-types.js';

/**
 * One block's f32 weights (host/model/llama/tensors.ts names them), row-major, one row per output:
 * attnNorm [dim]; wq [nHeads·headDim, dim]; wk, wv [nKvHeads·headDim, dim]; optional QKV biases
 * bq, bk, bv (qwen2); optional qNorm, kNorm [headDim]; wo [dim, nHeads·headDim]; optional
 * attnPostNorm [dim]; ffnNorm [dim]; wGate, wUp [ffnDim, dim]; wDown [dim, ffnDim]; optional ffnPostNorm [dim].
 */
export type LayerWeights = LayerTensors<Float32Array>;

/** tokenEmbd [vocab, dim], layers, outputNorm [dim], output [vocab, dim] (the same array as tokenEmbd when tied), optional RoPE factors [ropeDim/2]. */
export type LlamaWeights = ModelTensors<Float32Array>;

/** The KV cache and scratch buffers of one sequence. */
export class RunState {
  readonly keys: Float32Array[]; // per layer [maxSeq, nKvHeads*headDim]
  readonly values: Float32Array[];
  readonly logits: Float32Array;
  constructor(readonly config: LlamaConfig, readonly maxSeq: number) {
    const kvDim = config.nKvHeads * config.headDim;
    this.keys = Array.from({ length: config.nLayers }, () => new Float32Array(maxSeq * kvDim));
    this.values = Array.from({ length: config.nLayers }, () => new Float32Array(maxSeq * kvDim));
    this.logits = new Float32Array(config.vocabSize);
  }
}

// ---- the neural net blocks ---------------------------------------------------------------

export function rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, eps: number): void {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const scale = 1 / Math.sqrt(ss / x.length + eps);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * scale * weight[i];
}

/** out[r] = sum_c w[r*cols + c] * x[c]: one dot product per output row. */
export function matmul(out: Float32Array, x: Float32Array, w: Float32Array, rows: number, cols: number, bias?: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    const base = r * cols;
    for (let c = 0; c < cols; c++) sum += w[base + c] * x[c];
    out[r] = bias ? sum + bias[r] : sum;
  }
}

export function softmax(x: Float32Array, n = x.length): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (x[i] > max) max = x[i];
  let sum = 0;
  for (let i = 0; i < n; i++) {
    x[i] = Math.exp(x[i] - max);
    sum += x[i];
  }
  for (let i = 0; i < n; i++) x[i] /= sum;
}

/**
 * Rotates one head vector in place by one position's (cos, sin) pairs (host/model/llama/rope.ts).
 * 'normal' rotates adjacent pairs (x[2i], x[2i+1]); 'neox' rotates (x[i], x[i + ropeDim/2]).
 * Dimensions past ropeDim are left alone.
 */
export function rotate(vec: Float32Array, offset: number, cs: Float32Array, ropeDim: number, style: 'normal' | 'neox'): void {
  const half = ropeDim / 2;
  for (let i = 0; i < half; i++) {
    const cos = cs[2 * i];
    const sin = cs[2 * i + 1];
    const a = style === 'normal' ? offset + 2 * i : offset + i;
    const b = style === 'normal' ? a + 1 : a + half;
    const x0 = vec[a];
    const x1 = vec[b];
    vec[a] = x0 * cos - x1 * sin;
    vec[b] = x0 * sin + x1 * cos;
  }
}

/** Plain RoPE (θ_i = pos · base^(−2i/ropeDim)) on one head vector, in place. */
export function rope(vec: Float32Array, offset: number, pos: number, ropeDim: number, base: number, style: 'normal' | 'neox'): void {
  rotate(vec, offset, ropeCosSin(plainRope(ropeDim, base), pos), ropeDim, style);
}

export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/**
 * GELU (tanh form) as ggml's CPU backend computes it in a GeGLU: x rounded to f16, then
 * 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²))) in f32 arithmetic in ggml's order, rounded to f16 (its
 * 64K-entry table); 0 from −10 down and x from 10 up. In f32 because where 1 + tanh cancels (x < −3)
 * the f32 result is what ggml's table holds, and f64 would round to another half.
 */
const GELU_SQRT_2_OVER_PI = Math.fround(0.7978845608028654);
const GELU_COEF_A = Math.fround(0.044715);

export function gelu(x: number): number {
  if (x <= -10) return 0;
  if (x >= 10) return x;
  const f = Math.fround;
  const h = f16ToF32(f32ToF16(x));
  const inner = f(f(GELU_SQRT_2_OVER_PI * h) * f(1 + f(f(GELU_COEF_A * h) * h)));
  const y = f(f(0.5 * h) * f(1 + f(Math.tanh(inner))));
  return f16ToF32(f32ToF16(y));
}

// ---- the forward pass ----------------------------------------------------------------------

export class ReferenceModel {
  private readonly x: Float32Array;
  private readonly xb: Float32Array;
  private readonly q: Float32Array;
  private readonly attnOut: Float32Array;
  private readonly hb: Float32Array;
  private readonly hb2: Float32Array;
  private readonly scores: Float32Array;
  /** Each layer's RoPE: the file's scaling and factors, a sliding layer's own base. */
  private readonly ropes: LayerRope[];

  /** `weights` hold the RoPE factors a context of contextSize positions rotates by (host/model/llama/tensors.ts ropeFactorTensor). */
  constructor(readonly config: LlamaConfig, readonly weights: LlamaWeights, readonly contextSize = defaultContextSize(config)) {
    const c = config;
    this.x = new Float32Array(c.dim);
    this.xb = new Float32Array(c.dim);
    this.q = new Float32Array(c.nHeads * c.headDim);
    this.attnOut = new Float32Array(c.nHeads * c.headDim);
    this.hb = new Float32Array(c.ffnDim);
    this.hb2 = new Float32Array(c.ffnDim);
    this.scores = new Float32Array(c.contextLength);
    const s = c.ropeScaling;
    this.ropes = Array.from({ length: c.nLayers }, (_, l) =>
      isSlidingLayer(c, l) ? layerRope(c.ropeDim, c.ropeBaseSwa, 1, s, weights.ropeFactors) : layerRope(c.ropeDim, c.ropeBase, s.freqScale, s, weights.ropeFactors),
    );
  }

  newState(maxSeq = this.contextSize): RunState {
    return new RunState(this.config, Math.min(maxSeq, this.config.contextLength));
  }

  /** Runs one token at position pos; returns the logits for the next token (state.logits). */
  forward(state: RunState, token: number, pos: number): Float32Array {
    const c = this.config;
    const w = this.weights;
    if (token < 0 || token >= c.vocabSize) throw new RangeError(`token id ${token} outside the vocabulary (0..${c.vocabSize - 1})`);
    if (pos < 0 || pos >= state.maxSeq) throw new RangeError(`position ${pos} outside the context (0..${state.maxSeq - 1})`);
    const { x, xb, q, attnOut, hb, hb2 } = this;
    const kvDim = c.nKvHeads * c.headDim;
    const groupSize = c.nHeads / c.nKvHeads; // query heads that share one KV head (GQA)
    const act = c.ffnAct === 'gelu' ? gelu : silu;

    for (let i = 0; i < c.dim; i++) x[i] = w.tokenEmbd[token * c.dim + i] * c.embedScale;

    for (let l = 0; l < c.nLayers; l++) {
      const lw = w.layers[l];
      // attention: norm -> q, k, v -> per-head norms -> RoPE -> append k, v to the cache
      rmsnorm(xb, x, lw.attnNorm, c.normEps);
      const k = state.keys[l].subarray(pos * kvDim, (pos + 1) * kvDim);
      const v = state.values[l].subarray(pos * kvDim, (pos + 1) * kvDim);
      matmul(q, xb, lw.wq, c.nHeads * c.headDim, c.dim, lw.bq);
      matmul(k, xb, lw.wk, kvDim, c.dim, lw.bk);
      matmul(v, xb, lw.wv, kvDim, c.dim, lw.bv);
      if (lw.qNorm && lw.kNorm) {
        for (let h = 0; h < c.nHeads; h++) headNorm(q, h * c.headDim, c.headDim, lw.qNorm, c.normEps);
        for (let h = 0; h < c.nKvHeads; h++) headNorm(k, h * c.headDim, c.headDim, lw.kNorm, c.normEps);
      }
      const cs = ropeCosSin(this.ropes[l], pos);
      for (let h = 0; h < c.nHeads; h++) rotate(q, h * c.headDim, cs, c.ropeDim, c.ropeStyle);
      for (let h = 0; h < c.nKvHeads; h++) rotate(k, h * c.headDim, cs, c.ropeDim, c.ropeStyle);

      // causal attention of each query head over its KV head's positions: all of 0..pos, or the
      // last slidingWindow of them (the query's own included) on a sliding layer
      const first = isSlidingLayer(c, l) ? Math.max(0, pos - c.slidingWindow + 1) : 0;
      for (let h = 0; h < c.nHeads; h++) {
        const kvOffset = Math.floor(h / groupSize) * c.headDim;
        const qOffset = h * c.headDim;
        const scores = this.scores;
        const keys = state.keys[l];
        for (let t = first; t <= pos; t++) {
          let dot = 0;
          for (let i = 0; i < c.headDim; i++) dot += q[qOffset + i] * keys[t * kvDim + kvOffset + i];
          scores[t - first] = dot * c.attnScale;
        }
        softmax(scores, pos + 1 - first);
        for (let i = 0; i < c.headDim; i++) {
          let acc = 0;
          for (let t = first; t <= pos; t++) acc += scores[t - first] * state.values[l][t * kvDim + kvOffset + i];
          attnOut[qOffset + i] = acc;
        }
      }
      matmul(xb, attnOut, lw.wo, c.dim, c.nHeads * c.headDim);
      if (lw.attnPostNorm) rmsnorm(xb, xb, lw.attnPostNorm, c.normEps);
      for (let i = 0; i < c.dim; i++) x[i] += xb[i];

      // feed-forward: norm -> act(gate) * up -> down -> (post-norm) -> residual
      rmsnorm(xb, x, lw.ffnNorm, c.normEps);
      matmul(hb, xb, lw.wGate, c.ffnDim, c.dim);
      matmul(hb2, xb, lw.wUp, c.ffnDim, c.dim);
      for (let i = 0; i < c.ffnDim; i++) hb[i] = act(hb[i]) * hb2[i];
      matmul(xb, hb, lw.wDown, c.dim, c.ffnDim);
      if (lw.ffnPostNorm) rmsnorm(xb, xb, lw.ffnPostNorm, c.normEps);
      for (let i = 0; i < c.dim; i++) x[i] += xb[i];
    }

    rmsnorm(x, x, w.outputNorm, c.normEps);
    matmul(state.logits, x, w.output, c.vocabSize, c.dim);
    if (c.logitSoftcap > 0) for (let i = 0; i < c.vocabSize; i++) state.logits[i] = c.logitSoftcap * Math.tanh(state.logits[i] / c.logitSoftcap);
    return state.logits;
  }
}

/** RMSNorm of one head vector in place (qwen3's and gemma3's q and k norms). */
function headNorm(v: Float32Array, offset: number, n: number, weight: Float32Array, eps: number): void {
  const head = v.subarray(offset, offset + n);
  rmsnorm(head, head, weight, eps);
}
