// q4_K weights (super-blocks of 256: { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }, eight sub-blocks
// of 32 with 6-bit scales sc_j and mins m_j; value = d·sc_j·q − dmin·m_j) with q8_K activations, as
// ggml_vec_dot_q4_K_q8_K:
//   dot = Σ_blocks  dx·d·Σ_j sc_j·(Σ q·qx)  −  dx·dmin·Σ_j m_j·(bsums[2j] + bsums[2j+1])
// with both sums over j done in integers. Sub-block j lives in chunk j/2 (32 bytes of qs): the low
// nibbles for even j, the high nibbles for odd j.
//
// The nibbles are widened to u16 lanes by v128.load8x8_u and split with an AND and a shift; each
// sub-block's four i32x4.dot_i16x8_s partial sums are scaled by sc_j with one i32x4.mul. Per block,
// the integer totals are turned into floats once: t = f32(Σ sc·qq)·(dx·d), u = f32(Σ m·bsum)·(dx·dmin),
// acc += t − u. matvec does one row at a time with those scalars; matmul does four tokens per pass with
// the same operations lane-wise, so the two agree exactly.
import { f16_to_f32 } from '../lib/f16';
import { Q4_K_BYTES, Q8_K_BYTES, QK_K } from '../lib/blocks';
import { gather_f32, hsum_i32, reduce4_i32, store_lanes } from './simd';

// The 12 scale bytes as three little-endian words a (bytes 0-3), b (4-7), c (8-11): scales 0-3 are the
// low 6 bits of a, mins 0-3 the low 6 bits of b; scales 4-7 take their low 4 bits from c's low
// nibbles and their top 2 bits from the top bits of a; mins 4-7 take c's high nibbles and b's top bits
// (ggml's get_scale_min_k4, four at a time).
@inline export function scales_0_3(a: u32): u32 {
  return a & 0x3f3f3f3f;
}
@inline export function scales_4_7(a: u32, c: u32): u32 {
  return (c & 0x0f0f0f0f) | ((a >> 2) & 0x30303030);
}
@inline export function mins_0_3(b: u32): u32 {
  return b & 0x3f3f3f3f;
}
@inline export function mins_4_7(b: u32, c: u32): u32 {
  return ((c >> 4) & 0x0f0f0f0f) | ((b >> 2) & 0x30303030);
}

/** Four bytes (a little-endian word) as four i32 lanes. */
@inline export function bytes_to_i32x4(v: u32): v128 {
  return i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(i32x4.splat(v)));
}

/** The eight mins as i16 lanes. */
@inline function mins_i16x8(p: usize): v128 {
  const b = load<u32>(p, 8), c = load<u32>(p, 12);
  return i16x8.extend_low_i8x16_u(i64x2.splat(<u64>mins_0_3(b) | (<u64>mins_4_7(b, c) << 32)));
}

/** A q8_K block's 16 bsums summed in pairs: the eight 32-value sums as i16 lanes. */
@inline function bsum_pairs(xb: usize): v128 {
  return i16x8.narrow_i32x4_s(
    i32x4.extadd_pairwise_i16x8_s(v128.load(xb, 260)),
    i32x4.extadd_pairwise_i16x8_s(v128.load(xb, 276)),
  );
}

/** Σ q·qx over 32 values: q = the u16 lanes w0..w3, qx = the 32 i8 at xq. */
@inline function dot32(w0: v128, w1: v128, w2: v128, w3: v128, xq: usize): v128 {
  const a = i32x4.add(i32x4.dot_i16x8_s(w0, v128.load8x8_s(xq)), i32x4.dot_i16x8_s(w1, v128.load8x8_s(xq, 8)));
  const b = i32x4.add(i32x4.dot_i16x8_s(w2, v128.load8x8_s(xq, 16)), i32x4.dot_i16x8_s(w3, v128.load8x8_s(xq, 24)));
  return i32x4.add(a, b);
}

/** One chunk (64 values: 32 bytes of qs at q) · the 64 activations at xq, scaled by splat(sc_even), splat(sc_odd). */
@inline function chunk(q: usize, xq: usize, scEven: v128, scOdd: v128): v128 {
  const m = i16x8.splat(0x0f);
  const a0 = v128.load8x8_u(q), a1 = v128.load8x8_u(q, 8), a2 = v128.load8x8_u(q, 16), a3 = v128.load8x8_u(q, 24);
  const lo = dot32(v128.and(a0, m), v128.and(a1, m), v128.and(a2, m), v128.and(a3, m), xq);
  const hi = dot32(i16x8.shr_u(a0, 4), i16x8.shr_u(a1, 4), i16x8.shr_u(a2, 4), i16x8.shr_u(a3, 4), xq + 32);
  return i32x4.add(i32x4.mul(lo, scEven), i32x4.mul(hi, scOdd));
}

/**
 * One q4_K row (nb blocks at p) · one q8_K row at xb. `z` is 0 (cols >> 31) but unknown to the
 * compiler: the branches between chunks split the basic block, so V8 does not issue all 48 loads of a
 * block up front (it schedules loads first within a block) and the chunk's vectors fit in registers.
 */
@inline function dot_row(p: usize, xb: usize, nb: i32, z: i32): f32 {
  let acc: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const a = load<u32>(p, 4), c = load<u32>(p, 12);
    const sl = bytes_to_i32x4(scales_0_3(a)), sh = bytes_to_i32x4(scales_4_7(a, c));
    let isum = chunk(p + 16, xb + 4, i32x4.shuffle(sl, sl, 0, 0, 0, 0), i32x4.shuffle(sl, sl, 1, 1, 1, 1));
    if (z == 0) isum = i32x4.add(isum, chunk(p + 48, xb + 68, i32x4.shuffle(sl, sl, 2, 2, 2, 2), i32x4.shuffle(sl, sl, 3, 3, 3, 3)));
    if (z == 0) isum = i32x4.add(isum, chunk(p + 80, xb + 132, i32x4.shuffle(sh, sh, 0, 0, 0, 0), i32x4.shuffle(sh, sh, 1, 1, 1, 1)));
    if (z == 0) isum = i32x4.add(isum, chunk(p + 112, xb + 196, i32x4.shuffle(sh, sh, 2, 2, 2, 2), i32x4.shuffle(sh, sh, 3, 3, 3, 3)));
    const msum = hsum_i32(i32x4.dot_i16x8_s(mins_i16x8(p), bsum_pairs(xb)));
    const dx = load<f32>(xb);
    const t = <f32>hsum_i32(isum) * (dx * f16_to_f32(load<u16>(p)));
    const u = <f32>msum * (dx * f16_to_f32(load<u16>(p, 2)));
    acc += t - u;
    p += Q4_K_BYTES;
    xb += Q8_K_BYTES;
  }
  return acc;
}

/** matvec_q4_K(w, x: q8_K*, y: f32*, cols, r0, r1). */
export function matvec_q4_K(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const nb = cols / QK_K;
  const rowBytes = <usize>nb * Q4_K_BYTES;
  const z = cols >> 31;
  for (let r = r0; r < r1; r++) store<f32>(y + (<usize>r << 2), dot_row(w + <usize>r * rowBytes, x, nb, z));
}

/** matmul_q4_K(w, x: q8_K*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q4_K(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const nb = cols / QK_K;
  const rowBytes = <usize>nb * Q4_K_BYTES, xBytes = <usize>nb * Q8_K_BYTES;
  const m = i16x8.splat(0x0f);
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const t0 = x + <usize>t * xBytes, t1 = x + <usize>min(t + 1, lastT) * xBytes;
    const t2 = x + <usize>min(t + 2, lastT) * xBytes, t3 = x + <usize>min(t + 3, lastT) * xBytes;
    for (let r = r0; r < r1; r++) {
      let p = w + <usize>r * rowBytes;
      let off: usize = 0;
      let acc = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        const a = load<u32>(p, 4), c = load<u32>(p, 12);
        const scales: u64 = <u64>scales_0_3(a) | (<u64>scales_4_7(a, c) << 32);
        let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
        for (let j = 0; j < 8; j++) {
          // sub-block j: chunk j/2, low nibbles when j is even, high when odd; unpacked once for four tokens
          const q = p + 16 + (<usize>(j >> 1) << 5);
          const shift = (j & 1) << 2;
          const w0 = v128.and(i16x8.shr_u(v128.load8x8_u(q), shift), m);
          const w1 = v128.and(i16x8.shr_u(v128.load8x8_u(q, 8), shift), m);
          const w2 = v128.and(i16x8.shr_u(v128.load8x8_u(q, 16), shift), m);
          const w3 = v128.and(i16x8.shr_u(v128.load8x8_u(q, 24), shift), m);
          const sc = i32x4.splat(<i32>(scales >> (<u64>j << 3)) & 0xff);
          const xo = off + 4 + (<usize>j << 5);
          i0 = i32x4.add(i0, i32x4.mul(dot32(w0, w1, w2, w3, t0 + xo), sc));
          i1 = i32x4.add(i1, i32x4.mul(dot32(w0, w1, w2, w3, t1 + xo), sc));
          i2 = i32x4.add(i2, i32x4.mul(dot32(w0, w1, w2, w3, t2 + xo), sc));
          i3 = i32x4.add(i3, i32x4.mul(dot32(w0, w1, w2, w3, t3 + xo), sc));
        }
        const mins = mins_i16x8(p);
        const msum = reduce4_i32(
          i32x4.dot_i16x8_s(mins, bsum_pairs(t0 + off)), i32x4.dot_i16x8_s(mins, bsum_pairs(t1 + off)),
          i32x4.dot_i16x8_s(mins, bsum_pairs(t2 + off)), i32x4.dot_i16x8_s(mins, bsum_pairs(t3 + off)),
        );
        const dx = gather_f32(t0 + off, t1 + off, t2 + off, t3 + off);
        const tv = f32x4.mul(f32x4.convert_i32x4_s(reduce4_i32(i0, i1, i2, i3)), f32x4.mul(dx, f32x4.splat(f16_to_f32(load<u16>(p)))));
        const uv = f32x4.mul(f32x4.convert_i32x4_s(msum), f32x4.mul(dx, f32x4.splat(f16_to_f32(load<u16>(p, 2)))));
        acc = f32x4.add(acc, f32x4.sub(tv, uv));
        p += Q4_K_BYTES;
        off += Q8_K_BYTES;
      }
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, acc);
    }
  }
}

/** get_row_q4_K(w, out: f32*, cols, row): (d·sc)·q − dmin·m per value, as ggml's dequantize_row_q4_K. */
export function get_row_q4_K(w: usize, out: usize, cols: i32, row: i32): void {
  const nb = cols / QK_K;
  let p = w + <usize>row * <usize>nb * Q4_K_BYTES;
  let o = out;
  const m = i16x8.splat(0x0f);
  for (let b = 0; b < nb; b++) {
    const d = f16_to_f32(load<u16>(p)), dmin = f16_to_f32(load<u16>(p, 2));
    const a = load<u32>(p, 4), bb = load<u32>(p, 8), c = load<u32>(p, 12);
    const sc: u64 = <u64>scales_0_3(a) | (<u64>scales_4_7(a, c) << 32);
    const mn: u64 = <u64>mins_0_3(bb) | (<u64>mins_4_7(bb, c) << 32);
    for (let j = 0; j < 8; j++) {
      const q = p + 16 + (<usize>(j >> 1) << 5);
      const shift = (j & 1) << 2;
      const dl = f32x4.splat(d * <f32>(<u32>(sc >> (j << 3)) & 0xff));
      const ml = f32x4.splat(dmin * <f32>(<u32>(mn >> (j << 3)) & 0xff));
      for (let k: usize = 0; k < 32; k += 8) {
        const v = v128.and(i16x8.shr_u(v128.load8x8_u(q + k), shift), m);
        v128.store(o + (k << 2), f32x4.sub(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(v)), dl), ml));
        v128.store(o + (k << 2), f32x4.sub(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(v)), dl), ml), 16);
      }
      o += 128;
    }
    p += Q4_K_BYTES;
  }
}
