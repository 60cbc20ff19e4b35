// The token-tile driver of the matmul kernels that unpack each weight block once for four tokens
// (asm/matmul/legacy.ts and its relaxed flavour, and the SIMD128 K-quants of q2_q3_q5_k.ts):
// tiles of four tokens (lane i = token t + i; a short last tile repeats its last token, whose lanes are
// not stored), each row's blocks in order from acc = 0, so every lane adds its blocks in matvec's order.
//
// The per-block step is a method of a field-less class K (one per kernel file and flavour), called on
// changetype<K>(0): AssemblyScript has no function parameters that inline, but a generic's method call
// on a @final class is direct and @inline folds it into this loop, one copy per export (the weight
// format `wt` is a constant at every call, so each copy keeps only its format's code). K's v128
// constants (up to eight, k.tile_const(wt, i, z)) are made here once per call and kept alive past the loops:
// V8 otherwise rebuilds a constant at each use inside the loop (two to four instructions each).
import { store_lanes } from '../lib/simd';

/**
 * y[t·rows + r] for nTok tokens and r in [r0, r1): per row and tile, acc = k.tokens(wt, acc, p, a0..a3,
 * c0..c7) over the row's nb blocks (p the weight block, wb bytes apart; a_i token i's activation block,
 * xs bytes apart; c_i = k.tile_const(wt, i, z), z = 0 but opaque to the compilers). Each token's activation
 * row is nb·xs bytes.
 */
@inline export function matmul_tiles<K>(wt: i32, w: usize, x: usize, y: usize, rows: i32, nTok: i32, r0: i32, r1: i32, nb: i32, wb: usize, xs: usize, z: i32): void {
  const k = changetype<K>(0);
  const rowBytes = <usize>nb * wb, xBytes = <usize>nb * xs;
  const lastT = nTok - 1;
  const c0 = k.tile_const(wt, 0, z), c1 = k.tile_const(wt, 1, z), c2 = k.tile_const(wt, 2, z), c3 = k.tile_const(wt, 3, z);
  const c4 = k.tile_const(wt, 4, z), c5 = k.tile_const(wt, 5, z), c6 = k.tile_const(wt, 6, z), c7 = k.tile_const(wt, 7, z);
  for (let t = 0; t < nTok; t += 4) {
    const t0 = x + <usize>t * xBytes, t1 = x + <usize>min(t + 1, lastT) * xBytes;
    const t2 = x + <usize>min(t + 2, lastT) * xBytes, t3 = x + <usize>min(t + 3, lastT) * xBytes;
    for (let r = r0; r < r1; r++) {
      let p = w + <usize>r * rowBytes;
      let off: usize = 0;
      let acc = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        acc = k.tokens(wt, acc, p, t0 + off, t1 + off, t2 + off, t3 + off, c0, c1, c2, c3, c4, c5, c6, c7);
        p += wb;
        off += xs;
      }
      // the constants used past the loop (never: z is 0), so they are made once, before it
      if (z != 0) acc = v128.xor(v128.xor(v128.xor(acc, c0), v128.xor(c1, c2)), v128.xor(v128.xor(c3, c4), v128.xor(v128.xor(c5, c6), c7)));
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, acc);
    }
  }
}

// ---- the four-row repacked layouts (q4_Kr4, q6_Kr4, q5_0r4 / q5_1r4, q2_Kr4 / q3_Kr4, both flavours)
//
// Their matvecs and matmuls share these loops: per group of four rows (row i in lane i of a v128; one
// group block per block index: the four rows' blocks, wb bytes each) matvec adds the group blocks' terms
// in order; matmul, per tile of four tokens, adds each group block's terms to the four tokens' running
// sums in y (the block unpacked once for the four tokens), and runs a short last tile by calling matvec
// per token (a call, not another inlined copy: the module must stay small enough to swap over MQTT,
// docs/PROTOCOL.md). K gives the steps:
//   rows4_consts(wt)         how many v128 constants they take (up to ten)
//   rows4_const(wt, i, z)    constant i (z = 0, opaque to the compilers): made once per call before the
//                            loops and kept past them (keep_rows4), as in matmul_tiles
//   block(wt, acc, p, xb, z, c0..c9)             acc + one group block's terms for one token
//   block4(wt, p, a0..a3, y0..y3, z, c0..c9)     those of four tokens, added to their sums at y0..y3
//   matvec(wt, w, x, y, cols, r0, r1)            the flavour's matvec export (a call)
//   tiled(wt)                false: every tile runs matvec's pass per token, inlined (the SIMD128 q4_Kr4
//                            kernels, whose tile step would need more than the 16 vector registers)
// A constant K does not take (i >= rows4_consts) is never used: rows4_const may return any v128.

/** acc with the constants folded in when z != 0 (never): keeps them made once, before the loops. */
@inline function keep_rows4(acc: v128, z: i32, n: i32, c0: v128, c1: v128, c2: v128, c3: v128, c4: v128, c5: v128, c6: v128, c7: v128, c8: v128, c9: v128): v128 {
  if (z == 0) return acc;
  let v = v128.xor(acc, c0);
  if (n > 1) v = v128.xor(v, c1);
  if (n > 2) v = v128.xor(v, c2);
  if (n > 3) v = v128.xor(v, c3);
  if (n > 4) v = v128.xor(v, c4);
  if (n > 5) v = v128.xor(v, c5);
  if (n > 6) v = v128.xor(v, c6);
  if (n > 7) v = v128.xor(v, c7);
  if (n > 8) v = v128.xor(v, c8);
  if (n > 9) v = v128.xor(v, c9);
  return v;
}

/** One token's pass over a group of four rows (nb group blocks from g, 4·wb bytes apart; the token's activation blocks from x, xs bytes apart): the rows' results stored at yr. */
@inline function rows4_pass<K>(wt: i32, g: usize, x: usize, yr: usize, nb: i32, wb: usize, xs: usize, z: i32, c0: v128, c1: v128, c2: v128, c3: v128, c4: v128, c5: v128, c6: v128, c7: v128, c8: v128, c9: v128): void {
  const k = changetype<K>(0);
  let p = g;
  let xb = x;
  let acc = f32x4.splat(0);
  for (let b = 0; b < nb; b++) {
    acc = k.block(wt, acc, p, xb, z, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9);
    p += wb << 2;
    xb += xs;
  }
  v128.store(yr, keep_rows4(acc, z, k.rows4_consts(wt), c0, c1, c2, c3, c4, c5, c6, c7, c8, c9));
}

/**
 * matvec over the groups of four rows in [r0, r1) (multiples of 4) of the repacked matrix at w (nb
 * blocks of wb bytes per row) and the nb activation blocks at x (xs bytes each): y[r].
 */
@inline export function matvec_rows4<K>(wt: i32, w: usize, x: usize, y: usize, r0: i32, r1: i32, nb: i32, wb: usize, xs: usize, z: i32): void {
  const k = changetype<K>(0);
  const rowBytes = <usize>nb * wb;
  const c0 = k.rows4_const(wt, 0, z), c1 = k.rows4_const(wt, 1, z), c2 = k.rows4_const(wt, 2, z), c3 = k.rows4_const(wt, 3, z), c4 = k.rows4_const(wt, 4, z);
  const c5 = k.rows4_const(wt, 5, z), c6 = k.rows4_const(wt, 6, z), c7 = k.rows4_const(wt, 7, z), c8 = k.rows4_const(wt, 8, z), c9 = k.rows4_const(wt, 9, z);
  for (let r = r0; r < r1; r += 4) {
    rows4_pass<K>(wt, w + <usize>r * rowBytes, x, y + (<usize>r << 2), nb, wb, xs, z, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9);
  }
}

/**
 * matmul over the groups of four rows in [r0, r1) (multiples of 4), nTok tokens (token t's activation
 * row nb·xs bytes after token t − 1's): y[t·rows + r]. Each token's terms added in block order from 0,
 * as matvec's, so equal to it bit for bit (block4 being four of block).
 */
@inline export function matmul_rows4_tiles<K>(wt: i32, w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32, nb: i32, wb: usize, xs: usize, z: i32): void {
  const k = changetype<K>(0);
  const rowBytes = <usize>nb * wb, xBytes = <usize>nb * xs;
  const c0 = k.rows4_const(wt, 0, z), c1 = k.rows4_const(wt, 1, z), c2 = k.rows4_const(wt, 2, z), c3 = k.rows4_const(wt, 3, z), c4 = k.rows4_const(wt, 4, z);
  const c5 = k.rows4_const(wt, 5, z), c6 = k.rows4_const(wt, 6, z), c7 = k.rows4_const(wt, 7, z), c8 = k.rows4_const(wt, 8, z), c9 = k.rows4_const(wt, 9, z);
  const yRow = <usize>rows << 2;
  for (let t0 = 0; t0 < nTok; t0 += 4) {
    const t1 = min(t0 + 4, nTok);
    for (let r = r0; r < r1; r += 4) {
      const g = w + <usize>r * rowBytes;
      if (!k.tiled(wt)) {
        // every tile by matvec's pass per token, inlined (a call per group and token measured 1% slower)
        for (let t = t0; t < t1; t++) rows4_pass<K>(wt, g, x + <usize>t * xBytes, y + <usize>t * yRow + (<usize>r << 2), nb, wb, xs, z, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9);
        continue;
      }
      if (t1 - t0 == 4) {
        const y0 = y + <usize>t0 * yRow + (<usize>r << 2), y1 = y0 + yRow, y2 = y1 + yRow, y3 = y2 + yRow;
        const zero = f32x4.splat(0);
        v128.store(y0, zero);
        v128.store(y1, zero);
        v128.store(y2, zero);
        v128.store(y3, zero);
        const a0 = x + <usize>t0 * xBytes;
        for (let b = 0; b < nb; b++) {
          const o = <usize>b * xs;
          k.block4(wt, g + <usize>b * (wb << 2), a0 + o, a0 + xBytes + o, a0 + 2 * xBytes + o, a0 + 3 * xBytes + o, y0, y1, y2, y3, z, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9);
        }
        continue;
      }
      for (let t = t0; t < t1; t++) k.matvec(wt, w, x + <usize>t * xBytes, y + <usize>t * yRow, cols, r, r + 4);
    }
  }
  // the constants used past the loops (never: z is 0), or V8 11 makes them inside the block loop
  if (k.tiled(wt) && z != 0) v128.store(y, keep_rows4(v128.load(y), z, k.rows4_consts(wt), c0, c1, c2, c3, c4, c5, c6, c7, c8, c9));
}
