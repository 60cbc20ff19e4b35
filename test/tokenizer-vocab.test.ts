// TokenizerVocab from and to GGUF metadata, and from llama2.c's tokenizer.bin.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseLlama2cTokenizer, readLlama2cTokenizer } from '../host/model/llama2c-tokenizer.js';
import { TOKEN_TYPE, createTokenizer, vocabFromMetadata, vocabToMetadata, type TokenizerVocab } from '../host/model/tokenizer/index.js';
import { LLAMA2_TOKENIZER_BIN, STORIES260K_GGUF, TOK512_BIN, readGgufMetadata, requireFile } from './helpers/tokenizer-fixtures.js';

const fromMap = (m: Map<string, unknown>) => vocabFromMetadata((key) => m.get(key));

function minimalMetadata(extra: Record<string, unknown> = {}): Map<string, unknown> {
  return new Map(Object.entries({
    'tokenizer.ggml.model': 'llama',
    'tokenizer.ggml.tokens': ['<unk>', '<s>', '</s>', '\u2581a'],
    ...extra,
  }));
}

test('reads the stories260K GGUF tokenizer metadata', () => {
  const v = fromMap(readGgufMetadata(requireFile(STORIES260K_GGUF)));
  assert.is(v.model, 'llama');
  assert.is(v.tokens.length, 512);
  assert.is(v.tokens[259], '\u2581t');
  assert.is(v.scores!.length, 512);
  assert.equal([...v.tokenTypes!.slice(0, 4)], [TOKEN_TYPE.UNKNOWN, TOKEN_TYPE.CONTROL, TOKEN_TYPE.CONTROL, TOKEN_TYPE.BYTE]);
  assert.equal([v.bosId, v.eosId, v.unkId], [1, 2, 0]);
  assert.is(v.padId, undefined, 'padding id 0xFFFFFFFF means none');
  assert.equal([v.addBos, v.addEos, v.addSpacePrefix], [true, false, true]); // llama.cpp defaults for SPM
});

test('vocabToMetadata writes keys in llama.cpp order and reads back to the same vocab', () => {
  const v = readLlama2cTokenizer(requireFile(TOK512_BIN));
  const entries = vocabToMetadata({ ...v, chatTemplate: '{{ x }}' });
  assert.equal(entries.map(([k]) => k), [
    'tokenizer.ggml.model', 'tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type',
    'tokenizer.ggml.add_space_prefix', 'tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id',
    'tokenizer.ggml.unknown_token_id', 'tokenizer.ggml.add_bos_token', 'tokenizer.ggml.add_eos_token',
    'tokenizer.chat_template',
  ]);
  assert.equal(fromMap(new Map(entries)), { ...v, chatTemplate: '{{ x }}' });
});

test('a BPE vocab round-trips through metadata with its merges and pre-tokenizer', () => {
  const v: TokenizerVocab = {
    model: 'gpt2', pre: 'llama3', tokens: ['a', 'b', 'ab', '<|eot_id|>'], merges: ['a b'],
    tokenTypes: Int32Array.from([1, 1, 1, 3]), bosId: 0, eosId: 3, eotId: 3,
    addBos: true, addEos: false, addSpacePrefix: false,
  };
  const entries = vocabToMetadata(v);
  assert.ok(entries.findIndex(([k]) => k === 'tokenizer.ggml.pre') === 1);
  assert.equal(fromMap(new Map(entries)), v);
});

test('metadata values may be plain arrays, typed arrays or bigints', () => {
  const v = fromMap(minimalMetadata({
    'tokenizer.ggml.scores': [0, 0, 0, -1.5],
    'tokenizer.ggml.token_type': Int32Array.from([2, 3, 3, 1]),
    'tokenizer.ggml.bos_token_id': 1n,
  }));
  assert.ok(v.scores instanceof Float32Array);
  assert.is(v.scores![3], -1.5);
  assert.ok(v.tokenTypes instanceof Int32Array);
  assert.is(v.bosId, 1);
  assert.equal(createTokenizer(v).encode('a'), [1, 3]);
});

test('missing or ill-typed keys are errors that name the key', () => {
  assert.throws(() => vocabFromMetadata(() => undefined), /missing GGUF metadata key tokenizer\.ggml\.model/);
  assert.throws(() => fromMap(minimalMetadata({ 'tokenizer.ggml.model': 'bert' })), /tokenizer\.ggml\.model is 'bert'/);
  assert.throws(() => fromMap(minimalMetadata({ 'tokenizer.ggml.tokens': [1, 2] })), /tokenizer\.ggml\.tokens has the wrong type/);
  assert.throws(() => fromMap(minimalMetadata({ 'tokenizer.ggml.scores': 'x' })), /tokenizer\.ggml\.scores has the wrong type/);
  assert.throws(() => fromMap(minimalMetadata({ 'tokenizer.ggml.scores': [0, 1] })), /tokenizer\.ggml\.scores has 2 entries, but there are 4 tokens/);
  assert.throws(() => fromMap(minimalMetadata({ 'tokenizer.ggml.token_type': [1.5, 1, 1, 1] })), /tokenizer\.ggml\.token_type has the wrong type/);
  assert.throws(() => fromMap(minimalMetadata({ 'tokenizer.ggml.bos_token_id': 'one' })), /tokenizer\.ggml\.bos_token_id has the wrong type/);
  assert.throws(() => fromMap(minimalMetadata({ 'tokenizer.ggml.add_bos_token': 1 })), /tokenizer\.ggml\.add_bos_token has the wrong type/);
  assert.throws(() => fromMap(minimalMetadata({ 'tokenizer.ggml.model': 'gpt2' })), /missing tokenizer\.ggml\.merges/);
});

test('llama2.c tokenizer.bin becomes the vocab llama.cpp\'s converter makes', () => {
  const v = readLlama2cTokenizer(requireFile(LLAMA2_TOKENIZER_BIN));
  assert.is(v.tokens.length, 32000);
  assert.equal(v.tokens.slice(0, 4), ['<unk>', '<s>', '</s>', '<0x00>']);
  assert.equal([...v.tokenTypes!.slice(0, 4)], [TOKEN_TYPE.UNKNOWN, TOKEN_TYPE.CONTROL, TOKEN_TYPE.CONTROL, TOKEN_TYPE.BYTE]);
  assert.is(v.tokenTypes![258], TOKEN_TYPE.BYTE); // <0xFF>
  assert.is(v.tokenTypes![259], TOKEN_TYPE.NORMAL);
  assert.is(v.tokens[22172], '\u2581hello'); // ' ' written back as '▁'
  assert.ok(v.tokens.every((t) => !t.includes(' ')));
  assert.equal([v.bosId, v.eosId, v.unkId, v.addBos, v.addEos, v.addSpacePrefix], [1, 2, 0, true, false, true]);
  assert.is(v.model, 'llama');
});

test('a malformed tokenizer.bin is a clear error', () => {
  const good = new Uint8Array(readFileSync(requireFile(TOK512_BIN)));
  assert.throws(() => parseLlama2cTokenizer(good.subarray(0, 2), 't.bin'), /t\.bin is not a llama2\.c tokenizer: file too short/);
  assert.throws(() => parseLlama2cTokenizer(good.subarray(0, good.length - 3), 't.bin'), /runs past the end of the file/);
  assert.throws(() => parseLlama2cTokenizer(good.subarray(0, 4 + 6), 't.bin'), /truncated entry for token 0/);
  const badLength = good.slice();
  new DataView(badLength.buffer).setInt32(8, 1000, true); // token 0's length
  assert.throws(() => parseLlama2cTokenizer(badLength, 't.bin'), /token 0 has length 1000/);
  const notUtf8 = good.slice();
  notUtf8[12] = 0xff; // first byte of '<unk>'
  assert.throws(() => parseLlama2cTokenizer(notUtf8, 't.bin'), /token 0 is not valid UTF-8/);
  assert.throws(() => parseLlama2cTokenizer(Uint8Array.from([0, 0, 0, 0]), 't.bin'), /implausible max_token_length 0/);
  assert.throws(() => readLlama2cTokenizer('/nonexistent/tokenizer.bin'), /cannot read llama2\.c tokenizer \/nonexistent\/tokenizer\.bin/);

  const dir = mkdtempSync(join(tmpdir(), 'wisp-tok-'));
  try {
    const file = join(dir, 'tokenizer.bin');
    writeFileSync(file, Buffer.from('GGUF garbage that is no tokenizer'));
    assert.throws(() => readLlama2cTokenizer(file), new RegExp(`${file.replaceAll('.', '\\.')} is not a llama2\\.c tokenizer`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a vocab without token types still knows its special tokens', () => {
  const v = fromMap(minimalMetadata());
  const tok = createTokenizer(v);
  assert.equal(tok.encode('<s>a</s>', { parseSpecial: true, addBos: false }), [1, 3, 2]);
  assert.ok(tok.isEog(2));
  assert.is(tok.decode([1, 3, 2]), 'a');
});

test.run();
