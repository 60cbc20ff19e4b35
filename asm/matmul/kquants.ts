// matvec and matmul for the K-quant weights (q4_K, q6_K) on either activation format, q8_K (ggml's,
// act_q8_k.ts) or q16_K (wisp's, act_q16_k.ts): one driver walks rows, tokens and super-blocks, the
// block dot products come from the activation format's file. matvec does one row at a time; matmul
// four tokens per pass, each weight block read once for the four (same operations lane-wise: equal
// results bit for bit).
import { Q16_K_BYTES, Q16_K_Q, Q4_K_BLOCK, Q4_K_BYTES, Q4_K_DMIN, Q4_K_QS, Q6_K_BYTES, Q8_K_BYTES, Q8_K_QS } from '../lib/blocks';
import { f16_to_f32 } from '../lib/f16';
import { q4k_scales } from '../lib/quants';
import { gather_f32, store_lanes } from '../lib/simd';
import * as x8 from './act_q8_k';
import * as x16 from './act_q16_k';

// The weight and activation formats of a driver call (always constants: each export compiles to its own code).
const W_Q4_K: i32 = 0;
const W_Q6_K: i32 = 1;
const X_Q8_K: i32 = 0;
const X_Q16_K: i32 = 1;

// The kernels' byte masks (splats of 0x0f, 0x30, 0x20), made once per call from `z` (cols >> 31: 0, but
// not known to the compiler) and passed down: V8 13 rebuilds a v128 constant at every use in a loop.

@inline function block(wt: i32, xt: i32, p: usize, xb: usize, z: i32, m0f: v128, m30: v128, m20: v128): f32 {
  if (xt == X_Q8_K) return wt == W_Q4_K ? x8.block_q4_K(p, xb, z, m0f) : x8.block_q6_K(p, xb, z, m0f, m30);
  return wt == W_Q4_K ? x16.block_q4_K(p, xb, z, m0f) : x16.block_q6_K(p, xb, z, m0f, m30, m20);
}

/** Σ q·qx over 32 values: q = the u16 lanes w0..w3, qx = the 32 activations at xq. */
@inline function dot32(xt: i32, w0: v128, w1: v128, w2: v128, w3: v128, xq: usize): v128 {
  return xt == X_Q8_K ? x8.dot32(w0, w1, w2, w3, xq) : x16.dot32(w0, w1, w2, w3, xq);
}

/**
 * acc + the q4_K block at p · the activation blocks at a0..a3 (lane i = token i): each sub-block
 * unpacked once for the four tokens; per token the operations of the activation format's block_q4_K.
 */
@inline function tokens_q4_K(xt: i32, acc: v128, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, m: v128): v128 {
  const scales = q4k_scales(p);
  let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
  for (let j = 0; j < 8; j++) {
    // sub-block j: chunk j/2, low nibbles when j is even, high when odd
    const q = p + Q4_K_QS + (<usize>(j >> 1) << 5);
    const shift = (j & 1) << 2;
    const w0 = v128.and(i16x8.shr_u(v128.load8x8_u(q), shift), m);
    const w1 = v128.and(i16x8.shr_u(v128.load8x8_u(q, 8), shift), m);
    const w2 = v128.and(i16x8.shr_u(v128.load8x8_u(q, 16), shift), m);
    const w3 = v128.and(i16x8.shr_u(v128.load8x8_u(q, 24), shift), m);
    const sc = i32x4.splat(<i32>(scales >> (<u64>j << 3)) & 0xff);
    // sub-block j's 32 activations: 32 i8 after q8_K's d, or 32 i16 after q16_K's
    const xo = xt == X_Q8_K ? <usize>Q8_K_QS + (<usize>j << 5) : <usize>Q16_K_Q + (<usize>j << 6);
    i0 = i32x4.add(i0, i32x4.mul(dot32(xt, w0, w1, w2, w3, a0 + xo), sc));
    i1 = i32x4.add(i1, i32x4.mul(dot32(xt, w0, w1, w2, w3, a1 + xo), sc));
    i2 = i32x4.add(i2, i32x4.mul(dot32(xt, w0, w1, w2, w3, a2 + xo), sc));
    i3 = i32x4.add(i3, i32x4.mul(dot32(xt, w0, w1, w2, w3, a3 + xo), sc));
  }
  const msum = xt == X_Q8_K ? x8.q4k_msum4(p, a0, a1, a2, a3) : x16.q4k_msum4(p, a0, a1, a2, a3);
  const dx = gather_f32(a0, a1, a2, a3);
  const isum = xt == X_Q8_K ? x8.q4k_isum4(i0, i1, i2, i3) : x16.q4k_isum4(i0, i1, i2, i3);
  const tv = f32x4.mul(isum, f32x4.mul(dx, f32x4.splat(f16_to_f32(load<u16>(p)))));
  const uv = f32x4.mul(f32x4.convert_i32x4_s(msum), f32x4.mul(dx, f32x4.splat(f16_to_f32(load<u16>(p, Q4_K_DMIN)))));
  return f32x4.add(acc, f32x4.sub(tv, uv));
}

@inline function tokens(wt: i32, xt: i32, acc: v128, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, m0f: v128, m30: v128, m20: v128): v128 {
  if (wt == W_Q4_K) return tokens_q4_K(xt, acc, p, a0, a1, a2, a3, m0f);
  return xt == X_Q8_K ? x8.tokens_q6_K(acc, p, a0, a1, a2, a3, m0f, m30) : x16.tokens_q6_K(acc, p, a0, a1, a2, a3, m0f, m30, m20);
}

/** v with the masks folded in when z != 0 (never): keeps them made once, before the loops. */
@inline function keep(v: v128, z: i32, m0f: v128, m30: v128, m20: v128): v128 {
  return z != 0 ? v128.xor(v, v128.xor(m0f, v128.xor(m30, m20))) : v;
}

/** One weight row (nb blocks at p) · one activation row at xb. */
@inline function dot_row(wt: i32, xt: i32, p: usize, xb: usize, nb: i32, z: i32, m0f: v128, m30: v128, m20: v128): f32 {
  const wb: usize = wt == W_Q4_K ? Q4_K_BYTES : Q6_K_BYTES, xs: usize = xt == X_Q8_K ? Q8_K_BYTES : Q16_K_BYTES;
  let acc: f32 = 0;
  for (let b = 0; b < nb; b++) {
    acc += block(wt, xt, p, xb, z, m0f, m30, m20);
    p += wb;
    xb += xs;
  }
  return acc;
}

@inline function matvec_any(wt: i32, xt: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const nb = cols / Q4_K_BLOCK;
  const rowBytes = <usize>nb * (wt == W_Q4_K ? Q4_K_BYTES : Q6_K_BYTES);
  const z = cols >> 31;
  const m0f = i8x16.splat(<i8>(0x0f | z)), m30 = i8x16.splat(<i8>(0x30 | z)), m20 = i8x16.splat(<i8>(0x20 | z));
  for (let r = r0; r < r1; r++) {
    let v = dot_row(wt, xt, w + <usize>r * rowBytes, x, nb, z, m0f, m30, m20);
    if (z != 0) v += f32x4.extract_lane(keep(f32x4.splat(v), z, m0f, m30, m20), 0);
    store<f32>(y + (<usize>r << 2), v);
  }
}

@inline function matmul_any(wt: i32, xt: i32, w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const wb: usize = wt == W_Q4_K ? Q4_K_BYTES : Q6_K_BYTES, xs: usize = xt == X_Q8_K ? Q8_K_BYTES : Q16_K_BYTES;
  const nb = cols / Q4_K_BLOCK;
  const rowBytes = <usize>nb * wb, xBytes = <usize>nb * xs;
  const z = cols >> 31;
  const m0f = i8x16.splat(<i8>(0x0f | z)), m30 = i8x16.splat(<i8>(0x30 | z)), m20 = i8x16.splat(<i8>(0x20 | z));
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const t0 = x + <usize>t * xBytes, t1 = x + <usize>min(t + 1, lastT) * xBytes;
    const t2 = x + <usize>min(t + 2, lastT) * xBytes, t3 = x + <usize>min(t + 3, lastT) * xBytes;
    for (let r = r0; r < r1; r++) {
      let p = w + <usize>r * rowBytes;
      let off: usize = 0;
      let acc = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        acc = tokens(wt, xt, acc, p, t0 + off, t1 + off, t2 + off, t3 + off, m0f, m30, m20);
        p += wb;
        off += xs;
      }
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, keep(acc, z, m0f, m30, m20));
    }
  }
}

/** matvec_q4_K(w, x: q8_K*, y: f32*, cols, r0, r1). */
export function matvec_q4_K(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_any(W_Q4_K, X_Q8_K, w, x, y, cols, r0, r1);
}

/** matmul_q4_K(w, x: q8_K*, y: f32*, cols, rows, nTok, r0, r1). */
export function matmul_q4_K(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_any(W_Q4_K, X_Q8_K, w, x, y, cols, rows, nTok, r0, r1);
}

/** matvec_q6_K(w, x: q8_K*, y: f32*, cols, r0, r1). */
export function matvec_q6_K(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_any(W_Q6_K, X_Q8_K, w, x, y, cols, r0, r1);
}

/** matmul_q6_K(w, x: q8_K*, y: f32*, cols, rows, nTok, r0, r1). */
export function matmul_q6_K(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_any(W_Q6_K, X_Q8_K, w, x, y, cols, rows, nTok, r0, r1);
}

/** matvec_q4_K_x16(w, x: q16_K*, y: f32*, cols, r0, r1). */
export function matvec_q4_K_x16(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_any(W_Q4_K, X_Q16_K, w, x, y, cols, r0, r1);
}

/** matmul_q4_K_x16(w, x: q16_K*, y: f32*, cols, rows, nTok, r0, r1). */
export function matmul_q4_K_x16(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_any(W_Q4_K, X_Q16_K, w, x, y, cols, rows, nTok, r0, r1);
}

/** matvec_q6_K_x16(w, x: q16_K*, y: f32*, cols, r0, r1). */
export function matvec_q6_K_x16(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_any(W_Q6_K, X_Q16_K, w, x, y, cols, r0, r1);
}

/** matmul_q6_K_x16(w, x: q16_K*, y: f32*, cols, rows, nTok, r0, r1). */
export function matmul_q6_K_x16(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_any(W_Q6_K, X_Q16_K, w, x, y, cols, rows, nTok, r0, r1);
}
