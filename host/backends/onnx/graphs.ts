// The llama-family blocks as ONNX subgraphs, in the reference engine's step names, with each
// architecture's differences as the config says (per-head q/k norms, post-norms, GeGLU, sliding
// window, soft-cap; RoPE scaling and frequency factors are in the cos/sin tables). Each builder
// appends nodes to a GraphBuilder, and runGraph chains the blocks of one run (one block, or
// consecutive blocks fused into one session) into one model.
//
// Activations are 2-D [n, dim] (n tokens of one sequence). The KV cache is position-major
// [positions, kvDim] per layer: the graph reads the cache's first pos0 rows as an input (a view,
// no copy), and returns the n new K (after RoPE) and V rows, which the caller appends.
import { isSlidingLayer, type LlamaConfig } from '../../model/llama/config.js';
import { layerRope, ropeCosSin, type LayerRope } from '../../model/llama/rope.js';
import { DataType, GraphBuilder } from './proto.js';
import { linear, type AttentionWeights, type FfnWeights, type HeadWeights } from './weights.js';

/** Values every attention block of one graph shares: positions, RoPE tables, the causal masks. */
export interface AttentionContext {
  /** int64 [1, n]: the positions pos0..pos0+n-1. */
  positions: string;
  /** The tables of the full-attention layers and of the sliding ones (their own RoPE). */
  rope: { cos: string; sin: string };
  ropeSwa?: { cos: string; sin: string };
  /** float [n*group, T] (rows in the order of the stacked query heads): 0 where the key position is at most the query's, else a large negative number. */
  mask: string;
  /** The same, also masking keys `slidingWindow` or more positions before the query (sliding layers). */
  maskSwa?: string;
}

/** Masked scores: far below any real score, finite so no provider has to handle inf - inf. */
const MASKED = -1e30;

export function rmsnorm(g: GraphBuilder, c: LlamaConfig, x: string, weight: Float32Array, name: string): string {
  const w = g.tensor(`${name}_w`, DataType.FLOAT, [c.dim], weight);
  return g.op('SimplifiedLayerNormalization', [x, w], { axis: { i: -1 }, epsilon: { f: c.normEps }, stash_type: { i: 1 } }, { name });
}

/** cos/sin tables [contextSize, ropeDim/2] for RotaryEmbedding: a layer's RoPE (host/model/llama/rope.ts, the magnitude included), as the reference rotates by. */
export function ropeTables(r: LayerRope, contextSize: number): { cos: Float32Array; sin: Float32Array } {
  const half = r.dim / 2;
  const cos = new Float32Array(contextSize * half);
  const sin = new Float32Array(contextSize * half);
  const cs = new Float32Array(r.dim);
  for (let p = 0; p < contextSize; p++) {
    ropeCosSin(r, p, cs);
    for (let i = 0; i < half; i++) {
      cos[p * half + i] = cs[2 * i];
      sin[p * half + i] = cs[2 * i + 1];
    }
  }
  return { cos, sin };
}

/**
 * Declares the shared inputs (`positions` [1, n] int64) and builds the RoPE tables and the causal
 * mask over T = pos0 + n keys, T taken from `pastK` (an input [pos0, kvDim]) plus n; the sliding
 * layers' table and mask when `layers` has one. `factors` are the RoPE frequency factors the context uses.
 */
export function attentionContext(g: GraphBuilder, c: LlamaConfig, contextSize: number, pastK: string, layers: readonly number[], factors?: Float32Array): AttentionContext {
  const positions = g.input('positions', DataType.INT64, [1, 'n']);
  const half = c.ropeDim / 2;
  const table = (r: LayerRope, name: string) => {
    const t = ropeTables(r, contextSize);
    return { cos: g.tensor(`${name}_cos`, DataType.FLOAT, [contextSize, half], t.cos), sin: g.tensor(`${name}_sin`, DataType.FLOAT, [contextSize, half], t.sin) };
  };
  const s = c.ropeScaling;
  const sliding = layers.some((l) => isSlidingLayer(c, l));
  const rope = table(layerRope(c.ropeDim, c.ropeBase, s.freqScale, s, factors), 'rope');
  const ropeSwa = sliding ? table(layerRope(c.ropeDim, c.ropeBaseSwa, 1, s, factors), 'rope_swa') : undefined;
  // T = rows of the past + n; key positions 0..T-1; a key is masked when it is after the query
  const past = g.op('Shape', [pastK], { start: { i: 0 }, end: { i: 1 } });
  const n = g.op('Shape', [positions], { start: { i: 1 }, end: { i: 2 } });
  const total = g.op('Squeeze', [g.op('Add', [past, n]), g.ints([0])]);
  const zero = g.tensor('c_zero', DataType.INT64, [], BigInt64Array.of(0n));
  const one = g.tensor('c_one', DataType.INT64, [], BigInt64Array.of(1n));
  const keyPos = g.op('Range', [zero, total, one]); // [T]
  const queryPos = g.op('Reshape', [positions, g.ints([-1, 1, 1])]); // [n, 1, 1]
  const future = g.op('Greater', [keyPos, queryPos]); // [n, 1, T]
  const group = c.nHeads / c.nKvHeads;
  const stacked = (masked: string, name: string) =>
    g.op('Flatten', [g.op('Expand', [g.op('Where', [masked, g.scalar(MASKED), g.scalar(0)]), g.ints([1, group, 1])])], { axis: { i: 2 } }, { name }); // [n*G, T]
  const mask = stacked(future, 'causal_mask');
  if (!sliding) return { positions, rope, mask };
  // llama.cpp's sliding window: a key at p0 is masked for a query at p when p − p0 ≥ window
  const distance = g.op('Sub', [queryPos, keyPos]); // [n, 1, T]
  const outside = g.op('GreaterOrEqual', [distance, g.tensor('c_window', DataType.INT64, [], BigInt64Array.of(BigInt(c.slidingWindow)))]);
  return { positions, rope, ropeSwa, mask, maskSwa: stacked(g.op('Or', [future, outside]), 'sliding_mask') };
}

/**
 * x + Wo·Attn(RoPE(Wq·norm(x)), RoPE(Wk·norm(x)), Wv·norm(x)) over the cached keys and values.
 * Grouped-query attention in plain ONNX ops: the query heads of each KV head are stacked as rows,
 * so each KV head is one [n·group, D] × [D, T] matmul.
 */
export function attentionBlock(
  g: GraphBuilder,
  c: LlamaConfig,
  w: AttentionWeights,
  ctx: AttentionContext,
  io: { x: string; pastK: string; pastV: string; name: string; layer: number },
): { y: string; kNew: string; vNew: string } {
  const { nHeads, nKvHeads, headDim: D } = c;
  const group = nHeads / nKvHeads;
  const p = io.name;
  const sliding = isSlidingLayer(c, io.layer);
  const table = sliding ? ctx.ropeSwa! : ctx.rope;
  const xn = rmsnorm(g, c, io.x, w.attnNorm, `${p}_attn_norm`);
  let q = linear(g, xn, w.wq, `${p}_wq`, w.bq);
  let k = linear(g, xn, w.wk, `${p}_wk`, w.bk);
  const vNew = linear(g, xn, w.wv, `${p}_wv`, w.bv);
  if (w.qNorm && w.kNorm) {
    // per-head RMSNorm: each head vector a row of [n, heads, D]
    const perHead = (t: string, heads: number, weight: Float32Array, name: string) =>
      g.op('Reshape', [rmsnormOver(g, g.op('Reshape', [t, g.ints([-1, heads, D])]), weight, D, c.normEps, name), g.ints([-1, heads * D])]);
    q = perHead(q, nHeads, w.qNorm, `${p}_q_norm`);
    k = perHead(k, nKvHeads, w.kNorm, `${p}_k_norm`);
  }
  const rope = (t: string, heads: number, name: string) =>
    g.op(
      'RotaryEmbedding',
      [g.op('Unsqueeze', [t, g.ints([0])]), ctx.positions, table.cos, table.sin],
      { interleaved: { i: c.ropeStyle === 'normal' ? 1 : 0 }, num_heads: { i: heads }, rotary_embedding_dim: { i: c.ropeDim } },
      { domain: 'com.microsoft', name },
    );
  const qr = rope(q, nHeads, `${p}_rope_q`); // [1, n, nHeads*D]
  const kNew = g.op('Squeeze', [rope(k, nKvHeads, `${p}_rope_k`), g.ints([0])]); // [n, kvDim]

  const keys = g.op('Concat', [io.pastK, kNew], { axis: { i: 0 } }); // [T, kvDim]
  const values = g.op('Concat', [io.pastV, vNew], { axis: { i: 0 } });
  // Q: [n, KVH, G, D] -> [KVH, n, G, D] -> [KVH, n*G, D]
  const q4 = g.op('Transpose', [g.op('Reshape', [qr, g.ints([-1, nKvHeads, group, D])])], { perm: { ints: [1, 0, 2, 3] } });
  const q3 = g.op('Reshape', [q4, g.ints([nKvHeads, -1, D])]);
  const kt = g.op('Transpose', [g.op('Reshape', [keys, g.ints([-1, nKvHeads, D])])], { perm: { ints: [1, 2, 0] } }); // [KVH, D, T]
  const vt = g.op('Transpose', [g.op('Reshape', [values, g.ints([-1, nKvHeads, D])])], { perm: { ints: [1, 0, 2] } }); // [KVH, T, D]
  const scores = g.op('Mul', [g.op('MatMul', [q3, kt]), g.scalar(c.attnScale)]); // [KVH, n*G, T]
  const probs = g.op('Softmax', [g.op('Add', [scores, sliding ? ctx.maskSwa! : ctx.mask])], { axis: { i: -1 } });
  const att = g.op('MatMul', [probs, vt]); // [KVH, n*G, D]
  const att4 = g.op('Transpose', [g.op('Reshape', [att, g.ints([nKvHeads, -1, group, D])])], { perm: { ints: [1, 0, 2, 3] } }); // [n, KVH, G, D]
  const merged = g.op('Reshape', [att4, g.ints([-1, nHeads * D])]); // head h = kvHead*G + g, as in the reference
  let out = linear(g, merged, w.wo, `${p}_wo`);
  if (w.attnPostNorm) out = rmsnorm(g, c, out, w.attnPostNorm, `${p}_attn_post_norm`);
  const y = g.op('Add', [io.x, out], {}, { name: `${p}_attn_residual` });
  return { y, kNew, vNew };
}

/** x + Wdown·(act(Wgate·norm(x)) ⊙ Wup·norm(x)), act SiLU or ggml's GELU; the post-norm when the model has one. */
export function ffnBlock(g: GraphBuilder, c: LlamaConfig, w: FfnWeights, x: string, name: string): string {
  const xn = rmsnorm(g, c, x, w.ffnNorm, `${name}_ffn_norm`);
  const gate = linear(g, xn, w.wGate, `${name}_gate`);
  const up = linear(g, xn, w.wUp, `${name}_up`);
  const act = c.ffnAct === 'gelu' ? geluF16(g, gate) : g.op('Mul', [gate, g.op('Sigmoid', [gate])]);
  const h = g.op('Mul', [act, up]);
  let out = linear(g, h, w.wDown, `${name}_down`);
  if (w.ffnPostNorm) out = rmsnorm(g, c, out, w.ffnPostNorm, `${name}_ffn_post_norm`);
  return g.op('Add', [x, out], {}, { name: `${name}_ffn_residual` });
}

/** RMSNorm over the last axis of width `width` (per-head norms: rows of headDim). */
function rmsnormOver(g: GraphBuilder, x: string, weight: Float32Array, width: number, eps: number, name: string): string {
  const w = g.tensor(`${name}_w`, DataType.FLOAT, [width], weight);
  return g.op('SimplifiedLayerNormalization', [x, w], { axis: { i: -1 }, epsilon: { f: eps }, stash_type: { i: 1 } }, { name });
}

/** x rounded to the nearest half and back (ONNX Cast rounds to nearest even, as ggml's conversion). */
function throughF16(g: GraphBuilder, x: string): string {
  return g.op('Cast', [g.op('Cast', [x], { to: { i: DataType.FLOAT16 } })], { to: { i: DataType.FLOAT } });
}

/** GELU (tanh form) as ggml's CPU backend computes it (host/engine/reference.ts gelu): through f16, 0 from −10 down, x from 10 up. */
function geluF16(g: GraphBuilder, x: string): string {
  const h = throughF16(g, x);
  const inner = g.op('Mul', [g.op('Mul', [g.scalar(Math.fround(0.7978845608028654)), h]), g.op('Add', [g.scalar(1), g.op('Mul', [g.op('Mul', [g.scalar(Math.fround(0.044715)), h]), h])])]);
  const y = throughF16(g, g.op('Mul', [g.op('Mul', [g.scalar(0.5), h]), g.op('Add', [g.scalar(1), g.op('Tanh', [inner])])]));
  const high = g.op('Where', [g.op('GreaterOrEqual', [x, g.scalar(10)]), x, y]);
  return g.op('Where', [g.op('LessOrEqual', [x, g.scalar(-10)]), g.scalar(0), high]);
}

/** logits = Wout·norm(x) for a [1, dim] row, soft-capped (c·tanh(logits/c)) when the model says. */
export function headBlock(g: GraphBuilder, c: LlamaConfig, w: HeadWeights, x: string): string {
  const logits = linear(g, rmsnorm(g, c, x, w.outputNorm, 'output_norm'), w.output, 'output');
  if (c.logitSoftcap <= 0) return logits;
  return g.op('Mul', [g.op('Tanh', [g.op('Mul', [logits, g.scalar(1 / c.logitSoftcap)])]), g.scalar(c.logitSoftcap)]);
}

/** A run's weights, read when its graph is built (only the blocks it holds). */
export interface RunWeights {
  attention(layer: number): AttentionWeights;
  ffn(layer: number): FfnWeights;
  head(): HeadWeights;
  /** The RoPE frequency factors of the context, if the model has them. */
  ropeFactors(): Float32Array | undefined;
}

/** Value names of a run graph: the input rows, and each routed attention layer's cache inputs and new rows. */
export const runNames = {
  x: 'x',
  positions: 'positions',
  y: 'y',
  logits: 'logits',
  pastK: (l: number) => `l${l}_past_k`,
  pastV: (l: number) => `l${l}_past_v`,
  kNew: (l: number) => `l${l}_k_new`,
  vNew: (l: number) => `l${l}_v_new`,
};

/**
 * One graph for consecutive blocks of one sequence's n rows (positions pos0..): x [n, dim] in, and
 * out either y [n, dim] (x through the blocks) or, when the run ends with the head, the logits —
 * of every row for the head alone, of the last row when other blocks come first (a prefill chunk
 * needs only its last token's; a decode step runs one row per sequence). Each attention layer in
 * the run reads its cached rows as l<L>_past_k/v and returns its new rows as l<L>_k_new/v_new.
 */
export function runGraph(c: LlamaConfig, contextSize: number, blocks: ReadonlyArray<{ op: 'attention' | 'ffn' | 'head'; layer: number | null }>, w: RunWeights, name: string): GraphBuilder {
  const kvDim = c.nKvHeads * c.headDim;
  const g = new GraphBuilder(name);
  let x = g.input(runNames.x, DataType.FLOAT, ['n', c.dim]);
  const layers = blocks.filter((b) => b.op === 'attention').map((b) => b.layer!);
  const past = new Map(layers.map((l) => [l, { k: g.input(runNames.pastK(l), DataType.FLOAT, ['past', kvDim]), v: g.input(runNames.pastV(l), DataType.FLOAT, ['past', kvDim]) }]));
  const ctx = layers.length > 0 ? attentionContext(g, c, contextSize, past.get(layers[0])!.k, layers, w.ropeFactors()) : undefined;
  for (const b of blocks) {
    if (b.op === 'attention') {
      const l = b.layer!;
      const a = attentionBlock(g, c, w.attention(l), ctx!, { x, pastK: past.get(l)!.k, pastV: past.get(l)!.v, name: `blk${l}`, layer: l });
      g.output(a.kNew, runNames.kNew(l), DataType.FLOAT, ['n', kvDim]);
      g.output(a.vNew, runNames.vNew(l), DataType.FLOAT, ['n', kvDim]);
      x = a.y;
    } else if (b.op === 'ffn') {
      x = ffnBlock(g, c, w.ffn(b.layer!), x, `blk${b.layer}`);
    } else {
      const last = blocks.length > 1;
      const rows = last ? g.op('Slice', [x, g.ints([-1]), g.ints([Number.MAX_SAFE_INTEGER]), g.ints([0])]) : x; // the last token's row
      g.output(headBlock(g, c, w.head(), rows), runNames.logits, DataType.FLOAT, [last ? 1 : 'n', c.vocabSize]);
      return g;
    }
  }
  g.output(x, runNames.y, DataType.FLOAT, ['n', c.dim]);
  return g;
}
