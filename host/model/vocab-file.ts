// A tokenizer vocabulary from a file: a llama2.c tokenizer.bin, or any GGUF's tokenizer metadata.
import { readGGUFHeader } from './gguf/index.js';
import { readLlama2cTokenizer } from './llama2c-tokenizer.js';
import { vocabFromMetadata, type TokenizerVocab } from './tokenizer/index.js';

export function readVocabFile(path: string): TokenizerVocab {
  if (path.endsWith('.gguf')) {
    const header = readGGUFHeader(path);
    return vocabFromMetadata((key) => header.metadata.get(key)?.value);
  }
  if (path.endsWith('.model')) {
    throw new Error(`${path}: SentencePiece .model files are not read directly; use the llama2.c tokenizer.bin of the same vocabulary or a GGUF`);
  }
  return readLlama2cTokenizer(path);
}
