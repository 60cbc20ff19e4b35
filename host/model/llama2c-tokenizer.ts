// llama2.c's tokenizer.bin → a SentencePiece vocab, as llama.cpp's convert-llama2c-to-ggml
// makes it. The file is: i32 max_token_length, then per token f32 score, i32 byte length, bytes
// (little-endian). llama2.c's exporter wrote '▁' as ' ' and <s>, </s> as "\n<s>\n", "\n</s>\n";
// the converter undoes both and gives each token a type.

import { readFileSync } from 'node:fs';
import { TOKEN_TYPE, type TokenizerVocab } from './tokenizer/vocab.js';

const UNK_ID = 0, BOS_ID = 1, EOS_ID = 2;
const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;

export function readLlama2cTokenizer(path: string): TokenizerVocab {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read llama2.c tokenizer ${path}: ${(err as Error).message}`);
  }
  return parseLlama2cTokenizer(data, path);
}

/** Parses the bytes of a tokenizer.bin; `name` is only used in error messages. */
export function parseLlama2cTokenizer(data: Uint8Array, name = 'tokenizer.bin'): TokenizerVocab {
  const malformed = (offset: number, what: string) =>
    new Error(`${name} is not a llama2.c tokenizer: ${what} at byte ${offset}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length < 4) throw malformed(0, 'file too short for the max_token_length header');
  const maxLength = view.getInt32(0, true);
  if (maxLength <= 0 || maxLength > 1 << 16) throw malformed(0, `implausible max_token_length ${maxLength}`);

  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const tokens: string[] = [];
  const scores: number[] = [];
  let at = 4;
  while (at < data.length) {
    if (at + 8 > data.length) throw malformed(at, `truncated entry for token ${tokens.length}`);
    const score = view.getFloat32(at, true);
    const length = view.getInt32(at + 4, true);
    if (length < 0 || length > maxLength) throw malformed(at + 4, `token ${tokens.length} has length ${length} (max_token_length is ${maxLength})`);
    if (at + 8 + length > data.length) throw malformed(at, `token ${tokens.length} runs past the end of the file`);
    let text: string;
    try {
      text = decoder.decode(data.subarray(at + 8, at + 8 + length));
    } catch {
      throw malformed(at + 8, `token ${tokens.length} is not valid UTF-8`);
    }
    tokens.push(text);
    scores.push(score);
    at += 8 + length;
  }
  if (tokens.length <= EOS_ID) throw malformed(at, `only ${tokens.length} tokens (needs at least <unk>, <s>, </s>)`);

  const types = tokens.map((text, id) => tokenType(text, id));
  return {
    model: 'llama',
    tokens: tokens.map((text, id) => tokenText(text, id)),
    scores: Float32Array.from(scores),
    tokenTypes: Int32Array.from(types),
    bosId: BOS_ID,
    eosId: EOS_ID,
    unkId: UNK_ID,
    addBos: true,
    addEos: false,
    addSpacePrefix: true,
  };
}

function tokenType(text: string, id: number): number {
  if (id === UNK_ID) return TOKEN_TYPE.UNKNOWN;
  if (id === BOS_ID || id === EOS_ID || text.length === 0) return TOKEN_TYPE.CONTROL;
  return BYTE_TOKEN.test(text) ? TOKEN_TYPE.BYTE : TOKEN_TYPE.NORMAL;
}

function tokenText(text: string, id: number): string {
  if (id === UNK_ID) return '<unk>';
  if (id === BOS_ID) return '<s>';
  if (id === EOS_ID) return '</s>';
  return text.replaceAll(' ', '\u2581');
}
