// What GGUFFile tells about the real test model (stories260K), and its accessors' errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { GGMLType, dequantize } from '../host/model/ggml-types.js';
import { GGUFError, GGUFFile, GGUFValueType, parseGGUFHeader, readGGUFHeader } from '../host/model/gguf/index.js';
import { buildGGUF, modelFile, syntheticInput } from './helpers/gguf-fixtures.js';

const path = modelFile('stories260K.gguf');
const file = path ? GGUFFile.open(path) : undefined;

function withModel(name: string, fn: (f: GGUFFile) => void): void {
  test(name, () => {
    if (!file) {
      console.log(`  (skipped: stories260K.gguf not found in WISP_MODEL_PATH or ../shared/models)`);
      return;
    }
    fn(file);
  });
}

function throwsGGUF(fn: () => unknown, field: string, message: string): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, GGUFError);
    assert.is((e as GGUFError).field, field);
    assert.is((e as Error).message, message);
    return;
  }
  assert.unreachable(`expected a GGUFError for ${field}`);
}

withModel('stories260K: a v3 llama model with a 512-token vocabulary and 48 tensors', (f) => {
  assert.is(f.header.version, 3);
  assert.is(f.string('general.architecture'), 'llama');
  assert.is(f.string('tokenizer.ggml.model'), 'llama');
  assert.is(f.header.tensors.length, 48);
  assert.is(f.header.metadata.size, 19);
  assert.is(f.header.alignment, 32);
  assert.is(f.header.dataOffset, 14176);
  assert.is(f.header.fileSize, 1185376);
  assert.is(f.number('llama.embedding_length'), 64);
  assert.is(f.number('llama.block_count'), 5);
  assert.is(f.number('llama.attention.head_count'), 8);
  assert.is(f.number('llama.attention.head_count_kv'), 4);
  assert.is(f.number('llama.attention.layer_norm_rms_epsilon'), Math.fround(1e-5));
  assert.is(f.number('tokenizer.ggml.padding_token_id'), 4294967295);
});

withModel('stories260K: vocabulary arrays are typed (tokens string[], scores Float32Array, types Int32Array)', (f) => {
  const tokens = f.array('tokenizer.ggml.tokens', GGUFValueType.STRING);
  assert.is(tokens.length, 512);
  assert.equal(tokens.slice(0, 3), ['<unk>', '<s>', '</s>']);
  const scores = f.array('tokenizer.ggml.scores', GGUFValueType.FLOAT32);
  assert.instance(scores, Float32Array);
  assert.is(scores.length, 512);
  assert.instance(f.array('tokenizer.ggml.token_type', GGUFValueType.INT32), Int32Array);
});

withModel('stories260K: token_embd.weight is F32 [64, 512] and tensorF32 is a view of the data', (f) => {
  const info = f.tensorInfo('token_embd.weight');
  assert.equal(info.dims, [64, 512]);
  assert.is(info.type, GGMLType.F32);
  assert.is(info.nElements, 64 * 512);
  assert.is(info.byteLength, 64 * 512 * 4);
  const w = f.tensorF32('token_embd.weight');
  assert.instance(w, Float32Array);
  assert.is(w.length, 64 * 512);
  assert.is(w.buffer, f.data.buffer, 'a view, not a copy');
  // Same values as the file's bytes at the tensor's absolute offset.
  const bytes = readFileSync(path!);
  const at = f.header.dataOffset + info.offset;
  assert.is(w[123], bytes.readFloatLE(at + 123 * 4));
  assert.ok(f.has('output.weight'));
  assert.not.ok(f.has('nope.weight'));
});

withModel('stories260K: readGGUFHeader gives the same header as parsing the whole file', (f) => {
  const fromBytes = parseGGUFHeader(readFileSync(path!));
  const fromFile = readGGUFHeader(path!);
  assert.equal(fromFile.tensors, fromBytes.tensors);
  assert.equal([...fromFile.metadata.keys()], [...fromBytes.metadata.keys()]);
  assert.equal(f.header.tensors, fromBytes.tensors);
});

test('tensorF32 dequantizes a quantized tensor into a copy', () => {
  const input = syntheticInput(3);
  const f = GGUFFile.fromBytes(buildGGUF(input));
  for (const name of ['q8_0.mat', 'q4_K.mat', 'q6_K.mat', 'f16.vec', 'bf16.mat']) {
    const info = f.tensorInfo(name);
    const got = f.tensorF32(name);
    assert.is(got.length, info.nElements);
    assert.ok(got.buffer !== f.data.buffer, `${name}: a copy`);
    assert.equal(got, dequantize(info.type, f.tensorBytes(name), info.nElements), name);
  }
  assert.equal(f.tensorF32('scalar').length, 1);
  assert.equal(f.tensorF32('empty').length, 0);
});

test('metadata getters name the key and the expected type', () => {
  const f = GGUFFile.fromBytes(buildGGUF(syntheticInput(3)), 'syn.gguf');
  throwsGGUF(() => f.string('general.name'), "metadata['general.name']", "GGUF: syn.gguf: metadata key 'general.name' is missing (expected a STRING)");
  throwsGGUF(() => f.string('test.u32'), "metadata['test.u32']", "GGUF: syn.gguf: metadata key 'test.u32' is UINT32, expected a STRING");
  throwsGGUF(() => f.number('test.str.empty'), "metadata['test.str.empty']", "GGUF: syn.gguf: metadata key 'test.str.empty' is STRING, expected a number");
  throwsGGUF(() => f.number('test.u64'), "metadata['test.u64']", "GGUF: syn.gguf: metadata key 'test.u64' is 18446744073709551615, too large for a JS number");
  throwsGGUF(() => f.bool('test.u8'), "metadata['test.u8']", "GGUF: syn.gguf: metadata key 'test.u8' is UINT8, expected a BOOL");
  throwsGGUF(
    () => f.array('test.arr.i32', GGUFValueType.FLOAT32),
    "metadata['test.arr.i32']",
    "GGUF: syn.gguf: metadata key 'test.arr.i32' is an array of INT32, expected an array of FLOAT32",
  );
  throwsGGUF(() => f.array('test.f32'), "metadata['test.f32']", "GGUF: syn.gguf: metadata key 'test.f32' is FLOAT32, expected an ARRAY");
  throwsGGUF(() => f.tensorInfo('blk.0.attn_q.weight'), "tensors['blk.0.attn_q.weight']", "GGUF: syn.gguf: no tensor named 'blk.0.attn_q.weight' (the file has 9 tensors)");

  assert.is(f.optString('general.name'), undefined);
  assert.is(f.optNumber('nope'), undefined);
  assert.is(f.optBool('nope'), undefined);
  assert.is(f.optArray('nope'), undefined);
  throwsGGUF(() => f.number('test.i64'), "metadata['test.i64']", "GGUF: syn.gguf: metadata key 'test.i64' is -9223372036854775808, too large for a JS number");
  assert.is(f.number('test.f64'), Math.PI);
  assert.is(f.number('test.i8'), -128);
  assert.is(f.bool('test.bool.true'), true);
  assert.equal(f.optArray('test.arr.u8', GGUFValueType.UINT8), new Uint8Array([0, 1, 255]));
});

test.run();
