// The bench commands' surface: model names found on the model search path, the same options taken
// the same way by every subcommand and bad input refused in one line; and the pure parts of the
// device bench (cache size, kernel flavours from the manifest, routing candidates, the tuning rules,
// the plots) on made-up inputs.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DeviceBench } from '../host/bench/device.js';
import { kernelModules, lastLevelCache, parseCacheSize } from '../host/bench/environment.js';
import { groupedBars, niceTicks, renderChart } from '../host/bench/plot.js';
import { DEFAULT_BENCH_MODELS, SYNTH_BENCH_MODELS, unwritableBenchModel } from '../host/bench/model-spec.js';
import { routingCandidates } from '../host/bench/routing.js';
import { SYNTH_SHAPES } from '../host/model/synth.js';
import { tuneProfile } from '../host/bench/tune.js';
import { loadManifest } from '../host/kernels/load.js';
import { namedProfile, parseProfile } from '../host/profiles/index.js';
import { CLI, MODELS_DIR } from './helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'wisp-bench-cli-'));
const baseEnv = { ...process.env, WISP_MODEL_PATH: MODELS_DIR ?? '', WISP_LLAMACPP: '', NODE_PATH: '' };

function wisp(args: string[], env: NodeJS.ProcessEnv = baseEnv) {
  const res = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 180_000, env, cwd: dir });
  return { code: res.status, out: res.stdout, err: res.stderr };
}

const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
/** The environment without WISP_TOKENIZER_DIR: no vocabulary for the benchmark models. */
const noTokenizers = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(baseEnv).filter(([k]) => k !== 'WISP_TOKENIZER_DIR'));

test('bench routing and bench models find --model stories260K on the model search path', () => {
  for (const what of ['routing', 'models']) {
    const out = join(dir, what);
    const r = wisp(['bench', what, '--model', 'stories260K', '--quick', '--threads', '1', ...(what === 'routing' ? ['--routes', 'all-wasm'] : []), '--out', out]);
    assert.is(r.code, 0, r.err);
    const data = json(join(out, `${what}.json`)) as { models: Array<{ file: string; sha256: string }>; environment: { node: string }; profile: string | null };
    assert.is(data.models[0].file, 'stories260K.gguf');
    assert.type(data.profile, 'string');
    assert.match(data.models[0].sha256, /^[0-9a-f]{64}$/);
    assert.is(data.environment.node, process.versions.node);
  }
});

test('every benchmark model name is a synth shape and a type or mix, the defaults among them; a type wisp cannot write is named', () => {
  for (const name of SYNTH_BENCH_MODELS) assert.ok(SYNTH_SHAPES[name.slice(0, name.lastIndexOf('-'))], name);
  for (const name of DEFAULT_BENCH_MODELS) assert.ok(SYNTH_BENCH_MODELS.includes(name), name);
  assert.ok(DEFAULT_BENCH_MODELS.includes('llama-3.2-1b-q4_k_m') && DEFAULT_BENCH_MODELS.includes('qwen3-0.6b-q8_0'));
  assert.is(unwritableBenchModel('qwen3-0.6b-q8_0'), undefined);
  assert.match(unwritableBenchModel('llama-3.2-1b-q9_k_m') ?? '', /'q9_k_m'.*q8_0/);
});

test('bench routing runs on the served default model without --tokenizer', () => {
  const out = join(dir, 'routing-default');
  const r = wisp(['bench', 'routing', '--quick', '--threads', '1', '--routes', 'all-wasm', '--out', out], noTokenizers());
  assert.is(r.code, 0, r.err);
  assert.equal((json(join(out, 'routing.json')) as { models: Array<{ file: string }> }).models.map((m) => m.file), ['stories260K.gguf']);
});

test('every bench subcommand refuses an unknown option, an option it does not take and bad thread counts in one line (exit 2)', () => {
  const subcommands: string[][] = [[], ['kernels'], ['models'], ['routing'], ['serve'], ['compare', 'x.json']];
  for (const sub of subcommands) {
    const name = sub[0] ?? 'wisp bench';
    const bad: Array<[string[], RegExp]> = [
      [['--nosuch'], /unknown option --nosuch/],
      [[sub[0] === 'serve' ? '--routes' : '--streams', '4'], /does not take --(streams|routes)/],
      ...(sub[0] === 'compare' ? [] : ([[['--threads', '0'], /--threads must be a comma-separated list of whole numbers ≥ 1, got '0'/], [['--threads', '1,x'], /--threads must be/]] as Array<[string[], RegExp]>)),
    ];
    for (const [args, message] of bad) {
      const r = wisp(['bench', ...sub, ...args]);
      assert.is(r.code, 2, `${name} ${args.join(' ')}: ${r.err}`);
      assert.match(r.err, message, `${name} ${args.join(' ')}`);
      assert.is(r.err.trim().split('\n').length, 1, `${name} ${args.join(' ')}: one line, got ${r.err}`);
      assert.is(r.out, '', `${name}: nothing ran`);
    }
  }
  const u = wisp(['bench', 'nosuch']);
  assert.is(u.code, 2);
  assert.match(u.err, /unknown subcommand 'nosuch'/);
});

test('a model found nowhere, or not a GGUF, is one line (naming where each bench subcommand looked) before anything runs', () => {
  for (const sub of [[], ['models'], ['routing'], ['serve']]) {
    const r = wisp(['bench', ...sub, '--model', 'nosuch', '--quick', '--threads', '1']);
    assert.is(r.code, 1, r.err);
    assert.is(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, /model "nosuch" not found \(looked in .*models/);
  }
  const p = wisp(['bench', 'routing', '--model', './missing.gguf']);
  assert.is(p.code, 1);
  assert.match(p.err, /model "\.\/missing\.gguf" not found \(looked at .*missing\.gguf\)/);
  writeFileSync(join(dir, 'notes.gguf'), 'not a model\n');
  for (const sub of [[], ['serve']]) {
    const g = wisp(['bench', ...sub, '--model', './notes.gguf']);
    assert.is(g.code, 1);
    assert.is(g.err.trim().split('\n').length, 1, g.err);
    assert.match(g.err, /not a GGUF file/);
    assert.is(g.out, '', 'refused before anything ran');
  }
});

test('a benchmark model not in the cache asks for --tokenizer in one line', () => {
  const r = wisp(['bench', 'routing', '--model', '110m-q4_0'], { ...noTokenizers(), WISP_CACHE_DIR: join(dir, 'empty-cache') });
  assert.is(r.code, 1);
  assert.is(r.err.trim().split('\n').length, 1, r.err);
  assert.match(r.err, /110m-q4_0 .* pass --tokenizer PATH/);
});

test('wisp bench --help lists the options every subcommand shares', () => {
  const r = wisp(['bench', '--help']);
  assert.is(r.code, 0);
  for (const o of ['--model NAME|PATH', '--tokenizer PATH', '--threads LIST', '--out DIR', '--quick', '--tune', '--compare llama.cpp', 'wisp bench compare']) assert.ok(r.out.includes(o), o);
});

test('the last-level cache is the largest data or unified level in sysfs; sizes parse from sysfs and lscpu', () => {
  assert.is(parseCacheSize('32768K'), 32 * 2 ** 20);
  assert.is(parseCacheSize('32 MiB (1 instance)'), 32 * 2 ** 20);
  assert.is(parseCacheSize('1.5 MiB'), 1.5 * 2 ** 20);
  assert.is(parseCacheSize('none'), undefined);
  const sys = join(dir, 'cache');
  const level = (i: number, lvl: number, type: string, size: string) => {
    mkdirSync(join(sys, `index${i}`), { recursive: true });
    for (const [f, v] of Object.entries({ level: String(lvl), type, size })) writeFileSync(join(sys, `index${i}`, f), `${v}\n`);
  };
  level(0, 1, 'Data', '48K');
  level(1, 1, 'Instruction', '32K');
  level(2, 2, 'Unified', '2048K');
  level(3, 3, 'Unified', '36864K');
  assert.equal(lastLevelCache(sys), { bytes: 36 * 2 ** 20, source: 'sysfs' });
});

test('kernel flavours come from kernels/manifest.json: a flavour added there appears with its hashes', () => {
  const m = loadManifest();
  const now = kernelModules(m);
  assert.is(now.baseline, 'simd128');
  assert.equal(Object.keys(now.flavours.simd128).sort(), Object.keys(m.families).sort());
  // the build's relaxed matmul (kernels/manifest.json is per module: a family's baseline and its flavours)
  assert.equal(now.flavours.relaxed, { matmul: m.families.matmul.flavours.relaxed.sha256 });
  const withRelaxed = structuredClone(m);
  withRelaxed.families.ops.flavours.relaxed = { ...withRelaxed.families.ops.flavours.simd128, flavour: 'relaxed', sha256: 'cd'.repeat(32) };
  const k = kernelModules(withRelaxed);
  assert.equal(Object.keys(k.flavours), ['simd128', 'relaxed']);
  assert.equal(k.flavours.relaxed, { matmul: m.families.matmul.flavours.relaxed.sha256, ops: 'cd'.repeat(32) });
  assert.is(k.flavours.simd128.matmul, m.families.matmul.flavours.simd128.sha256);
  // the per-module layout: a family's baseline and a map of its flavours' modules
  const perModule = {
    abi: 4,
    baseline: 'simd128',
    families: {
      matmul: { baseline: 'simd128', flavours: { simd128: { family: 'matmul', flavour: 'simd128', sha256: '01'.repeat(32) }, relaxed: { family: 'matmul', flavour: 'relaxed', sha256: '02'.repeat(32) } } },
      ops: { baseline: 'simd128', flavours: { simd128: { family: 'ops', flavour: 'simd128', sha256: '03'.repeat(32) } } },
    },
  };
  const p = kernelModules(perModule as never);
  assert.equal(p.flavours, { simd128: { matmul: '01'.repeat(32), ops: '03'.repeat(32) }, relaxed: { matmul: '02'.repeat(32) } });
  assert.is(p.baseline, 'simd128');
  assert.is(p.abi, 4);
});

test('routing candidates: all-wasm, then all, FFN-only and alternating ONNX for each provider of the profile that initialises, then the profile\'s own table', () => {
  const routes = routingCandidates({ name: 'jetson', providers: ['cuda', 'cpu'], routing: { default: 'wasm', rules: [{ layers: '0-3', backend: 'onnx:cuda' }] } }, ['cpu']);
  assert.equal(routes.map((r) => r.name), ['all-wasm', 'all-onnx:cpu', 'ffn-onnx:cpu', 'alternating-onnx:cpu', 'profile jetson']);
  assert.equal(routes[2].routing, { default: 'wasm', rules: [{ ops: ['ffn'], backend: 'onnx:cpu' }] });
  const plain = routingCandidates({ name: 'generic', providers: ['cpu'], routing: { default: 'wasm' } }, ['cpu']);
  assert.equal(plain.map((r) => r.name), ['all-wasm', 'all-onnx:cpu', 'ffn-onnx:cpu', 'alternating-onnx:cpu']);
});

/** A device bench with made-up figures: the tuning rules on known numbers. */
function madeUpBench(): DeviceBench {
  const route = (route: string, routing: object, threads: number, prefill: number, decode: number) => ({ route, routing, threads, prefillTokensPerSecond: prefill, decodeTokensPerSecond: decode });
  const kernel = (flavour: string, type: string, threads: number, gb: number) => ({ flavour, type, rows: 256, cols: 1024, threads, weightBytes: 1, matrices: 1, microseconds: 1, gbPerSecond: gb, ofReadBandwidth: gb / 20 });
  const batch = (threads: number, tps: number[]) => ({ threads, engine: 'wasm', requests: 2, maxTokens: 4, errors: 0, ttftClientMs: { p50: 1, p95: 2, mean: 1 }, ttftDeviceMs: { p50: 1, p95: 1, mean: 1 }, latencyMs: { p50: 2, p95: 3, mean: 2 }, engineBatch: tps.map((t, i) => ({ sequences: 2 ** i, msPerStep: 1, tokensPerSecond: t })) });
  return {
    kind: 'wisp-device-bench',
    format: 1,
    date: '2026-12-01T00:00:00.000Z',
    quick: true,
    environment: { device: 'Pi-5 box', arch: 'arm64', platform: 'linux', cpuModel: 'Cortex-A76', cores: 4, totalMemoryBytes: 8e9, lastLevelCache: { bytes: 2 ** 21, source: 'sysfs' }, node: '24.0.0', v8: '13.6', wisp: '0.1.0', kernels: { flavours: { simd128: { matmul: 'a'.repeat(64) }, relaxed: { matmul: 'b'.repeat(64) } }, baseline: 'simd128', abi: 2 } },
    profile: { name: 'generic-x86_64', explanation: '', providersAvailable: ['cpu'], wasmSimd: { simd128: true, relaxedSimd: true } },
    model: { file: 'm.gguf', path: '/m.gguf', sha256: 'c'.repeat(64), bytes: 1 },
    settings: { threads: [1, 2, 4], promptTokens: 16, genTokens: 8, kernelShapes: [[256, 1024]], kernelTypes: ['q4_0'], kernelMinSeconds: 0.01, ttftRequests: 2, ttftMaxTokens: 4, batchSequences: [1, 2, 4, 8], batchMs: 10, compareLlamaCpp: false },
    memory: [{ threads: 1, gbPerSecond: 20 }],
    workingSetBytes: 2 ** 26,
    kernelFlavours: ['simd128', 'relaxed'],
    flavoursSkipped: [],
    kernels: [kernel('simd128', 'q4_0', 2, 8), kernel('simd128', 'q8_0', 2, 10), kernel('relaxed', 'q4_0', 2, 12), kernel('relaxed', 'q8_0', 2, 14), kernel('relaxed', 'q4_0', 4, 1)],
    routing: [
      route('all-wasm', { default: 'wasm' }, 1, 500, 50),
      route('all-wasm', { default: 'wasm' }, 2, 900, 79),
      route('all-wasm', { default: 'wasm' }, 4, 1000, 80), // the best decode, but 2 threads are within 3%
      route('ffn-onnx:cpu', { default: 'wasm', rules: [{ ops: ['ffn'], backend: 'onnx:cpu' }] }, 2, 2000, 60),
      { route: 'all-onnx:cpu', routing: { default: 'onnx:cpu' }, threads: 2, error: 'no session' },
    ],
    mqtt: [batch(2, [100, 180, 300, 310])],
  } as DeviceBench;
}

test('tuning: the best decode (fewer threads within 3%), the fastest flavour there, the fewest sequences within 15% of the most, 0.25 s of prefill per step', () => {
  const base = namedProfile('generic-x86_64');
  const p = tuneProfile(madeUpBench(), base);
  assert.is(p.threads, 2);
  assert.equal(p.routing, { default: 'wasm' });
  assert.is(p.tuned.choices.routing.value, 'all-wasm');
  assert.match(p.tuned.choices.threads.why, /within 3% of the best \(80.0, all-wasm at 4 threads\)/);
  assert.is(p.simd, 'relaxed-simd');
  assert.is(p.tuned.choices.flavour.value, 'relaxed');
  assert.is(p.batch.maxSequences, 4); // 300 is within 15% of 310; 180 is not
  assert.is(p.batch.maxBatchTokens, 225); // 900 tok/s × 0.25 s
  assert.is(p.name, 'tuned-pi-5-box');
  assert.is(p.tuned.from, 'generic-x86_64');
  assert.equal(p.match, base.match);
  parseProfile(p, 'tuned'); // valid against the schema
  assert.not.ok(p.tuned.measurements.routing.some((r) => r.route === 'all-onnx:cpu'), 'failed candidates are not measurements');
});

test('tuning refuses a bench where no routing ran, in one line', () => {
  const b = madeUpBench();
  b.routing = b.routing.map((r) => ({ route: r.route, routing: r.routing, threads: r.threads, error: 'x' }));
  assert.throws(() => tuneProfile(b, namedProfile('generic-x86_64')), /no routing ran on this device/);
});

test('plots: round ticks, a group per series with its marks, a legend entry each, names escaped', () => {
  assert.equal(niceTicks(37.8), [0, 10, 20, 30, 40]);
  assert.equal(niceTicks(0), [0, 1]);
  const svg = renderChart({
    ...groupedBars({ title: 'k <GB/s>', xLabel: 'kernel', yLabel: 'GB/s', bars: [{ category: 'q4_0', series: '1 thread', value: 3 }, { category: 'q4_0', series: '2 threads', value: 5 }, { category: 'q8_0', series: '1 thread', value: 4 }] }),
    seriesBy: 'threads',
  });
  assert.is((svg.match(/<g class="series"/g) ?? []).length, 2);
  assert.is((svg.match(/<rect class="bar"/g) ?? []).length, 3);
  assert.is((svg.match(/<g class="legend-item"/g) ?? []).length, 2);
  assert.ok(svg.includes('data-series-by="threads"'));
  assert.ok(svg.includes('k &lt;GB/s&gt;') && !svg.includes('<GB/s>'));
  const lines = renderChart({ kind: 'lines', title: 't', x: { label: 'threads' }, y: { label: 'tok/s' }, series: [{ name: 'all-wasm', points: [[1, 10], [2, 18]] }] });
  assert.match(lines, /<polyline class="line" points="[\d.]+,[\d.]+ [\d.]+,[\d.]+"/);
  assert.match(lines, /class="axis-label"[^>]*>threads</);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
