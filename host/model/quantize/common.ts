// Arithmetic shared by the reference quantizers. ggml's quantizers compute in f32 (SSE on
// x86-64, no FMA contraction), so every product, sum and quotient here goes through `f32`
// (Math.fround) exactly where C rounds a float; a double result of one f32 operation on two
// f32 operands, rounded once to f32, equals the f32 operation itself.

export const f32 = Math.fround;

const scratchF32 = new Float32Array(1);
const scratchI32 = new Int32Array(scratchF32.buffer);

const MAGIC = 12582912; // 1.5 * 2^23: adding it leaves round(x) in the low mantissa bits

/**
 * ggml's nearest_int: adds 1.5 * 2^23 in f32 and reads the integer back from the mantissa
 * bits. For |x| <= 2^22 - 1 that is round-half-to-even; beyond it (ggml only asserts in debug
 * builds) the same bit trick is reproduced, so out-of-range inputs give ggml's garbage too.
 */
export function nearestInt(x: number): number {
  const v = f32(x + MAGIC);
  if (v >= 8388608 && v < 16777216) return v - MAGIC; // exponent 23: v is an integer, the common case
  scratchF32[0] = v;
  return (scratchI32[0] & 0x007fffff) - 0x00400000;
}

/** C's roundf: to nearest, halves away from zero (x is an f32 value, so x + 0.5 is exact in double). */
export function roundAway(x: number): number {
  return x >= 0 ? Math.floor(x + 0.5) : -Math.floor(0.5 - x);
}

/** A C float-to-int8_t conversion as x86-64 does it: truncate toward zero, keep the low byte, signed. */
export function truncToInt8(x: number): number {
  return (Math.trunc(x) << 24) >> 24;
}

/** Sign-extends a byte. */
export function i8(byte: number): number {
  return (byte << 24) >> 24;
}

/** Stores the low 16 bits of v little-endian at dst[off]. */
export function putU16(dst: Uint8Array, off: number, v: number): void {
  dst[off] = v & 0xff;
  dst[off + 1] = (v >>> 8) & 0xff;
}

/** ggml's GROUP_MAX_EPS (1e-15f): below this a group counts as all zeros. */
export const GROUP_MAX_EPS = f32(1e-15);

/** Throws unless n values fill whole blocks and dst has exactly the bytes they need. */
export function checkRow(name: string, blockSize: number, typeSize: number, n: number, dst: Uint8Array): number {
  if (n % blockSize !== 0) {
    throw new Error(`quantize ${name}: ${n} values are not a whole number of ${blockSize}-value blocks`);
  }
  const nb = n / blockSize;
  if (dst.length !== nb * typeSize) {
    throw new Error(`quantize ${name}: ${n} values need ${nb * typeSize} bytes, the destination has ${dst.length}`);
  }
  return nb;
}
