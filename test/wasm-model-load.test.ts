// What the wasm engine refuses at load, before any kernel runs: shapes outside the kernels' contract.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModel } from '../host/engine/load-model.js';
import { GGMLType } from '../host/model/ggml-types.js';
import { readLlama2cTokenizer } from '../host/model/llama2c-tokenizer.js';
import { synthModel } from '../host/model/synth.js';
import { openWasm } from './helpers/engines.js';
import { sharedModel } from './helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'wisp-wasm-load-'));
const vocab = readLlama2cTokenizer(sharedModel('tok512.bin'));

test('refuses a model whose head dimension is not a multiple of 4, naming it (the reference engine runs it)', async () => {
  const path = join(dir, 'head6.gguf');
  // dim 48 over 8 heads: headDim 6 (the attention kernels step four floats at a time)
  synthModel(path, { shape: { dim: 48, nLayers: 1, nHeads: 8, nKvHeads: 8, ffnDim: 64, contextLength: 32 }, vocab, type: GGMLType.F32, seed: 3 });
  await openWasm(path).then(
    () => assert.unreachable('loaded a head dimension of 6'),
    (e: Error) => assert.match(e.message, /head dimension 6 is not a multiple of 4.*--engine reference/),
  );
  const ref = loadModel(path).engine;
  assert.ok(ref.forward(ref.newState(8), 1, 0).every(Number.isFinite));
});

test('loads a model whose head dimension is a multiple of 4 but not of 8', async () => {
  const path = join(dir, 'head12.gguf');
  synthModel(path, { shape: { dim: 48, nLayers: 1, nHeads: 4, nKvHeads: 2, ffnDim: 64, contextLength: 32 }, vocab, type: GGMLType.F32, seed: 3 });
  const m = await openWasm(path);
  try {
    const ref = loadModel(path).engine;
    const a = await m.forward(m.newState(8), 1, 0), b = ref.forward(ref.newState(8), 1, 0);
    for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-4 * (1 + Math.abs(b[i])), `logit ${i}: ${a[i]} vs ${b[i]}`);
  } finally {
    await m.close();
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
