// GGUF reader: header (metadata + tensor infos) from bytes or a file, and the data section
// straight into a caller's buffer.
//
// Every count and length is checked against the bytes left in the file before anything is
// allocated, so a corrupt or hostile file ends in a GGUFError naming the field and its offset,
// never a RangeError, a hang or a huge allocation. Checks beyond the byte layout:
//   - keys are unique and at most 65535 bytes; tensor names are unique and at most 64 bytes;
//   - bools are 0 or 1; arrays nest at most 16 deep;
//   - general.alignment, if present, is a UINT32 power of two;
//   - tensors have 0..4 dims, a row length (ne0) that is a whole number of blocks, a size that
//     fits a safe integer, an aligned offset, and data inside the file;
//   - tensors may come in any order and leave gaps, but their bytes may not overlap (a file
//     whose tensors share bytes is a writer bug, and rewriting it could not be faithful).
// Strings that are not valid UTF-8 are decoded with U+FFFD replacements (as lenient as
// llama.cpp, which treats them as bytes); only such files do not round-trip byte for byte.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { isGGMLType, traitsOf, unknownTypeReason, type GGMLType } from '../ggml-types.js';
import { GGUFError } from './errors.js';
import {
  GGUF_ALIGNMENT_KEY,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_MAX_ARRAY_DEPTH,
  GGUF_MAX_DIMS,
  GGUF_MAX_KEY_BYTES,
  GGUF_MAX_TENSOR_NAME_BYTES,
  MIN_KV_BYTES,
  MIN_TENSOR_INFO_BYTES,
  alignUp,
  isPowerOfTwo,
  quoted,
  type GGUFHeader,
  type GGUFTensorInfo,
} from './format.js';
import {
  GGUFValueType,
  TYPED_ARRAY_OF,
  VALUE_SIZE,
  isValueType,
  valueTypeName,
  type GGUFArray,
  type GGUFArrayItems,
  type GGUFValue,
} from './values.js';

/** A field path for messages, built only when an error needs it (arrays can have 100k items). */
type Field = string | (() => string);

const fieldName = (f: Field): string => (typeof f === 'string' ? f : f());

/** Returns a buffer holding at least the file's bytes [0, end). */
type Loader = (end: number) => Uint8Array;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
// ignoreBOM: a string that starts with U+FEFF (a SentencePiece token can) keeps it
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** A cursor over the file's bytes that checks every read against the end of the file. */
class ByteReader {
  pos = 0;
  private view: DataView;

  constructor(
    private bytes: Uint8Array,
    readonly fileSize: number,
    private readonly load?: Loader,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.fileSize - this.pos;
  }

  /** Makes sure the next n bytes are in the buffer, or fails naming the field. */
  need(n: number, field: Field): void {
    if (n > this.fileSize - this.pos) {
      throw new GGUFError(fieldName(field), `${fieldName(field)} at offset ${this.pos} runs past the end of the file (${this.fileSize} bytes)`, this.pos);
    }
    const end = this.pos + n;
    if (end <= this.bytes.length) return;
    if (!this.load) {
      throw new GGUFError(
        fieldName(field),
        `${fieldName(field)} at offset ${this.pos} runs past the ${this.bytes.length} bytes given (the file is ${this.fileSize} bytes)`,
        this.pos,
      );
    }
    this.bytes = this.load(end);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  u8(field: Field): number {
    this.need(1, field);
    return this.bytes[this.pos++];
  }

  u32(field: Field): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** A u64 as a number: exact up to 2^53, and only ever compared against sizes beyond that. */
  u64Number(field: Field): number {
    this.need(8, field);
    const lo = this.view.getUint32(this.pos, true);
    const hi = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
    return hi * 2 ** 32 + lo;
  }

  /** The exact u64 at an earlier position, for messages about absurd values. */
  u64TextAt(at: number): string {
    return this.view.getBigUint64(at, true).toString();
  }

  /** Reads one scalar of a fixed-size type (the caller has checked the type). */
  scalar(type: GGUFValueType, field: Field): GGUFValue {
    this.need(VALUE_SIZE[type], field);
    const v = this.view;
    const p = this.pos;
    this.pos += VALUE_SIZE[type];
    switch (type) {
      case GGUFValueType.UINT8: return { type, value: v.getUint8(p) };
      case GGUFValueType.INT8: return { type, value: v.getInt8(p) };
      case GGUFValueType.UINT16: return { type, value: v.getUint16(p, true) };
      case GGUFValueType.INT16: return { type, value: v.getInt16(p, true) };
      case GGUFValueType.UINT32: return { type, value: v.getUint32(p, true) };
      case GGUFValueType.INT32: return { type, value: v.getInt32(p, true) };
      case GGUFValueType.FLOAT32: return { type, value: v.getFloat32(p, true) };
      case GGUFValueType.FLOAT64: return { type, value: v.getFloat64(p, true) };
      case GGUFValueType.UINT64: return { type, value: v.getBigUint64(p, true) };
      case GGUFValueType.INT64: return { type, value: v.getBigInt64(p, true) };
      case GGUFValueType.BOOL: return { type, value: this.boolAt(p, field) };
      default: throw new Error(`internal: ${valueTypeName(type)} is not a fixed-size type`);
    }
  }

  boolAt(p: number, field: Field): boolean {
    const b = this.bytes[p];
    if (b > 1) throw new GGUFError(fieldName(field), `${fieldName(field)} at offset ${p}: BOOL byte is ${b}, not 0 or 1`, p);
    return b === 1;
  }

  /** A GGUF string: u64 length then that many UTF-8 bytes. */
  string(field: Field, maxBytes = Infinity): string {
    const at = this.pos;
    const length = this.u64Number(() => `${fieldName(field)} length`);
    if (length > this.remaining) {
      throw new GGUFError(
        fieldName(field),
        `${fieldName(field)} at offset ${at}: string length ${this.u64TextAt(at)} is more than the ${this.remaining} bytes left in the file`,
        at,
      );
    }
    if (length > maxBytes) {
      throw new GGUFError(fieldName(field), `${fieldName(field)} at offset ${at}: string length ${length} exceeds the GGUF limit of ${maxBytes} bytes`, at);
    }
    this.need(length, field);
    const s = length === 0 ? '' : utf8.decode(this.bytes.subarray(this.pos, this.pos + length));
    this.pos += length;
    return s;
  }

  /** n items of a numeric type as a typed array (a copy: the file's bytes need not be aligned). */
  typedArray(type: GGUFValueType, n: number, field: Field): GGUFArrayItems {
    const ctor = TYPED_ARRAY_OF[type]!;
    const size = VALUE_SIZE[type];
    this.need(n * size, field);
    const start = this.pos;
    this.pos += n * size;
    if (LITTLE_ENDIAN_HOST) {
      const copy = this.bytes.slice(start, start + n * size);
      return new ctor(copy.buffer, 0, n);
    }
    // Big-endian host: decode item by item.
    const out = new ctor(n);
    for (let i = 0; i < n; i++) {
      this.pos = start + i * size;
      (out as unknown as unknown[])[i] = this.scalar(type, field).value;
    }
    this.pos = start + n * size;
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Metadata

function readValue(r: ByteReader, type: GGUFValueType, field: Field, depth: number): GGUFValue {
  if (type === GGUFValueType.STRING) return { type, value: r.string(field) };
  if (type === GGUFValueType.ARRAY) return readArray(r, field, depth);
  return r.scalar(type, field);
}

function readArray(r: ByteReader, field: Field, depth: number): GGUFArray {
  const at = r.pos;
  if (depth >= GGUF_MAX_ARRAY_DEPTH) {
    throw new GGUFError(fieldName(field), `${fieldName(field)} at offset ${at}: arrays nested more than ${GGUF_MAX_ARRAY_DEPTH} deep`, at);
  }
  const itemType = r.u32(() => `${fieldName(field)}.item_type`);
  if (!isValueType(itemType)) {
    throw new GGUFError(`${fieldName(field)}.item_type`, `${fieldName(field)}.item_type at offset ${at}: unknown value type ${itemType}`, at);
  }
  const countAt = r.pos;
  const count = r.u64Number(() => `${fieldName(field)}.count`);
  // Each item takes at least this many bytes, so the count is bounded by what is left.
  const minBytes = VALUE_SIZE[itemType];
  if (count * minBytes > r.remaining) {
    throw new GGUFError(
      `${fieldName(field)}.count`,
      `${fieldName(field)}.count at offset ${countAt}: an array of ${r.u64TextAt(countAt)} ${valueTypeName(itemType)} ` +
        `needs at least ${BigInt(r.u64TextAt(countAt)) * BigInt(minBytes)} bytes, only ${r.remaining} are left in the file`,
      countAt,
    );
  }
  const item = (j: number): Field => () => `${fieldName(field)}[${j}]`;
  switch (itemType) {
    case GGUFValueType.STRING: {
      const value: string[] = new Array(count);
      for (let j = 0; j < count; j++) value[j] = r.string(item(j));
      return { type: GGUFValueType.ARRAY, itemType, value };
    }
    case GGUFValueType.BOOL: {
      r.need(count, field);
      const value: boolean[] = new Array(count);
      for (let j = 0; j < count; j++) value[j] = r.boolAt(r.pos + j, item(j));
      r.pos += count;
      return { type: GGUFValueType.ARRAY, itemType, value };
    }
    case GGUFValueType.ARRAY: {
      const value: GGUFArray[] = new Array(count);
      for (let j = 0; j < count; j++) value[j] = readArray(r, item(j), depth + 1);
      return { type: GGUFValueType.ARRAY, itemType, value };
    }
    default:
      return { type: GGUFValueType.ARRAY, itemType, value: r.typedArray(itemType, count, field) } as GGUFArray;
  }
}

function readMetadata(r: ByteReader, count: number): Map<string, GGUFValue> {
  const metadata = new Map<string, GGUFValue>();
  for (let i = 0; i < count; i++) {
    const keyAt = r.pos;
    const key = r.string(`metadata[${i}].key`, GGUF_MAX_KEY_BYTES);
    if (metadata.has(key)) {
      throw new GGUFError(`metadata[${i}].key`, `metadata[${i}].key at offset ${keyAt}: duplicate key ${quoted(key)}`, keyAt);
    }
    const field = `metadata[${quoted(key)}]`;
    const typeAt = r.pos;
    const type = r.u32(`${field}.type`);
    if (!isValueType(type)) {
      throw new GGUFError(`${field}.type`, `${field}.type at offset ${typeAt}: unknown value type ${type}`, typeAt);
    }
    metadata.set(key, readValue(r, type, field, 0));
  }
  return metadata;
}

function alignmentOf(metadata: Map<string, GGUFValue>): number {
  const v = metadata.get(GGUF_ALIGNMENT_KEY);
  if (v === undefined) return GGUF_DEFAULT_ALIGNMENT;
  const field = `metadata[${quoted(GGUF_ALIGNMENT_KEY)}]`;
  if (v.type !== GGUFValueType.UINT32) {
    throw new GGUFError(field, `${field} is ${valueTypeName(v.type)}, the GGUF spec requires UINT32`);
  }
  if (!isPowerOfTwo(v.value)) throw new GGUFError(field, `${field} is ${v.value}, not a power of two`);
  return v.value;
}

// ---------------------------------------------------------------------------------------------
// Tensor infos

interface TensorInfoAt extends GGUFTensorInfo {
  /** File position of the info's offset field, for messages. */
  offsetFieldAt: number;
}

function tensorLabel(i: number, name: string): string {
  return `tensor ${i} (${quoted(name)})`;
}

function readTensorInfo(r: ByteReader, i: number, names: Set<string>): TensorInfoAt {
  const nameAt = r.pos;
  const name = r.string(`tensors[${i}].name`, GGUF_MAX_TENSOR_NAME_BYTES);
  if (names.has(name)) throw new GGUFError(`tensors[${i}].name`, `tensors[${i}].name at offset ${nameAt}: duplicate tensor name ${quoted(name)}`, nameAt);
  names.add(name);
  const label = tensorLabel(i, name);

  const nDimsAt = r.pos;
  const nDims = r.u32(`tensors[${i}].n_dims`);
  if (nDims > GGUF_MAX_DIMS) {
    throw new GGUFError(`tensors[${i}].n_dims`, `${label} n_dims at offset ${nDimsAt} is ${nDims}, more than the ${GGUF_MAX_DIMS} ggml supports`, nDimsAt);
  }
  const dimsAt = r.pos;
  const dims: number[] = [];
  let nElements = 1;
  for (let d = 0; d < nDims; d++) {
    const dimAt = r.pos;
    const dim = r.u64Number(`tensors[${i}].dims[${d}]`);
    nElements *= dim;
    if (!Number.isSafeInteger(dim) || !Number.isSafeInteger(nElements)) {
      throw new GGUFError(
        `tensors[${i}].dims[${d}]`,
        `${label} dims[${d}] at offset ${dimAt} is ${r.u64TextAt(dimAt)}: too large (a tensor has at most 2^53 - 1 elements)`,
        dimAt,
      );
    }
    dims.push(dim);
  }

  const typeAt = r.pos;
  const type = r.u32(`tensors[${i}].type`);
  if (!isGGMLType(type)) throw new GGUFError(`tensors[${i}].type`, `${label} type at offset ${typeAt}: ${unknownTypeReason(type)}`, typeAt);
  const traits = traitsOf(type);
  const rowLength = nDims > 0 ? dims[0] : 1;
  if (rowLength % traits.blockSize !== 0) {
    throw new GGUFError(
      `tensors[${i}].dims[0]`,
      `${label} of type ${traits.name} has rows (dims[0]) of ${rowLength} values, not a multiple of its block size ${traits.blockSize}`,
      dimsAt,
    );
  }
  const byteLength = (nElements / traits.blockSize) * traits.typeSize;
  if (!Number.isSafeInteger(byteLength)) {
    throw new GGUFError(`tensors[${i}].dims`, `${label} dims would take ${byteLength} bytes, more than 2^53`, dimsAt);
  }

  const offsetFieldAt = r.pos;
  const offset = r.u64Number(`tensors[${i}].offset`);
  if (!Number.isSafeInteger(offset)) {
    throw new GGUFError(`tensors[${i}].offset`, `${label} offset ${r.u64TextAt(offsetFieldAt)} at offset ${offsetFieldAt} is beyond 2^53`, offsetFieldAt);
  }
  return { name, dims, type: type as GGMLType, offset, nElements, byteLength, offsetFieldAt };
}

/** Checks alignment, bounds and overlap of every tensor's data; returns the end of the last one. */
function checkTensorPlacement(tensors: TensorInfoAt[], alignment: number, dataOffset: number, fileSize: number): number {
  let end = 0;
  tensors.forEach((t, i) => {
    const field = `tensors[${i}].offset`;
    if (t.offset % alignment !== 0) {
      throw new GGUFError(field, `${tensorLabel(i, t.name)} offset ${t.offset} is not a multiple of the alignment ${alignment}`, t.offsetFieldAt);
    }
    if (dataOffset + t.offset + t.byteLength > fileSize) {
      throw new GGUFError(
        field,
        `${tensorLabel(i, t.name)} offset ${t.offset} + ${t.byteLength} bytes runs past the end of the file ` +
          `(${fileSize} bytes; the data section starts at ${dataOffset})`,
        t.offsetFieldAt,
      );
    }
    end = Math.max(end, t.offset + t.byteLength);
  });
  const order = tensors.map((_, i) => i).filter((i) => tensors[i].byteLength > 0);
  order.sort((a, b) => tensors[a].offset - tensors[b].offset);
  for (let k = 1; k < order.length; k++) {
    const prev = tensors[order[k - 1]];
    const cur = tensors[order[k]];
    if (prev.offset + prev.byteLength > cur.offset) {
      throw new GGUFError(
        `tensors[${order[k]}].offset`,
        `${tensorLabel(order[k], cur.name)} offset ${cur.offset}: its bytes [${cur.offset}, ${cur.offset + cur.byteLength}) overlap ` +
          `${tensorLabel(order[k - 1], prev.name)} bytes [${prev.offset}, ${prev.offset + prev.byteLength})`,
        cur.offsetFieldAt,
      );
    }
  }
  return end;
}

// ---------------------------------------------------------------------------------------------
// Header

function printable(bytes: Uint8Array): string {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
  const text = Array.from(bytes, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
  return `${hex} ("${text}")`;
}

function readVersion(r: ByteReader): number {
  const version = r.u32('version');
  if (version === 2 || version === 3) return version;
  const swapped = ((version & 0xff) << 24 | (version & 0xff00) << 8 | (version >>> 8) & 0xff00 | version >>> 24) >>> 0;
  const hint = swapped === 2 || swapped === 3 ? '; it looks like a big-endian file, which wisp does not read' : '';
  throw new GGUFError('version', `version ${version} at offset 4 is not supported (wisp reads GGUF v2 and v3${hint})`, 4);
}

function parse(r: ByteReader): GGUFHeader {
  const magic = r.u32('magic');
  if (magic !== GGUF_MAGIC) {
    const bytes = new Uint8Array([magic & 0xff, (magic >>> 8) & 0xff, (magic >>> 16) & 0xff, magic >>> 24]);
    throw new GGUFError('magic', `magic at offset 0 is ${printable(bytes)}, expected 47 47 55 46 ("GGUF"): not a GGUF file`, 0);
  }
  const version = readVersion(r);

  const tensorCount = r.u64Number('tensor_count');
  const kvCount = r.u64Number('metadata_kv_count');
  // Both tables must fit in what is left; checked up front so neither count can drive a loop or an allocation.
  if (tensorCount * MIN_TENSOR_INFO_BYTES > r.remaining) {
    throw new GGUFError(
      'tensor_count',
      `tensor_count ${r.u64TextAt(8)} at offset 8 is impossible: each tensor info takes at least ${MIN_TENSOR_INFO_BYTES} bytes ` +
        `and only ${r.remaining} bytes follow the header`,
      8,
    );
  }
  if (kvCount * MIN_KV_BYTES > r.remaining) {
    throw new GGUFError(
      'metadata_kv_count',
      `metadata_kv_count ${r.u64TextAt(16)} at offset 16 is impossible: each entry takes at least ${MIN_KV_BYTES} bytes ` +
        `and only ${r.remaining} bytes follow the header`,
      16,
    );
  }

  const metadata = readMetadata(r, kvCount);
  const alignment = alignmentOf(metadata);
  const names = new Set<string>();
  const infos: TensorInfoAt[] = [];
  for (let i = 0; i < tensorCount; i++) infos.push(readTensorInfo(r, i, names));

  const dataOffset = alignUp(r.pos, alignment);
  const dataByteLength = checkTensorPlacement(infos, alignment, dataOffset, r.fileSize);
  const tensors = infos.map(({ offsetFieldAt: _, ...info }) => info);
  return { version, metadata, tensors, alignment, dataOffset, dataByteLength, fileSize: r.fileSize };
}

/**
 * Parses a GGUF header from `bytes`, the start of a file of `fileSize` bytes (default: bytes is
 * the whole file). Tensor placement is checked against fileSize; the data itself is not read.
 */
export function parseGGUFHeader(bytes: Uint8Array, fileSize: number = bytes.length): GGUFHeader {
  if (!Number.isSafeInteger(fileSize) || fileSize < bytes.length) {
    throw new GGUFError('fileSize', `fileSize ${fileSize} must be a whole number of bytes, at least the ${bytes.length} bytes given`);
  }
  return parse(new ByteReader(bytes, fileSize));
}

const FIRST_HEADER_CHUNK = 1 << 20;

/** Fills dest[at, at + length) from the file at `position`, failing if the file ends first. */
function readFully(fd: number, dest: Uint8Array, at: number, position: number, length: number): void {
  const CHUNK = 1 << 26; // 64 MiB per call: well under readSync's 2 GiB limit
  let done = 0;
  while (done < length) {
    const n = readSync(fd, dest, at + done, Math.min(CHUNK, length - done), position + done);
    if (n === 0) {
      throw new GGUFError('file', `the file ended at byte ${position + done} while ${length - done} more bytes were expected (did it change while being read?)`, position + done);
    }
    done += n;
  }
}

function withPath(e: GGUFError, path: string): GGUFError {
  return new GGUFError(e.field, `GGUF: ${path}: ${e.message.replace(/^GGUF: /, '')}`, e.offset);
}

/** Reads and parses only the header of a GGUF file (in growing chunks, so a 4 GB file costs its header). */
export function readGGUFHeader(path: string): GGUFHeader {
  const fd = openSync(path, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    let buf = new Uint8Array(Math.min(fileSize, FIRST_HEADER_CHUNK));
    readFully(fd, buf, 0, 0, buf.length);
    const load: Loader = (end) => {
      const next = new Uint8Array(Math.min(fileSize, Math.max(end, 2 * buf.length)));
      next.set(buf);
      readFully(fd, next, buf.length, buf.length, next.length - buf.length);
      buf = next;
      return buf;
    };
    return parse(new ByteReader(buf, fileSize, load));
  } catch (e) {
    throw e instanceof GGUFError ? withPath(e, path) : e;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the data section (header.dataByteLength bytes from header.dataOffset) straight into
 * dest, e.g. a view on a WebAssembly.Memory; tensor i then starts at dest[tensors[i].offset].
 */
export function readTensorData(path: string, header: GGUFHeader, dest: Uint8Array): void {
  if (dest.length < header.dataByteLength) {
    throw new GGUFError('dest', `GGUF: ${path}: the destination holds ${dest.length} bytes, the data section needs ${header.dataByteLength}`);
  }
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size !== header.fileSize) {
      throw new GGUFError('fileSize', `GGUF: ${path}: the file is ${size} bytes now, ${header.fileSize} when its header was read`);
    }
    readFully(fd, dest, 0, header.dataOffset, header.dataByteLength);
  } catch (e) {
    throw e instanceof GGUFError && !e.message.includes(path) ? withPath(e, path) : e;
  } finally {
    closeSync(fd);
  }
}
