// decode(encode(s)) == s and streaming decode, for both tokenizer kinds, over the corpus and
// over arbitrary strings (fast-check).
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readLlama2cTokenizer } from '../host/model/llama2c-tokenizer.js';
import { createTokenizer, type Tokenizer } from '../host/model/tokenizer/index.js';
import { LLAMA2_TOKENIZER_BIN, loadCorpus, requireFile, show, wellFormed } from './helpers/tokenizer-fixtures.js';
import { llama3Vocab } from './helpers/tokenizer-llama3-vocab.js';

const corpus = loadCorpus();
const spm = createTokenizer(readLlama2cTokenizer(requireFile(LLAMA2_TOKENIZER_BIN)));
const bpe = createTokenizer(llama3Vocab());

// What decode(encode(s)) gives back. The one documented exception: SentencePiece writes spaces as
// U+2581 '▁', so an input '▁' is read as a space and decodes as ' ' (sentencepiece and llama.cpp
// do the same). Lone surrogates have no UTF-8 form and come back as U+FFFD (as with TextEncoder).
const expectedText = {
  spm: (s: string) => wellFormed(s).replaceAll('\u2581', ' '),
  bpe: (s: string) => wellFormed(s),
};

const KINDS: Array<[name: 'spm' | 'bpe', tok: Tokenizer]> = [['spm', spm], ['bpe', bpe]];

function streamed(tok: Tokenizer, ids: number[]): { text: string; pushes: string[] } {
  const decoder = tok.streamDecoder();
  const pushes = ids.map((id) => decoder.push(id));
  return { text: pushes.join('') + decoder.flush(), pushes };
}

for (const [name, tok] of KINDS) {
  test(`${name}: decode(encode(s)) == s for every corpus string`, () => {
    const failures: string[] = [];
    corpus.forEach((s, i) => {
      const back = tok.decode(tok.encode(s));
      if (back !== expectedText[name](s)) failures.push(`${show(s, i)} came back as ${show(back)}`);
    });
    assert.equal(failures.slice(0, 10), [], `${failures.length} strings do not round-trip`);
  });

  test(`${name}: streaming decode equals decode, and never emits U+FFFD for valid text`, () => {
    const failures: string[] = [];
    corpus.forEach((s, i) => {
      const ids = tok.encode(s);
      const { text, pushes } = streamed(tok, ids);
      if (text !== tok.decode(ids)) failures.push(`${show(s, i)}: stream gave ${show(text)}`);
      if (!s.includes('\ufffd') && pushes.some((p) => p.includes('\ufffd'))) failures.push(`${show(s, i)}: U+FFFD mid-stream`);
    });
    assert.equal(failures.slice(0, 10), [], `${failures.length} failures`);
  });

  test(`${name}: property: arbitrary strings round-trip and encode never throws`, () => {
    const strings = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: 'grapheme-composite', maxLength: 40 }),
      fc.string({ unit: 'binary-ascii', maxLength: 60 }),
      fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r', 'a', 'é', '日', '🦀', '👍🏽', '\u0000', '\u2581', '<s>', "'s"), maxLength: 30 }),
      fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 20 }), // lone surrogates too
    );
    fc.assert(
      fc.property(strings, fc.boolean(), (s, addBos) => {
        const ids = tok.encode(s, { addBos });
        assert.is(tok.decode(ids), expectedText[name](s));
        assert.is(streamed(tok, ids).text, tok.decode(ids));
      }),
      { numRuns: 1000, seed: 42 },
    );
  });
}

test('a character split over byte tokens is held back until it is complete', () => {
  const ids = spm.encode('🦀', { addBos: false }); // '▁' + four byte tokens
  assert.is(ids.length, 5);
  const decoder = spm.streamDecoder();
  assert.equal(ids.map((id) => decoder.push(id)), ['', '', '', '', '🦀']);
  assert.is(decoder.flush(), '');
});

test('flush emits incomplete leftovers as U+FFFD, and the decoder keeps working', () => {
  const byte = (b: number) => b + 3; // llama2's <0xNN> ids
  const decoder = spm.streamDecoder();
  assert.is(decoder.push(byte(0xe6)), ''); // first of three bytes of '日'
  assert.is(decoder.push(byte(0x97)), '');
  assert.is(decoder.flush(), '\ufffd');
  assert.is(decoder.push(byte(0x41)), 'A');
  assert.is(decoder.push(byte(0xff)), '\ufffd'); // never valid: replaced at once
  assert.is(decoder.flush(), '');
});

test('the stream decoder strips the space prefix of the first word only', () => {
  const ids = spm.encode(' hello world'); // '▁▁hello▁world': the prefix's space and the text's own
  const decoder = spm.streamDecoder();
  assert.is(ids.map((id) => decoder.push(id)).join('') + decoder.flush(), ' hello world');
  const plain = spm.streamDecoder();
  assert.equal(spm.encode('hi you').map((id) => plain.push(id)), ['', 'hi', ' you']);
});

test.run();
