// GGUF weight tensors -> ONNX linear layers. Q4_0 and Q8_0 map exactly onto com.microsoft
// MatMulNBits (4 and 8 bits, block 32, no zero-point input: the default zero point 2^(bits-1) is
// ggml's offset); every other type the traits table can dequantize becomes an f32 Gemm.
import { BLOCK_FORMATS, type BlockFormat } from '../../model/block-formats.js';
import { GGMLType, f16ToF32, traitsOf } from '../../model/ggml-types.js';
import type { GGUFFile } from '../../model/gguf/index.js';
import type { LlamaConfig } from '../../model/llama/config.js';
import { rowBytes } from '../../model/ggml-types.js';
import { attentionTensors, ffnTensors, headTensors, mapTensors, partOf, ropeFactorTensor, type AttentionTensors, type FfnTensors, type HeadTensors, type TensorLoader, type TensorSpec } from '../../model/llama/tensors.js';
import { DataType, type GraphBuilder } from './proto.js';

/** A [rows, cols] weight (one row per output, as GGUF stores it) in the form an ONNX graph takes. */
export type OnnxWeight =
  | {
      kind: 'nbits';
      bits: 4 | 8;
      rows: number;
      cols: number;
      /** [rows, cols/32, 32*bits/8] MatMulNBits blobs. */
      packed: Uint8Array;
      /** [rows, cols/32] block scales. */
      scales: Float32Array;
    }
  | { kind: 'dense'; rows: number; cols: number; values: Float32Array };

/** One block's weights in the forms a graph takes: matrices as OnnxWeight, norms and biases as f32. */
export type AttentionWeights = AttentionTensors<OnnxWeight, Float32Array>;
export type FfnWeights = FfnTensors<OnnxWeight, Float32Array>;
export type HeadWeights = HeadTensors<OnnxWeight, Float32Array>;

const Q4_0 = BLOCK_FORMATS.q4_0;
const Q8_0 = BLOCK_FORMATS.q8_0;
/** MatMulNBits' block: ggml's 32-value q4_0 and q8_0 blocks map onto it one to one. */
const BLOCK = Q4_0.blockValues;

/**
 * ggml q4_0 block { f16 d; u8 qs[16] }: value j is the low nibble of qs[j], value j+16 the high
 * nibble of qs[j]. MatMulNBits packs consecutive values: value 2i low, 2i+1 high in byte i.
 * Both subtract 8 (MatMulNBits' default 4-bit zero point), so only the nibbles move.
 */
export function repackQ4_0(src: Uint8Array, rows: number, cols: number): { packed: Uint8Array; scales: Float32Array } {
  const blocks = (rows * cols) / BLOCK;
  checkBlocks(Q4_0, src, rows, cols);
  const packed = new Uint8Array(blocks * 16);
  const scales = new Float32Array(blocks);
  const nib = (p: number, e: number) => (e < 16 ? src[p + 2 + e] & 0xf : src[p + 2 + e - 16] >> 4);
  for (let b = 0; b < blocks; b++) {
    const p = b * Q4_0.blockBytes;
    scales[b] = f16ToF32(src[p] | (src[p + 1] << 8));
    for (let i = 0; i < 16; i++) packed[b * 16 + i] = nib(p, 2 * i) | (nib(p, 2 * i + 1) << 4);
  }
  return { packed, scales };
}

/** ggml q8_0 block { f16 d; i8 qs[32] } -> MatMulNBits 8-bit: u8 q + 128 (default zero point 128). */
export function repackQ8_0(src: Uint8Array, rows: number, cols: number): { packed: Uint8Array; scales: Float32Array } {
  const blocks = (rows * cols) / BLOCK;
  checkBlocks(Q8_0, src, rows, cols);
  const packed = new Uint8Array(blocks * 32);
  const scales = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    const p = b * Q8_0.blockBytes;
    scales[b] = f16ToF32(src[p] | (src[p + 1] << 8));
    for (let j = 0; j < 32; j++) packed[b * 32 + j] = (src[p + 2 + j] + 128) & 0xff; // i8 two's complement + 128
  }
  return { packed, scales };
}

function checkBlocks(f: BlockFormat, src: Uint8Array, rows: number, cols: number): void {
  if (cols % f.blockValues !== 0) throw new Error(`${f.name} weight: ${cols} columns is not a whole number of ${f.blockValues}-value blocks`);
  const need = ((rows * cols) / f.blockValues) * f.blockBytes;
  if (src.length < need) throw new Error(`${f.name} weight: [${rows}, ${cols}] needs ${need} bytes, got ${src.length}`);
}

/** The ONNX form of a GGUF tensor of `rows` rows of `cols` values. */
export function onnxWeight(type: GGMLType, bytes: Uint8Array, rows: number, cols: number): OnnxWeight {
  if (type === GGMLType.Q4_0) return { kind: 'nbits', bits: 4, rows, cols, ...repackQ4_0(bytes, rows, cols) };
  if (type === GGMLType.Q8_0) return { kind: 'nbits', bits: 8, rows, cols, ...repackQ8_0(bytes, rows, cols) };
  const traits = traitsOf(type);
  if (!traits.dequantize) throw new Error(`the ONNX backend cannot use ${traits.name} weights (no dequantizer)`);
  // F32, F16, BF16 and the K-quants (whose per-block minimum is not an integer zero point) as f32
  const values = new Float32Array(rows * cols);
  traits.dequantize(bytes, values, rows * cols);
  return { kind: 'dense', rows, cols, values };
}

/** How a weight will run, for logs: 'MatMulNBits q4' or 'Gemm f32'. */
export function weightForm(w: OnnxWeight): string {
  return w.kind === 'nbits' ? `MatMulNBits ${w.bits}-bit` : 'Gemm f32';
}

/** y[n, rows] = x[n, cols] · Wᵀ (+ bias): one MatMulNBits or Gemm node. */
export function linear(g: GraphBuilder, x: string, w: OnnxWeight, name: string, bias?: Float32Array): string {
  if (bias && bias.length !== w.rows) throw new Error(`${name}: bias has ${bias.length} values, the weight ${w.rows} rows`);
  if (w.kind === 'dense') {
    const W = g.tensor(`${name}_w`, DataType.FLOAT, [w.rows, w.cols], w.values);
    const inputs = [x, W];
    if (bias) inputs.push(g.tensor(`${name}_b`, DataType.FLOAT, [w.rows], bias));
    return g.op('Gemm', inputs, { transB: { i: 1 } }, { name });
  }
  const kBlocks = w.cols / BLOCK;
  const B = g.tensor(`${name}_q`, DataType.UINT8, [w.rows, kBlocks, (BLOCK * w.bits) / 8], w.packed);
  const S = g.tensor(`${name}_s`, DataType.FLOAT, [w.rows, kBlocks], w.scales);
  const y = g.op('MatMulNBits', [x, B, S], { K: { i: w.cols }, N: { i: w.rows }, bits: { i: w.bits }, block_size: { i: BLOCK } }, { domain: 'com.microsoft', name });
  return bias ? g.op('Add', [y, g.tensor(`${name}_b`, DataType.FLOAT, [w.rows], bias)], {}, { name: `${name}_bias` }) : y;
}

// ---- a llama model's tensors, read from a GGUF file ---------------------------------------------

/** A 2-D GGUF tensor ([ne0 = cols, ne1 = rows]), or the rows a spec's part names (phi3's fused tensors), in its ONNX form. */
export function ggufWeight(file: GGUFFile, spec: string | TensorSpec): OnnxWeight {
  const s = typeof spec === 'string' ? { name: spec, dims: file.tensorInfo(spec).dims } : spec;
  const t = file.tensorInfo(s.name);
  if (t.dims.length !== 2) throw new Error(`tensor '${s.name}' is ${t.dims.length}-D; a linear layer needs 2-D`);
  const [cols, rows] = s.dims;
  return onnxWeight(t.type, partOf(file.tensorBytes(s.name), s, rowBytes(t.type, cols)), rows, cols);
}

/** Reads the tensors a graph needs from the file: matrices converted, norms and biases as f32. */
function loader(file: GGUFFile): TensorLoader<OnnxWeight, Float32Array> {
  return { matrix: (t) => ggufWeight(file, t), vector: (t) => file.tensorF32(t.name) };
}

/** The RoPE frequency factors a context of contextSize positions rotates by, if the model has them. */
export function ropeFactorWeights(file: GGUFFile, c: LlamaConfig, contextSize: number): Float32Array | undefined {
  const spec = ropeFactorTensor(c, contextSize);
  return spec ? file.tensorF32(spec.name) : undefined;
}

export function attentionWeights(file: GGUFFile, c: LlamaConfig, layer: number): AttentionWeights {
  return mapTensors(attentionTensors(c, layer), loader(file));
}

export function ffnWeights(file: GGUFFile, c: LlamaConfig, layer: number): FfnWeights {
  return mapTensors(ffnTensors(c, layer), loader(file));
}

/** The output head; with tied embeddings (no output.weight) it reuses token_embd.weight. */
export function headWeights(file: GGUFFile, c: LlamaConfig): HeadWeights {
  return mapTensors(headTensors(c), loader(file));
}
