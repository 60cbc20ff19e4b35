// What each architecture wisp runs does differently from llama's graph, as llama.cpp builds it
// (src/models/<arch>.cpp, llama_model_rope_type): one row per `general.architecture`. The config
// (./config.ts) turns a row and the file's keys into fields; ./tensors.ts names the tensors those
// fields bring in; the engines read the fields, never the architecture's name.

/** 'normal' rotates adjacent pairs (llama); 'neox' rotates halves (qwen2, gpt-neox). */
export type RopeStyle = 'normal' | 'neox';

export interface ArchFacts {
  /** 'normal' rotates adjacent pairs (llama); 'neox' rotates halves (llama.cpp's LLAMA_ROPE_TYPE_NEOX). */
  ropeStyle: RopeStyle;
  /** The FFN gate's activation: SwiGLU (silu) or GeGLU with ggml's tanh GELU (gemma). */
  ffnAct: 'silu' | 'gelu';
  /** Per-head RMSNorm of q and k before RoPE (attn_q_norm, attn_k_norm [headDim]). */
  qkNorm: boolean;
  /** An RMSNorm of the attention output and of the FFN output before each residual add (post_attention_norm, post_ffw_norm). */
  postNorms: boolean;
  /** Token embeddings times √dim (gemma). */
  embedScale: boolean;
  /** Q, K, V stored as one attn_qkv tensor, gate and up as one ffn_up of 2·ffnDim rows (phi3). */
  fused: boolean;
  /** Reads `<arch>.attention.sliding_window` and attends over a window on the layers of its pattern (gemma3: 5 of every 6). */
  slidingWindow?: { pattern: number };
  /** llama.cpp requires rope.dimension_count = head size. */
  fullRope: boolean;
  /** Where llama.cpp takes the RoPE frequency factors from, when the file has them. */
  ropeFactors?: 'rope_freqs' | 'longrope';
  /** Reads `<arch>.final_logit_softcapping`. */
  logitSoftcap: boolean;
}

const LLAMA: ArchFacts = { ropeStyle: 'normal', ffnAct: 'silu', qkNorm: false, postNorms: false, embedScale: false, fused: false, fullRope: true, ropeFactors: 'rope_freqs', logitSoftcap: false };

/** The architectures wisp runs, by `general.architecture`. */
export const ARCHITECTURES: Readonly<Record<string, Readonly<ArchFacts>>> = {
  llama: LLAMA,
  mistral: LLAMA,
  qwen2: { ...LLAMA, ropeStyle: 'neox', ropeFactors: undefined },
  qwen3: { ...LLAMA, ropeStyle: 'neox', qkNorm: true, ropeFactors: undefined },
  gemma3: { ...LLAMA, ropeStyle: 'neox', ffnAct: 'gelu', qkNorm: true, postNorms: true, embedScale: true, slidingWindow: { pattern: 6 }, fullRope: false, ropeFactors: undefined, logitSoftcap: true },
  // Phi-3's GGUFs name a sliding window, which llama.cpp ignores ("Phi SWA is currently disabled"): so does wisp
  phi3: { ...LLAMA, ropeStyle: 'neox', fused: true, fullRope: false, ropeFactors: 'longrope' },
};

/** "llama, mistral, qwen2, qwen3, gemma3, phi3" */
export function archNames(): string {
  return Object.keys(ARCHITECTURES).join(', ');
}
