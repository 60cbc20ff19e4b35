// SIMD helpers shared by the kernels: gathers of one value per lane, lane splats, horizontal sums, and
// the stores of four results that may run past the end of a row or token range.

/** The f16 at p, one lane per pointer (lane i from p_i), ready for halves_to_f32x4 (lib/f16.ts). */
@inline export function gather_halves(p0: usize, p1: usize, p2: usize, p3: usize): v128 {
  let v = v128.load16_splat(p0);
  v = v128.load16_lane(p1, v, 2);
  v = v128.load16_lane(p2, v, 4);
  return v128.load16_lane(p3, v, 6);
}

/** The f32 at p, one lane per pointer. */
@inline export function gather_f32(p0: usize, p1: usize, p2: usize, p3: usize): v128 {
  let v = v128.load32_splat(p0);
  v = v128.load32_lane(p1, v, 1);
  v = v128.load32_lane(p2, v, 2);
  return v128.load32_lane(p3, v, 3);
}

/** Lane i of the result is the sum of the four i32 lanes of the i-th argument. */
@inline export function reduce4_i32(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(i32x4.shuffle(a, b, 0, 4, 1, 5), i32x4.shuffle(a, b, 2, 6, 3, 7));
  const cd = i32x4.add(i32x4.shuffle(c, d, 0, 4, 1, 5), i32x4.shuffle(c, d, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

/** Lane i of the result is (a_i[0] + a_i[2]) + (a_i[1] + a_i[3]) for the i-th argument (f32). */
@inline export function reduce4_f32(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(i32x4.shuffle(a, b, 0, 4, 1, 5), i32x4.shuffle(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(i32x4.shuffle(c, d, 0, 4, 1, 5), i32x4.shuffle(c, d, 2, 6, 3, 7));
  return f32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

/** The sum of the four i32 lanes. */
@inline export function hsum_i32(a: v128): i32 {
  const s = i32x4.add(a, i32x4.shuffle(a, a, 2, 3, 0, 1));
  return i32x4.extract_lane(i32x4.add(s, i32x4.shuffle(s, s, 1, 0, 3, 2)), 0);
}

/**
 * Stores lane i of v at out + 4·(i·stride) for the lanes with index + i < end (tokens t..t+3 of nTok,
 * each token's results `stride` floats apart).
 */
@inline export function store_lanes(out: usize, stride: usize, index: i32, end: i32, v: v128): void {
  const step = stride << 2;
  store<f32>(out, f32x4.extract_lane(v, 0));
  if (index + 1 < end) store<f32>(out + step, f32x4.extract_lane(v, 1));
  if (index + 2 < end) store<f32>(out + 2 * step, f32x4.extract_lane(v, 2));
  if (index + 3 < end) store<f32>(out + 3 * step, f32x4.extract_lane(v, 3));
}

/** The weight row pointer of row min(r, last): rows past a range repeat its last row (their results are dropped). */
@inline export function row_ptr(w: usize, r: i32, last: i32, rowBytes: usize): usize {
  return w + <usize>(r < last ? r : last) * rowBytes;
}

/**
 * Stores the results of a quarters pass: lane k belongs to row r + k·q (the k-th quarter of a range
 * ending at `end`); rows at or past `end` (the short last quarter) are not written.
 */
@inline export function store_quarters(y: usize, r: i32, q: i32, end: i32, v: v128): void {
  store<f32>(y + (<usize>r << 2), f32x4.extract_lane(v, 0));
  if (r + q < end) store<f32>(y + (<usize>(r + q) << 2), f32x4.extract_lane(v, 1));
  if (r + 2 * q < end) store<f32>(y + (<usize>(r + 2 * q) << 2), f32x4.extract_lane(v, 2));
  if (r + 3 * q < end) store<f32>(y + (<usize>(r + 3 * q) << 2), f32x4.extract_lane(v, 3));
}

/** The sum of the four f32 lanes as (a[0] + a[2]) + (a[1] + a[3]): lane i of reduce4_f32 for the i-th argument. */
@inline export function hsum_f32(a: v128): f32 {
  const s = f32x4.add(a, i32x4.shuffle(a, a, 2, 3, 0, 1));
  return f32x4.extract_lane(f32x4.add(s, i32x4.shuffle(s, s, 1, 0, 3, 2)), 0);
}

/** The largest of the four f32 lanes (NaN if any lane is NaN). */
@inline export function hmax_f32(m: v128): f32 {
  m = f32x4.max(m, i32x4.shuffle(m, m, 2, 3, 0, 1));
  return f32x4.extract_lane(f32x4.max(m, i32x4.shuffle(m, m, 1, 0, 3, 2)), 0);
}

/** Lane k of v in all four lanes. */
@inline export function lane(v: v128, k: i32): v128 {
  return k == 0 ? i32x4.shuffle(v, v, 0, 0, 0, 0) : k == 1 ? i32x4.shuffle(v, v, 1, 1, 1, 1)
    : k == 2 ? i32x4.shuffle(v, v, 2, 2, 2, 2) : i32x4.shuffle(v, v, 3, 3, 3, 3);
}
