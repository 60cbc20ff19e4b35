// Helpers for the `_start` self-tests of the ops and attn modules (never used by a kernel): the
// deterministic inputs (xorshift32, mirrored by scripts/golden/attn_ops_selftest_goldens.mjs so the
// JS reference computes the goldens on the very same floats) and tolerance checks.

/** One xorshift32 step. */
@inline export function xorshift(s: u32): u32 {
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s;
}

/**
 * Fills n floats at p with values (m·2^-23 − 1)·scale, m the top 24 bits of successive xorshift32
 * states: uniform in [−scale, scale), exact in f32. Returns the last state (the next call's seed).
 */
export function fillUniform(p: usize, n: i32, seed: u32, scale: f32): u32 {
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = xorshift(s);
    store<f32>(p + (<usize>i << 2), (<f32>(s >> 8) * <f32>1.1920928955078125e-7 - <f32>1.0) * scale);
  }
  return s;
}

/** |got − want| <= atol + rtol·|want|; NaN matches NaN, and ±inf matches only itself. */
export function close(got: f64, want: f64, atol: f64, rtol: f64): bool {
  if (want != want) return got != got;
  if (got == want) return true;
  return Math.abs(got - want) <= atol + rtol * Math.abs(want);
}

/** close() over n floats at got against n floats at want. */
export function allClose(got: usize, want: usize, n: i32, atol: f64, rtol: f64): bool {
  for (let i = 0; i < n; i++) {
    if (!close(<f64>load<f32>(got + (<usize>i << 2)), <f64>load<f32>(want + (<usize>i << 2)), atol, rtol)) return false;
  }
  return true;
}

/** close() over n floats at got against golden f32 bit patterns. */
export function closeToGolden(got: usize, golden: StaticArray<u32>, atol: f64, rtol: f64): bool {
  for (let i = 0; i < golden.length; i++) {
    if (!close(<f64>load<f32>(got + (<usize>i << 2)), <f64>reinterpret<f32>(golden[i]), atol, rtol)) return false;
  }
  return true;
}

/** Writes golden f32 bit patterns to p. */
export function loadGolden(p: usize, golden: StaticArray<u32>): void {
  for (let i = 0; i < golden.length; i++) store<u32>(p + (<usize>i << 2), golden[i]);
}

/** n floats at a and b are bit for bit equal. */
export function sameBits(a: usize, b: usize, n: i32): bool {
  for (let i = 0; i < n; i++) {
    if (load<u32>(a + (<usize>i << 2)) != load<u32>(b + (<usize>i << 2))) return false;
  }
  return true;
}
