// The reference engine against llama.cpp's greedy ids on the real stories260K model, plus the
// properties its blocks must have (GQA, RoPE layouts, tied output).
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runToEnd } from '../host/engine/generate.js';
import { loadModel } from '../host/engine/load-model.js';
import { ReferenceModel, rope, type LlamaWeights } from '../host/engine/reference.js';
import { convertLlama2c } from '../host/model/convert-llama2c.js';
import { configFromShape, type LlamaConfig } from '../host/model/llama/config.js';
import { randomWeights } from '../host/model/synth.js';
import { ROOT, sharedModel } from './helpers/paths.js';

// Produced by scripts/golden/llamacpp_greedy.mjs: llama.cpp (node-llama-cpp) greedy decoding of
// stories260K.gguf from "<s>Once upon a time", F32 KV cache, context 512; see the file's note.
const golden = JSON.parse(readFileSync(join(ROOT, 'test', 'golden', 'stories260K-greedy.json'), 'utf8')) as {
  prompt: string;
  promptIds: number[];
  ids: number[];
  text: string;
};

async function greedyIds(path: string, n: number): Promise<{ promptIds: number[]; ids: number[]; text: string }> {
  const model = loadModel(path);
  const promptIds = model.tokenizer.encode(golden.prompt);
  const r = await runToEnd(model.engine, model.tokenizer, promptIds, { maxTokens: n, temperature: 0, ignoreEos: true });
  return { promptIds, ids: r.ids, text: r.text };
}

test('stories260K: prompt tokens equal llama.cpp', () => {
  const model = loadModel(sharedModel('stories260K.gguf'));
  assert.equal(model.tokenizer.encode(golden.prompt), golden.promptIds);
});

test(`stories260K: greedy ids equal llama.cpp for ${golden.ids.length} tokens`, async () => {
  assert.ok(golden.ids.length >= 200);
  const { ids, text } = await greedyIds(sharedModel('stories260K.gguf'), golden.ids.length);
  assert.equal(ids, golden.ids);
  assert.is(text, golden.text);
});

test('stories260K converted from the llama2.c checkpoint gives the same greedy ids', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wisp-convert-'));
  try {
    const out = join(dir, 'converted.gguf');
    convertLlama2c(sharedModel('stories260K.bin'), sharedModel('tok512.bin'), out);
    const { promptIds, ids } = await greedyIds(out, golden.ids.length);
    assert.equal(promptIds, golden.promptIds);
    assert.equal(ids, golden.ids);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- properties of the blocks -------------------------------------------------------------

function tinyConfig(over: Partial<LlamaConfig> = {}): LlamaConfig {
  return configFromShape({ dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnDim: 48, contextLength: 16 }, 40, over);
}

function tinyWeights(c: LlamaConfig, seed = 7): LlamaWeights {
  let s = seed;
  const rnd = (n: number, std = 0.3) => randomWeights(n, s++, std);
  const kvDim = c.nKvHeads * c.headDim;
  const qDim = c.nHeads * c.headDim;
  const tokenEmbd = rnd(c.vocabSize * c.dim, 1);
  return {
    tokenEmbd,
    outputNorm: rnd(c.dim).map((x) => 1 + x),
    output: c.tiedOutput ? tokenEmbd : rnd(c.vocabSize * c.dim),
    layers: Array.from({ length: c.nLayers }, () => ({
      attnNorm: rnd(c.dim).map((x) => 1 + x),
      wq: rnd(qDim * c.dim), wk: rnd(kvDim * c.dim), wv: rnd(kvDim * c.dim),
      ...(c.qkvBias ? { bq: rnd(qDim), bk: rnd(kvDim), bv: rnd(kvDim) } : {}),
      wo: rnd(c.dim * qDim), ffnNorm: rnd(c.dim).map((x) => 1 + x),
      wGate: rnd(c.ffnDim * c.dim), wUp: rnd(c.ffnDim * c.dim), wDown: rnd(c.dim * c.ffnDim),
    })),
  };
}

/** The same model with every KV head repeated for its query group: multi-head attention. */
function expandKvHeads(c: LlamaConfig, w: LlamaWeights): LlamaWeights {
  const group = c.nHeads / c.nKvHeads;
  const rows = c.headDim * c.dim;
  const expand = (m: Float32Array) => {
    const out = new Float32Array(c.nHeads * rows);
    for (let h = 0; h < c.nHeads; h++) out.set(m.subarray(Math.floor(h / group) * rows, (Math.floor(h / group) + 1) * rows), h * rows);
    return out;
  };
  return { ...w, layers: w.layers.map((l) => ({ ...l, wk: expand(l.wk), wv: expand(l.wv) })) };
}

function logitsFor(model: ReferenceModel, tokens: number[]): Float32Array[] {
  const state = model.newState();
  return tokens.map((t, pos) => Float32Array.from(model.forward(state, t, pos)));
}

test('GQA equals multi-head attention with repeated KV heads (groups 1, 2, 4)', () => {
  for (const nKvHeads of [4, 2, 1]) {
    const c = tinyConfig({ nKvHeads });
    const w = tinyWeights(c);
    const gqa = logitsFor(new ReferenceModel(c, w), [3, 1, 4, 1, 5, 9]);
    const mha = logitsFor(new ReferenceModel({ ...c, nKvHeads: c.nHeads }, expandKvHeads(c, w)), [3, 1, 4, 1, 5, 9]);
    for (let i = 0; i < gqa.length; i++) for (let j = 0; j < c.vocabSize; j++) assert.ok(Math.abs(gqa[i][j] - mha[i][j]) < 1e-4);
  }
});

test('RoPE: normal rotates adjacent pairs, neox rotates halves, position 0 is identity', () => {
  const v = Float32Array.from([1, 2, 3, 4]);
  rope(v, 0, 0, 4, 10000, 'normal');
  assert.equal(Array.from(v), [1, 2, 3, 4]);
  const a = Float32Array.from([1, 0, 1, 0]);
  rope(a, 0, 1, 4, 10000, 'normal'); // pair 0 rotates by 1 rad, pair 1 by 1e-2 rad
  assert.ok(Math.abs(a[0] - Math.cos(1)) < 1e-6 && Math.abs(a[1] - Math.sin(1)) < 1e-6);
  assert.ok(Math.abs(a[2] - Math.cos(0.01)) < 1e-6 && Math.abs(a[3] - Math.sin(0.01)) < 1e-6);
  const b = Float32Array.from([1, 1, 0, 0]);
  rope(b, 0, 1, 4, 10000, 'neox'); // pairs (0,2) by 1 rad and (1,3) by 1e-2 rad
  assert.ok(Math.abs(b[0] - Math.cos(1)) < 1e-6 && Math.abs(b[2] - Math.sin(1)) < 1e-6);
  assert.ok(Math.abs(b[1] - Math.cos(0.01)) < 1e-6 && Math.abs(b[3] - Math.sin(0.01)) < 1e-6);
});

test('RoPE: neox on the halves-permuted vectors equals normal on the originals', () => {
  const c = 8;
  const x = Float32Array.from({ length: c }, (_, i) => Math.sin(i + 1));
  const perm = Float32Array.from({ length: c }, (_, i) => (i < c / 2 ? x[2 * i] : x[2 * (i - c / 2) + 1]));
  rope(x, 0, 5, c, 10000, 'normal');
  rope(perm, 0, 5, c, 10000, 'neox');
  for (let i = 0; i < c / 2; i++) {
    assert.ok(Math.abs(perm[i] - x[2 * i]) < 1e-6);
    assert.ok(Math.abs(perm[i + c / 2] - x[2 * i + 1]) < 1e-6);
  }
});

test('tied output reuses the token embedding; QKV bias changes the result', () => {
  const c = tinyConfig({ tiedOutput: true });
  const w = tinyWeights(c);
  assert.is(w.output, w.tokenEmbd);
  const tied = logitsFor(new ReferenceModel(c, w), [1, 2]);
  assert.ok(tied[1].every(Number.isFinite));
  const cb = tinyConfig({ qkvBias: true });
  const wb = tinyWeights(cb);
  const withBias = logitsFor(new ReferenceModel(cb, wb), [1, 2]);
  const noBias = logitsFor(new ReferenceModel({ ...cb, qkvBias: false }, { ...wb, layers: wb.layers.map(({ bq, bk, bv, ...l }) => l) }), [1, 2]);
  assert.ok(withBias[1].some((x, i) => Math.abs(x - noBias[1][i]) > 1e-3));
});

test('forward refuses a token outside the vocabulary and a position past the context', () => {
  const c = tinyConfig();
  const m = new ReferenceModel(c, tinyWeights(c));
  const s = m.newState();
  assert.throws(() => m.forward(s, c.vocabSize, 0), /outside the vocabulary/);
  assert.throws(() => m.forward(s, 0, c.contextLength), /outside the context/);
});

test.run();
