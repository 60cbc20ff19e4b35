// The routed engine: any mix of wasm and ONNX per layer and op group. stories260K gives llama.cpp's
// greedy ids under all-wasm, all-ONNX and two mixed routings; a random-weight Q4_0 model agrees
// with the f32 reference under two mixed routings; a profile naming an unavailable provider (cuda
// on this machine) falls back with one log line, and the running engine's placement is the plan's
// (and what `wisp profile show --json` prints); decodeBatch under a mixed routing equals decoding
// each sequence alone; a malformed routing table is a clear error at load.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runToEnd } from '../host/engine/generate.js';
import { loadModel } from '../host/engine/load-model.js';
import { openModel, type OpenModel } from '../host/engine/open.js';
import { planPlacement, uniformTargets } from '../host/engine/placement.js';
import type { Backend, BackendFactory, PlacedBlock, Placement } from '../host/engine/backend.js';
import { ForwardPass } from '../host/engine/forward.js';
import { BACKENDS } from '../host/backends/registry.js';
import { ModelFile } from '../host/model/model-file.js';
import { argmax } from '../host/engine/sampler.js';
import { Scheduler } from '../host/engine/scheduler.js';
import { GGMLType } from '../host/model/ggml-types.js';
import { readLlama2cTokenizer } from '../host/model/llama2c-tokenizer.js';
import { synthModel } from '../host/model/synth.js';
import { probeProvidersCached, type RoutingPlan, type RoutingTable } from '../host/profiles/index.js';
import { CLI, ROOT, sharedModel, sharedTokenizer } from './helpers/paths.js';
import { agreement } from './helpers/agreement.js';

const STORIES = sharedModel('stories260K.gguf');
const golden = JSON.parse(readFileSync(join(ROOT, 'test', 'golden', 'stories260K-greedy.json'), 'utf8')) as { promptIds: number[]; ids: number[] };
const dir = mkdtempSync(join(tmpdir(), 'wisp-routed-'));
const m0Tokenizer = loadModel(STORIES).tokenizer;

const ROUTES: Record<string, RoutingTable> = {
  'all-wasm': { default: 'wasm' },
  'all-onnx': { default: 'onnx:cpu' },
  'alternating (even layers onnx)': { default: 'wasm', rules: [{ layers: 'even', backend: 'onnx:cpu' }] },
  'ffn on onnx, attention on wasm': { default: 'wasm', rules: [{ ops: ['ffn'], backend: 'onnx:cpu' }] },
};

// one thread: a --route table alone would take the detected profile's count (test/threads.test.ts),
// and wasm workers beside ORT's spinning intra-op threads make these tests slow on a small box
function open(path: string, routing: RoutingTable | RoutingPlan, extra: Parameters<typeof openModel>[1] = {}): Promise<OpenModel> {
  return openModel(path, { routing, providers: ['cpu'], contextSize: 512, threads: 1, log: () => {}, ...extra });
}

const backendsOf = (p: Placement) => new Set([...p.layers.flatMap((l) => [l.attention, l.ffn]), p.head].map((b) => (b.backend === 'onnx' ? `onnx:${b.provider}` : 'wasm')));

for (const [name, routing] of Object.entries(ROUTES)) {
  test(`stories260K ${name}: greedy ids equal llama.cpp's for ${golden.ids.length} tokens`, async () => {
    const m = await open(STORIES, routing);
    try {
      const r = await runToEnd(m.model, m.tokenizer, golden.promptIds, { maxTokens: golden.ids.length, temperature: 0, ignoreEos: true });
      console.log(`  ${name}: ${m.description}: ${r.timings.decodeTokensPerSecond.toFixed(0)} tok/s decode`);
      assert.equal(r.ids, golden.ids);
      // what runs is what was asked for
      assert.equal(m.placement(), planPlacement(m.plan!));
      if (name === 'all-wasm') {
        assert.equal([...backendsOf(m.placement())], ['wasm']);
        assert.equal(m.opTimes(), [], 'an all-wasm plan runs as the wasm engine: no clocks in the step');
      } else {
        const ops = new Set(m.opTimes().filter((t) => t.calls > 0).map((t) => `${t.backend}:${t.op}`));
        assert.ok(ops.has('onnx:ffn'), `op times ${[...ops]}`);
        if (name !== 'all-onnx') assert.ok(ops.has('wasm:attention'), `op times ${[...ops]}`);
      }
    } finally {
      await m.close();
    }
  });
}


const llama2 = readLlama2cTokenizer(sharedTokenizer('llama2/tokenizer.bin'));
const SMALL = { dim: 256, nLayers: 4, nHeads: 8, nKvHeads: 4, ffnDim: 512, contextLength: 128 };

test('random-weight q4_0 model (dim 256, 4 layers, GQA 8/4): top-1 agreement with the f32 reference ≥ 99% under two mixed routings', async () => {
  const path = join(dir, 'small-q4_0.gguf');
  synthModel(path, { shape: SMALL, vocab: llama2, type: GGMLType.Q4_0, seed: 21 });
  const ref = loadModel(path);
  const seq = ref.tokenizer.encode('Once upon a time there was a little robot who wanted to see the sea. It walked for days and days until');
  const state = ref.engine.newState(128);
  for (let pos = 0; seq.length < 100; pos++) {
    const logits = ref.engine.forward(state, seq[pos], pos);
    if (pos === seq.length - 1) seq.push(argmax(logits));
  }
  const mixed: Record<string, RoutingTable> = {
    'layers 0-1 onnx, head onnx': { default: 'wasm', rules: [{ layers: '0-1', backend: 'onnx:cpu' }, { ops: ['head'], backend: 'onnx:cpu' }] },
    'attention onnx (odd layers), ffn onnx (even layers)': { default: 'wasm', rules: [{ layers: 'odd', ops: ['attention'], backend: 'onnx:cpu' }, { layers: 'even', ops: ['ffn'], backend: 'onnx:cpu' }] },
  };
  for (const [name, routing] of Object.entries(mixed)) {
    // the wasm blocks on 16-bit activations: this compares with f32 math (the default 8-bit ones follow llama.cpp)
    const m = await open(path, routing, { contextSize: 128, activations: 'q16' });
    try {
      assert.equal([...backendsOf(m.placement())].sort(), ['onnx:cpu', 'wasm']);
      const share = await agreement(m.model, ref.engine, seq);
      console.log(`  q4_0, ${name}: top-1 agreement ${(share * 100).toFixed(0)}%`);
      assert.ok(share >= 0.99, `${name}: agreement ${(share * 100).toFixed(1)}%`);
    } finally {
      await m.close();
    }
  }
});

test('a profile naming cuda falls back to the CPU provider, says so once, and the running placement is the plan `wisp profile show --json` prints', async () => {
  const probes = await probeProvidersCached();
  const cudaHere = probes.some((p) => p.name === 'cuda' && p.available);
  const file = join(dir, 'npu-standin.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'npu-standin',
      description: 'cuda for odd layers and the head, the CPU provider when cuda is missing',
      match: {},
      threads: 1,
      simd: 'simd128',
      providers: ['cuda', 'cpu'],
      routing: { default: 'wasm', rules: [{ layers: 'odd', backend: 'onnx:cuda' }, { ops: ['head'], backend: 'onnx:cuda' }] },
      memory: { fraction: 0.5 },
      batch: { maxSequences: 2, maxBatchTokens: 256 },
    }),
  );
  const logs: string[] = [];
  // providers probed for real (the cached child-process probe), as `wisp profile show` does
  const m = await openModel(STORIES, { profile: file, contextSize: 256, log: (s) => logs.push(s) });
  try {
    const placement = m.placement();
    assert.equal(placement, planPlacement(m.plan!), 'the running engine is placed as planned');
    const expectProvider = cudaHere ? 'cuda' : 'cpu';
    assert.equal(placement.layers.map((l) => [l.attention.backend, l.attention.provider ?? null]), placement.layers.map((_, i) => (i % 2 ? ['onnx', expectProvider] : ['wasm', null])));
    assert.equal(placement.head, { backend: 'onnx', provider: expectProvider });
    if (!cudaHere) {
      const fallback = logs.filter((l) => /cuda unavailable → onnx:cpu/.test(l));
      assert.is(fallback.length, 1, `one fallback line, got:\n${logs.join('\n')}`);
      assert.match(fallback[0], /layers 1,3 attention, layers 1,3 ffn, head/);
    }
    // `wisp profile show --json` for the same profile and model plans the same placement
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'profile', 'show', '--profile', file, '--model', STORIES, '--json'], { encoding: 'utf8' });
    const shown = JSON.parse(stdout) as { plan: RoutingPlan };
    assert.equal(planPlacement(shown.plan), placement);
    // and it runs: llama.cpp's ids
    const r = await runToEnd(m.model, m.tokenizer, golden.promptIds, { maxTokens: 100, temperature: 0, ignoreEos: true });
    assert.equal(r.ids, golden.ids.slice(0, 100));
  } finally {
    await m.close();
  }
});

test('wisp run --profile: the fallback line once on stderr, llama.cpp\'s ids; a malformed --route is a one-line error', async () => {
  const file = join(dir, 'npu-standin.json'); // written by the test above
  const run = promisify(execFile);
  const r = await run(process.execPath, [CLI, 'run', '-m', STORIES, '--profile', file, '--temp', '0', '-n', '40', '--ignore-eos', '--ids', '--ctx', '128'], { encoding: 'utf8' });
  const cudaHere = (await probeProvidersCached()).some((p) => p.name === 'cuda' && p.available);
  if (!cudaHere) assert.is(r.stderr.split('\n').filter((l) => l.includes('cuda unavailable → onnx:cpu')).length, 1, r.stderr);
  assert.match(r.stderr, /engine: routed by profile npu-standin \((wasm|onnx)/);
  const ids = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as number[];
  assert.equal(ids, golden.ids.slice(0, 40));
  try {
    await run(process.execPath, [CLI, 'run', '-m', STORIES, '--route', '{"default":"gpu"}'], { encoding: 'utf8' });
    assert.unreachable('accepted a bad --route');
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    assert.ok(e.code !== 0 && e.code !== undefined, String(err));
    assert.match(e.stderr ?? '', /--route: \/routing\/default: /);
    assert.not.match(e.stderr ?? '', /\n\s+at /, 'no stack trace');
  }
});

test('decodeBatch under a mixed routing gives each sequence the logits it gets alone', async () => {
  const routing = ROUTES['alternating (even layers onnx)'];
  const batched = await open(STORIES, { ...routing, rules: [...routing.rules!, { ops: ['head'], backend: 'onnx:cpu' }] }, { contextSize: 64, maxSequences: 3 });
  const alone = await open(STORIES, { ...routing, rules: [...routing.rules!, { ops: ['head'], backend: 'onnx:cpu' }] }, { contextSize: 64 });
  try {
    const b = batched.model;
    const a = alone.model;
    const prompts = [golden.promptIds, batched.tokenizer.encode('The cat'), batched.tokenizer.encode('Lily and Ben went to the park')];
    const states = prompts.map(() => b.newState());
    const logits: Float32Array[] = [];
    for (const [i, p] of prompts.entries()) logits.push(Float32Array.from(await b.prefill!(states[i], p, 0)));
    const expected: Float32Array[][] = [];
    for (const p of prompts) {
      const s = a.newState();
      let l = Float32Array.from(await a.prefill!(s, p, 0));
      const rows = [l];
      for (let step = 0; step < 10; step++) rows.push((l = Float32Array.from(await a.forward(s, argmax(l), p.length + step))));
      a.releaseState!(s);
      expected.push(rows);
    }
    const pos = prompts.map((p) => p.length);
    let worst = 0;
    for (let step = 0; step < 10; step++) {
      const steps = [0, 1, 2].filter((i) => step % 3 !== 2 || i !== 1); // sequence 1 sits out every third step: batches change size
      const out = await b.decodeBatch!(steps.map((i) => states[i]), steps.map((i) => argmax(logits[i])), steps.map((i) => pos[i]));
      steps.forEach((i, k) => {
        const want = expected[i][pos[i] - prompts[i].length + 1];
        for (let j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(out[k][j] - want[j]) / (1 + Math.abs(want[j])));
        assert.is(argmax(out[k]), argmax(want), `sequence ${i} step ${step}`);
        logits[i] = out[k];
        pos[i]++;
      });
    }
    console.log(`  decodeBatch vs alone: worst relative logit difference ${worst.toExponential(1)}`);
    assert.ok(worst < 1e-4, `worst ${worst}`);
  } finally {
    await batched.close();
    await alone.close();
  }
});

test('the continuous-batching Scheduler runs a mixed routing: four concurrent greedy requests get the text each gets alone', async () => {
  const routing: RoutingTable = { default: 'wasm', rules: [{ layers: 'odd', ops: ['attention'], backend: 'onnx:cpu' }, { ops: ['ffn', 'head'], backend: 'onnx:cpu' }] };
  const m = await open(STORIES, routing, { contextSize: 128, maxSequences: 3 });
  try {
    const prompts = ['Once upon a time', 'The little dog', 'Lily wanted to', 'One day, Tom'];
    const opts = { maxTokens: 24, temperature: 0 };
    const alone: string[] = [];
    for (const p of prompts) alone.push((await runToEnd(m.model, m.tokenizer, m.tokenizer.encode(p), opts)).text);
    const s = new Scheduler(m.model, m.tokenizer);
    const texts = await Promise.all(
      prompts.map(
        (p, i) =>
          new Promise<string>((resolve, reject) => {
            s.submit({ id: `r${i}`, client: `c${i}`, promptIds: m.tokenizer.encode(p), options: opts, onText: () => {}, onDone: (r) => resolve(r.text), onError: reject });
          }),
      ),
    );
    assert.equal(texts, alone);
  } finally {
    await m.close();
  }
});

test('a malformed routing table is a clear error at load', async () => {
  const bad: Array<[unknown, RegExp]> = [
    [{ default: 'gpu' }, /--route: \/routing\/default: /],
    [{ default: 'wasm', rules: [{ layers: 'evn', backend: 'onnx:cpu' }] }, /\/routing\/rules\/0\/layers/],
    [{ default: 'wasm', rules: [{ layers: '0-99', backend: 'onnx:cpu' }] }, /"0-99" is past the model's 5 layers \(0-4\)/],
    [{ default: 'wasm', rules: [{ layers: '1', ops: ['head'], backend: 'onnx:cpu' }] }, /head/],
    [{ default: 'wasm', extra: 1 }, /\/routing/],
  ];
  for (const [routing, message] of bad) {
    try {
      const m = await open(STORIES, routing as RoutingTable);
      await m.close();
      assert.unreachable(`accepted ${JSON.stringify(routing)}`);
    } catch (err) {
      assert.instance(err, Error);
      assert.match((err as Error).message, message);
    }
  }
  // a plan made for another model
  const m = await open(STORIES, { default: 'wasm', rules: [{ layers: '0', backend: 'onnx:cpu' }] });
  const plan = m.plan!;
  await m.close();
  try {
    const seven = await open(STORIES, { ...plan, nLayers: 7, layers: [...plan.layers, plan.layers[0], plan.layers[0]] });
    await seven.close();
    assert.unreachable('accepted a 7-layer plan');
  } catch (err) {
    assert.match((err as Error).message, /the routing plan is for 7 layers; .* has 5/);
  }
});

test('fused runs of consecutive ONNX blocks inside a mixed routing (a session per even layer, the last with the head) give llama.cpp\'s ids', async () => {
  const m = await open(STORIES, { default: 'wasm', rules: [{ layers: 'even', backend: 'onnx:cpu' }, { ops: ['head'], backend: 'onnx:cpu' }] }, { fuse: true });
  try {
    const r = await runToEnd(m.model, m.tokenizer, golden.promptIds, { maxTokens: 100, temperature: 0, ignoreEos: true });
    assert.equal(r.ids, golden.ids.slice(0, 100));
    const ops = new Set(m.opTimes().map((t) => `${t.backend}:${t.op}`));
    assert.ok(ops.has('onnx:fused') && !ops.has('onnx:ffn') && ops.has('wasm:attention'), `op times ${[...ops]}`);
    assert.equal(m.placement(), planPlacement(m.plan!));
  } finally {
    await m.close();
  }
});

test('blocks a backend refuses at load move to their next target, with one log line', async () => {
  const refusing: BackendFactory<unknown> = {
    name: 'npu',
    maxRows: 32,
    create: async () => ({ name: 'npu', add: async (blocks: readonly PlacedBlock[]) => blocks.map((block) => ({ block, error: new Error('no NPU on this board') })), close: async () => {} }) as unknown as Backend,
  };
  const file = ModelFile.open(STORIES);
  const blocks = uniformTargets(file.config.nLayers, [{ backend: 'wasm' }]).map((b) => (b.layer !== null && b.layer % 2 === 1 ? { ...b, targets: [{ backend: 'npu' }, { backend: 'wasm' }] } : b));
  const logs: string[] = [];
  const m = await ForwardPass.open(file, blocks, { ...BACKENDS, npu: async () => refusing }, { contextSize: 512, log: (s) => logs.push(s), backends: { wasm: { threads: 1 } } });
  try {
    assert.equal([...backendsOf(m.placement())], ['wasm']);
    assert.equal(logs, ['routing: npu could not open 4 blocks (layer 1 attention, layer 1 FFN, layer 3 attention, layer 3 FFN) → wasm: no NPU on this board']);
    const r = await runToEnd(m, m0Tokenizer, golden.promptIds, { maxTokens: 40, temperature: 0, ignoreEos: true });
    assert.equal(r.ids, golden.ids.slice(0, 40));
  } finally {
    await m.close();
  }
});

test('the backend registry is data: an engine without the onnx entry runs wasm and names what it lacks', async () => {
  const file = ModelFile.open(STORIES);
  const wasmOnly = { wasm: BACKENDS.wasm };
  const m = await ForwardPass.open(file, uniformTargets(file.config.nLayers, [{ backend: 'wasm' }]), wasmOnly, { contextSize: 64 });
  try {
    assert.equal((await runToEnd(m, m0Tokenizer, golden.promptIds, { maxTokens: 10, temperature: 0, ignoreEos: true })).ids, golden.ids.slice(0, 10));
  } finally {
    await m.close();
  }
  await ForwardPass.open(file, uniformTargets(file.config.nLayers, [{ backend: 'onnx', variant: { name: 'cpu' } }]), wasmOnly).then(
    () => assert.unreachable('opened a backend the registry does not have'),
    (e: Error) => assert.is(e.message, "no backend 'onnx'; this build has wasm"),
  );
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
