// `wisp convert`: a llama2.c checkpoint + tokenizer.bin -> a GGUF llama model.
import { basename } from 'node:path';
import { GGMLType } from './ggml-types.js';
import { writeGGUF, type GGUFWriteTensor } from './gguf/index.js';
import { readLlama2cCheckpoint } from './llama2c-checkpoint.js';
import { readLlama2cTokenizer } from './llama2c-tokenizer.js';
import { LLAMA_FILE_TYPE, llamaMetadata } from './llama/metadata.js';
import { storageType, storedBytes } from './quantize/index.js';

export interface ConvertOptions {
  type?: GGMLType;
  name?: string;
  onProgress?: (bytesWritten: number, total: number) => void;
}

export function convertLlama2c(checkpointPath: string, tokenizerPath: string, outPath: string, opts: ConvertOptions = {}): { tensors: number } {
  const { config: c, tensors } = readLlama2cCheckpoint(checkpointPath);
  const vocab = readLlama2cTokenizer(tokenizerPath);
  if (vocab.tokens.length !== c.vocabSize) {
    throw new Error(`${tokenizerPath} has ${vocab.tokens.length} tokens but ${checkpointPath} was trained with a vocabulary of ${c.vocabSize}`);
  }
  const type = opts.type ?? GGMLType.F32;
  const shape = { dim: c.dim, nLayers: c.nLayers, nHeads: c.nHeads, nKvHeads: c.nKvHeads, ffnDim: c.hiddenDim, contextLength: c.seqLen };
  const name = opts.name ?? basename(checkpointPath).replace(/\.bin$/, '');
  const metadata = llamaMetadata(name, shape, vocab, LLAMA_FILE_TYPE[type]);
  const out: GGUFWriteTensor[] = tensors.map((t) => {
    const storage = storageType(type, t.dims);
    return {
      name: t.name,
      dims: t.dims,
      type: storage,
      data: () => storedBytes(storage, t.data, t.dims[0]),
    };
  });
  writeGGUF(outPath, { version: 3, metadata, tensors: out }, opts.onProgress);
  return { tensors: out.length };
}
