// `_start`: the matmul module's self-test, run standalone (node:wasi, wasmtime, jco). Never used by a
// kernel. Inputs are deterministic (xorshift32, mirrored by scripts/golden/matmul_selftest_goldens.mjs),
// and every export is checked two ways:
//  - against goldens the JS reference (host/kernels/reference/matmul.ts) computed on the same inputs:
//    FNV-1a hashes of the bytes/float bits that must be exact (quantize_*, get_row_*) and the f32
//    results of matvec for each token (matvec_*, matmul_*: within 1e-5 of the largest);
//  - against plain scalar code in this file: dequantize everything (weights and activations) value by
//    value and dot in f64 (matvec_*, matmul_*: within 1e-5), and consistency checks (matmul equals
//    per-token matvec bit for bit; a row range split equals one call; get_row of a row equals the
//    scalar dequantizer).
// The 16-bit-activation exports (quantize_q16_*, *_x16) are checked the same two ways (goldens and
// scalar code), minus get_row (they have none); so are the 8-bit ones in wide layouts (quantize_q8_0w,
// quantize_q8_0s, *_x8w, *_x8s), which must also equal the plain q8_0 / q4_0 kernels on the same values
// bit for bit (and q4_0r8_x8s equal q4_0_x8s).
import { check, ensureMemory, finish, print, SELFTEST_BASE } from '../lib/selftest';
import { f16_to_f32, f32_to_f16 } from '../lib/f16';
import {
  get_row_f16, get_row_f32, get_row_q4_0, get_row_q4_K, get_row_q6_K, get_row_q8_0,
  matmul_f16, matmul_f16f, matmul_f32, matmul_q4_0, matmul_q4_0_x16, matmul_q4_0r8_x16s, matmul_q4_K, matmul_q4_K_x16,
  matmul_q4_Kr4, matmul_q4_Kr4_x16, matmul_q6_K, matmul_q6_K_x16, matmul_q8_0, matmul_q8_0_x16,
  matvec_f16, matvec_f16f, matvec_f32, matvec_q4_0, matvec_q4_0_x16, matvec_q4_0r8_x16s, matvec_q4_K, matvec_q4_K_x16,
  matvec_q4_Kr4, matvec_q4_Kr4_x16, matvec_q6_K, matvec_q6_K_x16, matvec_q8_0, matvec_q8_0_x16,
  quantize_q16_0, quantize_q16_0s, quantize_q16_K, quantize_q8_0, quantize_q8_K, repack_q4_0_r8, repack_q4_K_r4,
  get_row_q6_Kr4, matmul_q6_Kr4, matvec_q6_Kr4, repack_q6_K_r4,
  matmul_q4_0_x8s, matmul_q4_0r8_x8s, matmul_q8_0_x8w, matvec_q4_0_x8s, matvec_q4_0r8_x8s, matvec_q8_0_x8w, quantize_q8_0s, quantize_q8_0w,
} from './flavour';
import {
  Q16_0_BLOCK, Q16_0_BYTES, Q16_0_Q, Q16_0S_BYTES, Q16_0S_SUM, Q16_K_BLOCK, Q16_K_BSUMS, Q16_K_BYTES, Q4_0_BLOCK, Q4_0_BYTES,
  Q4_0_QS, Q4_K_BLOCK, Q4_K_BYTES, Q4_K_DMIN, Q4_K_QS, Q4_K_SCALES, Q6_K_BLOCK, Q6_K_BYTES, Q6_K_D, Q6_K_QH, Q6_K_SCALES, Q8_0_BLOCK, Q8_0_BYTES,
  Q8_0_QS, Q8_K_BLOCK, Q8_K_BSUMS, Q8_K_BYTES, Q8_K_QS, Q8_0S_BYTES, Q8_0S_QR, Q8_0S_SUM, Q8_0W_BYTES, Q8_0W_Q,
} from '../lib/blocks';
import * as G from './goldens';
import { checkOtherFormats } from './selftest_formats';

// ---- problem shape and scratch layout --------------------------------------------------------

const ROWS: i32 = 7;
const NTOK: i32 = 5;

const X: usize = SELFTEST_BASE; // NTOK rows of f32 activations (≤ 512 cols)
const XQ: usize = X + 16384; // the same quantized (q8_0 / q8_K)
const W: usize = XQ + 8192; // weights
const Y: usize = W + 16384; // matvec results, NTOK × ROWS
const Y2: usize = Y + 1024; // matmul results
const Y3: usize = Y2 + 1024; // split / second runs
const DW: usize = Y3 + 1024; // dequantized weights, ROWS × cols f32
const DX: usize = DW + 16384; // dequantized activations, NTOK × cols f32
const TMP: usize = DX + 16384; // scratch
const END: usize = TMP + 16384;

// type ids, in the goldens' order
const T_F32 = 0, T_F16 = 1, T_Q8_0 = 2, T_Q4_0 = 3, T_Q4_K = 4, T_Q6_K = 5;

// ---- deterministic inputs (mirrored in JS) -----------------------------------------------------

@inline function xorshift(s: u32): u32 {
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s;
}

/** n floats (m − 2^23)·2^-23·scale, m the top 24 bits of successive states: uniform in [−scale, scale). */
function fillFloats(p: usize, n: i32, seed: u32, scale: f32): void {
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = xorshift(s);
    store<f32>(p + (<usize>i << 2), <f32>(<i32>(s >> 8) - 0x800000) * <f32>1.1920928955078125e-7 * scale);
  }
}

/** A finite half for a scale: sign random, exponent 2^-8..2^-7 (one in eight subnormal). */
@inline function scaleHalf(s: u32): u16 {
  if ((s & 7) == 0) return <u16>(s & 0x83ff);
  return <u16>(((s >> 16) & 0x8000) | (0x1c00 + ((s >> 4) & 0x3ff)));
}

/** Random weight bytes of a type (every bit pattern of quants and scales); its f16 fields made finite halves. */
function fillWeights(t: i32, p: usize, rows: i32, cols: i32, seed: u32): void {
  const n = <usize>rows * rowBytes(t, cols);
  let s = seed;
  if (t == T_F32) {
    fillFloats(p, rows * cols, seed, 1.0);
    return;
  }
  if (t == T_F16) {
    for (let i: usize = 0; i < n; i += 2) {
      s = xorshift(s);
      // halves around 1 (one in eight subnormal)
      store<u16>(p + i, (s & 7) == 0 ? <u16>(s & 0x83ff) : <u16>(((s >> 16) & 0x8000) | (0x3800 + ((s >> 4) & 0x7ff))));
    }
    return;
  }
  for (let i: usize = 0; i < n; i++) {
    s = xorshift(s);
    store<u8>(p + i, <u8>(s >> 24));
  }
  const block: usize = t == T_Q8_0 ? Q8_0_BYTES : t == T_Q4_0 ? Q4_0_BYTES : t == T_Q4_K ? Q4_K_BYTES : Q6_K_BYTES;
  for (let b: usize = 0; b < n; b += block) {
    s = xorshift(s);
    if (t == T_Q6_K) store<u16>(p + b + Q6_K_D, scaleHalf(s));
    else store<u16>(p + b, scaleHalf(s));
    if (t == T_Q4_K) {
      s = xorshift(s);
      store<u16>(p + b + Q4_K_DMIN, scaleHalf(s));
    }
  }
}

function rowBytes(t: i32, cols: i32): usize {
  if (t == T_F32) return <usize>cols << 2;
  if (t == T_F16) return <usize>cols << 1;
  if (t == T_Q8_0) return <usize>(cols / Q8_0_BLOCK) * Q8_0_BYTES;
  if (t == T_Q4_0) return <usize>(cols / Q4_0_BLOCK) * Q4_0_BYTES;
  if (t == T_Q4_K) return <usize>(cols / Q4_K_BLOCK) * Q4_K_BYTES;
  return <usize>(cols / Q6_K_BLOCK) * Q6_K_BYTES;
}

function xRowBytes(t: i32, cols: i32): usize {
  if (t <= T_F16) return <usize>cols << 2;
  if (t <= T_Q4_0) return <usize>(cols / Q8_0_BLOCK) * Q8_0_BYTES;
  return <usize>(cols / Q8_K_BLOCK) * Q8_K_BYTES;
}

function colsOf(t: i32): i32 {
  return t <= T_F16 ? 37 : t <= T_Q4_0 ? 96 : 512;
}

function seedOf(t: i32): u32 {
  return 0x9e3779b9 ^ <u32>(t * 7919 + 1);
}

// ---- scalar oracles ------------------------------------------------------------------------------

@inline function i8at(p: usize): f64 {
  return <f64>load<i8>(p);
}

/** Scalar dequantization of `rows` rows of weights of type t at p into f32 at out (ggml's formulas). */
function scalarDequant(t: i32, p: usize, out: usize, rows: i32, cols: i32): void {
  const n = rows * cols;
  for (let i = 0; i < n; i++) {
    let v: f32 = 0;
    if (t == T_F32) v = load<f32>(p + (<usize>i << 2));
    else if (t == T_F16) v = f16_to_f32(load<u16>(p + (<usize>i << 1)));
    else if (t == T_Q8_0) {
      const b = p + <usize>(i >> 5) * Q8_0_BYTES;
      v = <f32>load<i8>(b + Q8_0_QS + (i & 31)) * f16_to_f32(load<u16>(b));
    } else if (t == T_Q4_0) {
      const b = p + <usize>(i >> 5) * Q4_0_BYTES;
      const j = i & 31;
      const q = <i32>load<u8>(b + Q4_0_QS + (j & 15));
      v = <f32>((j < 16 ? q & 15 : q >> 4) - 8) * f16_to_f32(load<u16>(b));
    } else if (t == T_Q4_K) {
      const b = p + <usize>(i >> 8) * Q4_K_BYTES;
      const l = i & 255, j = l >> 5;
      const scales = b + Q4_K_SCALES; // ggml's get_scale_min_k4
      let sc: i32, m: i32;
      if (j < 4) {
        sc = load<u8>(scales + j) & 63;
        m = load<u8>(scales + j + 4) & 63;
      } else {
        sc = (load<u8>(scales + j + 4) & 15) | ((load<u8>(scales + j - 4) >> 6) << 4);
        m = (load<u8>(scales + j + 4) >> 4) | ((load<u8>(scales + j) >> 6) << 4);
      }
      const q = (<i32>load<u8>(b + Q4_K_QS + ((j >> 1) << 5) + (l & 31)) >> ((j & 1) << 2)) & 15;
      v = f16_to_f32(load<u16>(b)) * <f32>sc * <f32>q - f16_to_f32(load<u16>(b + 2)) * <f32>m;
    } else {
      const b = p + <usize>(i >> 8) * Q6_K_BYTES;
      const l = i & 255, h = l >> 7, kind = (l & 127) >> 5, e = l & 31;
      const ql = <i32>load<u8>(b + (h << 6) + e + ((kind & 1) << 5));
      const lo = kind < 2 ? ql & 15 : ql >> 4;
      const hi = (<i32>load<u8>(b + Q6_K_QH + (h << 5) + e) >> (kind << 1)) & 3;
      v = f16_to_f32(load<u16>(b + Q6_K_D)) * <f32>load<i8>(b + Q6_K_SCALES + (l >> 4)) * <f32>((lo | (hi << 4)) - 32);
    }
    store<f32>(out + (<usize>i << 2), v);
  }
}

/** Scalar dequantization of nTok activation rows (f32, q8_0 or q8_K for weight type t). */
function scalarDequantX(t: i32, p: usize, out: usize, nTok: i32, cols: i32): void {
  const n = nTok * cols;
  for (let i = 0; i < n; i++) {
    let v: f32;
    if (t <= T_F16) v = load<f32>(p + (<usize>i << 2));
    else if (t <= T_Q4_0) {
      const b = p + <usize>(i >> 5) * Q8_0_BYTES;
      v = <f32>load<i8>(b + Q8_0_QS + (i & 31)) * f16_to_f32(load<u16>(b));
    } else {
      const b = p + <usize>(i >> 8) * Q8_K_BYTES;
      v = <f32>load<i8>(b + Q8_K_QS + (i & 255)) * load<f32>(b);
    }
    store<f32>(out + (<usize>i << 2), v);
  }
}

/** Scalar quantize_q8_0 of one block (roundf: halves away from zero) into TMP, compared with q. */
function scalarQ8_0Matches(x: usize, q: usize, n: i32): bool {
  for (let b = 0; b < n >> 5; b++) {
    const xb = x + (<usize>b << 7), qb = q + <usize>b * Q8_0_BYTES;
    let amax: f32 = 0;
    for (let j = 0; j < 32; j++) amax = max(amax, abs(load<f32>(xb + (<usize>j << 2))));
    const d: f32 = amax / 127.0;
    const id: f32 = d != 0 ? <f32>1.0 / d : 0;
    if (<u32>load<u16>(qb) != f32_to_f16(d)) return false;
    for (let j = 0; j < 32; j++) {
      const v = load<f32>(xb + (<usize>j << 2)) * id;
      const t = trunc(v);
      const r = abs(v - t) >= 0.5 ? t + (v < 0 ? <f32>-1 : <f32>1) : t;
      if (<i32>load<i8>(qb + Q8_0_QS + j) != <i32>r) return false;
    }
  }
  return true;
}

/** Scalar quantize_q8_K check: q = nearest-even(x·iscale) ≤ 127, d = 1/iscale, bsums. */
function scalarQ8_KMatches(x: usize, q: usize, n: i32): bool {
  for (let b = 0; b < n >> 8; b++) {
    const xb = x + (<usize>b << 10), qb = q + <usize>b * Q8_K_BYTES;
    let amax: f32 = 0, mx: f32 = 0;
    for (let j = 0; j < 256; j++) {
      const v = load<f32>(xb + (<usize>j << 2));
      if (abs(v) > amax) {
        amax = abs(v);
        mx = v;
      }
    }
    const iscale: f32 = <f32>-127.0 / mx;
    if (load<f32>(qb) != <f32>1.0 / iscale) return false;
    for (let g = 0; g < 16; g++) {
      let sum = 0;
      for (let j = 16 * g; j < 16 * g + 16; j++) {
        const v = <i32>nearest(iscale * load<f32>(xb + (<usize>j << 2)));
        const want = v < 127 ? v : 127;
        const got = <i32>load<i8>(qb + Q8_K_QS + j);
        if (got != want) return false;
        sum += got;
      }
      if (<i32>load<i16>(qb + Q8_K_BSUMS + (g << 1)) != sum) return false;
    }
  }
  return true;
}

/** max |a_i − b_i| <= tol · max |b_i| over n floats (and every a_i finite). */
function closeRel(a: usize, b: usize, n: i32, tol: f64): bool {
  let md: f64 = 0, mr: f64 = 0;
  for (let i = 0; i < n; i++) {
    const x = <f64>load<f32>(a + (<usize>i << 2)), y = <f64>load<f32>(b + (<usize>i << 2));
    if (!isFinite(x)) return false;
    md = max(md, abs(x - y));
    mr = max(mr, abs(y));
  }
  return md <= tol * mr;
}

/**
 * y (ROWS results of token tok) within 1e-5 of the f64 dots of the dequantized weights (DW) and
 * activations (DX); leaves the scalar results in TMP.
 */
function matchesScalarDots(y: usize, tok: i32, cols: i32): bool {
  for (let r = 0; r < ROWS; r++) {
    let s: f64 = 0;
    for (let i = 0; i < cols; i++) {
      s += <f64>load<f32>(DW + (<usize>(r * cols + i) << 2)) * <f64>load<f32>(DX + (<usize>(tok * cols + i) << 2));
    }
    store<f32>(TMP + (<usize>r << 2), <f32>s);
  }
  return closeRel(y, TMP, ROWS, 1e-5);
}

function sameBits(a: usize, b: usize, n: i32): bool {
  for (let i = 0; i < n; i++) if (load<u32>(a + (<usize>i << 2)) != load<u32>(b + (<usize>i << 2))) return false;
  return true;
}

/** FNV-1a over n bytes. */
function fnv1a(p: usize, n: usize): u32 {
  let h: u32 = 0x811c9dc5;
  for (let i: usize = 0; i < n; i++) h = (h ^ load<u8>(p + i)) * 16777619;
  return h;
}

function storeGolden(p: usize, g: StaticArray<u32>): void {
  for (let i = 0; i < g.length; i++) store<u32>(p + (<usize>i << 2), g[i]);
}

// ---- dispatch ----------------------------------------------------------------------------------

function matvec(t: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  if (t == T_F32) matvec_f32(w, x, y, cols, r0, r1);
  else if (t == T_F16) matvec_f16(w, x, y, cols, r0, r1);
  else if (t == T_Q8_0) matvec_q8_0(w, x, y, cols, r0, r1);
  else if (t == T_Q4_0) matvec_q4_0(w, x, y, cols, r0, r1);
  else if (t == T_Q4_K) matvec_q4_K(w, x, y, cols, r0, r1);
  else matvec_q6_K(w, x, y, cols, r0, r1);
}

function matmul(t: i32, w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  if (t == T_F32) matmul_f32(w, x, y, cols, rows, nTok, r0, r1);
  else if (t == T_F16) matmul_f16(w, x, y, cols, rows, nTok, r0, r1);
  else if (t == T_Q8_0) matmul_q8_0(w, x, y, cols, rows, nTok, r0, r1);
  else if (t == T_Q4_0) matmul_q4_0(w, x, y, cols, rows, nTok, r0, r1);
  else if (t == T_Q4_K) matmul_q4_K(w, x, y, cols, rows, nTok, r0, r1);
  else matmul_q6_K(w, x, y, cols, rows, nTok, r0, r1);
}

function getRow(t: i32, w: usize, out: usize, cols: i32, row: i32): void {
  if (t == T_F32) get_row_f32(w, out, cols, row);
  else if (t == T_F16) get_row_f16(w, out, cols, row);
  else if (t == T_Q8_0) get_row_q8_0(w, out, cols, row);
  else if (t == T_Q4_0) get_row_q4_0(w, out, cols, row);
  else if (t == T_Q4_K) get_row_q4_K(w, out, cols, row);
  else get_row_q6_K(w, out, cols, row);
}

// ---- the checks ------------------------------------------------------------------------------

function checkQuantizers(): void {
  // q8_0: 5 blocks; q8_K: 2 blocks (goldens: FNV-1a of the output bytes)
  fillFloats(X, 160, 0x1234567, 4.0);
  quantize_q8_0(X, XQ, 160);
  check(fnv1a(XQ, 5 * Q8_0_BYTES) == G.Q8_0_HASH, "quantize_q8_0 bytes equal the reference's (hash)");
  check(scalarQ8_0Matches(X, XQ, 160), "quantize_q8_0 equals the scalar roundf quantizer");
  fillFloats(X, 512, 0x7654321, 0.125);
  quantize_q8_K(X, XQ, 512);
  check(fnv1a(XQ, 2 * Q8_K_BYTES) == G.Q8_K_HASH, "quantize_q8_K bytes equal the reference's (hash)");
  check(scalarQ8_KMatches(X, XQ, 512), "quantize_q8_K equals the scalar nearest-even quantizer");
  // an all-zero block quantizes to zero bytes
  for (let i: usize = 0; i < 1024; i += 4) store<f32>(X + i, 0);
  for (let i = 0; i < Q8_K_BYTES; i++) store<u8>(XQ + <usize>i, 0xa5);
  quantize_q8_K(X, XQ, 256);
  let zero = true;
  for (let i = 0; i < Q8_K_BYTES; i++) zero = zero && load<u8>(XQ + <usize>i) == 0;
  check(zero, "quantize_q8_K of zeros is all zero bytes");
}

/** check(), naming the weight type first when it fails. */
function expect(ok: bool, t: i32, what: string): void {
  if (!ok) print(t == T_F32 ? "f32: " : t == T_F16 ? "f16: " : t == T_Q8_0 ? "q8_0: " : t == T_Q4_0 ? "q4_0: " : t == T_Q4_K ? "q4_K: " : "q6_K: ");
  check(ok, what);
}

function checkType(t: i32, goldenY: StaticArray<u32>, rowHash: u32): void {
  const cols = colsOf(t);
  const seed = seedOf(t);
  fillWeights(t, W, ROWS, cols, seed);
  fillFloats(X, NTOK * cols, seed ^ 0x5bd1e995, 1.0);
  const xb = xRowBytes(t, cols);
  let xin = X;
  if (t == T_Q8_0 || t == T_Q4_0) {
    quantize_q8_0(X, XQ, NTOK * cols);
    xin = XQ;
  } else if (t >= T_Q4_K) {
    quantize_q8_K(X, XQ, NTOK * cols);
    xin = XQ;
  }

  // get_row: every row against the scalar dequantizer; the goldens hash all rows' float bits
  scalarDequant(t, W, DW, ROWS, cols);
  let rowsOk = true;
  for (let r = 0; r < ROWS; r++) {
    getRow(t, W, TMP + (<usize>(r * cols) << 2), cols, r);
    rowsOk = rowsOk && sameBits(TMP + (<usize>(r * cols) << 2), DW + (<usize>(r * cols) << 2), cols);
  }
  expect(rowsOk, t, "get_row equals the scalar dequantizer bit for bit");
  expect(fnv1a(TMP, <usize>(ROWS * cols) << 2) == rowHash, t, "get_row equals the reference's dequantizer (hash)");

  // matvec per token: against the reference's goldens and the scalar f64 dot of dequantized values
  scalarDequantX(t, xin, DX, NTOK, cols);
  let goldOk = true, scalarOk = true;
  for (let tok = 0; tok < NTOK; tok++) {
    const y = Y + (<usize>(tok * ROWS) << 2);
    matvec(t, W, xin + <usize>tok * xb, y, cols, 0, ROWS);
    scalarOk = scalarOk && matchesScalarDots(y, tok, cols);
  }
  storeGolden(TMP, goldenY);
  goldOk = closeRel(Y, TMP, NTOK * ROWS, 1e-5);
  expect(goldOk, t, "matvec equals the reference's goldens within 1e-5");
  expect(scalarOk, t, "matvec equals the scalar f64 dot of dequantized values within 1e-5");

  checkTilesAndSplits(t, false, xin, cols);
  if (t == T_Q4_K) checkQ4_KR4(cols, xb, false);
  if (t == T_Q6_K) checkQ6_KR4(cols, xb);
}

/**
 * With the per-token matvec results in Y: matmul over NTOK tokens (a tile of four and one more) equals
 * them exactly, and the row ranges [0, 3) + [3, 7) equal one call, for matvec and matmul (x16: the
 * `_x16` kernels).
 */
function checkTilesAndSplits(t: i32, x16: bool, xin: usize, cols: i32): void {
  const k = x16 ? "_x16" : "";
  if (x16) matmulX16(t, W, xin, Y2, cols, ROWS, NTOK, 0, ROWS);
  else matmul(t, W, xin, Y2, cols, ROWS, NTOK, 0, ROWS);
  expect(sameBits(Y2, Y, NTOK * ROWS), t, "matmul" + k + " equals per-token matvec" + k + " bit for bit");
  for (let i: usize = 0; i < <usize>(NTOK * ROWS) << 2; i += 4) store<u32>(Y3 + i, 0xffffffff);
  for (let s = 0; s < 2; s++) {
    if (x16) matvecX16(t, W, xin, Y3, cols, s == 0 ? 0 : 3, s == 0 ? 3 : ROWS);
    else matvec(t, W, xin, Y3, cols, s == 0 ? 0 : 3, s == 0 ? 3 : ROWS);
  }
  expect(sameBits(Y3, Y, ROWS), t, "matvec" + k + " over split row ranges equals one call");
  for (let i: usize = 0; i < <usize>(NTOK * ROWS) << 2; i += 4) store<u32>(Y3 + i, 0xffffffff);
  for (let s = 0; s < 2; s++) {
    if (x16) matmulX16(t, W, xin, Y3, cols, ROWS, NTOK, s == 0 ? 0 : 5, s == 0 ? 5 : ROWS);
    else matmul(t, W, xin, Y3, cols, ROWS, NTOK, s == 0 ? 0 : 5, s == 0 ? 5 : ROWS);
  }
  expect(sameBits(Y3, Y, NTOK * ROWS), t, "matmul" + k + " over split row ranges equals one call");
}

// ---- 16-bit activations (q16_0 / q16_K, the _x16 kernels) -------------------------------------------

/** Scalar quantize_q16_0 / q16_K check of n values at x against q (block: Q16_0_BLOCK or Q16_K_BLOCK, bytes per block). */
function scalarQ16Matches(x: usize, q: usize, n: i32, block: i32, bytes: usize): bool {
  for (let b = 0; b < n / block; b++) {
    const xb = x + (<usize>(b * block) << 2), qb = q + <usize>b * bytes;
    let amax: f32 = 0;
    for (let j = 0; j < block; j++) amax = max(amax, abs(load<f32>(xb + (<usize>j << 2))));
    const d: f32 = amax / <f32>32767.0;
    const id: f32 = d != 0 ? <f32>1.0 / d : 0;
    if (load<f32>(qb) != d) return false;
    let sum = 0;
    for (let j = 0; j < block; j++) {
      const v = nearest(load<f32>(xb + (<usize>j << 2)) * id);
      const want = <i32>(v > 32767 ? <f32>32767 : v < -32767 ? <f32>-32767 : v);
      if (<i32>load<i16>(qb + Q16_0_Q + (<usize>j << 1)) != want) return false;
      sum += want;
      if (block == Q16_K_BLOCK && (j & 15) == 15) {
        if (load<i32>(qb + Q16_K_BSUMS + (<usize>(j >> 4) << 2)) != sum) return false;
        sum = 0;
      }
    }
  }
  return true;
}

function matvecX16(t: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  if (t == T_Q8_0) matvec_q8_0_x16(w, x, y, cols, r0, r1);
  else if (t == T_Q4_0) matvec_q4_0_x16(w, x, y, cols, r0, r1);
  else if (t == T_Q4_K) matvec_q4_K_x16(w, x, y, cols, r0, r1);
  else matvec_q6_K_x16(w, x, y, cols, r0, r1);
}

function matmulX16(t: i32, w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  if (t == T_Q8_0) matmul_q8_0_x16(w, x, y, cols, rows, nTok, r0, r1);
  else if (t == T_Q4_0) matmul_q4_0_x16(w, x, y, cols, rows, nTok, r0, r1);
  else if (t == T_Q4_K) matmul_q4_K_x16(w, x, y, cols, rows, nTok, r0, r1);
  else matmul_q6_K_x16(w, x, y, cols, rows, nTok, r0, r1);
}

function checkX16(): void {
  fillFloats(X, 160, 0x1234567, 4.0);
  quantize_q16_0(X, XQ, 160);
  check(fnv1a(XQ, 5 * Q16_0_BYTES) == G.Q16_0_HASH, "quantize_q16_0 bytes equal the reference's (hash)");
  check(scalarQ16Matches(X, XQ, 160, Q16_0_BLOCK, Q16_0_BYTES), "quantize_q16_0 equals the scalar nearest-even quantizer");
  fillFloats(X, 512, 0x7654321, 0.125);
  quantize_q16_K(X, XQ, 512);
  check(fnv1a(XQ, 2 * Q16_K_BYTES) == G.Q16_K_HASH, "quantize_q16_K bytes equal the reference's (hash)");
  check(scalarQ16Matches(X, XQ, 512, Q16_K_BLOCK, Q16_K_BYTES), "quantize_q16_K equals the scalar quantizer (q and bsums)");

  for (let t = T_Q8_0; t <= T_Q6_K; t++) {
    const cols = colsOf(t);
    const seed = seedOf(t) ^ 0x16;
    const k = t >= T_Q4_K;
    const xb: usize = k ? <usize>(cols / Q16_K_BLOCK) * Q16_K_BYTES : <usize>(cols / Q16_0_BLOCK) * Q16_0_BYTES;
    fillWeights(t, W, ROWS, cols, seed);
    fillFloats(X, NTOK * cols, seed ^ 0x5bd1e995, 1.0);
    if (k) quantize_q16_K(X, XQ, NTOK * cols);
    else quantize_q16_0(X, XQ, NTOK * cols);
    scalarDequant(t, W, DW, ROWS, cols);
    // the activations as their quantizer's values: q·d
    for (let i = 0; i < NTOK * cols; i++) {
      const b = XQ + <usize>(i / (k ? Q16_K_BLOCK : Q16_0_BLOCK)) * (k ? Q16_K_BYTES : Q16_0_BYTES);
      const j = i % (k ? Q16_K_BLOCK : Q16_0_BLOCK);
      store<f32>(DX + (<usize>i << 2), <f32>load<i16>(b + Q16_0_Q + (<usize>j << 1)) * load<f32>(b));
    }
    let scalarOk = true;
    for (let tok = 0; tok < NTOK; tok++) {
      const y = Y + (<usize>(tok * ROWS) << 2);
      matvecX16(t, W, XQ + <usize>tok * xb, y, cols, 0, ROWS);
      scalarOk = scalarOk && matchesScalarDots(y, tok, cols);
    }
    expect(scalarOk, t, "matvec_x16 equals the scalar f64 dot of dequantized values within 1e-5");
    storeGolden(TMP, t == T_Q8_0 ? G.Y_Q8_0_X16 : t == T_Q4_0 ? G.Y_Q4_0_X16 : t == T_Q4_K ? G.Y_Q4_K_X16 : G.Y_Q6_K_X16);
    expect(closeRel(Y, TMP, NTOK * ROWS, 1e-5), t, "matvec_x16 equals the reference's goldens within 1e-5");
    checkTilesAndSplits(t, true, XQ, cols);
    if (t == T_Q4_0) checkQ4_0R8(cols);
    if (t == T_Q4_K) checkQ4_KR4(cols, xb, true);
  }
}

/**
 * q4_0r8 (no goldens of its own): W's rows repacked eight at a time into DW (free by now; the eighth
 * row is whatever follows W's seven, and is not compared), on the same activations as q16_0s (in DX,
 * free by now: q16_0's bytes plus 8·Σq per block), give matvec_q4_0_x16's results in Y bit for bit,
 * per token (matvec_q4_0r8_x16s) and for all tokens (matmul).
 */
function checkQ4_0R8(cols: i32): void {
  const nb = cols >> 5;
  quantize_q16_0s(X, DX, NTOK * cols);
  let same = true;
  for (let b = 0; b < NTOK * nb; b++) {
    const q = XQ + <usize>b * Q16_0_BYTES, qs = DX + <usize>b * Q16_0S_BYTES;
    let sum = 0;
    for (let i = 0; i < Q16_0_BYTES; i++) same = same && load<u8>(q + <usize>i) == load<u8>(qs + <usize>i);
    for (let j: usize = 0; j < 32; j++) sum += <i32>load<i16>(q + Q16_0_Q + (j << 1));
    same = same && load<i32>(qs + Q16_0S_SUM) == sum * 8;
  }
  check(same, "quantize_q16_0s is quantize_q16_0's bytes plus 8·Σq per block");
  repack_q4_0_r8(W, DW, 8, cols);
  const xs = <usize>nb * Q16_0S_BYTES;
  let ok = true;
  for (let tok = 0; tok < NTOK; tok++) {
    matvec_q4_0r8_x16s(DW, DX + <usize>tok * xs, TMP, cols, 0, 8);
    ok = ok && sameBits(TMP, Y + (<usize>(tok * ROWS) << 2), ROWS);
  }
  expect(ok, T_Q4_0, "repack_q4_0_r8 + matvec_q4_0r8_x16s equal matvec_q4_0_x16 bit for bit");
  matmul_q4_0r8_x16s(DW, DX, Y3, cols, 8, NTOK, 0, 8);
  ok = true;
  for (let tok = 0; tok < NTOK; tok++) ok = ok && sameBits(Y3 + (<usize>(tok * 8) << 2), Y + (<usize>(tok * ROWS) << 2), ROWS);
  expect(ok, T_Q4_0, "matmul_q4_0r8_x16s equals matvec_q4_0_x16 bit for bit");
}

/**
 * q4_Kr4 (no goldens of its own): W's seven rows and the one after them repacked four at a time into DW
 * (free by now; the eighth row is not compared), on the same activations (q16_K for the `_x16`
 * kernels, q8_K for the plain ones), give matvec_q4_K_x16's / matvec_q4_K's results in Y bit for bit,
 * per token (matvec, also over a split at row 4) and for all tokens (matmul, also over a split).
 */
function checkQ4_KR4(cols: i32, xb: usize, x16: bool): void {
  const k = x16 ? "_x16" : "";
  repack_q4_K_r4(W, DW, 8, cols);
  let ok = true;
  for (let tok = 0; tok < NTOK; tok++) {
    kr4Matvec(x16, DW, XQ + <usize>tok * xb, TMP, cols, 0, 8);
    ok = ok && sameBits(TMP, Y + (<usize>(tok * ROWS) << 2), ROWS);
    kr4Matvec(x16, DW, XQ + <usize>tok * xb, TMP, cols, 0, 4);
    kr4Matvec(x16, DW, XQ + <usize>tok * xb, TMP, cols, 4, 8);
    ok = ok && sameBits(TMP, Y + (<usize>(tok * ROWS) << 2), ROWS);
  }
  expect(ok, T_Q4_K, "repack_q4_K_r4 + matvec_q4_Kr4" + k + " equal matvec_q4_K" + k + " bit for bit");
  kr4Matmul(x16, DW, XQ, Y3, cols, 8, NTOK, 0, 8);
  ok = true;
  for (let tok = 0; tok < NTOK; tok++) ok = ok && sameBits(Y3 + (<usize>(tok * 8) << 2), Y + (<usize>(tok * ROWS) << 2), ROWS);
  kr4Matmul(x16, DW, XQ, Y3, cols, 8, NTOK, 0, 4);
  kr4Matmul(x16, DW, XQ, Y3, cols, 8, NTOK, 4, 8);
  for (let tok = 0; tok < NTOK; tok++) ok = ok && sameBits(Y3 + (<usize>(tok * 8) << 2), Y + (<usize>(tok * ROWS) << 2), ROWS);
  expect(ok, T_Q4_K, "matmul_q4_Kr4" + k + " equals matvec_q4_K" + k + " bit for bit");
}

/**
 * q6_Kr4 (no goldens of its own): W's seven rows and the one after them repacked four at a time into DW
 * (free by now; the eighth row is not compared), on the same q8_K activations, give matvec_q6_K's
 * results in Y bit for bit, per token (matvec, also over a split at row 4) and for all tokens (matmul,
 * also over a split); get_row_q6_Kr4 of each row equals get_row_q6_K's.
 */
function checkQ6_KR4(cols: i32, xb: usize): void {
  repack_q6_K_r4(W, DW, 8, cols);
  let ok = true;
  for (let tok = 0; tok < NTOK; tok++) {
    matvec_q6_Kr4(DW, XQ + <usize>tok * xb, TMP, cols, 0, 8);
    ok = ok && sameBits(TMP, Y + (<usize>(tok * ROWS) << 2), ROWS);
    matvec_q6_Kr4(DW, XQ + <usize>tok * xb, TMP, cols, 0, 4);
    matvec_q6_Kr4(DW, XQ + <usize>tok * xb, TMP, cols, 4, 8);
    ok = ok && sameBits(TMP, Y + (<usize>(tok * ROWS) << 2), ROWS);
  }
  expect(ok, T_Q6_K, "repack_q6_K_r4 + matvec_q6_Kr4 equal matvec_q6_K bit for bit");
  matmul_q6_Kr4(DW, XQ, Y3, cols, 8, NTOK, 0, 8);
  ok = true;
  for (let tok = 0; tok < NTOK; tok++) ok = ok && sameBits(Y3 + (<usize>(tok * 8) << 2), Y + (<usize>(tok * ROWS) << 2), ROWS);
  matmul_q6_Kr4(DW, XQ, Y3, cols, 8, NTOK, 0, 4);
  matmul_q6_Kr4(DW, XQ, Y3, cols, 8, NTOK, 4, 8);
  for (let tok = 0; tok < NTOK; tok++) ok = ok && sameBits(Y3 + (<usize>(tok * 8) << 2), Y + (<usize>(tok * ROWS) << 2), ROWS);
  expect(ok, T_Q6_K, "matmul_q6_Kr4 equals matvec_q6_K bit for bit");
  ok = true;
  for (let r = 0; r < ROWS; r++) {
    get_row_q6_K(W, TMP, cols, r);
    get_row_q6_Kr4(DW, TMP + 4096, cols, r);
    ok = ok && sameBits(TMP + 4096, TMP, cols);
  }
  expect(ok, T_Q6_K, "get_row_q6_Kr4 equals get_row_q6_K bit for bit");
}

function kr4Matvec(x16: bool, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  if (x16) matvec_q4_Kr4_x16(w, x, y, cols, r0, r1);
  else matvec_q4_Kr4(w, x, y, cols, r0, r1);
}

function kr4Matmul(x16: bool, w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  if (x16) matmul_q4_Kr4_x16(w, x, y, cols, rows, nTok, r0, r1);
  else matmul_q4_Kr4(w, x, y, cols, rows, nTok, r0, r1);
}

/** f16f (no goldens of its own): on the self-test's finite f16 rows, equal to matvec_f16 / matmul_f16 bit for bit. */
function checkF16F(): void {
  const cols = colsOf(T_F16);
  fillWeights(T_F16, W, ROWS, cols, seedOf(T_F16) ^ 0xf16f);
  fillFloats(X, NTOK * cols, seedOf(T_F16) ^ 0x5bd1e995, 1.0);
  for (let tok = 0; tok < NTOK; tok++) matvec_f16(W, X + (<usize>(tok * cols) << 2), Y + (<usize>(tok * ROWS) << 2), cols, 0, ROWS);
  let ok = true;
  for (let tok = 0; tok < NTOK; tok++) {
    matvec_f16f(W, X + (<usize>(tok * cols) << 2), TMP, cols, 0, 3);
    matvec_f16f(W, X + (<usize>(tok * cols) << 2), TMP, cols, 3, ROWS);
    ok = ok && sameBits(TMP, Y + (<usize>(tok * ROWS) << 2), ROWS);
  }
  expect(ok, T_F16, "matvec_f16f equals matvec_f16 bit for bit (split rows)");
  matmul_f16f(W, X, Y2, cols, ROWS, NTOK, 0, ROWS);
  expect(sameBits(Y2, Y, NTOK * ROWS), T_F16, "matmul_f16f equals per-token matvec_f16 bit for bit");
  matmul_f16(W, X, Y3, cols, ROWS, NTOK, 0, ROWS);
  expect(sameBits(Y3, Y, NTOK * ROWS), T_F16, "matmul_f16 equals per-token matvec_f16 bit for bit");
}

// ---- ggml's 8-bit activations in the wide layouts (q8_0w / q8_0s, the _x8w / _x8s kernels) ---------------

/**
 * Scalar check of quantize_q8_0w (qs = false) or quantize_q8_0s (qs = true) of n values at x against q:
 * x86 ggml's values (d = f16(amax/127), id = 127/amax, q = nearest-even(x·id)) and each layout's extra bytes.
 */
function scalarQ8WideMatches(x: usize, q: usize, n: i32, qs: bool): bool {
  const bytes: usize = qs ? Q8_0S_BYTES : Q8_0W_BYTES;
  for (let b = 0; b < n >> 5; b++) {
    const xb = x + (<usize>b << 7), qb = q + <usize>b * bytes;
    let amax: f32 = 0;
    for (let j = 0; j < 32; j++) amax = max(amax, abs(load<f32>(xb + (<usize>j << 2))));
    if (load<f32>(qb) != f16_to_f32(f32_to_f16(amax / <f32>127.0))) return false;
    const id: f32 = amax != 0 ? <f32>127.0 / amax : 0;
    let sum = 0;
    for (let j = 0; j < 32; j++) {
      const want = <i32>nearest(load<f32>(xb + (<usize>j << 2)) * id);
      if (<i32>load<i16>(qb + Q8_0W_Q + (<usize>j << 1)) != want) return false;
      sum += want;
    }
    if (qs) {
      if (load<i32>(qb + Q8_0S_SUM) != 8 * sum) return false;
      for (let j = 0; j < 32; j++) {
        const g = j & 7, src = (j & ~7) + (g & 1 ? 4 : 0) + (g >> 1); // [0, 4, 1, 5, 2, 6, 3, 7]
        if (<i32>load<i8>(qb + Q8_0S_QR + j) != <i32>load<i16>(qb + Q8_0W_Q + (<usize>src << 1))) return false;
      }
    }
  }
  return true;
}

/** The values of n wide blocks at xq (block `bytes` apart) as ggml's q8_0 blocks at out (d as f16: exact). */
function wideToQ8_0(xq: usize, out: usize, nb: i32, bytes: usize): void {
  for (let b = 0; b < nb; b++) {
    const s = xq + <usize>b * bytes, o = out + <usize>b * Q8_0_BYTES;
    store<u16>(o, <u16>f32_to_f16(load<f32>(s)));
    for (let j: usize = 0; j < 32; j++) store<i8>(o + Q8_0_QS + j, <i8>load<i16>(s + Q8_0W_Q + (j << 1)));
  }
}

function checkX8(): void {
  fillFloats(X, 160, 0x1234567, 4.0);
  quantize_q8_0w(X, XQ, 160);
  check(fnv1a(XQ, 5 * Q8_0W_BYTES) == G.Q8_0W_HASH, "quantize_q8_0w bytes equal the reference's (hash)");
  check(scalarQ8WideMatches(X, XQ, 160, false), "quantize_q8_0w equals the scalar x86-ggml quantizer");
  quantize_q8_0s(X, XQ, 160);
  check(fnv1a(XQ, 5 * Q8_0S_BYTES) == G.Q8_0S_HASH, "quantize_q8_0s bytes equal the reference's (hash)");
  check(scalarQ8WideMatches(X, XQ, 160, true), "quantize_q8_0s equals the scalar x86-ggml quantizer");

  for (let t = T_Q8_0; t <= T_Q4_0; t++) {
    const cols = colsOf(t);
    const seed = seedOf(t) ^ 0x08;
    const bytes: usize = t == T_Q8_0 ? Q8_0W_BYTES : Q8_0S_BYTES;
    const xb = <usize>(cols >> 5) * bytes;
    fillWeights(t, W, ROWS, cols, seed);
    fillFloats(X, NTOK * cols, seed ^ 0x5bd1e995, 1.0);
    if (t == T_Q8_0) quantize_q8_0w(X, XQ, NTOK * cols);
    else quantize_q8_0s(X, XQ, NTOK * cols);
    // the same values in ggml's q8_0 blocks, for the plain kernels (whose goldens anchor them)
    wideToQ8_0(XQ, DX, NTOK * (cols >> 5), bytes);
    let plainOk = true;
    for (let tok = 0; tok < NTOK; tok++) {
      const y = Y + (<usize>(tok * ROWS) << 2);
      if (t == T_Q8_0) matvec_q8_0_x8w(W, XQ + <usize>tok * xb, y, cols, 0, ROWS);
      else matvec_q4_0_x8s(W, XQ + <usize>tok * xb, y, cols, 0, ROWS);
      matvec(t, W, DX + <usize>(tok * (cols >> 5) * Q8_0_BYTES), TMP, cols, 0, ROWS);
      plainOk = plainOk && sameBits(y, TMP, ROWS);
    }
    expect(plainOk, t, "matvec_x8 equals the plain matvec on the same values bit for bit");
    storeGolden(TMP, t == T_Q8_0 ? G.Y_Q8_0_X8 : G.Y_Q4_0_X8);
    expect(closeRel(Y, TMP, NTOK * ROWS, 1e-5), t, "matvec_x8 equals the reference's goldens within 1e-5");
    // matmul and row splits, as checkTilesAndSplits
    if (t == T_Q8_0) matmul_q8_0_x8w(W, XQ, Y2, cols, ROWS, NTOK, 0, ROWS);
    else matmul_q4_0_x8s(W, XQ, Y2, cols, ROWS, NTOK, 0, ROWS);
    expect(sameBits(Y2, Y, NTOK * ROWS), t, "matmul_x8 equals per-token matvec_x8 bit for bit");
    for (let s = 0; s < 2; s++) {
      const r0 = s == 0 ? 0 : 5, r1 = s == 0 ? 5 : ROWS;
      if (t == T_Q8_0) matmul_q8_0_x8w(W, XQ, Y3, cols, ROWS, NTOK, r0, r1);
      else matmul_q4_0_x8s(W, XQ, Y3, cols, ROWS, NTOK, r0, r1);
    }
    expect(sameBits(Y3, Y, NTOK * ROWS), t, "matmul_x8 over split row ranges equals one call");
    if (t == T_Q4_0) {
      // q4_0r8: W's seven rows and the one after them repacked; rows 0..6 compared (as checkQ4_0R8)
      repack_q4_0_r8(W, DW, 8, cols);
      let ok = true;
      for (let tok = 0; tok < NTOK; tok++) {
        matvec_q4_0r8_x8s(DW, XQ + <usize>tok * xb, TMP, cols, 0, 8);
        ok = ok && sameBits(TMP, Y + (<usize>(tok * ROWS) << 2), ROWS);
      }
      expect(ok, t, "repack_q4_0_r8 + matvec_q4_0r8_x8s equal matvec_q4_0_x8s bit for bit");
      matmul_q4_0r8_x8s(DW, XQ, Y3, cols, 8, NTOK, 0, 8);
      ok = true;
      for (let tok = 0; tok < NTOK; tok++) ok = ok && sameBits(Y3 + (<usize>(tok * 8) << 2), Y + (<usize>(tok * ROWS) << 2), ROWS);
      expect(ok, t, "matmul_q4_0r8_x8s equals matvec_q4_0_x8s bit for bit");
    }
  }
}

export function _start(): void {
  ensureMemory(END);
  checkQuantizers();
  checkType(T_F32, G.Y_F32, G.ROWS_F32);
  checkType(T_F16, G.Y_F16, G.ROWS_F16);
  checkType(T_Q8_0, G.Y_Q8_0, G.ROWS_Q8_0);
  checkType(T_Q4_0, G.Y_Q4_0, G.ROWS_Q4_0);
  checkType(T_Q4_K, G.Y_Q4_K, G.ROWS_Q4_K);
  checkType(T_Q6_K, G.Y_Q6_K, G.ROWS_Q6_K);
  checkX16();
  checkX8();
  checkF16F();
  checkOtherFormats();
  finish("matmul");
}
