// The tokenizer a model's GGUF metadata describes: SentencePiece BPE for 'llama' vocabs,
// byte-level BPE for 'gpt2' vocabs, with llama.cpp's handling of special tokens, BOS/EOS and
// the SentencePiece space prefix.

import { BpeEncoder, CHAR_TO_BYTE, toByteLevel } from './bpe.js';
import { preTokenizerFor, splitWords } from './pretokenize.js';
import { partition, specialTokenInfo, type Fragment } from './special.js';
import { SpmEncoder } from './spm.js';
import { LeadingSpaceStripper, createStreamDecoder, utf8Decoder, type StreamDecoder } from './stream-decoder.js';
import { TOKEN_TYPE, type TokenizerVocab } from './vocab.js';

export { TOKEN_TYPE, vocabFromMetadata, vocabToMetadata, type TokenizerVocab } from './vocab.js';
export type { StreamDecoder } from './stream-decoder.js';

export interface EncodeOptions {
  addBos?: boolean;        // default: the vocab's addBos
  addEos?: boolean;        // default: the vocab's addEos
  parseSpecial?: boolean;  // default false: "<s>", "<|eot_id|>"... in the text become those tokens
}

export interface DecodeOptions {
  // Default true: control tokens (BOS, EOS, chat markers) add no text, as in SentencePiece.
  // false: they are written as their token text, as llama.cpp does with special = true.
  skipSpecial?: boolean;
}

export interface Tokenizer {
  readonly vocab: TokenizerVocab;
  readonly vocabSize: number;
  readonly bosId?: number;
  readonly eosId?: number;
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: number[], opts?: DecodeOptions): string;
  /** The bytes a token stands for; control tokens stand for none. */
  tokenBytes(id: number): Uint8Array;
  /** End of generation: EOS, EOT, or a control token that ends a turn ("<|eot_id|>", "<|im_end|>"...). */
  isEog(id: number): boolean;
  streamDecoder(opts?: DecodeOptions): StreamDecoder;
}

const SPACE_SYMBOL = /\u2581/g;
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;
const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

export function createTokenizer(vocab: TokenizerVocab): Tokenizer {
  const n = vocab.tokens.length;
  const types = effectiveTokenTypes(vocab);
  const typed = { ...vocab, tokenTypes: types };
  const special = specialTokenInfo(vocab, types);
  const isSpm = vocab.model === 'llama';
  const encodeFragments = isSpm ? spmFragmentEncoder(typed) : bpeFragmentEncoder(typed);
  const stripsSpace = isSpm && vocab.addSpacePrefix;
  const eog = special.eog;

  const checkId = (id: number) => {
    if (!Number.isInteger(id) || id < 0 || id >= n) throw new RangeError(`token id ${id} is not in the vocab (0..${n - 1})`);
  };
  const plain: Array<Uint8Array | undefined> = new Array(n);
  const rendered: Array<Uint8Array | undefined> = new Array(n);
  const pieceBytes = (id: number, skipSpecial = true): Uint8Array => {
    checkId(id);
    const cache = skipSpecial ? plain : rendered;
    return (cache[id] ??= tokenToBytes(vocab.tokens[id], types[id], isSpm, !skipSpecial));
  };

  return {
    vocab,
    vocabSize: n,
    bosId: vocab.bosId,
    eosId: vocab.eosId,

    encode(text, opts = {}) {
      const out: number[] = [];
      if ((opts.addBos ?? vocab.addBos) && vocab.bosId !== undefined) out.push(vocab.bosId);
      const fragments = partition(wellFormed(text), vocab, special, opts.parseSpecial ?? false);
      encodeFragments(fragments, out);
      if ((opts.addEos ?? vocab.addEos) && vocab.eosId !== undefined) out.push(vocab.eosId);
      return out;
    },

    decode(ids, opts = {}) {
      const stripper = new LeadingSpaceStripper(stripsSpace);
      const pieces = ids.map((id) => stripper.next(pieceBytes(id, opts.skipSpecial)));
      const bytes = new Uint8Array(pieces.reduce((sum, p) => sum + p.length, 0));
      let at = 0;
      for (const p of pieces) {
        bytes.set(p, at);
        at += p.length;
      }
      return utf8Decoder().decode(bytes);
    },

    tokenBytes: (id) => pieceBytes(id),
    isEog: (id) => eog.has(id),
    streamDecoder: (opts = {}) => createStreamDecoder((id) => pieceBytes(id, opts.skipSpecial), stripsSpace),
  };
}

type FragmentEncoder = (fragments: Fragment[], out: number[]) => void;

// llama.cpp's SPM rule: the space prefix goes before the first text fragment and before each
// text fragment that follows a special token.
function spmFragmentEncoder(vocab: TokenizerVocab): FragmentEncoder {
  const spm = new SpmEncoder(vocab);
  return (fragments, out) => {
    let afterSpecial = true;
    for (const f of fragments) {
      if (typeof f === 'string') {
        spm.encode(f, vocab.addSpacePrefix && afterSpecial, out);
        afterSpecial = false;
      } else {
        out.push(f.id);
        afterSpecial = true;
      }
    }
  };
}

function bpeFragmentEncoder(vocab: TokenizerVocab): FragmentEncoder {
  const pre = preTokenizerFor(vocab.pre);
  const bpe = new BpeEncoder(vocab, pre.ignoreMerges);
  return (fragments, out) => {
    for (const f of fragments) {
      if (typeof f !== 'string') out.push(f.id);
      else for (const word of splitWords(f, pre)) bpe.encodeWord(toByteLevel(word), out);
    }
  };
}

/** The bytes of one token; `render` writes control tokens as their text. */
function tokenToBytes(text: string, type: number, isSpm: boolean, render: boolean): Uint8Array {
  switch (type) {
    case TOKEN_TYPE.CONTROL:
      return render ? utf8.encode(text) : EMPTY;
    case TOKEN_TYPE.UNKNOWN:
      return utf8.encode(isSpm ? '\u2585' : text); // llama.cpp writes SPM's <unk> as '▅'
    case TOKEN_TYPE.BYTE: {
      const m = BYTE_TOKEN.exec(text);
      if (m) return Uint8Array.of(parseInt(m[1], 16));
      break;
    }
    case TOKEN_TYPE.USER_DEFINED:
      if (!isSpm) return utf8.encode(text);
      break;
  }
  return isSpm ? utf8.encode(text.replace(SPACE_SYMBOL, ' ')) : fromByteLevel(text);
}

function fromByteLevel(text: string): Uint8Array {
  const bytes: number[] = [];
  for (const c of text) {
    const b = CHAR_TO_BYTE.get(c.charCodeAt(0));
    if (b !== undefined && c.length === 1) bytes.push(b);
    else bytes.push(...utf8.encode(c)); // not a byte-alphabet character: take it as text
  }
  return Uint8Array.from(bytes);
}

/** Token types, guessed from the special ids (and <0xNN> texts for SPM) when the vocab has none. */
function effectiveTokenTypes(v: TokenizerVocab): Int32Array {
  if (v.tokenTypes) return v.tokenTypes;
  const types = new Int32Array(v.tokens.length).fill(TOKEN_TYPE.NORMAL);
  if (v.model === 'llama') {
    v.tokens.forEach((t, id) => {
      if (BYTE_TOKEN.test(t)) types[id] = TOKEN_TYPE.BYTE;
    });
  }
  for (const id of [v.bosId, v.eosId, v.eotId, v.padId]) if (id !== undefined) types[id] = TOKEN_TYPE.CONTROL;
  if (v.unkId !== undefined) types[v.unkId] = TOKEN_TYPE.UNKNOWN;
  return types;
}

/** Lone UTF-16 surrogates cannot be written as UTF-8; like TextEncoder, make them U+FFFD. */
function wellFormed(s: string): string {
  return s.replace(/\p{Surrogate}/gu, '\uFFFD');
}
