// q6_K weights (super-blocks of 256: { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }; value =
// d·scales[g]·(q − 32) for the 16-value group g) with q8_K activations, as ggml_vec_dot_q6_K_q8_K:
//   dot = Σ_blocks dx·d·(Σ_g sc_g·Σ q·qx − 32·Σ_g sc_g·bsums[g])
// all in integers per block, the −32 through q8_K's bsums.
//
// Layout (ggml's dequantize_row_q6_K): each 128-value half uses 64 bytes of ql and 32 of qh; for
// l < 32, value l takes ql[l]'s low nibble and qh[l] bits 0-1, value l+32 ql[l+32]'s low nibble and
// qh[l] bits 2-3, value l+64 ql[l]'s high nibble and bits 4-5, value l+96 ql[l+32]'s high nibble and
// bits 6-7. Sixteen values at a time are assembled in bytes (shifts on 16-bit lanes, then masks),
// widened to u16, multiplied with the activations by i32x4.dot_i16x8_s and scaled by their group's
// scale with one i32x4.mul. Per block, acc += f32(total)·(dx·d). matvec does one row at a time,
// matmul four tokens per pass with the same operations lane-wise, so they agree exactly.
import { f16_to_f32 } from '../lib/f16';
import { Q6_K_BYTES, Q8_K_BYTES, QK_K } from '../lib/blocks';
import { lane } from './q8_0';
import { gather_f32, hsum_i32, reduce4_i32, store_lanes } from './simd';

/**
 * The 16 values of each kind in a 16-byte slice of a half (L0 = ql[l..], L32 = ql[l+32..], H = qh[l..]):
 * group1 = values l, group2 = l+32, group3 = l+64, group4 = l+96, as unsigned 6-bit bytes. The shifts
 * work on 16-bit lanes; the masks keep only bits that came from the same byte.
 */
@inline export function q6_group1(L0: v128, H: v128): v128 {
  return v128.or(v128.and(L0, i8x16.splat(0x0f)), v128.and(i16x8.shl(H, 4), i8x16.splat(0x30)));
}
@inline export function q6_group2(L32: v128, H: v128): v128 {
  return v128.or(v128.and(L32, i8x16.splat(0x0f)), v128.and(i16x8.shl(H, 2), i8x16.splat(0x30)));
}
@inline export function q6_group3(L0: v128, H: v128): v128 {
  return v128.or(v128.and(i16x8.shr_u(L0, 4), i8x16.splat(0x0f)), v128.and(H, i8x16.splat(0x30)));
}
@inline export function q6_group4(L32: v128, H: v128): v128 {
  return v128.or(v128.and(i16x8.shr_u(L32, 4), i8x16.splat(0x0f)), v128.and(i16x8.shr_u(H, 2), i8x16.splat(0x30)));
}

/** Σ q·qx over 16 values: q = 16 unsigned bytes, qx = the 16 i8 at xq. */
@inline function dot16(q: v128, xq: usize): v128 {
  return i32x4.add(
    i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(q), v128.load8x8_s(xq)),
    i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(q), v128.load8x8_s(xq, 8)),
  );
}

/** Σ_g sc_g·bsums[g] over the block's 16 groups (i32 lanes summing to it). */
@inline function scaled_bsums(p: usize, xb: usize): v128 {
  const s = v128.load(p, 192);
  return i32x4.add(
    i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(s), v128.load(xb, 260)),
    i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(s), v128.load(xb, 276)),
  );
}

/** The eight scales of half h as i32 lanes: [sc0..sc3], [sc4..sc7]. */
@inline export function half_scales_lo(p: usize): v128 {
  return i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load64_zero(p)));
}
@inline export function half_scales_hi(p: usize): v128 {
  return i32x4.extend_high_i16x8_s(i16x8.extend_low_i8x16_s(v128.load64_zero(p)));
}

/**
 * One half (128 values) · its activations at xq, slice g (l = 16g..16g+16): the four groups, scaled by
 * the half's scales g, g+2, g+4, g+6 (lo = the half's scales 0-3, hi = 4-7).
 */
@inline function quarter(ql: usize, qh: usize, xq: usize, g: i32, lo: v128, hi: v128): v128 {
  const o = <usize>g << 4;
  const L0 = v128.load(ql + o), L32 = v128.load(ql + o, 32), H = v128.load(qh + o);
  let s = i32x4.mul(dot16(q6_group1(L0, H), xq + o), lane(lo, g));
  s = i32x4.add(s, i32x4.mul(dot16(q6_group2(L32, H), xq + o + 32), lane(lo, g + 2)));
  s = i32x4.add(s, i32x4.mul(dot16(q6_group3(L0, H), xq + o + 64), lane(hi, g)));
  return i32x4.add(s, i32x4.mul(dot16(q6_group4(L32, H), xq + o + 96), lane(hi, g + 2)));
}

/**
 * One q6_K row (nb blocks at p) · one q8_K row at xb. `z` is 0 (cols >> 31) but unknown to the
 * compiler: the branches between slices split the basic block so V8 (which issues a block's loads
 * before its arithmetic) keeps each slice's vectors in registers instead of spilling.
 */
@inline function dot_row(p: usize, xb: usize, nb: i32, z: i32): f32 {
  let acc: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const lo0 = half_scales_lo(p + 192), hi0 = half_scales_hi(p + 192);
    let isum = quarter(p, p + 128, xb + 4, 0, lo0, hi0);
    if (z == 0) isum = i32x4.add(isum, quarter(p, p + 128, xb + 4, 1, lo0, hi0));
    if (z == 0) isum = i32x4.add(isum, quarter(p + 64, p + 160, xb + 132, 0, half_scales_lo(p + 200), half_scales_hi(p + 200)));
    if (z == 0) isum = i32x4.add(isum, quarter(p + 64, p + 160, xb + 132, 1, half_scales_lo(p + 200), half_scales_hi(p + 200)));
    isum = i32x4.sub(isum, i32x4.shl(scaled_bsums(p, xb), 5));
    acc += <f32>hsum_i32(isum) * (load<f32>(xb) * f16_to_f32(load<u16>(p, 208)));
    p += Q6_K_BYTES;
    xb += Q8_K_BYTES;
  }
  return acc;
}

/** matvec_q6_K(w, x: q8_K*, y: f32*, cols, r0, r1). */
export function matvec_q6_K(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const nb = cols / QK_K;
  const rowBytes = <usize>nb * Q6_K_BYTES;
  const z = cols >> 31;
  for (let r = r0; r < r1; r++) store<f32>(y + (<usize>r << 2), dot_row(w + <usize>r * rowBytes, x, nb, z));
}

/** matmul_q6_K(w, x: q8_K*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass. */
export function matmul_q6_K(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const nb = cols / QK_K;
  const rowBytes = <usize>nb * Q6_K_BYTES, xBytes = <usize>nb * Q8_K_BYTES;
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const t0 = x + <usize>t * xBytes, t1 = x + <usize>min(t + 1, lastT) * xBytes;
    const t2 = x + <usize>min(t + 2, lastT) * xBytes, t3 = x + <usize>min(t + 3, lastT) * xBytes;
    for (let r = r0; r < r1; r++) {
      let p = w + <usize>r * rowBytes;
      let off: usize = 4;
      let acc = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
        for (let v = 0; v < 16; v++) {
          // group v: half h = v >> 3, quarter g = v & 1, kind k = (v >> 1) & 3 (q1..q4), values 128h + 32k + 16g
          const h = <usize>(v >> 3), g = <usize>(v & 1), k = (v >> 1) & 3;
          const ql = p + (h << 6) + (g << 4) + ((k & 1) != 0 ? 32 : 0);
          const L = v128.load(ql), H = v128.load(p + 128 + (h << 5) + (g << 4));
          const lowNibble = v128.and(k < 2 ? L : i16x8.shr_u(L, 4), i8x16.splat(0x0f));
          const high = v128.and(i16x8.shl(i16x8.shr_u(H, <i32>k << 1), 4), i8x16.splat(0x30)); // qh bits 2k, 2k+1 -> 4, 5
          const q = v128.or(lowNibble, high);
          const ql16 = i16x8.extend_low_i8x16_u(q), qh16 = i16x8.extend_high_i8x16_u(q);
          const sc = i32x4.splat(<i32>load<i8>(p + 192 + (h << 3) + (g + (<usize>k << 1))));
          const xo = off + (h << 7) + (<usize>k << 5) + (g << 4);
          i0 = i32x4.add(i0, i32x4.mul(dot16w(ql16, qh16, t0 + xo), sc));
          i1 = i32x4.add(i1, i32x4.mul(dot16w(ql16, qh16, t1 + xo), sc));
          i2 = i32x4.add(i2, i32x4.mul(dot16w(ql16, qh16, t2 + xo), sc));
          i3 = i32x4.add(i3, i32x4.mul(dot16w(ql16, qh16, t3 + xo), sc));
        }
        const xb = off - 4;
        i0 = i32x4.sub(i0, i32x4.shl(scaled_bsums(p, t0 + xb), 5));
        i1 = i32x4.sub(i1, i32x4.shl(scaled_bsums(p, t1 + xb), 5));
        i2 = i32x4.sub(i2, i32x4.shl(scaled_bsums(p, t2 + xb), 5));
        i3 = i32x4.sub(i3, i32x4.shl(scaled_bsums(p, t3 + xb), 5));
        const dx = gather_f32(t0 + xb, t1 + xb, t2 + xb, t3 + xb);
        const scale = f32x4.mul(dx, f32x4.splat(f16_to_f32(load<u16>(p, 208))));
        acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(reduce4_i32(i0, i1, i2, i3)), scale));
        p += Q6_K_BYTES;
        off += Q8_K_BYTES;
      }
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, acc);
    }
  }
}

/** Σ q·qx over 16 values already widened (q0: values 0-7, q1: 8-15) with the 16 i8 at xq. */
@inline function dot16w(q0: v128, q1: v128, xq: usize): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(q0, v128.load8x8_s(xq)), i32x4.dot_i16x8_s(q1, v128.load8x8_s(xq, 8)));
}

/** get_row_q6_K(w, out: f32*, cols, row): (d·sc)·(q − 32) per value, as ggml's dequantize_row_q6_K. */
export function get_row_q6_K(w: usize, out: usize, cols: i32, row: i32): void {
  const nb = cols / QK_K;
  let p = w + <usize>row * <usize>nb * Q6_K_BYTES;
  let o = out;
  for (let b = 0; b < nb; b++) {
    const d = f16_to_f32(load<u16>(p, 208));
    for (let h: usize = 0; h < 2; h++) {
      const ql = p + (h << 6), qh = p + 128 + (h << 5), sc = p + 192 + (h << 3), oh = o + (h << 9);
      for (let g: usize = 0; g < 2; g++) {
        const go = g << 4;
        const L0 = v128.load(ql + go), L32 = v128.load(ql + go, 32), H = v128.load(qh + go);
        store16(oh + (go << 2), q6_group1(L0, H), d * <f32>load<i8>(sc + g));
        store16(oh + (go << 2) + 128, q6_group2(L32, H), d * <f32>load<i8>(sc + g + 2));
        store16(oh + (go << 2) + 256, q6_group3(L0, H), d * <f32>load<i8>(sc + g + 4));
        store16(oh + (go << 2) + 384, q6_group4(L32, H), d * <f32>load<i8>(sc + g + 6));
      }
    }
    p += Q6_K_BYTES;
    o += 1024;
  }
}

/** 16 unsigned 6-bit values (bytes) minus 32, times ds, stored as 16 floats at o. */
@inline function store16(o: usize, q: v128, ds: f32): void {
  const v = i8x16.sub(q, i8x16.splat(32));
  const lo = i16x8.extend_low_i8x16_s(v), hi = i16x8.extend_high_i8x16_s(v);
  const s = f32x4.splat(ds);
  v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), s));
  v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), s), 16);
  v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), s), 32);
  v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), s), 48);
}
