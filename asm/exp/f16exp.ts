import { F16_K112, F16_SPLIT, placed_high, placed_low, split_high, split_low, F16_MS } from '../lib/f16';
import { reduce4_f32, row_ptr, store_quarters } from '../lib/simd';

// V2: 4 rows x 16 halves per iteration
export function v2(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const rowBytes = <usize>cols << 1;
  const z = cols >> 31;
  const k112 = i32x4.splat(F16_K112 | z), split = i16x8.splat(<i16>(F16_SPLIT | z));
  const last = r1 - 1;
  const q = (r1 - r0 + 3) >> 2;
  for (let ii = 0; ii < q; ii++) {
    const r = r0 + ii;
    const p0 = row_ptr(w, r, last, rowBytes), p1 = row_ptr(w, r + q, last, rowBytes);
    const p2 = row_ptr(w, r + 2 * q, last, rowBytes), p3 = row_ptr(w, r + 3 * q, last, rowBytes);
    const n16 = <usize>(cols & ~15) << 1;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let i: usize = 0; i < n16; i += 32) {
      const xa = f32x4.mul(v128.load(x + (i << 1)), k112), xb = f32x4.mul(v128.load(x + (i << 1), 16), k112);
      const xc = f32x4.mul(v128.load(x + (i << 1), 32), k112), xd = f32x4.mul(v128.load(x + (i << 1), 48), k112);
      let h = v128.load(p0 + i), lo = split_low(h), hi = split_high(h, split);
      a0 = f32x4.add(a0, f32x4.mul(placed_low(lo, hi), xa)); a0 = f32x4.add(a0, f32x4.mul(placed_high(lo, hi), xb));
      h = v128.load(p1 + i); lo = split_low(h); hi = split_high(h, split);
      a1 = f32x4.add(a1, f32x4.mul(placed_low(lo, hi), xa)); a1 = f32x4.add(a1, f32x4.mul(placed_high(lo, hi), xb));
      h = v128.load(p2 + i); lo = split_low(h); hi = split_high(h, split);
      a2 = f32x4.add(a2, f32x4.mul(placed_low(lo, hi), xa)); a2 = f32x4.add(a2, f32x4.mul(placed_high(lo, hi), xb));
      h = v128.load(p3 + i); lo = split_low(h); hi = split_high(h, split);
      a3 = f32x4.add(a3, f32x4.mul(placed_low(lo, hi), xa)); a3 = f32x4.add(a3, f32x4.mul(placed_high(lo, hi), xb));
      h = v128.load(p0 + i, 16); lo = split_low(h); hi = split_high(h, split);
      a0 = f32x4.add(a0, f32x4.mul(placed_low(lo, hi), xc)); a0 = f32x4.add(a0, f32x4.mul(placed_high(lo, hi), xd));
      h = v128.load(p1 + i, 16); lo = split_low(h); hi = split_high(h, split);
      a1 = f32x4.add(a1, f32x4.mul(placed_low(lo, hi), xc)); a1 = f32x4.add(a1, f32x4.mul(placed_high(lo, hi), xd));
      h = v128.load(p2 + i, 16); lo = split_low(h); hi = split_high(h, split);
      a2 = f32x4.add(a2, f32x4.mul(placed_low(lo, hi), xc)); a2 = f32x4.add(a2, f32x4.mul(placed_high(lo, hi), xd));
      h = v128.load(p3 + i, 16); lo = split_low(h); hi = split_high(h, split);
      a3 = f32x4.add(a3, f32x4.mul(placed_low(lo, hi), xc)); a3 = f32x4.add(a3, f32x4.mul(placed_high(lo, hi), xd));
    }
    const s = reduce4_f32(a0, a1, a2, a3);
    store_quarters(y, r, q, r1, z != 0 ? v128.xor(s, v128.xor(k112, split)) : s);
  }
}

// V3: 8 rows x 8 halves
export function v3(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const rowBytes = <usize>cols << 1;
  const z = cols >> 31;
  const k112 = i32x4.splat(F16_K112 | z), split = i16x8.splat(<i16>(F16_SPLIT | z));
  const last = r1 - 1;
  const q = (r1 - r0 + 7) >> 3;
  for (let ii = 0; ii < q; ii++) {
    const r = r0 + ii;
    const p0 = row_ptr(w, r, last, rowBytes), p1 = row_ptr(w, r + q, last, rowBytes);
    const p2 = row_ptr(w, r + 2 * q, last, rowBytes), p3 = row_ptr(w, r + 3 * q, last, rowBytes);
    const p4 = row_ptr(w, r + 4 * q, last, rowBytes), p5 = row_ptr(w, r + 5 * q, last, rowBytes);
    const p6 = row_ptr(w, r + 6 * q, last, rowBytes), p7 = row_ptr(w, r + 7 * q, last, rowBytes);
    const n8 = <usize>(cols & ~7) << 1;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0);
    for (let i: usize = 0; i < n8; i += 16) {
      const xa = f32x4.mul(v128.load(x + (i << 1)), k112), xb = f32x4.mul(v128.load(x + (i << 1), 16), k112);
      let h = v128.load(p0 + i), lo = split_low(h), hi = split_high(h, split);
      a0 = f32x4.add(a0, f32x4.mul(placed_low(lo, hi), xa)); a0 = f32x4.add(a0, f32x4.mul(placed_high(lo, hi), xb));
      h = v128.load(p1 + i); lo = split_low(h); hi = split_high(h, split);
      a1 = f32x4.add(a1, f32x4.mul(placed_low(lo, hi), xa)); a1 = f32x4.add(a1, f32x4.mul(placed_high(lo, hi), xb));
      h = v128.load(p2 + i); lo = split_low(h); hi = split_high(h, split);
      a2 = f32x4.add(a2, f32x4.mul(placed_low(lo, hi), xa)); a2 = f32x4.add(a2, f32x4.mul(placed_high(lo, hi), xb));
      h = v128.load(p3 + i); lo = split_low(h); hi = split_high(h, split);
      a3 = f32x4.add(a3, f32x4.mul(placed_low(lo, hi), xa)); a3 = f32x4.add(a3, f32x4.mul(placed_high(lo, hi), xb));
      h = v128.load(p4 + i); lo = split_low(h); hi = split_high(h, split);
      a4 = f32x4.add(a4, f32x4.mul(placed_low(lo, hi), xa)); a4 = f32x4.add(a4, f32x4.mul(placed_high(lo, hi), xb));
      h = v128.load(p5 + i); lo = split_low(h); hi = split_high(h, split);
      a5 = f32x4.add(a5, f32x4.mul(placed_low(lo, hi), xa)); a5 = f32x4.add(a5, f32x4.mul(placed_high(lo, hi), xb));
      h = v128.load(p6 + i); lo = split_low(h); hi = split_high(h, split);
      a6 = f32x4.add(a6, f32x4.mul(placed_low(lo, hi), xa)); a6 = f32x4.add(a6, f32x4.mul(placed_high(lo, hi), xb));
      h = v128.load(p7 + i); lo = split_low(h); hi = split_high(h, split);
      a7 = f32x4.add(a7, f32x4.mul(placed_low(lo, hi), xa)); a7 = f32x4.add(a7, f32x4.mul(placed_high(lo, hi), xb));
    }
    const s = reduce4_f32(a0, a1, a2, a3), t = reduce4_f32(a4, a5, a6, a7);
    store_quarters(y, r, q, r1, z != 0 ? v128.xor(s, v128.xor(k112, split)) : s);
    store_quarters(y, r + 4 * q, q, r1, t);
  }
}

// V4: lanes holding [col j+4 : col j] (a repacked layout): odd by sra+and, even by shl16+sra+and
export function v4(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const rowBytes = <usize>cols << 1;
  const z = cols >> 31;
  const k112 = i32x4.splat(F16_K112 | z), ms = i32x4.splat(F16_MS | z);
  const last = r1 - 1;
  const q = (r1 - r0 + 3) >> 2;
  for (let ii = 0; ii < q; ii++) {
    const r = r0 + ii;
    const p0 = row_ptr(w, r, last, rowBytes), p1 = row_ptr(w, r + q, last, rowBytes);
    const p2 = row_ptr(w, r + 2 * q, last, rowBytes), p3 = row_ptr(w, r + 3 * q, last, rowBytes);
    const n8 = <usize>(cols & ~7) << 1;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let i: usize = 0; i < n8; i += 16) {
      const xa = f32x4.mul(v128.load(x + (i << 1)), k112), xb = f32x4.mul(v128.load(x + (i << 1), 16), k112);
      let h = v128.load(p0 + i);
      a0 = f32x4.add(a0, f32x4.mul(v128.and(i32x4.shr_s(i32x4.shl(h, 16), 3), ms), xa)); a0 = f32x4.add(a0, f32x4.mul(v128.and(i32x4.shr_s(h, 3), ms), xb));
      h = v128.load(p1 + i);
      a1 = f32x4.add(a1, f32x4.mul(v128.and(i32x4.shr_s(i32x4.shl(h, 16), 3), ms), xa)); a1 = f32x4.add(a1, f32x4.mul(v128.and(i32x4.shr_s(h, 3), ms), xb));
      h = v128.load(p2 + i);
      a2 = f32x4.add(a2, f32x4.mul(v128.and(i32x4.shr_s(i32x4.shl(h, 16), 3), ms), xa)); a2 = f32x4.add(a2, f32x4.mul(v128.and(i32x4.shr_s(h, 3), ms), xb));
      h = v128.load(p3 + i);
      a3 = f32x4.add(a3, f32x4.mul(v128.and(i32x4.shr_s(i32x4.shl(h, 16), 3), ms), xa)); a3 = f32x4.add(a3, f32x4.mul(v128.and(i32x4.shr_s(h, 3), ms), xb));
    }
    const s = reduce4_f32(a0, a1, a2, a3);
    store_quarters(y, r, q, r1, z != 0 ? v128.xor(s, v128.xor(k112, ms)) : s);
  }
}

// V5: four rows interleaved by 16-byte chunks, one pointer; split conversion (memory order)
export function v5(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const z = cols >> 31;
  const k112 = i32x4.splat(F16_K112 | z), split = i16x8.splat(<i16>(F16_SPLIT | z));
  const groupBytes = <usize>cols << 3;
  for (let r = r0; r < r1; r += 4) {
    const p = w + <usize>(r >> 2) * groupBytes;
    const n8 = <usize>(cols & ~7) << 3;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let xp = x;
    for (let i: usize = 0; i < n8; i += 64) {
      const xa = f32x4.mul(v128.load(xp), k112), xb = f32x4.mul(v128.load(xp, 16), k112);
      xp += 32;
      let h = v128.load(p + i), lo = split_low(h), hi = split_high(h, split);
      a0 = f32x4.add(a0, f32x4.mul(placed_low(lo, hi), xa)); a0 = f32x4.add(a0, f32x4.mul(placed_high(lo, hi), xb));
      h = v128.load(p + i, 16); lo = split_low(h); hi = split_high(h, split);
      a1 = f32x4.add(a1, f32x4.mul(placed_low(lo, hi), xa)); a1 = f32x4.add(a1, f32x4.mul(placed_high(lo, hi), xb));
      h = v128.load(p + i, 32); lo = split_low(h); hi = split_high(h, split);
      a2 = f32x4.add(a2, f32x4.mul(placed_low(lo, hi), xa)); a2 = f32x4.add(a2, f32x4.mul(placed_high(lo, hi), xb));
      h = v128.load(p + i, 48); lo = split_low(h); hi = split_high(h, split);
      a3 = f32x4.add(a3, f32x4.mul(placed_low(lo, hi), xa)); a3 = f32x4.add(a3, f32x4.mul(placed_high(lo, hi), xb));
    }
    const s = reduce4_f32(a0, a1, a2, a3);
    v128.store(y + (<usize>r << 2), z != 0 ? v128.xor(s, v128.xor(k112, split)) : s);
  }
}

// V6: V5 with the v4 permuted conversion
export function v6(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  const z = cols >> 31;
  const k112 = i32x4.splat(F16_K112 | z), ms = i32x4.splat(F16_MS | z);
  const groupBytes = <usize>cols << 3;
  for (let r = r0; r < r1; r += 4) {
    const p = w + <usize>(r >> 2) * groupBytes;
    const n8 = <usize>(cols & ~7) << 3;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let xp = x;
    for (let i: usize = 0; i < n8; i += 64) {
      const xa = f32x4.mul(v128.load(xp), k112), xb = f32x4.mul(v128.load(xp, 16), k112);
      xp += 32;
      let h = v128.load(p + i);
      a0 = f32x4.add(a0, f32x4.mul(v128.and(i32x4.shr_s(i32x4.shl(h, 16), 3), ms), xa)); a0 = f32x4.add(a0, f32x4.mul(v128.and(i32x4.shr_s(h, 3), ms), xb));
      h = v128.load(p + i, 16);
      a1 = f32x4.add(a1, f32x4.mul(v128.and(i32x4.shr_s(i32x4.shl(h, 16), 3), ms), xa)); a1 = f32x4.add(a1, f32x4.mul(v128.and(i32x4.shr_s(h, 3), ms), xb));
      h = v128.load(p + i, 32);
      a2 = f32x4.add(a2, f32x4.mul(v128.and(i32x4.shr_s(i32x4.shl(h, 16), 3), ms), xa)); a2 = f32x4.add(a2, f32x4.mul(v128.and(i32x4.shr_s(h, 3), ms), xb));
      h = v128.load(p + i, 48);
      a3 = f32x4.add(a3, f32x4.mul(v128.and(i32x4.shr_s(i32x4.shl(h, 16), 3), ms), xa)); a3 = f32x4.add(a3, f32x4.mul(v128.and(i32x4.shr_s(h, 3), ms), xb));
    }
    const s = reduce4_f32(a0, a1, a2, a3);
    v128.store(y + (<usize>r << 2), z != 0 ? v128.xor(s, v128.xor(k112, ms)) : s);
  }
}
