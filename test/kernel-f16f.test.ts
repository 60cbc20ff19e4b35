// The f16f kernels (asm/matmul/float.ts): f16 matrices without an infinite or NaN half, converted
// without the watch for them. Tolerance: exact: matvec_f16f / matmul_f16f equal matvec_f16 / matmul_f16
// bit for bit on every finite half (normals, subnormals, ±0, the largest), over row splits and token
// counts; the host picks them only for matrices finiteHalves() accepts, and a model run on them gives
// the logits of the exact kernels.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Arena, planBytes } from '../host/backends/wasm/arena.js';
import { matmulJobs, matvecJob } from '../host/backends/wasm/jobs.js';
import { BLOCK_FORMATS, finiteHalves as finiteFields } from '../host/model/block-formats.js';
import { openWasm, wasmOf } from './helpers/engines.js';
import { KernelPool } from '../host/backends/wasm/pool.js';
import { mulberry32 } from '../host/engine/sampler.js';
import { GGMLType } from '../host/model/ggml-types.js';
import { readLlama2cTokenizer } from '../host/model/llama2c-tokenizer.js';
import { synthModel } from '../host/model/synth.js';
import { sharedTokenizer } from './helpers/paths.js';

const F32_INPUT = BLOCK_FORMATS.f32;
/** The f16f layout's condition: no half of the matrix is an infinity or NaN. */
const finiteHalves = (bytes: Uint8Array) => finiteFields(bytes, BLOCK_FORMATS.f16f.blockBytes, BLOCK_FORMATS.f16f.madeFrom!.finiteHalves);

/** Random finite halves: every exponent 0..30 (subnormals and ±0 included), both signs, and the extremes. */
function finiteRandomHalves(n: number, seed: number): Uint16Array {
  const r = mulberry32(seed);
  const h = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const exp = Math.floor(r() * 31), mant = Math.floor(r() * 1024), sign = r() < 0.5 ? 0x8000 : 0;
    h[i] = sign | (exp << 10) | mant;
  }
  const special = [0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400, 0x7bff, 0xfbff, 0x3c00, 0xbc00];
  special.forEach((v, i) => (h[(i * 7919) % n] = v));
  return h;
}

test('matvec_f16f and matmul_f16f equal the exact f16 kernels bit for bit on finite halves, over splits and token counts', async () => {
  const shapes: Array<[number, number]> = [[4, 8], [7, 40], [33, 96], [64, 257], [130, 1024]];
  const maxW = Math.max(...shapes.map(([r, c]) => r * c * 2)), maxX = Math.max(...shapes.map(([, c]) => c * 4 * 9)), maxY = Math.max(...shapes.map(([r]) => r * 4 * 9));
  const arena = new Arena(planBytes([maxW, maxX, maxY, maxY]), 'the test');
  const pool = KernelPool.create(arena.memory, { threads: 3 });
  try {
    await pool.ready;
    const w = arena.alloc(maxW), x = arena.alloc(maxX), y1 = arena.alloc(maxY), y2 = arena.alloc(maxY);
    let seed = 100;
    for (const [rows, cols] of shapes) {
      const halves = finiteRandomHalves(rows * cols, seed++);
      new Uint16Array(arena.memory.buffer, w, rows * cols).set(halves);
      assert.ok(finiteHalves(arena.bytes(w, rows * cols * 2)));
      const r = mulberry32(seed++);
      for (let nTok = 1; nTok <= 9; nTok += 4) {
        arena.f32(x, cols * nTok).set(Float32Array.from({ length: cols * nTok }, () => (r() * 2 - 1) * 4));
        arena.f32(y1, rows * nTok).fill(NaN);
        arena.f32(y2, rows * nTok).fill(NaN);
        pool.run(matmulJobs('f16', F32_INPUT, w, x, y1, cols, rows, nTok));
        pool.run(matmulJobs('f16f', F32_INPUT, w, x, y2, cols, rows, nTok));
        const a = new Uint32Array(arena.f32(y1, rows * nTok).slice().buffer), b = new Uint32Array(arena.f32(y2, rows * nTok).slice().buffer);
        assert.equal(Array.from(b), Array.from(a), `${rows}×${cols}, ${nTok} tokens`);
      }
      // one token through matvec alone, split over the three threads
      arena.f32(y2, rows).fill(NaN);
      pool.run([matvecJob('f16f', F32_INPUT, w, x, y2, cols, rows)]);
      pool.run([matvecJob('f16', F32_INPUT, w, x, y1, cols, rows)]);
      assert.equal(Array.from(new Uint32Array(arena.f32(y2, rows).slice().buffer)), Array.from(new Uint32Array(arena.f32(y1, rows).slice().buffer)), `matvec ${rows}×${cols}`);
    }
  } finally {
    await pool.close();
  }
});

test('finiteHalves refuses any infinity or NaN, of either sign, anywhere', () => {
  const h = finiteRandomHalves(1000, 7);
  const bytes = () => new Uint8Array(h.buffer.slice(0));
  assert.ok(finiteHalves(bytes()));
  for (const bad of [0x7c00, 0xfc00, 0x7c01, 0x7e00, 0xffff]) {
    for (const at of [0, 499, 999]) {
      const saved = h[at];
      h[at] = bad;
      assert.not.ok(finiteHalves(bytes()), `0x${bad.toString(16)} at ${at}`);
      h[at] = saved;
    }
  }
});

test('an f16 model runs its matrices on f16f and gives the exact kernels\' logits bit for bit (prefill and decode)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wisp-f16f-'));
  try {
    const path = join(dir, 'small-f16.gguf');
    const llama2 = readLlama2cTokenizer(sharedTokenizer('llama2/tokenizer.bin'));
    synthModel(path, { shape: { dim: 128, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnDim: 256, contextLength: 64 }, vocab: llama2, type: GGMLType.F16, seed: 9 });
    const fast = await openWasm(path, { threads: 2 });
    const exact = await openWasm(path, { threads: 2, repack: false });
    try {
      assert.equal(wasmOf(fast).kernelCounts(), { f16f: 15 }, 'every matrix on f16f (2 layers × 7, and the head)');
      assert.equal(wasmOf(exact).kernelCounts(), { f16: 15 });
      const [sf, se] = [fast.newState(), exact.newState()];
      const prompt = [1, 450, 4799, 3290, 263, 931];
      assert.equal(Array.from(await fast.prefill(sf, prompt, 0)), Array.from(await exact.prefill(se, prompt, 0)), 'prefill logits');
      for (let pos = prompt.length; pos < prompt.length + 4; pos++) {
        assert.equal(Array.from(await fast.forward(sf, 300 + pos, pos)), Array.from(await exact.forward(se, 300 + pos, pos)), `decode logits at ${pos}`);
      }
    } finally {
      await Promise.all([fast.close(), exact.close()]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a head tied to an f16 embedding runs on f16f (the embedding still read by get_row_f16) and gives the exact kernels\' logits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wisp-f16f-tied-'));
  try {
    const path = join(dir, 'tied-f16.gguf');
    const llama2 = readLlama2cTokenizer(sharedTokenizer('llama2/tokenizer.bin'));
    synthModel(path, { shape: { dim: 128, nLayers: 1, nHeads: 4, nKvHeads: 2, ffnDim: 256, contextLength: 64, tiedOutput: true }, vocab: llama2, type: GGMLType.F16, seed: 10 });
    const fast = await openWasm(path, { threads: 2 });
    const exact = await openWasm(path, { threads: 2, repack: false });
    try {
      assert.equal(wasmOf(fast).kernelCounts(), { f16f: 8 }, '7 matrices and the tied head on f16f');
      assert.equal(wasmOf(exact).kernelCounts(), { f16: 8 });
      const [sf, se] = [fast.newState(), exact.newState()];
      const prompt = [1, 450, 4799, 3290];
      assert.equal(Array.from(await fast.prefill(sf, prompt, 0)), Array.from(await exact.prefill(se, prompt, 0)), 'prefill logits');
      assert.equal(Array.from(await fast.forward(sf, 777, 4)), Array.from(await exact.forward(se, 777, 4)), 'decode logits');
    } finally {
      await Promise.all([fast.close(), exact.close()]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
