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

/**
 * A C float-to-int conversion as x86-64 does it (cvttss2si): toward zero; NaN and values outside the
 * int32 range give INT32_MIN. Narrower integer types keep the low bits of that.
 */
export function cvtt(x: number): number {
  return x > -2147483649 && x < 2147483648 ? Math.trunc(x) : -2147483648;
}

/** A C float-to-int8_t conversion as x86-64 does it: truncate toward zero, keep the low byte, signed. */
export function truncToInt8(x: number): number {
  return (cvtt(x) << 24) >> 24;
}

/** A C float-to-uint8_t conversion as x86-64 does it: truncate toward zero, keep the low byte. */
export function truncToUint8(x: number): number {
  return cvtt(x) & 0xff;
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

/** Stores v little-endian at dst[off..off+4). */
export function putU32(dst: Uint8Array, off: number, v: number): void {
  dst[off] = v & 0xff;
  dst[off + 1] = (v >>> 8) & 0xff;
  dst[off + 2] = (v >>> 16) & 0xff;
  dst[off + 3] = (v >>> 24) & 0xff;
}

/**
 * The value of largest magnitude among x[off .. off+n), sign kept (the first such; 0 for none), as
 * ggml's quantizers find it (q4_0, q5_0, the K-quants' groups and scales, q8_K). NaNs are passed over.
 */
export function signedMax(x: Float32Array, off: number, n: number): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < n; j++) {
    const v = x[off + j];
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

/** [min, max] of x[off .. off+n) as ggml's q4_1/q5_1 find them (from ±FLT_MAX, so NaNs are skipped). */
export function blockMinMax(x: Float32Array, off: number, n: number): [number, number] {
  let min = FLT_MAX;
  let max = -FLT_MAX;
  for (let j = 0; j < n; j++) {
    const v = x[off + j];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

const FLT_MAX = f32(3.4028234663852886e38);

/** ggml's GROUP_MAX_EPS (1e-15f): below this a group counts as all zeros. */
export const GROUP_MAX_EPS = f32(1e-15);

/** l clamped to the symmetric K-quant levels -nmax..nmax-1. */
export function clampLevel(l: number, nmax: number): number {
  return l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
}

/** ggml's nearest_int(iscale * v) clamped to -nmax..nmax-1 (make_qx_quants, make_q3_quants). */
export function symmetricLevel(iscale: number, v: number, nmax: number): number {
  return clampLevel(nearestInt(f32(iscale * v)), nmax);
}

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
