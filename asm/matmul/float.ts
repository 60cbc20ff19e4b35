// f32 and f16 weights with f32 activations. Each (row, token) pair keeps one f32x4 accumulator over
// cols in steps of four (f16: eight, as two steps), reduced as (a0 + a2) + (a1 + a3), then the tail
// (cols need not be a multiple of four: the block size of these types is 1) is added value by value.
// matvec works on four rows per pass (the i-th rows of the four quarters of [r0, r1), so each lane reads
// one long sequential stream) and matmul on four tokens per pass, lane i being row or token i, with
// the same operations in the same order, so matmul over nTok tokens gives exactly nTok matvec results.
import { F16_EXP, F16_K112, F16_MS, F16_SPLIT, F32_EXP, f16_to_f32, finite_halves_s_to_f32x4_k, halves_s_to_f32x4, halves_to_f32x4, placed_high, placed_low, placed_to_f32x4_k, split_high, split_low } from '../lib/f16';
import { gather_f32, gather_halves, reduce4_f32, row_ptr, store_lanes, store_quarters } from '../lib/simd';


// ---- f32 -------------------------------------------------------------------------------------

/** Four weight rows (p0..p3) · one x: lane i = row i. */
@inline function dot4_f32(p0: usize, p1: usize, p2: usize, p3: usize, x: usize, cols: i32): v128 {
  const n4 = <usize>(cols & ~3) << 2;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  for (let i: usize = 0; i < n4; i += 16) {
    const xv = v128.load(x + i);
    a0 = f32x4.add(a0, f32x4.mul(v128.load(p0 + i), xv));
    a1 = f32x4.add(a1, f32x4.mul(v128.load(p1 + i), xv));
    a2 = f32x4.add(a2, f32x4.mul(v128.load(p2 + i), xv));
    a3 = f32x4.add(a3, f32x4.mul(v128.load(p3 + i), xv));
  }
  let s = reduce4_f32(a0, a1, a2, a3);
  for (let i = n4, end = <usize>cols << 2; i < end; i += 4) {
    s = f32x4.add(s, f32x4.mul(gather_f32(p0 + i, p1 + i, p2 + i, p3 + i), v128.load32_splat(x + i)));
  }
  return s;
}

/** matvec_f32(w, x: f32*, y: f32*, cols, r0, r1): y[r] = Σ w[r][i]·x[i] for r in [r0, r1). */
export function matvec_f32(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const rowBytes = <usize>cols << 2;
  const last = r1 - 1;
  const q = (r1 - r0 + 3) >> 2;
  for (let i = 0; i < q; i++) {
    const r = r0 + i;
    const p0 = row_ptr(w, r, last, rowBytes), p1 = row_ptr(w, r + q, last, rowBytes);
    const p2 = row_ptr(w, r + 2 * q, last, rowBytes), p3 = row_ptr(w, r + 3 * q, last, rowBytes);
    store_quarters(y, r, q, r1, dot4_f32(p0, p1, p2, p3, x, cols));
  }
}

/**
 * matmul_f32(w, x: f32*, y: f32*, cols, rows, nTok, r0, r1): y[t·rows + r] = row r · x row t.
 * Tiles of two rows × four tokens: eight accumulators, each x vector loaded once for two rows (x rows
 * longer than ~2000 floats do not stay in L1, and one row per pass would be bound by L2 reads). The two
 * rows come from the two halves of [r0, r1), so the weights stream from two places at once: with the two
 * rows side by side, a matrix read from DRAM ran at ~10 GB/s, 0.9-1.1x four matvec calls; with halves
 * 1.4-2.6x four matvec calls at 2048×5632 and 32000×768, and a 110M f32 model's 4-sequence decode step
 * took 28 instead of 62 ms (one thread, AMD EPYC). Each (row, token) pair still gets exactly the
 * operations of matvec_f32. (matmul_f16 tiles the same way now that its conversion is cheap: below.)
 */
export function matmul_f32(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const rowBytes = <usize>cols << 2;
  const n4 = <usize>(cols & ~3) << 2, end = <usize>cols << 2;
  const last = r1 - 1;
  const half = (r1 - r0 + 1) >> 1; // row r pairs with r + half (past r1 on an odd range's last pass: dropped)
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const x0 = row_ptr(x, t, lastT, rowBytes), x1 = row_ptr(x, t + 1, lastT, rowBytes);
    const x2 = row_ptr(x, t + 2, lastT, rowBytes), x3 = row_ptr(x, t + 3, lastT, rowBytes);
    for (let r = r0; r < r0 + half; r++) {
      const pa = w + <usize>r * rowBytes, pb = row_ptr(w, r + half, last, rowBytes);
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
      for (let i: usize = 0; i < n4; i += 16) {
        const wa = v128.load(pa + i), wb = v128.load(pb + i);
        let xv = v128.load(x0 + i);
        a0 = f32x4.add(a0, f32x4.mul(wa, xv));
        b0 = f32x4.add(b0, f32x4.mul(wb, xv));
        xv = v128.load(x1 + i);
        a1 = f32x4.add(a1, f32x4.mul(wa, xv));
        b1 = f32x4.add(b1, f32x4.mul(wb, xv));
        xv = v128.load(x2 + i);
        a2 = f32x4.add(a2, f32x4.mul(wa, xv));
        b2 = f32x4.add(b2, f32x4.mul(wb, xv));
        xv = v128.load(x3 + i);
        a3 = f32x4.add(a3, f32x4.mul(wa, xv));
        b3 = f32x4.add(b3, f32x4.mul(wb, xv));
      }
      let sa = reduce4_f32(a0, a1, a2, a3), sb = reduce4_f32(b0, b1, b2, b3);
      for (let i = n4; i < end; i += 4) {
        const xv = gather_f32(x0 + i, x1 + i, x2 + i, x3 + i);
        sa = f32x4.add(sa, f32x4.mul(v128.load32_splat(pa + i), xv));
        sb = f32x4.add(sb, f32x4.mul(v128.load32_splat(pb + i), xv));
      }
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, sa);
      if (r + half < r1) store_lanes(y + ((<usize>t * rows + r + half) << 2), <usize>rows, t, nTok, sb);
    }
  }
}

/** get_row_f32(w, out: f32*, cols, row): a copy of the row. */
export function get_row_f32(w: usize, out: usize, cols: i32, row: i32): void {
  const p = w + <usize>row * (<usize>cols << 2);
  const n4 = <usize>(cols & ~3) << 2;
  for (let i: usize = 0; i < n4; i += 16) v128.store(out + i, v128.load(p + i));
  for (let i = n4, end = <usize>cols << 2; i < end; i += 4) store<u32>(out + i, load<u32>(p + i));
}

// ---- f16 -------------------------------------------------------------------------------------
// Two variants of each f16 kernel: `_f16` converts every half exactly, infinities and NaN included;
// `_f16f` ("finite") is only correct when no half is an infinity or NaN: the host runs a matrix on it
// only after checking that (finiteHalves, host/backends/wasm/layouts.ts). Every result bit is the same.
//
// matvec: each half's bits are placed in an f32 (lib/f16.ts, split_low..placed_high: five operations
// per eight halves) and that placed value P (f32(w)·2^-112 exactly) is multiplied by x·2^112 instead
// of f32(w) by x: the same real product, so the same rounded f32, as long as x·2^112 is exact, which
// holds when every |x| < 2^16 (each kernel checks x first and otherwise runs the exact conversion,
// below). That moves the ×2^112 from every weight to the activation, which four rows share: per eight
// halves of a row 9 vector operations instead of 13 (the kernel is bound by them, not by memory).
// `_f16` also keeps the largest |half| of the four rows and redoes the four rows on the exact path when
// one is an infinity or NaN (two more operations per eight halves).

// The conversion's constants (lib/f16.ts) are made once per call and passed down: inside a loop V8
// rebuilds a v128 constant at every use (three instructions), which made these kernels bound by
// constant-building rather than by memory. They are splats of `c | z` (z = cols >> 31: always 0, but
// not known to the compiler), so they stay in registers, and each kernel folds them into a result in a
// branch never taken (keep).

/** Halves sign-extended to 32-bit lanes -> floats; finite: the 3-operation path for finite halves. */
@inline function f16_lanes(h: v128, finite: bool, ms: v128, k112: v128, e16: v128, e32: v128): v128 {
  return finite ? finite_halves_s_to_f32x4_k(h, ms, k112) : placed_to_f32x4_k(i32x4.shl(h, 13), ms, k112, e16, e32);
}

/**
 * Halves 4..7 of h -> floats, as f16_lanes(i32x4.extend_high_i16x8_s(h)): each half duplicated into
 * both halves of its i32 lane and shifted right by 3 (arithmetic) is the half placed at bits 13..28
 * with its sign smeared above, which is step 1 (lib/f16.ts) but for the low 13 bits, which the mask
 * clears: two operations instead of three.
 */
@inline function f16_high_lanes(h: v128, finite: bool, ms: v128, k112: v128, e16: v128, e32: v128): v128 {
  const t = i32x4.shr_s(i16x8.shuffle(h, h, 4, 4, 5, 5, 6, 6, 7, 7), 3);
  return finite ? f32x4.mul(v128.and(t, ms), k112) : placed_to_f32x4_k(t, ms, k112, e16, e32);
}

/** Placed halves (lib/f16.ts: placed_low, placed_high) -> floats; finite: step 2's multiply alone. */
@inline function f16_placed(t: v128, finite: bool, ms: v128, k112: v128, e16: v128, e32: v128): v128 {
  return finite ? f32x4.mul(t, k112) : placed_to_f32x4_k(t, ms, k112, e16, e32);
}

/** v, with the constants folded in when z != 0 (never): keeps them computed once, before the loops. */
@inline function keep(v: v128, z: i32, ms: v128, k112: v128, e16: v128, e32: v128): v128 {
  return z != 0 ? v128.xor(v, v128.xor(v128.xor(ms, k112), v128.xor(e16, e32))) : v;
}

/** Four f16 weight rows · one f32 x: lane i = row i, every half converted to f32 and multiplied by x. */
@inline function dot4_f16(p0: usize, p1: usize, p2: usize, p3: usize, x: usize, cols: i32, finite: bool, ms: v128, k112: v128, e16: v128, e32: v128): v128 {
  const n8 = <usize>(cols & ~7) << 1; // bytes of weights in whole groups of eight
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  for (let i: usize = 0; i < n8; i += 16) {
    const xl = v128.load(x + (i << 1)), xh = v128.load(x + (i << 1), 16);
    const h0 = v128.load(p0 + i), h1 = v128.load(p1 + i), h2 = v128.load(p2 + i), h3 = v128.load(p3 + i);
    a0 = f32x4.add(a0, f32x4.mul(f16_lanes(i32x4.extend_low_i16x8_s(h0), finite, ms, k112, e16, e32), xl));
    a1 = f32x4.add(a1, f32x4.mul(f16_lanes(i32x4.extend_low_i16x8_s(h1), finite, ms, k112, e16, e32), xl));
    a2 = f32x4.add(a2, f32x4.mul(f16_lanes(i32x4.extend_low_i16x8_s(h2), finite, ms, k112, e16, e32), xl));
    a3 = f32x4.add(a3, f32x4.mul(f16_lanes(i32x4.extend_low_i16x8_s(h3), finite, ms, k112, e16, e32), xl));
    a0 = f32x4.add(a0, f32x4.mul(f16_high_lanes(h0, finite, ms, k112, e16, e32), xh));
    a1 = f32x4.add(a1, f32x4.mul(f16_high_lanes(h1, finite, ms, k112, e16, e32), xh));
    a2 = f32x4.add(a2, f32x4.mul(f16_high_lanes(h2, finite, ms, k112, e16, e32), xh));
    a3 = f32x4.add(a3, f32x4.mul(f16_high_lanes(h3, finite, ms, k112, e16, e32), xh));
  }
  return f16_tail(reduce4_f32(a0, a1, a2, a3), p0, p1, p2, p3, x, n8, cols);
}

/** The sum s of whole groups of eight, plus the last cols % 8 products one column at a time. */
@inline function f16_tail(s: v128, p0: usize, p1: usize, p2: usize, p3: usize, x: usize, n8: usize, cols: i32): v128 {
  for (let i = n8, end = <usize>cols << 1; i < end; i += 2) {
    const wv = halves_to_f32x4(gather_halves(p0 + i, p1 + i, p2 + i, p3 + i));
    s = f32x4.add(s, f32x4.mul(wv, v128.load32_splat(x + (i << 1))));
  }
  return s;
}

/**
 * dot4_f16 with each half placed (P) and x scaled by 2^112 (xs): P·xs is f32(w)·x bit for bit when every
 * |x| < 2^16 (the caller checks). Not finite: a row of the four with an infinity or NaN half (the
 * largest |half| at or above 0x7c00) is redone on dot4_f16's exact conversion.
 */
@inline function dot4_f16_scaled(p0: usize, p1: usize, p2: usize, p3: usize, x: usize, cols: i32, finite: bool, split: v128, abs: v128, ms: v128, k112: v128, e16: v128, e32: v128): v128 {
  const n8 = <usize>(cols & ~7) << 1;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let big = i16x8.splat(0);
  for (let i: usize = 0; i < n8; i += 16) {
    const xl = f32x4.mul(v128.load(x + (i << 1)), k112), xh = f32x4.mul(v128.load(x + (i << 1), 16), k112);
    const h0 = v128.load(p0 + i), h1 = v128.load(p1 + i), h2 = v128.load(p2 + i), h3 = v128.load(p3 + i);
    if (!finite) big = i16x8.max_u(i16x8.max_u(i16x8.max_u(big, v128.and(h0, abs)), i16x8.max_u(v128.and(h1, abs), v128.and(h2, abs))), v128.and(h3, abs));
    let lo = split_low(h0), hi = split_high(h0, split);
    a0 = f32x4.add(a0, f32x4.mul(placed_low(lo, hi), xl));
    a0 = f32x4.add(a0, f32x4.mul(placed_high(lo, hi), xh));
    lo = split_low(h1); hi = split_high(h1, split);
    a1 = f32x4.add(a1, f32x4.mul(placed_low(lo, hi), xl));
    a1 = f32x4.add(a1, f32x4.mul(placed_high(lo, hi), xh));
    lo = split_low(h2); hi = split_high(h2, split);
    a2 = f32x4.add(a2, f32x4.mul(placed_low(lo, hi), xl));
    a2 = f32x4.add(a2, f32x4.mul(placed_high(lo, hi), xh));
    lo = split_low(h3); hi = split_high(h3, split);
    a3 = f32x4.add(a3, f32x4.mul(placed_low(lo, hi), xl));
    a3 = f32x4.add(a3, f32x4.mul(placed_high(lo, hi), xh));
  }
  if (!finite && v128.any_true(i16x8.ge_u(big, i16x8.splat(0x7c00)))) return dot4_f16(p0, p1, p2, p3, x, cols, false, ms, k112, e16, e32);
  return f16_tail(reduce4_f32(a0, a1, a2, a3), p0, p1, p2, p3, x, n8, cols);
}

/**
 * Whether x·2^112 is exact for each of the n floats at x: every |x| < 2^16 (infinities and NaN
 * excluded), compared as bits.
 */
@inline function scalable(x: usize, n: i32, abs: v128): bool {
  const n4 = <usize>(n & ~3) << 2;
  let m = i32x4.splat(0);
  for (let i: usize = 0; i < n4; i += 16) m = i32x4.max_u(m, v128.and(v128.load(x + i), abs));
  for (let i = n4, end = <usize>n << 2; i < end; i += 4) m = i32x4.max_u(m, v128.and(v128.load32_splat(x + i), abs));
  return i32x4.all_true(i32x4.lt_u(m, i32x4.splat(0x47800000))); // 2^16's bits
}

/** matvec_f16(w, x: f32*, y: f32*, cols, r0, r1). */
export function matvec_f16(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_f16_any(w, x, y, cols, r0, r1, false);
}

/** matvec_f16f: matvec_f16 for matrices without infinite or NaN halves (see above). */
export function matvec_f16f(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_f16_any(w, x, y, cols, r0, r1, true);
}

/** y[r] for r in [r0, r1): four rows per pass, lane k from the k-th quarter of the rows (four long sequential streams). */
@inline function matvec_f16_any(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32, finite: bool): void {
  const rowBytes = <usize>cols << 1;
  const z = cols >> 31;
  const ms = i32x4.splat(F16_MS | z), k112 = i32x4.splat(F16_K112 | z), e16 = i32x4.splat(F16_EXP | z), e32 = i32x4.splat(F32_EXP | z);
  const split = i16x8.splat(<i16>(F16_SPLIT | z)), abs16 = i16x8.splat(<i16>(0x7fff | z));
  const last = r1 - 1;
  const q = (r1 - r0 + 3) >> 2;
  if (scalable(x, cols, i32x4.splat(0x7fffffff | z))) {
    for (let i = 0; i < q; i++) {
      const r = r0 + i;
      const p0 = row_ptr(w, r, last, rowBytes), p1 = row_ptr(w, r + q, last, rowBytes);
      const p2 = row_ptr(w, r + 2 * q, last, rowBytes), p3 = row_ptr(w, r + 3 * q, last, rowBytes);
      const s = dot4_f16_scaled(p0, p1, p2, p3, x, cols, finite, split, abs16, ms, k112, e16, e32);
      store_quarters(y, r, q, r1, keep(s, z, v128.xor(ms, split), v128.xor(k112, abs16), e16, e32));
    }
    return;
  }
  for (let i = 0; i < q; i++) {
    const r = r0 + i;
    const p0 = row_ptr(w, r, last, rowBytes), p1 = row_ptr(w, r + q, last, rowBytes);
    const p2 = row_ptr(w, r + 2 * q, last, rowBytes), p3 = row_ptr(w, r + 3 * q, last, rowBytes);
    store_quarters(y, r, q, r1, keep(dot4_f16(p0, p1, p2, p3, x, cols, finite, ms, k112, e16, e32), z, ms, k112, e16, e32));
  }
}

/** One f16 weight row · four f32 x rows: lane i = token i, the same arithmetic as dot4_f16 (matmul's exact path for rows with an infinity or NaN). */
@inline function dot4t_f16(p: usize, x0: usize, x1: usize, x2: usize, x3: usize, cols: i32, finite: bool, split: v128, ms: v128, k112: v128, e16: v128, e32: v128): v128 {
  const n8 = <usize>(cols & ~7) << 1;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  for (let i: usize = 0; i < n8; i += 16) {
    const h = v128.load(p + i);
    const lo = split_low(h), hi = split_high(h, split);
    const wl = f16_placed(placed_low(lo, hi), finite, ms, k112, e16, e32), wh = f16_placed(placed_high(lo, hi), finite, ms, k112, e16, e32);
    const j = i << 1;
    a0 = f32x4.add(a0, f32x4.mul(wl, v128.load(x0 + j)));
    a1 = f32x4.add(a1, f32x4.mul(wl, v128.load(x1 + j)));
    a2 = f32x4.add(a2, f32x4.mul(wl, v128.load(x2 + j)));
    a3 = f32x4.add(a3, f32x4.mul(wl, v128.load(x3 + j)));
    a0 = f32x4.add(a0, f32x4.mul(wh, v128.load(x0 + j, 16)));
    a1 = f32x4.add(a1, f32x4.mul(wh, v128.load(x1 + j, 16)));
    a2 = f32x4.add(a2, f32x4.mul(wh, v128.load(x2 + j, 16)));
    a3 = f32x4.add(a3, f32x4.mul(wh, v128.load(x3 + j, 16)));
  }
  return f16t_tail(reduce4_f32(a0, a1, a2, a3), p, x0, x1, x2, x3, n8, cols);
}

/** The sum s of one row's whole groups of eight for four tokens, plus the last cols % 8 products one column at a time. */
@inline function f16t_tail(s: v128, p: usize, x0: usize, x1: usize, x2: usize, x3: usize, n8: usize, cols: i32): v128 {
  for (let i = n8, end = <usize>cols << 1; i < end; i += 2) {
    const j = i << 1;
    const wv = f32x4.splat(f16_to_f32(load<u16>(p + i)));
    s = f32x4.add(s, f32x4.mul(wv, gather_f32(x0 + j, x1 + j, x2 + j, x3 + j)));
  }
  return s;
}

/** matmul_f16(w, x: f32*, y: f32*, cols, rows, nTok, r0, r1). */
export function matmul_f16(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_f16_any(w, x, y, cols, rows, nTok, r0, r1, false);
}

/** matmul_f16f: matmul_f16 for matrices without infinite or NaN halves (see above). */
export function matmul_f16f(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_f16_any(w, x, y, cols, rows, nTok, r0, r1, true);
}

/**
 * Tiles of two rows × four tokens (as matmul_f32: the rows from the two halves of [r0, r1), each x
 * vector loaded once for both), each half converted once for the four tokens: finite halves by the
 * split placement × 2^112. Not finite: the largest |half| of the two rows is watched (h << 1 drops
 * the sign: 0xf800 and up is an infinity or NaN), and a pair of rows with one is redone row by row on
 * the exact conversion (dot4t_f16). Each (row, token) pair gets exactly dot4t_f16's operations.
 */
@inline function matmul_f16_any(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32, finite: bool): void {
  const rowBytes = <usize>cols << 1, xBytes = <usize>cols << 2;
  const n8 = <usize>(cols & ~7) << 1;
  const z = cols >> 31;
  const ms = i32x4.splat(F16_MS | z), k112 = i32x4.splat(F16_K112 | z), e16 = i32x4.splat(F16_EXP | z), e32 = i32x4.splat(F32_EXP | z);
  const split = i16x8.splat(<i16>(F16_SPLIT | z));
  const last = r1 - 1;
  const half = (r1 - r0 + 1) >> 1; // row r pairs with r + half (past r1 on an odd range's last pass: dropped)
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const x0 = row_ptr(x, t, lastT, xBytes), x1 = row_ptr(x, t + 1, lastT, xBytes);
    const x2 = row_ptr(x, t + 2, lastT, xBytes), x3 = row_ptr(x, t + 3, lastT, xBytes);
    for (let r = r0; r < r0 + half; r++) {
      const pa = w + <usize>r * rowBytes, pb = row_ptr(w, r + half, last, rowBytes);
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
      let big = i16x8.splat(0);
      for (let i: usize = 0; i < n8; i += 16) {
        const ha = v128.load(pa + i), hb = v128.load(pb + i);
        if (!finite) big = i16x8.max_u(big, i16x8.max_u(i16x8.shl(ha, 1), i16x8.shl(hb, 1)));
        let lo = split_low(ha), hi = split_high(ha, split);
        const wal = f32x4.mul(placed_low(lo, hi), k112), wah = f32x4.mul(placed_high(lo, hi), k112);
        lo = split_low(hb); hi = split_high(hb, split);
        const wbl = f32x4.mul(placed_low(lo, hi), k112), wbh = f32x4.mul(placed_high(lo, hi), k112);
        const j = i << 1;
        let xv = v128.load(x0 + j);
        a0 = f32x4.add(a0, f32x4.mul(wal, xv));
        b0 = f32x4.add(b0, f32x4.mul(wbl, xv));
        xv = v128.load(x1 + j);
        a1 = f32x4.add(a1, f32x4.mul(wal, xv));
        b1 = f32x4.add(b1, f32x4.mul(wbl, xv));
        xv = v128.load(x2 + j);
        a2 = f32x4.add(a2, f32x4.mul(wal, xv));
        b2 = f32x4.add(b2, f32x4.mul(wbl, xv));
        xv = v128.load(x3 + j);
        a3 = f32x4.add(a3, f32x4.mul(wal, xv));
        b3 = f32x4.add(b3, f32x4.mul(wbl, xv));
        xv = v128.load(x0 + j, 16);
        a0 = f32x4.add(a0, f32x4.mul(wah, xv));
        b0 = f32x4.add(b0, f32x4.mul(wbh, xv));
        xv = v128.load(x1 + j, 16);
        a1 = f32x4.add(a1, f32x4.mul(wah, xv));
        b1 = f32x4.add(b1, f32x4.mul(wbh, xv));
        xv = v128.load(x2 + j, 16);
        a2 = f32x4.add(a2, f32x4.mul(wah, xv));
        b2 = f32x4.add(b2, f32x4.mul(wbh, xv));
        xv = v128.load(x3 + j, 16);
        a3 = f32x4.add(a3, f32x4.mul(wah, xv));
        b3 = f32x4.add(b3, f32x4.mul(wbh, xv));
      }
      let sa = reduce4_f32(a0, a1, a2, a3), sb = reduce4_f32(b0, b1, b2, b3);
      if (!finite && v128.any_true(i16x8.ge_u(big, i16x8.splat(<i16>0xf800)))) {
        sa = dot4t_f16(pa, x0, x1, x2, x3, cols, false, split, ms, k112, e16, e32);
        sb = dot4t_f16(pb, x0, x1, x2, x3, cols, false, split, ms, k112, e16, e32);
      } else {
        sa = f16t_tail(sa, pa, x0, x1, x2, x3, n8, cols);
        sb = f16t_tail(sb, pb, x0, x1, x2, x3, n8, cols);
      }
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, keep(sa, z, v128.xor(ms, split), k112, e16, e32));
      if (r + half < r1) store_lanes(y + ((<usize>t * rows + r + half) << 2), <usize>rows, t, nTok, sb);
    }
  }
}

/** get_row_f16(w, out: f32*, cols, row): the row's halves as floats, exactly. */
export function get_row_f16(w: usize, out: usize, cols: i32, row: i32): void {
  const p = w + <usize>row * (<usize>cols << 1);
  const n8 = <usize>(cols & ~7) << 1;
  for (let i: usize = 0; i < n8; i += 16) {
    const h = v128.load(p + i);
    v128.store(out + (i << 1), halves_s_to_f32x4(i32x4.extend_low_i16x8_s(h)));
    v128.store(out + (i << 1), halves_s_to_f32x4(i32x4.extend_high_i16x8_s(h)), 16);
  }
  for (let i = n8, end = <usize>cols << 1; i < end; i += 2) store<f32>(out + (i << 1), f16_to_f32(load<u16>(p + i)));
}
