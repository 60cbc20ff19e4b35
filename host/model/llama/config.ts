// The hyperparameters of a llama-family model and the GGUF metadata keys that hold them (the one
// source of truth: configFromGGUF reads them, modelMetadata in ./metadata.ts writes them).
//
// Adding an architecture: its row in ./arch.ts (what its graph does differently, as fields the
// engines read), any key of its own in CONFIG_KEYS, the tensors those fields bring in ./tensors.ts,
// and the forward-pass difference in the reference engine and each backend.
import type { GGUFHeaderView } from '../gguf/index.js';
import { ARCHITECTURES, archNames, type ArchFacts, type RopeStyle } from './arch.js';
import { NO_ROPE_SCALING, ROPE_SCALING_TYPES, ropeScaling, type RopeScaling } from './rope.js';

export type { RopeStyle };

export interface LlamaConfig {
  arch: string;
  dim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  ffnDim: number;
  vocabSize: number;
  contextLength: number;
  normEps: number;
  ropeBase: number;
  ropeDim: number;
  /** 'normal' rotates adjacent pairs (llama); 'neox' rotates halves (qwen2, gpt-neox). */
  ropeStyle: RopeStyle;
  /** RoPE scaling and frequency factors (./rope.ts). */
  ropeScaling: RopeScaling;
  /** The RoPE base of sliding-window layers (gemma3's local layers: rope.freq_base_swa, else llama.cpp's 10000); they are never scaled. */
  ropeBaseSwa: number;
  /** No output.weight: the head reuses token_embd.weight. */
  tiedOutput: boolean;
  /** Q/K/V projections carry a bias (qwen2). */
  qkvBias: boolean;
  /** Per-head RMSNorm of q and k before RoPE (qwen3, gemma3: attn_q_norm, attn_k_norm [headDim]). */
  qkNorm: boolean;
  /** An RMSNorm of the attention and FFN outputs before each residual add (gemma3: post_attention_norm, post_ffw_norm). */
  postNorms: boolean;
  /** The FFN gate's activation: SwiGLU (silu) or GeGLU with ggml's tanh GELU (gemma3). */
  ffnAct: 'silu' | 'gelu';
  /** Q, K, V in one attn_qkv tensor, gate and up in one ffn_up of 2·ffnDim rows (phi3). */
  fused: boolean;
  /** Token embeddings are multiplied by this: √dim as f32 for gemma, else 1. */
  embedScale: number;
  /** The attention scores' scale: 1/√headDim, or what the architecture's graph uses (gemma3's query_pre_attn_scalar). */
  attnScale: number;
  /** Positions a query of a sliding-window layer sees, itself included (0: no sliding window). */
  slidingWindow: number;
  /** Per layer: whether it attends over the sliding window (an empty list when there is none). */
  slidingLayers: boolean[];
  /** Final logits are softcap·tanh(logits/softcap) when > 0 (final_logit_softcapping). */
  logitSoftcap: number;
}

/** The RoPE scaling a writer chooses (synth): `llama3` is llama 3.1's frequency factors (a rope_freqs.weight tensor). */
export interface RopeScalingShape {
  type: 'linear' | 'yarn' | 'longrope' | 'llama3';
  /** rope.scaling.factor (linear, yarn), llama 3's factor, or longrope's context / original context. */
  factor: number;
  /** The context trained on before scaling. */
  origContext: number;
  /** llama 3: low_freq_factor, high_freq_factor (1 and 4 in Llama 3.x). */
  lowFreqFactor?: number;
  highFreqFactor?: number;
}

/** The hyperparameters a writer chooses (synth, llama2.c import); the rest follow from them and the architecture. */
export interface LlamaShape {
  /** general.architecture (default llama). */
  arch?: string;
  dim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  ffnDim: number;
  contextLength: number;
  /** Default dim / nHeads. */
  headDim?: number;
  /** Rotated dimensions (default headDim; phi-4-mini rotates 96 of 128). */
  ropeDim?: number;
  normEps?: number;
  ropeBase?: number;
  ropeScaling?: RopeScalingShape;
  /** gemma3's local layers (default llama.cpp's 10000). */
  ropeBaseSwa?: number;
  /** gemma3: the sliding window (its pattern is the architecture's). */
  slidingWindow?: number;
  logitSoftcap?: number;
  tiedOutput?: boolean;
  qkvBias?: boolean;
}

/** Architectures wisp runs, with the RoPE layout each uses (as llama.cpp assigns it). */
export const LLAMA_FAMILY: Readonly<Record<string, RopeStyle>> = Object.fromEntries(Object.entries(ARCHITECTURES).map(([a, f]) => [a, f.ropeStyle]));

/** GGUF metadata key of each hyperparameter, after the `<arch>.` prefix (llama.cpp's LLM_KV names). */
export const CONFIG_KEYS = {
  contextLength: 'context_length',
  dim: 'embedding_length',
  nLayers: 'block_count',
  ffnDim: 'feed_forward_length',
  nHeads: 'attention.head_count',
  nKvHeads: 'attention.head_count_kv',
  headDim: 'attention.key_length',
  valueDim: 'attention.value_length',
  normEps: 'attention.layer_norm_rms_epsilon',
  ropeDim: 'rope.dimension_count',
  ropeBase: 'rope.freq_base',
  ropeBaseSwa: 'rope.freq_base_swa',
  ropeScaling: 'rope.scaling.type',
  ropeScale: 'rope.scaling.factor',
  ropeScaleLinear: 'rope.scale_linear',
  ropeAttnFactor: 'rope.scaling.attn_factor',
  ropeOrigContext: 'rope.scaling.original_context_length',
  slidingWindow: 'attention.sliding_window',
  slidingPattern: 'attention.sliding_window_pattern',
  logitSoftcap: 'final_logit_softcapping',
  expertCount: 'expert_count',
  vocabSize: 'vocab_size',
} as const;

/** The full metadata key: `llama.embedding_length`. */
export function archKey(arch: string, field: keyof typeof CONFIG_KEYS): string {
  return `${arch}.${CONFIG_KEYS[field]}`;
}

/** Defaults llama.cpp assumes when a file leaves a key out. */
export const CONFIG_DEFAULTS = { normEps: 1e-5, ropeBase: 10000, ropeBaseSwa: 10000 } as const;

/** Tensors that hold RoPE frequency factors (not per block). */
export const ROPE_FACTOR_TENSORS = { freqs: 'rope_freqs.weight', long: 'rope_factors_long.weight', short: 'rope_factors_short.weight' } as const;

export function archFacts(arch: string): Readonly<ArchFacts> {
  const facts = ARCHITECTURES[arch];
  if (!facts) throw new Error(`unsupported architecture '${arch}' (general.architecture); wisp runs ${archNames()}`);
  return facts;
}

export function configFromGGUF(file: GGUFHeaderView): LlamaConfig {
  const arch = file.string('general.architecture');
  const facts = archFacts(arch);
  const key = (k: keyof typeof CONFIG_KEYS) => archKey(arch, k);
  const experts = file.optNumber(key('expertCount')) ?? 0;
  if (experts > 0) throw new Error(`a mixture of experts (${key('expertCount')} = ${experts}) is not supported; wisp runs dense ${archNames()} models`);
  const dim = file.number(key('dim'));
  const nHeads = file.number(key('nHeads'));
  const nKvHeads = file.optNumber(key('nKvHeads')) ?? nHeads;
  const headDim = file.optNumber(key('headDim')) ?? dim / nHeads;
  const valueDim = file.optNumber(key('valueDim')) ?? dim / nHeads;
  if (valueDim !== headDim) throw new Error(`model config: value heads of ${valueDim} (${key('valueDim')}) differ from key heads of ${headDim}, which wisp does not run`);
  const nLayers = file.number(key('nLayers'));
  checkBlockCount(file, nLayers, key('nLayers'));
  const tokens = file.optArray('tokenizer.ggml.tokens');
  const vocabSize = file.optNumber(key('vocabSize')) ?? tokens?.length ?? file.tensorInfo('token_embd.weight').dims[1];
  const contextLength = file.number(key('contextLength'));
  const ropeDim = file.optNumber(key('ropeDim')) ?? headDim;
  if (facts.fullRope && ropeDim !== headDim) throw new Error(`model config: ${key('ropeDim')} is ${ropeDim}; ${arch} rotates whole heads of ${headDim} (as llama.cpp requires)`);
  const window = facts.slidingWindow ? (file.optNumber(key('slidingWindow')) ?? 0) : 0;
  const config: LlamaConfig = {
    arch,
    dim,
    nLayers,
    nHeads,
    nKvHeads,
    headDim,
    ffnDim: file.number(key('ffnDim')),
    vocabSize,
    contextLength,
    normEps: file.optNumber(key('normEps')) ?? CONFIG_DEFAULTS.normEps,
    ropeBase: file.optNumber(key('ropeBase')) ?? CONFIG_DEFAULTS.ropeBase,
    ropeDim,
    ropeStyle: facts.ropeStyle,
    ropeScaling: readRopeScaling(file, arch, facts, contextLength),
    ropeBaseSwa: file.optNumber(key('ropeBaseSwa')) ?? CONFIG_DEFAULTS.ropeBaseSwa,
    tiedOutput: !file.has('output.weight'),
    qkvBias: file.has('blk.0.attn_q.bias'),
    ...archFields(facts, dim, nLayers, nHeads, headDim),
    slidingWindow: window,
    slidingLayers: window > 0 ? slidingLayers(file, key('slidingPattern'), nLayers, facts.slidingWindow!.pattern) : [],
    logitSoftcap: facts.logitSoftcap ? (file.optNumber(key('logitSoftcap')) ?? 0) : 0,
  };
  validateConfig(config);
  return config;
}

/** The fields an architecture's facts give, with nothing from the file but the sizes. */
function archFields(facts: Readonly<ArchFacts>, dim: number, nLayers: number, nHeads: number, headDim: number) {
  return {
    qkNorm: facts.qkNorm,
    postNorms: facts.postNorms,
    ffnAct: facts.ffnAct,
    fused: facts.fused,
    embedScale: facts.embedScale ? Math.fround(Math.sqrt(dim)) : 1,
    attnScale: attentionScale(facts, dim, nLayers, nHeads, headDim),
  };
}

/**
 * 1/√headDim, in f32 as llama.cpp computes it; gemma3's graph scales queries by 1/√query_pre_attn_scalar,
 * which llama.cpp (reading no key for it) takes as the head size, except for the 27B (62 layers): dim / nHeads.
 */
function attentionScale(facts: Readonly<ArchFacts>, dim: number, nLayers: number, nHeads: number, headDim: number): number {
  const d = facts.embedScale && nLayers === 62 ? Math.floor(dim / nHeads) : headDim;
  return Math.fround(1 / Math.fround(Math.sqrt(d)));
}

/** llama.cpp's set_swa_pattern: every layer but each pattern-th (il % n < n − 1) slides; a bool array per layer when the file has one. */
function slidingLayers(file: GGUFHeaderView, key: string, nLayers: number, defaultPattern: number): boolean[] {
  const v = file.value(key);
  if (v && Array.isArray(v.value)) {
    const flags = v.value as unknown[];
    if (flags.length < nLayers) throw new Error(`model config: ${key} has ${flags.length} entries for ${nLayers} layers`);
    return Array.from({ length: nLayers }, (_, l) => Boolean(flags[l]));
  }
  const n = file.optNumber(key) ?? defaultPattern;
  return Array.from({ length: nLayers }, (_, l) => n === 0 || l % n < n - 1);
}

function readRopeScaling(file: GGUFHeaderView, arch: string, facts: Readonly<ArchFacts>, contextLength: number): RopeScaling {
  const key = (k: keyof typeof CONFIG_KEYS) => archKey(arch, k);
  const type = file.optString(key('ropeScaling')) ?? 'linear';
  if (!(ROPE_SCALING_TYPES as readonly string[]).includes(type)) {
    throw new Error(`RoPE scaling '${type}' (${key('ropeScaling')}) is not one llama.cpp knows; wisp runs ${ROPE_SCALING_TYPES.join(', ')} and llama 3's frequency factors`);
  }
  const factor = file.optNumber(key('ropeScale')) ?? file.optNumber(key('ropeScaleLinear')) ?? 0;
  const origContext = file.optNumber(key('ropeOrigContext')) ?? contextLength;
  const T = ROPE_FACTOR_TENSORS;
  let factors: RopeScaling['factors'];
  if (facts.ropeFactors === 'rope_freqs' && file.has(T.freqs)) factors = { tensor: T.freqs };
  else if (facts.ropeFactors === 'longrope' && file.has(T.long) && file.has(T.short)) factors = { short: T.short, long: T.long };
  return ropeScaling(type as RopeScaling['type'], factor, file.optNumber(key('ropeAttnFactor')) ?? 1, origContext, factors);
}

/**
 * The block count is bounded by the blocks the file's tensors name (blk.0.* … blk.N-1.*), checked
 * before anything loops over layers: a hostile block_count of 2^31 - 1 would otherwise drive
 * per-layer work (shape tables, KV caches) for seconds and gigabytes before any tensor is missed.
 */
function checkBlockCount(file: GGUFHeaderView, n: number, key: string): void {
  if (!Number.isInteger(n) || n <= 0) return; // validateConfig names that
  let blocks = 0;
  for (const t of file.tensors) {
    const m = /^blk\.(\d+)\./.exec(t.name);
    if (m) blocks = Math.max(blocks, Number(m[1]) + 1);
  }
  if (n > blocks) {
    const held = blocks === 0 ? 'no block (no blk.N.* tensor)' : `only ${blocks} block${blocks === 1 ? '' : 's'} (blk.0 to blk.${blocks - 1})`;
    throw new Error(`model config: ${key} is ${n}, but the file's ${file.tensors.length} tensors cover ${held}`);
  }
}

/** The RoPE scaling a shape asks for, as configFromGGUF reads back what modelMetadata writes. */
export function shapeRopeScaling(shape: LlamaShape): RopeScaling {
  const s = shape.ropeScaling;
  const facts = archFacts(shape.arch ?? 'llama');
  if (!s) return { ...NO_ROPE_SCALING, type: 'linear', origContext: shape.contextLength };
  if (s.type === 'llama3') {
    if (facts.ropeFactors !== 'rope_freqs') throw new Error(`${shape.arch}: llama 3 frequency factors are a llama model's`);
    return ropeScaling('linear', 0, 1, shape.contextLength, { tensor: ROPE_FACTOR_TENSORS.freqs });
  }
  if (s.type === 'longrope') {
    if (facts.ropeFactors !== 'longrope') throw new Error(`${shape.arch}: longrope factors are a phi3 model's`);
    // convert_hf_to_gguf writes phi3's factors, attention factor and original context, but no type key (llama.cpp's default: linear, unscaled)
    return ropeScaling('linear', 0, longropeAttnFactor(s.factor, s.origContext), s.origContext, { short: ROPE_FACTOR_TENSORS.short, long: ROPE_FACTOR_TENSORS.long });
  }
  return ropeScaling(s.type, s.factor, 1, s.type === 'yarn' ? s.origContext : shape.contextLength);
}

/** convert_hf_to_gguf's phi3 attention factor: √(1 + ln(scale) / ln(original context)), as f32. */
export function longropeAttnFactor(scale: number, origContext: number): number {
  return Math.fround(scale > 1 ? Math.sqrt(1 + Math.log(scale) / Math.log(origContext)) : 1);
}

/** The config of a model of this shape, as configFromGGUF reads back what modelMetadata writes. */
export function configFromShape(shape: LlamaShape, vocabSize: number, over: Partial<LlamaConfig> = {}): LlamaConfig {
  const arch = shape.arch ?? 'llama';
  const facts = archFacts(arch);
  const headDim = shape.headDim ?? shape.dim / shape.nHeads;
  const window = facts.slidingWindow ? (shape.slidingWindow ?? 0) : 0;
  const pattern = facts.slidingWindow?.pattern ?? 0;
  return {
    arch,
    dim: shape.dim,
    nLayers: shape.nLayers,
    nHeads: shape.nHeads,
    nKvHeads: shape.nKvHeads,
    headDim,
    ffnDim: shape.ffnDim,
    vocabSize,
    contextLength: shape.contextLength,
    // f32, as the file stores them
    normEps: Math.fround(shape.normEps ?? CONFIG_DEFAULTS.normEps),
    ropeBase: Math.fround(shape.ropeBase ?? CONFIG_DEFAULTS.ropeBase),
    ropeDim: shape.ropeDim ?? headDim,
    ropeStyle: facts.ropeStyle,
    ropeScaling: shapeRopeScaling(shape),
    ropeBaseSwa: Math.fround(shape.ropeBaseSwa ?? CONFIG_DEFAULTS.ropeBaseSwa),
    tiedOutput: shape.tiedOutput ?? false,
    qkvBias: shape.qkvBias ?? false,
    ...archFields(facts, shape.dim, shape.nLayers, shape.nHeads, headDim),
    slidingWindow: window,
    slidingLayers: window > 0 ? Array.from({ length: shape.nLayers }, (_, l) => l % pattern < pattern - 1) : [],
    logitSoftcap: facts.logitSoftcap ? Math.fround(shape.logitSoftcap ?? 0) : 0,
    ...over,
  };
}

export function validateConfig(c: LlamaConfig): void {
  const bad = (field: string, why: string) => {
    throw new Error(`model config: ${field} ${why}`);
  };
  for (const f of ['dim', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'ffnDim', 'vocabSize', 'contextLength', 'ropeDim'] as const) {
    if (!Number.isInteger(c[f]) || c[f] <= 0) bad(f, `must be a positive integer, got ${c[f]}`);
  }
  if (c.nHeads % c.nKvHeads !== 0) bad('nKvHeads', `(${c.nKvHeads}) must divide nHeads (${c.nHeads})`);
  if (c.ropeDim > c.headDim || c.ropeDim % 2 !== 0) bad('ropeDim', `(${c.ropeDim}) must be even and at most headDim (${c.headDim})`);
  if (!Number.isInteger(c.slidingWindow) || c.slidingWindow < 0) bad('slidingWindow', `must be a whole number of positions, got ${c.slidingWindow}`);
  if (!(c.logitSoftcap >= 0)) bad('logitSoftcap', `must be 0 (none) or positive, got ${c.logitSoftcap}`);
  if (!(c.ropeScaling.freqScale > 0) || !Number.isFinite(c.ropeScaling.freqScale)) bad('ropeScaling', `factor gives a position scale of ${c.ropeScaling.freqScale}`);
}

/** The positions per sequence an engine plans for when it is not told: the model's context, at most 4096. */
export function defaultContextSize(c: LlamaConfig): number {
  return Math.min(c.contextLength, 4096);
}

/** Whether layer l attends over the sliding window. */
export function isSlidingLayer(c: LlamaConfig, layer: number): boolean {
  return c.slidingWindow > 0 && c.slidingLayers[layer] === true;
}
