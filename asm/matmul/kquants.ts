// matvec and matmul for the K-quant weights (q4_K, q6_K) on either activation format, q8_K (ggml's,
// act_q8_k.ts) or q16_K (wisp's, act_q16_k.ts): one driver walks rows, tokens and super-blocks, the
// block dot products come from the activation format's file. matvec does one row at a time; matmul
// four tokens per pass, each weight block read once for the four (same operations lane-wise: equal
// results bit for bit).
import { Q16_K_BYTES, Q4_K_BLOCK, Q4_K_BYTES, Q6_K_BYTES, Q8_K_BYTES } from '../lib/blocks';
import { store_lanes } from '../lib/simd';
import * as x8 from './act_q8_k';
import * as x16 from './act_q16_k';

// The weight and activation formats of a driver call (always constants: each export compiles to its own code).
const W_Q4_K: i32 = 0;
const W_Q6_K: i32 = 1;
const X_Q8_K: i32 = 0;
const X_Q16_K: i32 = 1;

@inline function block(wt: i32, xt: i32, p: usize, xb: usize, z: i32): f32 {
  if (xt == X_Q8_K) return wt == W_Q4_K ? x8.block_q4_K(p, xb, z) : x8.block_q6_K(p, xb, z);
  return wt == W_Q4_K ? x16.block_q4_K(p, xb, z) : x16.block_q6_K(p, xb, z);
}

@inline function tokens(wt: i32, xt: i32, acc: v128, p: usize, a0: usize, a1: usize, a2: usize, a3: usize): v128 {
  if (xt == X_Q8_K) return wt == W_Q4_K ? x8.tokens_q4_K(acc, p, a0, a1, a2, a3) : x8.tokens_q6_K(acc, p, a0, a1, a2, a3);
  return wt == W_Q4_K ? x16.tokens_q4_K(acc, p, a0, a1, a2, a3) : x16.tokens_q6_K(acc, p, a0, a1, a2, a3);
}

/** One weight row (nb blocks at p) · one activation row at xb. */
@inline function dot_row(wt: i32, xt: i32, p: usize, xb: usize, nb: i32, z: i32): f32 {
  const wb: usize = wt == W_Q4_K ? Q4_K_BYTES : Q6_K_BYTES, xs: usize = xt == X_Q8_K ? Q8_K_BYTES : Q16_K_BYTES;
  let acc: f32 = 0;
  for (let b = 0; b < nb; b++) {
    acc += block(wt, xt, p, xb, z);
    p += wb;
    xb += xs;
  }
  return acc;
}

@inline function matvec_any(wt: i32, xt: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const nb = cols / Q4_K_BLOCK;
  const rowBytes = <usize>nb * (wt == W_Q4_K ? Q4_K_BYTES : Q6_K_BYTES);
  const z = cols >> 31;
  for (let r = r0; r < r1; r++) store<f32>(y + (<usize>r << 2), dot_row(wt, xt, w + <usize>r * rowBytes, x, nb, z));
}

@inline function matmul_any(wt: i32, xt: i32, w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const wb: usize = wt == W_Q4_K ? Q4_K_BYTES : Q6_K_BYTES, xs: usize = xt == X_Q8_K ? Q8_K_BYTES : Q16_K_BYTES;
  const nb = cols / Q4_K_BLOCK;
  const rowBytes = <usize>nb * wb, xBytes = <usize>nb * xs;
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const t0 = x + <usize>t * xBytes, t1 = x + <usize>min(t + 1, lastT) * xBytes;
    const t2 = x + <usize>min(t + 2, lastT) * xBytes, t3 = x + <usize>min(t + 3, lastT) * xBytes;
    for (let r = r0; r < r1; r++) {
      let p = w + <usize>r * rowBytes;
      let off: usize = 0;
      let acc = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        acc = tokens(wt, xt, acc, p, t0 + off, t1 + off, t2 + off, t3 + off);
        p += wb;
        off += xs;
      }
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, acc);
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
