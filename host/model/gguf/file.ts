// GGUFFile: a parsed header plus the data section in one buffer, with tensor lookup by name and
// typed metadata getters whose errors name the key and what was expected.
import { GGMLType, traitsOf } from '../ggml-types.js';
import { GGUFError } from './errors.js';
import { quoted, type GGUFHeader, type GGUFTensorInfo } from './format.js';
import { parseGGUFHeader, readGGUFHeader, readTensorData } from './read.js';
import { GGUFValueType, valueTypeName, type GGUFArray, type GGUFArrayItems, type GGUFArrayItemsByType, type GGUFValue } from './values.js';

/** A GGUF header with typed metadata getters and tensor lookup, without the tensor data. */
export class GGUFHeaderView {
  private readonly index = new Map<string, number>();

  constructor(
    readonly path: string,
    readonly header: GGUFHeader,
  ) {
    header.tensors.forEach((t, i) => this.index.set(t.name, i));
  }

  static read(path: string): GGUFHeaderView {
    return new GGUFHeaderView(path, readGGUFHeader(path));
  }

  get metadata(): Map<string, GGUFValue> {
    return this.header.metadata;
  }

  get tensors(): GGUFTensorInfo[] {
    return this.header.tensors;
  }

  // ---- tensors ----

  has(name: string): boolean {
    return this.index.has(name);
  }

  tensorInfo(name: string): GGUFTensorInfo {
    const i = this.index.get(name);
    if (i === undefined) {
      throw new GGUFError(`tensors[${quoted(name)}]`, `GGUF: ${this.path}: no tensor named ${quoted(name)} (the file has ${this.header.tensors.length} tensors)`);
    }
    return this.header.tensors[i];
  }

  // ---- metadata ----

  value(key: string): GGUFValue | undefined {
    return this.header.metadata.get(key);
  }

  string(key: string): string {
    return this.required(key, 'a STRING', this.optString(key));
  }

  optString(key: string): string | undefined {
    const v = this.value(key);
    if (v === undefined) return undefined;
    if (v.type !== GGUFValueType.STRING) throw this.wrongType(key, v, 'a STRING');
    return v.value;
  }

  /** Any integer or float type; a UINT64/INT64 must fit a safe integer. */
  number(key: string): number {
    return this.required(key, 'a number', this.optNumber(key));
  }

  optNumber(key: string): number | undefined {
    const v = this.value(key);
    if (v === undefined) return undefined;
    switch (v.type) {
      case GGUFValueType.UINT64:
      case GGUFValueType.INT64: {
        const n = Number(v.value);
        if (!Number.isSafeInteger(n)) {
          throw new GGUFError(`metadata[${quoted(key)}]`, `GGUF: ${this.path}: metadata key ${quoted(key)} is ${v.value}, too large for a JS number`);
        }
        return n;
      }
      case GGUFValueType.BOOL:
      case GGUFValueType.STRING:
      case GGUFValueType.ARRAY:
        throw this.wrongType(key, v, 'a number');
      default:
        return v.value;
    }
  }

  bool(key: string): boolean {
    return this.required(key, 'a BOOL', this.optBool(key));
  }

  optBool(key: string): boolean | undefined {
    const v = this.value(key);
    if (v === undefined) return undefined;
    if (v.type !== GGUFValueType.BOOL) throw this.wrongType(key, v, 'a BOOL');
    return v.value;
  }

  /** An array's items; with itemType, also checks the item type (and the result is typed accordingly). */
  array(key: string): GGUFArrayItems;
  array<K extends GGUFValueType>(key: string, itemType: K): GGUFArrayItemsByType[K];
  array(key: string, itemType?: GGUFValueType): GGUFArrayItems {
    const expected = itemType === undefined ? 'an ARRAY' : `an array of ${valueTypeName(itemType)}`;
    return this.required(key, expected, itemType === undefined ? this.optArray(key) : this.optArray(key, itemType));
  }

  optArray(key: string): GGUFArrayItems | undefined;
  optArray<K extends GGUFValueType>(key: string, itemType: K): GGUFArrayItemsByType[K] | undefined;
  optArray(key: string, itemType?: GGUFValueType): GGUFArrayItems | undefined {
    const v = this.value(key);
    if (v === undefined) return undefined;
    if (v.type !== GGUFValueType.ARRAY) throw this.wrongType(key, v, itemType === undefined ? 'an ARRAY' : `an array of ${valueTypeName(itemType)}`);
    if (itemType !== undefined && v.itemType !== itemType) throw this.wrongType(key, v, `an array of ${valueTypeName(itemType)}`);
    return v.value;
  }

  private required<T>(key: string, expected: string, v: T | undefined): T {
    if (v === undefined) {
      throw new GGUFError(`metadata[${quoted(key)}]`, `GGUF: ${this.path}: metadata key ${quoted(key)} is missing (expected ${expected})`);
    }
    return v;
  }

  private wrongType(key: string, v: GGUFValue, expected: string): GGUFError {
    const actual = v.type === GGUFValueType.ARRAY ? `an array of ${valueTypeName((v as GGUFArray).itemType)}` : valueTypeName(v.type);
    return new GGUFError(`metadata[${quoted(key)}]`, `GGUF: ${this.path}: metadata key ${quoted(key)} is ${actual}, expected ${expected}`);
  }
}

/** A GGUF file with its data section in memory; tensors are views on `data`. */
export class GGUFFile extends GGUFHeaderView {
  /** data: the data section (at least header.dataByteLength bytes; tensor offsets index into it). */
  constructor(
    path: string,
    header: GGUFHeader,
    readonly data: Uint8Array,
  ) {
    super(path, header);
    if (data.length < header.dataByteLength) {
      throw new GGUFError('data', `GGUF: ${path}: the data buffer holds ${data.length} bytes, the tensors need ${header.dataByteLength}`);
    }
  }

  /**
   * Reads the header, then the data section once into allocate(byteLength, header) (default: a new
   * Uint8Array; pass a view on a WebAssembly.Memory to load weights straight into it).
   */
  static open(path: string, allocate: (byteLength: number, header: GGUFHeader) => Uint8Array = (n) => new Uint8Array(n)): GGUFFile {
    const header = readGGUFHeader(path);
    const data = allocate(header.dataByteLength, header);
    readTensorData(path, header, data);
    return new GGUFFile(path, header, data.subarray(0, header.dataByteLength));
  }

  /** A whole GGUF file already in memory; tensors are views on `bytes`. */
  static fromBytes(bytes: Uint8Array, path = '<memory>'): GGUFFile {
    const header = parseGGUFHeader(bytes);
    return new GGUFFile(path, header, bytes.subarray(header.dataOffset, header.dataOffset + header.dataByteLength));
  }

  /** The tensor's raw bytes, as a view on data (no copy). */
  tensorBytes(name: string): Uint8Array {
    const t = this.tensorInfo(name);
    return this.data.subarray(t.offset, t.offset + t.byteLength);
  }

  /** The tensor as floats: a view when it is F32 (and 4-byte aligned in memory), else a dequantized copy. */
  tensorF32(name: string): Float32Array {
    const t = this.tensorInfo(name);
    const bytes = this.tensorBytes(name);
    if (t.type === GGMLType.F32 && bytes.byteOffset % 4 === 0) {
      return new Float32Array(bytes.buffer, bytes.byteOffset, t.nElements);
    }
    const traits = traitsOf(t.type);
    if (!traits.dequantize) {
      throw new GGUFError(`tensors[${quoted(name)}].type`, `GGUF: ${this.path}: tensor ${quoted(name)} is ${traits.name}, which wisp cannot dequantize`);
    }
    const out = new Float32Array(t.nElements);
    traits.dequantize(bytes, out, t.nElements);
    return out;
  }
}
