// The kernel pool's barrier (host/backends/wasm/pool.ts): it spins briefly, then sleeps, on both
// sides, so more threads than cores still finish with the same bits.
import { availableParallelism } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Arena, planBytes } from '../host/backends/wasm/arena.js';
import { activationOf, matmulJobs } from '../host/backends/wasm/model.js';
import { KernelPool } from '../host/backends/wasm/pool.js';
import { mulberry32 } from '../host/engine/sampler.js';
import { GGMLType } from '../host/model/ggml-types.js';
import { quantize } from '../host/model/quantize/index.js';

const CORES = availableParallelism();

test('the barrier, spinning or sleeping, with more threads than cores: the same bits as one thread, every wake-up delivered', async () => {
  const rows = 256, cols = 128, nTok = 3, dispatches = 400;
  const r = mulberry32(5);
  const weights = quantize(GGMLType.Q4_0, Float32Array.from({ length: rows * cols }, () => (r() * 2 - 1) * 0.05), cols);
  const xs = Float32Array.from({ length: nTok * cols }, () => r() * 2 - 1);
  const xqBytes = (cols / 32) * 72 * nTok;
  const kind = activationOf({ type: GGMLType.Q4_0, kernel: 'q4_0' });
  const results: Array<{ label: string; bits: number[] }> = [];
  for (const [threads, spinLimit] of [[1, undefined], [CORES + 1, undefined], [CORES + 1, 0], [2, 0]] as const) {
    const arena = new Arena(planBytes([weights.length, cols * 4 * nTok, xqBytes, rows * 4 * nTok]), 'the test');
    const pool = KernelPool.create(arena.memory, { threads, spinLimit });
    try {
      await pool.ready;
      const w = arena.alloc(weights.length), x = arena.alloc(cols * 4 * nTok), xq = arena.alloc(xqBytes), y = arena.alloc(rows * 4 * nTok);
      arena.bytes(w, weights.length).set(weights);
      arena.f32(x, cols * nTok).set(xs);
      pool.call('quantize_q16_0', x, xq, cols * nTok);
      const jobs = matmulJobs('q4_0', kind, w, xq, y, cols, rows, nTok);
      for (let i = 0; i < dispatches; i++) {
        arena.f32(y, rows * nTok).fill(NaN);
        pool.run(jobs);
      }
      results.push({ label: `${threads} threads, spin ${spinLimit ?? 'default'}`, bits: Array.from(new Uint32Array(arena.f32(y, rows * nTok).slice().buffer)) });
      if (spinLimit === 0 && threads > 1) {
        assert.ok(pool.waits.sleeps > 0, 'spin 0: the main thread slept in Atomics.wait');
        assert.is(pool.waits.slicesRunOut, 0, 'every sleep was ended by the last worker\'s notify');
      }
    } finally {
      await pool.close();
    }
  }
  for (const res of results.slice(1)) assert.equal(res.bits, results[0].bits, res.label);
});

test.run();
