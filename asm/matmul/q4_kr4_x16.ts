// q4_K weights repacked four rows at a time ("q4_Kr4"), on q16_K activations as they are. Same bytes
// as q4_K (144 per row per 256 values). Rows come in groups of 4 and, per group and super-block
// index, one 576-byte group block:
//
//   [0, 8)     the four rows' f16 d (row i at 2·i)
//   [8, 16)    the four rows' f16 dmin
//   [16, 32)   SL: byte 4i + t (row i, t = 0..3): low nibble = bits 0..3 of sc_t, high = of sc_(4+t)
//   [32, 48)   ML: the same for the mins m
//   [48, 64)   H:  byte 4i + t: bits 0..1 = sc_t >> 4, 2..3 = sc_(4+t) >> 4, 4..5 = m_t >> 4,
//              6..7 = m_(4+t) >> 4 (the 6-bit scales and mins of the eight sub-blocks, re-encoded)
//   [64, 576)  sub-block j (32 values) at 64 + 64·j: four 16-byte chunks L = 0..3; in chunk L, i16
//              lane l (bytes 2l, 2l+1) belongs to row i = l >> 1 and holds, in its nibble s (bits
//              4s..4s+3), the quant q of value 2m + (l & 1) of that row's sub-block j, m = 4L + s
//
// so, as in q4_0r8, a chunk's nibble s is an i16x8 (rows 0..3 × value pair m) and i32x4.dot_i16x8_s
// against the activation pair m splatted leaves row i's partial sum in i32 lane i: one splat serves
// four rows. The nibbles come out with masks (c & 0x000f, c & 0x00f0 = 16·q, c & 0x0f00 = 256·q) and
// one shift (c >> 12): on x86 the shifts and the dot products share two ports.
//
// Measured (A/B against matvec_q4_K_x16, one thread, AMD EPYC, node 20): 7.4 -> 11.2-11.7 GB/s at
// 2048×5632 from the cache, 7.5 -> 11.3 GB/s at 32000×4096 (74 MB, from DRAM); matmul (4-token
// tiles) 1.2x the old one per token, 0.9-1.0x four matvec calls (it saves weight reads, not
// compute: scripts/bench/matvec.mjs --ntok 4). The min term from ready-made i16 pairs in the activation (a
// q16_Ks form) measured no faster, so q16_K stays; the four row sums per pair class (below) cost
// about 4 i32 multiplies per sub-block and four accumulators, which is why this stays at 4 rows.
//
// Exactness (why four sums per row): matvec_q4_K_x16 keeps per row four i32 lanes, lane k summing
// Σ_j sc_j·Σ q·qx over the values of the pairs m ≡ k (mod 4) (i32x4.dot_i16x8_s on 8 consecutive
// values), turns them to f32 and adds (l0 + l2) + (l1 + l3). The f32 sum rounds, so the partition
// matters: here nibble s holds exactly the pairs m ≡ s (mod 4), and sum A_s (rows in lanes) is that
// lane k = s, the same integer (per sub-block |16·S1| ≤ 4·2·15·16·32767 ≈ 6.3e7 and |256·S2| ≤
// 4·2·15·256·32767 ≈ 1.0e9 < 2^31, shifted back exactly; then the same bound as act_q16_k.ts).
// The min term Σ_j m_j·(bsums[2j] + bsums[2j+1]) is an exact i32 either way. The f32 steps are the
// same operations lane-wise ((A0 + A2) + (A1 + A3), ·(dx·d), − f32(msum)·(dx·dmin), acc + ..), with
// the scales converted exactly for finite halves, with no subnormal arithmetic (lib/f16.ts) (the host repacks only
// matrices whose d and dmin are all finite). So matvec_q4_Kr4_x16 and matmul_q4_Kr4_x16 equal
// matvec_q4_K_x16 bit for bit.
import { Q16_K_BYTES, Q16_K_Q, Q4_K_BLOCK, Q4_K_BYTES, Q4_K_DMIN, Q4_K_QS, Q4_K_SCALES, Q4_KR4_BYTES, Q4_KR4_DMIN, Q4_KR4_HIGH, Q4_KR4_MINS, Q4_KR4_QS, Q4_KR4_SCALES } from '../lib/blocks';
import { finite_halves_s_to_f32x4_ns_k } from '../lib/f16';
import { kr4_const } from './q4_kr4';
import { matmul_rows4_tiles, matvec_rows4 } from './tile';
import { q16k_sub_sums } from '../lib/quants';

/**
 * repack_q4_K_r4(src, dst, rows, cols): ggml q4_K rows (rows a multiple of 4) into the q4_Kr4 layout
 * above. src and dst must not overlap (the host repacks through a scratch buffer).
 */
export function repack_q4_K_r4(src: usize, dst: usize, rows: i32, cols: i32): void {
  const nb = cols / Q4_K_BLOCK;
  const rowBytes = <usize>nb * Q4_K_BYTES;
  for (let g = 0; g < rows; g += 4) {
    const s0 = src + <usize>g * rowBytes;
    const d0 = dst + <usize>g * rowBytes;
    for (let b = 0; b < nb; b++) {
      const p = s0 + <usize>b * Q4_K_BYTES;
      const o = d0 + <usize>b * Q4_KR4_BYTES;
      for (let i: usize = 0; i < 4; i++) {
        const q = p + i * rowBytes;
        store<u16>(o + 2 * i, load<u16>(q));
        store<u16>(o + Q4_KR4_DMIN + 2 * i, load<u16>(q, Q4_K_DMIN));
        for (let t: usize = 0; t < 4; t++) {
          // ggml's get_scale_min_k4 for sub-blocks t and 4 + t
          const sc = q + Q4_K_SCALES + t;
          const sa = load<u8>(sc) & 63, ma = load<u8>(sc, 4) & 63;
          const sb = (load<u8>(sc, 8) & 0xf) | ((load<u8>(sc) >> 6) << 4);
          const mb = (load<u8>(sc, 8) >> 4) | ((load<u8>(sc, 4) >> 6) << 4);
          const k = o + 4 * i + t;
          store<u8>(k, (sa & 0xf) | ((sb & 0xf) << 4), Q4_KR4_SCALES);
          store<u8>(k, (ma & 0xf) | ((mb & 0xf) << 4), Q4_KR4_MINS);
          store<u8>(k, (sa >> 4) | ((sb >> 4) << 2) | ((ma >> 4) << 4) | ((mb >> 4) << 6), Q4_KR4_HIGH);
        }
      }
      for (let j = 0; j < 8; j++) {
        const off: usize = <usize>(Q4_K_QS + ((j >> 1) << 5)), hi = (j & 1) << 2;
        const r0 = sub_words(p + off, hi), r1 = sub_words(p + rowBytes + off, hi);
        const r2 = sub_words(p + 2 * rowBytes + off, hi), r3 = sub_words(p + 3 * rowBytes + off, hi);
        // 4×4 transpose of 32-bit words: chunk L = word L of rows 0..3
        const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5), t1 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
        const t2 = i32x4.shuffle(r0, r1, 2, 6, 3, 7), t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
        const c = o + Q4_KR4_QS + (<usize>j << 6);
        v128.store(c, i64x2.shuffle(t0, t1, 0, 2));
        v128.store(c, i64x2.shuffle(t0, t1, 1, 3), 16);
        v128.store(c, i64x2.shuffle(t2, t3, 0, 2), 32);
        v128.store(c, i64x2.shuffle(t2, t3, 1, 3), 48);
      }
    }
  }
}

/**
 * One row's sub-block (32 quant bytes at q, nibble `hi` = 0 or 4) -> its four 4-byte pieces of the
 * chunks L = 0..3: word L holds the lanes l = 2i, 2i + 1 (parity p = 0, 1) of chunk L, i16 nibble s =
 * value 2(4L + s) + p.
 */
@inline function sub_words(q: usize, hi: i32): v128 {
  const v0 = v128.and(i16x8.shr_u(v128.load(q), hi), i8x16.splat(0x0f));
  const v1 = v128.and(i16x8.shr_u(v128.load(q, 16), hi), i8x16.splat(0x0f));
  const a = i8x16.shuffle(v0, v1, 0, 4, 1, 5, 8, 12, 9, 13, 16, 20, 17, 21, 24, 28, 25, 29);
  const c = i8x16.shuffle(v0, v1, 2, 6, 3, 7, 10, 14, 11, 15, 18, 22, 19, 23, 26, 30, 27, 31);
  return v128.or(a, i16x8.shl(c, 4));
}

/** Byte t of each i32 lane of v (the four rows' 6-bit value of one sub-block). */
@inline function lane_byte(v: v128, t: i32, mff: v128): v128 {
  if (t == 0) return v128.and(v, mff);
  if (t == 3) return i32x4.shr_u(v, 24);
  return v128.and(i32x4.shr_u(v, t << 3), mff);
}

/**
 * The q4_Kr4 group block at p · the q16_K block at xb for the four rows: acc + (t − u) per row lane,
 * t = ((A0 + A2) + (A1 + A3))·(dx·d), u = f32(msum)·(dx·dmin).
 */
@inline function block_dot(acc: v128, p: usize, xb: usize, z: i32, m0: v128, m1: v128, m2: v128, mff: v128, c0: v128, c1: v128): v128 {
  // a_s: the four rows' sums over the value pairs m ≡ s (mod 4), Σ_j sc_j·(…) (act_q16_k.ts's lane s)
  let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
  let q = p + Q4_KR4_QS, xq = xb + Q16_K_Q;
  // the scales of sub-blocks 0..3, then 4..7, are the bytes of sv's row lanes, lowest first (one
  // loop of eight, not two of four: V8 then spills fewer of the sums, measured 4% faster)
  let sv = v128.or(v128.and(v128.load(p, Q4_KR4_SCALES), i8x16.splat(<i8>(0x0f | z))), v128.and(i32x4.shl(v128.load(p, Q4_KR4_HIGH), 4), i8x16.splat(<i8>(0x30 | z))));
  for (let j = 0; j < 8; j++) {
    if (j == 4) sv = v128.or(v128.and(i32x4.shr_u(v128.load(p, Q4_KR4_SCALES), 4), i8x16.splat(<i8>(0x0f | z))), v128.and(i32x4.shl(v128.load(p, Q4_KR4_HIGH), 2), i8x16.splat(<i8>(0x30 | z))));
    // chunk 0, then chunks 1..3 each behind an opaque `if (z == 0)` (V8 would otherwise issue all the
    // sub-block's loads first and spill); xl steps by 16 so every splat takes offset 0, 4, 8 or 12
    // (V8 materializes each other offset of a load_splat in a register of its own: measured 4%)
    let c = v128.load(q);
    let xl = xq;
    let s0 = i32x4.dot_i16x8_s(v128.and(c, m0), v128.load32_splat(xq));
    let s1 = i32x4.dot_i16x8_s(v128.and(c, m1), v128.load32_splat(xq, 4));
    let s2 = i32x4.dot_i16x8_s(v128.and(c, m2), v128.load32_splat(xq, 8));
    let s3 = i32x4.dot_i16x8_s(i16x8.shr_u(c, 12), v128.load32_splat(xq, 12));
    if (z == 0) {
      c = v128.load(q, 16);
      xl += 16;
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(v128.and(c, m0), v128.load32_splat(xl)));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(v128.and(c, m1), v128.load32_splat(xl, 4)));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(v128.and(c, m2), v128.load32_splat(xl, 8)));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(i16x8.shr_u(c, 12), v128.load32_splat(xl, 12)));
    }
    if (z == 0) {
      c = v128.load(q, 32);
      xl += 16;
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(v128.and(c, m0), v128.load32_splat(xl)));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(v128.and(c, m1), v128.load32_splat(xl, 4)));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(v128.and(c, m2), v128.load32_splat(xl, 8)));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(i16x8.shr_u(c, 12), v128.load32_splat(xl, 12)));
    }
    if (z == 0) {
      c = v128.load(q, 48);
      xl += 16;
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(v128.and(c, m0), v128.load32_splat(xl)));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(v128.and(c, m1), v128.load32_splat(xl, 4)));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(v128.and(c, m2), v128.load32_splat(xl, 8)));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(i16x8.shr_u(c, 12), v128.load32_splat(xl, 12)));
    }
    const sc = v128.and(sv, mff);
    sv = i32x4.shr_u(sv, 8);
    a0 = i32x4.add(a0, i32x4.mul(s0, sc));
    a1 = i32x4.add(a1, i32x4.mul(i32x4.shr_s(s1, 4), sc));
    a2 = i32x4.add(a2, i32x4.mul(i32x4.shr_s(s2, 8), sc));
    a3 = i32x4.add(a3, i32x4.mul(s3, sc));
    q += 64;
    xq += 64;
  }
  // the min term: Σ_j m_j·(bsums[2j] + bsums[2j+1]), rows in lanes
  const n4 = i8x16.splat(<i8>(0x0f | z)), n30 = i8x16.splat(<i8>(0x30 | z));
  const ml = v128.load(p, Q4_KR4_MINS), h2 = v128.load(p, Q4_KR4_HIGH);
  const mnA = v128.or(v128.and(ml, n4), v128.and(h2, n30));
  const mnB = v128.or(v128.and(i32x4.shr_u(ml, 4), n4), v128.and(i32x4.shr_u(h2, 2), n30));
  const lo = q16k_sub_sums(xb, 0), hi = q16k_sub_sums(xb, 1); // the 32-value sums of sub-blocks 0-3, 4-7
  let msum = i32x4.mul(lane_byte(mnA, 0, mff), i32x4.shuffle(lo, lo, 0, 0, 0, 0));
  msum = i32x4.add(msum, i32x4.mul(lane_byte(mnA, 1, mff), i32x4.shuffle(lo, lo, 1, 1, 1, 1)));
  msum = i32x4.add(msum, i32x4.mul(lane_byte(mnA, 2, mff), i32x4.shuffle(lo, lo, 2, 2, 2, 2)));
  msum = i32x4.add(msum, i32x4.mul(lane_byte(mnA, 3, mff), i32x4.shuffle(lo, lo, 3, 3, 3, 3)));
  msum = i32x4.add(msum, i32x4.mul(lane_byte(mnB, 0, mff), i32x4.shuffle(hi, hi, 0, 0, 0, 0)));
  msum = i32x4.add(msum, i32x4.mul(lane_byte(mnB, 1, mff), i32x4.shuffle(hi, hi, 1, 1, 1, 1)));
  msum = i32x4.add(msum, i32x4.mul(lane_byte(mnB, 2, mff), i32x4.shuffle(hi, hi, 2, 2, 2, 2)));
  msum = i32x4.add(msum, i32x4.mul(lane_byte(mnB, 3, mff), i32x4.shuffle(hi, hi, 3, 3, 3, 3)));
  const dx = v128.load32_splat(xb);
  const f = f32x4.add(f32x4.add(f32x4.convert_i32x4_s(a0), f32x4.convert_i32x4_s(a2)), f32x4.add(f32x4.convert_i32x4_s(a1), f32x4.convert_i32x4_s(a3)));
  const t = f32x4.mul(f, f32x4.mul(dx, finite_halves_s_to_f32x4_ns_k(v128.load16x4_s(p), c0, c1)));
  const u = f32x4.mul(f32x4.convert_i32x4_s(msum), f32x4.mul(dx, finite_halves_s_to_f32x4_ns_k(v128.load16x4_s(p, Q4_KR4_DMIN), c0, c1)));
  return f32x4.add(acc, f32x4.sub(t, u));
}

/** matvec_q4_Kr4_x16(w, x: q16_K*, y: f32*, cols, r0, r1): w in q4_Kr4, r0 and r1 multiples of 4. */
export function matvec_q4_Kr4_x16(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  matvec_rows4<Rows4>(0, w, x, y, r0, r1, cols / Q4_K_BLOCK, Q4_K_BYTES, Q16_K_BYTES, cols >> 31);
}

/**
 * matmul_q4_Kr4_x16(w, x: q16_K*, y: f32*, cols, rows, nTok, r0, r1): w in q4_Kr4, r0 and r1 multiples
 * of 4; y[t·rows + r]. Tiles of four tokens: per group of rows, each token in turn calls matvec on
 * the group's rows, so a group row comes from memory once per tile and from the cache
 * (12.7 KB at 5632 columns) for the other tokens. (Unpacking a chunk once for several tokens needs
 * four sums per token and row lane: more than the 16 vector registers.) Each token's steps are
 * matvec's: equal bit for bit.
 */
export function matmul_q4_Kr4_x16(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  matmul_rows4_tiles<Rows4>(0, w, x, y, cols, rows, nTok, r0, r1, cols / Q4_K_BLOCK, Q4_K_BYTES, Q16_K_BYTES, cols >> 31);
}

/** The drivers' K (tile.ts): block_dot and its six constants (masks 0x000f, 0x00f0, 0x0f00 in i16 lanes, 0xff in i32 lanes, kr4_const's two); no tile step. */
@final @unmanaged class Rows4 {
  @inline rows4_consts(wt: i32): i32 {
    return 6;
  }
  @inline rows4_const(wt: i32, i: i32, z: i32): v128 {
    if (i < 3) return i16x8.splat(<i16>((i == 0 ? 0x000f : i == 1 ? 0x00f0 : 0x0f00) | z));
    if (i == 3) return i32x4.splat(0xff | z);
    return i < 6 ? kr4_const(i - 4, z) : i32x4.splat(0);
  }
  @inline tiled(wt: i32): bool {
    return false;
  }
  @inline matvec(wt: i32, w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
    matvec_q4_Kr4_x16(w, x, y, cols, r0, r1);
  }
  @inline block(wt: i32, acc: v128, p: usize, xb: usize, z: i32, m0: v128, m1: v128, m2: v128, mff: v128, c0: v128, c1: v128, u6: v128, u7: v128, u8: v128, u9: v128): v128 {
    return block_dot(acc, p, xb, z, m0, m1, m2, mff, c0, c1);
  }
  @inline block4(wt: i32, p: usize, a0: usize, a1: usize, a2: usize, a3: usize, y0: usize, y1: usize, y2: usize, y3: usize, z: i32, c0: v128, c1: v128, c2: v128, c3: v128, c4: v128, c5: v128, c6: v128, c7: v128, c8: v128, c9: v128): void {} // not tiled: never called
}
