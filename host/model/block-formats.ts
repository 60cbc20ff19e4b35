// Every block format wisp uses, in one table: ggml's storage formats (sizes from ggml's traits in
// ./ggml-types.ts), the activation formats the kernels quantize x into (ggml's q8_0, q8_1 and q8_K, the
// same 8-bit values in wisp's wide layouts q8_0w and q8_0s, wisp's 16-bit q16_0, q16_0s and q16_K), and
// the layouts the wasm backend makes at load (q4_0r8, q4_Kr4, q6_Kr4, q5_0r4, q5_1r4, q2_Kr4, q3_Kr4, f16f). Sizes, which activation each weight
// format pairs with on each path, which path a model runs by default, and what a load-time layout is
// made from are stated here and nowhere else; asm/ mirrors the sizes in its block constants (and a test
// checks the mirror). docs/KERNEL-ABI.md draws the byte layouts.
import { GGMLType, TYPE_TRAITS } from './ggml-types.js';

export type FormatName =
  | 'f32'
  | 'f16'
  | 'bf16'
  | 'q8_0'
  | 'q4_0'
  | 'q4_K'
  | 'q6_K'
  | 'q4_1'
  | 'q5_0'
  | 'q5_1'
  | 'q2_K'
  | 'q3_K'
  | 'q5_K'
  | 'q8_1'
  | 'q8_0e'
  | 'q8_K'
  | 'q8_Kp'
  | 'q8_0w'
  | 'q8_0s'
  | 'q16_0'
  | 'q16_0s'
  | 'q16_K'
  | 'q4_0r8'
  | 'q4_Kr4'
  | 'q6_Kr4'
  | 'q2_Kr4'
  | 'q3_Kr4'
  | 'q5_0r4'
  | 'q5_1r4'
  | 'f16f';

/**
 * The activation paths of the matmul kernels: `x8` quantizes activations as llama.cpp does (ggml's
 * vec_dot_type, its CPU backend's rounding: the `_x8w` / `_x8s` kernels for q8_0 and q4_0, the plain
 * ones for the K-quants), `x16` to wisp's 16 bits (the `_x16` kernels: ~250× less rounding, further
 * from llama.cpp's results).
 */
export type ActivationPath = 'x16' | 'x8';

/**
 * What a loaded model runs its matmuls on (`--activations`, the wasm backend's `activations`): `q8`,
 * llama.cpp's math (the default): every weight format on its `q8Path`; `q16`: every quantized format
 * on `x16`. Both flavours of the kernels implement both: this is the model's choice, not the flavour's.
 */
export type ActivationChoice = 'q8' | 'q16';
export const ACTIVATION_CHOICES: readonly ActivationChoice[] = ['q8', 'q16'];
export const DEFAULT_ACTIVATIONS: ActivationChoice = 'q8';
/**
 * The path the default choice runs every format on (none has a `q8Path` of x16 today): the kernels
 * the kernel registry canaries and times when it chooses a flavour (host/kernels/choose.ts).
 */
export const ACTIVATION_PATH: ActivationPath = 'x8';

export interface BlockFormat {
  name: FormatName;
  /** Values of one row that one block holds. */
  blockValues: number;
  /** Bytes those values take. */
  blockBytes: number;
  /** Rows interleaved in one group block (the repacked layouts); 1 when rows are stored one after another. */
  rows: number;
  /** ggml's type id, for the formats a GGUF file stores. */
  ggml?: GGMLType;
  /** wisp's quantizers write it (`--type`). */
  writable?: boolean;
  /** A weight format: the activation format its kernels take, per path (none: no kernel on that path). */
  pairs?: Partial<Record<ActivationPath, FormatName>>;
  /**
   * A weight format whose 8-bit path takes wisp's wide layout: ggml's own pairing (its vec_dot_type in
   * ggml's blocks), which the plain kernels (`matvec_q8_0` on q8_0 blocks) implement for tests and the
   * kernel registry's canary; the engine does not run it.
   */
  ggmlPair?: FormatName;
  /**
   * A weight format: the path `--activations q8` (the default) runs it on, when not `x8` (a format
   * whose 8-bit kernels are not there or not fast yet; none today). A load-time layout follows its source's.
   */
  q8Path?: ActivationPath;
  /** An activation format: its quantizer kernel (none for f32: taken as it is) and the suffix of the kernels that take it. */
  activation?: { quantizer?: string; kernelSuffix: string };
  /** A layout made at load from a stored format, with the same bytes per row. */
  madeFrom?: {
    format: FormatName;
    /** The kernel that rewrites rows into it (none: the bytes stay, only the kernel changes). */
    repackKernel?: string;
    /** Byte offsets in a block of the f16 fields its kernels convert as finite values only: a block with an infinity or NaN there keeps the stored format. */
    finiteHalves: number[];
  };
}

/** A ggml type's values and bytes per block (one row's block). */
const sizesOf = (type: GGMLType) => ({ blockValues: TYPE_TRAITS[type].blockSize, blockBytes: TYPE_TRAITS[type].typeSize });
/** A format a GGUF stores: its ggml id and sizes, rows one after another. */
const ggml = (type: GGMLType) => ({ ggml: type, ...sizesOf(type), rows: 1 });

// 16-bit activations (docs/KERNEL-ABI.md): per block { f32 d; i16 q[n] } (+ q16_0s: i32 e = 8·Σq; + q16_K: i32 bsums[16])
const Q16_0_BYTES = 4 + 2 * 32;
const Q16_K_BYTES = 4 + 2 * 256 + 4 * 16;
// ggml's 8-bit values in wide layouts: q16_0's bytes (the values as i16); q8_0s then i32 e = 8·Σq and
// the bytes the relaxed kernels read, i8 qr[32] (docs/KERNEL-ABI.md)
const Q8_0W_BYTES = Q16_0_BYTES;
const Q8_0S_BYTES = Q16_0_BYTES + 4 + 32;

/** The table. Entries are in the order `--type` lists the writable ones. */
export const BLOCK_FORMATS: Readonly<Record<FormatName, Readonly<BlockFormat>>> = {
  f32: { name: 'f32', ...ggml(GGMLType.F32), writable: true, pairs: { x16: 'f32', x8: 'f32' }, activation: { kernelSuffix: '' } },
  f16: { name: 'f16', ...ggml(GGMLType.F16), writable: true, pairs: { x16: 'f32', x8: 'f32' } },
  bf16: { name: 'bf16', ...ggml(GGMLType.BF16), writable: true },
  q8_0: { name: 'q8_0', ...ggml(GGMLType.Q8_0), writable: true, pairs: { x16: 'q16_0', x8: 'q8_0w' }, ggmlPair: 'q8_0', activation: { quantizer: 'quantize_q8_0', kernelSuffix: '' } },
  q4_0: { name: 'q4_0', ...ggml(GGMLType.Q4_0), writable: true, pairs: { x16: 'q16_0', x8: 'q8_0s' }, ggmlPair: 'q8_0' },
  q4_K: { name: 'q4_K', ...ggml(GGMLType.Q4_K), writable: true, pairs: { x16: 'q16_K', x8: 'q8_K' } },
  q6_K: { name: 'q6_K', ...ggml(GGMLType.Q6_K), writable: true, pairs: { x16: 'q16_K', x8: 'q8_K' } },
  // ggml's other weight formats: kernels on 8-bit activations only (ggml's pairing), so both paths take those
  q4_1: { name: 'q4_1', ...ggml(GGMLType.Q4_1), writable: true, pairs: { x16: 'q8_1', x8: 'q8_1' } },
  q5_0: { name: 'q5_0', ...ggml(GGMLType.Q5_0), writable: true, pairs: { x16: 'q8_0', x8: 'q8_0' } },
  q5_1: { name: 'q5_1', ...ggml(GGMLType.Q5_1), writable: true, pairs: { x16: 'q8_1', x8: 'q8_1' } },
  q2_K: { name: 'q2_K', ...ggml(GGMLType.Q2_K), writable: true, pairs: { x16: 'q8_K', x8: 'q8_K' } },
  q3_K: { name: 'q3_K', ...ggml(GGMLType.Q3_K), writable: true, pairs: { x16: 'q8_K', x8: 'q8_K' } },
  q5_K: { name: 'q5_K', ...ggml(GGMLType.Q5_K), writable: true, pairs: { x16: 'q8_K', x8: 'q8_K' } },
  q8_1: { name: 'q8_1', ...ggml(GGMLType.Q8_1), activation: { quantizer: 'quantize_q8_1', kernelSuffix: '' } },
  // q8_0's d and qs with e = Σqs after d: q5_0r4's −16·Σqx without a horizontal sum
  q8_0e: { name: 'q8_0e', blockValues: 32, blockBytes: 36, rows: 1, activation: { quantizer: 'quantize_q8_0e', kernelSuffix: '' } },
  q8_K: { name: 'q8_K', ...ggml(GGMLType.Q8_K), activation: { quantizer: 'quantize_q8_K', kernelSuffix: '' } },
  // q8_K's blocks with each pair of groups' values interleaved two at a time: q2_Kr4's one splat serves both groups
  q8_Kp: { name: 'q8_Kp', ...sizesOf(GGMLType.Q8_K), rows: 1, activation: { quantizer: 'quantize_q8_Kp', kernelSuffix: '' } },
  q8_0w: { name: 'q8_0w', blockValues: 32, blockBytes: Q8_0W_BYTES, rows: 1, activation: { quantizer: 'quantize_q8_0w', kernelSuffix: '_x8w' } },
  q8_0s: { name: 'q8_0s', blockValues: 32, blockBytes: Q8_0S_BYTES, rows: 1, activation: { quantizer: 'quantize_q8_0s', kernelSuffix: '_x8s' } },
  q16_0: { name: 'q16_0', blockValues: 32, blockBytes: Q16_0_BYTES, rows: 1, activation: { quantizer: 'quantize_q16_0', kernelSuffix: '_x16' } },
  q16_0s: { name: 'q16_0s', blockValues: 32, blockBytes: Q16_0_BYTES + 4, rows: 1, activation: { quantizer: 'quantize_q16_0s', kernelSuffix: '_x16s' } },
  q16_K: { name: 'q16_K', blockValues: 256, blockBytes: Q16_K_BYTES, rows: 1, activation: { quantizer: 'quantize_q16_K', kernelSuffix: '_x16' } },
  // eight q4_0 rows interleaved per 32 values (a 144-byte group), run on q8_0s or q16_0s activations
  q4_0r8: { name: 'q4_0r8', ...sizesOf(GGMLType.Q4_0), rows: 8, pairs: { x16: 'q16_0s', x8: 'q8_0s' }, madeFrom: { format: 'q4_0', repackKernel: 'repack_q4_0_r8', finiteHalves: [0] } },
  // four q4_K rows interleaved per 256 values (a 576-byte group), scales re-encoded losslessly
  q4_Kr4: { name: 'q4_Kr4', ...sizesOf(GGMLType.Q4_K), rows: 4, pairs: { x16: 'q16_K', x8: 'q8_K' }, madeFrom: { format: 'q4_K', repackKernel: 'repack_q4_K_r4', finiteHalves: [0, 2] } },
  // four q6_K rows interleaved per 256 values (an 840-byte group), the quants' bits re-arranged losslessly;
  // kernels on q8_K only (the 16-bit path keeps q6_K)
  q6_Kr4: { name: 'q6_Kr4', ...sizesOf(GGMLType.Q6_K), rows: 4, pairs: { x8: 'q8_K' }, madeFrom: { format: 'q6_K', repackKernel: 'repack_q6_K_r4', finiteHalves: [208] } },
  // four q2_K / q3_K rows interleaved per 256 values (336- / 440-byte groups), bits re-arranged losslessly;
  // kernels on q8_Kp (q2_Kr4: q8_K's values, pairs of groups interleaved) and q8_K only (the 16-bit path
  // keeps q2_K / q3_K)
  q2_Kr4: { name: 'q2_Kr4', ...sizesOf(GGMLType.Q2_K), rows: 4, pairs: { x8: 'q8_Kp' }, madeFrom: { format: 'q2_K', repackKernel: 'repack_q2_K_r4', finiteHalves: [80, 82] } },
  q3_Kr4: { name: 'q3_Kr4', ...sizesOf(GGMLType.Q3_K), rows: 4, pairs: { x8: 'q8_K' }, madeFrom: { format: 'q3_K', repackKernel: 'repack_q3_K_r4', finiteHalves: [108] } },
  // four q5_0 / q5_1 rows interleaved per 32 values (88- / 96-byte groups), the levels' bits re-arranged
  // losslessly; on ggml's 8-bit activations on both paths, as q5_0 / q5_1 (q5_0r4: q8_0's values in q8_0e)
  q5_0r4: { name: 'q5_0r4', ...sizesOf(GGMLType.Q5_0), rows: 4, pairs: { x16: 'q8_0e', x8: 'q8_0e' }, madeFrom: { format: 'q5_0', repackKernel: 'repack_q5_0_r4', finiteHalves: [0] } },
  q5_1r4: { name: 'q5_1r4', ...sizesOf(GGMLType.Q5_1), rows: 4, pairs: { x16: 'q8_1', x8: 'q8_1' }, madeFrom: { format: 'q5_1', repackKernel: 'repack_q5_1_r4', finiteHalves: [0, 2] } },
  // f16 as stored, on kernels that skip the watch for infinite and NaN halves (asm/matmul/float.ts)
  f16f: { name: 'f16f', ...ggml(GGMLType.F16), ggml: undefined, pairs: { x16: 'f32', x8: 'f32' }, madeFrom: { format: 'f16', finiteHalves: [0] } },
};

export function formatOf(name: string): Readonly<BlockFormat> {
  const f = (BLOCK_FORMATS as Record<string, BlockFormat | undefined>)[name];
  if (!f) throw new Error(`unknown block format '${name}'; wisp knows ${Object.keys(BLOCK_FORMATS).join(', ')}`);
  return f;
}

/** The format of a ggml type, if wisp uses it. */
export function formatOfType(type: GGMLType): Readonly<BlockFormat> | undefined {
  return Object.values(BLOCK_FORMATS).find((f) => f.ggml === type);
}

/** Bytes of one group block: `rows` rows of blockValues each. */
export function groupBytes(f: BlockFormat): number {
  return f.rows * f.blockBytes;
}

/** Bytes of `values` values of one row in this format (values a whole number of blocks). */
export function formatRowBytes(f: BlockFormat, values: number): number {
  if (values % f.blockValues !== 0) throw new Error(`${f.name}: a row of ${values} values is not a whole number of ${f.blockValues}-value blocks`);
  return (values / f.blockValues) * f.blockBytes;
}

/** The path a weight format (or a layout made from one) runs on under a model's activation choice. */
export function activationPath(weight: FormatName, choice: ActivationChoice = DEFAULT_ACTIVATIONS): ActivationPath {
  const f = BLOCK_FORMATS[weight];
  const source = f.madeFrom ? BLOCK_FORMATS[f.madeFrom.format] : f;
  return choice === 'q16' ? 'x16' : (source.q8Path ?? 'x8');
}

/** The activation format a weight format's kernels take under a model's activation choice (default: q8). */
export function activationFormat(weight: FormatName, choice: ActivationChoice = DEFAULT_ACTIVATIONS): Readonly<BlockFormat> | undefined {
  const a = BLOCK_FORMATS[weight].pairs?.[activationPath(weight, choice)];
  return a === undefined ? undefined : BLOCK_FORMATS[a];
}

/** Stored formats the matmul kernels run under an activation choice (f32, f16, q8_0, q4_0, q4_K, q6_K, q4_1, q5_0, q5_1, q2_K, q3_K, q5_K). */
export function kernelWeightFormats(choice: ActivationChoice = DEFAULT_ACTIVATIONS): Readonly<BlockFormat>[] {
  return Object.values(BLOCK_FORMATS).filter((f) => f.ggml !== undefined && activationFormat(f.name, choice) !== undefined);
}

/** The activation formats with a quantizer that the weight formats' kernels take under a choice (each a buffer in the arena). */
export function quantizedActivationFormats(choice: ActivationChoice = DEFAULT_ACTIVATIONS): Readonly<BlockFormat>[] {
  const names = new Set(Object.values(BLOCK_FORMATS).filter((f) => f.pairs).map((f) => activationFormat(f.name, choice)?.name));
  return Object.values(BLOCK_FORMATS).filter((f) => names.has(f.name) && f.activation?.quantizer !== undefined);
}

/**
 * The load-time layouts made from a stored format (q4_0 → q4_0r8), for weights of `rows` rows, that
 * have kernels under the activation choice.
 */
export function layoutsFrom(stored: FormatName, rows: number, choice: ActivationChoice = DEFAULT_ACTIVATIONS): Readonly<BlockFormat>[] {
  return Object.values(BLOCK_FORMATS).filter((f) => f.madeFrom?.format === stored && rows % f.rows === 0 && activationFormat(f.name, choice) !== undefined);
}

/** An activation choice by name (`--activations`), or a one-line error naming the choices. */
export function parseActivations(name: string): ActivationChoice {
  if (!(ACTIVATION_CHOICES as readonly string[]).includes(name)) {
    throw new Error(`unknown activation format '${name}': choose q8 (ggml's 8-bit activations, llama.cpp's math; the default) or q16 (16-bit, closer to f32 math)`);
  }
  return name as ActivationChoice;
}

/** Whether every block's f16 fields at `offsets` (little-endian halves) are finite: exponent bits not all ones. */
export function finiteHalves(bytes: Uint8Array, blockBytes: number, offsets: readonly number[]): boolean {
  for (let o = 0; o < bytes.length; o += blockBytes) {
    for (const at of offsets) if ((bytes[o + at + 1] & 0x7c) === 0x7c) return false;
  }
  return true;
}
