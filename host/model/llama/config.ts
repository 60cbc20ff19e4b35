// The hyperparameters of a llama-family model and the GGUF metadata keys that hold them (the one
// source of truth: configFromGGUF reads them, llamaMetadata in ./metadata.ts writes them).
//
// Adding an architecture: its name and RoPE layout in LLAMA_FAMILY, any key of its own in
// CONFIG_KEYS, a config field for what its graph does differently (e.g. qwen3's per-head q/k
// norms), the tensors that field brings in ./tensors.ts, and the forward-pass difference in the
// reference engine and each backend.
import type { GGUFHeaderView } from '../gguf/index.js';

export type RopeStyle = 'normal' | 'neox';

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
  /** No output.weight: the head reuses token_embd.weight. */
  tiedOutput: boolean;
  /** Q/K/V projections carry a bias (qwen2). */
  qkvBias: boolean;
}

/** The hyperparameters a writer chooses (synth, llama2.c import); the rest follow from them. */
export interface LlamaShape {
  dim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  ffnDim: number;
  contextLength: number;
  normEps?: number;
  ropeBase?: number;
}

/** Architectures whose graph is the llama one, and the RoPE layout each uses (as llama.cpp assigns it). */
export const LLAMA_FAMILY: Record<string, RopeStyle> = {
  llama: 'normal',
  mistral: 'normal',
  qwen2: 'neox',
};

/** GGUF metadata key of each hyperparameter, after the `<arch>.` prefix (llama.cpp's LLM_KV names). */
export const CONFIG_KEYS = {
  contextLength: 'context_length',
  dim: 'embedding_length',
  nLayers: 'block_count',
  ffnDim: 'feed_forward_length',
  nHeads: 'attention.head_count',
  nKvHeads: 'attention.head_count_kv',
  headDim: 'attention.key_length',
  normEps: 'attention.layer_norm_rms_epsilon',
  ropeDim: 'rope.dimension_count',
  ropeBase: 'rope.freq_base',
  ropeScaling: 'rope.scaling.type',
  vocabSize: 'vocab_size',
} as const;

/** The full metadata key: `llama.embedding_length`. */
export function archKey(arch: string, field: keyof typeof CONFIG_KEYS): string {
  return `${arch}.${CONFIG_KEYS[field]}`;
}

/** Defaults llama.cpp assumes when a file leaves a key out. */
export const CONFIG_DEFAULTS = { normEps: 1e-5, ropeBase: 10000 } as const;

export function configFromGGUF(file: GGUFHeaderView): LlamaConfig {
  const arch = file.string('general.architecture');
  const ropeStyle = LLAMA_FAMILY[arch];
  if (!ropeStyle) {
    throw new Error(`unsupported architecture '${arch}' (general.architecture); wisp runs: ${Object.keys(LLAMA_FAMILY).join(', ')}`);
  }
  const key = (k: keyof typeof CONFIG_KEYS) => archKey(arch, k);
  // RoPE scaling (llama 3.1 frequency factors, YaRN, linear) is not implemented: refuse rather than
  // produce subtly wrong text
  const scaling = file.optString(key('ropeScaling'));
  if ((scaling !== undefined && scaling !== 'none') || file.has('rope_freqs.weight')) {
    throw new Error(`RoPE scaling (${scaling ?? 'rope_freqs.weight'}) is not supported yet by wisp`);
  }
  const dim = file.number(key('dim'));
  const nHeads = file.number(key('nHeads'));
  const nKvHeads = file.optNumber(key('nKvHeads')) ?? nHeads;
  const headDim = file.optNumber(key('headDim')) ?? dim / nHeads;
  const nLayers = file.number(key('nLayers'));
  checkBlockCount(file, nLayers, key('nLayers'));
  const tokens = file.optArray('tokenizer.ggml.tokens');
  const vocabSize = file.optNumber(key('vocabSize')) ?? tokens?.length ?? file.tensorInfo('token_embd.weight').dims[1];
  const config: LlamaConfig = {
    arch,
    dim,
    nLayers,
    nHeads,
    nKvHeads,
    headDim,
    ffnDim: file.number(key('ffnDim')),
    vocabSize,
    contextLength: file.number(key('contextLength')),
    normEps: file.optNumber(key('normEps')) ?? CONFIG_DEFAULTS.normEps,
    ropeBase: file.optNumber(key('ropeBase')) ?? CONFIG_DEFAULTS.ropeBase,
    ropeDim: file.optNumber(key('ropeDim')) ?? headDim,
    ropeStyle,
    tiedOutput: !file.has('output.weight'),
    qkvBias: file.has('blk.0.attn_q.bias'),
  };
  validateConfig(config);
  return config;
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

/** The config of a llama model of this shape, as configFromGGUF reads back what llamaMetadata writes. */
export function configFromShape(shape: LlamaShape, vocabSize: number, over: Partial<LlamaConfig> = {}): LlamaConfig {
  const headDim = shape.dim / shape.nHeads;
  return {
    arch: 'llama',
    dim: shape.dim,
    nLayers: shape.nLayers,
    nHeads: shape.nHeads,
    nKvHeads: shape.nKvHeads,
    headDim,
    ffnDim: shape.ffnDim,
    vocabSize,
    contextLength: shape.contextLength,
    normEps: shape.normEps ?? CONFIG_DEFAULTS.normEps,
    ropeBase: shape.ropeBase ?? CONFIG_DEFAULTS.ropeBase,
    ropeDim: headDim,
    ropeStyle: LLAMA_FAMILY.llama,
    tiedOutput: false,
    qkvBias: false,
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
}
