// Writes random-weight llama models at real shapes: the benchmark models. Deterministic by seed,
// any supported tensor type, vocabulary taken from a real tokenizer file.
import { GGMLType, traitsOf } from './ggml-types.js';
import { gv, writeGGUF, type GGUFWriteTensor } from './gguf/index.js';
import { llamaMetadata, type LlamaShape } from './llama-metadata.js';
import { expectedShapes } from '../engine/load-weights.js';
import { quantize, quantizedType } from './quantize/index.js';
import type { TokenizerVocab } from './tokenizer/index.js';

export const SYNTH_SHAPES: Record<string, LlamaShape> = {
  // llama2.c's stories260K
  '260k': { dim: 64, nLayers: 5, nHeads: 8, nKvHeads: 4, ffnDim: 172, contextLength: 512 },
  // llama2.c's stories110M
  '110m': { dim: 768, nLayers: 12, nHeads: 12, nKvHeads: 12, ffnDim: 2048, contextLength: 1024 },
  // TinyLlama 1.1B
  tinyllama: { dim: 2048, nLayers: 22, nHeads: 32, nKvHeads: 4, ffnDim: 5632, contextLength: 2048 },
};

/** llama.cpp's general.file_type (llama_ftype) for a model whose 2-D tensors are mostly of one type. */
export const LLAMA_FILE_TYPE: Partial<Record<GGMLType, number>> = {
  [GGMLType.F32]: 0,
  [GGMLType.F16]: 1,
  [GGMLType.Q4_0]: 2,
  [GGMLType.Q8_0]: 7,
  [GGMLType.Q4_K]: 14, // Q4_K_S: every tensor Q4_K
  [GGMLType.Q6_K]: 18,
  [GGMLType.BF16]: 32,
};

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

/** The type a tensor made from f32 weights is stored in: norms stay F32; matrices as `wisp quantize` writes them (quantizedType). */
export function storageType(type: GGMLType, dims: number[]): GGMLType {
  return dims.length === 1 ? GGMLType.F32 : quantizedType(type, GGMLType.F32, dims[0]).type;
}

export function synthTensors(shape: LlamaShape, vocabSize: number, type: GGMLType, seed: number): GGUFWriteTensor[] {
  const headDim = shape.dim / shape.nHeads;
  // the tensor names and shapes of a llama model come from the one place the loaders check them
  const specs = [
    ...expectedShapes({
      arch: 'llama', dim: shape.dim, nLayers: shape.nLayers, nHeads: shape.nHeads, nKvHeads: shape.nKvHeads, headDim, ffnDim: shape.ffnDim,
      vocabSize, contextLength: shape.contextLength, normEps: shape.normEps ?? 1e-5, ropeBase: shape.ropeBase ?? 10000, ropeDim: headDim,
      ropeStyle: 'normal', tiedOutput: false, qkvBias: false,
    }),
  ];
  return specs.map(([name, dims]) => {
    const storage = storageType(type, dims);
    return {
      name,
      dims,
      type: storage,
      // generated lazily, one tensor at a time, so a 1.1B model never sits in memory whole
      data: () => {
        const count = dims.reduce((a, b) => a * b, 1);
        const values =
          dims.length === 1
            ? new Float32Array(count).fill(1) // RMSNorm gains
            : randomWeights(count, tensorSeed(seed, name), name === 'token_embd.weight' ? 1 : 1 / Math.sqrt(dims[0]));
        return storage === GGMLType.F32 ? new Uint8Array(values.buffer) : quantize(storage, values, dims[0]);
      },
    };
  });
}

export function synthModel(path: string, o: SynthOptions): void {
  traitsOf(o.type); // unknown type -> clear error before any work
  const metadata = llamaMetadata(o.name ?? 'wisp-synth', o.shape, o.vocab, LLAMA_FILE_TYPE[o.type]);
  metadata.set('general.description', gv.str(`random weights, seed ${o.seed}, written by wisp synth`));
  writeGGUF(path, { version: 3, metadata, tensors: synthTensors(o.shape, o.vocab.tokens.length, o.type, o.seed) }, o.onProgress);
}
