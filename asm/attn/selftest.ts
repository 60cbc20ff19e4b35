// `_start` of the attn module: its golden cases, run on the kernel set of the flavour being built
// (./flavour). RoPE and attention are checked against scalar f64 versions written here
// (deterministic inputs; GQA, headDim 8..128, f32 and f16 head-major caches of `cap` ≥ nPos
// positions), against constants the JS reference computed on the same inputs (asm/attn/goldens.ts),
// and for the invariances the host relies on (split head ranges, prefill = repeated decode). Scratch
// from SELFTEST_BASE.
import { check, ensureMemory, finish, SELFTEST_BASE } from '../lib/selftest';
import { f16_to_f32 } from '../lib/f16';
import { allClose, closeToGolden, fillUniform, loadGolden, sameBits } from '../lib/testkit';
import { attention_many_f16, attention_many_f32, attention_window_f16, attention_window_f32, kv_append_f16, kv_append_f32, rope_many } from './flavour';
import {
  ATTN_F16, ATTN_F32, ATTN_WINDOW_F32, ROPE_NEOX, ROPE_NORMAL, ROPE_NORMAL_PARTIAL, ROPE_TABLE_P7_D16, ROPE_TABLE_P7_D8,
} from './goldens';

const REGION: usize = 128 << 10; // 128 KiB each
const Q: usize = SELFTEST_BASE;
const K: usize = Q + REGION; // f32 key cache
const V: usize = K + REGION;
const K16: usize = V + REGION; // f16 key cache
const V16: usize = K16 + REGION;
const SRC: usize = V16 + REGION; // one position's k or v row before appending
const OUT: usize = SRC + REGION;
const OUT2: usize = OUT + REGION;
const REF: usize = OUT2 + REGION;
const CS: usize = REF + REGION;
const SCORES: usize = CS + REGION; // f64 scores of the scalar reference
const END: usize = SCORES + REGION;

/** Fills positions [0, nPos) of both the f32 and the f16 caches (cap positions per head) through the append kernels. */
function fillCaches(nPos: i32, nKv: i32, headDim: i32, cap: i32, seed: u32): u32 {
  let s = seed;
  for (let p = 0; p < nPos; p++) {
    s = fillUniform(SRC, nKv * headDim, s, 1);
    kv_append_f32(SRC, K, p, nKv, headDim, cap);
    kv_append_f16(SRC, K16, p, nKv, headDim, cap);
    s = fillUniform(SRC, nKv * headDim, s, 1);
    kv_append_f32(SRC, V, p, nKv, headDim, cap);
    kv_append_f16(SRC, V16, p, nKv, headDim, cap);
  }
  return s;
}

@inline function cacheAt(cache: usize, i: i32, f16: bool): f64 {
  return f16 ? <f64>f16_to_f32(<u32>load<u16>(cache + (<usize>i << 1))) : <f64>load<f32>(cache + (<usize>i << 2));
}

/** Two-pass f64 attention of heads [0, nHeads) over [first, first + nPos) of head-major caches of cap positions, written as f32 to REF. */
function refAttention(q: usize, k: usize, v: usize, out: usize, nHeads: i32, nKvHeads: i32, headDim: i32, nPos: i32, cap: i32, scale: f32, f16: bool, first: i32 = 0): void {
  const group = nHeads / nKvHeads;
  for (let h = 0; h < nHeads; h++) {
    const kvOff = ((h / group) * cap + first) * headDim; // element index of the KV head's position `first`
    let m: f64 = -Infinity;
    for (let t = 0; t < nPos; t++) {
      let dot: f64 = 0;
      for (let i = 0; i < headDim; i++) dot += <f64>load<f32>(q + (<usize>(h * headDim + i) << 2)) * cacheAt(k, kvOff + t * headDim + i, f16);
      const sc = dot * <f64>scale;
      store<f64>(SCORES + (<usize>t << 3), sc);
      m = Math.max(m, sc);
    }
    let sum: f64 = 0;
    for (let t = 0; t < nPos; t++) {
      const e = Math.exp(load<f64>(SCORES + (<usize>t << 3)) - m);
      store<f64>(SCORES + (<usize>t << 3), e);
      sum += e;
    }
    for (let i = 0; i < headDim; i++) {
      let acc: f64 = 0;
      for (let t = 0; t < nPos; t++) acc += load<f64>(SCORES + (<usize>t << 3)) * cacheAt(v, kvOff + t * headDim + i, f16);
      store<f32>(out + (<usize>(h * headDim + i) << 2), <f32>(acc / sum));
    }
  }
}

/** One query row at position nPos − 1 (it sees [0, nPos)), heads [h0, h1), over the f32 caches K, V. */
function attend32(q: usize, out: usize, nHeads: i32, nKv: i32, hd: i32, nPos: i32, cap: i32, scale: f32, h0: i32, h1: i32): void {
  attention_many_f32(q, K, V, out, 1, nPos - 1, nHeads, nKv, hd, cap, scale, h0, h1);
}

/** attend32 over the f16 caches K16, V16. */
function attend16(q: usize, out: usize, nHeads: i32, nKv: i32, hd: i32, nPos: i32, cap: i32, scale: f32, h0: i32, h1: i32): void {
  attention_many_f16(q, K16, V16, out, 1, nPos - 1, nHeads, nKv, hd, cap, scale, h0, h1);
}

function checkAttention(): void {
  // (nHeads, nKvHeads, headDim, nPos): GQA ratios 1, 2, 4, 8; headDim 8 (stories260K) to 128
  const cases: StaticArray<i32> = [4, 2, 8, 5, 8, 2, 16, 33, 4, 4, 64, 17, 8, 1, 128, 3, 2, 1, 16, 1, 8, 2, 8, 300, 6, 2, 64, 30];
  let ok32 = true;
  let ok16 = true;
  for (let c = 0; c < cases.length; c += 4) {
    const nHeads = cases[c], nKv = cases[c + 1], hd = cases[c + 2], nPos = cases[c + 3];
    const cap = nPos + c / 4; // room past nPos (the slack holds earlier cases' bytes, never read)
    const scale = <f32>(1.0 / Math.sqrt(<f64>hd));
    const s = fillUniform(Q, nHeads * hd, <u32>(1000 + c), 2);
    fillCaches(nPos, nKv, hd, cap, s);
    attend32(Q, OUT, nHeads, nKv, hd, nPos, cap, scale, 0, nHeads);
    refAttention(Q, K, V, REF, nHeads, nKv, hd, nPos, cap, scale, false);
    ok32 = ok32 && allClose(OUT, REF, nHeads * hd, 2e-6, 1e-5);
    attend16(Q, OUT, nHeads, nKv, hd, nPos, cap, scale, 0, nHeads);
    refAttention(Q, K16, V16, REF, nHeads, nKv, hd, nPos, cap, scale, true);
    ok16 = ok16 && allClose(OUT, REF, nHeads * hd, 2e-6, 1e-5);
  }
  check(ok32, 'attention_many_f32 (one query row) matches f64 attention (GQA 1, 2, 3, 4, 8, headDim 8-128, nPos 1-300)');
  check(ok16, 'attention_many_f16 (one query row) matches f64 attention over the same halves');

  // the golden case: 4 heads over 2 KV heads, headDim 8, 5 positions; the k and v rows (position p's
  // 16 floats at p·16, as the QKV matmul leaves them) go in through kv_append, into caches of cap 7
  const s = fillUniform(Q, 32, 6, 1);
  const KROWS = SRC, VROWS = SRC + 80 * 4;
  const kEnd = fillUniform(KROWS, 80, s, 1);
  fillUniform(VROWS, 80, kEnd, 1);
  for (let p = 0; p < 5; p++) {
    kv_append_f32(KROWS + (<usize>p * 64), K, p, 2, 8, 7);
    kv_append_f32(VROWS + (<usize>p * 64), V, p, 2, 8, 7);
    kv_append_f16(KROWS + (<usize>p * 64), K16, p, 2, 8, 7);
    kv_append_f16(VROWS + (<usize>p * 64), V16, p, 2, 8, 7);
  }
  const scale = <f32>(1.0 / Math.sqrt(8.0));
  attend32(Q, OUT, 4, 2, 8, 5, 7, scale, 0, 4);
  check(closeToGolden(OUT, ATTN_F32, 2e-6, 1e-5), 'attention_many_f32 matches the JS reference golden');
  attend16(Q, OUT, 4, 2, 8, 5, 7, scale, 0, 4);
  check(closeToGolden(OUT, ATTN_F16, 2e-6, 1e-5), 'attention_many_f16 matches the JS reference golden');

  // head ranges that split the work give the same bytes as one call
  const seed = fillUniform(Q, 8 * 16, 77, 2);
  fillCaches(40, 2, 16, 45, seed);
  const sc16 = <f32>0.25;
  attend32(Q, OUT, 8, 2, 16, 40, 45, sc16, 0, 8);
  attend32(Q, OUT2, 8, 2, 16, 40, 45, sc16, 0, 3);
  attend32(Q, OUT2, 8, 2, 16, 40, 45, sc16, 3, 8);
  let split = sameBits(OUT, OUT2, 128);
  attend16(Q, OUT, 8, 2, 16, 40, 45, sc16, 0, 8);
  attend16(Q, OUT2, 8, 2, 16, 40, 45, sc16, 0, 5);
  attend16(Q, OUT2, 8, 2, 16, 40, 45, sc16, 5, 8);
  split = split && sameBits(OUT, OUT2, 128);
  check(split, 'attention over split head ranges equals one call');

  // prefill: 6 query rows at positions 34..39 equal 6 one-row calls (repeated decode), split at an odd work item
  fillUniform(Q, 6 * 8 * 16, 78, 2);
  attention_many_f32(Q, K, V, OUT, 6, 34, 8, 2, 16, 45, sc16, 0, 13);
  attention_many_f32(Q, K, V, OUT, 6, 34, 8, 2, 16, 45, sc16, 13, 48);
  let many = true;
  for (let t = 0; t < 6; t++) {
    const row = <usize>t * 8 * 16 * 4;
    attend32(Q + row, OUT2 + row, 8, 2, 16, 34 + t + 1, 45, sc16, 0, 8);
  }
  many = many && sameBits(OUT, OUT2, 6 * 128);
  attention_many_f16(Q, K16, V16, OUT, 6, 34, 8, 2, 16, 45, sc16, 0, 48);
  for (let t = 0; t < 6; t++) {
    const row = <usize>t * 8 * 16 * 4;
    attend16(Q + row, OUT2 + row, 8, 2, 16, 34 + t + 1, 45, sc16, 0, 8);
  }
  many = many && sameBits(OUT, OUT2, 6 * 128);
  check(many, 'attention_many over several rows equals one row at a time');
}

function checkWindow(): void {
  // one query row at position 39 over a window of 7: positions 33..39, f32 and f16 caches
  const sc = <f32>0.25;
  const seed = fillUniform(Q, 8 * 16, 90, 2);
  fillCaches(40, 2, 16, 45, seed);
  attention_window_f32(Q, K, V, OUT, 1, 39, 8, 2, 16, 45, sc, 7, 0, 8);
  refAttention(Q, K, V, REF, 8, 2, 16, 7, 45, sc, false, 33);
  let ok = allClose(OUT, REF, 128, 2e-6, 1e-5);
  attention_window_f16(Q, K16, V16, OUT, 1, 39, 8, 2, 16, 45, sc, 7, 0, 8);
  refAttention(Q, K16, V16, REF, 8, 2, 16, 7, 45, sc, true, 33);
  ok = ok && allClose(OUT, REF, 128, 2e-6, 1e-5);
  check(ok, 'attention_window matches f64 attention over the last `window` positions (f32 and f16 caches)');

  // a window at least as long as the context is attention_many, bit for bit
  attention_window_f32(Q, K, V, OUT, 1, 39, 8, 2, 16, 45, sc, 40, 0, 8);
  attention_many_f32(Q, K, V, OUT2, 1, 39, 8, 2, 16, 45, sc, 0, 8);
  let same = sameBits(OUT, OUT2, 128);
  attention_window_f16(Q, K16, V16, OUT, 1, 39, 8, 2, 16, 45, sc, 1000, 0, 8);
  attention_many_f16(Q, K16, V16, OUT2, 1, 39, 8, 2, 16, 45, sc, 0, 8);
  same = same && sameBits(OUT, OUT2, 128);
  check(same, 'attention_window with a window past position 0 equals attention_many');

  // prefill: 6 rows at positions 34..39, window 5, split at an odd work item, equal 6 one-row calls
  fillUniform(Q, 6 * 8 * 16, 91, 2);
  attention_window_f32(Q, K, V, OUT, 6, 34, 8, 2, 16, 45, sc, 5, 0, 13);
  attention_window_f32(Q, K, V, OUT, 6, 34, 8, 2, 16, 45, sc, 5, 13, 48);
  for (let t = 0; t < 6; t++) {
    const row = <usize>t * 8 * 16 * 4;
    attention_window_f32(Q + row, K, V, OUT2 + row, 1, 34 + t, 8, 2, 16, 45, sc, 5, 0, 8);
  }
  check(sameBits(OUT, OUT2, 6 * 128), 'attention_window over several rows, split, equals one row at a time');

  // the golden case of checkAttention with a window of 3: positions 2..4
  const s = fillUniform(Q, 32, 6, 1);
  const KROWS = SRC, VROWS = SRC + 80 * 4;
  const kEnd = fillUniform(KROWS, 80, s, 1);
  fillUniform(VROWS, 80, kEnd, 1);
  for (let p = 0; p < 5; p++) {
    kv_append_f32(KROWS + (<usize>p * 64), K, p, 2, 8, 7);
    kv_append_f32(VROWS + (<usize>p * 64), V, p, 2, 8, 7);
  }
  attention_window_f32(Q, K, V, OUT, 1, 4, 4, 2, 8, 7, <f32>(1.0 / Math.sqrt(8.0)), 3, 0, 4);
  check(closeToGolden(OUT, ATTN_WINDOW_F32, 2e-6, 1e-5), 'attention_window_f32 matches the JS reference golden');
}

function checkKvAppend(): void {
  // 3 KV heads of 13 (a scalar tail after the SIMD copy), cap 6, position 3: head h's vector at
  // ((h·6 + 3)·13)·4, every other byte of the cache untouched
  const n = 3 * 6 * 13;
  for (let i = 0; i < n + 13; i++) store<u32>(K + (<usize>i << 2), 0x7fc0dead);
  fillUniform(SRC, 3 * 13, 5, 3);
  kv_append_f32(SRC, K, 3, 3, 13, 6);
  let placed = true;
  for (let i = 0; i < n + 13; i++) {
    const h = i / (6 * 13), p = (i / 13) % 6, d = i % 13;
    const want = i < n && p == 3 ? load<u32>(SRC + (<usize>(h * 13 + d) << 2)) : 0x7fc0dead;
    placed = placed && load<u32>(K + (<usize>i << 2)) == want;
  }
  check(placed, 'kv_append_f32 copies each head vector to its position in the head-major cache, nothing else');

  // round to nearest even, as ggml: ties, overflow, subnormals, NaN
  const vals: StaticArray<f32> = [
    1.0, -2.0, 0.1, 65504.0, 65519.0, 65520.0, 1.00048828125, 1.00146484375, 5.960464477539063e-8, 2.9e-8,
    -0.0, NaN, Infinity, 6.103515625e-5,
  ];
  const want: StaticArray<u16> = [
    0x3c00, 0xc000, 0x2e66, 0x7bff, 0x7bff, 0x7c00, 0x3c00, 0x3c02, 0x0001, 0x0000,
    0x8000, 0x7e00, 0x7c00, 0x0400,
  ];
  for (let i = 0; i < vals.length; i++) store<f32>(SRC + (<usize>i << 2), vals[i]);
  // two heads of 7 halves, cap 4, position 2: head h at (h·4 + 2)·7
  kv_append_f16(SRC, K16, 2, 2, 7, 4);
  let ok = true;
  for (let i = 0; i < vals.length; i++) ok = ok && load<u16>(K16 + <usize>(((i / 7) * 4 + 2) * 7 + i % 7) * 2) == want[i];
  check(ok, 'kv_append_f16 rounds to nearest even like ggml');
}

/** Scalar f64 RoPE of one head from the table at CS. */
function refRope(x: usize, out: usize, headDim: i32, ropeDim: i32, neox: bool): void {
  for (let i = 0; i < headDim; i++) store<f32>(out + (<usize>i << 2), load<f32>(x + (<usize>i << 2)));
  const half = ropeDim / 2;
  for (let i = 0; i < half; i++) {
    const c = <f64>load<f32>(CS + (<usize>(2 * i) << 2));
    const s = <f64>load<f32>(CS + (<usize>(2 * i + 1) << 2));
    const a = neox ? i : 2 * i;
    const b = neox ? i + half : 2 * i + 1;
    const x0 = <f64>load<f32>(x + (<usize>a << 2));
    const x1 = <f64>load<f32>(x + (<usize>b << 2));
    store<f32>(out + (<usize>a << 2), <f32>(x0 * c - x1 * s));
    store<f32>(out + (<usize>b << 2), <f32>(x0 * s + x1 * c));
  }
}

function checkRope(): void {
  // headDim, ropeDim pairs, both layouts, position 5 of base 10000 (table computed here in f64)
  const dims: StaticArray<i32> = [8, 8, 16, 16, 16, 8, 64, 64, 128, 128, 128, 64, 12, 12, 12, 6];
  let ok = true;
  for (let c = 0; c < dims.length; c += 2) {
    const hd = dims[c], rd = dims[c + 1];
    for (let i = 0; i < rd / 2; i++) {
      const theta = 5.0 * Math.pow(10000.0, -2.0 * <f64>i / <f64>rd);
      store<f32>(CS + (<usize>(2 * i) << 2), <f32>Math.cos(theta));
      store<f32>(CS + (<usize>(2 * i + 1) << 2), <f32>Math.sin(theta));
    }
    for (let neox = 0; neox < 2; neox++) {
      fillUniform(Q, 3 * hd, <u32>(2000 + c), 2);
      for (let h = 0; h < 3; h++) {
        const o = <usize>(h * hd) << 2;
        refRope(Q + o, REF + o, hd, rd, neox == 1);
      }
      rope_many(Q, CS, 1, 3, hd, rd, neox);
      ok = ok && allClose(Q, REF, 3 * hd, 1e-6, 1e-6);
    }
  }
  check(ok, 'rope_many matches f64 rotation in both layouts, full and partial ropeDim');

  // position 0 (cos 1, sin 0) leaves x unchanged, bit for bit
  for (let i = 0; i < 64; i++) {
    store<f32>(CS + (<usize>(2 * i) << 2), 1);
    store<f32>(CS + (<usize>(2 * i + 1) << 2), 0);
  }
  fillUniform(Q, 4 * 128, 3000, 2);
  fillUniform(REF, 4 * 128, 3000, 2);
  rope_many(Q, CS, 1, 4, 128, 128, 0);
  rope_many(Q, CS, 1, 4, 128, 128, 1);
  check(sameBits(Q, REF, 4 * 128), 'rope_many at position 0 is the identity');

  // rope_many over 3 rows equals one row at a time with that row's table
  fillUniform(CS, 3 * 16, 3001, 1);
  fillUniform(Q, 3 * 2 * 16, 3002, 2);
  fillUniform(OUT, 3 * 2 * 16, 3002, 2);
  rope_many(Q, CS, 3, 2, 16, 16, 1);
  for (let t: usize = 0; t < 3; t++) rope_many(OUT + t * 128, CS + t * 64, 1, 2, 16, 16, 1);
  check(sameBits(Q, OUT, 3 * 32), 'rope_many over several rows equals one row at a time');

  // the JS reference goldens (tables from ropeTable, pos 7)
  const golden: StaticArray<StaticArray<u32>> = [ROPE_NORMAL, ROPE_NEOX, ROPE_NORMAL_PARTIAL];
  let gok = true;
  for (let g = 0; g < 3; g++) {
    loadGolden(CS, g == 2 ? ROPE_TABLE_P7_D8 : ROPE_TABLE_P7_D16);
    fillUniform(Q, 32, 5, 1);
    rope_many(Q, CS, 1, 2, 16, g == 2 ? 8 : 16, g == 1 ? 1 : 0);
    gok = gok && closeToGolden(Q, golden[g], 1e-6, 1e-6);
  }
  check(gok, 'rope_many matches the JS reference goldens');
}

export function _start(): void {
  ensureMemory(END);
  checkRope();
  checkKvAppend();
  checkAttention();
  checkWindow();
  finish('attn');
}
