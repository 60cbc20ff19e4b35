// SentencePiece tokenizer ('llama' vocabs) against Python sentencepiece and llama.cpp.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../host/model/ggml-types.js';
import { SYNTH_SHAPES, synthModel } from '../host/model/synth.js';
import { readLlama2cTokenizer } from '../host/model/llama2c-tokenizer.js';
import { createTokenizer, vocabFromMetadata, vocabToMetadata, TOKEN_TYPE, type TokenizerVocab } from '../host/model/tokenizer/index.js';
import {
  GOLDEN_DIR, LLAMA2_TOKENIZER_BIN, STORIES260K_GGUF, TOK512_BIN, loadCorpus, readGgufMetadata, requireFile, show,
} from './helpers/tokenizer-fixtures.js';

const corpus = loadCorpus();
const llama2 = createTokenizer(readLlama2cTokenizer(requireFile(LLAMA2_TOKENIZER_BIN)));

test('the corpus has at least 2,000 strings, including the empty string', () => {
  assert.ok(corpus.length >= 2000, `only ${corpus.length} strings`);
  assert.ok(corpus.includes(''));
  assert.ok(corpus.some((s) => s.length > 5000), 'no long strings');
});

// The goldens are the ids of Python sentencepiece 0.2 with the LLaMA-2 tokenizer.model, no BOS:
//   python3 scripts/golden/spm_goldens.py   (spm.SentencePieceProcessor(model_file=...).encode(s))
// The tokenizer under test only sees the vocab read from llama2.c's tokenizer.bin of that model.
test('SPM ids equal sentencepiece for every corpus string (llama2 tokenizer.bin)', () => {
  const golden = JSON.parse(readFileSync(resolve(GOLDEN_DIR, 'spm-llama2.json'), 'utf8')) as { ids: number[][] };
  assert.is(golden.ids.length, corpus.length, 'goldens were made from another corpus: rerun spm_goldens.py');
  const mismatches: string[] = [];
  corpus.forEach((s, i) => {
    const ids = llama2.encode(s, { addBos: false });
    if (JSON.stringify(ids) !== JSON.stringify(golden.ids[i])) {
      mismatches.push(`${show(s, i)}: got ${JSON.stringify(ids).slice(0, 120)}, sentencepiece ${JSON.stringify(golden.ids[i]).slice(0, 120)}`);
    }
  });
  assert.equal(mismatches.slice(0, 10), [], `${mismatches.length} strings differ`);
});

test('the same ids after the vocab goes through GGUF metadata (vocabToMetadata → vocabFromMetadata)', () => {
  const golden = JSON.parse(readFileSync(resolve(GOLDEN_DIR, 'spm-llama2.json'), 'utf8')) as { ids: number[][] };
  const metadata = new Map<string, unknown>(vocabToMetadata(llama2.vocab));
  const viaGguf = createTokenizer(vocabFromMetadata((key) => metadata.get(key)));
  const differing = corpus.filter((s, i) => JSON.stringify(viaGguf.encode(s, { addBos: false })) !== JSON.stringify(golden.ids[i]));
  assert.equal(differing.slice(0, 5), []);
});

// The acceptance path: `wisp synth` writes a model GGUF from tokenizer.bin, and the tokenizer is
// built from that file's metadata as for any model.
test('the same ids with the vocab from a GGUF that wisp synth wrote from tokenizer.bin', () => {
  const golden = JSON.parse(readFileSync(resolve(GOLDEN_DIR, 'spm-llama2.json'), 'utf8')) as { ids: number[][] };
  const dir = mkdtempSync(join(tmpdir(), 'wisp-spm-'));
  try {
    const path = join(dir, 'synth.gguf');
    synthModel(path, { shape: { ...SYNTH_SHAPES['260k'], nLayers: 1 }, vocab: llama2.vocab, type: GGMLType.F32, seed: 1 });
    const meta = readGgufMetadata(path);
    const fromGguf = createTokenizer(vocabFromMetadata((key) => meta.get(key)));
    assert.is(fromGguf.vocabSize, 32000);
    const mismatches = corpus.filter((s, i) => JSON.stringify(fromGguf.encode(s, { addBos: false })) !== JSON.stringify(golden.ids[i]));
    assert.equal(mismatches.slice(0, 5), [], `${mismatches.length} strings differ`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// llama.cpp gives [1, 403, 407, 261, 378] for this prompt with stories260K.gguf (its README's
// greedy run starts from it). No SentencePiece model exists for that 512-token vocab, so the
// cross-check is between its two copies: the GGUF metadata and llama2.c's tok512.bin.
test('stories260K: "Once upon a time" is [1, 403, 407, 261, 378] from the GGUF and from tok512.bin', () => {
  const metadata = readGgufMetadata(requireFile(STORIES260K_GGUF));
  const fromGguf = vocabFromMetadata((key) => metadata.get(key));
  const fromBin = readLlama2cTokenizer(requireFile(TOK512_BIN));
  const expected = [1, 403, 407, 261, 378];
  assert.equal(createTokenizer(fromGguf).encode('Once upon a time'), expected);
  assert.equal(createTokenizer(fromBin).encode('Once upon a time'), expected);
  assert.equal(fromBin.tokens, fromGguf.tokens);
  assert.equal([...fromBin.scores!], [...fromGguf.scores!]);
  assert.equal([...fromBin.tokenTypes!], [...fromGguf.tokenTypes!]);
});

test('parseSpecial turns "<s>hello</s>" into [<s>, ..., </s>]; without it the text is literal', () => {
  assert.equal(llama2.encode('<s>hello</s>', { parseSpecial: true, addBos: false }), [1, 22172, 2]);
  assert.equal(llama2.encode('<s>hello</s>', { addBos: false }), [529, 29879, 29958, 12199, 829, 29879, 29958]);
  // llama.cpp adds BOS even when the text starts with one (and warns about it).
  assert.equal(llama2.encode('<s>hello</s>', { parseSpecial: true }), [1, 1, 22172, 2]);
});

test('the space prefix goes before the first text and after each special token, as in llama.cpp', () => {
  const hello = llama2.encode('hello', { addBos: false });
  assert.equal(hello, [22172]); // '▁hello'
  assert.equal(llama2.encode('hello</s>hello', { parseSpecial: true, addBos: false }), [22172, 2, 22172]);
  assert.equal(llama2.encode('hello</s>hello', { addBos: false }).includes(2), false);
});

test('addBos / addEos default to the vocab and can be overridden', () => {
  assert.equal(llama2.encode('hello'), [1, 22172]);
  assert.equal(llama2.encode('hello', { addBos: false, addEos: true }), [22172, 2]);
  assert.equal(llama2.encode(''), [1]);
  assert.equal(llama2.encode('', { addBos: false }), []);
});

test('characters outside the vocab fall back to byte tokens', () => {
  // '▁' then U+1F980 as <0xF0> <0x9F> <0xA6> <0x80> (byte tokens are ids 3..258).
  assert.equal(llama2.encode('🦀', { addBos: false }), [29871, 0xf0 + 3, 0x9f + 3, 0xa6 + 3, 0x80 + 3]);
  assert.is(llama2.decode([29871, 0xf0 + 3, 0x9f + 3, 0xa6 + 3, 0x80 + 3]), '🦀');
});

test('a vocab without byte tokens gives <unk> for unknown characters', () => {
  const vocab: TokenizerVocab = {
    model: 'llama', tokens: ['<unk>', '<s>', '</s>', '▁', 'a', 'b', '▁a', 'ab'],
    scores: Float32Array.from([0, 0, 0, -1, -2, -3, -4, -5]),
    tokenTypes: Int32Array.from([2, 3, 3, 1, 1, 1, 1, 1]),
    bosId: 1, eosId: 2, unkId: 0, addBos: false, addEos: false, addSpacePrefix: true,
  };
  const tok = createTokenizer(vocab);
  assert.equal(tok.encode('ab'), [6, 5]); // '▁a' (-4) is merged before 'ab' (-5)
  assert.equal(tok.encode('axb'), [6, 0, 5]);
  assert.is(tok.decode([6, 0, 5]), 'a\u2585b'); // llama.cpp shows <unk> as '▅'
});

test('merges pick the highest score, leftmost on ties', () => {
  const vocab: TokenizerVocab = {
    model: 'llama', tokens: ['<unk>', '<s>', '</s>', 'a', 'aa', '▁'],
    scores: Float32Array.from([0, 0, 0, -1, -1, -1]), bosId: 1, eosId: 2, unkId: 0,
    addBos: false, addEos: false, addSpacePrefix: false,
  };
  assert.equal(createTokenizer(vocab).encode('aaa'), [4, 3]);
});

test('decode drops the space-prefix space once, also after BOS, and keeps other spaces', () => {
  for (const s of ['hello', ' hello', '  two  spaces ', '\nnewline first', '']) {
    assert.is(llama2.decode(llama2.encode(s)), s);
    assert.is(llama2.decode(llama2.encode(s, { addBos: false })), s);
  }
  assert.is(llama2.decode([1, 22172, 2], { skipSpecial: false }), '<s> hello</s>');
});

test('tokenBytes: byte tokens are one byte, ▁ is a space, control tokens are empty', () => {
  assert.equal([...llama2.tokenBytes(0x41 + 3)], [0x41]);
  assert.equal([...llama2.tokenBytes(22172)], [...Buffer.from(' hello')]);
  assert.equal([...llama2.tokenBytes(1)], []);
  assert.equal([...llama2.tokenBytes(2)], []);
  assert.throws(() => llama2.tokenBytes(32000), /not in the vocab/);
});

test('isEog is true for </s> only', () => {
  assert.ok(llama2.isEog(2));
  assert.not.ok(llama2.isEog(1));
  assert.not.ok(llama2.isEog(22172));
  assert.is(llama2.vocabSize, 32000);
  assert.is(llama2.bosId, 1);
  assert.is(llama2.eosId, 2);
});

test('a 10,000-character string tokenizes in milliseconds', () => {
  const texts = ['x'.repeat(10_000), ' '.repeat(10_000), 'The quick brown fox. '.repeat(500), '日本語のテキスト'.repeat(1250)];
  for (const text of texts) {
    const t0 = performance.now();
    const ids = llama2.encode(text);
    const ms = performance.now() - t0;
    assert.ok(ms < 200, `${ms.toFixed(1)} ms for ${show(text)}`);
    assert.is(llama2.decode(ids), text);
  }
});

test('user-defined tokens are always split out, control tokens only with parseSpecial', () => {
  const vocab: TokenizerVocab = {
    model: 'llama', tokens: ['<unk>', '<s>', '</s>', '▁', 'a', '<tool>', '<', '>', 't', 'o', 'l'],
    tokenTypes: Int32Array.from([TOKEN_TYPE.UNKNOWN, 3, 3, 1, 1, TOKEN_TYPE.USER_DEFINED, 1, 1, 1, 1, 1]),
    bosId: 1, eosId: 2, unkId: 0, addBos: false, addEos: false, addSpacePrefix: false,
  };
  const tok = createTokenizer(vocab);
  assert.equal(tok.encode('a<tool>a'), [4, 5, 4]);
  assert.equal(tok.encode('a<s>'), [4, 6, 0, 7]); // 's' is not in this vocab and there are no byte tokens
  assert.equal(tok.encode('a</s>', { parseSpecial: true }), [4, 2]);
  assert.is(tok.decode([4, 5, 4]), 'a<tool>a');
});

test.run();
