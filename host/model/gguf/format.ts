// The GGUF container, v2/v3 (little-endian), as the reader and writer share it:
//
//   "GGUF"  u32 version  u64 tensor_count  u64 metadata_kv_count
//   metadata_kv_count x { string key; u32 value_type; value }
//   tensor_count x { string name; u32 n_dims; u64 dims[n_dims] (ne0 first); u32 ggml_type; u64 offset }
//   zero padding to a multiple of general.alignment (u32, default 32)
//   data section: each tensor at its offset (relative to the section, aligned), zero padding between
//
// string = u64 byte length + UTF-8 bytes (no terminator). v1 used u32 counts and is not read.
import type { GGMLType } from '../ggml-types.js';
import type { GGUFValue } from './values.js';

/** "GGUF" read as a little-endian u32. */
export const GGUF_MAGIC = 0x46554747;
export const GGUF_DEFAULT_ALIGNMENT = 32;
export const GGUF_ALIGNMENT_KEY = 'general.alignment';
/** ggml tensors have at most 4 dimensions. */
export const GGUF_MAX_DIMS = 4;
/** The GGUF spec limits keys to 2^16 - 1 bytes ... */
export const GGUF_MAX_KEY_BYTES = 65535;
/** ... and tensor names to 64 bytes. */
export const GGUF_MAX_TENSOR_NAME_BYTES = 64;
/** wisp's own limit on arrays of arrays, so a hostile file cannot exhaust the stack. */
export const GGUF_MAX_ARRAY_DEPTH = 16;
/** Smallest possible tensor info: empty name (8) + n_dims (4) + type (4) + offset (8). */
export const MIN_TENSOR_INFO_BYTES = 24;
/** Smallest possible metadata entry: empty key (8) + value type (4) + a one-byte value. */
export const MIN_KV_BYTES = 13;

export interface GGUFTensorInfo {
  name: string;
  /** [ne0, ne1, ...]: ne0 is the row length (the fastest-varying dimension). */
  dims: number[];
  type: GGMLType;
  /** Byte offset of the tensor's data from the start of the data section. */
  offset: number;
  nElements: number;
  byteLength: number;
}

export interface GGUFHeader {
  version: number;
  /** In file order; the writer keeps that order. */
  metadata: Map<string, GGUFValue>;
  tensors: GGUFTensorInfo[];
  alignment: number;
  /** Absolute byte offset of the data section. */
  dataOffset: number;
  /** Bytes of the data section the tensors use: the end of the last tensor's data (0 with no tensors). */
  dataByteLength: number;
  fileSize: number;
}

export function alignUp(n: number, alignment: number): number {
  const rem = n % alignment;
  return rem === 0 ? n : n + (alignment - rem);
}

export function isPowerOfTwo(n: number): boolean {
  // & works modulo 2^32, which covers every u32 alignment.
  return Number.isInteger(n) && n > 0 && n <= 0xffffffff && (n & (n - 1)) === 0;
}

/**
 * A key or tensor name as it appears in messages: control characters escaped, quotes kept
 * readable, and long (corrupt) names cut, so an error message stays one short line.
 */
export function quoted(name: string, max = 80): string {
  const cut = name.length > max ? `${name.slice(0, max)}…` : name;
  // eslint-disable-next-line no-control-regex
  const escaped = cut.replace(/[\u0000-\u001f\u007f\\']/g, (c) => (c === "'" || c === '\\' ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  return `'${escaped}'`;
}
