#!/usr/bin/env node
// A/B of two matmul modules in one process (e.g. a branch's kernels against main's): the time of
// matmul_<type> (and with --matvec, matvec_<type>) of --wasm against --base, the two modules' calls
// alternated round by round, each module on a memory of its own holding the same inputs. Prints
// new/base time ratios (best against best, and the median and range of the per-round ratios); first
// checks that both modules give the same bits (matmul also over nTok − 1 tokens: a short last tile),
// and exits 1 when they do not. The repacked types of scripts/bench/matvec.mjs; one thread.
//
//   git worktree add /tmp/main main && (cd /tmp/main && npm ci)      # or any copy of the base modules
//   node scripts/bench/matmul-ab.mjs --base /tmp/main/kernels/matmul.simd128.wasm --wasm kernels/matmul.simd128.wasm
//   <node 24> scripts/bench/matmul-ab.mjs --base /tmp/main/kernels/matmul.relaxed.wasm --wasm kernels/matmul.relaxed.wasm
//        [--types q4_Kr4,q6_Kr4] [--shape 2048x5632] [--ntok 16] [--rounds 9] [--matvec]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    base: { type: 'string' },
    wasm: { type: 'string' },
    types: { type: 'string', default: 'q4_Kr4,q4_Kr4_x16,q6_Kr4,q5_0r4,q5_1r4,q2_Kr4,q3_Kr4' },
    shape: { type: 'string', default: '2048x5632' },
    ntok: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '9' },
    matvec: { type: 'boolean', default: false },
  },
});
if (!opts.base || !opts.wasm) throw new Error('matmul-ab: give both --base and --wasm (matmul kernel modules)');
const [ROWS, COLS] = opts.shape.split('x').map(Number);
const NTOK = Number(opts.ntok), ROUNDS = Number(opts.rounds);

/** Weight types: values per block, bytes per block, where each block's f16 scales are. */
const BLOCK = { q4_K: [256, 144, [0, 2]], q6_K: [256, 210, [208]], q5_0: [32, 22, [0]], q5_1: [32, 24, [0, 2]], q2_K: [256, 84, [80, 82]], q3_K: [256, 110, [108]] };
/** Bench type: its weight type, repack export and activation quantizer. */
const TYPES = {
  q4_Kr4: ['q4_K', 'repack_q4_K_r4', 'quantize_q8_K'],
  q4_Kr4_x16: ['q4_K', 'repack_q4_K_r4', 'quantize_q16_K'],
  q6_Kr4: ['q6_K', 'repack_q6_K_r4', 'quantize_q8_K'],
  q5_0r4: ['q5_0', 'repack_q5_0_r4', 'quantize_q8_0e'],
  q5_1r4: ['q5_1', 'repack_q5_1_r4', 'quantize_q8_1'],
  q2_Kr4: ['q2_K', 'repack_q2_K_r4', 'quantize_q8_Kp'],
  q3_Kr4: ['q3_K', 'repack_q3_K_r4', 'quantize_q8_K'],
};

const align = (n) => Math.ceil(n / 65536) * 65536;
const maxW = ROWS * (COLS / 32) * 34; // as many bytes as any of these types
const W = 1 << 20, R = W + align(maxW), X = R + align(maxW), XQ = X + align(4 * COLS * NTOK);
const Y = XQ + align(4 * COLS * NTOK), Y2 = Y + align(4 * ROWS * NTOK), END = Y2 + align(4 * ROWS * NTOK);
const stubs = { wasi_snapshot_preview1: { fd_write: () => 52, proc_exit: () => { throw new Error('proc_exit'); } } };

function load(file) {
  const memory = new WebAssembly.Memory({ initial: END / 65536, maximum: 65536, shared: true });
  const k = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(file)), { env: { memory }, ...stubs }).exports;
  return { memory, k };
}
const mods = [load(opts.base), load(opts.wasm)];

/** The same inputs in a module's memory: random quants, sane f16 scales, repacked; random activations, quantized. */
function setup(m, t) {
  const [wt, repack, quantize] = TYPES[t];
  const [values, bytes, scales] = BLOCK[wt];
  const n = ROWS * (COLS / values) * bytes;
  let seed = 0x12345678;
  const rnd = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
  const u8 = new Uint8Array(m.memory.buffer), u32 = new Uint32Array(m.memory.buffer), f32 = new Float32Array(m.memory.buffer);
  for (let i = 0; i < n; i += 4) u32[(W + i) / 4] = (rnd() * 4294967296) >>> 0;
  for (let b = 0; b < n; b += bytes) {
    for (const o of scales) {
      u8[W + b + o] = 0;
      u8[W + b + o + 1] = 0x20;
    }
  }
  m.k[repack](W, R, ROWS, COLS);
  for (let i = 0; i < COLS * NTOK; i++) f32[X / 4 + i] = rnd() - 0.5;
  m.k[quantize](X, XQ, COLS * NTOK);
}

/** Milliseconds per call of fn over enough calls to take ~60 ms. */
function perCall(fn) {
  fn();
  const t0 = performance.now();
  fn();
  const calls = Math.max(1, Math.ceil(60 / Math.max(performance.now() - t0, 1e-3)));
  const s = performance.now();
  for (let i = 0; i < calls; i++) fn();
  return (performance.now() - s) / calls;
}

const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
console.log(`A/B ${opts.wasm} against ${opts.base}: ${ROWS}x${COLS}, ${NTOK} tokens, ${ROUNDS} rounds alternated, 1 thread; ratio = new time / base time (< 1: faster)`);
for (const t of opts.types.split(',')) {
  if (!TYPES[t]) throw new Error(`matmul-ab: unknown type ${t} (types: ${Object.keys(TYPES).join(', ')})`);
  for (const m of mods) setup(m, t);
  for (const op of opts.matvec ? ['matvec', 'matmul'] : ['matmul']) {
    const call = (m, y, nTok) => (op === 'matmul' ? m.k[`matmul_${t}`](R, XQ, y, COLS, ROWS, nTok, 0, ROWS) : m.k[`matvec_${t}`](R, XQ, y, COLS, 0, ROWS));
    for (const nTok of op === 'matmul' ? [NTOK, NTOK - 1] : [1]) {
      const outs = mods.map((m) => {
        call(m, Y2, nTok);
        return Buffer.from(new Uint8Array(m.memory.buffer, Y2, 4 * ROWS * nTok));
      });
      if (!outs[0].equals(outs[1])) {
        console.log(`${op}_${t}: the modules give different bits (${nTok} tokens)`);
        process.exitCode = 1;
      }
    }
    // warm up (V8 tiers a function up to optimized code in the background, after enough calls)
    for (const m of mods) for (const s = performance.now(); performance.now() - s < 300; ) call(m, Y, NTOK);
    const best = [Infinity, Infinity], ratios = [];
    for (let r = 0; r < ROUNDS; r++) {
      const ms = [0, 0];
      for (const i of r % 2 ? [1, 0] : [0, 1]) ms[i] = perCall(() => call(mods[i], Y, NTOK));
      best[0] = Math.min(best[0], ms[0]);
      best[1] = Math.min(best[1], ms[1]);
      ratios.push(ms[1] / ms[0]);
    }
    console.log(`${`${op}_${t}`.padEnd(20)} base ${best[0].toFixed(2).padStart(7)} ms  new ${best[1].toFixed(2).padStart(7)} ms  best/best ${(best[1] / best[0]).toFixed(3)}  median ${median(ratios).toFixed(3)}  range ${Math.min(...ratios).toFixed(3)}..${Math.max(...ratios).toFixed(3)}`);
  }
}
