// The reference engine: a plain f32 forward pass for llama-family models, written to be read
// beside the paper (and llama2.c's run.c). It is the oracle every kernel and backend is checked
// against, so it favours clarity over speed: no SIMD, no threads, float64 accumulators.
import type { LlamaConfig } from '../model/llama/config.js';
import type { LayerTensors, ModelTensors } from '../model/llama/tensors.js';

/**
 * One block's f32 weights (host/model/llama/tensors.ts names them), row-major, one row per output:
 * attnNorm [dim]; wq [nHeads·headDim, dim]; wk, wv [nKvHeads·headDim, dim]; optional QKV biases
 * bq, bk, bv (qwen2); wo [dim, nHeads·headDim]; ffnNorm [dim]; wGate, wUp [ffnDim, dim]; wDown [dim, ffnDim].
 */
export type LayerWeights = LayerTensors<Float32Array>;

/** tokenEmbd [vocab, dim], layers, outputNorm [dim], output [vocab, dim] (the same array as tokenEmbd when tied). */
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
 * Rotary position embedding on one head vector, in place. 'normal' rotates adjacent pairs
 * (x[2i], x[2i+1]); 'neox' rotates (x[i], x[i + ropeDim/2]). Dimensions past ropeDim are left alone.
 */
export function rope(vec: Float32Array, offset: number, pos: number, ropeDim: number, base: number, style: 'normal' | 'neox'): void {
  const half = ropeDim / 2;
  for (let i = 0; i < half; i++) {
    const theta = pos * Math.pow(base, (-2 * i) / ropeDim);
    const cos = Math.cos(theta);
    const sin = Math.sin(theta);
    const a = style === 'normal' ? offset + 2 * i : offset + i;
    const b = style === 'normal' ? a + 1 : a + half;
    const x0 = vec[a];
    const x1 = vec[b];
    vec[a] = x0 * cos - x1 * sin;
    vec[b] = x0 * sin + x1 * cos;
  }
}

function silu(x: number): number {
  return x / (1 + Math.exp(-x));
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

  constructor(readonly config: LlamaConfig, readonly weights: LlamaWeights) {
    const c = config;
    this.x = new Float32Array(c.dim);
    this.xb = new Float32Array(c.dim);
    this.q = new Float32Array(c.nHeads * c.headDim);
    this.attnOut = new Float32Array(c.nHeads * c.headDim);
    this.hb = new Float32Array(c.ffnDim);
    this.hb2 = new Float32Array(c.ffnDim);
    this.scores = new Float32Array(c.contextLength);
  }

  newState(maxSeq = this.config.contextLength): RunState {
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

    x.set(w.tokenEmbd.subarray(token * c.dim, (token + 1) * c.dim));

    for (let l = 0; l < c.nLayers; l++) {
      const lw = w.layers[l];
      // attention: norm -> q, k, v -> RoPE -> append k, v to the cache
      rmsnorm(xb, x, lw.attnNorm, c.normEps);
      const k = state.keys[l].subarray(pos * kvDim, (pos + 1) * kvDim);
      const v = state.values[l].subarray(pos * kvDim, (pos + 1) * kvDim);
      matmul(q, xb, lw.wq, c.nHeads * c.headDim, c.dim, lw.bq);
      matmul(k, xb, lw.wk, kvDim, c.dim, lw.bk);
      matmul(v, xb, lw.wv, kvDim, c.dim, lw.bv);
      for (let h = 0; h < c.nHeads; h++) rope(q, h * c.headDim, pos, c.ropeDim, c.ropeBase, c.ropeStyle);
      for (let h = 0; h < c.nKvHeads; h++) rope(k, h * c.headDim, pos, c.ropeDim, c.ropeBase, c.ropeStyle);

      // causal attention of each query head over positions 0..pos of its KV head
      for (let h = 0; h < c.nHeads; h++) {
        const kvOffset = Math.floor(h / groupSize) * c.headDim;
        const qOffset = h * c.headDim;
        const scores = this.scores;
        for (let t = 0; t <= pos; t++) {
          const keys = state.keys[l];
          let dot = 0;
          for (let i = 0; i < c.headDim; i++) dot += q[qOffset + i] * keys[t * kvDim + kvOffset + i];
          scores[t] = dot / Math.sqrt(c.headDim);
        }
        softmax(scores, pos + 1);
        for (let i = 0; i < c.headDim; i++) {
          let acc = 0;
          for (let t = 0; t <= pos; t++) acc += scores[t] * state.values[l][t * kvDim + kvOffset + i];
          attnOut[qOffset + i] = acc;
        }
      }
      matmul(xb, attnOut, lw.wo, c.dim, c.nHeads * c.headDim);
      for (let i = 0; i < c.dim; i++) x[i] += xb[i];

      // feed-forward: norm -> SwiGLU (silu(gate) * up) -> down -> residual
      rmsnorm(xb, x, lw.ffnNorm, c.normEps);
      matmul(hb, xb, lw.wGate, c.ffnDim, c.dim);
      matmul(hb2, xb, lw.wUp, c.ffnDim, c.dim);
      for (let i = 0; i < c.ffnDim; i++) hb[i] = silu(hb[i]) * hb2[i];
      matmul(xb, hb, lw.wDown, c.dim, c.ffnDim);
      for (let i = 0; i < c.dim; i++) x[i] += xb[i];
    }

    rmsnorm(x, x, w.outputNorm, c.normEps);
    matmul(state.logits, x, w.output, c.vocabSize, c.dim);
    return state.logits;
  }
}
