// The JS reference of every export of the `matmul` kernel family (docs/KERNEL-ABI.md): plain
// TypeScript, written for reading, that the kernel tests, the self-test goldens and the registry's
// canary compare the wasm module against. Not here: the load-time specializations (repack_q4_0_r8 /
// *_q4_0r8_x16s / *_q4_0r8_x8s, repack_q4_K_r4 / *_q4_Kr4_x16, repack_q6_K_r4 / *_q6_Kr4, repack_q2_K_r4 /
// *_q2_Kr4, repack_q3_K_r4 / *_q3_Kr4, *_f16f), whose results equal the kernels they specialize bit for
// bit; the tests and the self-test check exactly that (the q6_Kr4 layout itself: ./q6_kr4.ts; q2_Kr4's
// and q3_Kr4's: ./q2_q3_kr4.ts).
//
// What is exact and what is not:
// - quantize_q8_0 / quantize_q8_K write ggml's bytes (the host quantizers, which are bit-identical
//   with ggml's quantize_row_q8_0_ref / quantize_row_q8_K_ref); the kernels reproduce them bit for bit
//   (roundf's ties away from zero for q8_0, nearest-even for q8_K, both done exactly in SIMD).
// - get_row_* are ggml's dequantizers (host/model/ggml-types.ts), also reproduced bit for bit.
// - matvec_* / matmul_* do the integer part of each dot product exactly as the kernels and ggml do
//   (per-block integer sums, q8_K's bsums for the q4_K mins and the q6_K −32 offset), then combine the
//   blocks in float64; the kernels combine them in float32, so they agree to ~1e-6 of the result's scale.
import { BLOCK_FORMATS } from '../../model/block-formats.js';
import { GGMLType, dequantize, f16ToF32, f32ToF16, rowBytes } from '../../model/ggml-types.js';
import { quantizeRowQ8_0 } from '../../model/quantize/q8_0.js';
import { quantizeRowQ8_K } from '../../model/quantize/q8_k.js';
import { MORE_MATMUL_REFERENCE } from './matmul-types.js';

export type MatmulWeightType = 'f32' | 'f16' | 'q8_0' | 'q4_0' | 'q4_K' | 'q6_K';
export type ActivationType = 'f32' | 'q8_0' | 'q8_K';

export const MATMUL_WEIGHT_TYPES: readonly MatmulWeightType[] = ['f32', 'f16', 'q8_0', 'q4_0', 'q4_K', 'q6_K'];

// block sizes from the one table (host/model/block-formats.ts)
const { q8_0: Q8_0, q4_0: Q4_0, q4_K: Q4_K, q6_K: Q6_K } = BLOCK_FORMATS;

const GGML_TYPE: Readonly<Record<MatmulWeightType | ActivationType, GGMLType>> = {
  f32: GGMLType.F32,
  f16: GGMLType.F16,
  q8_0: GGMLType.Q8_0,
  q4_0: GGMLType.Q4_0,
  q4_K: GGMLType.Q4_K,
  q6_K: GGMLType.Q6_K,
  q8_K: GGMLType.Q8_K,
};

/** The activation type a weight type is dotted with (ggml's vec_dot_type). */
export function activationType(t: MatmulWeightType): ActivationType {
  if (t === 'f32' || t === 'f16') return 'f32';
  return t === 'q4_K' || t === 'q6_K' ? 'q8_K' : 'q8_0';
}

export function ggmlTypeOf(t: MatmulWeightType | ActivationType): GGMLType {
  return GGML_TYPE[t];
}

/** Bytes of one weight row of `cols` values. */
export function weightRowBytes(t: MatmulWeightType, cols: number): number {
  return rowBytes(GGML_TYPE[t], cols);
}

/** Bytes of one activation row of `cols` values, in the type that `t` is dotted with. */
export function activationRowBytes(t: MatmulWeightType, cols: number): number {
  return rowBytes(GGML_TYPE[activationType(t)], cols);
}

// ---- activation quantizers -------------------------------------------------------------------

/** quantize_q8_0: ggml's quantize_row_q8_0_ref (d = absmax/127 stored as f16, q = roundf(x/d)). */
export function quantizeQ8_0(x: Float32Array, out: Uint8Array): void {
  quantizeRowQ8_0(x, out);
}

/** quantize_q8_K: ggml's quantize_row_q8_K_ref (largest |x| maps to -127, f32 d, bsums of 16). */
export function quantizeQ8_K(x: Float32Array, out: Uint8Array): void {
  quantizeRowQ8_K(x, out);
}

/** The activation bytes the kernels read for weight type `t`: x itself (f32) or its q8_0 / q8_K blocks. */
export function quantizeActivation(t: MatmulWeightType, x: Float32Array): Uint8Array {
  const a = activationType(t);
  if (a === 'f32') return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  const out = new Uint8Array(rowBytes(GGML_TYPE[a], x.length));
  if (a === 'q8_0') quantizeQ8_0(x, out);
  else quantizeQ8_K(x, out);
  return out;
}

// ---- one dot product per weight type ---------------------------------------------------------

function i8(byte: number): number {
  return (byte << 24) >> 24;
}

function u16(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8);
}

function i16(b: Uint8Array, i: number): number {
  return (u16(b, i) << 16) >> 16;
}

function f32At(b: Uint8Array, i: number): number {
  return new DataView(b.buffer, b.byteOffset + i, 4).getFloat32(0, true);
}

/** n little-endian f32 values starting at byte 0 of b. */
function floats(b: Uint8Array, n: number): Float32Array {
  if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, n);
  return new Float32Array(b.slice(0, 4 * n).buffer);
}

const fround = Math.fround;

/** f32 weights · f32 x, summed in f64. */
function dotF32(w: Uint8Array, x: Uint8Array, cols: number): number {
  const wf = floats(w, cols), xf = floats(x, cols);
  let sum = 0;
  for (let i = 0; i < cols; i++) sum += wf[i] * xf[i];
  return sum;
}

/** f16 weights (each converted exactly) · f32 x, summed in f64. */
function dotF16(w: Uint8Array, x: Uint8Array, cols: number): number {
  const xf = floats(x, cols);
  let sum = 0;
  for (let i = 0; i < cols; i++) sum += f16ToF32(u16(w, 2 * i)) * xf[i];
  return sum;
}

/** q8_0 · q8_0 (ggml_vec_dot_q8_0_q8_0): per block Σ qw·qx as an integer, times dw·dx (an f32 product). */
function dotQ8_0(w: Uint8Array, x: Uint8Array, cols: number): number {
  let sum = 0;
  for (let b = 0; b < cols / Q8_0.blockValues; b++) {
    const pw = Q8_0.blockBytes * b, px = Q8_0.blockBytes * b;
    let sumi = 0;
    for (let j = 0; j < 32; j++) sumi += i8(w[pw + 2 + j]) * i8(x[px + 2 + j]);
    sum += sumi * fround(f16ToF32(u16(w, pw)) * f16ToF32(u16(x, px)));
  }
  return sum;
}

/** q4_0 · q8_0 (ggml_vec_dot_q4_0_q8_0): value j < 16 is the low nibble of qs[j], j + 16 the high one, minus 8. */
function dotQ4_0(w: Uint8Array, x: Uint8Array, cols: number): number {
  let sum = 0;
  for (let b = 0; b < cols / Q4_0.blockValues; b++) {
    const pw = Q4_0.blockBytes * b, px = Q8_0.blockBytes * b;
    let sumi = 0;
    for (let j = 0; j < 16; j++) {
      const q = w[pw + 2 + j];
      sumi += ((q & 0xf) - 8) * i8(x[px + 2 + j]) + ((q >> 4) - 8) * i8(x[px + 2 + j + 16]);
    }
    sum += sumi * fround(f16ToF32(u16(w, pw)) * f16ToF32(u16(x, px)));
  }
  return sum;
}

/** Scale and min j (0..7) of a q4_K block, 6 bits each, packed in the 12 bytes at s (ggml's get_scale_min_k4). */
export function scaleMinK4(b: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [b[s + j] & 63, b[s + j + 4] & 63];
  return [(b[s + j + 4] & 0xf) | ((b[s + j - 4] >> 6) << 4), (b[s + j + 4] >> 4) | ((b[s + j] >> 6) << 4)];
}

// q8_K block: { f32 d; i8 qs[256]; i16 bsums[16] }
const Q8K_QS = 4;
const Q8K_BSUMS = 260;
const Q8K_BYTES = BLOCK_FORMATS.q8_K.blockBytes;

/**
 * q4_K · q8_K (ggml_vec_dot_q4_K_q8_K). Sub-block j (32 values) of chunk c = j/2 uses the low
 * nibbles of qs[32c..32c+32) when j is even, the high ones when odd; w = d·sc_j·q − dmin·m_j, so
 *   dot = dx·d·Σ_j sc_j·Σ q·qx  −  dx·dmin·Σ_j m_j·(bsums[2j] + bsums[2j+1]).
 */
function dotQ4_K(w: Uint8Array, x: Uint8Array, cols: number): number {
  let sum = 0;
  for (let b = 0; b < cols / Q4_K.blockValues; b++) {
    const pw = Q4_K.blockBytes * b, px = Q8K_BYTES * b;
    const d = f16ToF32(u16(w, pw)), dmin = f16ToF32(u16(w, pw + 2));
    const dx = f32At(x, px);
    let sumi = 0, summ = 0;
    for (let j = 0; j < 8; j++) {
      const [sc, m] = scaleMinK4(w, pw + 4, j);
      const qs = pw + 16 + 32 * (j >> 1);
      const shift = (j & 1) * 4;
      let s = 0;
      for (let l = 0; l < 32; l++) s += ((w[qs + l] >> shift) & 0xf) * i8(x[px + Q8K_QS + 32 * j + l]);
      sumi += sc * s;
      summ += m * (i16(x, px + Q8K_BSUMS + 4 * j) + i16(x, px + Q8K_BSUMS + 4 * j + 2));
    }
    sum += dx * d * sumi - dx * dmin * summ;
  }
  return sum;
}

/** The 6-bit value l (0..255) of a q6_K block at p, unsigned (0..63), as ggml's dequantize_row_q6_K lays it out. */
export function q6KValue(w: Uint8Array, p: number, l: number): number {
  const half = l >> 7, k = (l & 127) >> 5, i = l & 31; // value 128·half + 32·k + i
  const ql = w[p + 64 * half + i + (k & 1) * 32];
  const lo = k < 2 ? ql & 0xf : ql >> 4;
  const hi = (w[p + 128 + 32 * half + i] >> (2 * k)) & 3;
  return lo | (hi << 4);
}

/**
 * q6_K · q8_K (ggml_vec_dot_q6_K_q8_K). Group g (16 values) has the signed scale scales[g]; values
 * are q − 32 with q the unsigned 6-bit value, and the −32 goes through q8_K's bsums, so
 *   dot = dx·d·(Σ_g sc_g·Σ q·qx − 32·Σ_g sc_g·bsums[g]).
 */
function dotQ6_K(w: Uint8Array, x: Uint8Array, cols: number): number {
  let sum = 0;
  for (let b = 0; b < cols / Q6_K.blockValues; b++) {
    const pw = Q6_K.blockBytes * b, px = Q8K_BYTES * b;
    const d = f16ToF32(u16(w, pw + 208));
    const dx = f32At(x, px);
    let sumi = 0;
    for (let g = 0; g < 16; g++) {
      const sc = i8(w[pw + 192 + g]);
      let s = 0;
      for (let l = 16 * g; l < 16 * g + 16; l++) s += q6KValue(w, pw, l) * i8(x[px + Q8K_QS + l]);
      sumi += sc * (s - 32 * i16(x, px + Q8K_BSUMS + 2 * g));
    }
    sum += dx * d * sumi;
  }
  return sum;
}

const DOT: Readonly<Record<MatmulWeightType, (w: Uint8Array, x: Uint8Array, cols: number) => number>> = {
  f32: dotF32,
  f16: dotF16,
  q8_0: dotQ8_0,
  q4_0: dotQ4_0,
  q4_K: dotQ4_K,
  q6_K: dotQ6_K,
};

/** One weight row · one activation row (bytes as the kernels read them), in f64. */
export function dot(t: MatmulWeightType, wRow: Uint8Array, xRow: Uint8Array, cols: number): number {
  return DOT[t](wRow, xRow, cols);
}

// ---- the exports, on typed arrays ------------------------------------------------------------

type RowDot = (wRow: Uint8Array, xRow: Uint8Array, cols: number) => number;

/** y[r − r0] = row r of w · x for r in [r0, r1), rows of rb bytes. */
function matvecWith(rowDot: RowDot, rb: number, w: Uint8Array, x: Uint8Array, cols: number, r0: number, r1: number): Float64Array {
  const y = new Float64Array(r1 - r0);
  for (let r = r0; r < r1; r++) y[r - r0] = rowDot(w.subarray(r * rb, (r + 1) * rb), x, cols);
  return y;
}

/** y[tok·rows + r] = row r of w · activation row tok (xb bytes each), for r in [r0, r1); other entries NaN. */
function matmulWith(rowDot: RowDot, rb: number, xb: number, w: Uint8Array, x: Uint8Array, cols: number, rows: number, nTok: number, r0: number, r1: number): Float64Array {
  const y = new Float64Array(nTok * rows).fill(NaN);
  for (let tok = 0; tok < nTok; tok++) {
    const xRow = x.subarray(tok * xb, (tok + 1) * xb);
    for (let r = r0; r < r1; r++) y[tok * rows + r] = rowDot(w.subarray(r * rb, (r + 1) * rb), xRow, cols);
  }
  return y;
}

/** matvec_<t>: y[r − r0] = row r of w · x for r in [r0, r1). */
export function matvec(t: MatmulWeightType, w: Uint8Array, x: Uint8Array, cols: number, r0: number, r1: number): Float64Array {
  return matvecWith(DOT[t], weightRowBytes(t, cols), w, x, cols, r0, r1);
}

/** matmul_<t>: y[tok·rows + r] = row r of w · activation row tok, for r in [r0, r1); other entries NaN. */
export function matmul(
  t: MatmulWeightType, w: Uint8Array, x: Uint8Array, cols: number, rows: number, nTok: number, r0: number, r1: number,
): Float64Array {
  return matmulWith(DOT[t], weightRowBytes(t, cols), activationRowBytes(t, cols), w, x, cols, rows, nTok, r0, r1);
}

/** get_row_<t>: row `row` of w as floats, by ggml's dequantizer (bit-exact). */
export function getRow(t: MatmulWeightType, w: Uint8Array, cols: number, row: number): Float32Array {
  const rb = weightRowBytes(t, cols);
  return dequantize(GGML_TYPE[t], w.subarray(row * rb, (row + 1) * rb), cols);
}

// ---- the exports, over one memory, with the kernels' signatures -------------------------------

/** A matmul export run by the reference on a memory (its buffer as bytes), with the kernel's arguments. */
export type ReferenceExport = (mem: Uint8Array, ...args: number[]) => void;

function f32View(mem: Uint8Array, ptr: number, n: number): Float32Array {
  return new Float32Array(mem.buffer.slice(mem.byteOffset + ptr, mem.byteOffset + ptr + 4 * n) as ArrayBuffer);
}

function writeF32(mem: Uint8Array, ptr: number, values: ArrayLike<number>): void {
  const dv = new DataView(mem.buffer, mem.byteOffset);
  for (let i = 0; i < values.length; i++) dv.setFloat32(ptr + 4 * i, values[i], true);
}

function referenceExports(): Record<string, ReferenceExport> {
  const out: Record<string, ReferenceExport> = {
    quantize_q8_0: (mem, x, o, n) => {
      const q = new Uint8Array(rowBytes(GGMLType.Q8_0, n));
      quantizeQ8_0(f32View(mem, x, n), q);
      mem.set(q, o);
    },
    quantize_q8_K: (mem, x, o, n) => {
      const q = new Uint8Array(rowBytes(GGMLType.Q8_K, n));
      quantizeQ8_K(f32View(mem, x, n), q);
      mem.set(q, o);
    },
  };
  for (const t of MATMUL_WEIGHT_TYPES) {
    out[`matvec_${t}`] = (mem, w, x, y, cols, r0, r1) => {
      const rb = weightRowBytes(t, cols);
      const res = matvec(t, mem.subarray(w + r0 * rb), mem.subarray(x, x + activationRowBytes(t, cols)), cols, 0, r1 - r0);
      writeF32(mem, y + 4 * r0, res);
    };
    out[`matmul_${t}`] = (mem, w, x, y, cols, rows, nTok, r0, r1) => {
      const rb = weightRowBytes(t, cols), xb = activationRowBytes(t, cols);
      for (let tok = 0; tok < nTok; tok++) {
        const xRow = mem.subarray(x + tok * xb, x + (tok + 1) * xb);
        const res = matvec(t, mem.subarray(w + r0 * rb), xRow, cols, 0, r1 - r0);
        writeF32(mem, y + 4 * (tok * rows + r0), res);
      }
    };
    out[`get_row_${t}`] = (mem, w, o, cols, row) => {
      const rb = weightRowBytes(t, cols);
      writeF32(mem, o, getRow(t, mem.subarray(w + row * rb, w + (row + 1) * rb), cols, 0));
    };
  }
  return out;
}


// ---- 16-bit activations: q16_0 / q16_K and the `_x16` dot products -----------------------------
//
//   q16_0  per 32 values:  { f32 d; i16 q[32] }                    68 bytes
//   q16_K  per 256 values: { f32 d; i16 q[256]; i32 bsums[16] }   580 bytes (q at 4, bsums at 516)
// d = fround(amax / 32767), id = d ? fround(1 / d) : 0, q = nearest-even(fround(x·id)) clamped to
// ±32767 (NaN → 0), bsums[g] = Σ q[16g..16g+16). The kernels (asm/matmul/quantize16.ts) write the
// same bytes. The x16 dot products below do the integer sums exactly and combine in f64; the kernels
// turn some partial integer sums into f32 (to stay within i32), so they agree to ~1e-6 relative.

export type X16WeightType = 'q8_0' | 'q4_0' | 'q4_K' | 'q6_K';
export type X16ActivationType = 'q16_0' | 'q16_K';
export const X16_WEIGHT_TYPES: readonly X16WeightType[] = ['q8_0', 'q4_0', 'q4_K', 'q6_K'];
export const Q16_0_BYTES = BLOCK_FORMATS.q16_0.blockBytes;
export const Q16_K_BYTES = BLOCK_FORMATS.q16_K.blockBytes;
/** q16_0s: a q16_0 block followed by e = 8·Σ q (i32), for the q4_0r8 kernels (asm/matmul/q4_0r8_x16.ts). */
export const Q16_0S_BYTES = BLOCK_FORMATS.q16_0s.blockBytes;

/** The 16-bit activation type a weight type is dotted with in its `_x16` kernels. */
export function activationTypeX16(t: X16WeightType): X16ActivationType {
  return t === 'q4_K' || t === 'q6_K' ? 'q16_K' : 'q16_0';
}

/** Bytes of one q16_0 / q16_K activation row of `cols` values for weight type t. */
export function activationRowBytesX16(t: X16WeightType, cols: number): number {
  return activationTypeX16(t) === 'q16_K' ? (cols / 256) * Q16_K_BYTES : (cols / 32) * Q16_0_BYTES;
}

/** WebAssembly's f32x4.nearest then i32x4.trunc_sat_f32x4_s, clamped to ±32767. */
function q16(v: number): number {
  if (Number.isNaN(v)) return 0;
  let r: number;
  if (!Number.isFinite(v)) r = v;
  else {
    const f = Math.floor(v), diff = v - f;
    r = diff < 0.5 ? f : diff > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
  }
  return Math.max(-32767, Math.min(32767, r));
}

/** One block of `n` values of x from `x0` into out at `o`: writes d and q, returns the q values. */
function quantizeBlock16(x: Float32Array, x0: number, n: number, dv: DataView, o: number): Int32Array {
  let amax = 0;
  for (let i = 0; i < n; i++) amax = Math.max(amax, Math.abs(x[x0 + i]));
  const d = fround(amax / 32767);
  const id = d !== 0 ? fround(1 / d) : 0;
  dv.setFloat32(o, d, true);
  const q = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    q[i] = q16(fround(x[x0 + i] * id));
    dv.setInt16(o + 4 + 2 * i, q[i], true);
  }
  return q;
}

/** quantize_q16_0: blocks of 32 { f32 d; i16 q[32] }. */
export function quantizeQ16_0(x: Float32Array, out: Uint8Array): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0; b < x.length / 32; b++) quantizeBlock16(x, 32 * b, 32, dv, Q16_0_BYTES * b);
}

/** quantize_q16_0s: blocks of 32 { f32 d; i16 q[32]; i32 e = 8·Σ q }. */
export function quantizeQ16_0S(x: Float32Array, out: Uint8Array): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0; b < x.length / 32; b++) {
    const q = quantizeBlock16(x, 32 * b, 32, dv, Q16_0S_BYTES * b);
    dv.setInt32(Q16_0S_BYTES * b + Q16_0_BYTES, 8 * q.reduce((a, v) => a + v, 0), true);
  }
}

/** quantize_q16_K: blocks of 256 { f32 d; i16 q[256]; i32 bsums[16] }. */
export function quantizeQ16_K(x: Float32Array, out: Uint8Array): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0; b < x.length / 256; b++) {
    const o = Q16_K_BYTES * b;
    const q = quantizeBlock16(x, 256 * b, 256, dv, o);
    for (let g = 0; g < 16; g++) {
      let s = 0;
      for (let i = 16 * g; i < 16 * g + 16; i++) s += q[i];
      dv.setInt32(o + 516 + 4 * g, s, true);
    }
  }
}

/** The q16_0 / q16_K bytes of x for weight type t's `_x16` kernels. */
export function quantizeActivationX16(t: X16WeightType, x: Float32Array): Uint8Array {
  const out = new Uint8Array(activationRowBytesX16(t, x.length));
  if (activationTypeX16(t) === 'q16_K') quantizeQ16_K(x, out);
  else quantizeQ16_0(x, out);
  return out;
}

function i32At(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24));
}

/**
 * q8_0 · an activation of 32 i16 values after an f32 scale per block, `xBytes` apart (q16_0, or ggml's
 * 8-bit q8_0w held in the same layout): per block Σ qw·qx (integer) times fround(dw·dx).
 */
function dotQ8_0With(xBytes: number): (w: Uint8Array, x: Uint8Array, cols: number) => number {
  return (w, x, cols) => {
    let sum = 0;
    for (let b = 0; b < cols / Q8_0.blockValues; b++) {
      const pw = Q8_0.blockBytes * b, px = xBytes * b;
      let sumi = 0;
      for (let j = 0; j < 32; j++) sumi += i8(w[pw + 2 + j]) * i16(x, px + 4 + 2 * j);
      sum += sumi * fround(f16ToF32(u16(w, pw)) * f32At(x, px));
    }
    return sum;
  };
}

/** q4_0 · the same activation layout (q16_0, or q8_0s): per block Σ (q − 8)·qx (integer) times fround(dw·dx): ggml_vec_dot_q4_0_q8_0. */
function dotQ4_0With(xBytes: number): (w: Uint8Array, x: Uint8Array, cols: number) => number {
  return (w, x, cols) => {
    let sum = 0;
    for (let b = 0; b < cols / Q4_0.blockValues; b++) {
      const pw = Q4_0.blockBytes * b, px = xBytes * b;
      let sumi = 0;
      for (let j = 0; j < 16; j++) {
        const q = w[pw + 2 + j];
        sumi += ((q & 0xf) - 8) * i16(x, px + 4 + 2 * j) + ((q >> 4) - 8) * i16(x, px + 4 + 2 * (j + 16));
      }
      sum += sumi * fround(f16ToF32(u16(w, pw)) * f32At(x, px));
    }
    return sum;
  };
}

/** q4_K · q16_K: dx·d·Σ_j sc_j·Σ q·qx − dx·dmin·Σ_j m_j·(bsums[2j] + bsums[2j+1]). */
function dotQ4_Kx16(w: Uint8Array, x: Uint8Array, cols: number): number {
  let sum = 0;
  for (let b = 0; b < cols / Q4_K.blockValues; b++) {
    const pw = Q4_K.blockBytes * b, px = Q16_K_BYTES * b;
    const d = f16ToF32(u16(w, pw)), dmin = f16ToF32(u16(w, pw + 2));
    const dx = f32At(x, px);
    let sumi = 0, summ = 0;
    for (let j = 0; j < 8; j++) {
      const [sc, m] = scaleMinK4(w, pw + 4, j);
      const qs = pw + 16 + 32 * (j >> 1);
      const shift = (j & 1) * 4;
      let s = 0;
      for (let l = 0; l < 32; l++) s += ((w[qs + l] >> shift) & 0xf) * i16(x, px + 4 + 2 * (32 * j + l));
      sumi += sc * s;
      summ += m * (i32At(x, px + 516 + 8 * j) + i32At(x, px + 516 + 8 * j + 4));
    }
    sum += dx * d * sumi - dx * dmin * summ;
  }
  return sum;
}

/** q6_K · q16_K: dx·d·Σ_g sc_g·Σ (q − 32)·qx. */
function dotQ6_Kx16(w: Uint8Array, x: Uint8Array, cols: number): number {
  let sum = 0;
  for (let b = 0; b < cols / Q6_K.blockValues; b++) {
    const pw = Q6_K.blockBytes * b, px = Q16_K_BYTES * b;
    const d = f16ToF32(u16(w, pw + 208));
    const dx = f32At(x, px);
    let sumi = 0;
    for (let g = 0; g < 16; g++) {
      let s = 0;
      for (let l = 16 * g; l < 16 * g + 16; l++) s += (q6KValue(w, pw, l) - 32) * i16(x, px + 4 + 2 * l);
      sumi += i8(w[pw + 192 + g]) * s;
    }
    sum += dx * d * sumi;
  }
  return sum;
}

const DOT_X16: Readonly<Record<X16WeightType, (w: Uint8Array, x: Uint8Array, cols: number) => number>> = {
  q8_0: dotQ8_0With(Q16_0_BYTES),
  q4_0: dotQ4_0With(Q16_0_BYTES),
  q4_K: dotQ4_Kx16,
  q6_K: dotQ6_Kx16,
};

/** One weight row · one q16_0 / q16_K activation row, in f64. */
export function dotX16(t: X16WeightType, wRow: Uint8Array, xRow: Uint8Array, cols: number): number {
  return DOT_X16[t](wRow, xRow, cols);
}

/** matvec_<t>_x16: y[r − r0] = row r of w · x for r in [r0, r1). */
export function matvecX16(t: X16WeightType, w: Uint8Array, x: Uint8Array, cols: number, r0: number, r1: number): Float64Array {
  return matvecWith(DOT_X16[t], weightRowBytes(t, cols), w, x, cols, r0, r1);
}

/** matmul_<t>_x16: y[tok·rows + r] = row r of w · activation row tok, for r in [r0, r1); other entries NaN. */
export function matmulX16(
  t: X16WeightType, w: Uint8Array, x: Uint8Array, cols: number, rows: number, nTok: number, r0: number, r1: number,
): Float64Array {
  return matmulWith(DOT_X16[t], weightRowBytes(t, cols), activationRowBytesX16(t, cols), w, x, cols, rows, nTok, r0, r1);
}

function referenceExportsX16(): Record<string, ReferenceExport> {
  const out: Record<string, ReferenceExport> = {
    quantize_q16_0: (mem, x, o, n) => {
      const q = new Uint8Array((n / 32) * Q16_0_BYTES);
      quantizeQ16_0(f32View(mem, x, n), q);
      mem.set(q, o);
    },
    quantize_q16_0s: (mem, x, o, n) => {
      const q = new Uint8Array((n / 32) * Q16_0S_BYTES);
      quantizeQ16_0S(f32View(mem, x, n), q);
      mem.set(q, o);
    },
    quantize_q16_K: (mem, x, o, n) => {
      const q = new Uint8Array((n / 256) * Q16_K_BYTES);
      quantizeQ16_K(f32View(mem, x, n), q);
      mem.set(q, o);
    },
  };
  for (const t of X16_WEIGHT_TYPES) {
    out[`matvec_${t}_x16`] = (mem, w, x, y, cols, r0, r1) => {
      const rb = weightRowBytes(t, cols);
      const res = matvecX16(t, mem.subarray(w + r0 * rb), mem.subarray(x, x + activationRowBytesX16(t, cols)), cols, 0, r1 - r0);
      writeF32(mem, y + 4 * r0, res);
    };
    out[`matmul_${t}_x16`] = (mem, w, x, y, cols, rows, nTok, r0, r1) => {
      const rb = weightRowBytes(t, cols), xb = activationRowBytesX16(t, cols);
      for (let tok = 0; tok < nTok; tok++) {
        const xRow = mem.subarray(x + tok * xb, x + (tok + 1) * xb);
        const res = matvecX16(t, mem.subarray(w + r0 * rb), xRow, cols, 0, r1 - r0);
        writeF32(mem, y + 4 * (tok * rows + r0), res);
      }
    };
  }
  return out;
}


// ---- ggml's 8-bit activations as llama.cpp's CPU backend computes them: q8_0w / q8_0s and the `_x8*` dots --
//
// Values as x86 ggml's quantize_row_q8_0 (its AVX path): per block of 32, amax = max |x|,
// d = fround(amax / 127) stored as f16, id = amax ≠ 0 ? fround(127 / amax) : 0,
// q = nearest-even(fround(x·id)) clamped to ±127 (NaN → 0). ggml's reference quantizer (quantizeQ8_0
// above, for model files) rounds halves away from zero and takes id = 1/d. Layouts
// (asm/matmul/quantize8.ts writes the same bytes):
//   q8_0w per 32 values: { f32 d; i16 q[32] }                    68 bytes (q16_0's layout)
//   q8_0s per 32 values: { f32 d; i16 q[32]; i32 e; i8 qr[32] }  104 bytes, e = 8·Σq, qr = q in q4_0r8's nibble order
// d is the f32 value of the f16 (exact). The dot products read d and the i16 q, as on q16_0.

export const Q8_0W_BYTES = BLOCK_FORMATS.q8_0w.blockBytes;
export const Q8_0S_BYTES = BLOCK_FORMATS.q8_0s.blockBytes;
/** Where each value of a group of eight goes in q8_0s's qr bytes: qr[8L + i] = q[8L + QR_ORDER[i]]. */
export const QR_ORDER = [0, 4, 1, 5, 2, 6, 3, 7] as const;

/** C's nearestbyint in round-to-nearest-even (f32x4.nearest, _mm256_round_ps(_MM_ROUND_NEAREST)). */
function nearestEven(v: number): number {
  const f = Math.floor(v), diff = v - f;
  return diff < 0.5 ? f : diff > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
}

/** One block's d and q as x86 ggml's quantize_row_q8_0 computes them (q clamped to ±127, NaN → 0). */
export function quantizeBlockQ8_0Cpu(x: Float32Array, x0: number): { d: number; q: Int32Array } {
  let amax = 0;
  for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[x0 + i]));
  const d = f16ToF32(f32ToF16(fround(amax / 127)));
  const id = amax !== 0 ? fround(127 / amax) : 0;
  const q = new Int32Array(32);
  for (let i = 0; i < 32; i++) {
    const v = fround(x[x0 + i] * id);
    q[i] = Number.isNaN(v) ? 0 : Math.max(-127, Math.min(127, nearestEven(v)));
  }
  return { d, q };
}

/** quantize_q8_0w: blocks of 32 { f32 d; i16 q[32] }. */
export function quantizeQ8_0W(x: Float32Array, out: Uint8Array): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0; b < x.length / 32; b++) {
    const o = Q8_0W_BYTES * b;
    const { d, q } = quantizeBlockQ8_0Cpu(x, 32 * b);
    dv.setFloat32(o, d, true);
    for (let i = 0; i < 32; i++) dv.setInt16(o + 4 + 2 * i, q[i], true);
  }
}

/** quantize_q8_0s: blocks of 32 { f32 d; i16 q[32]; i32 e = 8·Σq; i8 qr[32] }. */
export function quantizeQ8_0S(x: Float32Array, out: Uint8Array): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0; b < x.length / 32; b++) {
    const o = Q8_0S_BYTES * b;
    const { d, q } = quantizeBlockQ8_0Cpu(x, 32 * b);
    dv.setFloat32(o, d, true);
    let sum = 0;
    for (let i = 0; i < 32; i++) {
      dv.setInt16(o + 4 + 2 * i, q[i], true);
      sum += q[i];
      dv.setInt8(o + 72 + i, q[(i & ~7) + QR_ORDER[i & 7]]);
    }
    dv.setInt32(o + 68, 8 * sum, true);
  }
}

/** The x8 weight types and the activation layout each takes. */
export type X8WeightType = 'q8_0' | 'q4_0';
export const X8_WEIGHT_TYPES: readonly X8WeightType[] = ['q8_0', 'q4_0'];
/** The kernel suffix and activation block bytes of a weight type's `_x8*` kernels. */
export const X8_OF: Readonly<Record<X8WeightType, { suffix: '_x8w' | '_x8s'; blockBytes: number; quantize: (x: Float32Array, out: Uint8Array) => void }>> = {
  q8_0: { suffix: '_x8w', blockBytes: Q8_0W_BYTES, quantize: quantizeQ8_0W },
  q4_0: { suffix: '_x8s', blockBytes: Q8_0S_BYTES, quantize: quantizeQ8_0S },
};

/** The q8_0w / q8_0s bytes of x for weight type t's `_x8*` kernels. */
export function quantizeActivationX8(t: X8WeightType, x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / 32) * X8_OF[t].blockBytes);
  X8_OF[t].quantize(x, out);
  return out;
}

const DOT_X8: Readonly<Record<X8WeightType, (w: Uint8Array, x: Uint8Array, cols: number) => number>> = { q8_0: dotQ8_0With(Q8_0W_BYTES), q4_0: dotQ4_0With(Q8_0S_BYTES) };

/** matvec_<t>_x8*: y[r − r0] = row r of w · x for r in [r0, r1), in f64. */
export function matvecX8(t: X8WeightType, w: Uint8Array, x: Uint8Array, cols: number, r0: number, r1: number): Float64Array {
  return matvecWith(DOT_X8[t], weightRowBytes(t, cols), w, x, cols, r0, r1);
}

/** matmul_<t>_x8*: y[tok·rows + r] = row r of w · activation row tok, for r in [r0, r1); other entries NaN. */
export function matmulX8(t: X8WeightType, w: Uint8Array, x: Uint8Array, cols: number, rows: number, nTok: number, r0: number, r1: number): Float64Array {
  return matmulWith(DOT_X8[t], weightRowBytes(t, cols), (cols / 32) * X8_OF[t].blockBytes, w, x, cols, rows, nTok, r0, r1);
}

function referenceExportsX8(): Record<string, ReferenceExport> {
  const out: Record<string, ReferenceExport> = {
    quantize_q8_0w: (mem, x, o, n) => {
      const q = new Uint8Array((n / 32) * Q8_0W_BYTES);
      quantizeQ8_0W(f32View(mem, x, n), q);
      mem.set(q, o);
    },
    quantize_q8_0s: (mem, x, o, n) => {
      const q = new Uint8Array((n / 32) * Q8_0S_BYTES);
      quantizeQ8_0S(f32View(mem, x, n), q);
      mem.set(q, o);
    },
  };
  for (const t of X8_WEIGHT_TYPES) {
    const { suffix, blockBytes } = X8_OF[t];
    out[`matvec_${t}${suffix}`] = (mem, w, x, y, cols, r0, r1) => {
      const rb = weightRowBytes(t, cols);
      writeF32(mem, y + 4 * r0, matvecX8(t, mem.subarray(w + r0 * rb), mem.subarray(x, x + (cols / 32) * blockBytes), cols, 0, r1 - r0));
    };
    out[`matmul_${t}${suffix}`] = (mem, w, x, y, cols, rows, nTok, r0, r1) => {
      const rb = weightRowBytes(t, cols), xb = (cols / 32) * blockBytes;
      for (let tok = 0; tok < nTok; tok++) {
        writeF32(mem, y + 4 * (tok * rows + r0), matvecX8(t, mem.subarray(w + r0 * rb), mem.subarray(x + tok * xb, x + (tok + 1) * xb), cols, 0, r1 - r0));
      }
    };
  }
  return out;
}

/** Every matmul export (except `_start`) by name, computed by this reference (the `_x16` and `_x8*` ones and ./matmul-types.ts's included). */
export const MATMUL_REFERENCE: Readonly<Record<string, ReferenceExport>> = { ...referenceExports(), ...referenceExportsX16(), ...referenceExportsX8(), ...MORE_MATMUL_REFERENCE };
