// Model files for the quantization-mix tests and their goldens (scripts/golden/llamacpp_quant_mixes.mjs
// writes the same files and hands them to llama.cpp's llama_model_quantize): real shapes whose tensor
// list is what llama.cpp's per-tensor rules read, and two small models whose quantized bytes are
// compared with llama.cpp's. Deterministic: the weights come from a seeded generator defined here, so the
// goldens and the tests make the same bytes.
import { GGMLType } from '../../host/model/ggml-types.js';
import { gv, writeGGUF, type GGUFValue, type GGUFWriteTensor } from '../../host/model/gguf/index.js';
import { configFromShape, type LlamaShape } from '../../host/model/llama/config.js';
import { llamaMetadata } from '../../host/model/llama/metadata.js';
import { tensorList } from '../../host/model/llama/tensors.js';
import { quantize } from '../../host/model/quantize/index.js';
import type { TokenizerVocab } from '../../host/model/tokenizer/index.js';

export interface MixShape extends LlamaShape {
  arch: 'llama' | 'qwen2';
  /** No output.weight: the head reuses token_embd.weight (Qwen2.5-0.5B). */
  tied: boolean;
}

/**
 * The shapes: stories110M's (llama), Qwen2.5-0.5B's (qwen2: 896 columns, which no 256-value block
 * tiles, GQA 14/2, biases, tied embeddings) with a small vocabulary (the rules do not read it), and two
 * small models for byte comparisons (288 columns: again not a multiple of 256).
 */
export const MIX_SHAPES: Readonly<Record<string, MixShape>> = {
  '110m': { arch: 'llama', tied: false, dim: 768, nLayers: 12, nHeads: 12, nKvHeads: 12, ffnDim: 2048, contextLength: 1024 },
  'qwen2.5-0.5b': { arch: 'qwen2', tied: true, dim: 896, nLayers: 24, nHeads: 14, nKvHeads: 2, ffnDim: 4864, contextLength: 32768, ropeBase: 1000000, normEps: 1e-6 },
  'mini-qwen2': { arch: 'qwen2', tied: true, dim: 288, nLayers: 2, nHeads: 9, nKvHeads: 3, ffnDim: 768, contextLength: 256 },
  'mini-llama': { arch: 'llama', tied: false, dim: 256, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnDim: 512, contextLength: 256 },
};

/** The tensors of a shape with `vocabSize` tokens: name and dims, in the order wisp writes them. */
export function mixTensors(shape: MixShape, vocabSize: number): Array<{ name: string; dims: number[] }> {
  const config = configFromShape(shape, vocabSize, { arch: shape.arch, qkvBias: shape.arch === 'qwen2', tiedOutput: shape.tied });
  return tensorList(config).map(({ name, dims }) => ({ name, dims: [...dims] }));
}

/** mulberry32 floats in (−s, s), a sum of two uniforms (a triangular distribution), from a seed per tensor. */
function weights(n: number, seed: number, s: number): Float32Array {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() + next() - 1) * s;
  return out;
}

function nameSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The f32 values of tensor `name` (norms all 1, biases and matrices random). */
export function mixTensorValues(name: string, dims: readonly number[], seed: number): Float32Array {
  const n = dims.reduce((a, b) => a * b, 1);
  if (name.endsWith('norm.weight')) return new Float32Array(n).fill(1);
  return weights(n, nameSeed(seed, name), dims.length === 1 ? 0.1 : 1 / Math.sqrt(dims[0]));
}

/**
 * Writes a model of `shape` whose matrices are `type` (F32 or F16; norms and biases F32): random weights
 * from `seed`, or all zeros (`zeros`: fast, for the shapes whose tensor types alone are compared).
 */
export function writeMixModel(path: string, shape: MixShape, vocab: TokenizerVocab, o: { type: GGMLType.F32 | GGMLType.F16; seed: number; zeros?: boolean }): void {
  const metadata = new Map<string, GGUFValue>();
  for (const [key, value] of llamaMetadata(`wisp-mix-${shape.arch}`, shape, vocab, o.type === GGMLType.F32 ? 0 : 1)) {
    metadata.set(key.startsWith('llama.') ? `${shape.arch}.${key.slice('llama.'.length)}` : key, value);
  }
  metadata.set('general.architecture', gv.str(shape.arch));
  const tensors: GGUFWriteTensor[] = mixTensors(shape, vocab.tokens.length).map(({ name, dims }) => {
    const type = dims.length === 1 ? GGMLType.F32 : o.type;
    const count = dims.reduce((a, b) => a * b, 1);
    return {
      name,
      dims,
      type,
      data: () => {
        if (o.zeros) return new Uint8Array(count * (type === GGMLType.F32 ? 4 : 2));
        const v = mixTensorValues(name, dims, o.seed);
        return type === GGMLType.F32 ? new Uint8Array(v.buffer) : quantize(GGMLType.F16, v, dims[0]);
      },
    };
  });
  writeGGUF(path, { version: 3, metadata, tensors });
}
