// Malformed GGUF files: every one ends in a GGUFError that names the field (never a RangeError,
// a TypeError, a hang or a huge allocation). Exact messages for the common cases, then
// fast-check over truncations, corrupted bytes and absurd counts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GGMLType } from '../host/model/ggml-types.js';
import { GGUFError, GGUFValueType, gv, parseGGUFHeader, readGGUFHeader } from '../host/model/gguf/index.js';
import { buildGGUF, indexOfAscii, syntheticInput, tempDir } from './helpers/gguf-fixtures.js';

const dir = tempDir();
test.after(() => rmSync(dir, { recursive: true, force: true }));

// The base file for exact messages, 192 bytes:
//   0 magic | 4 version | 8 tensor_count=1 | 16 kv_count=1
//   24 key length | 32 'general.architecture' | 52 value type | 56 string length | 64 'llama'
//   69 name length | 77 'w' | 78 n_dims | 82 dims[0]=8 | 90 dims[1]=2 | 98 type | 102 offset | 110 padding
//   128 data (64 bytes)
function base(): Uint8Array {
  return buildGGUF({
    metadata: new Map([['general.architecture', gv.str('llama')]]),
    tensors: [{ name: 'w', dims: [8, 2], type: GGMLType.F32, data: new Uint8Array(64) }],
  });
}

function patch(bytes: Uint8Array, at: number, value: number | bigint, size: 4 | 8): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  if (size === 4) view.setUint32(at, Number(value), true);
  else view.setBigUint64(at, BigInt(value), true);
  return out;
}

function parseError(bytes: Uint8Array, fileSize?: number): GGUFError {
  try {
    parseGGUFHeader(bytes, fileSize);
  } catch (e) {
    if (e instanceof GGUFError) return e;
    throw new Error(`expected a GGUFError, got ${String(e)}`);
  }
  throw new Error('expected a GGUFError, the file parsed');
}

function expectError(bytes: Uint8Array, field: string, message: string, fileSize?: number): void {
  const e = parseError(bytes, fileSize);
  assert.is(e.message, message);
  assert.is(e.field, field);
}

test('base fixture is valid and laid out as the comment says', () => {
  const h = parseGGUFHeader(base());
  assert.is(h.fileSize, 192);
  assert.is(h.dataOffset, 128);
  assert.is(indexOfAscii(base(), 'general.architecture'), 32);
  assert.is(indexOfAscii(base(), 'llama'), 64);
});

test('wrong magic', () => {
  const b = base();
  b.set([0x47, 0x47, 0x4d, 0x4c], 0);
  expectError(b, 'magic', 'GGUF: magic at offset 0 is 47 47 4d 4c ("GGML"), expected 47 47 55 46 ("GGUF"): not a GGUF file');
  expectError(new Uint8Array([0x47, 0x47]), 'magic', 'GGUF: magic at offset 0 runs past the end of the file (2 bytes)');
  expectError(new Uint8Array(0), 'magic', 'GGUF: magic at offset 0 runs past the end of the file (0 bytes)');
});

test('version 1, an unknown version and a big-endian file', () => {
  expectError(patch(base(), 4, 1, 4), 'version', 'GGUF: version 1 at offset 4 is not supported (wisp reads GGUF v2 and v3)');
  expectError(patch(base(), 4, 4, 4), 'version', 'GGUF: version 4 at offset 4 is not supported (wisp reads GGUF v2 and v3)');
  expectError(
    patch(base(), 4, 0x03000000, 4),
    'version',
    'GGUF: version 50331648 at offset 4 is not supported (wisp reads GGUF v2 and v3; it looks like a big-endian file, which wisp does not read)',
  );
});

test('truncated in the tensor infos', () => {
  expectError(base().subarray(0, 94), 'tensors[0].dims[1]', 'GGUF: tensors[0].dims[1] at offset 90 runs past the end of the file (94 bytes)');
  expectError(base().subarray(0, 78), 'tensors[0].n_dims', 'GGUF: tensors[0].n_dims at offset 78 runs past the end of the file (78 bytes)');
  // Only the header's bytes given, but the file is longer: the message says so.
  expectError(base().subarray(0, 94), 'tensors[0].dims[1]', 'GGUF: tensors[0].dims[1] at offset 90 runs past the 94 bytes given (the file is 192 bytes)', 192);
});

test('truncated in the metadata', () => {
  expectError(base().subarray(0, 60), "metadata['general.architecture'] length", "GGUF: metadata['general.architecture'] length at offset 56 runs past the end of the file (60 bytes)");
  expectError(base().subarray(0, 66), "metadata['general.architecture']", "GGUF: metadata['general.architecture'] at offset 56: string length 5 is more than the 2 bytes left in the file");
});

test('tensor data past the end of the file', () => {
  expectError(
    base().subarray(0, 150),
    'tensors[0].offset',
    "GGUF: tensor 0 ('w') offset 0 + 64 bytes runs past the end of the file (150 bytes; the data section starts at 128)",
  );
  const e = parseError(patch(base(), 102, 4096, 8));
  assert.is(e.message, "GGUF: tensor 0 ('w') offset 4096 + 64 bytes runs past the end of the file (192 bytes; the data section starts at 128)");
  assert.is(e.offset, 102);
});

test('unknown and removed tensor types', () => {
  expectError(patch(base(), 98, 99, 4), 'tensors[0].type', "GGUF: tensor 0 ('w') type at offset 98: unknown ggml type 99");
  expectError(
    patch(base(), 98, 31, 4),
    'tensors[0].type',
    "GGUF: tensor 0 ('w') type at offset 98: ggml type 31 (Q4_0_4_4) was removed from ggml; use Q4_0, which ggml repacks at load time",
  );
});

test('n_dims 5', () => {
  expectError(patch(base(), 78, 5, 4), 'tensors[0].n_dims', "GGUF: tensor 0 ('w') n_dims at offset 78 is 5, more than the 4 ggml supports");
});

test('huge string lengths', () => {
  expectError(
    patch(base(), 24, 0xffffffffffffffffn, 8),
    'metadata[0].key',
    'GGUF: metadata[0].key at offset 24: string length 18446744073709551615 is more than the 160 bytes left in the file',
  );
  expectError(
    patch(base(), 56, 2n ** 53n, 8),
    "metadata['general.architecture']",
    "GGUF: metadata['general.architecture'] at offset 56: string length 9007199254740992 is more than the 128 bytes left in the file",
  );
  expectError(patch(base(), 69, 1000, 8), 'tensors[0].name', 'GGUF: tensors[0].name at offset 69: string length 1000 is more than the 115 bytes left in the file');
});

test('a key over 65535 bytes and a tensor name over 64 bytes', () => {
  // The writer refuses such a key, so lay the file out by hand: header, key, UINT8 value.
  const longKey = new Uint8Array(24 + 8 + 70000 + 4 + 1);
  const v = new DataView(longKey.buffer);
  v.setUint32(0, 0x46554747, true);
  v.setUint32(4, 3, true);
  v.setBigUint64(16, 1n, true);
  v.setBigUint64(24, 70000n, true);
  longKey.fill(0x6b, 32, 32 + 70000);
  expectError(longKey, 'metadata[0].key', 'GGUF: metadata[0].key at offset 24: string length 70000 exceeds the GGUF limit of 65535 bytes');
  // The writer refuses long names, so patch one in: 'w' + the following bytes as a 65-byte name.
  expectError(patch(base(), 69, 65, 8), 'tensors[0].name', 'GGUF: tensors[0].name at offset 69: string length 65 exceeds the GGUF limit of 64 bytes');
});

test('absurd tensor and metadata counts', () => {
  expectError(
    patch(base(), 8, 2n ** 40n, 8),
    'tensor_count',
    'GGUF: tensor_count 1099511627776 at offset 8 is impossible: each tensor info takes at least 24 bytes and only 168 bytes follow the header',
  );
  expectError(
    patch(base(), 16, 0xffffffffffffffffn, 8),
    'metadata_kv_count',
    'GGUF: metadata_kv_count 18446744073709551615 at offset 16 is impossible: each entry takes at least 13 bytes and only 168 bytes follow the header',
  );
});

test('absurd array counts', () => {
  // 24 key length | 32 'a' | 33 type ARRAY | 37 item type | 41 count | 49 items | 57 padding to 64
  const arr = buildGGUF({ metadata: new Map([['a', gv.arr(GGUFValueType.UINT32, [1, 2])]]), tensors: [] });
  assert.is(arr.length, 64);
  expectError(
    patch(arr, 41, 2n ** 62n, 8),
    "metadata['a'].count",
    "GGUF: metadata['a'].count at offset 41: an array of 4611686018427387904 UINT32 needs at least 18446744073709551616 bytes, only 15 are left in the file",
  );
  expectError(patch(arr, 37, 13, 4), "metadata['a'].item_type", "GGUF: metadata['a'].item_type at offset 37: unknown value type 13");
  const strings = patch(patch(arr, 37, GGUFValueType.STRING, 4), 41, 3, 8);
  expectError(strings, "metadata['a'].count", "GGUF: metadata['a'].count at offset 41: an array of 3 STRING needs at least 24 bytes, only 15 are left in the file");
});

test('unknown value type and a bool that is neither 0 nor 1', () => {
  expectError(patch(base(), 52, 13, 4), "metadata['general.architecture'].type", "GGUF: metadata['general.architecture'].type at offset 52: unknown value type 13");
  const b = buildGGUF({ metadata: new Map([['flag', gv.bool(true)]]), tensors: [] });
  b[40] = 2; // 24 length | 32 'flag' | 36 type | 40 value
  expectError(b, "metadata['flag']", "GGUF: metadata['flag'] at offset 40: BOOL byte is 2, not 0 or 1");
});

test('dims whose product overflows, and rows that are not whole blocks', () => {
  expectError(
    patch(patch(base(), 82, 2n ** 32n, 8), 90, 2n ** 32n, 8),
    'tensors[0].dims[1]',
    "GGUF: tensor 0 ('w') dims[1] at offset 90 is 4294967296: too large (a tensor has at most 2^53 - 1 elements)",
  );
  expectError(patch(base(), 98, GGMLType.Q8_0, 4), 'tensors[0].dims[0]', "GGUF: tensor 0 ('w') of type q8_0 has rows (dims[0]) of 8 values, not a multiple of its block size 32");
});

test('misaligned, overlapping and duplicate tensors', () => {
  expectError(patch(base(), 102, 4, 8), 'tensors[0].offset', "GGUF: tensor 0 ('w') offset 4 is not a multiple of the alignment 32");
  const two = buildGGUF({
    metadata: new Map(),
    tensors: ['a', 'b'].map((name) => ({ name, dims: [16], type: GGMLType.F32, data: new Uint8Array(64) })),
  });
  // 24 'a' info: name length | 32 'a' | 33 n_dims | 37 dims[0] | 45 type | 49 offset
  // 57 'b' info: name length | 65 'b' | 66 n_dims | 70 dims[0] | 78 type | 82 offset | 90 padding | 96 data
  expectError(patch(two, 82, 32, 8), 'tensors[1].offset', "GGUF: tensor 1 ('b') offset 32: its bytes [32, 96) overlap tensor 0 ('a') bytes [0, 64)");
  const dup = two.slice();
  dup[65] = 'a'.charCodeAt(0);
  expectError(dup, 'tensors[1].name', "GGUF: tensors[1].name at offset 57: duplicate tensor name 'a'");
  // Gaps and any order are fine.
  const swapped = patch(patch(two, 82, 0, 8), 49, 64, 8);
  assert.equal(parseGGUFHeader(swapped).tensors.map((t) => t.offset), [64, 0]);
});

test('general.alignment must be a UINT32 power of two', () => {
  // Build with a valid alignment, then patch its type or value.
  const b = buildGGUF({ metadata: new Map([['general.alignment', gv.u32(64)]]), tensors: [] });
  // 24 length | 32 'general.alignment' (17) | 49 type | 53 value
  expectError(patch(b, 53, 48, 4), "metadata['general.alignment']", "GGUF: metadata['general.alignment'] is 48, not a power of two");
  expectError(patch(b, 53, 0, 4), "metadata['general.alignment']", "GGUF: metadata['general.alignment'] is 0, not a power of two");
  expectError(patch(b, 49, GGUFValueType.INT32, 4), "metadata['general.alignment']", "GGUF: metadata['general.alignment'] is INT32, the GGUF spec requires UINT32");
});

test('duplicate metadata keys', () => {
  const b = buildGGUF({ metadata: new Map([['ab', gv.u8(1)], ['ac', gv.u8(2)]]), tensors: [] });
  b[24 + 8 + 2 + 4 + 1 + 8 + 1] = 'b'.charCodeAt(0); // second key 'ac' -> 'ab'
  expectError(b, 'metadata[1].key', "GGUF: metadata[1].key at offset 39: duplicate key 'ab'");
});

test('arrays nested deeper than 16 levels fail cleanly, even a million deep', () => {
  // kv: key 'n', type ARRAY, then `depth` times (item type ARRAY, count 1).
  const depth = 1_000_000;
  const b = new Uint8Array(24 + 8 + 1 + 4 + depth * 12 + 12);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x46554747, true);
  v.setUint32(4, 3, true);
  v.setBigUint64(16, 1n, true);
  v.setBigUint64(24, 1n, true);
  b[32] = 'n'.charCodeAt(0);
  v.setUint32(33, GGUFValueType.ARRAY, true);
  for (let i = 0; i < depth; i++) {
    v.setUint32(37 + i * 12, GGUFValueType.ARRAY, true);
    v.setBigUint64(41 + i * 12, 1n, true);
  }
  const e = parseError(b);
  assert.is(e.field, "metadata['n'][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]");
  assert.match(e.message, /arrays nested more than 16 deep/);
});

test('readGGUFHeader puts the path in the message', () => {
  const path = join(dir, 'truncated.gguf');
  writeFileSync(path, base().subarray(0, 94));
  try {
    readGGUFHeader(path);
    assert.unreachable('no error');
  } catch (e) {
    assert.instance(e, GGUFError);
    assert.is((e as Error).message, `GGUF: ${path}: tensors[0].dims[1] at offset 90 runs past the end of the file (94 bytes)`);
    assert.is((e as GGUFError).offset, 90);
  }
});

// ---------------------------------------------------------------------------------------------
// Properties

const valid = buildGGUF(syntheticInput(3, 5));
let slowest = 0;

/** Parses; a failure must be a GGUFError whose message names its field. Returns 'ok' or the field. */
function parseOrGGUFError(bytes: Uint8Array, fileSize?: number): string {
  const t0 = performance.now();
  try {
    parseGGUFHeader(bytes, fileSize);
    return 'ok';
  } catch (e) {
    if (!(e instanceof GGUFError)) throw new Error(`not a GGUFError: ${(e as Error)?.stack ?? String(e)}`);
    if (!e.message.startsWith('GGUF: ') || e.message.length < 20) throw new Error(`message too thin: '${e.message}'`);
    if (!namesField(e)) throw new Error(`message '${e.message}' does not name field ${e.field}`);
    if (e.offset !== undefined && !(e.offset >= 0 && e.offset <= (fileSize ?? bytes.length))) throw new Error(`offset ${e.offset} out of the file`);
    return e.field;
  } finally {
    slowest = Math.max(slowest, performance.now() - t0);
  }
}

/** The message contains the field path, or for a tensor field its "tensor i (" label and the last part of the path. */
function namesField(e: GGUFError): boolean {
  if (e.message.includes(e.field)) return true;
  const m = /^tensors\[(\d+)\]\.(\w+)/.exec(e.field);
  return m !== null && e.message.includes(`tensor ${m[1]} (`) && e.message.includes(m[2]);
}

test('every truncation of a valid file parses or fails with a GGUFError', () => {
  assert.is(parseOrGGUFError(valid), 'ok');
  const fields = new Set<string>();
  for (let n = 0; n < valid.length; n++) {
    fields.add(parseOrGGUFError(valid.subarray(0, n)));
    parseOrGGUFError(valid.subarray(0, n), valid.length);
  }
  assert.ok(fields.size > 20, `truncations hit many fields (${fields.size})`);
});

test('random corrupted bytes never escape as anything but a GGUFError', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.nat({ max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
      const b = valid.slice();
      for (const [at, byte] of edits) b[at] = byte;
      parseOrGGUFError(b);
    }),
    { numRuns: 3000, seed: 42 },
  );
});

/** Positions of the u64 counts and lengths in the valid file, found next to the names they precede. */
function u64Fields(bytes: Uint8Array): number[] {
  const h = parseGGUFHeader(bytes);
  const at = [8, 16];
  for (const [key, v] of h.metadata) {
    const k = indexOfAscii(bytes, key);
    at.push(k - 8);
    if (v.type === GGUFValueType.STRING || v.type === GGUFValueType.ARRAY) at.push(k + key.length + 4 + (v.type === GGUFValueType.ARRAY ? 4 : 0));
  }
  for (const t of h.tensors) {
    const k = indexOfAscii(bytes, t.name);
    at.push(k - 8);
    const dims = k + t.name.length + 4;
    t.dims.forEach((_, d) => at.push(dims + 8 * d));
    at.push(dims + 8 * t.dims.length + 4); // offset
  }
  return at;
}

test('absurd counts, lengths, dims and offsets never allocate or hang', () => {
  const positions = u64Fields(valid);
  assert.ok(positions.length > 50);
  const big = fc.oneof(
    fc.constantFrom(0n, 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    fc.bigInt({ min: 0n, max: 100_000n }),
  );
  fc.assert(
    fc.property(fc.constantFrom(...positions), big, (at, value) => {
      const b = valid.slice();
      new DataView(b.buffer).setBigUint64(at, value, true);
      parseOrGGUFError(b);
    }),
    { numRuns: 3000, seed: 7 },
  );
});

test('random bytes after a valid magic and version never escape as anything but a GGUFError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.constantFrom(2, 3), (tail, version) => {
      const b = new Uint8Array(8 + tail.length);
      new DataView(b.buffer).setUint32(0, 0x46554747, true);
      new DataView(b.buffer).setUint32(4, version, true);
      b.set(tail, 8);
      parseOrGGUFError(b);
    }),
    { numRuns: 3000, seed: 3 },
  );
});

test('no malformed input took more than a second', () => {
  assert.ok(slowest < 1000, `slowest parse took ${slowest.toFixed(1)} ms`);
});

test.run();
