// Loading tensor data straight into a shared WebAssembly.Memory, as the wasm backend does.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { GGUFError, GGUFFile, readGGUFHeader, readTensorData, writeGGUF } from '../host/model/gguf/index.js';
import { syntheticInput, tempDir } from './helpers/gguf-fixtures.js';

const dir = tempDir();
const path = join(dir, 'memory.gguf');
writeGGUF(path, syntheticInput(3, 11));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const PAGE = 65536;

test('readTensorData lands the data section in a shared memory at an offset', () => {
  const header = readGGUFHeader(path);
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 16, shared: true });
  const at = 1000; // deliberately not 4-aligned
  const dest = new Uint8Array(memory.buffer, at, header.dataByteLength);
  readTensorData(path, header, dest);

  const file = readFileSync(path);
  const expected = file.subarray(header.dataOffset, header.dataOffset + header.dataByteLength);
  const inMemory = new Uint8Array(memory.buffer, at, header.dataByteLength);
  assert.ok(Buffer.from(inMemory).equals(expected), 'the bytes are in the memory');
  assert.is(new Uint8Array(memory.buffer)[at - 1], 0, 'nothing written before the destination');
  assert.is(new Uint8Array(memory.buffer)[at + header.dataByteLength], 0, 'nothing written after it');
});

test('GGUFFile.open with an allocator on a memory gives tensor views into that memory', () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 8, shared: true });
  const base = 4096;
  const f = GGUFFile.open(path, (n) => {
    const pages = Math.ceil((base + n) / PAGE);
    if (pages > memory.buffer.byteLength / PAGE) memory.grow(pages - memory.buffer.byteLength / PAGE);
    return new Uint8Array(memory.buffer, base, n);
  });
  assert.is(f.data.buffer, memory.buffer);
  const w = f.tensorF32('f32.odd');
  assert.is(w.buffer, memory.buffer, 'an F32 tensor is a view on the memory');
  assert.is(w.byteOffset, base + f.tensorInfo('f32.odd').offset);
  // Writing through the memory shows through the view: no copy was made.
  new Float32Array(memory.buffer, w.byteOffset, 1)[0] = 42;
  assert.is(w[0], 42);
});

test('tensorF32 copies an F32 tensor whose bytes are not 4-byte aligned in memory', () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const f = GGUFFile.open(path, (n) => new Uint8Array(memory.buffer, 4097, n));
  const w = f.tensorF32('f32.odd');
  assert.ok(w.buffer !== memory.buffer, 'a copy');
  const bytes = f.tensorBytes('f32.odd');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  w.forEach((x, i) => assert.is(x, view.getFloat32(4 * i, true)));
});

test('readTensorData refuses a destination smaller than the data section', () => {
  const header = readGGUFHeader(path);
  try {
    readTensorData(path, header, new Uint8Array(header.dataByteLength - 1));
    assert.unreachable('no error');
  } catch (e) {
    assert.instance(e, GGUFError);
    assert.is((e as GGUFError).field, 'dest');
    assert.match((e as Error).message, `the destination holds ${header.dataByteLength - 1} bytes, the data section needs ${header.dataByteLength}`);
  }
});

test('readTensorData refuses a file that changed size since its header was read', () => {
  const header = { ...readGGUFHeader(path), fileSize: 12345 };
  assert.throws(() => readTensorData(path, header, new Uint8Array(header.dataByteLength)), /the file is \d+ bytes now, 12345 when its header was read/);
});

test.run();
