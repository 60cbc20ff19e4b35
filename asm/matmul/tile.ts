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
