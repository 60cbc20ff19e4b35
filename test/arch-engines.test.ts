// Every architecture on the wasm engine against the reference engine, on the paths the llama.cpp
// oracle (test/arch-oracle.test.ts: one thread, f32 KV, one sequence) does not take: two kernel
// threads, an f16 KV cache, prefill in chunks of 3 rows, two sequences decoding in one batch, phi3's
// short RoPE factors (a context within its original one), and phi3's fused tensors in q4_K (row
// ranges of a repacked matrix).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModel } from '../host/engine/load-model.js';
import { argmax } from '../host/engine/sampler.js';
import { GGMLType } from '../host/model/ggml-types.js';
import { ropeFactorTensor } from '../host/model/llama/tensors.js';
import { SYNTH_SHAPES, synthModel } from '../host/model/synth.js';
import { readVocabFile } from '../host/model/vocab-file.js';
import { openWasm } from './helpers/engines.js';
import { oracleIds } from './helpers/oracle.js';
import { sharedModel } from './helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'wisp-arch-engines-'));
const vocab = readVocabFile(sharedModel('tok512.bin'));
const TINY = Object.keys(SYNTH_SHAPES).filter((s) => s.startsWith('tiny-'));

function file(shapeName: string, type = GGMLType.F32): string {
  const path = join(dir, `${shapeName}-${type}.gguf`);
  const { describe: _d, vocabPackage: _v, ...shape } = SYNTH_SHAPES[shapeName];
  synthModel(path, { shape, vocab, type, seed: 5 });
  return path;
}

/** The reference's logits after each token of `ids` (one sequence, positions 0..). */
function referenceLogits(path: string, ids: readonly number[], contextSize: number): Float32Array[] {
  const m = loadModel(path, { contextSize });
  const s = m.engine.newState(contextSize);
  return ids.map((t, p) => Float32Array.from(m.engine.forward(s, t, p)));
}

/** Largest |a − b| over the step, relative to the step's largest |b|. */
function relDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return d / scale;
}

for (const shape of TINY) {
  test(`${shape}: wasm on 2 threads, f16 KV, prefill chunks of 3, two sequences in one decode batch: the reference's logits (rel. 1e-2) and argmax (≥ 95% of steps)`, async () => {
    const path = file(shape);
    const a = oracleIds(vocab, 30, 11);
    const b = oracleIds(vocab, 30, 12);
    const ctx = 64;
    const want = [referenceLogits(path, a, ctx), referenceLogits(path, b, ctx)];
    const fp = await openWasm(path, { threads: 2, kvType: 'f16', maxRows: 3, maxSequences: 2, contextSize: ctx });
    try {
      const sa = fp.newState(ctx);
      const sb = fp.newState(ctx);
      const got: Float32Array[][] = [[], []];
      got[0][9] = Float32Array.from(await fp.prefill(sa, a.slice(0, 10), 0));
      got[1][9] = Float32Array.from(await fp.prefill(sb, b.slice(0, 10), 0));
      for (let p = 10; p < 30; p++) {
        const [la, lb] = await fp.decodeBatch([sa, sb], [a[p], b[p]], [p, p]);
        got[0][p] = la;
        got[1][p] = lb;
      }
      let agree = 0;
      let steps = 0;
      for (const q of [0, 1]) {
        for (let p = 9; p < 30; p++) {
          assert.ok(relDiff(got[q][p], want[q][p]) < 1e-2, `${shape} sequence ${q} position ${p}: ${relDiff(got[q][p], want[q][p])}`);
          steps++;
          if (argmax(got[q][p]) === argmax(want[q][p])) agree++;
        }
      }
      assert.ok(agree >= 0.95 * steps, `${agree}/${steps} argmax agree`);
    } finally {
      await fp.close();
    }
  });
}

test("phi3 within its original context rotates by the short factors (wasm and reference alike), past it by the long ones", async () => {
  const path = file('tiny-phi');
  const ids = oracleIds(vocab, 24, 3);
  const short = referenceLogits(path, ids, 32);
  const long = referenceLogits(path, ids, 64);
  assert.ok(relDiff(short[23], long[23]) > 1e-3, 'the factors change the logits');
  const fp = await openWasm(path, { contextSize: 32 });
  try {
    const s = fp.newState(32);
    for (let p = 0; p < 24; p++) {
      const l = await fp.forward(s, ids[p], p);
      assert.ok(relDiff(l, short[p]) < 1e-4, `position ${p}`);
    }
  } finally {
    await fp.close();
  }
  const c = loadModel(path).config;
  assert.is(ropeFactorTensor(c, 32)!.name, 'rope_factors_short.weight');
  assert.is(ropeFactorTensor(c, 33)!.name, 'rope_factors_long.weight');
});

test("phi3's fused tensors in q4_K: the wasm engine's row ranges (repacked four rows at a time) give the reference's logits on the same file", async () => {
  const path = file('tiny-phi', GGMLType.Q4_K);
  const ids = oracleIds(vocab, 16, 4);
  const want = referenceLogits(path, ids, 64);
  const fp = await openWasm(path, { contextSize: 64 });
  try {
    const counts = (fp.backend('wasm') as unknown as { kernelCounts(): Record<string, number> }).kernelCounts();
    assert.ok((counts.q4_Kr4 ?? 0) > 0, `repacked: ${JSON.stringify(counts)}`);
    const s = fp.newState(64);
    let agree = 0;
    for (let p = 0; p < 16; p++) {
      const l = await fp.forward(s, ids[p], p);
      assert.ok(relDiff(l, want[p]) < 5e-2, `position ${p}: ${relDiff(l, want[p])}`);
      if (argmax(l) === argmax(want[p])) agree++;
    }
    assert.ok(agree >= 14, `${agree}/16 argmax agree`);
  } finally {
    await fp.close();
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
