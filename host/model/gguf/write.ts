// GGUF writer. The header is built in memory (it is small); tensor data is streamed one tensor
// at a time, so a 4 GB file never exists in memory, and a tensor's bytes can be produced only
// when it is written (data as a callback). Metadata is written in the Map's order with each
// value's own type, and tensors are laid out in the given order, each at the next aligned
// offset with zero padding after it (as llama.cpp and gguf-py do): reading a file they wrote
// and writing it back gives the same bytes.
import { closeSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { isGGMLType, tensorBytes, traitsOf, unknownTypeReason, type GGMLType } from '../ggml-types.js';
import { GGUFError } from './errors.js';
import {
  GGUF_ALIGNMENT_KEY,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_MAX_ARRAY_DEPTH,
  GGUF_MAX_DIMS,
  GGUF_MAX_KEY_BYTES,
  GGUF_MAX_TENSOR_NAME_BYTES,
  alignUp,
  isPowerOfTwo,
  quoted,
} from './format.js';
import { GGUFValueType, TYPED_ARRAY_OF, isValueType, scalarProblem, valueTypeName, type GGUFArray, type GGUFValue } from './values.js';

export interface GGUFWriteTensor {
  name: string;
  dims: number[];
  type: GGMLType;
  /** The tensor's bytes, or a function that makes them when the tensor is written. */
  data: Uint8Array | (() => Uint8Array);
}

export interface GGUFWriteInput {
  /** Default 3. v2 and v3 share the layout (v3 only added big-endian files, which wisp does not write). */
  version?: 2 | 3;
  /** general.alignment, if present, sets the alignment (UINT32 power of two); else 32. */
  metadata: Map<string, GGUFValue>;
  tensors: GGUFWriteTensor[];
}

export interface EncodedGGUFHeader {
  /** Everything before the data section, padding included. */
  header: Uint8Array;
  /** Each tensor's offset from the start of the data section. */
  offsets: number[];
  /** = header.length. */
  dataOffset: number;
  /** Each tensor's data size. */
  byteLengths: number[];
  /** Size of the whole file, data and padding included. */
  fileSize: number;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const utf8 = new TextEncoder();

/** A growable little-endian byte buffer. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  pos = 0;

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void { this.reserve(1); this.view.setUint8(this.pos, v); this.pos += 1; }
  i8(v: number): void { this.reserve(1); this.view.setInt8(this.pos, v); this.pos += 1; }
  u16(v: number): void { this.reserve(2); this.view.setUint16(this.pos, v, true); this.pos += 2; }
  i16(v: number): void { this.reserve(2); this.view.setInt16(this.pos, v, true); this.pos += 2; }
  u32(v: number): void { this.reserve(4); this.view.setUint32(this.pos, v, true); this.pos += 4; }
  i32(v: number): void { this.reserve(4); this.view.setInt32(this.pos, v, true); this.pos += 4; }
  f32(v: number): void { this.reserve(4); this.view.setFloat32(this.pos, v, true); this.pos += 4; }
  f64(v: number): void { this.reserve(8); this.view.setFloat64(this.pos, v, true); this.pos += 8; }
  u64(v: bigint | number): void { this.reserve(8); this.view.setBigUint64(this.pos, BigInt(v), true); this.pos += 8; }
  i64(v: bigint): void { this.reserve(8); this.view.setBigInt64(this.pos, v, true); this.pos += 8; }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A GGUF string from already-encoded UTF-8. */
  stringBytes(b: Uint8Array): void {
    this.u64(b.length);
    this.bytes(b);
  }

  zeros(n: number): void {
    this.reserve(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

// ---------------------------------------------------------------------------------------------
// Values

function fail(field: string, problem: string): never {
  throw new GGUFError(field, `cannot write ${field}: ${problem}`);
}

/** Writes a scalar that scalarProblem has accepted. */
function writeScalar(w: ByteWriter, type: GGUFValueType, value: unknown): void {
  switch (type) {
    case GGUFValueType.UINT8: return w.u8(value as number);
    case GGUFValueType.INT8: return w.i8(value as number);
    case GGUFValueType.UINT16: return w.u16(value as number);
    case GGUFValueType.INT16: return w.i16(value as number);
    case GGUFValueType.UINT32: return w.u32(value as number);
    case GGUFValueType.INT32: return w.i32(value as number);
    case GGUFValueType.FLOAT32: return w.f32(value as number);
    case GGUFValueType.FLOAT64: return w.f64(value as number);
    case GGUFValueType.UINT64: return w.u64(value as bigint);
    case GGUFValueType.INT64: return w.i64(value as bigint);
    case GGUFValueType.BOOL: return w.u8(value ? 1 : 0);
    case GGUFValueType.STRING: return w.stringBytes(utf8.encode(value as string));
    default: throw new Error(`internal: ${valueTypeName(type)} is not a scalar`);
  }
}

/** A metadata value: its type tag, then the value. */
function writeValue(w: ByteWriter, v: GGUFValue, field: string): void {
  if (typeof v !== 'object' || v === null || !isValueType(v.type)) fail(field, `not a GGUF value (type ${valueTypeName((v as GGUFValue)?.type)})`);
  if (v.type !== GGUFValueType.ARRAY) {
    const problem = scalarProblem(v.type, v.value);
    if (problem) fail(field, problem);
  }
  w.u32(v.type);
  if (v.type === GGUFValueType.ARRAY) writeArray(w, v, field, 0);
  else writeScalar(w, v.type, v.value);
}

function writeArray(w: ByteWriter, a: GGUFArray, field: string, depth: number): void {
  if (depth >= GGUF_MAX_ARRAY_DEPTH) fail(field, `arrays nested more than ${GGUF_MAX_ARRAY_DEPTH} deep`);
  if (!isValueType(a.itemType)) fail(field, `unknown item type ${a.itemType}`);
  const items = a.value as ArrayLike<unknown>;
  if (items === null || typeof items !== 'object' || typeof items.length !== 'number') fail(field, 'the array value has no items');
  w.u32(a.itemType);
  w.u64(items.length);
  const ctor = TYPED_ARRAY_OF[a.itemType];
  // Typed arrays of the matching kind hold valid values by construction: copy their bytes.
  if (ctor && items instanceof ctor && LITTLE_ENDIAN_HOST) {
    w.bytes(new Uint8Array(items.buffer, items.byteOffset, items.byteLength));
    return;
  }
  for (let j = 0; j < items.length; j++) {
    const item = items[j];
    if (a.itemType === GGUFValueType.ARRAY) {
      const inner = item as GGUFArray;
      if (typeof inner !== 'object' || inner === null || inner.type !== GGUFValueType.ARRAY) fail(`${field}[${j}]`, 'items of an ARRAY of ARRAY must be array values');
      writeArray(w, inner, `${field}[${j}]`, depth + 1);
      continue;
    }
    const problem = scalarProblem(a.itemType, item);
    if (problem) fail(`${field}[${j}]`, problem);
    writeScalar(w, a.itemType, item);
  }
}

function alignmentOf(metadata: Map<string, GGUFValue>): number {
  const v = metadata.get(GGUF_ALIGNMENT_KEY);
  if (v === undefined) return GGUF_DEFAULT_ALIGNMENT;
  const field = `metadata[${quoted(GGUF_ALIGNMENT_KEY)}]`;
  if (v.type !== GGUFValueType.UINT32) fail(field, `it is ${valueTypeName(v.type)}, the GGUF spec requires UINT32`);
  if (!isPowerOfTwo(v.value)) fail(field, `${v.value} is not a power of two`);
  return v.value;
}

// ---------------------------------------------------------------------------------------------
// Tensor infos

/** Validates one tensor's name, dims and type; returns its data size. */
function checkTensor(t: GGUFWriteTensor, i: number, names: Set<string>): number {
  const field = `tensors[${i}]`;
  if (typeof t.name !== 'string') fail(`${field}.name`, 'the name is not a string');
  const nameBytes = utf8.encode(t.name).length;
  if (nameBytes > GGUF_MAX_TENSOR_NAME_BYTES) fail(`${field}.name`, `${quoted(t.name)} is ${nameBytes} bytes, the GGUF limit is ${GGUF_MAX_TENSOR_NAME_BYTES}`);
  if (names.has(t.name)) fail(`${field}.name`, `duplicate tensor name ${quoted(t.name)}`);
  names.add(t.name);
  if (!Array.isArray(t.dims) || t.dims.length > GGUF_MAX_DIMS) fail(`${field}.dims`, `${quoted(t.name)} needs 0 to ${GGUF_MAX_DIMS} dims, got ${JSON.stringify(t.dims)}`);
  t.dims.forEach((d, k) => {
    if (!Number.isSafeInteger(d) || d < 0) fail(`${field}.dims[${k}]`, `${quoted(t.name)} dims[${k}] is ${d}, not a size`);
  });
  if (!isGGMLType(t.type)) fail(`${field}.type`, `${quoted(t.name)}: ${unknownTypeReason(t.type)}`);
  try {
    return tensorBytes(t.type, t.dims);
  } catch (e) {
    return fail(`${field}.dims`, `${quoted(t.name)}: ${(e as Error).message}`);
  }
}

function writeTensorInfo(w: ByteWriter, t: GGUFWriteTensor, offset: number): void {
  w.stringBytes(utf8.encode(t.name));
  w.u32(t.dims.length);
  for (const d of t.dims) w.u64(d);
  w.u32(t.type);
  w.u64(offset);
}

// ---------------------------------------------------------------------------------------------
// Header and file

/** Encodes everything before the data section and lays out the tensors (offsets relative to the section). */
export function encodeGGUFHeader(input: GGUFWriteInput): EncodedGGUFHeader {
  const version = input.version ?? 3;
  if (version !== 2 && version !== 3) fail('version', `wisp writes GGUF v2 and v3, not ${version}`);
  const alignment = alignmentOf(input.metadata);

  const names = new Set<string>();
  const byteLengths = input.tensors.map((t, i) => checkTensor(t, i, names));
  const offsets: number[] = [];
  let dataSize = 0;
  for (const n of byteLengths) {
    offsets.push(dataSize);
    dataSize += alignUp(n, alignment);
  }

  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(version);
  w.u64(input.tensors.length);
  w.u64(input.metadata.size);
  for (const [key, value] of input.metadata) {
    const keyBytes = utf8.encode(key);
    const field = `metadata[${quoted(key)}]`;
    if (keyBytes.length > GGUF_MAX_KEY_BYTES) fail(field, `the key is ${keyBytes.length} bytes, the GGUF limit is ${GGUF_MAX_KEY_BYTES}`);
    w.stringBytes(keyBytes);
    writeValue(w, value, field);
  }
  input.tensors.forEach((t, i) => writeTensorInfo(w, t, offsets[i]));
  w.zeros(alignUp(w.pos, alignment) - w.pos);
  const header = w.finish();
  return { header, offsets, dataOffset: header.length, byteLengths, fileSize: header.length + dataSize };
}

const WRITE_CHUNK = 1 << 26; // 64 MiB: progress granularity for big tensors

function writeAll(fd: number, bytes: Uint8Array, onChunk: (n: number) => void): void {
  let done = 0;
  while (done < bytes.length) {
    const n = writeSync(fd, bytes, done, Math.min(WRITE_CHUNK, bytes.length - done));
    done += n;
    onChunk(n);
  }
}

function tensorData(t: GGUFWriteTensor, i: number, expected: number): Uint8Array {
  const data = typeof t.data === 'function' ? t.data() : t.data;
  if (!(data instanceof Uint8Array)) fail(`tensors[${i}].data`, `${quoted(t.name)} data is not a Uint8Array`);
  if (data.length !== expected) {
    fail(`tensors[${i}].data`, `${quoted(t.name)} data is ${data.length} bytes, its dims [${t.dims.join(', ')}] and type ${traitsOf(t.type).name} need ${expected}`);
  }
  return data;
}

/**
 * Writes a GGUF file: header, then each tensor's data in turn (asking for it only then), with
 * zero padding. The file appears at `path` only when complete (written beside it, then renamed).
 */
export function writeGGUF(path: string, input: GGUFWriteInput, onProgress?: (bytesWritten: number, total: number) => void): void {
  const { header, byteLengths, fileSize } = encodeGGUFHeader(input);
  const alignment = alignmentOf(input.metadata);
  const zeros = new Uint8Array(Math.min(alignment, 1 << 16));
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  let written = 0;
  const progress = (n: number) => {
    written += n;
    onProgress?.(written, fileSize);
  };
  try {
    writeAll(fd, header, progress);
    input.tensors.forEach((t, i) => {
      writeAll(fd, tensorData(t, i, byteLengths[i]), progress);
      let pad = alignUp(byteLengths[i], alignment) - byteLengths[i];
      while (pad > 0) {
        const n = Math.min(pad, zeros.length);
        writeAll(fd, zeros.subarray(0, n), progress);
        pad -= n;
      }
    });
    closeSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  renameSync(tmp, path);
}
