// Opens a GGUF model for the reference engine: header, config, tokenizer, f32 weights (views for
// F32 tensors, dequantized copies for everything else).
import type { GGUFFile, GGUFHeaderView } from '../model/gguf/index.js';
import { defaultContextSize, type LlamaConfig } from '../model/llama/config.js';
import { ModelFile } from '../model/model-file.js';
import { createTokenizer, vocabFromMetadata, type Tokenizer } from '../model/tokenizer/index.js';
import { checkTensorShapes, mapModelTensors, partOf, type TensorSpec } from '../model/llama/tensors.js';
import { ReferenceModel, type LlamaWeights } from './reference.js';

export interface LoadedModel {
  path: string;
  file: GGUFFile;
  config: LlamaConfig;
  tokenizer: Tokenizer;
  engine: ReferenceModel;
}

export function tokenizerFromGGUF(file: GGUFHeaderView): Tokenizer {
  return createTokenizer(vocabFromMetadata((key) => file.header.metadata.get(key)?.value));
}

/** The reference engine on a model, from its path or a ModelFile already open; contextSize picks the RoPE factors a context that long uses (phi3). */
export function loadModel(source: string | ModelFile, opts: { contextSize?: number } = {}): LoadedModel {
  const model = typeof source === 'string' ? ModelFile.open(source) : source;
  const path = model.path;
  const file = model.data();
  const config = model.config;
  const tokenizer = tokenizerFromGGUF(file);
  checkVocabulary(path, tokenizer, config);
  const contextSize = Math.min(opts.contextSize ?? defaultContextSize(config), config.contextLength);
  const engine = new ReferenceModel(config, loadLlamaWeightsF32(file, config, contextSize), contextSize);
  return { path, file, config, tokenizer, engine };
}

export function checkVocabulary(path: string, tokenizer: Tokenizer, config: LlamaConfig): void {
  if (tokenizer.vocabSize !== config.vocabSize) {
    throw new Error(`${path}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary is ${config.vocabSize}`);
  }
}

/** The model's tensors as f32 (host/model/llama/tensors.ts names them), checked against the config first; the RoPE factors of a context of contextSize positions. */
export function loadLlamaWeightsF32(file: GGUFFile, c: LlamaConfig, contextSize = defaultContextSize(c)): LlamaWeights {
  checkTensorShapes(file, c);
  const f32 = (t: TensorSpec) => partOf(file.tensorF32(t.name), t, t.dims[0]);
  return mapModelTensors(c, { matrix: f32, vector: f32 }, contextSize);
}
