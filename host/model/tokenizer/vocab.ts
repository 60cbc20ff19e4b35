// The tokenizer part of a GGUF file's metadata (the `tokenizer.*` keys), as plain data.
// Tokenizers are built from this alone, so a vocab read from a GGUF, converted from a
// llama2.c tokenizer.bin or made by a test behaves the same way.

import { preAddsBos } from './pretokenize.js';

export interface TokenizerVocab {
  model: 'llama' | 'gpt2';          // tokenizer.ggml.model: 'llama' = SentencePiece BPE, 'gpt2' = byte-level BPE
  pre?: string;                     // tokenizer.ggml.pre: pre-tokenizer name ('default', 'llama3', 'qwen2', ...)
  tokens: string[];                 // tokenizer.ggml.tokens
  scores?: Float32Array;            // tokenizer.ggml.scores (SPM merge priorities)
  tokenTypes?: Int32Array;          // tokenizer.ggml.token_type (TOKEN_TYPE values)
  merges?: string[];                // tokenizer.ggml.merges (BPE), "a b", rank = index
  bosId?: number; eosId?: number; unkId?: number; padId?: number; eotId?: number;
  addBos: boolean; addEos: boolean; addSpacePrefix: boolean;
  chatTemplate?: string;            // tokenizer.chat_template
  name?: string;                    // general.name: llama.cpp keys a few token attributes on it (Phi-3)
}

export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export type MetadataValue = string | number | boolean | string[] | Float32Array | Int32Array;

const KEY = {
  model: 'tokenizer.ggml.model',
  pre: 'tokenizer.ggml.pre',
  tokens: 'tokenizer.ggml.tokens',
  scores: 'tokenizer.ggml.scores',
  tokenTypes: 'tokenizer.ggml.token_type',
  addSpacePrefix: 'tokenizer.ggml.add_space_prefix',
  merges: 'tokenizer.ggml.merges',
  bosId: 'tokenizer.ggml.bos_token_id',
  eosId: 'tokenizer.ggml.eos_token_id',
  unkId: 'tokenizer.ggml.unknown_token_id',
  padId: 'tokenizer.ggml.padding_token_id',
  eotId: 'tokenizer.ggml.eot_token_id',
  addBos: 'tokenizer.ggml.add_bos_token',
  addEos: 'tokenizer.ggml.add_eos_token',
  chatTemplate: 'tokenizer.chat_template',
} as const;


/**
 * Builds a vocab from GGUF metadata read through `get` (undefined for an absent key).
 * Missing optional keys take llama.cpp's defaults; a missing required key or a value of the
 * wrong type throws an error naming the key. Special token ids outside the vocab are dropped
 * (llama.cpp ignores them too; some converters write 0xFFFFFFFF for "none").
 */
export function vocabFromMetadata(get: (key: string) => unknown): TokenizerVocab {
  const model = requireValue(get, KEY.model, asString);
  if (model !== 'llama' && model !== 'gpt2') {
    throw new Error(`${KEY.model} is '${model}': only 'llama' (SentencePiece) and 'gpt2' (byte-level BPE) are supported`);
  }
  const tokens = requireValue(get, KEY.tokens, asStringArray);
  if (tokens.length === 0) throw new Error(`${KEY.tokens} is empty`);
  const n = tokens.length;
  const spm = model === 'llama';
  const pre = optional(get, KEY.pre, asString);

  const vocab: TokenizerVocab = {
    model,
    tokens,
    addBos: optional(get, KEY.addBos, asBoolean) ?? (spm || preAddsBos(pre)),
    addEos: optional(get, KEY.addEos, asBoolean) ?? false,
    addSpacePrefix: optional(get, KEY.addSpacePrefix, asBoolean) ?? spm,
  };
  if (pre !== undefined) vocab.pre = pre;

  const scores = optional(get, KEY.scores, asFloat32Array);
  if (scores) vocab.scores = checkLength(scores, n, KEY.scores);
  const types = optional(get, KEY.tokenTypes, asInt32Array);
  if (types) vocab.tokenTypes = checkLength(types, n, KEY.tokenTypes);
  const merges = optional(get, KEY.merges, asStringArray);
  if (merges) vocab.merges = merges;
  else if (!spm) throw new Error(`missing ${KEY.merges}: a 'gpt2' tokenizer needs its merges`);

  // SentencePiece vocabs default to llama's <unk>=0, <s>=1, </s>=2, as llama.cpp does.
  const defaults = spm ? { bosId: 1, eosId: 2, unkId: 0 } : {};
  for (const field of ['bosId', 'eosId', 'unkId', 'padId', 'eotId'] as const) {
    const id = optional(get, KEY[field], asInteger);
    const value = id !== undefined && id >= 0 && id < n ? id : (defaults as Record<string, number>)[field];
    if (value !== undefined && value < n) vocab[field] = value;
  }

  const template = optional(get, KEY.chatTemplate, asString);
  if (template !== undefined) vocab.chatTemplate = template;
  const name = get('general.name');
  if (typeof name === 'string') vocab.name = name;
  return vocab;
}

/** The inverse of vocabFromMetadata, for GGUF writers: keys in the order llama.cpp's converter writes them. */
export function vocabToMetadata(v: TokenizerVocab): Array<[key: string, value: MetadataValue]> {
  const out: Array<[string, MetadataValue]> = [];
  const put = (key: string, value: MetadataValue | undefined) => {
    if (value !== undefined) out.push([key, value]);
  };
  put(KEY.model, v.model);
  put(KEY.pre, v.pre);
  put(KEY.tokens, v.tokens);
  put(KEY.scores, v.scores);
  put(KEY.tokenTypes, v.tokenTypes);
  if (v.model === 'llama') put(KEY.addSpacePrefix, v.addSpacePrefix);
  put(KEY.merges, v.merges);
  put(KEY.bosId, v.bosId);
  put(KEY.eosId, v.eosId);
  put(KEY.unkId, v.unkId);
  put(KEY.padId, v.padId);
  put(KEY.eotId, v.eotId);
  put(KEY.addBos, v.addBos);
  put(KEY.addEos, v.addEos);
  if (v.model !== 'llama' && v.addSpacePrefix) put(KEY.addSpacePrefix, true); // rare for BPE; false is the default
  put(KEY.chatTemplate, v.chatTemplate);
  return out;
}

// ---- typed access to metadata values -------------------------------------------------------

type Cast<T> = (value: unknown) => T | undefined;

function requireValue<T>(get: (key: string) => unknown, key: string, cast: Cast<T>): T {
  const raw = get(key);
  if (raw === undefined || raw === null) throw new Error(`missing GGUF metadata key ${key}`);
  return castOrThrow(raw, key, cast);
}

function optional<T>(get: (key: string) => unknown, key: string, cast: Cast<T>): T | undefined {
  const raw = get(key);
  return raw === undefined || raw === null ? undefined : castOrThrow(raw, key, cast);
}

function castOrThrow<T>(raw: unknown, key: string, cast: Cast<T>): T {
  const value = cast(raw);
  if (value === undefined) throw new TypeError(`GGUF metadata key ${key} has the wrong type (${describe(raw)})`);
  return value;
}

function describe(raw: unknown): string {
  if (Array.isArray(raw)) return `array of ${raw.length > 0 ? typeof raw[0] : 'nothing'}`;
  if (ArrayBuffer.isView(raw)) return raw.constructor.name;
  return typeof raw;
}

function checkLength<T extends { length: number }>(a: T, n: number, key: string): T {
  if (a.length !== n) throw new Error(`GGUF metadata key ${key} has ${a.length} entries, but there are ${n} tokens`);
  return a;
}

const asString: Cast<string> = (x) => (typeof x === 'string' ? x : undefined);
const asBoolean: Cast<boolean> = (x) => (typeof x === 'boolean' ? x : undefined);

const asInteger: Cast<number> = (x) => {
  if (typeof x === 'bigint') return Number(x);
  return typeof x === 'number' && Number.isInteger(x) ? x : undefined;
};

const asStringArray: Cast<string[]> = (x) =>
  Array.isArray(x) && x.every((s) => typeof s === 'string') ? (x as string[]) : undefined;

function isNumberList(x: unknown): x is ArrayLike<number> {
  if (Array.isArray(x)) return x.every((e) => typeof e === 'number');
  return ArrayBuffer.isView(x) && !(x instanceof DataView) && !(x instanceof BigInt64Array) && !(x instanceof BigUint64Array);
}

const asFloat32Array: Cast<Float32Array> = (x) => {
  if (x instanceof Float32Array) return x;
  return isNumberList(x) ? Float32Array.from(x) : undefined;
};

const asInt32Array: Cast<Int32Array> = (x) => {
  if (x instanceof Int32Array) return x;
  if (!isNumberList(x)) return undefined;
  const out = Int32Array.from(x);
  return out.every((v, i) => v === x[i]) ? out : undefined;
};
