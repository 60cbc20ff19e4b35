// The JS reference of the matmul exports for ggml's other weight formats — q4_1, q5_0, q5_1 (32-value
// blocks) and q2_K, q3_K, q5_K (256-value super-blocks) — and of quantize_q8_1, the activation
// quantizer q4_1 and q5_1 pair with. Each weight format is dotted with ggml's own 8-bit activation
// (its vec_dot_type): q5_0 with q8_0, q4_1 and q5_1 with q8_1, the K-quants with q8_K.
//
// Exact, bit for bit, with the kernels (asm/matmul/legacy.ts, asm/matmul/kquants_q2_q3_q5.ts): the
// integer block sums are exact in any order, and the float steps are fixed by the ABI
// (docs/KERNEL-ABI.md, "ggml's other weight formats"), done here in f32 in that order:
//   q5_0:        acc += f32(isum)·(dw·dx)                         isum = Σ (q − 16)·qx
//   q4_1, q5_1:  acc += f32(isum)·(dw·dx) + mw·sx                 isum = Σ q·qx
//   q2_K, q5_K:  acc += f32(isum)·(dx·d) − f32(msum)·(dx·dmin)    isum = Σ sc·Σ q·qx, msum = Σ m·bsum
//   q3_K:        acc += f32(isum)·(dx·d)                          isum = Σ sc·Σ q·qx (q in −4..3)
// acc starts at 0 and takes the blocks of a row in order; each product and sum rounds to f32.
import { GGMLType, dequantize, f16ToF32, rowBytes } from '../../model/ggml-types.js';
import { quantizeRowQ8_0 } from '../../model/quantize/q8_0.js';
import { quantizeRowQ8_1 } from '../../model/quantize/q8_1.js';
import { quantizeRowQ8_K } from '../../model/quantize/q8_k.js';

export type MoreWeightType = 'q4_1' | 'q5_0' | 'q5_1' | 'q2_K' | 'q3_K' | 'q5_K';
export const MORE_WEIGHT_TYPES: readonly MoreWeightType[] = ['q4_1', 'q5_0', 'q5_1', 'q2_K', 'q3_K', 'q5_K'];
type Activation = 'q8_0' | 'q8_1' | 'q8_K';

const TYPES: Readonly<Record<MoreWeightType | Activation, GGMLType>> = {
  q4_1: GGMLType.Q4_1,
  q5_0: GGMLType.Q5_0,
  q5_1: GGMLType.Q5_1,
  q2_K: GGMLType.Q2_K,
  q3_K: GGMLType.Q3_K,
  q5_K: GGMLType.Q5_K,
  q8_0: GGMLType.Q8_0,
  q8_1: GGMLType.Q8_1,
  q8_K: GGMLType.Q8_K,
};

/** The activation format weight format t is dotted with (ggml's vec_dot_type). */
export function moreActivation(t: MoreWeightType): Activation {
  return t === 'q5_0' ? 'q8_0' : t === 'q4_1' || t === 'q5_1' ? 'q8_1' : 'q8_K';
}

export function moreGgmlType(t: MoreWeightType | Activation): GGMLType {
  return TYPES[t];
}

/** Bytes of one weight row of `cols` values. */
export function moreWeightRowBytes(t: MoreWeightType, cols: number): number {
  return rowBytes(TYPES[t], cols);
}

/** Bytes of one activation row of `cols` values, in the format t is dotted with. */
export function moreActivationRowBytes(t: MoreWeightType, cols: number): number {
  return rowBytes(TYPES[moreActivation(t)], cols);
}

/** quantize_q8_1: ggml's quantize_row_q8_1_ref (q8_0's d and qs, then s = d·Σ qs). */
export function quantizeQ8_1(x: Float32Array, out: Uint8Array): void {
  quantizeRowQ8_1(x, out);
}

/** quantize_q8_0e (q5_0r4's activations): quantize_q8_0's d and qs as blocks { f16 d; i16 e = Σ qs; i8 qs[32] }. */
export function quantizeQ8_0e(x: Float32Array, out: Uint8Array): void {
  const q = new Uint8Array(rowBytes(GGMLType.Q8_0, x.length));
  quantizeRowQ8_0(x, q);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0; b < x.length / 32; b++) {
    out.set(q.subarray(34 * b, 34 * b + 2), 36 * b);
    out.set(q.subarray(34 * b + 2, 34 * b + 34), 36 * b + 4);
    let e = 0;
    for (let i = 0; i < 32; i++) e += (q[34 * b + 2 + i] << 24) >> 24;
    dv.setInt16(36 * b + 2, e, true);
  }
}

/** Where value v of a q8_K block's qs sits in q8_Kp's: pair m = v / 32, byte 32m + 4j + e (values 2j, 2j + 1 of group 2m at e = 0, 1, of group 2m + 1 at e = 2, 3). */
export function q8KpIndex(v: number): number {
  const m = v >> 5, g = (v >> 4) & 1, j = (v & 15) >> 1;
  return 32 * m + 4 * j + 2 * g + (v & 1);
}

/** q8_K blocks (292 bytes each) as q8_Kp: the same d and bsums, qs permuted by q8KpIndex. */
export function q8KToQ8Kp(q: Uint8Array): Uint8Array {
  const out = q.slice();
  for (let b = 0; b < q.length; b += 292) for (let v = 0; v < 256; v++) out[b + 4 + q8KpIndex(v)] = q[b + 4 + v];
  return out;
}

/** quantize_q8_Kp (q2_Kr4's activations): quantize_q8_K's blocks with each pair of groups' qs interleaved two values at a time. */
export function quantizeQ8_Kp(x: Float32Array, out: Uint8Array): void {
  const q = new Uint8Array(rowBytes(GGMLType.Q8_K, x.length));
  quantizeRowQ8_K(x, q);
  out.set(q8KToQ8Kp(q));
}

/** The activation bytes the kernels read for weight format t. */
export function quantizeMoreActivation(t: MoreWeightType, x: Float32Array): Uint8Array {
  const a = moreActivation(t);
  const out = new Uint8Array(rowBytes(TYPES[a], x.length));
  if (a === 'q8_0') quantizeRowQ8_0(x, out);
  else if (a === 'q8_1') quantizeRowQ8_1(x, out);
  else quantizeRowQ8_K(x, out);
  return out;
}

// ---- reading blocks ---------------------------------------------------------------------------

const f32 = Math.fround;

function i8(byte: number): number {
  return (byte << 24) >> 24;
}

function half(b: Uint8Array, i: number): number {
  return f16ToF32(b[i] | (b[i + 1] << 8));
}

function u32(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

function i16(b: Uint8Array, i: number): number {
  return ((b[i] | (b[i + 1] << 8)) << 16) >> 16;
}

function f32At(b: Uint8Array, i: number): number {
  return new DataView(b.buffer, b.byteOffset + i, 4).getFloat32(0, true);
}

/** The 5-bit value j (0..31) of a q5_0 / q5_1 block whose qh is at `qh` and qs at `qs`. */
function q5Value(b: Uint8Array, qh: number, qs: number, j: number): number {
  const nibble = j < 16 ? b[qs + j] & 0xf : b[qs + j - 16] >> 4;
  return nibble | (((u32(b, qh) >>> j) & 1) << 4);
}

/** Value j (0..255) of a q2_K block at p: 2 bits, laid out per 128-value half as four shifts of 32 bytes. */
export function q2KValue(b: Uint8Array, p: number, j: number): number {
  const h = j >> 7, k = (j >> 5) & 3, l = j & 31;
  return (b[p + 16 + 32 * h + l] >> (2 * k)) & 3;
}

/** Value j (0..255) of a q3_K block at p: q2_K's two low bits (qs at 32), minus 4 unless bit j/32 of hmask[j % 32] is set. */
export function q3KValue(b: Uint8Array, p: number, j: number): number {
  const h = j >> 7, k = (j >> 5) & 3, l = j & 31;
  const low = (b[p + 32 + 32 * h + l] >> (2 * k)) & 3;
  return low - ((b[p + l] >> (j >> 5)) & 1 ? 0 : 4);
}

/** The signed scale g (0..15) of a q3_K block at p (scales at 96: 6 bits, stored + 32). */
export function q3KScale(b: Uint8Array, p: number, g: number): number {
  const s = p + 96;
  const low = g < 8 ? b[s + g] & 0xf : b[s + g - 8] >> 4;
  return (low | (((b[s + 8 + (g % 4)] >> (2 * (g >> 2))) & 3) << 4)) - 32;
}

/** Scale and min j (0..7) of a q4_K / q5_K block whose 12 scale bytes are at s (ggml's get_scale_min_k4). */
function scaleMinK4(b: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [b[s + j] & 63, b[s + j + 4] & 63];
  return [(b[s + j + 4] & 0xf) | ((b[s + j - 4] >> 6) << 4), (b[s + j + 4] >> 4) | ((b[s + j] >> 6) << 4)];
}

/** Value j (0..255) of a q5_K block at p: sub-block j/32's nibble (q4_K's layout, qs at 48) and bit j/32 of qh[j % 32]. */
export function q5KValue(b: Uint8Array, p: number, j: number): number {
  const sub = j >> 5, l = j & 31;
  const byte = b[p + 48 + 32 * (sub >> 1) + l];
  const nibble = sub & 1 ? byte >> 4 : byte & 0xf;
  return nibble | (((b[p + 16 + l] >> sub) & 1) << 4);
}

// ---- one dot product per weight format -----------------------------------------------------------

// q8_0 { f16 d; i8 qs[32] }, q8_1 { f16 d; f16 s; i8 qs[32] }, q8_K { f32 d; i8 qs[256]; i16 bsums[16] }
const Q8_0_BYTES = 34;
const Q8_1_BYTES = 36;
const Q8_K_BYTES = 292;

function dotQ5_0(w: Uint8Array, x: Uint8Array, cols: number): number {
  let acc = 0;
  for (let b = 0; b < cols / 32; b++) {
    const pw = 22 * b, px = Q8_0_BYTES * b;
    let isum = 0;
    for (let j = 0; j < 32; j++) isum += (q5Value(w, pw + 2, pw + 6, j) - 16) * i8(x[px + 2 + j]);
    acc = f32(acc + f32(isum * f32(half(w, pw) * half(x, px))));
  }
  return acc;
}

/** q4_1 (5 bits: false) or q5_1 (true) · q8_1. */
function dotQx_1(five: boolean, w: Uint8Array, x: Uint8Array, cols: number): number {
  const wb = five ? 24 : 20;
  let acc = 0;
  for (let b = 0; b < cols / 32; b++) {
    const pw = wb * b, px = Q8_1_BYTES * b;
    let isum = 0;
    for (let j = 0; j < 32; j++) {
      const q = five ? q5Value(w, pw + 4, pw + 8, j) : j < 16 ? w[pw + 4 + j] & 0xf : w[pw + 4 + j - 16] >> 4;
      isum += q * i8(x[px + 4 + j]);
    }
    const t = f32(isum * f32(half(w, pw) * half(x, px)));
    const u = f32(half(w, pw + 2) * half(x, px + 2));
    acc = f32(acc + f32(t + u));
  }
  return acc;
}

function dotQ2_K(w: Uint8Array, x: Uint8Array, cols: number): number {
  let acc = 0;
  for (let b = 0; b < cols / 256; b++) {
    const pw = 84 * b, px = Q8_K_BYTES * b;
    let isum = 0, msum = 0;
    for (let g = 0; g < 16; g++) {
      let s = 0;
      for (let j = 16 * g; j < 16 * g + 16; j++) s += q2KValue(w, pw, j) * i8(x[px + 4 + j]);
      isum += (w[pw + g] & 0xf) * s;
      msum += (w[pw + g] >> 4) * i16(x, px + 260 + 2 * g);
    }
    const dx = f32At(x, px);
    const t = f32(isum * f32(dx * half(w, pw + 80)));
    const u = f32(msum * f32(dx * half(w, pw + 82)));
    acc = f32(acc + f32(t - u));
  }
  return acc;
}

function dotQ3_K(w: Uint8Array, x: Uint8Array, cols: number): number {
  let acc = 0;
  for (let b = 0; b < cols / 256; b++) {
    const pw = 110 * b, px = Q8_K_BYTES * b;
    let isum = 0;
    for (let g = 0; g < 16; g++) {
      let s = 0;
      for (let j = 16 * g; j < 16 * g + 16; j++) s += q3KValue(w, pw, j) * i8(x[px + 4 + j]);
      isum += q3KScale(w, pw, g) * s;
    }
    acc = f32(acc + f32(isum * f32(f32At(x, px) * half(w, pw + 108))));
  }
  return acc;
}

function dotQ5_K(w: Uint8Array, x: Uint8Array, cols: number): number {
  let acc = 0;
  for (let b = 0; b < cols / 256; b++) {
    const pw = 176 * b, px = Q8_K_BYTES * b;
    let isum = 0, msum = 0;
    for (let j = 0; j < 8; j++) {
      const [sc, m] = scaleMinK4(w, pw + 4, j);
      let s = 0;
      for (let l = 32 * j; l < 32 * j + 32; l++) s += q5KValue(w, pw, l) * i8(x[px + 4 + l]);
      isum += sc * s;
      msum += m * (i16(x, px + 260 + 4 * j) + i16(x, px + 262 + 4 * j));
    }
    const dx = f32At(x, px);
    const t = f32(isum * f32(dx * half(w, pw)));
    const u = f32(msum * f32(dx * half(w, pw + 2)));
    acc = f32(acc + f32(t - u));
  }
  return acc;
}

const DOT: Readonly<Record<MoreWeightType, (w: Uint8Array, x: Uint8Array, cols: number) => number>> = {
  q4_1: (w, x, cols) => dotQx_1(false, w, x, cols),
  q5_0: dotQ5_0,
  q5_1: (w, x, cols) => dotQx_1(true, w, x, cols),
  q2_K: dotQ2_K,
  q3_K: dotQ3_K,
  q5_K: dotQ5_K,
};

/** One weight row · one activation row (bytes as the kernels read them): the kernels' f32 result. */
export function moreDot(t: MoreWeightType, wRow: Uint8Array, xRow: Uint8Array, cols: number): number {
  return DOT[t](wRow, xRow, cols);
}

/** matvec_<t>: y[r − r0] = row r of w · x for r in [r0, r1). */
export function moreMatvec(t: MoreWeightType, w: Uint8Array, x: Uint8Array, cols: number, r0: number, r1: number): Float32Array {
  const rb = moreWeightRowBytes(t, cols);
  const y = new Float32Array(r1 - r0);
  for (let r = r0; r < r1; r++) y[r - r0] = DOT[t](w.subarray(r * rb, (r + 1) * rb), x, cols);
  return y;
}

/** get_row_<t>: row `row` of w as floats, by ggml's dequantizer (bit-exact). */
export function moreGetRow(t: MoreWeightType, w: Uint8Array, cols: number, row: number): Float32Array {
  const rb = moreWeightRowBytes(t, cols);
  return dequantize(TYPES[t], w.subarray(row * rb, (row + 1) * rb), cols);
}

// ---- the exports, over one memory, with the kernels' signatures -------------------------------

/** A matmul export run by the reference on a memory (its buffer as bytes), with the kernel's arguments. */
type ReferenceExport = (mem: Uint8Array, ...args: number[]) => void;

function f32View(mem: Uint8Array, ptr: number, n: number): Float32Array {
  return new Float32Array(mem.buffer.slice(mem.byteOffset + ptr, mem.byteOffset + ptr + 4 * n) as ArrayBuffer);
}

function writeF32(mem: Uint8Array, ptr: number, values: ArrayLike<number>): void {
  const dv = new DataView(mem.buffer, mem.byteOffset);
  for (let i = 0; i < values.length; i++) dv.setFloat32(ptr + 4 * i, values[i], true);
}

function referenceExports(): Record<string, ReferenceExport> {
  const out: Record<string, ReferenceExport> = {
    quantize_q8_1: (mem, x, o, n) => {
      const q = new Uint8Array(rowBytes(GGMLType.Q8_1, n));
      quantizeQ8_1(f32View(mem, x, n), q);
      mem.set(q, o);
    },
    quantize_q8_0e: (mem, x, o, n) => {
      const q = new Uint8Array((n / 32) * 36);
      quantizeQ8_0e(f32View(mem, x, n), q);
      mem.set(q, o);
    },
    quantize_q8_Kp: (mem, x, o, n) => {
      const q = new Uint8Array(rowBytes(GGMLType.Q8_K, n));
      quantizeQ8_Kp(f32View(mem, x, n), q);
      mem.set(q, o);
    },
  };
  for (const t of MORE_WEIGHT_TYPES) {
    out[`matvec_${t}`] = (mem, w, x, y, cols, r0, r1) => {
      const rb = moreWeightRowBytes(t, cols);
      const xRow = mem.subarray(x, x + moreActivationRowBytes(t, cols));
      writeF32(mem, y + 4 * r0, moreMatvec(t, mem.subarray(w + r0 * rb), xRow, cols, 0, r1 - r0));
    };
    out[`matmul_${t}`] = (mem, w, x, y, cols, rows, nTok, r0, r1) => {
      const rb = moreWeightRowBytes(t, cols), xb = moreActivationRowBytes(t, cols);
      for (let tok = 0; tok < nTok; tok++) {
        const xRow = mem.subarray(x + tok * xb, x + (tok + 1) * xb);
        writeF32(mem, y + 4 * (tok * rows + r0), moreMatvec(t, mem.subarray(w + r0 * rb), xRow, cols, 0, r1 - r0));
      }
    };
    out[`get_row_${t}`] = (mem, w, o, cols, row) => {
      const rb = moreWeightRowBytes(t, cols);
      writeF32(mem, o, moreGetRow(t, mem.subarray(w + row * rb, w + (row + 1) * rb), cols, 0));
    };
  }
  return out;
}

/** The exports of ggml's other weight formats (and quantize_q8_1, quantize_q8_0e, quantize_q8_Kp) by name, computed by this reference. */
export const MORE_MATMUL_REFERENCE: Readonly<Record<string, ReferenceExport>> = referenceExports();
