// A tokenizer vocabulary from a file: a llama2.c tokenizer.bin, any GGUF's tokenizer metadata, or a
// Hugging Face tokenizer (a folder with tokenizer.json, or that file); and a vocab-only GGUF.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readGGUFHeader, writeGGUF } from './gguf/index.js';
import { llamaMetadata } from './llama/metadata.js';
import { readLlama2cTokenizer } from './llama2c-tokenizer.js';
import { vocabFromMetadata, type TokenizerVocab } from './tokenizer/index.js';
import { vocabFromHF } from './vocab-import.js';

export function readVocabFile(path: string): TokenizerVocab {
  if (!existsSync(path)) throw new Error(`${path}: no such file or folder`);
  if (statSync(path).isDirectory() || path.endsWith('.json')) {
    if (statSync(path).isDirectory() && !existsSync(join(path, 'tokenizer.json'))) {
      throw new Error(`${path}: a tokenizer folder needs a tokenizer.json (Hugging Face format)`);
    }
    return vocabFromHF(path);
  }
  if (path.endsWith('.gguf')) {
    const header = readGGUFHeader(path);
    return vocabFromMetadata((key) => header.metadata.get(key)?.value);
  }
  if (path.endsWith('.model')) {
    throw new Error(`${path}: SentencePiece .model files are not read directly; use the model's tokenizer.json folder, its llama2.c tokenizer.bin or a GGUF`);
  }
  return readLlama2cTokenizer(path);
}

/**
 * Writes a GGUF holding only a vocab (and the few llama hyperparameters a loader wants), like
 * llama.cpp's models/ggml-vocab-*.gguf: what llama.cpp loads with vocab_only to tokenize.
 */
export function writeVocabGGUF(path: string, vocab: TokenizerVocab): void {
  const shape = { dim: 64, nLayers: 1, nHeads: 1, nKvHeads: 1, ffnDim: 64, contextLength: 4096 };
  const metadata = llamaMetadata(vocab.name ?? 'vocab', shape, vocab);
  writeGGUF(path, { version: 3, metadata, tensors: [] });
}
