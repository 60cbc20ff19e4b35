// Models in ggml's other weight formats on the wasm engine: random-weight models in q4_1, q5_0, q5_1,
// q2_K, q3_K and q5_K, and llama.cpp's Q4_K_M / Q5_K_M / Q3_K_M mixes of a qwen2 model whose 288
// columns no 256-value block tiles (the mixed files Qwen2.5-0.5B's Q4_K_M has: q5_0, q5_1, q8_0, q4_0
// beside the K-quants). Each loads, runs on the kernels its tensors name, gives the same logits on one
// thread and two (row splits of every kernel, prefill's matmul and decode's matvec), and tracks the f32
// reference engine on the same weights.
//
// The floor: these kernels take ggml's 8-bit activations (as llama.cpp does), which move a random
// model's flat logits by ~1e-2 and flip near-ties; measured 95-100% top-1 agreement with the f32
// reference over 200 steps on these models. A wiring mistake (a wrong kernel, buffer or activation
// format) gives garbage, far below the floor.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModel } from '../host/engine/load-model.js';
import { layoutsFrom, type FormatName } from '../host/model/block-formats.js';
import { GGMLType, traitsOf } from '../host/model/ggml-types.js';
import { GGUFFile } from '../host/model/gguf/index.js';
import { readLlama2cTokenizer } from '../host/model/llama2c-tokenizer.js';
import { quantizeModel } from '../host/model/quantize-model.js';
import { QUANT_MIXES } from '../host/model/quantize/mixes.js';
import { synthModel } from '../host/model/synth.js';
import { openWasm, wasmOf } from './helpers/engines.js';
import { MIX_SHAPES, writeMixModel } from './helpers/mix-models.js';
import { sharedModel } from './helpers/paths.js';
import { referenceRun, teacherForced } from './helpers/teacher-forced.js';

const FLOOR = 0.9;
const STEPS = 100;
const dir = mkdtempSync(join(tmpdir(), 'wisp-weight-types-'));
const vocab = readLlama2cTokenizer(sharedModel('tok512.bin'));
const shape = { dim: 256, nLayers: 4, nHeads: 8, nKvHeads: 4, ffnDim: 768, contextLength: 256 };

/** Opens `path` on the wasm engine, checks agreement with the reference and 1- vs 2-thread logits; returns the kernel counts. */
async function check(what: string, path: string): Promise<Record<string, number>> {
  const ref = loadModel(path);
  const wasm = await openWasm(path, { threads: 1 });
  try {
    const run = referenceRun(ref.engine, ref.tokenizer.encode('Once upon a time there was a little robot who wanted to see the sea.'), STEPS);
    const a = await teacherForced(wasm, run);
    console.log(`  ${what}: ${a.agree}/${a.steps} top-1 agree with the f32 reference`);
    assert.ok(a.share >= FLOOR, `${what}: agreement ${a.agree}/${a.steps}`);
    const other = await openWasm(path, { threads: 2 });
    try {
      const [s1, s2] = [wasm.newState(), other.newState()];
      const seq = run.ids;
      assert.equal(Array.from(await wasm.prefill(s1, seq.slice(0, 11), 0)), Array.from(await other.prefill(s2, seq.slice(0, 11), 0)), 'prefill logits');
      for (let pos = 11; pos < 14; pos++) assert.equal(Array.from(await wasm.forward(s1, seq[pos], pos)), Array.from(await other.forward(s2, seq[pos], pos)), `decode logits at ${pos}`);
    } finally {
      await other.close();
    }
    return wasmOf(wasm).kernelCounts();
  } finally {
    await wasm.close();
  }
}

for (const type of [GGMLType.Q4_1, GGMLType.Q5_0, GGMLType.Q5_1, GGMLType.Q2_K, GGMLType.Q3_K, GGMLType.Q5_K]) {
  const name = traitsOf(type).name;
  test(`a random-weight ${name} model runs on its own kernels and tracks the f32 reference (≥ ${FLOOR * 100}% of ${STEPS} steps), the same on 1 and 2 threads`, async () => {
    const path = join(dir, `${name}.gguf`);
    synthModel(path, { shape, vocab, type, seed: 11 });
    const counts = await check(name, path);
    // its own kernels: on the load-time layout made from it where there is one (q5_0r4, q5_1r4, q2_Kr4, q3_Kr4), else its own
    const layout = layoutsFrom(name as FormatName, 4)[0]?.name ?? name;
    assert.equal(counts, { [layout]: 4 * 7 + 1 });
    rmSync(path);
  });
}

const source = join(dir, 'mini-qwen2-f32.gguf');
writeMixModel(source, MIX_SHAPES['mini-qwen2'], vocab, { type: GGMLType.F32, seed: 7 });
for (const mix of ['q4_k_m', 'q5_k_m', 'q3_k_m']) {
  test(`a ${mix.toUpperCase()} qwen2 model with 288-column rows (fallbacks: q5_0/q5_1/q8_0/q4_0) loads and runs, the same on 1 and 2 threads`, async () => {
    const path = join(dir, `mini-qwen2-${mix}.gguf`);
    quantizeModel(source, path, QUANT_MIXES[mix]);
    const stored = new Set(GGUFFile.open(path).tensors.filter((t) => t.dims.length === 2).map((t) => traitsOf(t.type).name));
    const counts = await check(mix, path);
    // every matrix type the file stores runs on its own kernels (the tied embedding's too, for the head)
    for (const t of stored) assert.ok(Object.keys(counts).some((k) => k.startsWith(t)), `${mix}: ${t} matrices run (${JSON.stringify(counts)})`);
    rmSync(path);
  });
}

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
