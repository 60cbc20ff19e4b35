// Opens a GGUF model for the reference engine: header, config, tokenizer, f32 weights.
import { GGUFFile, type GGUFHeaderView } from '../model/gguf/index.js';
import { configFromGGUF, type LlamaConfig } from '../model/llama-config.js';
import { createTokenizer, vocabFromMetadata, type Tokenizer } from '../model/tokenizer/index.js';
import { loadLlamaWeightsF32 } from './load-weights.js';
import { ReferenceModel } from './reference.js';

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

export function loadModel(path: string): LoadedModel {
  const file = GGUFFile.open(path);
  const config = configFromGGUF(file);
  const tokenizer = tokenizerFromGGUF(file);
  checkVocabulary(path, tokenizer, config);
  const engine = new ReferenceModel(config, loadLlamaWeightsF32(file, config));
  return { path, file, config, tokenizer, engine };
}

export function checkVocabulary(path: string, tokenizer: Tokenizer, config: LlamaConfig): void {
  if (tokenizer.vocabSize !== config.vocabSize) {
    throw new Error(`${path}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary is ${config.vocabSize}`);
  }
}
