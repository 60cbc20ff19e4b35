// Writes random-weight llama models at real shapes: the benchmark models. Deterministic by seed,
// any supported tensor type, vocabulary taken from a real tokenizer file.
import { type GGMLType, traitsOf } from './ggml-types.js';
import { gv, writeGGUF, type GGUFWriteTensor } from './gguf/index.js';
import { configFromShape, type LlamaShape } from './llama/config.js';
import { LLAMA_FILE_TYPE, llamaMetadata } from './llama/metadata.js';
import { tensorList } from './llama/tensors.js';
import { storageType, storedBytes } from './quantize/index.js';
import type { TokenizerVocab } from './tokenizer/index.js';

export const SYNTH_SHAPES: Record<string, LlamaShape> = {
  // llama2.c's stories260K
  '260k': { dim: 64, nLayers: 5, nHeads: 8, nKvHeads: 4, ffnDim: 172, contextLength: 512 },
  // llama2.c's stories110M
  '110m': { dim: 768, nLayers: 12, nHeads: 12, nKvHeads: 12, ffnDim: 2048, contextLength: 1024 },
  // TinyLlama 1.1B
  tinyllama: { dim: 2048, nLayers: 22, nHeads: 32, nKvHeads: 4, ffnDim: 5632, contextLength: 2048 },
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

export function synthTensors(shape: LlamaShape, vocabSize: number, type: GGMLType, seed: number): GGUFWriteTensor[] {
  // the tensor names and shapes of a llama model come from the one place the loaders check them
  const specs = tensorList(configFromShape(shape, vocabSize));
  return specs.map(({ name, dims }) => {
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
        return storedBytes(storage, values, dims[0]);
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
