// get_row for the quantized weight types: one row dequantized to f32 (the embedding lookup), as
// ggml's dequantize_row_* (the same f32 products in the same order, so the same bits).
import { Q4_0_BLOCK, Q4_0_BYTES, Q4_0_QS, Q4_K_BLOCK, Q4_K_BYTES, Q4_K_DMIN, Q4_K_QS, Q6_K_BLOCK, Q6_K_BYTES, Q6_K_D, Q6_K_QH, Q6_K_SCALES, Q8_0_BLOCK, Q8_0_BYTES, Q8_0_QS } from '../lib/blocks';
import { f16_to_f32 } from '../lib/f16';
import { nibbles_a, nibbles_b, q4k_mins, q4k_scales, q6_group1, q6_group2, q6_group3, q6_group4 } from '../lib/quants';

/** get_row_q8_0(w, out: f32*, cols, row): q·d per value, as ggml's dequantize_row_q8_0. */
export function get_row_q8_0(w: usize, out: usize, cols: i32, row: i32): void {
  const nb = cols / Q8_0_BLOCK;
  let p = w + <usize>row * <usize>nb * Q8_0_BYTES;
  let o = out;
  for (let b = 0; b < nb; b++) {
    const d = f32x4.splat(f16_to_f32(load<u16>(p)));
    for (let k: usize = 0; k < 32; k += 8) store8(o + (k << 2), v128.load8x8_s(p + Q8_0_QS + k), d);
    p += Q8_0_BYTES;
    o += 128;
  }
}

/** get_row_q4_0(w, out: f32*, cols, row): (q − 8)·d per value, as ggml's dequantize_row_q4_0. */
export function get_row_q4_0(w: usize, out: usize, cols: i32, row: i32): void {
  const nb = cols / Q4_0_BLOCK;
  let p = w + <usize>row * <usize>nb * Q4_0_BYTES;
  let o = out;
  for (let b = 0; b < nb; b++) {
    const d = f32x4.splat(f16_to_f32(load<u16>(p)));
    store8(o, nibbles_a(p + Q4_0_QS, 0), d);
    store8(o + 32, nibbles_b(p + Q4_0_QS, 0), d);
    store8(o + 64, nibbles_a(p + Q4_0_QS, 4), d);
    store8(o + 96, nibbles_b(p + Q4_0_QS, 4), d);
    p += Q4_0_BYTES;
    o += 128;
  }
}

/** Eight i16 values times d, stored as eight floats at o. */
@inline function store8(o: usize, q: v128, d: v128): void {
  v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(q)), d));
  v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(q)), d), 16);
}

/** get_row_q4_K(w, out: f32*, cols, row): (d·sc)·q − dmin·m per value, as ggml's dequantize_row_q4_K. */
export function get_row_q4_K(w: usize, out: usize, cols: i32, row: i32): void {
  const nb = cols / Q4_K_BLOCK;
  let p = w + <usize>row * <usize>nb * Q4_K_BYTES;
  let o = out;
  const m = i16x8.splat(0x0f);
  for (let b = 0; b < nb; b++) {
    const d = f16_to_f32(load<u16>(p)), dmin = f16_to_f32(load<u16>(p, Q4_K_DMIN));
    const sc = q4k_scales(p), mn = q4k_mins(p);
    for (let j = 0; j < 8; j++) {
      const q = p + Q4_K_QS + (<usize>(j >> 1) << 5);
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

/** get_row_q6_K(w, out: f32*, cols, row): (d·sc)·(q − 32) per value, as ggml's dequantize_row_q6_K. */
export function get_row_q6_K(w: usize, out: usize, cols: i32, row: i32): void {
  const nb = cols / Q6_K_BLOCK;
  let p = w + <usize>row * <usize>nb * Q6_K_BYTES;
  let o = out;
  const m0f = i8x16.splat(0x0f), m30 = i8x16.splat(0x30); // one row: not worth keeping in registers
  for (let b = 0; b < nb; b++) {
    const d = f16_to_f32(load<u16>(p, Q6_K_D));
    for (let h: usize = 0; h < 2; h++) {
      const ql = p + (h << 6), qh = p + Q6_K_QH + (h << 5), sc = p + Q6_K_SCALES + (h << 3), oh = o + (h << 9);
      for (let g: usize = 0; g < 2; g++) {
        const go = g << 4;
        const L0 = v128.load(ql + go), L32 = v128.load(ql + go, 32), H = v128.load(qh + go);
        store16(oh + (go << 2), q6_group1(L0, H, m0f, m30), d * <f32>load<i8>(sc + g));
        store16(oh + (go << 2) + 128, q6_group2(L32, H, m0f, m30), d * <f32>load<i8>(sc + g + 2));
        store16(oh + (go << 2) + 256, q6_group3(L0, H, m0f, m30), d * <f32>load<i8>(sc + g + 4));
        store16(oh + (go << 2) + 384, q6_group4(L32, H, m0f, m30), d * <f32>load<i8>(sc + g + 6));
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
