// Byte-level BPE tokenizer ('gpt2' vocabs) against llama3-tokenizer-js, with the LLaMA 3 vocab.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTokenizer, type TokenizerVocab } from '../host/model/tokenizer/index.js';
import { BYTE_TO_CHAR, toByteLevel } from '../host/model/tokenizer/bpe.js';
import { preTokenizerFor, splitWords } from '../host/model/tokenizer/pretokenize.js';
import { llama3Tokenizer, llama3Vocab } from './helpers/tokenizer-llama3-vocab.js';

const llama3 = createTokenizer(llama3Vocab());
const BOS = 128000, EOS = 128001, EOT = 128009;

// Ids against llama.cpp for the whole corpus: tokenizer-llamacpp.test.ts. llama3-tokenizer-js (used
// below for special tokens) splits on JavaScript's \s, which differs from llama.cpp's Unicode
// White_Space on U+0085 and U+FEFF, so it is no longer the oracle for whole-corpus ids.

test('known LLaMA 3 encodings', () => {
  assert.equal(llama3.encode('Hello world'), [BOS, 9906, 1917]);
  assert.equal(llama3.encode('Hello world', { addBos: false, addEos: true }), [9906, 1917, EOS]);
  assert.equal(llama3.encode(''), [BOS]);
  assert.equal(llama3.encode('', { addBos: false }), []);
});

test('parseSpecial turns <|eot_id|> and friends into their ids; otherwise they are text', () => {
  const text = '<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>';
  const parsed = llama3.encode(text, { addBos: false, parseSpecial: true });
  assert.equal(parsed, llama3Tokenizer.encode(text, { bos: false, eos: false }));
  assert.equal(parsed[0], 128006);
  assert.equal(parsed[parsed.length - 1], EOT);
  const literal = llama3.encode(text, { addBos: false });
  assert.not.ok(literal.some((id) => id >= BOS), 'special ids without parseSpecial');
  assert.is(llama3.decode(literal), text);
});

test('decode skips control tokens unless asked to render them', () => {
  const ids = llama3.encode('<|begin_of_text|>hi<|eot_id|>', { addBos: false, parseSpecial: true });
  assert.equal(ids, [BOS, 6151, EOT]);
  assert.is(llama3.decode(ids), 'hi');
  assert.is(llama3.decode(ids, { skipSpecial: false }), '<|begin_of_text|>hi<|eot_id|>');
});

test('isEog: <|end_of_text|>, <|eot_id|> and <|eom_id|>', () => {
  assert.ok(llama3.isEog(EOS));
  assert.ok(llama3.isEog(EOT));
  assert.ok(llama3.isEog(128008)); // <|eom_id|>
  assert.not.ok(llama3.isEog(BOS));
  assert.not.ok(llama3.isEog(9906));
});

test('tokenBytes maps the byte alphabet back to bytes', () => {
  assert.equal([...llama3.tokenBytes(1917)], [...Buffer.from(' world')]); // 'Ġworld'
  assert.equal([...llama3.tokenBytes(BOS)], []);
  const id = llama3.vocab.tokens.indexOf(BYTE_TO_CHAR[0xe6]);
  assert.equal([...llama3.tokenBytes(id)], [0xe6]);
});

test('the byte alphabet is a bijection of the 256 bytes onto printable characters', () => {
  assert.is(new Set(BYTE_TO_CHAR).size, 256);
  assert.is(toByteLevel(' '), '\u0120');
  assert.is(toByteLevel('\n'), '\u010a');
  assert.is(toByteLevel('A'), 'A');
  assert.ok(BYTE_TO_CHAR.every((c) => !/\s/u.test(c)));
});

test('pre-tokenizers: llama3 groups up to 3 digits, qwen2 single digits, gpt-2 whole numbers', () => {
  const text = "I'LL pay 12345 now";
  assert.equal(splitWords(text, preTokenizerFor('llama3')), ['I', "'LL", ' pay', ' ', '123', '45', ' now']);
  assert.equal(splitWords(text, preTokenizerFor('qwen2')), ['I', "'LL", ' pay', ' ', '1', '2', '3', '4', '5', ' now']);
  assert.equal(splitWords(text, preTokenizerFor('gpt-2')), ['I', "'", 'LL', ' pay', ' 12345', ' now']);
  assert.equal(splitWords('a  \n\n b', preTokenizerFor('llama3')), ['a', '  \n\n', ' b']);
});

test('an unknown pre-tokenizer is a clear error', () => {
  const vocab: TokenizerVocab = { ...llama3Vocab(), pre: 'nonesuch' };
  assert.throws(() => createTokenizer(vocab), /unknown tokenizer.ggml.pre 'nonesuch'/);
});

test('without ignore_merges (gpt-2) words are merged from bytes', () => {
  // A tiny vocab where the whole word is a token but the merges cannot reach it.
  const vocab: TokenizerVocab = {
    model: 'gpt2', pre: 'gpt-2', tokens: ['a', 'b', 'c', 'ab', 'abc', 'bc'], merges: ['b c', 'a b'],
    addBos: false, addEos: false, addSpacePrefix: false,
  };
  assert.equal(createTokenizer(vocab).encode('abc'), [0, 5]); // 'b c' ranks first, then 'a bc' is no merge
  assert.equal(createTokenizer({ ...vocab, pre: 'llama3' }).encode('abc'), [4]); // ignore_merges
});

test('long text encodes and decodes back to itself', () => {
  const text = 'The quick brown fox jumps over the lazy dog. 日本語 1234567 🦀\n'.repeat(200);
  const ids = llama3.encode(text);
  assert.is(ids[0], BOS);
  assert.is(llama3.decode(ids), text);
});

test.run();
