// The `attn` kernel family (asm/attn.ts) against its JS reference (host/kernels/reference/attn.ts) and
// the reference engine's RoPE, loaded the way the host loads it: one shared memory, WASI stubs.
// Tolerances are stated per test.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rope as engineRope } from '../host/engine/reference.js';
import { mulberry32 } from '../host/engine/sampler.js';
import { compileFamily, createSharedMemory, instantiateKernel } from '../host/kernels/load.js';
import * as ref from '../host/kernels/reference/attn.js';
import { f32ToF16 } from '../host/model/ggml-types.js';
import { KernelArena } from './helpers/kernel-arena.js';

type P = number; // a byte offset into the shared memory
interface AttnKernels {
  rope_many(x: P, cs: P, nTok: number, nHeads: number, headDim: number, ropeDim: number, neox: number): void;
  kv_append_f32(src: P, cache: P, pos: number, nKvHeads: number, headDim: number, cap: number): void;
  kv_append_f16(src: P, cache: P, pos: number, nKvHeads: number, headDim: number, cap: number): void;
  attention_many_f32(q: P, k: P, v: P, out: P, nTok: number, pos0: number, nHeads: number, nKvHeads: number, headDim: number, cap: number, scale: number, w0: number, w1: number): void;
  attention_many_f16(q: P, k: P, v: P, out: P, nTok: number, pos0: number, nHeads: number, nKvHeads: number, headDim: number, cap: number, scale: number, w0: number, w1: number): void;
  attention_window_f32(q: P, k: P, v: P, out: P, nTok: number, pos0: number, nHeads: number, nKvHeads: number, headDim: number, cap: number, scale: number, window: number, w0: number, w1: number): void;
  attention_window_f16(q: P, k: P, v: P, out: P, nTok: number, pos0: number, nHeads: number, nKvHeads: number, headDim: number, cap: number, scale: number, window: number, w0: number, w1: number): void;
}

const memory = createSharedMemory(256); // 16 MiB
const attn = instantiateKernel(compileFamily('attn'), memory) as unknown as AttnKernels;

// One position's RoPE and one query row's attention (the calls a decode step makes): the _many
// kernels with one row, and the reference the same way.
const rope1 = (x: P, cs: P, nHeads: number, headDim: number, ropeDim: number, neox: number) => attn.rope_many(x, cs, 1, nHeads, headDim, ropeDim, neox);
const refRope1 = (x: Float32Array, cs: Float32Array, nHeads: number, headDim: number, ropeDim: number, neox: boolean) => ref.ropeMany(x, cs, 1, nHeads, headDim, ropeDim, neox);
type Attend1 = (q: P, k: P, v: P, out: P, nHeads: number, nKvHeads: number, headDim: number, nPos: number, cap: number, scale: number, h0: number, h1: number) => void;
/** Heads [h0, h1) of one query row at position nPos − 1 (it sees positions [0, nPos)). */
const attention1 = (f16: boolean): Attend1 => (q, k, v, out, nHeads, nKvHeads, headDim, nPos, cap, scale, h0, h1) =>
  (f16 ? attn.attention_many_f16 : attn.attention_many_f32)(q, k, v, out, 1, nPos - 1, nHeads, nKvHeads, headDim, cap, scale, h0, h1);
const attention_f32 = attention1(false);
const attention_f16 = attention1(true);
const refAttention = (q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, s: ref.AttnShape, nPos: number, cap: number) => ref.attentionMany(q, k, v, out, s, 1, nPos - 1, cap);
const refAttentionF16 = (q: Float32Array, k: Uint16Array, v: Uint16Array, out: Float32Array, s: ref.AttnShape, nPos: number, cap: number) => ref.attentionManyF16(q, k, v, out, s, 1, nPos - 1, cap);


function uniform(n: number, seed: number, scale: number): Float32Array {
  const rnd = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (rnd() * 2 - 1) * scale);
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number, what: string): void {
  assert.is(got.length, want.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const r = Math.abs(got[i] - want[i]) / (atol + rtol * Math.abs(want[i]));
    if (!(r <= worst)) {
      worst = r;
      at = i;
    }
  }
  assert.ok(worst <= 1, `${what}: [${at}] ${got[at]} vs ${want[at]}, ${worst.toFixed(3)}× the tolerance (atol ${atol}, rtol ${rtol})`);
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.slice().buffer));


// (the module's `_start` self-test under node:wasi, wasmtime and jco: test/kernel-wasi.test.ts)

// ---- RoPE ------------------------------------------------------------------------------------

const ROPE_SHAPES = [
  // headDim, ropeDim (partial rotary leaves the rest alone)
  [8, 8], [16, 16], [16, 8], [64, 64], [128, 128], [128, 64], [12, 6],
];
const POSITIONS = [0, 1, 17, 300, 4095];

test('ropeTable gives the cos/sin the reference engine rotates by, within 1e-6', () => {
  // rotating the unit vectors (1, 0) by the engine's rope reads its cos θ and sin θ back out
  for (const ropeDim of [8, 64, 128]) {
    for (const pos of POSITIONS) {
      const cs = ref.ropeTable(pos, ropeDim, 10000);
      const probe = new Float32Array(ropeDim);
      for (let i = 0; i < ropeDim; i += 2) probe[i] = 1;
      engineRope(probe, 0, pos, ropeDim, 10000, 'normal');
      assertClose(cs, probe, 1e-6, 0, `ropeTable(${pos}, ${ropeDim})`);
    }
  }
});

test('rope_many (one row) matches the reference engine rope in both layouts (atol 1e-6 for |x| <= 1)', () => {
  for (const [headDim, ropeDim] of ROPE_SHAPES) {
    for (const pos of POSITIONS) {
      for (const style of ['normal', 'neox'] as const) {
        const nHeads = 3;
        const a = new KernelArena(memory);
        const input = uniform(nHeads * headDim, headDim * 1000 + pos, 1);
        const x = a.f32(nHeads * headDim, input);
        const cs = a.f32(ropeDim, ref.ropeTable(pos, ropeDim, 500000));
        rope1(x.ptr, cs.ptr, nHeads, headDim, ropeDim, style === 'neox' ? 1 : 0);
        const want = Float32Array.from(input);
        for (let h = 0; h < nHeads; h++) engineRope(want, h * headDim, pos, ropeDim, 500000, style);
        assertClose(x.view, want, 1e-6, 0, `rope ${style} headDim ${headDim} ropeDim ${ropeDim} pos ${pos}`);
        // and the table-driven JS reference agrees as closely
        const viaTable = Float32Array.from(input);
        refRope1(viaTable, cs.view, nHeads, headDim, ropeDim, style === 'neox');
        assertClose(x.view, viaTable, 2e-7, 2e-7, `rope vs table reference ${style} ${headDim}/${ropeDim}`);
        for (let h = 0; h < nHeads; h++) {
          for (let i = ropeDim; i < headDim; i++) assert.is(x.view[h * headDim + i], input[h * headDim + i]);
        }
      }
    }
  }
});

test('rope_many at position 0 is the identity', () => {
  for (const [headDim, ropeDim] of ROPE_SHAPES) {
    for (const neox of [0, 1]) {
      const a = new KernelArena(memory);
      const input = uniform(4 * headDim, headDim, 3);
      const x = a.f32(4 * headDim, input);
      const cs = a.f32(ropeDim, ref.ropeTable(0, ropeDim, 10000));
      rope1(x.ptr, cs.ptr, 4, headDim, ropeDim, neox);
      assert.equal(bits(x.view), bits(input));
    }
  }
});

test('rope_many over several rows equals one row at a time, each row its own position', () => {
  const nTok = 5, nHeads = 4, headDim = 64, ropeDim = 64, pos0 = 9;
  for (const neox of [0, 1]) {
    const a = new KernelArena(memory);
    const input = uniform(nTok * nHeads * headDim, 77, 1);
    const x = a.f32(input.length, input);
    const rows = a.f32(input.length, input);
    const cs = a.f32(nTok * ropeDim, ref.ropeTableMany(pos0, nTok, ropeDim, 10000));
    attn.rope_many(x.ptr, cs.ptr, nTok, nHeads, headDim, ropeDim, neox);
    for (let t = 0; t < nTok; t++) rope1(rows.ptr + 4 * t * nHeads * headDim, cs.ptr + 4 * t * ropeDim, nHeads, headDim, ropeDim, neox);
    assert.equal(bits(x.view), bits(rows.view));
    const want = Float32Array.from(input);
    ref.ropeMany(want, cs.view, nTok, nHeads, headDim, ropeDim, neox === 1);
    assertClose(x.view, want, 2e-7, 2e-7, 'rope_many');
  }
});

// ---- KV cache ------------------------------------------------------------------------------

test('kv_append_f32 writes each head\'s vector at its position and nothing else (headDim 37: SIMD and scalar tail)', () => {
  const a = new KernelArena(memory);
  const nKvHeads = 3, headDim = 37, cap = 4;
  const cache = a.f32(nKvHeads * cap * headDim);
  cache.view.fill(7);
  const src = a.f32(nKvHeads * headDim, uniform(nKvHeads * headDim, 3, 2));
  attn.kv_append_f32(src.ptr, cache.ptr, 2, nKvHeads, headDim, cap);
  const want = new Float32Array(nKvHeads * cap * headDim).fill(7);
  ref.kvAppendF32(src.view, want, 2, nKvHeads, headDim, cap);
  assert.equal(bits(cache.view), bits(want));
});

test('the KV cache is head-major: head h, position p at cache + ((h·cap + p)·headDim)·eltBytes; positions ≥ nPos and the bytes around untouched', () => {
  // (nKvHeads, headDim, cap, nPos): nPos = cap fills every head to its end, next to the following head
  for (const f16 of [false, true]) {
    for (const [nKvHeads, headDim, cap, nPos] of [[2, 64, 10, 3], [4, 16, 7, 7], [1, 8, 3, 1], [8, 128, 5, 4], [3, 12, 9, 6]]) {
      const a = new KernelArena(memory);
      const elt = f16 ? 2 : 4;
      const bytes = nKvHeads * cap * headDim * elt;
      // the cache with a 64-byte guard on each side; every byte starts as 0xa5
      const buf = a.alloc(bytes + 128);
      const all = new Uint8Array(memory.buffer, buf, bytes + 128);
      all.fill(0xa5);
      const cache = buf + 64;
      const src = a.f32(nKvHeads * headDim);
      const rows: Float32Array[] = [];
      for (let p = 0; p < nPos; p++) {
        rows.push(uniform(nKvHeads * headDim, 1000 * p + headDim + nKvHeads, 1));
        src.view.set(rows[p]);
        (f16 ? attn.kv_append_f16 : attn.kv_append_f32)(src.ptr, cache, p, nKvHeads, headDim, cap);
      }
      const what = `${f16 ? 'f16' : 'f32'} ${nKvHeads}×${headDim} cap ${cap} nPos ${nPos}`;
      for (let h = 0; h < nKvHeads; h++) {
        for (let p = 0; p < cap; p++) {
          const offset = ((h * cap + p) * headDim) * elt; // the documented byte offset
          assert.is(ref.kvIndex(h, p, headDim, cap) * elt, offset);
          const got = f16 ? Array.from(new Uint16Array(memory.buffer, cache + offset, headDim))
            : Array.from(new Uint32Array(memory.buffer, cache + offset, headDim));
          if (p < nPos) {
            const head = rows[p].subarray(h * headDim, (h + 1) * headDim);
            assert.equal(got, f16 ? Array.from(head, (x) => f32ToF16(x)) : bits(head), `${what}: head ${h} position ${p}`);
          } else {
            assert.ok(got.every((x) => x === (f16 ? 0xa5a5 : 0xa5a5a5a5)), `${what}: head ${h} position ${p} untouched`);
          }
        }
      }
      assert.ok(all.subarray(0, 64).every((b) => b === 0xa5) && all.subarray(64 + bytes).every((b) => b === 0xa5), `${what}: nothing written outside the cache`);
    }
  }
});

test('kv_append_f16 rounds to nearest even exactly like f32ToF16 (ggml)', () => {
  const specials = [0, -0, 1, -2, 0.1, 65504, 65519, 65520, 1e6, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -24, 2 ** -25, 1.5 * 2 ** -25, 2 ** -14,
    2 ** -14 - 2 ** -25, Infinity, -Infinity, NaN, -NaN, 1e-30];
  const values = Float32Array.from([...specials, ...uniform(1000, 4, 8), ...uniform(1000, 5, 1e-4)]);
  const nKvHeads = 43, headDim = 47, cap = 3; // 43·47 = 2021 values
  assert.is(values.length, nKvHeads * headDim);
  const a = new KernelArena(memory);
  const src = a.f32(values.length, values);
  const cache = a.u16(nKvHeads * cap * headDim);
  attn.kv_append_f16(src.ptr, cache.ptr, 1, nKvHeads, headDim, cap);
  const want = new Uint16Array(nKvHeads * cap * headDim);
  ref.kvAppendF16(values, want, 1, nKvHeads, headDim, cap);
  assert.equal(Array.from(cache.view), Array.from(want));
  // value i < headDim is head 0's element i at position 1: index headDim + i
  assert.is(cache.view[headDim + 4], 0x2e66); // 0.1
  assert.is(cache.view[headDim + 7], 0x7c00); // 65520 overflows to inf
  assert.is(cache.view[headDim + 9], 0x3c00); // tie rounds to even
  assert.is(cache.view[headDim + 10], 0x3c02);
});

// ---- attention -------------------------------------------------------------------------------

interface Setup {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  nPos: number;
  cap: number;
  scale: number;
  q: { ptr: P; view: Float32Array };
  k: { ptr: P; view: Float32Array };
  v: { ptr: P; view: Float32Array };
  k16: { ptr: P; view: Uint16Array };
  v16: { ptr: P; view: Uint16Array };
  out: { ptr: P; view: Float32Array };
}

/**
 * Random q (nRows query rows) and nPos cache positions, filled through the append kernels into
 * head-major caches of cap = nPos + 5 positions per head. The 5 spare positions of every head hold
 * NaN (f32 and f16): a kernel that read past nPos, or across into another head, would return NaN.
 */
function setup(a: KernelArena, nHeads: number, nKvHeads: number, headDim: number, nPos: number, seed: number, nRows = 1, qScale = 2): Setup {
  const kvDim = nKvHeads * headDim;
  const cap = nPos + 5;
  const q = a.f32(nRows * nHeads * headDim, uniform(nRows * nHeads * headDim, seed, qScale));
  const k = a.f32(cap * kvDim);
  const v = a.f32(cap * kvDim);
  const k16 = a.u16(cap * kvDim);
  const v16 = a.u16(cap * kvDim);
  for (const c of [k, v]) c.view.fill(NaN);
  for (const c of [k16, v16]) c.view.fill(0x7e00);
  const src = a.f32(kvDim);
  for (let p = 0; p < nPos; p++) {
    src.view.set(uniform(kvDim, seed * 7919 + 2 * p + 1, 1));
    attn.kv_append_f32(src.ptr, k.ptr, p, nKvHeads, headDim, cap);
    attn.kv_append_f16(src.ptr, k16.ptr, p, nKvHeads, headDim, cap);
    src.view.set(uniform(kvDim, seed * 7919 + 2 * p + 2, 1));
    attn.kv_append_f32(src.ptr, v.ptr, p, nKvHeads, headDim, cap);
    attn.kv_append_f16(src.ptr, v16.ptr, p, nKvHeads, headDim, cap);
  }
  const out = a.f32(nRows * nHeads * headDim);
  return { nHeads, nKvHeads, headDim, nPos, cap, scale: Math.fround(1 / Math.sqrt(headDim)), q, k, v, k16, v16, out };
}

const GQA = [1, 2, 4, 8];
const HEAD_DIMS = [8, 16, 64, 128];
const N_POS = [1, 2, 17, 300];
// Error budget: f32 dot products and exp (~1e-7 relative each) against an f64 reference; outputs are
// weighted means of values in [-1, 1].
const ATOL = 1e-6;
const RTOL = 1e-5;

test('attention_many_f32, one query row, matches the reference: GQA 1, 2, 4, 8 × headDim 8, 16, 64, 128 × nPos 1, 2, 17, 300 (atol 1e-6, rtol 1e-5)', () => {
  for (const ratio of GQA) {
    for (const headDim of HEAD_DIMS) {
      for (const nPos of N_POS) {
        const a = new KernelArena(memory);
        const s = setup(a, 2 * ratio, 2, headDim, nPos, ratio * 100000 + headDim * 1000 + nPos);
        attention_f32(s.q.ptr, s.k.ptr, s.v.ptr, s.out.ptr, s.nHeads, s.nKvHeads, headDim, nPos, s.cap, s.scale, 0, s.nHeads);
        const want = new Float32Array(s.out.view.length);
        refAttention(s.q.view, s.k.view, s.v.view, want, s, nPos, s.cap);
        assertClose(s.out.view, want, ATOL, RTOL, `attention_f32 GQA ${ratio} headDim ${headDim} nPos ${nPos}`);
      }
    }
  }
});

test('attention_many_f16, one query row, matches the reference fed the same halves (atol 1e-6, rtol 1e-5)', () => {
  for (const ratio of GQA) {
    for (const headDim of HEAD_DIMS) {
      for (const nPos of N_POS) {
        const a = new KernelArena(memory);
        const s = setup(a, 2 * ratio, 2, headDim, nPos, ratio * 100000 + headDim * 1000 + nPos + 7);
        attention_f16(s.q.ptr, s.k16.ptr, s.v16.ptr, s.out.ptr, s.nHeads, s.nKvHeads, headDim, nPos, s.cap, s.scale, 0, s.nHeads);
        const want = new Float32Array(s.out.view.length);
        refAttentionF16(s.q.view, s.k16.view, s.v16.view, want, s, nPos, s.cap);
        assertClose(s.out.view, want, ATOL, RTOL, `attention_f16 GQA ${ratio} headDim ${headDim} nPos ${nPos}`);
        // the halves are the f32 cache rounded: f32ToF16 of every cached float (here the last head's last position)
        const last = ref.kvIndex(s.nKvHeads - 1, nPos - 1, headDim, s.cap) + headDim - 1;
        assert.is(s.k16.view[last], f32ToF16(s.k.view[last]));
      }
    }
  }
});

test('attention with groups that are not a multiple of 4 (3, 7) and multi-query (one KV head) matches the reference', () => {
  for (const [nHeads, nKvHeads] of [[6, 2], [14, 2], [8, 1], [5, 1]]) {
    for (const f16 of [false, true]) {
      const a = new KernelArena(memory);
      const s = setup(a, nHeads, nKvHeads, 64, 41, nHeads * 10 + nKvHeads);
      const want = new Float32Array(nHeads * 64);
      if (f16) {
        attention_f16(s.q.ptr, s.k16.ptr, s.v16.ptr, s.out.ptr, nHeads, nKvHeads, 64, 41, s.cap, s.scale, 0, nHeads);
        refAttentionF16(s.q.view, s.k16.view, s.v16.view, want, s, 41, s.cap);
      } else {
        attention_f32(s.q.ptr, s.k.ptr, s.v.ptr, s.out.ptr, nHeads, nKvHeads, 64, 41, s.cap, s.scale, 0, nHeads);
        refAttention(s.q.view, s.k.view, s.v.view, want, s, 41, s.cap);
      }
      assertClose(s.out.view, want, ATOL, RTOL, `attention ${nHeads}/${nKvHeads} ${f16 ? 'f16' : 'f32'}`);
    }
  }
});

test('attention over one position returns that position’s value row exactly', () => {
  const a = new KernelArena(memory);
  const s = setup(a, 4, 2, 16, 1, 6);
  attention_f32(s.q.ptr, s.k.ptr, s.v.ptr, s.out.ptr, 4, 2, 16, 1, s.cap, s.scale, 0, 4);
  for (let h = 0; h < 4; h++) {
    const at = ref.kvIndex(Math.floor(h / 2), 0, 16, s.cap);
    assert.equal(bits(s.out.view.subarray(h * 16, h * 16 + 16)), bits(s.v.view.subarray(at, at + 16)));
  }
});

test('attention stays finite and accurate for large scores (online softmax subtracts the running max)', () => {
  const a = new KernelArena(memory);
  const s = setup(a, 4, 2, 64, 300, 8, 1, 40); // q scaled ×40: scores in the hundreds
  attention_f32(s.q.ptr, s.k.ptr, s.v.ptr, s.out.ptr, 4, 2, 64, 300, s.cap, s.scale, 0, 4);
  const want = new Float32Array(4 * 64);
  refAttention(s.q.view, s.k.view, s.v.view, want, s, 300, s.cap);
  assert.ok(s.out.view.every(Number.isFinite));
  // scores of ~100 carry ~1e-5 absolute rounding, so the weights ~1e-5 relative
  assertClose(s.out.view, want, 1e-5, 1e-4, 'attention with large scores');
});

test('head ranges that split the work give the same bytes as one call', () => {
  // GQA groups of 8 (split inside and across groups), 3, and no GQA
  const cases = [
    { nHeads: 16, nKvHeads: 2, splits: [[0, 1], [1, 7], [7, 8], [8, 16]] },
    { nHeads: 6, nKvHeads: 2, splits: [[0, 2], [2, 5], [5, 6]] },
    { nHeads: 4, nKvHeads: 4, splits: [[0, 3], [3, 4]] },
  ];
  for (const { nHeads, nKvHeads, splits } of cases) {
    for (const f16 of [false, true]) {
      const a = new KernelArena(memory);
      const s = setup(a, nHeads, nKvHeads, 64, 57, 9);
      const fn = f16 ? attention_f16 : attention_f32;
      const [k, v] = f16 ? [s.k16.ptr, s.v16.ptr] : [s.k.ptr, s.v.ptr];
      fn(s.q.ptr, k, v, s.out.ptr, nHeads, nKvHeads, 64, 57, s.cap, s.scale, 0, nHeads);
      const whole = s.out.view.slice();
      s.out.view.fill(NaN);
      for (const [h0, h1] of splits) fn(s.q.ptr, k, v, s.out.ptr, nHeads, nKvHeads, 64, 57, s.cap, s.scale, h0, h1);
      assert.equal(bits(s.out.view), bits(whole), `${nHeads}/${nKvHeads} ${f16 ? 'f16' : 'f32'}`);
    }
  }
});

test('attention_many over nTok rows equals nTok one-row calls at positions pos0 .. pos0 + nTok - 1', () => {
  for (const f16 of [false, true]) {
    for (const [nHeads, nKvHeads, headDim, pos0, nTok] of [[8, 2, 64, 0, 17], [4, 4, 8, 30, 5], [16, 2, 128, 283, 17], [2, 1, 16, 0, 1]]) {
      const a = new KernelArena(memory);
      const s = setup(a, nHeads, nKvHeads, headDim, pos0 + nTok, nHeads * 31 + headDim + pos0, nTok);
      const [k, v] = f16 ? [s.k16.ptr, s.v16.ptr] : [s.k.ptr, s.v.ptr];
      const many = f16 ? attn.attention_many_f16 : attn.attention_many_f32;
      const single = f16 ? attention_f16 : attention_f32;
      many(s.q.ptr, k, v, s.out.ptr, nTok, pos0, nHeads, nKvHeads, headDim, s.cap, s.scale, 0, nTok * nHeads);
      const got = s.out.view.slice();
      const row = 4 * nHeads * headDim;
      for (let t = 0; t < nTok; t++) single(s.q.ptr + t * row, k, v, s.out.ptr + t * row, nHeads, nKvHeads, headDim, pos0 + t + 1, s.cap, s.scale, 0, nHeads);
      assert.equal(bits(got), bits(s.out.view), `${f16 ? 'f16' : 'f32'} ${nHeads}/${nKvHeads}×${headDim} pos0 ${pos0} nTok ${nTok}`);
      const want = new Float32Array(got.length);
      if (f16) ref.attentionManyF16(s.q.view, s.k16.view, s.v16.view, want, s, nTok, pos0, s.cap);
      else ref.attentionMany(s.q.view, s.k.view, s.v.view, want, s, nTok, pos0, s.cap);
      assertClose(got, want, ATOL, RTOL, 'attention_many vs reference');
    }
  }
});

test('attention_many work ranges split anywhere give the same bytes as one call', () => {
  const a = new KernelArena(memory);
  const nHeads = 8, nTok = 9, pos0 = 4;
  const s = setup(a, nHeads, 2, 16, pos0 + nTok, 10, nTok);
  attn.attention_many_f32(s.q.ptr, s.k.ptr, s.v.ptr, s.out.ptr, nTok, pos0, nHeads, 2, 16, s.cap, s.scale, 0, nTok * nHeads);
  const whole = s.out.view.slice();
  s.out.view.fill(NaN);
  for (const [w0, w1] of [[0, 5], [5, 6], [6, 40], [40, 72]]) {
    attn.attention_many_f32(s.q.ptr, s.k.ptr, s.v.ptr, s.out.ptr, nTok, pos0, nHeads, 2, 16, s.cap, s.scale, w0, w1);
  }
  assert.equal(bits(s.out.view), bits(whole));
});

// ---- sliding window ---------------------------------------------------------------------------

test('attention_window_f32/_f16 match the reference over the last `window` positions: GQA 1, 2, 4 × windows 1, 3, 16, 40 × prefill rows at positions past and inside the window', () => {
  for (const [nHeads, nKvHeads] of [[4, 4], [4, 2], [8, 2]]) {
    for (const window of [1, 3, 16, 40]) {
      for (const f16 of [false, true]) {
        const nTok = 6, pos0 = 29;
        const a = new KernelArena(memory);
        const s = setup(a, nHeads, nKvHeads, 16, pos0 + nTok, nHeads * 100 + window + (f16 ? 7 : 0), nTok);
        const [k, v] = f16 ? [s.k16.ptr, s.v16.ptr] : [s.k.ptr, s.v.ptr];
        (f16 ? attn.attention_window_f16 : attn.attention_window_f32)(s.q.ptr, k, v, s.out.ptr, nTok, pos0, nHeads, nKvHeads, 16, s.cap, s.scale, window, 0, nTok * nHeads);
        const want = new Float32Array(s.out.view.length);
        if (f16) ref.attentionWindowF16(s.q.view, s.k16.view, s.v16.view, want, s, nTok, pos0, s.cap, window);
        else ref.attentionWindow(s.q.view, s.k.view, s.v.view, want, s, nTok, pos0, s.cap, window);
        assertClose(s.out.view, want, ATOL, RTOL, `attention_window ${nHeads}/${nKvHeads} window ${window} ${f16 ? 'f16' : 'f32'}`);
      }
    }
  }
});

test('attention_window reads only the window: positions before it may hold NaN', () => {
  const a = new KernelArena(memory);
  const s = setup(a, 4, 2, 16, 20, 33);
  for (let h = 0; h < 2; h++) for (let p = 0; p < 20 - 5; p++) s.k.view.fill(NaN, ref.kvIndex(h, p, 16, s.cap), ref.kvIndex(h, p, 16, s.cap) + 16);
  attn.attention_window_f32(s.q.ptr, s.k.ptr, s.v.ptr, s.out.ptr, 1, 19, 4, 2, 16, s.cap, s.scale, 5, 0, 4);
  assert.ok(s.out.view.every(Number.isFinite));
});

test('attention_window with a window reaching position 0 is attention_many bit for bit; rows and work splits give the same bytes', () => {
  for (const f16 of [false, true]) {
    const nTok = 9, pos0 = 4, nHeads = 8;
    const a = new KernelArena(memory);
    const s = setup(a, nHeads, 2, 16, pos0 + nTok, 44, nTok);
    const [k, v] = f16 ? [s.k16.ptr, s.v16.ptr] : [s.k.ptr, s.v.ptr];
    const win = f16 ? attn.attention_window_f16 : attn.attention_window_f32;
    const many = f16 ? attn.attention_many_f16 : attn.attention_many_f32;
    many(s.q.ptr, k, v, s.out.ptr, nTok, pos0, nHeads, 2, 16, s.cap, s.scale, 0, nTok * nHeads);
    const whole = s.out.view.slice();
    win(s.q.ptr, k, v, s.out.ptr, nTok, pos0, nHeads, 2, 16, s.cap, s.scale, pos0 + nTok, 0, nTok * nHeads);
    assert.equal(bits(s.out.view), bits(whole));
    win(s.q.ptr, k, v, s.out.ptr, nTok, pos0, nHeads, 2, 16, s.cap, s.scale, 3, 0, nTok * nHeads);
    const windowed = s.out.view.slice();
    s.out.view.fill(NaN);
    for (const [w0, w1] of [[0, 5], [5, 6], [6, 40], [40, 72]]) win(s.q.ptr, k, v, s.out.ptr, nTok, pos0, nHeads, 2, 16, s.cap, s.scale, 3, w0, w1);
    assert.equal(bits(s.out.view), bits(windowed));
    const row = 4 * nHeads * 16;
    for (let t = 0; t < nTok; t++) win(s.q.ptr + t * row, k, v, s.out.ptr + t * row, 1, pos0 + t, nHeads, 2, 16, s.cap, s.scale, 3, 0, nHeads);
    assert.equal(bits(s.out.view), bits(windowed));
  }
});

// headDim a multiple of 4 but not of 8: the kernels step d by 4 (one f32x4, or four halves), so 4 and
// 12 are inside the contract; no other test above uses them.
const SMALL_HEAD_DIMS = [4, 12];

/** Fills the 64 bytes after out with 0xa5 and returns a check that they are still 0xa5. */
function guardAfter(out: { ptr: P; view: Float32Array }): () => boolean {
  const guard = new Uint8Array(memory.buffer, out.ptr + out.view.byteLength, 64);
  guard.fill(0xa5);
  return () => guard.every((b) => b === 0xa5);
}

test('attention_many_f32 and _f16 (one row) with headDim 4 and 12 match the reference: GQA 1, 2, 3, 4, 8 × nPos 1, 2, 3, 5, 17, 300; nothing written past the last head', () => {
  for (const headDim of SMALL_HEAD_DIMS) {
    for (const [nHeads, nKvHeads] of [[2, 2], [4, 2], [6, 2], [8, 2], [8, 1]]) {
      for (const nPos of [1, 2, 3, 5, 17, 300]) {
        for (const f16 of [false, true]) {
          const a = new KernelArena(memory);
          const s = setup(a, nHeads, nKvHeads, headDim, nPos, headDim * 100000 + nHeads * 1000 + nKvHeads * 100 + nPos + (f16 ? 50000 : 0));
          const intact = guardAfter(s.out);
          const want = new Float32Array(s.out.view.length);
          if (f16) {
            attention_f16(s.q.ptr, s.k16.ptr, s.v16.ptr, s.out.ptr, nHeads, nKvHeads, headDim, nPos, s.cap, s.scale, 0, nHeads);
            refAttentionF16(s.q.view, s.k16.view, s.v16.view, want, s, nPos, s.cap);
          } else {
            attention_f32(s.q.ptr, s.k.ptr, s.v.ptr, s.out.ptr, nHeads, nKvHeads, headDim, nPos, s.cap, s.scale, 0, nHeads);
            refAttention(s.q.view, s.k.view, s.v.view, want, s, nPos, s.cap);
          }
          const what = `attention_${f16 ? 'f16' : 'f32'} ${nHeads}/${nKvHeads} headDim ${headDim} nPos ${nPos}`;
          assertClose(s.out.view, want, ATOL, RTOL, what);
          assert.ok(intact(), `${what}: wrote past the output`);
        }
      }
    }
  }
});

test('headDim 4 and 12: head splits give the same bytes, attention_many equals one-row calls bit for bit and matches the reference', () => {
  for (const headDim of SMALL_HEAD_DIMS) {
    for (const f16 of [false, true]) {
      // head splits, with and without GQA (groups of 3: one split inside a group)
      for (const [nHeads, nKvHeads, splits] of [[6, 2, [[0, 2], [2, 5], [5, 6]]], [4, 4, [[0, 1], [1, 4]]]] as Array<[number, number, number[][]]>) {
        const a = new KernelArena(memory);
        const s = setup(a, nHeads, nKvHeads, headDim, 23, headDim * 7 + nHeads);
        const fn = f16 ? attention_f16 : attention_f32;
        const [k, v] = f16 ? [s.k16.ptr, s.v16.ptr] : [s.k.ptr, s.v.ptr];
        fn(s.q.ptr, k, v, s.out.ptr, nHeads, nKvHeads, headDim, 23, s.cap, s.scale, 0, nHeads);
        const whole = s.out.view.slice();
        s.out.view.fill(NaN);
        for (const [h0, h1] of splits) fn(s.q.ptr, k, v, s.out.ptr, nHeads, nKvHeads, headDim, 23, s.cap, s.scale, h0, h1);
        assert.equal(bits(s.out.view), bits(whole), `split ${nHeads}/${nKvHeads} headDim ${headDim} ${f16 ? 'f16' : 'f32'}`);
      }
      // causal prefill over 9 rows after 4 cached positions
      const nHeads = 8, nKvHeads = 2, pos0 = 4, nTok = 9;
      const a = new KernelArena(memory);
      const s = setup(a, nHeads, nKvHeads, headDim, pos0 + nTok, headDim * 13 + 1, nTok);
      const intact = guardAfter(s.out);
      const [k, v] = f16 ? [s.k16.ptr, s.v16.ptr] : [s.k.ptr, s.v.ptr];
      (f16 ? attn.attention_many_f16 : attn.attention_many_f32)(s.q.ptr, k, v, s.out.ptr, nTok, pos0, nHeads, nKvHeads, headDim, s.cap, s.scale, 0, nTok * nHeads);
      const got = s.out.view.slice();
      assert.ok(intact(), `attention_many headDim ${headDim}: wrote past the output`);
      const row = 4 * nHeads * headDim;
      for (let t = 0; t < nTok; t++) (f16 ? attention_f16 : attention_f32)(s.q.ptr + t * row, k, v, s.out.ptr + t * row, nHeads, nKvHeads, headDim, pos0 + t + 1, s.cap, s.scale, 0, nHeads);
      assert.equal(bits(got), bits(s.out.view), `attention_many headDim ${headDim} ${f16 ? 'f16' : 'f32'}`);
      const want = new Float32Array(got.length);
      if (f16) ref.attentionManyF16(s.q.view, s.k16.view, s.v16.view, want, s, nTok, pos0, s.cap);
      else ref.attentionMany(s.q.view, s.k.view, s.v.view, want, s, nTok, pos0, s.cap);
      assertClose(got, want, ATOL, RTOL, `attention_many headDim ${headDim} ${f16 ? 'f16' : 'f32'} vs reference`);
    }
  }
});

test.run();
