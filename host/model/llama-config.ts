// The hyperparameters of a llama-family model, read from GGUF metadata (the one source of truth).
import type { GGUFHeaderView } from './gguf/index.js';

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

/** Architectures whose graph is the llama one, and the RoPE layout each uses (as llama.cpp assigns it). */
export const LLAMA_FAMILY: Record<string, RopeStyle> = {
  llama: 'normal',
  mistral: 'normal',
  qwen2: 'neox',
};

export function configFromGGUF(file: GGUFHeaderView): LlamaConfig {
  const arch = file.string('general.architecture');
  const ropeStyle = LLAMA_FAMILY[arch];
  if (!ropeStyle) {
    throw new Error(`unsupported architecture '${arch}' (general.architecture); wisp runs: ${Object.keys(LLAMA_FAMILY).join(', ')}`);
  }
  const key = (k: string) => `${arch}.${k}`;
  // RoPE scaling (llama 3.1 frequency factors, YaRN, linear) is not implemented: refuse rather than
  // produce subtly wrong text
  const scaling = file.optString(key('rope.scaling.type'));
  if ((scaling !== undefined && scaling !== 'none') || file.has('rope_freqs.weight')) {
    throw new Error(`RoPE scaling (${scaling ?? 'rope_freqs.weight'}) is not supported yet by wisp`);
  }
  const dim = file.number(key('embedding_length'));
  const nHeads = file.number(key('attention.head_count'));
  const nKvHeads = file.optNumber(key('attention.head_count_kv')) ?? nHeads;
  const headDim = file.optNumber(key('attention.key_length')) ?? dim / nHeads;
  const tokens = file.optArray('tokenizer.ggml.tokens');
  const vocabSize = file.optNumber(key('vocab_size')) ?? tokens?.length ?? file.tensorInfo('token_embd.weight').dims[1];
  const nLayers = file.number(key('block_count'));
  checkBlockCount(file, nLayers, key('block_count'));
  const config: LlamaConfig = {
    arch,
    dim,
    nLayers,
    nHeads,
    nKvHeads,
    headDim,
    ffnDim: file.number(key('feed_forward_length')),
    vocabSize,
    contextLength: file.number(key('context_length')),
    normEps: file.optNumber(key('attention.layer_norm_rms_epsilon')) ?? 1e-5,
    ropeBase: file.optNumber(key('rope.freq_base')) ?? 10000,
    ropeDim: file.optNumber(key('rope.dimension_count')) ?? headDim,
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
