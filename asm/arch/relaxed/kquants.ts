// The relaxed-SIMD q4_K and q6_K kernels on q8_K activations: the baseline's exports
// (asm/matmul/kquants.ts, act_q8_k.ts) with the integer dot products done 16 bytes at a time by
// i16x8.relaxed_dot_i8x16_i7x16_s, each giving exactly the baseline's integer block sums and then the
// baseline's f32 steps, so the results are the baseline's bit for bit.
//
// The i7 rule: the relaxed dot's second operand must stay in 0..127 (x86 lowers it with PMADDUBSW or
// VPDPBUSD, which read it as unsigned bytes; ARM as signed): the weights go there as unsigned q4_K
// nibbles (0..15) and q6_K 6-bit quants (0..63), the q8_K activations (any i8) in the first operand.
// The offsets come off through q8_K's bsums as in ggml: q4_K's −dmin·m_j·Σqx, q6_K's −32·sc_g·Σqx.
//
// Why i16x8.relaxed_dot_i8x16_i7x16_s and not the i32 dot-add: the i16 dot is one PMADDUBSW on every
// x86 (the i32 dot-add is that plus a PMADDWD by ones and an add, unless the engine finds AVX-VNNI:
// V8 13.6 on AMD Zen 4, which has only AVX512-VNNI, emits five instructions), and its i16 pair sums
// go straight into i32x4.dot_i16x8_s against the block's scales: one PMADDWD multiplies by the
// sub-block's (or group's) scale and widens to i32, so no i32 multiply is needed (PMULLD is two
// slow uops on Intel). The scales are kept as i32 lanes holding the scale in both i16 halves, so the
// splat of one scale is one i32x4.shuffle (PSHUFD).
//
// Exactness (no saturation, no overflow, so the sums are the baseline's integers):
// - q4_K: a relaxed-dot i16 lane is q·x + q'·x' with q ≤ 15, |x| ≤ 128: ≤ 3840; a sub-block's two
//   added: ≤ 7680; times sc ≤ 63 in pairs: ≤ 967,680 per i32 lane per sub-block; eight sub-blocks
//   ≤ 7,741,440 per lane, the block's Σ_j sc_j·Σ q·qx ≤ 30,965,760 < 2^31.
// - q6_K: a relaxed-dot i16 lane ≤ 2·63·128 = 16,128; times |sc| ≤ 128 in pairs ≤ 4,128,768 per
//   group; 16 groups ≤ 264,241,152 (block total); 32·Σ|sc·bsum| ≤ 32·16·128·2048 = 134,217,728; the
//   difference is within i32.
import { Q4_K_BLOCK, Q4_K_BYTES, Q4_K_DMIN, Q4_K_QS, Q6_K_BYTES, Q6_K_D, Q6_K_QH, Q6_K_SCALES, Q8_K_BYTES, Q8_K_QS } from '../../lib/blocks';
import { f16_to_f32 } from '../../lib/f16';
import { q4k_scales, q6_group1, q6_group2, q6_group3, q6_group4 } from '../../lib/quants';
import { gather_f32, lane, reduce4_i32, store_lanes } from '../../lib/simd';
import { bsum_pairs, mins_i16x8, q4k_msum4, q6_offset_sum, scale_pairs_hi, scale_pairs_lo } from '../../matmul/act_q8_k';

// ---- shared pieces -----------------------------------------------------------------------------

/** The sum of the i32 lanes of a (lane 0) and of b (lane 1). */
@inline function hsum2_i32(a: v128, b: v128): v128 {
  const ab = i32x4.add(i32x4.shuffle(a, b, 0, 4, 1, 5), i32x4.shuffle(a, b, 2, 6, 3, 7)); // a0+a2, b0+b2, a1+a3, b1+b3
  return i32x4.add(ab, i32x4.shuffle(ab, ab, 2, 3, 0, 1));
}

// ---- q6_K ------------------------------------------------------------------------------------

/**
 * One slice of a q6_K half: the 16 values l = 16g..16g+16 of each kind k (values 128h + 32k + l) from
 * their ql bytes at ql (ql[l], ql[l + 32]) and qh bytes at qh, with their activations at xs (kind k at
 * xs + 32k); sa/sb the half's scales 0-3 / 4-7 (i32 lanes, each scale in both i16 halves), of which
 * the slice's groups take lanes g and g + 2. Returns acc + Σ_k sc·Σ q·x over the four groups.
 */
@inline function q6_slice(acc: v128, ql: usize, qh: usize, xs: usize, g: i32, sa: v128, sb: v128, m0f: v128, m30: v128): v128 {
  const L0 = v128.load(ql), L32 = v128.load(ql, 32), H = v128.load(qh);
  const u0 = q6_group1(L0, H, m0f, m30), u1 = q6_group2(L32, H, m0f, m30);
  const u2 = q6_group3(L0, H, m0f, m30), u3 = q6_group4(L32, H, m0f, m30);
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xs), u0), lane(sa, g)));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xs, 32), u1), lane(sa, g + 2)));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xs, 64), u2), lane(sb, g)));
  return i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xs, 96), u3), lane(sb, g + 2)));
}

/** The q6_K block at p · the q8_K block at xb: Σ_g sc_g·(Σ q·x − 32·bsums[g]) as i32 lanes (exact, see above). */
@inline function q6_isum(p: usize, xb: usize, z: i32, m0f: v128, m30: v128): v128 {
  const s0 = v128.load8x8_s(p, Q6_K_SCALES), s1 = v128.load8x8_s(p, Q6_K_SCALES + 8); // i16: groups 0-7, 8-15
  const xq = xb + Q8_K_QS, qh = p + Q6_K_QH;
  let acc = q6_offset_sum(s0, s1, xb); // the −32 through the bsums
  let sa = scale_pairs_lo(s0), sb = scale_pairs_hi(s0);
  acc = q6_slice(acc, p, qh, xq, 0, sa, sb, m0f, m30);
  if (z == 0) acc = q6_slice(acc, p + 16, qh + 16, xq + 16, 1, sa, sb, m0f, m30);
  sa = scale_pairs_lo(s1);
  sb = scale_pairs_hi(s1);
  if (z == 0) acc = q6_slice(acc, p + 64, qh + 32, xq + 128, 0, sa, sb, m0f, m30);
  if (z == 0) acc = q6_slice(acc, p + 80, qh + 48, xq + 144, 1, sa, sb, m0f, m30);
  return acc;
}

/** matvec_q6_K(w, x: q8_K*, y: f32*, cols, r0, r1): per block acc += f32(Σ)·(dx·d), as the baseline. */
export function matvec_q6_K(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const nb = cols / Q4_K_BLOCK;
  const rowBytes = <usize>nb * Q6_K_BYTES;
  const z = cols >> 31;
  const m0f = i8x16.splat(<i8>(0x0f | z)), m30 = i8x16.splat(<i8>(0x30 | z));
  for (let r = r0; r < r1; r++) {
    let p = w + <usize>r * rowBytes, xb = x;
    let acc: f32 = 0;
    for (let b = 0; b < nb; b++) {
      const s = q6_isum(p, xb, z, m0f, m30);
      const t = i32x4.add(s, i32x4.shuffle(s, s, 2, 3, 0, 1));
      acc += <f32>i32x4.extract_lane(i32x4.add(t, i32x4.shuffle(t, t, 1, 0, 3, 2)), 0) * (load<f32>(xb) * f16_to_f32(load<u16>(p, Q6_K_D)));
      p += Q6_K_BYTES;
      xb += Q8_K_BYTES;
    }
    if (z != 0) acc += f32x4.extract_lane(v128.xor(m0f, m30), 0);
    store<f32>(y + (<usize>r << 2), acc);
  }
}

/** One token's share of a q6_K slice: acc + Σ_k sc_k·Σ u_k·x over the four groups (activations at xs, kind k at xs + 32k; c0..c3 their scales as i16 splats). */
@inline function q6_slice_token(acc: v128, xs: usize, u0: v128, u1: v128, u2: v128, u3: v128, c0: v128, c1: v128, c2: v128, c3: v128): v128 {
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xs), u0), c0));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xs, 32), u1), c1));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xs, 64), u2), c2));
  return i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xs, 96), u3), c3));
}

/**
 * acc + the q6_K block at p · the q8_K blocks at a0..a3 (lane i = token i): each slice's quants
 * assembled once for the four tokens; per token the integers
 * of q6_isum, then the baseline's steps.
 */
@inline function tokens_q6_K(acc: v128, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, m0f: v128, m30: v128): v128 {
  const s0 = v128.load8x8_s(p, Q6_K_SCALES), s1 = v128.load8x8_s(p, Q6_K_SCALES + 8);
  let i0 = q6_offset_sum(s0, s1, a0);
  let i1 = q6_offset_sum(s0, s1, a1);
  let i2 = q6_offset_sum(s0, s1, a2);
  let i3 = q6_offset_sum(s0, s1, a3);
  for (let sl: usize = 0; sl < 4; sl++) {
    // slice sl: half h = sl >> 1, g = sl & 1; its groups' scales are bytes 8h + g + {0, 2, 4, 6}
    const h = sl >> 1, g = sl & 1;
    const ql = p + (h << 6) + (g << 4), qh = p + Q6_K_QH + (h << 5) + (g << 4), sc = p + Q6_K_SCALES + (h << 3) + g;
    const L0 = v128.load(ql), L32 = v128.load(ql, 32), H = v128.load(qh);
    const u0 = q6_group1(L0, H, m0f, m30), u1 = q6_group2(L32, H, m0f, m30);
    const u2 = q6_group3(L0, H, m0f, m30), u3 = q6_group4(L32, H, m0f, m30);
    const c0 = i16x8.splat(<i16>load<i8>(sc)), c1 = i16x8.splat(<i16>load<i8>(sc, 2));
    const c2 = i16x8.splat(<i16>load<i8>(sc, 4)), c3 = i16x8.splat(<i16>load<i8>(sc, 6));
    const xo = <usize>Q8_K_QS + (h << 7) + (g << 4);
    i0 = q6_slice_token(i0, a0 + xo, u0, u1, u2, u3, c0, c1, c2, c3);
    i1 = q6_slice_token(i1, a1 + xo, u0, u1, u2, u3, c0, c1, c2, c3);
    i2 = q6_slice_token(i2, a2 + xo, u0, u1, u2, u3, c0, c1, c2, c3);
    i3 = q6_slice_token(i3, a3 + xo, u0, u1, u2, u3, c0, c1, c2, c3);
  }
  const scale = f32x4.mul(gather_f32(a0, a1, a2, a3), f32x4.splat(f16_to_f32(load<u16>(p, Q6_K_D))));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(reduce4_i32(i0, i1, i2, i3)), scale));
}

/** matmul_q6_K(w, x: q8_K*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass, as the baseline. */
export function matmul_q6_K(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const nb = cols / Q4_K_BLOCK;
  const rowBytes = <usize>nb * Q6_K_BYTES, xBytes = <usize>nb * Q8_K_BYTES;
  const z = cols >> 31;
  const m0f = i8x16.splat(<i8>(0x0f | z)), m30 = i8x16.splat(<i8>(0x30 | z));
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const t0 = x + <usize>t * xBytes, t1 = x + <usize>min(t + 1, lastT) * xBytes;
    const t2 = x + <usize>min(t + 2, lastT) * xBytes, t3 = x + <usize>min(t + 3, lastT) * xBytes;
    for (let r = r0; r < r1; r++) {
      let p = w + <usize>r * rowBytes;
      let off: usize = 0;
      let acc = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        acc = tokens_q6_K(acc, p, t0 + off, t1 + off, t2 + off, t3 + off, m0f, m30);
        p += Q6_K_BYTES;
        off += Q8_K_BYTES;
      }
      if (z != 0) acc = v128.xor(acc, v128.xor(m0f, m30));
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, acc);
    }
  }
}

// ---- q4_K ------------------------------------------------------------------------------------

/**
 * One chunk of a q4_K block (32 quant bytes at q: sub-block 2c in the low nibbles, 2c + 1 in the high)
 * · its 64 activations at xs: acc + sc_2c·Σ q·x + sc_2c+1·Σ q·x (scEven, scOdd: i16 splats).
 */
@inline function q4_chunk(acc: v128, q: usize, xs: usize, scEven: v128, scOdd: v128, m0f: v128): v128 {
  const v0 = v128.load(q), v1 = v128.load(q, 16);
  const lo = i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xs), v128.and(v0, m0f)), i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xs, 16), v128.and(v1, m0f)));
  const hi = i16x8.add(
    i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xs, 32), v128.and(i16x8.shr_u(v0, 4), m0f)),
    i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xs, 48), v128.and(i16x8.shr_u(v1, 4), m0f)),
  );
  return i32x4.add(acc, i32x4.add(i32x4.dot_i16x8_s(lo, scEven), i32x4.dot_i16x8_s(hi, scOdd)));
}

/** The q4_K block at p · the q8_K block at xb: Σ_j sc_j·Σ q·x as i32 lanes (exact, see above). */
@inline function q4_isum(p: usize, xb: usize, z: i32, m0f: v128): v128 {
  const s16 = i16x8.extend_low_i8x16_u(i64x2.splat(q4k_scales(p)));
  const sa = scale_pairs_lo(s16), sb = scale_pairs_hi(s16);
  const q = p + Q4_K_QS, xq = xb + Q8_K_QS;
  let acc = q4_chunk(i32x4.splat(0), q, xq, lane(sa, 0), lane(sa, 1), m0f);
  if (z == 0) acc = q4_chunk(acc, q + 32, xq + 64, lane(sa, 2), lane(sa, 3), m0f);
  if (z == 0) acc = q4_chunk(acc, q + 64, xq + 128, lane(sb, 0), lane(sb, 1), m0f);
  if (z == 0) acc = q4_chunk(acc, q + 96, xq + 192, lane(sb, 2), lane(sb, 3), m0f);
  return acc;
}

/** matvec_q4_K(w, x: q8_K*, y: f32*, cols, r0, r1): per block acc += f32(Σ sc·qx)·(dx·d) − f32(Σ m·bsum)·(dx·dmin), as the baseline. */
export function matvec_q4_K(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const nb = cols / Q4_K_BLOCK;
  const rowBytes = <usize>nb * Q4_K_BYTES;
  const z = cols >> 31;
  const m0f = i8x16.splat(<i8>(0x0f | z));
  for (let r = r0; r < r1; r++) {
    let p = w + <usize>r * rowBytes, xb = x;
    let acc: f32 = 0;
    for (let b = 0; b < nb; b++) {
      const s = hsum2_i32(q4_isum(p, xb, z, m0f), i32x4.dot_i16x8_s(mins_i16x8(p), bsum_pairs(xb)));
      const dx = load<f32>(xb);
      const t = <f32>i32x4.extract_lane(s, 0) * (dx * f16_to_f32(load<u16>(p)));
      const u = <f32>i32x4.extract_lane(s, 1) * (dx * f16_to_f32(load<u16>(p, Q4_K_DMIN)));
      acc += t - u;
      p += Q4_K_BYTES;
      xb += Q8_K_BYTES;
    }
    if (z != 0) acc += f32x4.extract_lane(m0f, 0);
    store<f32>(y + (<usize>r << 2), acc);
  }
}

/** acc + the q4_K block at p · the q8_K blocks at a0..a3 (lane i = token i): each chunk's nibbles taken out once for the four tokens. */
@inline function tokens_q4_K(acc: v128, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, m0f: v128): v128 {
  const scales = q4k_scales(p);
  let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
  for (let c = 0; c < 4; c++) {
    const q = p + Q4_K_QS + (<usize>c << 5), xo = <usize>Q8_K_QS + (<usize>c << 6);
    const v0 = v128.load(q), v1 = v128.load(q, 16);
    const l0 = v128.and(v0, m0f), l1 = v128.and(v1, m0f);
    const h0 = v128.and(i16x8.shr_u(v0, 4), m0f), h1 = v128.and(i16x8.shr_u(v1, 4), m0f);
    const se = i16x8.splat(<i16>((scales >> (<u64>c << 4)) & 0xff)), so = i16x8.splat(<i16>((scales >> ((<u64>c << 4) + 8)) & 0xff));
    i0 = q4_tokens_chunk(i0, a0 + xo, l0, l1, h0, h1, se, so);
    i1 = q4_tokens_chunk(i1, a1 + xo, l0, l1, h0, h1, se, so);
    i2 = q4_tokens_chunk(i2, a2 + xo, l0, l1, h0, h1, se, so);
    i3 = q4_tokens_chunk(i3, a3 + xo, l0, l1, h0, h1, se, so);
  }
  const msum = q4k_msum4(p, a0, a1, a2, a3);
  const dx = gather_f32(a0, a1, a2, a3);
  const tv = f32x4.mul(f32x4.convert_i32x4_s(reduce4_i32(i0, i1, i2, i3)), f32x4.mul(dx, f32x4.splat(f16_to_f32(load<u16>(p)))));
  const uv = f32x4.mul(f32x4.convert_i32x4_s(msum), f32x4.mul(dx, f32x4.splat(f16_to_f32(load<u16>(p, Q4_K_DMIN)))));
  return f32x4.add(acc, f32x4.sub(tv, uv));
}

/** One token's share of a chunk: acc + sc_even·Σ lo·x + sc_odd·Σ hi·x over the 64 activations at xs. */
@inline function q4_tokens_chunk(acc: v128, xs: usize, l0: v128, l1: v128, h0: v128, h1: v128, se: v128, so: v128): v128 {
  const lo = i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xs), l0), i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xs, 16), l1));
  const hi = i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xs, 32), h0), i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xs, 48), h1));
  return i32x4.add(acc, i32x4.add(i32x4.dot_i16x8_s(lo, se), i32x4.dot_i16x8_s(hi, so)));
}

/** matmul_q4_K(w, x: q8_K*, y: f32*, cols, rows, nTok, r0, r1): four tokens per pass, as the baseline. */
export function matmul_q4_K(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  const nb = cols / Q4_K_BLOCK;
  const rowBytes = <usize>nb * Q4_K_BYTES, xBytes = <usize>nb * Q8_K_BYTES;
  const z = cols >> 31;
  const m0f = i8x16.splat(<i8>(0x0f | z));
  for (let t = 0; t < nTok; t += 4) {
    const lastT = nTok - 1;
    const t0 = x + <usize>t * xBytes, t1 = x + <usize>min(t + 1, lastT) * xBytes;
    const t2 = x + <usize>min(t + 2, lastT) * xBytes, t3 = x + <usize>min(t + 3, lastT) * xBytes;
    for (let r = r0; r < r1; r++) {
      let p = w + <usize>r * rowBytes;
      let off: usize = 0;
      let acc = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        acc = tokens_q4_K(acc, p, t0 + off, t1 + off, t2 + off, t3 + off, m0f);
        p += Q4_K_BYTES;
        off += Q8_K_BYTES;
      }
      if (z != 0) acc = v128.xor(acc, m0f);
      store_lanes(y + ((<usize>t * rows + r) << 2), <usize>rows, t, nTok, acc);
    }
  }
}
