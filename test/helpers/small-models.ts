// Small random-weight models for comparisons with llama.cpp (test/llamacpp-fidelity.test.ts and
// scripts/golden/llamacpp_logits.mjs, which records llama.cpp's side): synth's weights and metadata
// (host/model/synth.ts, deterministic by seed), as a llama or a qwen2 file (qwen2: its arch keys,
// NeoX RoPE, and random Q/K/V biases), of any type wisp writes.
import { GGMLType } from '../../host/model/ggml-types.js';
import { gv, writeGGUF, type GGUFValue, type GGUFWriteTensor } from '../../host/model/gguf/index.js';
import { configFromShape, LLAMA_FAMILY, type LlamaShape } from '../../host/model/llama/config.js';
import { LLAMA_FILE_TYPE, llamaMetadata } from '../../host/model/llama/metadata.js';
import { tensorList } from '../../host/model/llama/tensors.js';
import { storageType, storedBytes } from '../../host/model/quantize/index.js';
import { randomWeights, synthTensors } from '../../host/model/synth.js';
import type { TokenizerVocab } from '../../host/model/tokenizer/index.js';

/** dim 256, GQA 8/4, as the other small-model tests. */
export const SMALL_SHAPE: LlamaShape = { dim: 256, nLayers: 4, nHeads: 8, nKvHeads: 4, ffnDim: 512, contextLength: 128 };

export interface SmallModel {
  arch: 'llama' | 'qwen2';
  type: GGMLType;
  seed: number;
  shape?: LlamaShape;
}

/** Writes the model to `path`: the same bytes for the same arguments and vocabulary. */
export function writeSmallModel(path: string, vocab: TokenizerVocab, m: SmallModel): void {
  const shape = m.shape ?? SMALL_SHAPE;
  let metadata = llamaMetadata(`small-${m.arch}`, shape, vocab, LLAMA_FILE_TYPE[m.type]);
  let tensors: GGUFWriteTensor[] = synthTensors(shape, vocab.tokens.length, m.type, m.seed);
  if (m.arch === 'qwen2') {
    // the same keys under qwen2's prefix; its tensors add Q/K/V biases (f32 vectors, random)
    metadata = new Map<string, GGUFValue>([...metadata].map(([k, v]) => [k.startsWith('llama.') ? `qwen2.${k.slice(6)}` : k, v]));
    metadata.set('general.architecture', gv.str('qwen2'));
    const specs = tensorList(configFromShape(shape, vocab.tokens.length, { arch: 'qwen2', ropeStyle: LLAMA_FAMILY.qwen2, qkvBias: true }));
    const byName = new Map(tensors.map((t) => [t.name, t]));
    tensors = specs.map(({ name, dims }, i) => {
      const t = byName.get(name);
      if (t) return t;
      // a bias: small random values
      const type = storageType(GGMLType.F32, dims);
      return { name, dims, type, data: () => storedBytes(type, randomWeights(dims[0], m.seed * 7919 + i, 0.05), dims[0]) };
    });
  }
  writeGGUF(path, { version: 3, metadata, tensors });
}
