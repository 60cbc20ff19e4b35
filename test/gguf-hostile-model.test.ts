// A real model file (stories260K) with one hostile header count each: a block_count of 2^31 - 1, a
// tensor or metadata count of 2^31 - 1, a vocabulary array claiming 2^40 items. Each must end in one
// clear line naming the field, from the header and config checks, before any per-layer work (the
// block_count case used to build 2^31 layer shape tables: 20 s and 2.2 GB, then "Map maximum size
// exceeded").
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openModel } from '../host/engine/open.js';
import { GGUFError, GGUFHeaderView, gv, readGGUFHeader, readTensorData, writeGGUF, type GGUFValue } from '../host/model/gguf/index.js';
import { configFromGGUF } from '../host/model/llama/config.js';
import { indexOfAscii, tempDir } from './helpers/gguf-fixtures.js';
import { sharedModel } from './helpers/paths.js';

const dir = tempDir();
const source = sharedModel('stories260K.gguf');
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** stories260K with metadata `key` replaced (written as a real GGUF file). */
function withMetadata(name: string, key: string, value: GGUFValue): string {
  const h = readGGUFHeader(source);
  const data = new Uint8Array(h.dataByteLength);
  readTensorData(source, h, data);
  const metadata = new Map(h.metadata);
  metadata.set(key, value);
  const path = join(dir, name);
  writeGGUF(path, {
    version: h.version as 2 | 3,
    metadata,
    tensors: h.tensors.map((t) => ({ name: t.name, type: t.type, dims: t.dims, data: data.subarray(t.offset, t.offset + t.byteLength) })),
  });
  return path;
}

/** stories260K with the u64 at `at` set to `value` (the bytes patched, nothing else changed). */
function patchedU64(name: string, at: (bytes: Uint8Array) => number, value: bigint): string {
  const bytes = new Uint8Array(readFileSync(source));
  new DataView(bytes.buffer).setBigUint64(at(bytes), value, true);
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

async function openError(path: string, engine: 'reference' | 'wasm'): Promise<Error> {
  try {
    const m = await openModel(path, { engine, threads: 1, log: () => {} });
    await m.close();
  } catch (err) {
    return err as Error;
  }
  throw new Error(`${path} opened on ${engine}`);
}

test('a block_count of 2^31 - 1 is refused from the tensor table, before any per-layer work, on every engine', async () => {
  const path = withMetadata('blocks.gguf', 'llama.block_count', gv.u32(2 ** 31 - 1));
  const expected = "model config: llama.block_count is 2147483647, but the file's 48 tensors cover only 5 blocks (blk.0 to blk.4)";
  assert.throws(() => configFromGGUF(GGUFHeaderView.read(path)), (e: Error) => e.message === expected);
  for (const engine of ['reference', 'wasm'] as const) {
    const e = await openError(path, engine);
    assert.is(e.message, expected, engine);
    assert.not.match(e.message, /\n/);
  }
});

test('a block_count one past the blocks in the file is refused; the real count loads', async () => {
  assert.throws(() => configFromGGUF(GGUFHeaderView.read(withMetadata('six.gguf', 'llama.block_count', gv.u32(6)))), /block_count is 6, but the file's 48 tensors cover only 5 blocks/);
  assert.is(configFromGGUF(GGUFHeaderView.read(source)).nLayers, 5);
});

test('tensor and metadata counts of 2^31 - 1 and a 2^40-item vocabulary fail in the header, naming the field', async () => {
  const cases: Array<[string, string, RegExp]> = [
    [patchedU64('tensors.gguf', () => 8, 2n ** 31n - 1n), 'tensor_count', /tensor_count 2147483647 at offset 8 is impossible/],
    [patchedU64('kvs.gguf', () => 16, 2n ** 31n - 1n), 'metadata_kv_count', /metadata_kv_count 2147483647 at offset 16 is impossible/],
    [
      // key string, value type (ARRAY), item type, then the count
      patchedU64('vocab.gguf', (b) => indexOfAscii(b, 'tokenizer.ggml.tokens') + 'tokenizer.ggml.tokens'.length + 8, 2n ** 40n),
      "metadata['tokenizer.ggml.tokens'].count",
      /an array of 1099511627776 STRING needs at least/,
    ],
  ];
  for (const [path, field, message] of cases) {
    const e = await openError(path, 'reference');
    assert.instance(e, GGUFError);
    assert.is((e as GGUFError).field, field);
    assert.match(e.message, message);
    assert.ok(e.message.includes(path), 'the message names the file');
  }
});

test.run();
