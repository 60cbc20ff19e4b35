// The dispatch of matmul jobs over threads (host/backends/wasm/jobs.ts matvecJob / matmulJobs,
// control.ts shareOf): every kernel gets row ranges it can take. q4_0r8 kernels read whole 8-row
// group blocks, so a share starting mid-group would read another group's bytes and write past its
// end into the next thread's rows; these tests fail if the grain for q4_0r8 drops below 8.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Arena, planBytes } from '../host/backends/wasm/arena.js';
import { activationOf, matmulJobs, matvecJob } from '../host/backends/wasm/jobs.js';
import { makeLayout } from '../host/backends/wasm/layouts.js';
import { BLOCK_FORMATS } from '../host/model/block-formats.js';
import { shareOf } from '../host/backends/wasm/control.js';
import { KernelPool } from '../host/backends/wasm/pool.js';
import { mulberry32 } from '../host/engine/sampler.js';
import { GGMLType } from '../host/model/ggml-types.js';
import { quantize } from '../host/model/quantize/index.js';

test('q4_0r8 jobs split rows in multiples of 8 for every thread count, other kernels in multiples of 4', () => {
  for (const [kernel, grain] of [['q4_0r8', 8], ['q4_0', 4], ['q8_0', 4], ['q4_K', 4]] as const) {
    const kind = activationOf(kernel);
    const jobs = [matvecJob(kernel, kind, 0, 0, 0, 256, 200), ...matmulJobs(kernel, kind, 0, 0, 0, 256, 200, 7)];
    for (const job of jobs) {
      assert.is(job.split?.grain, grain, `${job.kernel} grain`);
      for (let n = 1; n <= 8; n++) {
        for (let t = 0; t < n; t++) {
          const [start, end] = shareOf(job.split!.total, job.split!.grain!, t, n);
          assert.ok(start % grain === 0 && (end % grain === 0 || end === 200), `${job.kernel}: thread ${t} of ${n} gets [${start}, ${end})`);
        }
      }
    }
  }
  assert.is(activationOf('q4_0r8'), BLOCK_FORMATS.q8_0s);
  assert.is(activationOf('q4_0r8', 'q16'), BLOCK_FORMATS.q16_0s);
});

for (const choice of ['q8', 'q16'] as const)
test(`a q4_0r8 matrix split over 3 threads (200 rows: shares of 72, 72, 56) gives the plain q4_0 results bit for bit (${choice} activations)`, async () => {
  const rows = 200, cols = 96, nTok = 7;
  const r = mulberry32(77);
  const weights = quantize(GGMLType.Q4_0, Float32Array.from({ length: rows * cols }, () => (r() * 2 - 1) * 0.05), cols);
  const xs = Float32Array.from({ length: nTok * cols }, () => r() * 2 - 1);
  const actPlain = activationOf('q4_0', choice), actPacked = activationOf('q4_0r8', choice);
  const wBytes = weights.length, xqBytes = (cols / 32) * Math.max(actPlain.blockBytes, actPacked.blockBytes) * nTok;
  const arena = new Arena(planBytes([wBytes, wBytes, wBytes, cols * 4 * nTok, xqBytes, xqBytes, rows * 4 * nTok, rows * 4 * nTok]), 'the test');
  const pool = KernelPool.create(arena.memory, { threads: 3 });
  try {
    await pool.ready;
    const plain = arena.alloc(wBytes), packed = arena.alloc(wBytes), scratch = arena.alloc(wBytes);
    arena.bytes(plain, wBytes).set(weights);
    arena.bytes(packed, wBytes).set(weights);
    const x = arena.alloc(cols * 4 * nTok), xq = arena.alloc(xqBytes), xqPacked = arena.alloc(xqBytes);
    arena.f32(x, cols * nTok).set(xs);
    const yPlain = arena.alloc(rows * 4 * nTok), yPacked = arena.alloc(rows * 4 * nTok);
    const w = { ptr: packed, type: GGMLType.Q4_0, kernel: 'q4_0', rows, cols };
    assert.is(makeLayout(pool, arena, w, scratch, 16 * (cols / 32) * BLOCK_FORMATS.q4_0.blockBytes, choice), 'q4_0r8', 'repacked (in 16-row steps)');
    pool.call(actPlain.activation!.quantizer!, x, xq, cols * nTok);
    pool.call(actPacked.activation!.quantizer!, x, xqPacked, cols * nTok);
    arena.f32(yPacked, rows * nTok).fill(NaN);
    pool.run(matmulJobs('q4_0', actPlain, plain, xq, yPlain, cols, rows, nTok));
    pool.run(matmulJobs('q4_0r8', actPacked, packed, xqPacked, yPacked, cols, rows, nTok));
    const a = new Uint32Array(arena.f32(yPlain, rows * nTok).slice().buffer), b = new Uint32Array(arena.f32(yPacked, rows * nTok).slice().buffer);
    assert.equal(Array.from(b), Array.from(a));
  } finally {
    await pool.close();
  }
});

test.run();
