// The ggml tensor types: one table of traits (name, block size, bytes per block, reference
// dequantizer), like ggml's type_traits. Everything that asks "how big is a Q4_K row" or
// "how do I turn these blocks into floats" asks this table; nothing else switches on types.
//
// Block layouts follow ggml-common.h exactly (all little-endian, f16 = IEEE half):
//   block_q4_0 { f16 d; u8 qs[16] }                      x = (nibble - 8) * d
//   block_q4_1 { f16 d; f16 m; u8 qs[16] }               x = nibble * d + m
//   block_q5_0 { f16 d; u8 qh[4]; u8 qs[16] }            x = ((nibble | hibit << 4) - 16) * d
//   block_q5_1 { f16 d; f16 m; u8 qh[4]; u8 qs[16] }     x = (nibble | hibit << 4) * d + m
//   block_q8_0 { f16 d; i8 qs[32] }                      x = q * d
//   block_q2_K { u8 scales[16]; u8 qs[64]; f16 d; f16 dmin }
//   block_q3_K { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d }
//   block_q4_K { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }
//   block_q5_K { f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] }
//   block_q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }
// In a nibble-packed 32-value group, the low nibbles hold the first 16 values and the high
// nibbles the next 16. The dequantizers do their f32 arithmetic in the same order as ggml's
// reference C (each product and difference rounded to f32), so their results are bit-exact.

/** ggml's type ids (enum ggml_type), as stored in GGUF tensor infos. */
export enum GGMLType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  // 4, 5: Q4_2, Q4_3, removed from ggml
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  // 31..33: Q4_0_4_4, Q4_0_4_8, Q4_0_8_8, removed (ggml repacks Q4_0 at load time instead)
  TQ1_0 = 34,
  TQ2_0 = 35,
  // 36..38: IQ4_NL_4_4, IQ4_NL_4_8, IQ4_NL_8_8, removed likewise
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
  Q2_0 = 42,
}

/** Turns `nElements` values (a whole number of blocks) of `src` into floats in `dst[0..nElements)`. */
export type Dequantizer = (src: Uint8Array, dst: Float32Array, nElements: number) => void;

export interface TypeTraits {
  type: GGMLType;
  /** ggml's type_name, e.g. 'q4_K'. */
  name: string;
  /** Values per block. */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
  /** Reference dequantizer, where wisp has one. */
  dequantize?: Dequantizer;
}

const QK_K = 256;

// ---------------------------------------------------------------------------------------------
// f16 and bf16 conversions

// Reinterpret f32 <-> u32 through one shared scratch word.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

function f32Bits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0];
}

function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf / NaN, payload kept
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // normal: rebias 15 -> 127
  if (mant === 0) return sign >>> 0; // +-0
  // Subnormal half: mant * 2^-24 is a normal f32; shift the leading 1 up to bit 10.
  let e = 113; // f32 exponent field of 2^-14
  let m = mant;
  while ((m & 0x400) === 0) {
    m <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

// All 65536 halves as f32 bit patterns (256 KB), built on first use: the dequantizers read
// their scales through it, and F16 rows copy through it bit for bit (NaN payloads included).
let f16Table: Uint32Array | undefined;
let f16TableF32: Float32Array | undefined;

function halfTable(): Float32Array {
  if (!f16TableF32) {
    f16Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32Bits(h);
    f16TableF32 = new Float32Array(f16Table.buffer);
  }
  return f16TableF32;
}

function halfBitsTable(): Uint32Array {
  halfTable();
  return f16Table!;
}

/** The value of an IEEE half given as its 16 bits. */
export function f16ToF32(bits: number): number {
  return halfTable()[bits & 0xffff];
}

/**
 * The IEEE half nearest to x (round to nearest, ties to even; overflow gives infinity), as
 * 16 bits, like ggml's GGML_FP32_TO_FP16. x is first rounded to f32, as in C. NaN gives a
 * quiet NaN (0x7e00) with x's sign.
 */
export function f32ToF16(x: number): number {
  const u = f32Bits(x);
  const sign = (u >>> 16) & 0x8000;
  const abs = u & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00;
  if (abs === 0x7f800000) return sign | 0x7c00;
  const exp = (abs >>> 23) - 127 + 15; // half exponent field, before range checks
  const mant = abs & 0x7fffff;
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    // Subnormal (or zero) half: shift the 24-bit significand right and round.
    const shift = 14 - exp; // 14 for exp 0 ... ; past 24 everything rounds to zero
    if (shift > 24) return sign;
    const m = mant | 0x800000;
    return sign | roundShift(m, shift);
  }
  // Normal half; a carry out of the mantissa correctly bumps the exponent (up to infinity).
  return sign | (((exp << 10) | (mant >>> 13)) + roundBit(mant, 13, (mant >>> 13) & 1));
}

/** m >> shift, rounded to nearest, ties to even. */
function roundShift(m: number, shift: number): number {
  const q = m >>> shift;
  return q + roundBit(m, shift, q & 1);
}

/** 1 if the `shift` bits dropped from m round the kept part up (nearest, ties to even), else 0. */
function roundBit(m: number, shift: number, keptLsb: number): number {
  const rem = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rem > half || (rem === half && keptLsb === 1) ? 1 : 0;
}

/** The value of a bfloat16 given as its 16 bits. */
export function bf16ToF32(bits: number): number {
  scratchU32[0] = (bits & 0xffff) << 16;
  return scratchF32[0];
}

/**
 * x as bfloat16 bits, as ggml's GGML_FP32_TO_BF16 does it: round to nearest even, and a NaN
 * keeps its sign and top payload bits with the quiet bit forced on.
 */
export function f32ToBf16(x: number): number {
  const u = f32Bits(x);
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 64;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff; // the carry may reach infinity: correct
}

// ---------------------------------------------------------------------------------------------
// Reference dequantizers

/** Checks the sizes every dequantizer relies on, so a bad call fails with a sentence, not garbage. */
function checkDequantArgs(name: string, blockSize: number, typeSize: number, src: Uint8Array, dst: Float32Array, n: number): number {
  if (!Number.isInteger(n) || n < 0 || n % blockSize !== 0) {
    throw new Error(`dequantize ${name}: ${n} elements is not a whole number of ${blockSize}-value blocks`);
  }
  const nBlocks = n / blockSize;
  if (src.length < nBlocks * typeSize) {
    throw new Error(`dequantize ${name}: ${n} elements need ${nBlocks * typeSize} bytes, the source has ${src.length}`);
  }
  if (dst.length < n) throw new Error(`dequantize ${name}: the destination holds ${dst.length} floats, ${n} needed`);
  return nBlocks;
}

function u16At(src: Uint8Array, i: number): number {
  return src[i] | (src[i + 1] << 8);
}

/** The f16 at byte i of src, as a number (exactly representable in f32). */
function halfAt(table: Float32Array, src: Uint8Array, i: number): number {
  return table[src[i] | (src[i + 1] << 8)];
}

const fround = Math.fround;

function dequantizeF32(src: Uint8Array, dst: Float32Array, n: number): void {
  checkDequantArgs('f32', 1, 4, src, dst, n);
  new Uint8Array(dst.buffer, dst.byteOffset, n * 4).set(src.subarray(0, n * 4));
}

function dequantizeF16(src: Uint8Array, dst: Float32Array, n: number): void {
  checkDequantArgs('f16', 1, 2, src, dst, n);
  const bits = halfBitsTable();
  const out = new Uint32Array(dst.buffer, dst.byteOffset, n);
  for (let i = 0; i < n; i++) out[i] = bits[u16At(src, 2 * i)];
}

function dequantizeBF16(src: Uint8Array, dst: Float32Array, n: number): void {
  checkDequantArgs('bf16', 1, 2, src, dst, n);
  const out = new Uint32Array(dst.buffer, dst.byteOffset, n);
  for (let i = 0; i < n; i++) out[i] = u16At(src, 2 * i) << 16;
}

function dequantizeQ4_0(src: Uint8Array, dst: Float32Array, n: number): void {
  const nb = checkDequantArgs('q4_0', 32, 18, src, dst, n);
  const h = halfTable();
  for (let b = 0; b < nb; b++) {
    const p = b * 18;
    const d = halfAt(h, src, p);
    const y = b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[p + 2 + j];
      dst[y + j] = ((q & 0xf) - 8) * d;
      dst[y + j + 16] = ((q >> 4) - 8) * d;
    }
  }
}

function dequantizeQ4_1(src: Uint8Array, dst: Float32Array, n: number): void {
  const nb = checkDequantArgs('q4_1', 32, 20, src, dst, n);
  const h = halfTable();
  for (let b = 0; b < nb; b++) {
    const p = b * 20;
    const d = halfAt(h, src, p);
    const m = halfAt(h, src, p + 2);
    const y = b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[p + 4 + j];
      dst[y + j] = fround((q & 0xf) * d) + m;
      dst[y + j + 16] = fround((q >> 4) * d) + m;
    }
  }
}

/** A little-endian u32 (a Q5 block's fifth bits: bit j belongs to value j). */
function u32At(src: Uint8Array, i: number): number {
  return (src[i] | (src[i + 1] << 8) | (src[i + 2] << 16) | (src[i + 3] << 24)) >>> 0;
}

function dequantizeQ5_0(src: Uint8Array, dst: Float32Array, n: number): void {
  const nb = checkDequantArgs('q5_0', 32, 22, src, dst, n);
  const h = halfTable();
  for (let b = 0; b < nb; b++) {
    const p = b * 22;
    const d = halfAt(h, src, p);
    const qh = u32At(src, p + 2);
    const y = b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[p + 6 + j];
      const lo = (q & 0xf) | (((qh >>> j) & 1) << 4);
      const hi = (q >> 4) | (((qh >>> (j + 16)) & 1) << 4);
      dst[y + j] = (lo - 16) * d;
      dst[y + j + 16] = (hi - 16) * d;
    }
  }
}

function dequantizeQ5_1(src: Uint8Array, dst: Float32Array, n: number): void {
  const nb = checkDequantArgs('q5_1', 32, 24, src, dst, n);
  const h = halfTable();
  for (let b = 0; b < nb; b++) {
    const p = b * 24;
    const d = halfAt(h, src, p);
    const m = halfAt(h, src, p + 2);
    const qh = u32At(src, p + 4);
    const y = b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[p + 8 + j];
      const lo = (q & 0xf) | (((qh >>> j) & 1) << 4);
      const hi = (q >> 4) | (((qh >>> (j + 16)) & 1) << 4);
      dst[y + j] = fround(lo * d) + m;
      dst[y + j + 16] = fround(hi * d) + m;
    }
  }
}

function dequantizeQ8_0(src: Uint8Array, dst: Float32Array, n: number): void {
  const nb = checkDequantArgs('q8_0', 32, 34, src, dst, n);
  const h = halfTable();
  for (let b = 0; b < nb; b++) {
    const p = b * 34;
    const d = halfAt(h, src, p);
    const y = b * 32;
    for (let j = 0; j < 32; j++) dst[y + j] = ((src[p + 2 + j] << 24) >> 24) * d; // i8
  }
}

function dequantizeQ2_K(src: Uint8Array, dst: Float32Array, n: number): void {
  const nb = checkDequantArgs('q2_K', QK_K, 84, src, dst, n);
  const h = halfTable();
  for (let b = 0; b < nb; b++) {
    const p = b * 84; // scales at p, qs at p + 16, d at p + 80, dmin at p + 82
    const d = halfAt(h, src, p + 80);
    const dmin = halfAt(h, src, p + 82);
    let y = b * QK_K;
    let is = 0;
    // Each 128-value half reads 32 bytes of qs four times, two bits at a time; each
    // 16-value group has its own 4-bit scale and 4-bit min.
    for (let half = 0; half < 2; half++) {
      const qs = p + 16 + half * 32;
      for (let shift = 0; shift < 8; shift += 2) {
        for (let g = 0; g < 2; g++) {
          const sc = src[p + is++];
          const dl = fround(d * (sc & 0xf));
          const ml = fround(dmin * (sc >> 4));
          for (let l = 0; l < 16; l++) dst[y++] = fround(dl * ((src[qs + g * 16 + l] >> shift) & 3)) - ml;
        }
      }
    }
  }
}

/** The 16 signed 6-bit scales of a q3_K block (bytes at s..s+12), already minus 32. */
function q3KScales(src: Uint8Array, s: number, out: Int8Array): void {
  for (let i = 0; i < 16; i++) {
    const low = i < 8 ? src[s + i] & 0xf : src[s + i - 8] >> 4;
    const high = (src[s + 8 + (i % 4)] >> (2 * Math.floor(i / 4))) & 3;
    out[i] = (low | (high << 4)) - 32;
  }
}

function dequantizeQ3_K(src: Uint8Array, dst: Float32Array, n: number): void {
  const nb = checkDequantArgs('q3_K', QK_K, 110, src, dst, n);
  const h = halfTable();
  const scales = new Int8Array(16);
  for (let b = 0; b < nb; b++) {
    const p = b * 110; // hmask at p, qs at p + 32, scales at p + 96, d at p + 108
    const dAll = halfAt(h, src, p + 108);
    q3KScales(src, p + 96, scales);
    let y = b * QK_K;
    let is = 0;
    let mask = 1;
    for (let half = 0; half < 2; half++) {
      const qs = p + 32 + half * 32;
      for (let shift = 0; shift < 8; shift += 2) {
        for (let g = 0; g < 2; g++) {
          const dl = fround(dAll * scales[is++]);
          for (let l = 0; l < 16; l++) {
            const k = g * 16 + l;
            // The high bit is stored inverted: a clear hmask bit subtracts 4.
            const q = ((src[qs + k] >> shift) & 3) - ((src[p + k] & mask) !== 0 ? 0 : 4);
            dst[y++] = dl * q;
          }
        }
        mask <<= 1;
      }
    }
  }
}

/**
 * Scale and min j (0..7) of a q4_K/q5_K block: 6 bits each, packed into 12 bytes at s.
 * Bytes 0-3 hold scales 0-3 (low 6 bits), bytes 4-7 mins 0-3; for j >= 4 the low 4 bits come
 * from bytes 8-11 and the top 2 bits from the spare top bits of bytes 0-7.
 */
function scaleMinK4(src: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [src[s + j] & 63, src[s + j + 4] & 63];
  const sc = (src[s + j + 4] & 0xf) | ((src[s + j - 4] >> 6) << 4);
  const m = (src[s + j + 4] >> 4) | ((src[s + j] >> 6) << 4);
  return [sc, m];
}

function dequantizeQ4_K(src: Uint8Array, dst: Float32Array, n: number): void {
  const nb = checkDequantArgs('q4_K', QK_K, 144, src, dst, n);
  const h = halfTable();
  for (let b = 0; b < nb; b++) {
    const p = b * 144; // d at p, dmin at p + 2, scales at p + 4, qs at p + 16
    const d = halfAt(h, src, p);
    const dmin = halfAt(h, src, p + 2);
    let y = b * QK_K;
    // Four 64-value chunks; each reads 32 bytes, low nibbles then high nibbles, with its own scale/min.
    for (let chunk = 0; chunk < 4; chunk++) {
      const qs = p + 16 + chunk * 32;
      const [sc1, m1] = scaleMinK4(src, p + 4, 2 * chunk);
      const [sc2, m2] = scaleMinK4(src, p + 4, 2 * chunk + 1);
      const d1 = fround(d * sc1), min1 = fround(dmin * m1);
      const d2 = fround(d * sc2), min2 = fround(dmin * m2);
      for (let l = 0; l < 32; l++) dst[y++] = fround(d1 * (src[qs + l] & 0xf)) - min1;
      for (let l = 0; l < 32; l++) dst[y++] = fround(d2 * (src[qs + l] >> 4)) - min2;
    }
  }
}

function dequantizeQ5_K(src: Uint8Array, dst: Float32Array, n: number): void {
  const nb = checkDequantArgs('q5_K', QK_K, 176, src, dst, n);
  const h = halfTable();
  for (let b = 0; b < nb; b++) {
    const p = b * 176; // d at p, dmin at p + 2, scales at p + 4, qh at p + 16, qs at p + 48
    const d = halfAt(h, src, p);
    const dmin = halfAt(h, src, p + 2);
    let y = b * QK_K;
    for (let chunk = 0; chunk < 4; chunk++) {
      const qs = p + 48 + chunk * 32;
      const [sc1, m1] = scaleMinK4(src, p + 4, 2 * chunk);
      const [sc2, m2] = scaleMinK4(src, p + 4, 2 * chunk + 1);
      const d1 = fround(d * sc1), min1 = fround(dmin * m1);
      const d2 = fround(d * sc2), min2 = fround(dmin * m2);
      const bit1 = 1 << (2 * chunk), bit2 = 2 << (2 * chunk); // the fifth bit, in qh
      for (let l = 0; l < 32; l++) {
        const q = (src[qs + l] & 0xf) + ((src[p + 16 + l] & bit1) !== 0 ? 16 : 0);
        dst[y++] = fround(d1 * q) - min1;
      }
      for (let l = 0; l < 32; l++) {
        const q = (src[qs + l] >> 4) + ((src[p + 16 + l] & bit2) !== 0 ? 16 : 0);
        dst[y++] = fround(d2 * q) - min2;
      }
    }
  }
}

function dequantizeQ6_K(src: Uint8Array, dst: Float32Array, n: number): void {
  const nb = checkDequantArgs('q6_K', QK_K, 210, src, dst, n);
  const h = halfTable();
  for (let b = 0; b < nb; b++) {
    const p = b * 210; // ql at p, qh at p + 128, scales (i8) at p + 192, d at p + 208
    const d = halfAt(h, src, p + 208);
    // Two 128-value halves; each uses 64 bytes of ql (low 4 bits), 32 of qh (2 bits x 4)
    // and 8 scales, one per 16 values.
    for (let half = 0; half < 2; half++) {
      const ql = p + half * 64;
      const qh = p + 128 + half * 32;
      const sc = p + 192 + half * 8;
      const y = b * QK_K + half * 128;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const hb = src[qh + l];
        const q1 = ((src[ql + l] & 0xf) | ((hb & 3) << 4)) - 32;
        const q2 = ((src[ql + l + 32] & 0xf) | (((hb >> 2) & 3) << 4)) - 32;
        const q3 = ((src[ql + l] >> 4) | (((hb >> 4) & 3) << 4)) - 32;
        const q4 = ((src[ql + l + 32] >> 4) | (((hb >> 6) & 3) << 4)) - 32;
        dst[y + l] = fround(d * i8(src[sc + is])) * q1;
        dst[y + l + 32] = fround(d * i8(src[sc + is + 2])) * q2;
        dst[y + l + 64] = fround(d * i8(src[sc + is + 4])) * q3;
        dst[y + l + 96] = fround(d * i8(src[sc + is + 6])) * q4;
      }
    }
  }
}

function i8(byte: number): number {
  return (byte << 24) >> 24;
}

// ---------------------------------------------------------------------------------------------
// The table

function traits(type: GGMLType, name: string, blockSize: number, typeSize: number, dequantize?: Dequantizer): TypeTraits {
  return dequantize ? { type, name, blockSize, typeSize, dequantize } : { type, name, blockSize, typeSize };
}

/** Every ggml type, indexed by id. Sizes are ggml.c's type_traits (blck_size, type_size). */
export const TYPE_TRAITS: Readonly<Record<GGMLType, Readonly<TypeTraits>>> = {
  [GGMLType.F32]: traits(GGMLType.F32, 'f32', 1, 4, dequantizeF32),
  [GGMLType.F16]: traits(GGMLType.F16, 'f16', 1, 2, dequantizeF16),
  [GGMLType.Q4_0]: traits(GGMLType.Q4_0, 'q4_0', 32, 2 + 16, dequantizeQ4_0),
  [GGMLType.Q4_1]: traits(GGMLType.Q4_1, 'q4_1', 32, 2 + 2 + 16, dequantizeQ4_1),
  [GGMLType.Q5_0]: traits(GGMLType.Q5_0, 'q5_0', 32, 2 + 4 + 16, dequantizeQ5_0),
  [GGMLType.Q5_1]: traits(GGMLType.Q5_1, 'q5_1', 32, 2 + 2 + 4 + 16, dequantizeQ5_1),
  [GGMLType.Q8_0]: traits(GGMLType.Q8_0, 'q8_0', 32, 2 + 32, dequantizeQ8_0),
  // {f16 d; f16 s; i8 qs[32]}: an activation type, never dequantized by ggml either.
  [GGMLType.Q8_1]: traits(GGMLType.Q8_1, 'q8_1', 32, 2 + 2 + 32),
  [GGMLType.Q2_K]: traits(GGMLType.Q2_K, 'q2_K', QK_K, QK_K / 16 + QK_K / 4 + 2 + 2, dequantizeQ2_K),
  [GGMLType.Q3_K]: traits(GGMLType.Q3_K, 'q3_K', QK_K, QK_K / 8 + QK_K / 4 + 12 + 2, dequantizeQ3_K),
  [GGMLType.Q4_K]: traits(GGMLType.Q4_K, 'q4_K', QK_K, 2 + 2 + 12 + QK_K / 2, dequantizeQ4_K),
  [GGMLType.Q5_K]: traits(GGMLType.Q5_K, 'q5_K', QK_K, 2 + 2 + 12 + QK_K / 8 + QK_K / 2, dequantizeQ5_K),
  [GGMLType.Q6_K]: traits(GGMLType.Q6_K, 'q6_K', QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2, dequantizeQ6_K),
  // {f32 d; i8 qs[256]; i16 bsums[16]}: activation type for K-quant dot products.
  [GGMLType.Q8_K]: traits(GGMLType.Q8_K, 'q8_K', QK_K, 4 + QK_K + (QK_K / 16) * 2),
  [GGMLType.IQ2_XXS]: traits(GGMLType.IQ2_XXS, 'iq2_xxs', QK_K, 2 + QK_K / 4),
  [GGMLType.IQ2_XS]: traits(GGMLType.IQ2_XS, 'iq2_xs', QK_K, 2 + QK_K / 4 + QK_K / 32),
  [GGMLType.IQ3_XXS]: traits(GGMLType.IQ3_XXS, 'iq3_xxs', QK_K, 2 + (3 * QK_K) / 8),
  [GGMLType.IQ1_S]: traits(GGMLType.IQ1_S, 'iq1_s', QK_K, 2 + QK_K / 8 + QK_K / 16),
  [GGMLType.IQ4_NL]: traits(GGMLType.IQ4_NL, 'iq4_nl', 32, 2 + 16),
  [GGMLType.IQ3_S]: traits(GGMLType.IQ3_S, 'iq3_s', QK_K, 2 + QK_K / 4 + QK_K / 32 + QK_K / 8 + QK_K / 64),
  [GGMLType.IQ2_S]: traits(GGMLType.IQ2_S, 'iq2_s', QK_K, 2 + QK_K / 4 + QK_K / 16),
  [GGMLType.IQ4_XS]: traits(GGMLType.IQ4_XS, 'iq4_xs', QK_K, 2 + 2 + QK_K / 64 + QK_K / 2),
  [GGMLType.I8]: traits(GGMLType.I8, 'i8', 1, 1),
  [GGMLType.I16]: traits(GGMLType.I16, 'i16', 1, 2),
  [GGMLType.I32]: traits(GGMLType.I32, 'i32', 1, 4),
  [GGMLType.I64]: traits(GGMLType.I64, 'i64', 1, 8),
  [GGMLType.F64]: traits(GGMLType.F64, 'f64', 1, 8),
  [GGMLType.IQ1_M]: traits(GGMLType.IQ1_M, 'iq1_m', QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32),
  [GGMLType.BF16]: traits(GGMLType.BF16, 'bf16', 1, 2, dequantizeBF16),
  [GGMLType.TQ1_0]: traits(GGMLType.TQ1_0, 'tq1_0', QK_K, (QK_K - (4 * QK_K) / 64) / 5 + QK_K / 64 + 2),
  [GGMLType.TQ2_0]: traits(GGMLType.TQ2_0, 'tq2_0', QK_K, QK_K / 4 + 2),
  [GGMLType.MXFP4]: traits(GGMLType.MXFP4, 'mxfp4', 32, 1 + 16),
  [GGMLType.NVFP4]: traits(GGMLType.NVFP4, 'nvfp4', 64, 4 + 32),
  [GGMLType.Q1_0]: traits(GGMLType.Q1_0, 'q1_0', 128, 2 + 128 / 8),
  [GGMLType.Q2_0]: traits(GGMLType.Q2_0, 'q2_0', 64, 2 + 64 / 4),
};

/** Ids ggml once used and has removed (current ggml cannot read them either), with what replaced them. */
const REMOVED_TYPES: Readonly<Record<number, [string, string?]>> = {
  4: ['Q4_2'],
  5: ['Q4_3'],
  31: ['Q4_0_4_4', 'use Q4_0, which ggml repacks at load time'],
  32: ['Q4_0_4_8', 'use Q4_0, which ggml repacks at load time'],
  33: ['Q4_0_8_8', 'use Q4_0, which ggml repacks at load time'],
  36: ['IQ4_NL_4_4', 'use IQ4_NL, which ggml repacks at load time'],
  37: ['IQ4_NL_4_8', 'use IQ4_NL, which ggml repacks at load time'],
  38: ['IQ4_NL_8_8', 'use IQ4_NL, which ggml repacks at load time'],
};

/** True if `type` is a ggml type id this table knows. */
export function isGGMLType(type: number): type is GGMLType {
  return Number.isInteger(type) && Object.hasOwn(TYPE_TRAITS, type);
}

/** Why `type` is not a known id, as a sentence fragment: "unknown ggml type 99". */
export function unknownTypeReason(type: number): string {
  const removed = REMOVED_TYPES[type];
  if (!removed) return `unknown ggml type ${type}`;
  return `ggml type ${type} (${removed[0]}) was removed from ggml${removed[1] ? `; ${removed[1]}` : ''}`;
}

export function traitsOf(type: number): Readonly<TypeTraits> {
  if (!isGGMLType(type)) throw new Error(unknownTypeReason(type));
  return TYPE_TRAITS[type];
}

/** Bytes of `nElements` consecutive values (one row); nElements must be a whole number of blocks. */
export function rowBytes(type: GGMLType, nElements: number): number {
  const t = traitsOf(type);
  if (!Number.isSafeInteger(nElements) || nElements < 0) {
    throw new Error(`${t.name}: ${nElements} is not a valid element count`);
  }
  if (nElements % t.blockSize !== 0) {
    throw new Error(`${t.name}: a row of ${nElements} values is not a multiple of the block size ${t.blockSize}`);
  }
  return (nElements / t.blockSize) * t.typeSize;
}

/** Bytes of a whole tensor with dims [ne0, ne1, ...] (ne0 is the row length; [] is a scalar). */
export function tensorBytes(type: GGMLType, dims: readonly number[]): number {
  const row = rowBytes(type, dims.length > 0 ? dims[0] : 1);
  let total = row;
  for (let i = 1; i < dims.length; i++) {
    if (!Number.isSafeInteger(dims[i]) || dims[i] < 0) throw new Error(`dimension ${i} (${dims[i]}) is not a valid size`);
    total *= dims[i];
  }
  if (!Number.isSafeInteger(total)) throw new Error(`a ${traitsOf(type).name} tensor of dims [${dims.join(', ')}] is too large`);
  return total;
}

/** Dequantizes `nElements` values of `type` from src into a new Float32Array (or throws if wisp has no dequantizer). */
export function dequantize(type: GGMLType, src: Uint8Array, nElements: number): Float32Array {
  const t = traitsOf(type);
  if (!t.dequantize) throw new Error(`no dequantizer for ggml type ${t.name}`);
  const out = new Float32Array(nElements);
  t.dequantize(src, out, nElements);
  return out;
}
