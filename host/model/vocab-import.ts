// A Hugging Face tokenizer (tokenizer.json, tokenizer_config.json, config.json) → the GGUF
// tokenizer metadata llama.cpp's convert_hf_to_gguf.py writes for it, as a TokenizerVocab
// (vocabToMetadata gives the GGUF key/value entries). Written from the converter's rules:
//  - byte-level BPE ('gpt2'): get_vocab_base + SpecialVocab: tokens by id (holes become
//    "[PADn]", unused), added tokens control when special or special-looking, else user-defined;
//    merges from tokenizer.json; tokenizer.ggml.pre named after the pre-tokenizer's pattern (the
//    converter hashes the HF tokenizer's output for a test string instead: same answer for the
//    families wisp knows, and a clear error for a pattern it does not);
//  - SentencePiece-style BPE ('llama': byte-fallback BPE with '▁' for spaces, e.g. Gemma 3,
//    Phi-3, LLaMA 2): _create_vocab_sentencepiece. tokenizer.model is not read: scores are rebuilt
//    from the merge order (score = -rank of the first merge that makes the piece), which orders
//    merges as the SentencePiece scores do; added tokens get -1000 as the converter gives them.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TOKEN_TYPE, type TokenizerVocab } from './tokenizer/index.js';
import { preAddsBos } from './tokenizer/pretokenize.js';

export interface HFTokenizerFiles {
  tokenizer: unknown;        // tokenizer.json
  tokenizerConfig?: unknown; // tokenizer_config.json
  config?: unknown;          // config.json (vocab_size, *_token_id)
}

export interface HFImportOptions {
  /** tokenizer.ggml.pre to write instead of the one found from the pattern. */
  pre?: string;
  /** general.name, which llama.cpp reads for a few token attributes (Phi-3). */
  name?: string;
}

/** Reads tokenizer.json (+ tokenizer_config.json, config.json when present) from a folder, or a tokenizer.json path. */
export function readHFTokenizerFiles(path: string): HFTokenizerFiles {
  const dir = statSync(path).isDirectory() ? path : join(path, '..');
  const tokenizerPath = statSync(path).isDirectory() ? join(dir, 'tokenizer.json') : path;
  if (!existsSync(tokenizerPath)) throw new Error(`${path}: no tokenizer.json (a Hugging Face tokenizer folder has one)`);
  const json = (file: string) => {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as unknown;
    } catch (err) {
      throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
    }
  };
  const optional = (file: string) => (existsSync(join(dir, file)) ? json(join(dir, file)) : undefined);
  return { tokenizer: json(tokenizerPath), tokenizerConfig: optional('tokenizer_config.json'), config: optional('config.json') };
}

/** The vocab llama.cpp's converter would write for a Hugging Face tokenizer folder (or its files). */
export function vocabFromHF(source: string | HFTokenizerFiles, opts: HFImportOptions = {}): TokenizerVocab {
  const files = typeof source === 'string' ? readHFTokenizerFiles(source) : source;
  const tj = asObject(files.tokenizer, 'tokenizer.json');
  const model = asObject(tj.model, 'tokenizer.json model');
  if (model.type !== 'BPE') {
    throw new Error(`tokenizer.json model type '${String(model.type)}' is not supported: wisp imports BPE tokenizers (byte-level or SentencePiece-style)`);
  }
  const vocab = asObject(model.vocab, 'tokenizer.json model.vocab') as Record<string, number>;
  const added = (Array.isArray(tj.added_tokens) ? tj.added_tokens : []) as AddedToken[];
  const cfg = (files.tokenizerConfig ?? {}) as Record<string, unknown>;
  const config = (files.config ?? {}) as Record<string, unknown>;
  const spm = isSentencePieceStyle(tj, model);

  let v: TokenizerVocab = spm ? sentencePieceVocab(tj, model, vocab, added, cfg, config) : byteLevelVocab(tj, model, vocab, added, config, opts);
  const special = specialTokens(tj, cfg, config, added, v.tokens.length);
  // without add_bos_token in the files, llama.cpp adds BOS for SentencePiece and LLaMA-3-style vocabs: write that
  v = { ...v, addBos: spm || preAddsBos(v.pre), ...special };
  const template = cfg.chat_template;
  if (typeof template === 'string') v.chatTemplate = template;
  else if (Array.isArray(template)) {
    const named = (template as Array<{ name?: string; template?: string }>).find((t) => t.name === 'default');
    if (typeof named?.template === 'string') v.chatTemplate = named.template;
  }
  if (opts.name !== undefined) v.name = opts.name;
  return v;
}

interface AddedToken { id: number; content: string; special?: boolean; normalized?: boolean }

function isSentencePieceStyle(tj: Record<string, unknown>, model: Record<string, unknown>): boolean {
  const decoder = JSON.stringify(tj.decoder ?? null);
  return model.byte_fallback === true || decoder.includes('"ByteFallback"') || decoder.includes('"Metaspace"');
}

// ---- byte-level BPE --------------------------------------------------------------------------

function byteLevelVocab(
  tj: Record<string, unknown>, model: Record<string, unknown>, vocab: Record<string, number>, added: AddedToken[],
  config: Record<string, unknown>, opts: HFImportOptions,
): TokenizerVocab {
  const byId = new Map<number, string>();
  for (const [text, id] of Object.entries(vocab)) byId.set(id, text);
  const addedById = new Map<number, AddedToken>();
  for (const a of added) {
    byId.set(a.id, a.content);
    addedById.set(a.id, a);
  }
  const n = vocabSize(config, byId, 'refuse');
  const tokens: string[] = new Array(n);
  const tokenTypes = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const text = byId.get(i);
    const a = addedById.get(i);
    if (text === undefined) {
      tokens[i] = `[PAD${i}]`;
      tokenTypes[i] = TOKEN_TYPE.UNUSED;
    } else if (a) {
      const control = a.special === true || looksSpecial(text);
      tokens[i] = control ? text : text.replaceAll('\u2581', ' ');
      tokenTypes[i] = control ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.USER_DEFINED;
    } else {
      tokens[i] = text;
      tokenTypes[i] = TOKEN_TYPE.NORMAL;
    }
  }
  return {
    model: 'gpt2',
    pre: opts.pre ?? preTokenizerName(tj.pre_tokenizer),
    tokens,
    tokenTypes,
    merges: mergeStrings(model.merges),
    addBos: false,
    addEos: false,
    addSpacePrefix: false,
  };
}

/** The converter's does_token_look_special. */
function looksSpecial(t: string): boolean {
  return ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(t) ||
    (t.startsWith('<|') && t.endsWith('|>')) || (t.startsWith('<｜') && t.endsWith('｜>')) ||
    (t.startsWith('<unused') && t.endsWith('>'));
}

/**
 * The vocab size: config.json's vocab_size when it has one (the converter pads up to it), else the
 * tokenizer's. Ids past a smaller vocab_size: the byte-level converter asserts there are none
 * ('refuse'); the SentencePiece one leaves them out with a warning ('drop': Gemma 3's
 * <image_soft_token> at 262144, past its 262,144).
 */
function vocabSize(config: Record<string, unknown>, byId: Map<number, unknown>, pastSize: 'refuse' | 'drop'): number {
  const fromConfig = config.vocab_size ?? (config.text_config as Record<string, unknown> | undefined)?.vocab_size;
  let largest = 0;
  for (const id of byId.keys()) largest = Math.max(largest, id + 1);
  if (typeof fromConfig === 'number' && Number.isInteger(fromConfig)) {
    if (fromConfig < largest && pastSize === 'refuse') {
      throw new Error(`config.json vocab_size ${fromConfig} is smaller than the tokenizer (${largest} tokens)`);
    }
    return fromConfig;
  }
  return largest;
}

/** Merges as GGUF writes them: "a b", with spaces inside a pair's parts written as U+0120 (new pair format). */
function mergeStrings(merges: unknown): string[] {
  if (!Array.isArray(merges)) throw new Error('tokenizer.json has no model.merges: a BPE tokenizer needs its merges');
  if (merges.length === 0 || typeof merges[0] === 'string') return merges as string[];
  return (merges as string[][]).map((pair) => pair.map((part) => part.replaceAll(' ', '\u0120')).join(' '));
}

// The pre-tokenizer patterns of the families wisp knows, as they appear in tokenizer.json, → llama.cpp's name.
const PRE_BY_PATTERN: Record<string, string> = {
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+": 'llama-bpe',
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+": 'qwen2',
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+": 'gpt-4o',
};

/** tokenizer.ggml.pre for a tokenizer.json pre_tokenizer, or a clear error. */
export function preTokenizerName(preTokenizer: unknown): string {
  const steps = flatten(preTokenizer);
  const kinds = steps.map((s) => s.type);
  const split = steps.find((s) => s.type === 'Split');
  const regex = (split?.pattern as { Regex?: string } | undefined)?.Regex;
  if (regex !== undefined && PRE_BY_PATTERN[regex]) return PRE_BY_PATTERN[regex];
  const byteLevel = steps.find((s) => s.type === 'ByteLevel');
  // SmolLM / StarCoder: digits one by one, then GPT-2's pattern (llama.cpp's 'smollm' and 'starcoder' split alike)
  const digits = steps.find((s) => s.type === 'Digits');
  if (digits?.individual_digits === true && byteLevel?.use_regex === true && steps.length === 2) return 'smollm';
  if (byteLevel?.use_regex === true && steps.length === 1) return 'gpt-2';
  throw new Error(
    `tokenizer.json pre-tokenizer ${regex !== undefined ? `pattern ${JSON.stringify(regex)}` : `[${kinds.join(', ')}]`} ` +
      `is not one wisp knows (llama-bpe, qwen2, gpt-4o, smollm, gpt-2); pass the tokenizer.ggml.pre name to use`,
  );
}

function flatten(p: unknown): Array<Record<string, unknown>> {
  if (!p || typeof p !== 'object') return [];
  const o = p as Record<string, unknown>;
  return o.type === 'Sequence' ? (o.pretokenizers as unknown[]).flatMap(flatten) : [o];
}

// ---- SentencePiece-style BPE ----------------------------------------------------------------

function sentencePieceVocab(
  tj: Record<string, unknown>, model: Record<string, unknown>, vocab: Record<string, number>, added: AddedToken[],
  cfg: Record<string, unknown>, config: Record<string, unknown>,
): TokenizerVocab {
  const byId = new Map<number, string>();
  for (const [text, id] of Object.entries(vocab)) byId.set(id, text);
  const n = vocabSize(config, new Map([...byId, ...added.map((a) => [a.id, a.content] as [number, string])]), 'drop');
  const tokens: string[] = Array.from({ length: n }, (_, i) => `[PAD${i}]`);
  const scores = new Float32Array(n).fill(-10000);
  const tokenTypes = new Int32Array(n).fill(TOKEN_TYPE.UNUSED);

  const merges = mergeStrings(model.merges);
  const firstRank = new Map<string, number>();
  merges.forEach((m, rank) => {
    const piece = m.replace(' ', '');
    if (!firstRank.has(piece)) firstRank.set(piece, rank);
  });
  const unk = typeof model.unk_token === 'string' ? model.unk_token : undefined;
  for (const [id, text] of byId) {
    if (id >= n) continue;
    tokens[id] = text;
    if (/^<0x[0-9A-F]{2}>$/.test(text)) {
      tokenTypes[id] = TOKEN_TYPE.BYTE;
      scores[id] = 0;
    } else if (text === unk) {
      tokenTypes[id] = TOKEN_TYPE.UNKNOWN;
      scores[id] = 0;
    } else {
      tokenTypes[id] = TOKEN_TYPE.NORMAL;
      scores[id] = -(firstRank.get(text) ?? merges.length + id);
    }
  }
  // the converter's added_tokens_decoder pass (tokenizer.json's added_tokens hold the same entries)
  const decoder = (cfg.added_tokens_decoder ?? Object.fromEntries(added.map((a) => [a.id, a]))) as Record<string, AddedToken>;
  for (const [key, a] of Object.entries(decoder)) {
    const id = Number(key);
    if (!(id < n)) continue;
    const control = a.special === true || looksSpecial(a.content);
    tokenTypes[id] = control ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.USER_DEFINED;
    tokens[id] = control ? a.content : a.content.replaceAll('\u2581', ' ');
    scores[id] = -1000;
  }
  return {
    model: 'llama',
    pre: 'default',
    tokens,
    scores,
    tokenTypes,
    addBos: true,
    addEos: false,
    addSpacePrefix: addsSpacePrefix(tj),
  };
}

/** SentencePiece's add_dummy_prefix, as tokenizer.json spells it: a Prepend('▁') normalizer or a prepending Metaspace. */
function addsSpacePrefix(tj: Record<string, unknown>): boolean {
  const text = JSON.stringify([tj.normalizer ?? null, tj.pre_tokenizer ?? null]);
  return /"type":"Prepend","prepend":"\u2581"/.test(text) ||
    (/"type":"Metaspace"/.test(text) && !/"prepend_scheme":"never"/.test(text) && !/"add_prefix_space":false/.test(text));
}

// ---- special token ids and add_bos / add_eos (the converter's SpecialVocab) --------------------

type SpecialFields = Pick<TokenizerVocab, 'bosId' | 'eosId' | 'unkId' | 'padId' | 'addBos' | 'addEos'>;

function specialTokens(
  tj: Record<string, unknown>, cfg: Record<string, unknown>, config: Record<string, unknown>, added: AddedToken[], n: number,
): Partial<SpecialFields> {
  const out: Partial<SpecialFields> = {};
  const idOf = (content: string) => added.find((a) => a.content === content)?.id;
  const contentOf = (entry: unknown) =>
    typeof entry === 'string' ? entry : typeof (entry as { content?: unknown })?.content === 'string' ? (entry as { content: string }).content : undefined;
  const field = { bos: 'bosId', eos: 'eosId', unk: 'unkId', pad: 'padId' } as const;
  const ids: Record<string, number> = {};
  const set = (typ: string, id: unknown) => {
    if (typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < n && !(typ in ids)) ids[typ] = id;
  };

  // TemplateProcessing: a leading special token equal to BOS means add_bos
  const post = tj.post_processor as Record<string, unknown> | null | undefined;
  const processors = (post ? (post.processors as unknown[] | undefined) ?? [post] : []) as Array<Record<string, unknown>>;
  for (const p of processors) {
    if (p.type !== 'TemplateProcessing') continue;
    const single = (p.single ?? []) as Array<{ SpecialToken?: { id: string } }>;
    if (single.length > 1) {
      const first = single[0].SpecialToken?.id;
      if (first) out.addBos = first === contentOf(cfg.bos_token) || first === contentOf(cfg.cls_token);
      const last = single[single.length - 1].SpecialToken?.id;
      if (last) out.addEos = last === contentOf(cfg.eos_token);
    }
  }
  for (const typ of ['bos', 'eos', 'unk', 'sep', 'pad', 'cls', 'mask']) {
    const add = cfg[`add_${typ}_token`];
    if (typeof add === 'boolean') {
      if (typ === 'bos') out.addBos = add;
      if (typ === 'eos') out.addEos = add;
    }
    const content = contentOf(cfg[`${typ}_token`]);
    if (content !== undefined) set(typ, idOf(content));
  }
  for (const typ of Object.keys(field)) set(typ, config[`${typ}_token_id`]);
  for (const [typ, key] of Object.entries(field)) if (typ in ids) out[key] = ids[typ];
  return out;
}

function asObject(x: unknown, what: string): Record<string, unknown> {
  if (!x || typeof x !== 'object' || Array.isArray(x)) throw new Error(`${what} is missing or not an object`);
  return x as Record<string, unknown>;
}
