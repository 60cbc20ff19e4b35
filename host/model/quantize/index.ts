// Host-side reference quantizers: f32 rows to ggml block bytes, bit-identical to ggml's
// reference quantizers, i.e. to what ggml_quantize_chunk(type, src, dst, 0, nrows, n_per_row,
// NULL) writes (quantize_row_*_ref for the block types, round-to-nearest-even for f16/bf16).
// test/quantize.test.ts checks every type against bytes frozen from ggml itself
// (scripts/golden/ggml_quant_goldens.mjs).
import { GGMLType, rowBytes, traitsOf } from '../ggml-types.js';
import { quantizeRowBF16, quantizeRowF16, quantizeRowF32 } from './float.js';
import { quantizeRowQ4_0 } from './q4_0.js';
import { quantizeRowQ4_K } from './q4_k.js';
import { quantizeRowQ6_K } from './q6_k.js';
import { quantizeRowQ8_0 } from './q8_0.js';
import { quantizeRowQ8_K } from './q8_k.js';

export { dequantizeRowQ8_K } from './q8_k.js';

/** Quantizes src (a whole number of blocks) into dst, which has exactly the bytes it needs. */
type RowQuantizer = (src: Float32Array, dst: Uint8Array) => void;

const QUANTIZERS: ReadonlyMap<GGMLType, RowQuantizer> = new Map<GGMLType, RowQuantizer>([
  [GGMLType.F32, quantizeRowF32],
  [GGMLType.F16, quantizeRowF16],
  [GGMLType.BF16, quantizeRowBF16],
  [GGMLType.Q8_0, quantizeRowQ8_0],
  [GGMLType.Q4_0, quantizeRowQ4_0],
  [GGMLType.Q4_K, quantizeRowQ4_K],
  [GGMLType.Q6_K, quantizeRowQ6_K],
  // Q8_K is the activation type K-quant dot products pair with, not a weight type for files.
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

const K_QUANTS: ReadonlySet<GGMLType> = new Set([GGMLType.Q4_K, GGMLType.Q6_K]);

/**
 * The type a matrix of `cols`-value rows, stored now as `source`, is written in for `--type type`,
 * and why when that is not `type`:
 * - a K-quant (256-value blocks) on rows that are not a multiple of 256 → q8_0 (32-value blocks);
 * - rows that no block of the requested type (nor q8_0's) tiles → kept as stored if f32 or f16,
 *   else f32 (both exact; the wasm engine runs f32 and f16 at any row length).
 *
 * llama.cpp (llama_tensor_get_type in src/llama-quant.cpp) falls back instead Q4_K → Q5_0,
 * Q5_K → Q5_1, Q6_K → Q8_0, Q2_K/Q3_K/IQ* → IQ4_NL, then F16 when even that block does not tile the
 * row, and refuses a Q4_0/Q8_0 request on such rows ("Unsupported tensor size encountered"). wisp has
 * no Q5_0 (nor Q5_1, IQ4_NL) kernels: the one 32-value type it has that is at least as accurate as
 * the K-quant asked for is Q8_0, so Q4_K's fallback is Q8_0 (8.5 bits per weight where llama.cpp's
 * Q5_0 takes 5.5: a bigger file, never a less accurate one; Q4_0 would keep the size but lose
 * accuracy against Q4_K). Q6_K → Q8_0 is llama.cpp's own choice. Rows no block tiles keep their
 * float type (f32 where llama.cpp writes f16): lossless, and such rows are rare in real models
 * (llama2.c's stories260K has ffn rows of 172).
 */
export function quantizedType(type: GGMLType, source: GGMLType, cols: number): { type: GGMLType; reason?: string } {
  if (canQuantize(type, cols)) return { type };
  const want = traitsOf(type);
  const rows = `rows of ${cols} values are not a multiple of ${want.name}'s ${want.blockSize}-value blocks`;
  if (K_QUANTS.has(type) && canQuantize(GGMLType.Q8_0, cols)) return { type: GGMLType.Q8_0, reason: rows };
  const kept = source === GGMLType.F32 || source === GGMLType.F16 ? source : GGMLType.F32;
  const also = K_QUANTS.has(type) ? ` (nor of q8_0's 32)` : '';
  return { type: kept, reason: `${rows}${also}; kept ${traitsOf(kept).name}` };
}

/** The type a tensor made from f32 weights is stored in for `--type type`: vectors (norms) stay f32, matrices by quantizedType. */
export function storageType(type: GGMLType, dims: readonly number[]): GGMLType {
  return dims.length === 1 ? GGMLType.F32 : quantizedType(type, GGMLType.F32, dims[0]).type;
}

/** The bytes of f32 values stored as `type` in rows of `cols` (f32 as they are, no copy). */
export function storedBytes(type: GGMLType, values: Float32Array, cols: number): Uint8Array {
  return type === GGMLType.F32 ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength) : quantize(type, values, cols);
}
