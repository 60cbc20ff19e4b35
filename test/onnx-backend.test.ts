// The ONNX backend against the JS references: weight conversions (MatMulNBits and f32 Gemm vs the
// ggml dequantizers), each block vs the reference's math (GQA, both RoPE layouts, partial RoPE, QKV
// bias, tied head, KV cache across calls), the all-ONNX engine's greedy ids on stories260K, top-1
// agreement on random-weight quantized models, and the provider list's fallback and errors.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OnnxBackend } from '../host/backends/onnx/backend.js';
import { runToEnd } from '../host/engine/generate.js';
import { DataType, GraphBuilder } from '../host/backends/onnx/proto.js';
import { NoProviderError, openSession } from '../host/backends/onnx/session.js';
import type { BlockOp, PlacedBlock } from '../host/engine/backend.js';
import { linear, onnxWeight, type OnnxWeight } from '../host/backends/onnx/weights.js';
import { expectedShapes } from '../host/model/llama/tensors.js';
import { loadLlamaWeightsF32, loadModel } from '../host/engine/load-model.js';
import { matmul, rmsnorm, rope, softmax, ReferenceModel, type LayerWeights } from '../host/engine/reference.js';
import { argmax } from '../host/engine/sampler.js';
import { GGMLType, dequantize } from '../host/model/ggml-types.js';
import { GGUFFile, gv, writeGGUF } from '../host/model/gguf/index.js';
import { configFromShape, type LlamaConfig } from '../host/model/llama/config.js';
import { readLlama2cTokenizer } from '../host/model/llama2c-tokenizer.js';
import { quantize } from '../host/model/quantize/index.js';
import { randomWeights, synthModel } from '../host/model/synth.js';
import { ROOT, sharedModel, sharedTokenizer } from './helpers/paths.js';
import { agreement } from './helpers/agreement.js';
import { openOnnx } from './helpers/engines.js';
import { ModelFile } from '../host/model/model-file.js';

const STORIES = sharedModel('stories260K.gguf');
const golden = JSON.parse(readFileSync(join(ROOT, 'test', 'golden', 'stories260K-greedy.json'), 'utf8')) as { promptIds: number[]; ids: number[] };
const dir = mkdtempSync(join(tmpdir(), 'wisp-onnx-'));
const THREADS = 1; // the test machines are small and shared

/** The ONNX backend alone, a session per block, for the given blocks of a model (the config replaces the file's metadata). */
async function onnxBlocks(path: string, c: LlamaConfig, blocks: Array<[BlockOp, number | null]>, o: { contextSize: number; maxSequences?: number }): Promise<OnnxBackend> {
  const model = ModelFile.open(path, { config: c });
  const backend = new OnnxBackend({ model, contextSize: o.contextSize, maxSequences: o.maxSequences ?? 1, maxRows: o.contextSize, log: () => {} }, { threads: THREADS, fuse: false });
  const placed: PlacedBlock[] = blocks.map(([op, layer]) => ({ op, layer, index: op === 'head' ? 2 * c.nLayers : 2 * layer! + (op === 'ffn' ? 1 : 0), targets: [{ backend: 'onnx', variant: { name: 'cpu' } }] }));
  const refused = await backend.add(placed);
  if (refused.length > 0) throw refused[0].error;
  return backend;
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.is(a.length, b.length, `${what}: length`);
  let worst = 0;
  let at = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i]));
    if (!(d <= worst)) [worst, at] = [d, i];
  }
  assert.ok(worst <= tol, `${what}: element ${at} is ${a[at]}, expected ${b[at]} (relative difference ${worst})`);
}

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected a rejection matching ${pattern}`);
}

// ---- providers (first: "logged once per process" counts from a fresh process) -----------------

test("provider list ['cuda', 'cpu'] falls back to cpu for every block and logs the skip once", async () => {
  const log: string[] = [];
  const blocks = await openOnnx(STORIES, { providers: ['cuda', 'cpu'], log: (m) => log.push(m), contextSize: 64, threads: THREADS, fuse: false });
  try {
    const p = blocks.placement();
    const cpu = { backend: 'onnx', provider: 'cpu' };
    assert.equal(p.layers, p.layers.map(() => ({ attention: cpu, ffn: cpu })));
    assert.equal(p.head, cpu);
    const cuda = log.filter((m) => m.includes("'cuda'"));
    assert.is(cuda.length, 1, `log: ${JSON.stringify(log)}`);
    assert.match(cuda[0], /execution provider 'cuda' skipped: .+/);
    // a second load in the same process does not log cuda again
    const again = await openOnnx(STORIES, { providers: ['cuda', 'cpu'], log: (m) => log.push(m), contextSize: 64 });
    await again.close();
    assert.is(log.filter((m) => m.includes("'cuda'")).length, 1);
  } finally {
    await blocks.close();
  }
});

test('a provider list with only an unknown provider is a clear error; so is an empty list', async () => {
  const log: string[] = [];
  try {
    await openOnnx(STORIES, { providers: ['warp-npu'], log: (m) => log.push(m), contextSize: 64, fuse: false });
    assert.unreachable('load should fail');
  } catch (err) {
    assert.instance(err, NoProviderError);
    assert.match((err as Error).message, /no ONNX Runtime execution provider could run attention block 0 of .*stories260K\.gguf: warp-npu: not an execution provider of this onnxruntime-node build \(it has: cpu/);
  }
  assert.is(log.length, 1);
  try {
    const g = new GraphBuilder('ffn');
    g.output(g.input('x', DataType.FLOAT, [1]), 'y', DataType.FLOAT, [1]);
    await openSession(g.encode(), [], () => {}, { what: 'FFN block 0' });
    assert.unreachable('load should fail');
  } catch (err) {
    assert.match((err as Error).message, /no ONNX Runtime execution provider was given for FFN block 0/);
  }
});

// ---- weight conversions ---------------------------------------------------------------------------

/** y = x·Wᵀ through ORT for a converted weight (the graph linear() builds inside every block). */
async function runLinear(w: OnnxWeight, x: Float32Array, n: number): Promise<Float32Array> {
  const g = new GraphBuilder('linear');
  const xin = g.input('x', DataType.FLOAT, ['n', w.cols]);
  g.output(linear(g, xin, w, 'w'), 'y', DataType.FLOAT, ['n', w.rows]);
  const s = await InferenceSession.create(g.encode(), { executionProviders: ['cpu'], intraOpNumThreads: THREADS });
  try {
    const out = await s.run({ x: new Tensor('float32', x, [n, w.cols]) });
    return out.y.data as Float32Array;
  } finally {
    await s.release();
  }
}

function jsLinear(W: Float32Array, rows: number, cols: number, x: Float32Array, n: number): Float32Array {
  const y = new Float32Array(n * rows);
  for (let t = 0; t < n; t++) matmul(y.subarray(t * rows, (t + 1) * rows), x.subarray(t * cols, (t + 1) * cols), W, rows, cols);
  return y;
}

/** The values MatMulNBits reads from its blobs: (q - 2^(bits-1)) * scale, q in MatMulNBits' packing. */
function unpackNBits(w: Extract<OnnxWeight, { kind: 'nbits' }>): Float32Array {
  const out = new Float32Array(w.rows * w.cols);
  const blob = (32 * w.bits) / 8;
  for (let b = 0; b < out.length / 32; b++) {
    for (let j = 0; j < 32; j++) {
      const q = w.bits === 8 ? w.packed[b * blob + j] : (w.packed[b * blob + (j >> 1)] >> ((j & 1) * 4)) & 0xf;
      out[b * 32 + j] = (q - (1 << (w.bits - 1))) * w.scales[b];
    }
  }
  return out;
}

const ROWS = 48;
const COLS = 512; // two 256-value K-quant super-blocks, sixteen 32-value blocks
for (const [name, type, kind] of [
  ['q4_0', GGMLType.Q4_0, 'nbits'],
  ['q8_0', GGMLType.Q8_0, 'nbits'],
  ['q4_K', GGMLType.Q4_K, 'dense'],
  ['q6_K', GGMLType.Q6_K, 'dense'],
  ['f16', GGMLType.F16, 'dense'],
] as const) {
  test(`${name} weights -> ${kind === 'nbits' ? 'MatMulNBits' : 'f32 Gemm'}: the same values as the JS dequantizer, and the same products through ORT`, async () => {
    const bytes = quantize(type, randomWeights(ROWS * COLS, 5, 0.05), COLS);
    const reference = dequantize(type, bytes, ROWS * COLS);
    const w = onnxWeight(type, bytes, ROWS, COLS);
    assert.is(w.kind, kind);
    assert.equal(Array.from(w.kind === 'nbits' ? unpackNBits(w) : w.values), Array.from(reference)); // bit-exact
    const n = 3;
    const x = randomWeights(n * COLS, 9, 1);
    close(await runLinear(w, x, n), jsLinear(reference, ROWS, COLS, x, n), 2e-5, `${name} products`);
  });
}

// ---- blocks vs the reference's math ---------------------------------------------------------------

function tinyConfig(over: Partial<LlamaConfig> = {}): LlamaConfig {
  return configFromShape({ dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnDim: 48, contextLength: 32 }, 40, over);
}

/** A GGUF of random F32 weights at the config's shapes (the blocks read tensors, the config comes from the caller). */
function tinyGGUF(c: LlamaConfig, file: string, seed = 3): string {
  const path = join(dir, file);
  let s = seed;
  writeGGUF(path, {
    metadata: new Map([['general.architecture', gv.str('llama')]]),
    tensors: [...expectedShapes(c)].map(([name, dims]) => {
      const count = dims.reduce((a, b) => a * b, 1);
      const values = name.endsWith('_norm.weight') ? randomWeights(count, s++, 0.2).map((x) => 1 + x) : randomWeights(count, s++, name === 'token_embd.weight' ? 1 : 0.3);
      return { name, dims, type: GGMLType.F32, data: new Uint8Array(values.buffer) };
    }),
  });
  return path;
}

/** The reference's attention step for n tokens at pos0.. (its forward(), one block), keeping its own KV cache. */
function refAttention(c: LlamaConfig, lw: LayerWeights, cache: { k: Float32Array; v: Float32Array }, x: Float32Array, n: number, pos0: number): Float32Array {
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const group = c.nHeads / c.nKvHeads;
  const out = Float32Array.from(x);
  for (let t = 0; t < n; t++) {
    const pos = pos0 + t;
    const xt = x.subarray(t * c.dim, (t + 1) * c.dim);
    const xb = new Float32Array(c.dim);
    rmsnorm(xb, xt, lw.attnNorm, c.normEps);
    const q = new Float32Array(qDim);
    const k = cache.k.subarray(pos * kvDim, (pos + 1) * kvDim);
    const v = cache.v.subarray(pos * kvDim, (pos + 1) * kvDim);
    matmul(q, xb, lw.wq, qDim, c.dim, lw.bq);
    matmul(k, xb, lw.wk, kvDim, c.dim, lw.bk);
    matmul(v, xb, lw.wv, kvDim, c.dim, lw.bv);
    for (let h = 0; h < c.nHeads; h++) rope(q, h * c.headDim, pos, c.ropeDim, c.ropeBase, c.ropeStyle);
    for (let h = 0; h < c.nKvHeads; h++) rope(k, h * c.headDim, pos, c.ropeDim, c.ropeBase, c.ropeStyle);
    const att = new Float32Array(qDim);
    const scores = new Float32Array(pos + 1);
    for (let h = 0; h < c.nHeads; h++) {
      const kvOff = Math.floor(h / group) * c.headDim;
      for (let u = 0; u <= pos; u++) {
        let dot = 0;
        for (let i = 0; i < c.headDim; i++) dot += q[h * c.headDim + i] * cache.k[u * kvDim + kvOff + i];
        scores[u] = dot / Math.sqrt(c.headDim);
      }
      softmax(scores, pos + 1);
      for (let i = 0; i < c.headDim; i++) {
        let acc = 0;
        for (let u = 0; u <= pos; u++) acc += scores[u] * cache.v[u * kvDim + kvOff + i];
        att[h * c.headDim + i] = acc;
      }
    }
    const o = new Float32Array(c.dim);
    matmul(o, att, lw.wo, c.dim, qDim);
    for (let i = 0; i < c.dim; i++) out[t * c.dim + i] += o[i];
  }
  return out;
}

function refFfn(c: LlamaConfig, lw: LayerWeights, x: Float32Array, n: number): Float32Array {
  const out = Float32Array.from(x);
  for (let t = 0; t < n; t++) {
    const xb = new Float32Array(c.dim);
    rmsnorm(xb, x.subarray(t * c.dim, (t + 1) * c.dim), lw.ffnNorm, c.normEps);
    const g = new Float32Array(c.ffnDim);
    const u = new Float32Array(c.ffnDim);
    matmul(g, xb, lw.wGate, c.ffnDim, c.dim);
    matmul(u, xb, lw.wUp, c.ffnDim, c.dim);
    for (let i = 0; i < c.ffnDim; i++) g[i] = (g[i] / (1 + Math.exp(-g[i]))) * u[i];
    const d = new Float32Array(c.dim);
    matmul(d, g, lw.wDown, c.dim, c.ffnDim);
    for (let i = 0; i < c.dim; i++) out[t * c.dim + i] += d[i];
  }
  return out;
}

const BLOCK_CASES: Array<[string, Partial<LlamaConfig>]> = [
  ['GQA 4/2, llama (interleaved) RoPE', {}],
  ['GQA 4/1, NeoX RoPE, QKV bias, tied head', { nKvHeads: 1, ropeStyle: 'neox', qkvBias: true, tiedOutput: true }],
  ['MHA 4/4, partial RoPE (4 of 8 dims), NeoX', { nKvHeads: 4, ropeDim: 4, ropeStyle: 'neox' }],
  ['GQA 4/2, partial RoPE (4 of 8 dims), llama', { ropeDim: 4 }],
];
BLOCK_CASES.forEach(([label, over], i) => {
  test(`blocks equal the reference (${label}): attention over three calls of the KV cache, FFN, head`, async () => {
    const c = tinyConfig(over);
    const path = tinyGGUF(c, `tiny-${i}.gguf`, 10 + i);
    const w = loadLlamaWeightsF32(GGUFFile.open(path), c);
    const blocks = await onnxBlocks(path, c, [['attention', 0], ['attention', 1], ['ffn', 1], ['head', null]], { contextSize: 16 });
    try {
      const seq = blocks.newSequence(16);
      const kvDim = c.nKvHeads * c.headDim;
      const cache = { k: new Float32Array(16 * kvDim), v: new Float32Array(16 * kvDim) };
      let pos = 0;
      for (const n of [3, 1, 2]) {
        const x = randomWeights(n * c.dim, 100 + pos, 1);
        const y = Float32Array.from(x);
        await blocks.attention(0, [{ state: seq, row: 0, pos0: pos, n }], y, n);
        close(y, refAttention(c, w.layers[0], cache, x, n, pos), 2e-5, `attention at ${pos}+${n}`);
        pos += n;
      }
      close(seq.keys.get(0)!.subarray(0, pos * kvDim), cache.k.subarray(0, pos * kvDim), 2e-5, 'cached keys (after RoPE)');
      const x = randomWeights(2 * c.dim, 7, 1);
      const y = Float32Array.from(x);
      await blocks.ffn(1, y, 2);
      close(y, refFfn(c, w.layers[1], x, 2), 2e-5, 'FFN');
      const xh = randomWeights(c.dim, 8, 1);
      const xn = new Float32Array(c.dim);
      rmsnorm(xn, xh, w.outputNorm, c.normEps);
      const logits = new Float32Array(c.vocabSize);
      matmul(logits, xn, w.output, c.vocabSize, c.dim);
      close((await blocks.head(xh, 0, 1))[0], logits, 2e-5, 'head');
      // whole models (fused and per block) vs the reference engine, teacher-forced
      const ref = new ReferenceModel(c, w);
      for (const fused of [true, false]) {
        const m = await openOnnx(path, { config: c, contextSize: 16, fuse: fused, threads: THREADS });
        try {
          const rs = ref.newState(16);
          const ms = m.newState();
          for (const [p, t] of [5, 17, 3, 39, 0, 22].entries()) close(await m.forward(ms, t, p), ref.forward(rs, t, p), 1e-4, `${fused ? 'fused' : 'blocks'} logits at ${p}`);
        } finally {
          await m.close();
        }
      }
    } finally {
      await blocks.close();
    }
  });
});

test('attention refuses a position past the cached ones, a context overflow, wrong sizes, and a layer not routed', async () => {
  const c = tinyConfig();
  const path = tinyGGUF(c, 'tiny-errors.gguf');
  const blocks = await onnxBlocks(path, c, [['attention', 0]], { contextSize: 8, maxSequences: 1 });
  try {
    const seq = blocks.newSequence(8);
    assert.throws(() => blocks.newSequence(8), /all 1 sequence slots are in use/);
    const x = new Float32Array(c.dim);
    const at = (pos0: number, n = 1) => [{ state: seq, row: 0, pos0, n }];
    await rejects(Promise.resolve().then(() => blocks.attention(0, at(2), x, 1)), /position 2 is past the 0 cached positions/);
    await rejects(Promise.resolve().then(() => blocks.attention(0, at(0), new Float32Array(c.dim - 1), 1)), /x has 31 values; rows 0\.\.0 of 32 need 32/);
    await rejects(Promise.resolve().then(() => blocks.attention(1, at(0), x, 1)), /attention block 1 is not routed to ONNX/);
    await rejects(Promise.resolve().then(() => blocks.ffn(0, x, 1)), /FFN block 0 is not routed/);
    await blocks.attention(0, at(0, 8), new Float32Array(8 * c.dim), 8);
    await rejects(Promise.resolve().then(() => blocks.attention(0, at(8), x, 1)), /positions up to 8 do not fit the context of 8/);
    blocks.releaseSequence(seq);
    blocks.releaseSequence(blocks.newSequence(8)); // the slot is free again
  } finally {
    await blocks.close();
  }
});

// ---- the all-ONNX engine on real and random-weight models -----------------------------------------

const reference = loadModel(STORIES);

for (const fused of [true, false]) {
  const n = fused ? golden.ids.length : 120;
  test(`stories260K all-ONNX (${fused ? 'one fused session' : 'a session per block'}): greedy ids equal llama.cpp's for ${n} tokens`, async () => {
    const m = await openOnnx(STORIES, { contextSize: 512, fuse: fused, threads: THREADS });
    try {
      const r = await runToEnd(m, reference.tokenizer, golden.promptIds, { maxTokens: n, temperature: 0, ignoreEos: true });
      console.log(`  onnx ${fused ? 'fused' : 'per block'}: ${r.timings.decodeTokensPerSecond.toFixed(0)} tok/s decode`);
      assert.equal(r.ids, golden.ids.slice(0, n));
    } finally {
      await m.close();
    }
  });
}

test('prefill in chunks of 3 gives the logits of token-by-token decoding', async () => {
  const chunked = await openOnnx(STORIES, { contextSize: 64, maxRows: 3, threads: THREADS });
  const single = await openOnnx(STORIES, { contextSize: 64, threads: THREADS });
  try {
    const tokens = [...golden.promptIds, ...golden.ids.slice(0, 8)];
    const a = await chunked.prefill(chunked.newState(), tokens, 0);
    const s = single.newState();
    let b: Float32Array = new Float32Array(0);
    for (const [pos, t] of tokens.entries()) b = await single.forward(s, t, pos);
    close(a, b, 1e-5, 'logits');
  } finally {
    await chunked.close();
    await single.close();
  }
});


const llama2 = readLlama2cTokenizer(sharedTokenizer('llama2/tokenizer.bin'));
const SMALL = { dim: 256, nLayers: 4, nHeads: 8, nKvHeads: 4, ffnDim: 512, contextLength: 128 };
for (const [name, type] of [['q4_0', GGMLType.Q4_0], ['q8_0', GGMLType.Q8_0]] as const) {
  test(`random-weight ${name} model (dim 256, 4 layers, GQA 8/4): top-1 agreement with the f32 reference over 100 steps is at least 99%`, async () => {
    const path = join(dir, `small-${name}.gguf`);
    synthModel(path, { shape: SMALL, vocab: llama2, type, seed: 21 });
    const ref = loadModel(path);
    const m = await openOnnx(path, { threads: THREADS });
    try {
      const seq = ref.tokenizer.encode('Once upon a time there was a little robot who wanted to see the sea. It walked for days and days until');
      const state = ref.engine.newState(128);
      for (let pos = 0; seq.length < 100; pos++) {
        const logits = ref.engine.forward(state, seq[pos], pos);
        if (pos === seq.length - 1) seq.push(argmax(logits));
      }
      const share = await agreement(m, ref.engine, seq);
      console.log(`  ${name}: top-1 agreement with the f32 reference ${(share * 100).toFixed(0)}%`);
      assert.ok(share >= 0.99, `agreement ${(share * 100).toFixed(1)}%`);
    } finally {
      await m.close();
      rmSync(path, { force: true });
    }
  });
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
