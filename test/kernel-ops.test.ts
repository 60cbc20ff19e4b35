// The `ops` kernel family (asm/ops.ts) against its JS reference (host/kernels/reference/ops.ts), loaded
// the way the host loads it: one shared memory, WASI stubs. Tolerances are stated per test; the error
// budgets come from f32 arithmetic (2^-24 ≈ 6e-8 per rounding) and the exp of asm/lib/math.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mulberry32 } from '../host/engine/sampler.js';
import { compileFamily, createSharedMemory, instantiateKernel } from '../host/kernels/load.js';
import * as ref from '../host/kernels/reference/ops.js';
import { compileAsmProbe } from './helpers/asm-probe.js';
import { HOST_BASE, KernelArena } from './helpers/kernel-arena.js';

interface OpsKernels {
  rmsnorm_many(x: number, w: number, out: number, n: number, nTok: number, eps: number): void;
  silu_mul(gate: number, up: number, out: number, n: number): void;
  gelu_mul(gate: number, up: number, out: number, n: number): void;
  add(a: number, b: number, out: number, n: number): void;
  scale(x: number, out: number, n: number, s: number): void;
  softcap(x: number, out: number, n: number, cap: number): void;
}

const memory = createSharedMemory(128); // 8 MiB
const ops = instantiateKernel(compileFamily('ops'), memory) as unknown as OpsKernels;


function uniform(n: number, seed: number, scale: number): Float32Array {
  const rnd = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (rnd() * 2 - 1) * scale);
}

/** Largest |got − want| / (atol + rtol·|want|): within tolerance when <= 1. NaN must meet NaN. */
function worstRatio(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): number {
  assert.is(got.length, want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i]) || Number.isNaN(got[i])) {
      assert.ok(Number.isNaN(want[i]) && Number.isNaN(got[i]), `index ${i}: got ${got[i]}, want ${want[i]}`);
      continue;
    }
    if (got[i] === want[i]) continue;
    worst = Math.max(worst, Math.abs(got[i] - want[i]) / (atol + rtol * Math.abs(want[i])));
  }
  return worst;
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number, what: string): void {
  const r = worstRatio(got, want, atol, rtol);
  assert.ok(r <= 1, `${what}: error ${r.toFixed(3)}× the tolerance (atol ${atol}, rtol ${rtol})`);
}

const ODD_SIZES = [1, 3, 5, 63, 4097];


// ---- self-test and exp -------------------------------------------------------------------

// (the module's `_start` self-test under node:wasi, wasmtime and jco: test/kernel-wasi.test.ts)

/** asm/lib/math.ts compiled alone (asm/lib/exp-probe.ts), with the kernel build's optimisation flags. */
type ArrayFn = (x: number, out: number, n: number) => void;
function compileExpProbe(): { exp: ArrayFn; silu: ArrayFn; tanh: ArrayFn; mem: WebAssembly.Memory } {
  const e = compileAsmProbe('lib/exp-probe.ts');
  return { exp: e.exp_array as ArrayFn, silu: e.silu_array as ArrayFn, tanh: e.tanh_array as ArrayFn, mem: e.memory };
}

const probe = compileExpProbe();

function probeRun(fn: (x: number, out: number, n: number) => void, xs: ArrayLike<number>): Float32Array {
  const n = xs.length;
  const need = HOST_BASE + 8 * n + 64;
  if (probe.mem.buffer.byteLength < need) probe.mem.grow(Math.ceil((need - probe.mem.buffer.byteLength) / 65536));
  new Float32Array(probe.mem.buffer, HOST_BASE, n).set(xs);
  fn(HOST_BASE, HOST_BASE + 4 * n, n);
  return new Float32Array(probe.mem.buffer, HOST_BASE + 4 * n, n).slice();
}

/** The spacing of f32 values at |v| (the ulp of the float nearest v). */
function ulp(v: number): number {
  const f = new Float32Array([Math.abs(v)]);
  const u = new Uint32Array(f.buffer);
  u[0] += 1;
  return f[0] - Math.fround(Math.abs(v));
}

test('exp is within 1.5 ulp of Math.exp over [-104, 89] (max relative error ~1.03e-7)', () => {
  // 2^21 evenly spaced points plus their f32 neighbours around each k·ln2 boundary, lane and tail paths
  const n = (1 << 21) + 3;
  const xs = Float32Array.from({ length: n }, (_, i) => -104 + (193 * i) / n);
  const got = probeRun(probe.exp, xs);
  let worstUlp = 0;
  let worstRel = 0;
  for (let i = 0; i < n; i++) {
    const want = Math.exp(xs[i]);
    if (want > 3.4028234663852886e38) {
      assert.is(got[i], Infinity, `exp(${xs[i]})`);
    } else if (want >= 1.1754943508222875e-38) {
      worstUlp = Math.max(worstUlp, Math.abs(got[i] - want) / ulp(want));
      worstRel = Math.max(worstRel, Math.abs(got[i] - want) / want);
    } else {
      // subnormal results: within one subnormal step (2^-149)
      assert.ok(Math.abs(got[i] - want) <= 2 ** -149, `exp(${xs[i]}) = ${got[i]}, want ${want}`);
    }
  }
  assert.ok(worstUlp <= 1.5, `max error ${worstUlp.toFixed(3)} ulp`);
  assert.ok(worstRel <= 1.2e-7, `max relative error ${worstRel}`);
});

test('exp gives 0 for large negative inputs, +inf for large positive, NaN for NaN', () => {
  const xs = [-Infinity, -1e30, -1000, -104, -103.98, 89, 100, 1e30, Infinity, NaN, 0, -0];
  const got = probeRun(probe.exp, xs);
  assert.equal(Array.from(got.subarray(0, 4)), [0, 0, 0, 0]);
  assert.ok(got[4] >= 0 && got[4] <= 2 ** -149); // exp(-103.98) ≈ 7e-46 rounds to 0 or the smallest subnormal
  assert.equal(Array.from(got.subarray(5, 9)), [Infinity, Infinity, Infinity, Infinity]);
  assert.ok(Number.isNaN(got[9]));
  assert.equal(Array.from(got.subarray(10)), [1, 1]);
});

test('silu is x for large x, 0 (not NaN) for large negative x, and propagates NaN', () => {
  const xs = [Infinity, 1e30, 100, 89, -89, -200, -1e30, -Infinity, NaN];
  const got = probeRun(probe.silu, xs);
  assert.equal(Array.from(got.subarray(0, 3)), [Infinity, Math.fround(1e30), 100]);
  assert.ok(Math.abs(got[3] - 89) === 0);
  assert.ok(Math.abs(got[4]) < 1e-36); // -89·e^-89 ≈ -2.0e-37
  assert.equal(Array.from(got.subarray(5, 8)).map((v) => v === 0), [true, true, true]);
  assert.ok(Number.isNaN(got[8]));
  // and the shipped module does the same
  const a = new KernelArena(memory);
  const g = a.f32(xs.length, xs);
  const up = a.f32(xs.length, xs.map(() => 1));
  const out = a.f32(xs.length);
  ops.silu_mul(g.ptr, up.ptr, out.ptr, xs.length);
  assert.equal(Array.from(out.view).map(String), Array.from(got).map(String));
});

test('tanh is within 4e-7 relative of Math.tanh over [-12, 12] (≤ 5 ulp), ±1 at ±inf, NaN for NaN', () => {
  const n = (1 << 20) + 3;
  const xs = Float32Array.from({ length: n }, (_, i) => -12 + (24 * i) / n);
  const got = probeRun(probe.tanh, xs);
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const want = Math.tanh(xs[i]);
    if (want !== 0) worst = Math.max(worst, Math.abs(got[i] - want) / Math.abs(want));
  }
  assert.ok(worst <= 4e-7, `max relative error ${worst}`);
  const special = probeRun(probe.tanh, [Infinity, -Infinity, NaN, 0, -0, 1e-30]);
  assert.equal(Array.from(special.subarray(0, 2)), [1, -1]);
  assert.ok(Number.isNaN(special[2]));
  assert.ok(Object.is(special[3], 0) && Object.is(special[4], -0) && special[5] === Math.fround(1e-30));
});

// ---- the kernels ---------------------------------------------------------------------------

test('rmsnorm_many matches the reference on odd n, one row and several (atol 1e-6, rtol 2e-6)', () => {
  for (const n of ODD_SIZES) {
    for (const nTok of [1, 3]) {
      const a = new KernelArena(memory);
      const x = a.f32(n * nTok, uniform(n * nTok, n, 3));
      const w = a.f32(n, uniform(n, n + 1, 1.5));
      const out = a.f32(n * nTok);
      ops.rmsnorm_many(x.ptr, w.ptr, out.ptr, n, nTok, 1e-5);
      const want = new Float32Array(n * nTok);
      ref.rmsnormMany(x.view, w.view, want, n, nTok, 1e-5);
      assertClose(out.view, want, 1e-6, 2e-6, `rmsnorm_many n=${n} nTok=${nTok}`);
    }
  }
});

test('rmsnorm_many equals one row at a time, and works in place', () => {
  const n = 63, nTok = 5;
  const a = new KernelArena(memory);
  const x = a.f32(n * nTok, uniform(n * nTok, 7, 2));
  const w = a.f32(n, uniform(n, 8, 1));
  const out = a.f32(n * nTok);
  const rows = a.f32(n * nTok);
  ops.rmsnorm_many(x.ptr, w.ptr, out.ptr, n, nTok, 1e-6);
  for (let t = 0; t < nTok; t++) ops.rmsnorm_many(x.ptr + 4 * n * t, w.ptr, rows.ptr + 4 * n * t, n, 1, 1e-6);
  assert.equal(Array.from(out.view), Array.from(rows.view));
  ops.rmsnorm_many(x.ptr, w.ptr, x.ptr, n, nTok, 1e-6);
  assert.equal(Array.from(x.view), Array.from(rows.view));
});

test('silu_mul matches the reference on odd n (rtol 5e-7)', () => {
  for (const n of ODD_SIZES) {
    const a = new KernelArena(memory);
    const gate = a.f32(n, uniform(n, 100 + n, 20));
    const up = a.f32(n, uniform(n, 200 + n, 3));
    const out = a.f32(n);
    ops.silu_mul(gate.ptr, up.ptr, out.ptr, n);
    const want = new Float32Array(n);
    ref.siluMul(gate.view, up.view, want, n);
    assertClose(out.view, want, 1e-37, 5e-7, `silu_mul n=${n}`);
  }
});

/** The distance between two floats in f16 steps at their size (0 when equal). */
function f16Steps(a: number, b: number): number {
  if (a === b) return 0;
  const m = Math.max(Math.abs(a), Math.abs(b));
  const step = m < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(m)) - 10);
  return Math.abs(a - b) / step;
}

test("gelu_mul is ggml's GELU through f16 (the reference's): bit for bit but for rare one-half-step ties of tanh's last bits", () => {
  for (const n of [...ODD_SIZES, 50001]) {
    const a = new KernelArena(memory);
    const gate = a.f32(n, uniform(n, 700 + n, 12));
    const up = a.f32(n, uniform(n, 800 + n, 3));
    const out = a.f32(n);
    ops.gelu_mul(gate.ptr, up.ptr, out.ptr, n);
    const want = new Float32Array(n);
    ref.geluMul(gate.view, up.view, want, n);
    let differ = 0;
    for (let i = 0; i < n; i++) {
      const steps = f16Steps(out.view[i] / up.view[i], want[i] / up.view[i]);
      assert.ok(steps <= 1.0001, `gelu_mul n=${n} [${i}]: gelu(${gate.view[i]}) ${out.view[i] / up.view[i]} vs ${want[i] / up.view[i]}`);
      if (steps > 0) differ++;
    }
    assert.ok(differ <= Math.ceil(n / 1000), `gelu_mul n=${n}: ${differ} values a half step off`);
  }
});

test('gelu_mul: 0 from -10 down, x from 10 up, NaN stays NaN, in place', () => {
  const xs = [-Infinity, -1e30, -10, -9.99, 9.99, 10, 1e30, Infinity, NaN];
  const a = new KernelArena(memory);
  const g = a.f32(xs.length, xs);
  const up = a.f32(xs.length, xs.map(() => 2));
  const out = a.f32(xs.length);
  ops.gelu_mul(g.ptr, up.ptr, out.ptr, xs.length);
  const want = new Float32Array(xs.length);
  ref.geluMul(g.view, up.view, want, xs.length);
  assert.equal(Array.from(out.view).map(String), Array.from(want).map(String));
  assert.equal(Array.from(out.view.subarray(0, 3)), [0, 0, 0]);
  assert.equal(Array.from(out.view.subarray(5, 8)), [20, Math.fround(2e30), Infinity]);
  assert.ok(Number.isNaN(out.view[8]));
  ops.gelu_mul(g.ptr, up.ptr, g.ptr, xs.length);
  assert.equal(Array.from(g.view).map(String), Array.from(out.view).map(String));
});

test('softcap matches cap·tanh(x/cap) (rtol 4e-7) on odd n and in place; scale is exact', () => {
  for (const n of ODD_SIZES) {
    const a = new KernelArena(memory);
    const x = a.f32(n, uniform(n, 900 + n, 100));
    const out = a.f32(n);
    ops.softcap(x.ptr, out.ptr, n, 30);
    const want = new Float32Array(n);
    ref.softcap(x.view, want, n, 30);
    assertClose(out.view, want, 1e-37, 4e-7, `softcap n=${n}`);
    const capped = Array.from(out.view);
    ops.scale(x.ptr, out.ptr, n, 33.941125);
    ref.scale(x.view, want, n, Math.fround(33.941125));
    assert.equal(Array.from(out.view), Array.from(want));
    ops.softcap(x.ptr, x.ptr, n, 30);
    assert.equal(Array.from(x.view), capped);
  }
  const a = new KernelArena(memory);
  const big = a.f32(4, [1e30, -1e30, Infinity, NaN]);
  ops.softcap(big.ptr, big.ptr, 4, 30);
  assert.equal(Array.from(big.view.subarray(0, 3)), [30, -30, 30]);
  assert.ok(Number.isNaN(big.view[3]));
});

test('elementwise ops split by offsetting pointers and n give the same bytes as one call', () => {
  const n = 4097;
  const a = new KernelArena(memory);
  const gate = a.f32(n, uniform(n, 1, 10));
  const up = a.f32(n, uniform(n, 2, 2));
  const whole = a.f32(n);
  const parts = a.f32(n);
  ops.silu_mul(gate.ptr, up.ptr, whole.ptr, n);
  for (const [s, e] of [[0, 1001], [1001, 1002], [1002, 4097]]) ops.silu_mul(gate.ptr + 4 * s, up.ptr + 4 * s, parts.ptr + 4 * s, e - s);
  assert.equal(Array.from(parts.view), Array.from(whole.view));
  ops.add(gate.ptr, up.ptr, whole.ptr, n);
  for (const [s, e] of [[0, 3], [3, 4097]]) ops.add(gate.ptr + 4 * s, up.ptr + 4 * s, parts.ptr + 4 * s, e - s);
  assert.equal(Array.from(parts.view), Array.from(whole.view));
  ops.gelu_mul(gate.ptr, up.ptr, whole.ptr, n);
  for (const [s, e] of [[0, 1001], [1001, 4097]]) ops.gelu_mul(gate.ptr + 4 * s, up.ptr + 4 * s, parts.ptr + 4 * s, e - s);
  assert.equal(Array.from(parts.view), Array.from(whole.view));
  ops.softcap(gate.ptr, whole.ptr, n, 30);
  for (const [s, e] of [[0, 5], [5, 4097]]) ops.softcap(gate.ptr + 4 * s, parts.ptr + 4 * s, e - s, 30);
  assert.equal(Array.from(parts.view), Array.from(whole.view));
});

test('add is exact on odd n and works in place', () => {
  for (const n of ODD_SIZES) {
    const a = new KernelArena(memory);
    const x = a.f32(n, uniform(n, 300 + n, 5));
    const y = a.f32(n, uniform(n, 400 + n, 5));
    const out = a.f32(n);
    const want = new Float32Array(n);
    ref.add(x.view, y.view, want, n);
    ops.add(x.ptr, y.ptr, out.ptr, n);
    assert.equal(Array.from(out.view), Array.from(want));
    ops.add(x.ptr, y.ptr, x.ptr, n);
    assert.equal(Array.from(x.view), Array.from(want));
  }
});

test.run();
