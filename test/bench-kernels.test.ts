// `wisp bench kernels` end to end on a tiny configuration: the JSON it writes has one row per shape,
// kernel variant, flavour and thread count, and the read-bandwidth baselines. No timing is judged, only that
// every figure is there and positive.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { BenchEnvironment } from '../host/bench/environment.js';
import type { KernelBench } from '../host/bench/kernels.js';
import { flavoursOf, KERNEL_FAMILIES, kernelModule, kernelsDir, loadManifest } from '../host/kernels/load.js';
import { GGMLType, rowBytes } from '../host/model/ggml-types.js';
import { CLI } from './helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'wisp-bench-kernels-'));

function wisp(args: string[]) {
  const res = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: res.status, out: res.stdout, err: res.stderr };
}

test('bench kernels --shapes --types --threads writes one row per shape × variant × flavour × thread count, beside the read bandwidth at each thread count', () => {
  const out = join(dir, 'out');
  const r = wisp(['bench', 'kernels', '--shapes', '64x256,4x512', '--types', 'q4_0,q4_k', '--threads', '1,2', '--seconds', '0.01', '--out', out]);
  assert.is(r.code, 0, r.err);
  const data = JSON.parse(readFileSync(join(out, 'kernels.json'), 'utf8')) as KernelBench & { date: string; environment: BenchEnvironment };
  assert.ok(!Number.isNaN(Date.parse(data.date)), data.date);
  assert.equal(data.readBandwidth.map((m) => m.threads), [1, 2]);
  for (const m of data.readBandwidth) assert.ok(Number.isFinite(m.gbPerSecond) && m.gbPerSecond > 0, `read bandwidth ${m.gbPerSecond}`);
  assert.is(data.readBandwidthGBps, data.readBandwidth[0].gbPerSecond);
  assert.equal(data.shapes, [[64, 256], [4, 512]]);
  assert.equal(data.types, ['q4_0', 'q4_K']);
  assert.is(data.minSeconds, 0.01);
  // what ran, so figures from different machines can be told apart
  assert.is(data.environment.node, process.versions.node);
  assert.ok(data.environment.cpuModel.length > 0);
  assert.equal(data.flavours, Object.keys(data.environment.kernels.flavours).filter((f) => !data.flavoursSkipped.some((s) => s.flavour === f)));
  // skipped: exactly the flavours with a module this runtime cannot validate (relaxed on Node 20), with the flavour loading's reason
  const manifest = loadManifest();
  const cannot = Object.keys(data.environment.kernels.flavours).filter((f) => KERNEL_FAMILIES.some((fam) => flavoursOf(fam, manifest).includes(f)
    && !WebAssembly.validate(readFileSync(join(kernelsDir(), kernelModule(fam, f, manifest).file)))));
  assert.equal(data.flavoursSkipped.map((s) => s.flavour), cannot);
  for (const s of data.flavoursSkipped) assert.match(s.reason, new RegExp(`^this runtime \\(Node ${process.versions.node}, V8 .*\\) cannot validate kernel flavour '${s.flavour}' of family '\\w+': it needs `));

  // the variants the engine runs each type on: q4_0r8 needs rows in groups of 8, q4_Kr4 in groups of 4
  const base: Record<string, GGMLType> = { q4_0: GGMLType.Q4_0, q4_0r8: GGMLType.Q4_0, q4_K: GGMLType.Q4_K, q4_Kr4: GGMLType.Q4_K };
  const want = [
    ...['q4_0', 'q4_0r8', 'q4_K', 'q4_Kr4'].map((t) => `${t} 64x256`),
    ...['q4_0', 'q4_K', 'q4_Kr4'].map((t) => `${t} 4x512`),
  ].flatMap((k) => data.flavours.flatMap((f) => [`${k} ${f} 1t`, `${k} ${f} 2t`]));
  const got = data.results.map((x) => `${x.type} ${x.rows}x${x.cols} ${x.flavour} ${x.threads}t`);
  assert.equal([...got].sort(), [...want].sort());

  for (const x of data.results) {
    const what = `${x.type} ${x.rows}x${x.cols} ${x.threads}t`;
    assert.equal(Object.keys(x).sort(), ['cols', 'flavour', 'gbPerSecond', 'matrices', 'microseconds', 'ofReadBandwidth', 'rows', 'threads', 'type', 'weightBytes'], what);
    assert.is(x.weightBytes, rowBytes(base[x.type], x.cols) * x.rows, what);
    for (const k of ['microseconds', 'gbPerSecond', 'ofReadBandwidth'] as const) assert.ok(Number.isFinite(x[k]) && x[k] > 0, `${what}: ${k} ${x[k]}`);
    assert.ok(Math.abs(x.gbPerSecond - x.weightBytes / x.microseconds / 1e3) <= 1e-9 * x.gbPerSecond, `${what}: GB/s is bytes over time`);
    const roof = data.readBandwidth.find((m) => m.threads === x.threads)!.gbPerSecond;
    assert.ok(Math.abs(x.ofReadBandwidth - x.gbPerSecond / roof) <= 1e-9 * x.ofReadBandwidth, `${what}: ratio to the read bandwidth at the same thread count`);
    // the small matrices are rotated over enough copies to stream more than the last-level cache
    assert.ok(x.matrices * x.weightBytes >= data.workingSetBytes && data.workingSetBytes > data.lastLevelCache.bytes, `${what}: ${x.matrices} matrices`);
  }
  // the table printed: one line per row and the baselines
  assert.is(r.out.split('\n').filter((l) => /^\S+\s+\S+\s+\d+×\d+\s+[12]\s/.test(l)).length, want.length);
  assert.match(r.out, /memory read \(native memcmp, 1 thread\): [\d.]+ GB\/s/);
  assert.match(r.out, /memory read \(native memcmp, 2 threads\): [\d.]+ GB\/s/);
  for (const f of ['kernels.svg', 'kernels.html']) assert.ok(existsSync(join(out, f)), f);
});

test('bench kernels refuses a shape a type cannot tile, a malformed shape, an unknown type or flavour, in one line before measuring anything', () => {
  const out = join(dir, 'bad');
  const cases: Array<[string[], string]> = [
    [['--shapes', '64x128', '--types', 'q4_k'], 'shape 64x128 does not fit q4_K: cols must be a positive multiple of 256'],
    [['--shapes', '64'], "--shapes: '64' is not ROWSxCOLS"],
    [['--types', 'bf16'], 'no matvec kernel for bf16'],
    [['--flavours', 'avx9'], "no kernel flavour 'avx9' in kernels/manifest.json"],
  ];
  for (const [args, message] of cases) {
    const k = wisp(['bench', 'kernels', ...args, '--out', out]);
    assert.is(k.code, 2, args.join(' '));
    assert.match(k.err, message);
    assert.is(k.err.trim().split('\n').length, 1, k.err);
    assert.not.match(k.out, /measuring/);
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
