// Host-side reference quantizers: f32 rows to ggml block bytes, bit-identical to ggml's
// reference quantizers, i.e. to what ggml_quantize_chunk(type, src, dst, 0, nrows, n_per_row,
// NULL) writes (quantize_row_*_ref for the block types, round-to-nearest-even for f16/bf16).
// test/quantize.test.ts checks every type against bytes frozen from ggml itself
// (scripts/golden/ggml_quant_goldens.mjs).
import { GGMLType, rowBytes, traitsOf } from '../ggml-types.js';
import { quantizeRowBF16, quantizeRowF16, quantizeRowF32 } from './float.js';
import { fallbackType } from './mixes.js';
import { quantizeRowQ2_K } from './q2_k.js';
import { quantizeRowQ3_K } from './q3_k.js';
import { quantizeRowQ4_0 } from './q4_0.js';
import { quantizeRowQ4_1 } from './q4_1.js';
import { quantizeRowQ4_K } from './q4_k.js';
import { quantizeRowQ5_0 } from './q5_0.js';
import { quantizeRowQ5_1 } from './q5_1.js';
import { quantizeRowQ5_K } from './q5_k.js';
import { quantizeRowQ6_K } from './q6_k.js';
import { quantizeRowQ8_0 } from './q8_0.js';
import { quantizeRowQ8_1 } from './q8_1.js';
import { quantizeRowQ8_K } from './q8_k.js';

export { dequantizeRowQ8_1 } from './q8_1.js';
export { dequantizeRowQ8_K } from './q8_k.js';

/** Quantizes src (a whole number of blocks) into dst, which has exactly the bytes it needs. */
type RowQuantizer = (src: Float32Array, dst: Uint8Array) => void;

const QUANTIZERS: ReadonlyMap<GGMLType, RowQuantizer> = new Map<GGMLType, RowQuantizer>([
  [GGMLType.F32, quantizeRowF32],
  [GGMLType.F16, quantizeRowF16],
  [GGMLType.BF16, quantizeRowBF16],
  [GGMLType.Q8_0, quantizeRowQ8_0],
  [GGMLType.Q4_0, quantizeRowQ4_0],
  [GGMLType.Q4_1, quantizeRowQ4_1],
  [GGMLType.Q5_0, quantizeRowQ5_0],
  [GGMLType.Q5_1, quantizeRowQ5_1],
  [GGMLType.Q2_K, quantizeRowQ2_K],
  [GGMLType.Q3_K, quantizeRowQ3_K],
  [GGMLType.Q4_K, quantizeRowQ4_K],
  [GGMLType.Q5_K, quantizeRowQ5_K],
  [GGMLType.Q6_K, quantizeRowQ6_K],
  // Q8_1 and Q8_K are the activation types dot products pair with, not weight types for files.
  [GGMLType.Q8_1, quantizeRowQ8_1],
  [GGMLType.Q8_K, quantizeRowQ8_K],
]);

/** The types wisp can quantize to. */
export const QUANTIZABLE: readonly GGMLType[] = Object.freeze([...QUANTIZERS.keys()]);

function typeName(type: GGMLType): string {
  try {
    return traitsOf(type).name;
  } catch {
    return `ggml type ${type}`;
  }
}

function quantizerFor(type: GGMLType): RowQuantizer {
  const q = QUANTIZERS.get(type);
  if (!q) {
    throw new Error(`cannot quantize to ${typeName(type)}; wisp quantizes to ${QUANTIZABLE.map(typeName).join(', ')}`);
  }
  return q;
}

/** True if `type` is quantizable and rows of nPerRow values are a whole number of its blocks. */
export function canQuantize(type: GGMLType, nPerRow: number): boolean {
  if (!QUANTIZERS.has(type)) return false;
  return Number.isSafeInteger(nPerRow) && nPerRow > 0 && nPerRow % traitsOf(type).blockSize === 0;
}

function checkRowLength(type: GGMLType, n: number): void {
  const { name, blockSize } = traitsOf(type);
  if (!Number.isSafeInteger(n) || n <= 0 || n % blockSize !== 0) {
    throw new Error(`cannot quantize rows of ${n} values to ${name}: a row must be a positive multiple of its block size ${blockSize}`);
  }
}

/**
 * Quantizes one row (or any run of whole blocks): src.length must be a multiple of the type's
 * block size and dst.length must equal rowBytes(type, src.length).
 */
export function quantizeRow(type: GGMLType, src: Float32Array, dst: Uint8Array): void {
  const q = quantizerFor(type);
  checkRowLength(type, src.length);
  const need = rowBytes(type, src.length);
  if (dst.length !== need) {
    throw new Error(`quantize ${typeName(type)}: ${src.length} values take ${need} bytes, the destination has ${dst.length}`);
  }
  q(src, dst);
}

/** Quantizes a whole tensor of rows of nPerRow values (src.length a multiple of nPerRow). */
export function quantize(type: GGMLType, src: Float32Array, nPerRow: number): Uint8Array {
  const q = quantizerFor(type);
  checkRowLength(type, nPerRow);
  if (src.length % nPerRow !== 0) {
    throw new Error(`quantize ${typeName(type)}: ${src.length} values are not a whole number of rows of ${nPerRow}`);
  }
  const nRows = src.length / nPerRow;
  const rowSize = rowBytes(type, nPerRow);
  const dst = new Uint8Array(nRows * rowSize);
  for (let r = 0; r < nRows; r++) {
    q(src.subarray(r * nPerRow, (r + 1) * nPerRow), dst.subarray(r * rowSize, (r + 1) * rowSize));
  }
  return dst;
}

/**
 * The type a matrix of `cols`-value rows, stored now as `source`, is written in for `--type type`,
 * and why when that is not `type`: llama.cpp's fallback for a 256-value type whose blocks do not tile
 * the rows (q2_K, q3_K → q4_0; q4_K → q5_0; q5_K → q5_1; q6_K → q8_0: fallbackType in ./mixes.ts), and
 * for rows that no block tiles (not a multiple of 32: llama2.c's stories260K's ffn rows of 172) the
 * float type as stored, f32 or f16 (f32 for anything else). That last is wisp's one difference from
 * llama.cpp, which writes f16 there: both are exact for f16 weights, and wisp keeps f32 weights exact
 * too (the wasm engine runs f32 and f16 at any row length). docs/MEASUREMENTS.md has the history.
 */
export function quantizedType(type: GGMLType, source: GGMLType, cols: number): { type: GGMLType; reason?: string } {
  quantizerFor(type); // a type wisp cannot write: a clear error first
  return fallbackType(type, cols, keptFloat(source));
}

/** The float type a matrix no block tiles keeps: its own if f32 or f16, else f32. */
export function keptFloat(source: GGMLType): GGMLType {
  return source === GGMLType.F32 || source === GGMLType.F16 ? source : GGMLType.F32;
}

/** The type a tensor made from f32 weights is stored in for `--type type`: vectors (norms) stay f32, matrices by quantizedType. */
export function storageType(type: GGMLType, dims: readonly number[]): GGMLType {
  return dims.length === 1 ? GGMLType.F32 : quantizedType(type, GGMLType.F32, dims[0]).type;
}

/** The bytes of f32 values stored as `type` in rows of `cols` (f32 as they are, no copy). */
export function storedBytes(type: GGMLType, values: Float32Array, cols: number): Uint8Array {
  return type === GGMLType.F32 ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength) : quantize(type, values, cols);
}
