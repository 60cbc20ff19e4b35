// Shared by the tokenizer suites: where the test data is, the golden corpus, GGUF metadata as plain values.

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readGGUFHeader } from '../../host/model/gguf/index.js';
import { MODELS_DIR, ROOT, TOKENIZERS_DIR } from './paths.js';

export { ROOT };
export const GOLDEN_DIR = resolve(ROOT, 'test', 'golden', 'tokenizer');
const TOKENIZER_DIR = TOKENIZERS_DIR ?? resolve(ROOT, '..', 'shared', 'tokenizers');
const MODEL_DIR = MODELS_DIR ?? resolve(ROOT, '..', 'shared', 'models');

export const LLAMA2_TOKENIZER_BIN = resolve(TOKENIZER_DIR, 'llama2', 'tokenizer.bin');
export const TOK512_BIN = resolve(MODEL_DIR, 'tok512.bin');
export const STORIES260K_GGUF = resolve(MODEL_DIR, 'stories260K.gguf');

export function requireFile(path: string): string {
  if (!existsSync(path)) throw new Error(`test data missing: ${path} (set WISP_TOKENIZER_DIR / WISP_MODEL_PATH)`);
  return path;
}

/** test/golden/tokenizer/corpus.json, made by scripts/golden/tokenizer_corpus.mjs. */
export function loadCorpus(): string[] {
  const corpus = JSON.parse(readFileSync(resolve(GOLDEN_DIR, 'corpus.json'), 'utf8')) as { strings: string[] };
  return corpus.strings;
}

/** A short, printable description of a corpus string for failure messages. */
export function show(s: string, i?: number): string {
  const text = JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
  return i === undefined ? text : `corpus[${i}] ${text}`;
}

export function wellFormed(s: string): string {
  return s.replace(/\p{Surrogate}/gu, '\uFFFD');
}

/** A GGUF file's metadata as plain JS values, through wisp's GGUF reader. */
export function readGgufMetadata(path: string): Map<string, unknown> {
  return new Map([...readGGUFHeader(path).metadata].map(([key, v]) => [key, v.value]));
}
