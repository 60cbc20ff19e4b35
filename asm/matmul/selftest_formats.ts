// The self-test's part for ggml's other weight formats (q4_1, q5_0, q5_1, q2_K, q3_K, q5_K) and
// quantize_q8_1, run by `_start` (./selftest.ts). Deterministic random blocks (every bit pattern of
// levels, scales and high bits; finite f16 fields), activations quantized by the module's own
// quantizers, and for each format: matvec against scalar f64 math over get_row's dequantized rows and
// the dequantized activations (within 1e-5 of the largest result), matmul of 5 tokens against per-token
// matvec bit for bit, a row split against one call bit for bit; quantize_q8_1's d and qs against
// quantize_q8_0's (and quantize_q8_0e's, with its sum); q5_0r4 and q5_1r4 against the plain kernels;
// for q2_K and q3_K, the first four rows repacked (q2_Kr4 on quantize_q8_Kp's activations, whose d,
// bsums and values are quantize_q8_K's; q3_Kr4) give matvec's results bit for bit through matvec and matmul. (The JS reference, bit for bit, is test/kernel-weight-types.test.ts's.)
import { check, ensureMemory, SELFTEST_BASE } from '../lib/selftest';
import { f16_to_f32 } from '../lib/f16';
import {
  get_row_q2_K, get_row_q3_K, get_row_q4_1, get_row_q5_0, get_row_q5_1, get_row_q5_K, matmul_q2_K, matmul_q3_K, matmul_q4_1,
  matmul_q5_0, matmul_q5_1, matmul_q5_K, matvec_q2_K, matvec_q3_K, matvec_q4_1, matvec_q5_0, matvec_q5_1, matvec_q5_K,
  quantize_q8_0, quantize_q8_1, quantize_q8_K, quantize_q8_Kp,
  get_row_q5_0r4, get_row_q5_1r4, matmul_q5_0r4, matmul_q5_1r4, matvec_q5_0r4, matvec_q5_1r4, quantize_q8_0e, repack_q5_0_r4, repack_q5_1_r4,
  matmul_q2_Kr4, matmul_q3_Kr4, matvec_q2_Kr4, matvec_q3_Kr4, repack_q2_K_r4, repack_q3_K_r4,
} from './flavour';
import { Q2_K_BYTES, Q2_K_D, Q2_K_DMIN, Q3_K_BYTES, Q3_K_D, Q4_1_BYTES, Q5_0_BYTES, Q5_1_BYTES, Q5_K_BYTES, Q5_K_DMIN, Q8_0_BYTES, Q8_0E_BYTES, Q8_0E_QS, Q8_0E_SUM, Q8_1_BYTES, Q8_K_BYTES } from '../lib/blocks';

const T_Q4_1 = 0, T_Q5_0 = 1, T_Q5_1 = 2, T_Q2_K = 3, T_Q3_K = 4, T_Q5_K = 5;
const ROWS: i32 = 7;
const NTOK: i32 = 5;

// scratch, above ./selftest.ts's
const X: usize = SELFTEST_BASE + (1 << 20); // NTOK × 512 f32
const XQ: usize = X + 16384; // the same quantized
const XQ2: usize = XQ + 8192; // q8_0 of the same, for q8_1's check
const W: usize = XQ2 + 8192;
const Y: usize = W + 8192; // matvec results, NTOK × ROWS
const Y2: usize = Y + 1024; // matmul results
const DW: usize = Y2 + 1024; // one dequantized weight row (≤ 512 f32)
const R4: usize = DW + 4096; // eight q5_0 / q5_1 rows repacked four at a time
const XE: usize = R4 + 1024; // the q5_0 activations as q8_0e
const Y3: usize = XE + 1024; // the repacked kernels' results
const RK: usize = Y3 + 1024; // four q2_K / q3_K rows repacked (q2_Kr4, q3_Kr4)
const END: usize = RK + 4096;

@inline function xorshift(s: u32): u32 {
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s;
}

/** A finite half of moderate size (one in eight subnormal). */
@inline function scaleHalf(s: u32): u16 {
  if ((s & 7) == 0) return <u16>(s & 0x83ff);
  return <u16>(((s >> 16) & 0x8000) | (0x1c00 + ((s >> 4) & 0x3ff)));
}

function blockBytes(t: i32): usize {
  return t == T_Q4_1 ? Q4_1_BYTES : t == T_Q5_0 ? Q5_0_BYTES : t == T_Q5_1 ? Q5_1_BYTES : t == T_Q2_K ? Q2_K_BYTES : t == T_Q3_K ? Q3_K_BYTES : Q5_K_BYTES;
}

function blockValues(t: i32): i32 {
  return t <= T_Q5_1 ? 32 : 256;
}

function colsOf(t: i32): i32 {
  return t <= T_Q5_1 ? 96 : 512;
}

/** Bytes of one activation row: q8_1 (q4_1, q5_1), q8_0 (q5_0) or q8_K. */
function xRowBytes(t: i32, cols: i32): usize {
  if (t == T_Q5_0) return <usize>(cols / 32) * Q8_0_BYTES;
  if (t <= T_Q5_1) return <usize>(cols / 32) * Q8_1_BYTES;
  return <usize>(cols / 256) * Q8_K_BYTES;
}

function fill(t: i32, cols: i32, seed: u32): void {
  let s = seed;
  const n = <usize>ROWS * <usize>(cols / blockValues(t)) * blockBytes(t);
  for (let i: usize = 0; i < n; i++) {
    s = xorshift(s);
    store<u8>(W + i, <u8>(s >> 24));
  }
  // the f16 fields: d (and m / dmin)
  const bb = blockBytes(t);
  const d: usize = t == T_Q2_K ? <usize>Q2_K_D : t == T_Q3_K ? <usize>Q3_K_D : 0;
  const second: usize = t == T_Q4_1 || t == T_Q5_1 ? 2 : t == T_Q2_K ? <usize>Q2_K_DMIN : t == T_Q5_K ? <usize>Q5_K_DMIN : 0;
  for (let b: usize = 0; b < n; b += bb) {
    s = xorshift(s);
    store<u16>(W + b + d, scaleHalf(s));
    if (second != 0) {
      s = xorshift(s);
      store<u16>(W + b + second, scaleHalf(s));
    }
  }
  for (let i = 0; i < NTOK * cols; i++) {
    s = xorshift(s);
    store<f32>(X + (<usize>i << 2), <f32>(<i32>(s >> 8) - 0x800000) * <f32>1.1920928955078125e-7);
  }
  const xb = xRowBytes(t, cols);
  for (let k = 0; k < NTOK; k++) {
    const x = X + <usize>(k * cols) * 4, q = XQ + <usize>k * xb;
    if (t == T_Q5_0) quantize_q8_0(x, q, cols);
    else if (t <= T_Q5_1) quantize_q8_1(x, q, cols);
    else quantize_q8_K(x, q, cols);
  }
}

function matvec(t: i32, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  if (t == T_Q4_1) matvec_q4_1(W, x, y, cols, r0, r1);
  else if (t == T_Q5_0) matvec_q5_0(W, x, y, cols, r0, r1);
  else if (t == T_Q5_1) matvec_q5_1(W, x, y, cols, r0, r1);
  else if (t == T_Q2_K) matvec_q2_K(W, x, y, cols, r0, r1);
  else if (t == T_Q3_K) matvec_q3_K(W, x, y, cols, r0, r1);
  else matvec_q5_K(W, x, y, cols, r0, r1);
}

function matmul(t: i32, y: usize, cols: i32): void {
  if (t == T_Q4_1) matmul_q4_1(W, XQ, y, cols, ROWS, NTOK, 0, ROWS);
  else if (t == T_Q5_0) matmul_q5_0(W, XQ, y, cols, ROWS, NTOK, 0, ROWS);
  else if (t == T_Q5_1) matmul_q5_1(W, XQ, y, cols, ROWS, NTOK, 0, ROWS);
  else if (t == T_Q2_K) matmul_q2_K(W, XQ, y, cols, ROWS, NTOK, 0, ROWS);
  else if (t == T_Q3_K) matmul_q3_K(W, XQ, y, cols, ROWS, NTOK, 0, ROWS);
  else matmul_q5_K(W, XQ, y, cols, ROWS, NTOK, 0, ROWS);
}

function getRow(t: i32, cols: i32, row: i32): void {
  if (t == T_Q4_1) get_row_q4_1(W, DW, cols, row);
  else if (t == T_Q5_0) get_row_q5_0(W, DW, cols, row);
  else if (t == T_Q5_1) get_row_q5_1(W, DW, cols, row);
  else if (t == T_Q2_K) get_row_q2_K(W, DW, cols, row);
  else if (t == T_Q3_K) get_row_q3_K(W, DW, cols, row);
  else get_row_q5_K(W, DW, cols, row);
}

/** Activation value i of token 0, dequantized. */
function xValue(t: i32, i: i32): f64 {
  if (t == T_Q5_0) return <f64>f16_to_f32(load<u16>(XQ + <usize>(i >> 5) * Q8_0_BYTES)) * <f64>load<i8>(XQ + <usize>(i >> 5) * Q8_0_BYTES + 2 + <usize>(i & 31));
  if (t <= T_Q5_1) return <f64>f16_to_f32(load<u16>(XQ + <usize>(i >> 5) * Q8_1_BYTES)) * <f64>load<i8>(XQ + <usize>(i >> 5) * Q8_1_BYTES + 4 + <usize>(i & 31));
  return <f64>load<f32>(XQ + <usize>(i >> 8) * Q8_K_BYTES) * <f64>load<i8>(XQ + <usize>(i >> 8) * Q8_K_BYTES + 4 + <usize>(i & 255));
}

function checkFormat(t: i32, name: string): void {
  const cols = colsOf(t);
  fill(t, cols, 0x51ed270b ^ <u32>(t * 7919));
  const xb = xRowBytes(t, cols);
  for (let k = 0; k < NTOK; k++) matvec(t, XQ + <usize>k * xb, Y + <usize>(k * ROWS) * 4, cols, 0, ROWS);

  // matvec against f64 math over get_row's rows (q4_1, q5_1: ggml's m·s for m·Σx, as the kernels)
  let maxDiff: f64 = 0, maxRef: f64 = 0;
  const wb = <usize>(cols / blockValues(t)) * blockBytes(t);
  for (let r = 0; r < ROWS; r++) {
    getRow(t, cols, r);
    let sum: f64 = 0;
    for (let i = 0; i < cols; i++) {
      let v = <f64>load<f32>(DW + (<usize>i << 2));
      if (t == T_Q4_1 || t == T_Q5_1) v -= <f64>f16_to_f32(load<u16>(W + <usize>r * wb + <usize>(i >> 5) * blockBytes(t) + 2));
      sum += v * xValue(t, i);
    }
    if (t == T_Q4_1 || t == T_Q5_1) {
      for (let b = 0; b < cols / 32; b++) {
        const m = <f64>f16_to_f32(load<u16>(W + <usize>r * wb + <usize>b * blockBytes(t) + 2));
        sum += m * <f64>f16_to_f32(load<u16>(XQ + <usize>b * Q8_1_BYTES + 2));
      }
    }
    const got = <f64>load<f32>(Y + (<usize>r << 2));
    maxDiff = max(maxDiff, abs(got - sum));
    maxRef = max(maxRef, abs(sum));
  }
  check(maxDiff <= 1e-5 * maxRef, "matvec_" + name + " vs f64 over get_row");

  // matmul of NTOK tokens = per-token matvec, bit for bit
  matmul(t, Y2, cols);
  let same = true;
  for (let i = 0; i < NTOK * ROWS; i++) same = same && load<u32>(Y + (<usize>i << 2)) == load<u32>(Y2 + (<usize>i << 2));
  check(same, "matmul_" + name + " = per-token matvec");

  // a row split = one call
  matvec(t, XQ, Y2, cols, 0, 3);
  matvec(t, XQ, Y2, cols, 3, ROWS);
  same = true;
  for (let r = 0; r < ROWS; r++) same = same && load<u32>(Y + (<usize>r << 2)) == load<u32>(Y2 + (<usize>r << 2));
  check(same, "matvec_" + name + " split");
  if (t == T_Q5_0 || t == T_Q5_1) checkR4(t, name, cols);
  if (t == T_Q2_K || t == T_Q3_K) checkKR4(t, name, cols, xb);
}

/**
 * q5_0r4 / q5_1r4 (no goldens of their own): W's seven rows and the one after them repacked four at a
 * time into R4 (the eighth row is not compared), on the same activations (q5_0: as q8_0e), give the plain
 * matvec's results in Y bit for bit, per token (matvec, over a split at row 4) and for all tokens
 * (matmul: a 4-token tile and a short one, over the same split); get_row of each row equals the plain one.
 */
function checkR4(t: i32, name: string, cols: i32): void {
  if (t == T_Q5_0) repack_q5_0_r4(W, R4, 8, cols);
  else repack_q5_1_r4(W, R4, 8, cols);
  const xb = t == T_Q5_0 ? <usize>(cols / 32) * Q8_0E_BYTES : xRowBytes(t, cols);
  const x = t == T_Q5_0 ? XE : XQ;
  if (t == T_Q5_0) for (let k = 0; k < NTOK; k++) quantize_q8_0e(X + <usize>(k * cols) * 4, XE + <usize>k * xb, cols);
  let ok = true;
  for (let k = 0; k < NTOK; k++) {
    if (t == T_Q5_0) {
      matvec_q5_0r4(R4, x + <usize>k * xb, Y3, cols, 0, 4);
      matvec_q5_0r4(R4, x + <usize>k * xb, Y3, cols, 4, 8);
    } else {
      matvec_q5_1r4(R4, x + <usize>k * xb, Y3, cols, 0, 4);
      matvec_q5_1r4(R4, x + <usize>k * xb, Y3, cols, 4, 8);
    }
    for (let r = 0; r < ROWS; r++) ok = ok && load<u32>(Y3 + (<usize>r << 2)) == load<u32>(Y + (<usize>(k * ROWS + r) << 2));
  }
  check(ok, "repack_" + name + "_r4 + matvec_" + name + "r4 = matvec_" + name);
  if (t == T_Q5_0) {
    matmul_q5_0r4(R4, x, Y3, cols, 8, NTOK, 0, 4);
    matmul_q5_0r4(R4, x, Y3, cols, 8, NTOK, 4, 8);
  } else {
    matmul_q5_1r4(R4, x, Y3, cols, 8, NTOK, 0, 4);
    matmul_q5_1r4(R4, x, Y3, cols, 8, NTOK, 4, 8);
  }
  ok = true;
  for (let k = 0; k < NTOK; k++) for (let r = 0; r < ROWS; r++) ok = ok && load<u32>(Y3 + (<usize>(k * 8 + r) << 2)) == load<u32>(Y + (<usize>(k * ROWS + r) << 2));
  check(ok, "matmul_" + name + "r4 = matvec_" + name);
  ok = true;
  for (let r = 0; r < ROWS; r++) {
    getRow(t, cols, r);
    if (t == T_Q5_0) get_row_q5_0r4(R4, DW + 2048, cols, r);
    else get_row_q5_1r4(R4, DW + 2048, cols, r);
    for (let i = 0; i < cols; i++) ok = ok && load<u32>(DW + (<usize>i << 2)) == load<u32>(DW + 2048 + (<usize>i << 2));
  }
  check(ok, "get_row_" + name + "r4 = get_row_" + name);
}

/** The first four rows repacked four at a time (q2_Kr4, q3_Kr4): matvec per token and matmul of NTOK tokens equal matvec's results in Y bit for bit. */
function checkKR4(t: i32, name: string, cols: i32, xb: usize): void {
  // q2_Kr4's activations: quantize_q8_Kp of the same values, in XQ2
  let same = true;
  if (t == T_Q2_K) {
    for (let k = 0; k < NTOK; k++) quantize_q8_Kp(X + <usize>(k * cols) * 4, XQ2 + <usize>k * xb, cols);
    for (let b = 0; b < NTOK * cols / 256; b++) {
      const q = XQ + <usize>b * Q8_K_BYTES, p = XQ2 + <usize>b * Q8_K_BYTES;
      same = same && load<u32>(q) == load<u32>(p);
      for (let i = 0; i < 16; i++) same = same && load<i16>(q + 260 + (<usize>i << 1)) == load<i16>(p + 260 + (<usize>i << 1));
      for (let v = 0; v < 256; v++) {
        const m = v >> 5, j = (v & 15) >> 1, e = (v & 1) + ((v >> 3) & 2);
        same = same && load<i8>(q + 4 + <usize>v) == load<i8>(p + 4 + <usize>(32 * m + 4 * j + e));
      }
    }
    check(same, "quantize_q8_Kp = quantize_q8_K's blocks, each pair of groups' values interleaved two at a time");
  }
  const xr = t == T_Q2_K ? XQ2 : XQ;
  if (t == T_Q2_K) repack_q2_K_r4(W, RK, 4, cols);
  else repack_q3_K_r4(W, RK, 4, cols);
  same = true;
  for (let k = 0; k < NTOK; k++) {
    if (t == T_Q2_K) matvec_q2_Kr4(RK, xr + <usize>k * xb, Y2, cols, 0, 4);
    else matvec_q3_Kr4(RK, XQ + <usize>k * xb, Y2, cols, 0, 4);
    for (let r = 0; r < 4; r++) same = same && load<u32>(Y2 + (<usize>r << 2)) == load<u32>(Y + (<usize>(k * ROWS + r) << 2));
  }
  check(same, "repack_" + name + "_r4 + matvec_" + name + "r4 = matvec_" + name);
  if (t == T_Q2_K) matmul_q2_Kr4(RK, xr, Y2, cols, 4, NTOK, 0, 4);
  else matmul_q3_Kr4(RK, XQ, Y2, cols, 4, NTOK, 0, 4);
  same = true;
  for (let k = 0; k < NTOK; k++) {
    for (let r = 0; r < 4; r++) same = same && load<u32>(Y2 + (<usize>(k * 4 + r) << 2)) == load<u32>(Y + (<usize>(k * ROWS + r) << 2));
  }
  check(same, "matmul_" + name + "r4 = matvec_" + name);
}

/** quantize_q8_1's d and qs are quantize_q8_0's. */
function checkQ8_1(): void {
  fill(T_Q4_1, 96, 0x2545f491);
  quantize_q8_0(X, XQ2, 96);
  let same = true;
  for (let b: usize = 0; b < 3; b++) {
    same = same && load<u16>(XQ + b * Q8_1_BYTES) == load<u16>(XQ2 + b * Q8_0_BYTES);
    for (let j: usize = 0; j < 32; j++) same = same && load<u8>(XQ + b * Q8_1_BYTES + 4 + j) == load<u8>(XQ2 + b * Q8_0_BYTES + 2 + j);
  }
  check(same, "quantize_q8_1 d and qs = quantize_q8_0's");
  quantize_q8_0e(X, XE, 96);
  same = true;
  for (let b: usize = 0; b < 3; b++) {
    same = same && load<u16>(XE + b * Q8_0E_BYTES) == load<u16>(XQ2 + b * Q8_0_BYTES);
    let e: i32 = 0;
    for (let j: usize = 0; j < 32; j++) {
      same = same && load<u8>(XE + b * Q8_0E_BYTES + Q8_0E_QS + j) == load<u8>(XQ2 + b * Q8_0_BYTES + 2 + j);
      e += <i32>load<i8>(XQ2 + b * Q8_0_BYTES + 2 + j);
    }
    same = same && <i32>load<i16>(XE + b * Q8_0E_BYTES + Q8_0E_SUM) == e;
  }
  check(same, "quantize_q8_0e d and qs = quantize_q8_0's, e = their sum");
}

export function checkOtherFormats(): void {
  ensureMemory(END);
  checkQ8_1();
  checkFormat(T_Q4_1, "q4_1");
  checkFormat(T_Q5_0, "q5_0");
  checkFormat(T_Q5_1, "q5_1");
  checkFormat(T_Q2_K, "q2_K");
  checkFormat(T_Q3_K, "q3_K");
  checkFormat(T_Q5_K, "q5_K");
}
