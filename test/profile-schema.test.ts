// Device profiles: the shipped device-profiles/*.json against their JSON Schema, and the errors a
// malformed profile gives (each names the file and the field).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Ajv } from 'ajv';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { loadProfile, loadProfiles, parseProfile, planRouting, profileFiles, profileSchemaPath, ProfileError, PROVIDERS } from '../host/profiles/index.js';

const SHIPPED = ['apple-silicon', 'generic-arm64', 'generic-x86_64', 'jetson-orin', 'qualcomm-npu', 'raspberry-pi-4', 'raspberry-pi-5', 'windows-dml'];
const base = () => JSON.parse(readFileSync(profileFiles().find((f) => f.endsWith('qualcomm-npu.json'))!, 'utf8'));

/** The error parseProfile gives after `edit` changes a copy of a good profile. */
function rejected(edit: (p: any) => void): ProfileError {
  const p = base();
  edit(p);
  try {
    parseProfile(p, 'device-profiles/x.json');
  } catch (err) {
    assert.instance(err, ProfileError);
    return err as ProfileError;
  }
  throw new Error('expected the profile to be rejected');
}

function assertProblem(err: ProfileError, pointer: string, pattern: RegExp) {
  const line = err.message.split('\n').find((l) => l.startsWith(`device-profiles/x.json: ${pointer}: `));
  assert.ok(line, `no problem at ${pointer} in:\n${err.message}`);
  assert.match(line!, pattern);
}

test('every shipped profile validates against profile.schema.json (ajv, raw) and loads', () => {
  const validate = new Ajv({ allErrors: true, allowUnionTypes: true }).addVocabulary(['expected']).compile(JSON.parse(readFileSync(profileSchemaPath(), 'utf8')));
  for (const file of profileFiles()) assert.ok(validate(JSON.parse(readFileSync(file, 'utf8'))), `${file}: ${JSON.stringify(validate.errors)}`);
  assert.equal(loadProfiles().map((p) => p.name), SHIPPED);
});

test('each shipped profile is named after its file and plans for 1, 5 and 32 layers', () => {
  for (const p of loadProfiles()) {
    assert.is(basename(p.source), `${p.name}.json`);
    for (const nLayers of [1, 5, 32]) planRouting(p, { nLayers }, [...PROVIDERS]);
  }
});

test('a wrong type names the file and the field', () => {
  assertProblem(rejected((p) => (p.threads = 2.5)), '/threads', /must be an integer from 1 to 256 or "auto", got 2.5/);
  assertProblem(rejected((p) => (p.threads = 'many')), '/threads', /got "many"/);
  assertProblem(rejected((p) => (p.batch.maxSequences = '4')), '/batch/maxSequences', /must be integer, got "4"/);
  assertProblem(rejected((p) => (p.providerOptions.qnn.backendType = ['htp'])), '/providerOptions/qnn/backendType', /must be string,number,boolean/);
});

test('unknown fields are refused, with the known ones listed', () => {
  assertProblem(rejected((p) => (p.thread = 4)), '/', /unknown field "thread" \(known: name, description, .*threads/);
  assertProblem(rejected((p) => (p.routing.rules[0].layer = '0-3')), '/routing/rules/0', /unknown field "layer" \(known: layers, ops, backend\)/);
  assertProblem(rejected((p) => (p.match.model = 'Pi')), '/match', /unknown field "model"/);
});

test('missing fields, empty memory and duplicate providers are refused', () => {
  assertProblem(rejected((p) => delete p.batch), '/', /missing required field "batch"/);
  assertProblem(rejected((p) => (p.memory = {})), '/memory', /at least one of: budgetMiB, fraction/);
  assertProblem(rejected((p) => (p.providers = ['qnn', 'qnn'])), '/providers', /duplicate/);
});

test('unknown backends, providers and op groups are refused with the allowed values', () => {
  assertProblem(rejected((p) => (p.routing.rules[0].backend = 'onnx:npu')), '/routing/rules/0/backend', /"onnx:npu" is not one of: wasm, onnx, onnx:cpu, onnx:cuda/);
  assertProblem(rejected((p) => (p.routing.default = 'gpu')), '/routing/default', /"gpu" is not one of/);
  assertProblem(rejected((p) => (p.providers = ['qnn', 'npu'])), '/providers/1', /"npu" is not one of: cpu, cuda/);
  assertProblem(rejected((p) => (p.providerOptions.bogus = {})), '/providerOptions/bogus', /"bogus" is not one of: cpu/);
  assertProblem(rejected((p) => (p.routing.rules[0].ops = ['mlp'])), '/routing/rules/0/ops/0', /"mlp" is not one of: attention, ffn, head/);
});

test('a backend or provider options naming a provider the profile does not list is refused', () => {
  assertProblem(rejected((p) => p.routing.rules.push({ layers: '0-3', backend: 'onnx:cuda' })), '/routing/rules/1/backend', /"onnx:cuda" names provider "cuda", which is not in \/providers \(qnn, cpu\)/);
  assertProblem(rejected((p) => (p.providerOptions.cuda = { deviceId: 0 })), '/providerOptions/cuda', /not in \/providers/);
  assertProblem(rejected((p) => { p.providers = []; delete p.providerOptions; p.routing = { default: 'onnx' }; }), '/routing/default', /"onnx" needs at least one provider/);
});

test('bad layer specs are refused at load: syntax, backwards ranges, head with layers', () => {
  assertProblem(rejected((p) => p.routing.rules.push({ layers: '0..7', backend: 'wasm' })), '/routing/rules/1/layers', /"0\.\.7" is not a layer spec such as "0-7", "8-", "even"/);
  assertProblem(rejected((p) => p.routing.rules.push({ layers: 'evens', backend: 'wasm' })), '/routing/rules/1/layers', /not a layer spec/);
  assertProblem(rejected((p) => p.routing.rules.push({ layers: '7-3', backend: 'wasm' })), '/routing/rules/1/layers', /the range 7-3 runs backwards/);
  assertProblem(rejected((p) => p.routing.rules.push({ layers: '0-3', ops: ['head'], backend: 'wasm' })), '/routing/rules/1/ops', /"head" is not a layer op/);
});

test('a device-model pattern that is not a regular expression is refused', () => {
  assertProblem(rejected((p) => (p.match.deviceModel = '((')), '/match/deviceModel', /not a regular expression/);
});

test('every problem of a profile is reported at once, one line each', () => {
  const err = rejected((p) => {
    p.threads = 0;
    p.simd = 'avx';
    p.extra = true;
  });
  assert.is(err.problems.length, 3, err.message);
  assert.is(err.message.split('\n').length, 3);
  for (const line of err.message.split('\n')) assert.ok(line.startsWith('device-profiles/x.json: /'), line);
});

test('files: unreadable, not JSON, and duplicate names across a folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wisp-profiles-'));
  try {
    writeFileSync(join(dir, 'broken.json'), '{ "name": ');
    assert.throws(() => loadProfile(join(dir, 'broken.json')), /broken\.json: not valid JSON/);
    assert.throws(() => loadProfile(join(dir, 'none.json')), /none\.json: cannot read/);
    rmSync(join(dir, 'broken.json'));
    writeFileSync(join(dir, 'a.json'), JSON.stringify(base()));
    writeFileSync(join(dir, 'b.json'), JSON.stringify(base()));
    writeFileSync(join(dir, 'profile.schema.json'), '{}');
    assert.throws(() => loadProfiles(dir), /b\.json: \/name: "qualcomm-npu" is already the name of .*a\.json/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
