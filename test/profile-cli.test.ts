// `wisp profile detect | show | validate` as a user runs them: child processes of the built CLI.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI, MODELS_DIR, ROOT } from './helpers/paths.js';

function wisp(args: string[]) {
  const res = spawnSync(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, WISP_MODEL_PATH: MODELS_DIR ?? '', WISP_CACHE_DIR: join(tmpdir(), 'wisp-cli-test-cache') },
    timeout: 120_000,
  });
  return { code: res.status, out: res.stdout, err: res.stderr };
}

const shipped = (name: string) => JSON.parse(readFileSync(join(ROOT, 'device-profiles', `${name}.json`), 'utf8'));

test('profile detect prints the device, its providers and the chosen profile with why', () => {
  const r = wisp(['profile', 'detect']);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^device: \S+ \S+, .*\d+ cores/m);
  assert.match(r.out, /^ {4}cpu +available +ran the probe node/m);
  assert.match(r.out, /^profile: \S+ \(device-profiles\/\S+\.json\)$/m);
  assert.match(r.out, /^ {2}why: +\S+: score \d+/m);
  assert.match(r.out, /^candidates \(best first\):$/m);
});

test('profile detect --json has the facts, the choice and every candidate', () => {
  const r = wisp(['profile', 'detect', '--json']);
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.ok(j.device.providers.some((p: { name: string; available: boolean }) => p.name === 'cpu' && p.available));
  assert.type(j.profile, 'string');
  assert.is(j.candidates.length, 8);
  assert.is(j.candidates[0].name, j.profile);
  assert.type(j.settings.threads, 'number');
});

test('profile show --profile jetson-orin on a cpu-only device: every entry falls back to onnx:cpu, reasons printed', () => {
  const r = wisp(['profile', 'show', '--profile', 'jetson-orin', '--layers', '3', '--providers', 'cpu']);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^model: 3 layers$/m);
  const rows = r.out.split('\n').filter((l) => /^(layer \d+ (attention|ffn)|head) /.test(l));
  assert.is(rows.length, 7);
  assert.match(rows[0], /^layer 0 attention +onnx:cpu +default → onnx:tensorrt; tensorrt, cuda unavailable → onnx:cpu$/);
  assert.match(rows[6], /^head +onnx:cpu +rules\[0\] \(head\) → onnx:cuda; cuda unavailable → onnx:cpu$/);
});

test('profile show reads the layer count from the model GGUF (stories260K: 5 layers)', () => {
  const r = wisp(['profile', 'show', '--model', 'stories260K', '--profile', 'qualcomm-npu', '--providers', 'cpu', '--json']);
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.is(j.nLayers, 5);
  assert.match(j.model, /stories260K\.gguf$/);
  assert.is(j.plan.layers.length, 5);
  assert.equal(j.plan.layers[4].attention, { layer: 4, op: 'attention', backend: 'wasm', fallbacks: [], rule: null, reason: 'default → wasm' });
  assert.is(j.plan.head.provider, 'cpu');
});

test('profile show without --profile plans with the detected profile', () => {
  const r = wisp(['profile', 'show', '--layers', '2']);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^profile: \S+ \(device-profiles\/\S+\.json\), detected: /m);
  assert.match(r.out, /^head +\S+ +/m);
});

test('profile validate: every shipped profile is ok', () => {
  const r = wisp(['profile', 'validate']);
  assert.is(r.code, 0, r.err);
  assert.is(r.out.trim().split('\n').filter((l) => l.startsWith('ok ')).length, 8);
});

test('profile validate FILE: a bad profile exits 1 naming the file and each field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wisp-profile-cli-'));
  try {
    const bad = shipped('raspberry-pi-4');
    bad.threads = 'lots';
    bad.routing.rules = [{ layers: '0-9', backend: 'onnx:npu' }];
    const file = join(dir, 'x.json');
    writeFileSync(file, JSON.stringify(bad));
    const r = wisp(['profile', 'validate', file]);
    assert.is(r.code, 1);
    assert.match(r.out, new RegExp(`invalid +${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: /threads: must be an integer from 1 to 256 or "auto", got "lots"`));
    assert.match(r.out, /x\.json: \/routing\/rules\/0\/backend: "onnx:npu" is not one of: wasm, onnx, onnx:cpu/);
    assert.match(r.err, /1 of 1 profile is invalid/);

    // layer bounds need a model: with --layers the same range is checked against it
    const ranged = shipped('raspberry-pi-4');
    ranged.routing.rules = [{ layers: '0-99', ops: ['ffn'], backend: 'onnx:cpu' }];
    writeFileSync(file, JSON.stringify(ranged));
    assert.is(wisp(['profile', 'validate', file]).code, 0);
    const b = wisp(['profile', 'validate', file, '--layers', '12', '--json']);
    assert.is(b.code, 1);
    assert.match(JSON.parse(b.out)[0].problems[0], /x\.json: \/routing\/rules\/0\/layers: "0-99" is past the model's 12 layers \(0-11\)$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('profile usage errors exit 2: no subcommand, unknown subcommand, unknown profile, unknown provider', () => {
  assert.match(wisp(['profile']).err, /which one: detect, show or validate\?/);
  for (const args of [['profile'], ['profile', 'frob'], ['profile', 'show', '--profile', 'nope', '--layers', '2'], ['profile', 'detect', '--providers', 'npu'], ['profile', 'detect', '--layers', '3'], ['profile', 'show', '--layers', '0']]) {
    const r = wisp(args);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.not.match(r.err, /\n\s+at /);
  }
  assert.match(wisp(['profile', 'show', '--profile', 'nope', '--layers', '2']).err, /no profile named 'nope' \(profiles: apple-silicon, /);
});

test.run();
