// Shared by the gguf-*.test.ts suites: where the test model lives, a seeded random source, valid
// random tensor data for each type, metadata with every value type, and in-memory GGUF files.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '../../host/engine/sampler.js';
import { GGMLType, f32ToBf16, f32ToF16, tensorBytes, traitsOf } from '../../host/model/ggml-types.js';
import { GGUFValueType, encodeGGUFHeader, gv, type GGUFValue, type GGUFWriteInput } from '../../host/model/gguf/index.js';

export { modelFile } from './paths.js';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'wisp-gguf-'));
}

/** mulberry32 (the sampler's PRNG): small, seeded, good enough for test data. */
export const rng = mulberry32;

/** Byte offsets of the f16 scale fields in one block, for the types the synthetic file uses. */
const HALF_FIELDS: Partial<Record<GGMLType, number[]>> = {
  [GGMLType.Q4_0]: [0],
  [GGMLType.Q8_0]: [0],
  [GGMLType.Q4_K]: [0, 2],
  [GGMLType.Q6_K]: [208],
};

/** Random but valid data: finite floats, and quant blocks whose f16 scales are finite and moderate. */
export function randomTensorData(type: GGMLType, dims: number[], next: () => number): Uint8Array {
  const bytes = new Uint8Array(tensorBytes(type, dims));
  const view = new DataView(bytes.buffer);
  const value = () => (next() - 0.5) * 4;
  switch (type) {
    case GGMLType.F32:
      for (let i = 0; i < bytes.length; i += 4) view.setFloat32(i, value(), true);
      return bytes;
    case GGMLType.F16:
      for (let i = 0; i < bytes.length; i += 2) view.setUint16(i, f32ToF16(value()), true);
      return bytes;
    case GGMLType.BF16:
      for (let i = 0; i < bytes.length; i += 2) view.setUint16(i, f32ToBf16(value()), true);
      return bytes;
  }
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(next() * 256);
  const fields = HALF_FIELDS[type];
  if (!fields) throw new Error(`randomTensorData: no layout for type ${type}`);
  const { typeSize } = traitsOf(type);
  for (let b = 0; b < bytes.length; b += typeSize) {
    for (const f of fields) view.setUint16(b + f, f32ToF16((next() + 0.01) / 64), true);
  }
  return bytes;
}

/** One entry of every value type, with edge values, empty arrays and arrays of arrays. */
export function everyValueMetadata(): Map<string, GGUFValue> {
  return new Map<string, GGUFValue>([
    ['general.architecture', gv.str('llama')],
    ['test.u8', gv.u8(255)],
    ['test.i8', gv.i8(-128)],
    ['test.u16', gv.u16(65535)],
    ['test.i16', gv.i16(-32768)],
    ['test.u32', gv.u32(4294967295)],
    ['test.i32', gv.i32(-2147483648)],
    ['test.f32', gv.f32(0.1)],
    ['test.f32.negzero', gv.f32(-0)],
    ['test.f32.nan', gv.f32(NaN)],
    ['test.bool.true', gv.bool(true)],
    ['test.bool.false', gv.bool(false)],
    ['test.str.empty', gv.str('')],
    ['test.str.unicode', gv.str('héllo ▁wörld 🦙\n\u0000end')],
    ['test.u64', gv.u64(0xffffffffffffffffn)],
    ['test.i64', gv.i64(-0x8000000000000000n)],
    ['test.f64', gv.f64(Math.PI)],
    ['test.arr.u8', gv.arr(GGUFValueType.UINT8, [0, 1, 255])],
    ['test.arr.i8', gv.arr(GGUFValueType.INT8, [-128, 0, 127])],
    ['test.arr.u16', gv.arr(GGUFValueType.UINT16, [0, 65535])],
    ['test.arr.i16', gv.arr(GGUFValueType.INT16, [-32768, 32767])],
    ['test.arr.u32', gv.arr(GGUFValueType.UINT32, new Uint32Array([1, 2, 3]))],
    ['test.arr.i32', gv.arr(GGUFValueType.INT32, [-1, 0, 1])],
    ['test.arr.f32', gv.arr(GGUFValueType.FLOAT32, new Float32Array([0.5, -0, Infinity, -3.25]))],
    ['test.arr.bool', gv.arr(GGUFValueType.BOOL, [true, false, true])],
    ['test.arr.str', gv.arr(GGUFValueType.STRING, ['<s>', '', '▁the', '🦙'])],
    ['test.arr.u64', gv.arr(GGUFValueType.UINT64, [0n, 0xffffffffffffffffn])],
    ['test.arr.i64', gv.arr(GGUFValueType.INT64, [-1n, 5])],
    ['test.arr.f64', gv.arr(GGUFValueType.FLOAT64, [1e300, -Number.MIN_VALUE])],
    ['test.arr.empty', gv.arr(GGUFValueType.FLOAT32, [])],
    [
      'test.arr.nested',
      gv.arr(GGUFValueType.ARRAY, [
        gv.arr(GGUFValueType.STRING, ['a', 'b']),
        gv.arr(GGUFValueType.INT32, []),
        gv.arr(GGUFValueType.ARRAY, [gv.arr(GGUFValueType.UINT8, [7])]),
      ]),
    ],
  ]);
}

/** Tensors of each type the engine uses, with odd shapes, random valid data. */
export function syntheticInput(version: 2 | 3, seed = 1): GGUFWriteInput {
  const next = rng(seed);
  const specs: [string, GGMLType, number[]][] = [
    ['f32.odd', GGMLType.F32, [7, 3]],
    ['f16.vec', GGMLType.F16, [5]],
    ['bf16.mat', GGMLType.BF16, [3, 2, 2]],
    ['q8_0.mat', GGMLType.Q8_0, [32, 5]],
    ['q4_0.mat', GGMLType.Q4_0, [64, 3]],
    ['q4_K.mat', GGMLType.Q4_K, [256, 3]],
    ['q6_K.mat', GGMLType.Q6_K, [512, 1, 2]],
    ['empty', GGMLType.F32, [4, 0]],
    ['scalar', GGMLType.F32, []],
  ];
  return {
    version,
    metadata: everyValueMetadata(),
    tensors: specs.map(([name, type, dims]) => ({ name, type, dims, data: randomTensorData(type, dims, next) })),
  };
}

/** A whole GGUF file in memory, laid out exactly as writeGGUF lays it out. */
export function buildGGUF(input: GGUFWriteInput): Uint8Array {
  const { header, offsets, byteLengths, fileSize, dataOffset } = encodeGGUFHeader(input);
  const out = new Uint8Array(fileSize);
  out.set(header);
  input.tensors.forEach((t, i) => {
    const data = typeof t.data === 'function' ? t.data() : t.data;
    if (data.length !== byteLengths[i]) throw new Error(`buildGGUF: ${t.name} has ${data.length} bytes, expected ${byteLengths[i]}`);
    out.set(data, dataOffset + offsets[i]);
  });
  return out;
}

/** Offset of the first occurrence of an ASCII string in bytes (to patch fields next to a known name). */
export function indexOfAscii(bytes: Uint8Array, s: string): number {
  const needle = Buffer.from(s, 'latin1');
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(needle);
}
