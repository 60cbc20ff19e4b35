// GGUF read -> write -> read: byte-identical files, equal values, streaming writes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GGMLType } from '../host/model/ggml-types.js';
import {
  GGUFError,
  GGUFFile,
  GGUFValueType,
  encodeGGUFHeader,
  gv,
  parseGGUFHeader,
  readGGUFHeader,
  valuesEqual,
  writeGGUF,
  type GGUFWriteInput,
} from '../host/model/gguf/index.js';
import { buildGGUF, modelFile, syntheticInput, tempDir } from './helpers/gguf-fixtures.js';

const dir = tempDir();
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** What it takes to write an opened file back out. */
function rewriteInput(f: GGUFFile): GGUFWriteInput {
  return {
    version: f.header.version as 2 | 3,
    metadata: f.header.metadata,
    tensors: f.header.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: () => f.tensorBytes(t.name) })),
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array, what: string): void {
  assert.is(a.length, b.length, `${what}: length`);
  const i = a.findIndex((x, k) => x !== b[k]);
  assert.is(i, -1, `${what}: first difference at byte ${i}`);
}

const stories = modelFile('stories260K.gguf');

test('stories260K: read then write gives back the original file byte for byte', () => {
  if (!stories) {
    console.log('  (skipped: stories260K.gguf not found in WISP_MODEL_PATH or ../shared/models)');
    return;
  }
  const f = GGUFFile.open(stories);
  const out = join(dir, 'stories-copy.gguf');
  writeGGUF(out, rewriteInput(f));
  sameBytes(readFileSync(out), readFileSync(stories), 'stories260K copy');
});

for (const version of [2, 3] as const) {
  test(`synthetic v${version} file with every tensor and value type: write, read, write is byte-identical`, () => {
    const input = syntheticInput(version);
    const path1 = join(dir, `synthetic-v${version}-1.gguf`);
    const path2 = join(dir, `synthetic-v${version}-2.gguf`);
    writeGGUF(path1, input);
    const f = GGUFFile.open(path1);
    assert.is(f.header.version, version);

    // Values come back equal, with their exact types and in the same order.
    assert.equal([...f.header.metadata.keys()], [...input.metadata.keys()]);
    for (const [key, v] of input.metadata) assert.ok(valuesEqual(f.header.metadata.get(key)!, v), key);

    // Tensors come back with the same names, shapes, types and bytes.
    input.tensors.forEach((t, i) => {
      const info = f.header.tensors[i];
      assert.equal([info.name, info.dims, info.type], [t.name, t.dims, t.type]);
      sameBytes(f.tensorBytes(t.name), t.data as Uint8Array, t.name);
    });

    writeGGUF(path2, rewriteInput(f));
    sameBytes(readFileSync(path2), readFileSync(path1), `v${version} rewrite`);
    sameBytes(readFileSync(path1), buildGGUF(input), `v${version} in-memory build`);
  });
}

test('strings keep a leading U+FEFF (byte order mark) through write and read', () => {
  const input = syntheticInput(3);
  input.metadata.set('test.bom', gv.str('\uFEFFBOM'));
  input.metadata.set('test.bom_array', gv.arr(GGUFValueType.STRING, ['\uFEFF', 'a']));
  const header = parseGGUFHeader(buildGGUF(input));
  assert.is(header.metadata.get('test.bom')?.value, '\uFEFFBOM');
  assert.equal(header.metadata.get('test.bom_array')?.value, ['\uFEFF', 'a']);
});

test('numeric arrays are typed arrays; strings, bools and nested arrays are plain arrays', () => {
  const f = GGUFFile.fromBytes(buildGGUF(syntheticInput(3)));
  assert.instance(f.array('test.arr.f32', GGUFValueType.FLOAT32), Float32Array);
  assert.instance(f.array('test.arr.u64', GGUFValueType.UINT64), BigUint64Array);
  assert.instance(f.array('test.arr.i8'), Int8Array);
  assert.equal(f.array('test.arr.str', GGUFValueType.STRING), ['<s>', '', '▁the', '🦙']);
  assert.equal(f.array('test.arr.bool'), [true, false, true]);
  const nested = f.array('test.arr.nested', GGUFValueType.ARRAY);
  assert.equal(nested.map((a) => a.itemType), [GGUFValueType.STRING, GGUFValueType.INT32, GGUFValueType.ARRAY]);
  assert.equal(f.string('test.str.unicode'), 'héllo ▁wörld 🦙\n\u0000end');
  assert.is(f.value('test.u64')!.value, 0xffffffffffffffffn);
});

test('writeGGUF asks for each tensor only when writing it, and reports progress up to the total', () => {
  const input = syntheticInput(3, 7);
  const calls: string[] = [];
  let lastProgress = -1;
  const lazy: GGUFWriteInput = {
    ...input,
    tensors: input.tensors.map((t) => ({
      ...t,
      data: () => {
        calls.push(t.name);
        return t.data as Uint8Array;
      },
    })),
  };
  const reports: [number, number][] = [];
  const path = join(dir, 'lazy.gguf');
  writeGGUF(path, lazy, (written, total) => {
    assert.ok(written > lastProgress, 'progress only grows');
    lastProgress = written;
    reports.push([written, total]);
  });
  assert.equal(calls, input.tensors.map((t) => t.name));
  const size = statSync(path).size;
  assert.equal(reports[reports.length - 1], [size, size]);
});

test('general.alignment sets the data alignment and tensor offsets', () => {
  const input = syntheticInput(3);
  input.metadata.set('general.alignment', gv.u32(64));
  const { offsets, dataOffset, byteLengths } = encodeGGUFHeader(input);
  assert.is(dataOffset % 64, 0);
  offsets.forEach((o, i) => {
    assert.is(o % 64, 0);
    if (i > 0) assert.is(o, offsets[i - 1] + Math.ceil(byteLengths[i - 1] / 64) * 64);
  });
  const header = parseGGUFHeader(buildGGUF(input));
  assert.is(header.alignment, 64);
  assert.equal(header.tensors.map((t) => t.offset), offsets);
});

test('the header parses from its own bytes when the file size is given', () => {
  const bytes = buildGGUF(syntheticInput(3));
  const { dataOffset } = encodeGGUFHeader(syntheticInput(3));
  const header = parseGGUFHeader(bytes.subarray(0, dataOffset), bytes.length);
  assert.is(header.fileSize, bytes.length);
  assert.is(header.dataOffset, dataOffset);
  assert.is(header.tensors.length, 9);
});

test('readGGUFHeader reads a header larger than its first chunk', () => {
  const input = syntheticInput(3);
  // ~3 MB of strings: more than the first 1 MiB read.
  input.metadata.set('tokenizer.ggml.tokens', gv.arr(GGUFValueType.STRING, Array.from({ length: 200_000 }, (_, i) => `token-${i}`)));
  const path = join(dir, 'big-header.gguf');
  writeGGUF(path, input);
  const header = readGGUFHeader(path);
  const tokens = header.metadata.get('tokenizer.ggml.tokens')!.value as string[];
  assert.is(tokens.length, 200_000);
  assert.is(tokens[199_999], 'token-199999');
  assert.is(header.fileSize, statSync(path).size);
});

test('the writer refuses data whose size does not match dims and type, and leaves no file', () => {
  const path = join(dir, 'bad-data.gguf');
  const input: GGUFWriteInput = { metadata: new Map(), tensors: [{ name: 'w', dims: [32, 2], type: GGMLType.Q8_0, data: new Uint8Array(67) }] };
  assert.throws(() => writeGGUF(path, input), (e: unknown) => e instanceof GGUFError && e.field === 'tensors[0].data' && /'w' data is 67 bytes, its dims \[32, 2\] and type q8_0 need 68/.test(e.message));
  assert.not.ok(existsSync(path));
  assert.not.ok(existsSync(`${path}.tmp-${process.pid}`));
});

test('the writer refuses bad values, tensors and alignment, naming the field', () => {
  const cases: [GGUFWriteInput, string, RegExp][] = [
    [{ metadata: new Map([['x', { type: GGUFValueType.UINT8, value: 300 }]]), tensors: [] }, "metadata['x']", /300 is out of the UINT8 range/],
    [{ metadata: new Map([['x', { type: GGUFValueType.UINT64, value: 1 as never }]]), tensors: [] }, "metadata['x']", /UINT64 needs a bigint/],
    [{ metadata: new Map([['x', { type: 42 as GGUFValueType.UINT8, value: 1 }]]), tensors: [] }, "metadata['x']", /not a GGUF value/],
    [{ metadata: new Map([['x', { type: GGUFValueType.ARRAY, itemType: GGUFValueType.INT8, value: [1, 200] as never }]]), tensors: [] }, "metadata['x'][1]", /200 is out of the INT8 range/],
    [{ metadata: new Map([['general.alignment', gv.u32(48)]]), tensors: [] }, "metadata['general.alignment']", /48 is not a power of two/],
    [{ metadata: new Map([['general.alignment', gv.i32(32)]]), tensors: [] }, "metadata['general.alignment']", /INT32, the GGUF spec requires UINT32/],
    [{ version: 1 as 3, metadata: new Map(), tensors: [] }, 'version', /v2 and v3, not 1/],
    [{ metadata: new Map(), tensors: [{ name: 'w', dims: [100], type: GGMLType.Q4_K, data: new Uint8Array(0) }] }, 'tensors[0].dims', /not a multiple of the block size 256/],
    [{ metadata: new Map(), tensors: [{ name: 'w', dims: [1, 1, 1, 1, 1], type: GGMLType.F32, data: new Uint8Array(4) }] }, 'tensors[0].dims', /0 to 4 dims/],
    [{ metadata: new Map(), tensors: [{ name: 'w', dims: [1], type: 99 as GGMLType, data: new Uint8Array(4) }] }, 'tensors[0].type', /unknown ggml type 99/],
    [{ metadata: new Map(), tensors: [{ name: 'x'.repeat(65), dims: [1], type: GGMLType.F32, data: new Uint8Array(4) }] }, 'tensors[0].name', /65 bytes, the GGUF limit is 64/],
    [
      { metadata: new Map(), tensors: [0, 1].map(() => ({ name: 'w', dims: [1], type: GGMLType.F32, data: new Uint8Array(4) })) },
      'tensors[1].name',
      /duplicate tensor name 'w'/,
    ],
  ];
  for (const [input, field, message] of cases) {
    try {
      encodeGGUFHeader(input);
      assert.unreachable(`no error for ${field}`);
    } catch (e) {
      assert.instance(e, GGUFError);
      assert.is((e as GGUFError).field, field);
      assert.match((e as Error).message, message);
    }
  }
});

test('gv helpers check their values', () => {
  assert.throws(() => gv.u32(-1), /out of the UINT32 range/);
  assert.throws(() => gv.i8(1.5), /INT8 needs an integer/);
  assert.throws(() => gv.arr(GGUFValueType.UINT16, [1, 70000]), /item 1: 70000 is out of the UINT16 range/);
  assert.is(gv.f32(0.1).value, Math.fround(0.1));
  assert.is(gv.u64(5).value, 5n);
  const f32 = new Float32Array([1, 2]);
  assert.is(gv.arr(GGUFValueType.FLOAT32, f32).value, f32, 'a typed array of the right kind is kept');
});

test.run();
