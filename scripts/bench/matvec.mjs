#!/usr/bin/env node
// Micro-benchmark of the matmul kernels on one thread: GB/s of weight bytes read per second by
// matvec_<type> (decode; a type `<t>_x16` runs matvec_<t>_x16 on q16_0 / q16_K activations, `q8_0_x8w` and
// `q4_0_x8s` the kernels on ggml's 8-bit activations in q8_0w / q8_0s blocks; `q4_0r8_x16s`, `q4_0r8_x8s`
// `q4_Kr4_x16`, `q4_Kr4`, `q6_Kr4` and `q3_Kr4` (on q8_K), `q2_Kr4` (on q8_Kp), `q5_0r4` (on q8_0e) and `q5_1r4` run the repacked kernels on weights repacked first; --wasm picks the module,
// e.g. kernels/matmul.relaxed.wasm) and, with --ntok N, the time of matmul_<type> over N tokens (prefill), as
// GMAC/s and as its speed-up over N matvec calls; both also as a share of the arithmetic ceiling of their operations (i16 dot + add, or f32 mul + add, measured in the same run with L1-resident operands). The baseline is a memory read measured in the same
// process (a wasm SIMD sum, four i32x4 accumulators) over as many bytes as the weights ('% read':
// for mid-size weights that can be an L3 speed) and over 256 MiB ('% DRAM'). Timings are the best of
// --reps runs (others share the machine's cores).
//
//   node build.mjs && node scripts/bench/matvec.mjs [--types q8_0,q4_K,q8_0_x16] [--shapes 768x768,2048x5632]
//        [--reps 7] [--ntok 16] [--json]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values: opts } = parseArgs({
  options: {
    types: { type: 'string', default: 'f32,f16,q8_0,q4_0,q4_K,q6_K,q8_0_x16,q4_0_x16,q4_K_x16,q6_K_x16' },
    shapes: { type: 'string', default: '768x768,2048x5632,32000x2048' },
    reps: { type: 'string', default: '7' },
    ntok: { type: 'string', default: '0' },
    json: { type: 'boolean', default: false },
    wasm: { type: 'string' },
  },
});
const TYPES = opts.types.split(',');
const SHAPES = opts.shapes.split(',').map((s) => s.split('x').map(Number)); // rows x cols
const REPS = Number(opts.reps);
const NTOK = Number(opts.ntok);

const ROW_BYTES = { f32: (c) => 4 * c, f16: (c) => 2 * c, q8_0: (c) => (c / 32) * 34, q4_0: (c) => (c / 32) * 18, q4_K: (c) => (c / 256) * 144, q6_K: (c) => (c / 256) * 210, q5_0: (c) => (c / 32) * 22, q5_1: (c) => (c / 32) * 24, q2_K: (c) => (c / 256) * 84, q3_K: (c) => (c / 256) * 110 };
/** The repacked bench types: their repack export (weights filled as the plain type, then repacked). */
const REPACK = { q4_0r8_x16s: 'repack_q4_0_r8', q4_0r8_x8s: 'repack_q4_0_r8', q4_Kr4_x16: 'repack_q4_K_r4', q4_Kr4: 'repack_q4_K_r4', q6_Kr4: 'repack_q6_K_r4', q5_0r4: 'repack_q5_0_r4', q5_1r4: 'repack_q5_1_r4', q2_Kr4: 'repack_q2_K_r4', q3_Kr4: 'repack_q3_K_r4' };
/** The weight type of a bench type (`q4_K_x16` -> q4_K, `q4_Kr4_x16` -> q4_K, `q8_0_x8w` -> q8_0). */
const wtype = (t) => ({ q4_0r8_x16s: 'q4_0', q4_0r8_x8s: 'q4_0', q4_Kr4_x16: 'q4_K', q4_Kr4: 'q4_K', q6_Kr4: 'q6_K', q5_0r4: 'q5_0', q5_1r4: 'q5_1', q2_Kr4: 'q2_K', q3_Kr4: 'q3_K' })[t] ?? t.replace(/_x(16|8w|8s)$/, '');

// ---- memory and modules ----------------------------------------------------------------------

const maxWeights = Math.max(256 << 20, ...SHAPES.flatMap(([r, c]) => TYPES.map((t) => r * ROW_BYTES[wtype(t)](c))));
const maxX = Math.max(...SHAPES.map(([, c]) => 4 * c * Math.max(1, NTOK))); // f32 x (larger than any of its quantized forms)
const maxY = Math.max(...SHAPES.map(([r]) => 4 * r * Math.max(1, NTOK)));
const BASE = 1 << 20;
const maxRepacked = Math.max(0, ...SHAPES.flatMap(([r, c]) => TYPES.filter((t) => REPACK[t]).map((t) => r * ROW_BYTES[wtype(t)](c))));
const W = BASE, X = W + align(maxWeights), XQ = X + align(maxX), Y = XQ + align(maxX), R = Y + align(maxY), END = R + align(maxRepacked);
function align(n) {
  return Math.ceil(n / 65536) * 65536;
}
const memory = new WebAssembly.Memory({ initial: Math.ceil(END / 65536), maximum: 65536, shared: true });
const mem = new Uint8Array(memory.buffer);
const stubs = { wasi_snapshot_preview1: { fd_write: () => 52, proc_exit: () => { throw new Error('proc_exit'); } } };
const kernelFile = opts.wasm ?? join(root, 'kernels', 'matmul.simd128.wasm');
const k = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(kernelFile)), { env: { memory }, ...stubs }).exports;

/**
 * One arithmetic-ceiling loop in AssemblyScript: 8 accumulators (enough independent chains that the
 * adds' latency does not bound it), each step 8 times acc = add(acc, mac(weight, x)) over two 16-byte
 * weight loads and four x vectors held in registers.
 */
function ceiling(name, result, lanes, mac) {
  const acc = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  const steps = acc.map((v, i) => `${v} = ${lanes}.add(${v}, ${mac(i < 4 ? 'w' : 'u', `x${i % 4}`)});`).join(' ');
  return `export function ${name}(p: usize, n: usize, reps: i32): ${result} {
  const x0 = v128.load(p), x1 = v128.load(p, 16), x2 = v128.load(p, 32), x3 = v128.load(p, 48);
  let ${acc.map((v) => `${v} = ${lanes}.splat(0)`).join(', ')};
  for (let r = 0; r < reps; r++) {
    for (let q = p, end = p + n; q < end; q += 32) {
      const w = v128.load(q), u = v128.load(q, 16);
      ${steps}
    }
  }
  return ${lanes}.extract_lane(${lanes}.add(${lanes}.add(${lanes}.add(a, b), ${lanes}.add(c, d)), ${lanes}.add(${lanes}.add(e, f), ${lanes}.add(g, h))), 0);
}`;
}

/** The read baseline: a tiny AssemblyScript module compiled here (asc), summing bytes with four i32x4 accumulators. */
function readModule() {
  const dir = mkdtempSync(join(tmpdir(), 'wisp-bench-'));
  try {
    const src = join(dir, 'read.ts');
    writeFileSync(src, `
export function read_sum(p: usize, n: usize): i32 {
  let a = i32x4.splat(0), b = i32x4.splat(0), c = i32x4.splat(0), d = i32x4.splat(0);
  for (let e = p + n; p < e; p += 64) {
    a = i32x4.add(a, v128.load(p)); b = i32x4.add(b, v128.load(p, 16));
    c = i32x4.add(c, v128.load(p, 32)); d = i32x4.add(d, v128.load(p, 48));
  }
  return i32x4.extract_lane(i32x4.add(i32x4.add(a, b), i32x4.add(c, d)), 0);
}
// The arithmetic ceilings: the integer kernels' inner step (i32x4.dot_i16x8_s + i32x4.add) and the
// float kernels' (f32x4.mul + f32x4.add), four of each per 16-byte load from L1 (as four tokens share
// a weight vector), nothing else: what no kernel built from these operations can beat on this core.
${ceiling('dot_ceiling', 'i32', 'i32x4', (w, x) => `i32x4.dot_i16x8_s(${w}, ${x})`)}
${ceiling('fmul_ceiling', 'f32', 'f32x4', (w, x) => `f32x4.mul(${w}, ${x})`)}`);
    const out = join(dir, 'read.wasm');
    execFileSync(join(root, 'node_modules', '.bin', 'asc'), [src, '-o', out, '-O3', '--runtime', 'stub', '--enable', 'simd', '--enable', 'threads',
      '--importMemory', '--sharedMemory', '--initialMemory', '17', '--maximumMemory', '65536', '--memoryBase', '65536'], { stdio: 'inherit' });
    return new WebAssembly.Instance(new WebAssembly.Module(readFileSync(out)), { env: { memory } }).exports;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const reader = readModule();

// ---- inputs ----------------------------------------------------------------------------------

let seed = 0x12345678;
function rnd() {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
}
const f32v = new Float32Array(memory.buffer);
const u16v = new Uint16Array(memory.buffer);

/** Weights of a type: random quants, sane f16 scales (no NaN, no subnormal floats to slow f32 math). */
function fillWeights(t, rows, cols) {
  t = wtype(t);
  const n = rows * ROW_BYTES[t](cols);
  if (t === 'f32') {
    for (let i = 0; i < n / 4; i++) f32v[W / 4 + i] = rnd() - 0.5;
    return n;
  }
  if (t === 'f16') {
    for (let i = 0; i < n / 2; i++) u16v[W / 2 + i] = 0x2c00 + ((rnd() * 0x7ff) | 0) + (rnd() < 0.5 ? 0x8000 : 0);
    return n;
  }
  for (let i = 0; i < n; i += 4) new Uint32Array(memory.buffer, W + i, 1)[0] = (rnd() * 4294967296) >>> 0;
  const block = { q8_0: 34, q4_0: 18, q4_K: 144, q6_K: 210, q5_0: 22, q5_1: 24, q2_K: 84, q3_K: 110 }[t];
  const dOff = t === 'q6_K' ? [208] : t === 'q4_K' || t === 'q5_1' ? [0, 2] : t === 'q2_K' ? [80, 82] : t === 'q3_K' ? [108] : [0];
  for (let b = 0; b < n; b += block) for (const o of dOff) { mem[W + b + o] = 0; mem[W + b + o + 1] = 0x20; }
  return n;
}

function fillX(t, cols, nTok) {
  for (let i = 0; i < cols * nTok; i++) f32v[X / 4 + i] = rnd() - 0.5;
  if (t.endsWith('_x8w')) k.quantize_q8_0w(X, XQ, cols * nTok);
  else if (t.endsWith('_x8s')) k.quantize_q8_0s(X, XQ, cols * nTok);
  else if (t === 'q8_0_x16' || t === 'q4_0_x16') k.quantize_q16_0(X, XQ, cols * nTok);
  else if (t === 'q4_0r8_x16s') k.quantize_q16_0s(X, XQ, cols * nTok);
  else if (t === 'q4_K_x16' || t === 'q6_K_x16' || t === 'q4_Kr4_x16') k.quantize_q16_K(X, XQ, cols * nTok);
  else if (t === 'q8_0' || t === 'q4_0' || t === 'q5_0') k.quantize_q8_0(X, XQ, cols * nTok);
  else if (t === 'q5_0r4') k.quantize_q8_0e(X, XQ, cols * nTok);
  else if (t === 'q5_1' || t === 'q5_1r4') k.quantize_q8_1(X, XQ, cols * nTok);
  else if (t === 'q2_Kr4') k.quantize_q8_Kp(X, XQ, cols * nTok);
  else if (['q4_K', 'q6_K', 'q4_Kr4', 'q6_Kr4', 'q2_K', 'q3_K', 'q3_Kr4'].includes(t)) k.quantize_q8_K(X, XQ, cols * nTok);
  return t === 'f32' || t === 'f16' ? X : XQ;
}

/** Best (minimum) seconds per call of fn over REPS timed runs of enough calls to take ~40 ms. */
function time(fn) {
  fn();
  const t0 = performance.now();
  fn();
  const once = Math.max(performance.now() - t0, 1e-3);
  const calls = Math.max(1, Math.ceil(40 / once));
  let best = Infinity;
  for (let r = 0; r < REPS; r++) {
    const s = performance.now();
    for (let i = 0; i < calls; i++) fn();
    best = Math.min(best, (performance.now() - s) / calls);
  }
  return best / 1000;
}

// ---- baselines -------------------------------------------------------------------------------

/** GMAC/s of the arithmetic ceilings (see readModule): 16 KiB of operands, L1-resident. */
function arithCeilings() {
  const n = 16384, reps = 64;
  new Float32Array(memory.buffer, W, n / 4).fill(0.5);
  const dot = (n / 16) * 4 * 8 * reps / time(() => reader.dot_ceiling(W, n, reps)) / 1e9;
  const fmul = (n / 16) * 4 * 4 * reps / time(() => reader.fmul_ceiling(W, n, reps)) / 1e9;
  return { dotGMACs: dot, fmulGMACs: fmul };
}

function readBaseline(bytes) {
  const n = Math.max(64, Math.floor(bytes / 64) * 64);
  return { wasm: n / time(() => reader.read_sum(W, n)) / 1e9 };
}

// ---- run -------------------------------------------------------------------------------------

const results = [];
const baselines = {};
// DRAM: a buffer far larger than any cache, written first (untouched pages all map the zero page)
const dramBytes = 256 << 20;
new Uint32Array(memory.buffer, W, dramBytes / 4).fill(0x01020304);
const dram = readBaseline(dramBytes);
const arith = arithCeilings();
/** The ceiling a type's kernels are built from: f32 mul+add for the float types, i16 dot+add for the rest. */
const ceilingOf = (t) => (wtype(t) === 'f32' || wtype(t) === 'f16' ? arith.fmulGMACs : arith.dotGMACs);
for (const [rows, cols] of SHAPES) {
  for (const t of TYPES) {
    const bytes = fillWeights(wtype(t), rows, cols);
    if (REPACK[t]) k[REPACK[t]](W, R, rows, cols);
    const wp = REPACK[t] ? R : W;
    const key = `${rows}x${cols}:${bytes}`;
    // the baseline over exactly as many bytes as these weights (so the same cache level)
    baselines[key] ??= readBaseline(bytes);
    const xp = fillX(t, cols, Math.max(1, NTOK));
    const fn = (op) => k[`${op}_${t}`];
    const mv = fn('matvec'), mm = fn('matmul');
    const sec = time(() => mv(wp, xp, Y, cols, 0, rows));
    const row = { type: t, rows, cols, weightMB: bytes / 1e6, ms: sec * 1e3, GBs: bytes / sec / 1e9, readGBs: baselines[key].wasm, GMACs: (rows * cols) / sec / 1e9 };
    row.arithPct = (100 * row.GMACs) / ceilingOf(t);
    if (NTOK > 0) {
      const msec = time(() => mm(wp, xp, Y, cols, rows, NTOK, 0, rows));
      row.matmulMs = msec * 1e3;
      row.matmulGMACs = (rows * cols * NTOK) / msec / 1e9;
      row.matmulVsMatvec = (sec * NTOK) / msec;
      row.matmulArithPct = (100 * row.matmulGMACs) / ceilingOf(t);
    }
    results.push(row);
  }
}

if (opts.json) {
  console.log(JSON.stringify({ dram, arith, baselines, results }, null, 2));
} else {
  console.log(`kernel: ${kernelFile}; best of ${REPS}; 1 thread`);
  console.log('read baseline (wasm SIMD sum over the same byte count as the weights, and over 256 MiB):');
  for (const [key, b] of Object.entries(baselines)) console.log(`  ${key.split(':')[0].padEnd(11)} ${(Number(key.split(':')[1]) / 1e6).toFixed(1).padStart(7)} MB  ${b.wasm.toFixed(1).padStart(6)} GB/s`);
  console.log(`  DRAM        ${(dramBytes / 1e6).toFixed(1).padStart(7)} MB  ${dram.wasm.toFixed(1).padStart(6)} GB/s`);
  console.log(`arithmetic ceiling (operands in L1, 4 per load): i16 dot+add ${arith.dotGMACs.toFixed(1)} GMAC/s, f32 mul+add ${arith.fmulGMACs.toFixed(1)} GMAC/s`);
  console.log();
  const head = ['type', 'rows x cols', 'MB', 'ms', 'GB/s', '% read', '% DRAM', 'GMAC/s', '% arith'];
  if (NTOK > 0) head.push(`matmul×${NTOK} ms`, 'GMAC/s', '% arith', 'vs matvec');
  console.log(head.map((h, i) => (i < 2 ? h.padEnd(i ? 12 : 9) : h.padStart(10))).join(' '));
  for (const r of results) {
    const cells = [r.type.padEnd(9), `${r.rows}x${r.cols}`.padEnd(12), r.weightMB.toFixed(1).padStart(10), r.ms.toFixed(3).padStart(10),
      r.GBs.toFixed(2).padStart(10), `${((100 * r.GBs) / r.readGBs).toFixed(0)}%`.padStart(10), `${((100 * r.GBs) / dram.wasm).toFixed(0)}%`.padStart(10),
      r.GMACs.toFixed(2).padStart(10), `${r.arithPct.toFixed(0)}%`.padStart(10)];
    if (NTOK > 0) cells.push(r.matmulMs.toFixed(2).padStart(10), r.matmulGMACs.toFixed(2).padStart(10), `${r.matmulArithPct.toFixed(0)}%`.padStart(10), `${r.matmulVsMatvec.toFixed(2)}×`.padStart(10));
    console.log(cells.join(' '));
  }
}
