// llama.cpp's quantization mixes (quantize/mixes.ts) and single types against llama.cpp itself: the type
// of every tensor on real model shapes (stories110M's; Qwen2.5-0.5B's 896 columns, whose fallbacks bring
// in q5_0, q5_1, q8_0 and q4_0), and the quantized bytes of every tensor on two small models — goldens
// recorded from llama_model_quantize by scripts/golden/llamacpp_quant_mixes.mjs, so no llama.cpp here.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, traitsOf } from '../host/model/ggml-types.js';
import { GGUFFile } from '../host/model/gguf/index.js';
import { readLlama2cTokenizer } from '../host/model/llama2c-tokenizer.js';
import { quantizeModel } from '../host/model/quantize-model.js';
import { keptFloat, quantizedType } from '../host/model/quantize/index.js';
import { QUANT_MIXES, mixQuantizes, mixTypes, type MixTensor } from '../host/model/quantize/mixes.js';
import { parseQuantizeTarget } from '../host/model/type-names.js';
import { MIX_SHAPES, writeMixModel } from './helpers/mix-models.js';
import { CLI, ROOT, sharedModel } from './helpers/paths.js';

interface GoldenModel {
  input: string;
  tensors: Array<[string, number[]]>;
  mixes: Record<string, string[]>;
  pure: Record<string, string[]>;
  sha256: Record<string, string[]>;
}
const golden = JSON.parse(readFileSync(join(ROOT, 'test', 'golden', 'quant-mixes.json'), 'utf8')) as { vocabSize: number; models: Record<string, GoldenModel> };
const mixByName = (name: string) => Object.values(QUANT_MIXES).find((m) => m.name === name)!;

/** The golden model's tensors as the rules see them: f16 (the real shapes) or f32 (the small ones) matrices, f32 vectors. */
function tensorsOf(m: GoldenModel): MixTensor[] {
  const matrix = m.input.startsWith('f16') ? GGMLType.F16 : GGMLType.F32;
  return m.tensors.map(([name, dims]) => ({ name, dims, type: dims.length === 1 ? GGMLType.F32 : matrix }));
}

/** Lines naming each tensor whose type differs: empty when all agree. */
function differences(tensors: MixTensor[], got: GGMLType[], want: string[]): string[] {
  return tensors.flatMap((t, i) => (traitsOf(got[i]).name === want[i] ? [] : [`${t.name} [${t.dims}]: wisp ${traitsOf(got[i]).name}, llama.cpp ${want[i]}`]));
}

test('the goldens cover every mix wisp writes, on both real shapes and both small models', () => {
  assert.equal(Object.keys(golden.models).sort(), Object.keys(MIX_SHAPES).sort());
  for (const m of Object.values(golden.models)) assert.equal(Object.keys(m.mixes).sort(), Object.values(QUANT_MIXES).map((x) => x.name).sort());
});

for (const [model, m] of Object.entries(golden.models)) {
  const tensors = tensorsOf(m);
  for (const [mix, want] of Object.entries(m.mixes)) {
    test(`${mix} on the ${model} shape: every tensor's type is llama.cpp's`, () => {
      const got = mixTypes(mixByName(mix), { arch: MIX_SHAPES[model].arch, nLayers: MIX_SHAPES[model].nLayers, nHeads: MIX_SHAPES[model].nHeads, nKvHeads: MIX_SHAPES[model].nKvHeads }, tensors, (t) => keptFloat(t.type));
      assert.equal(differences(tensors, got.map((c) => c.type), want), []);
    });
  }
  test(`single types on the ${model} shape: every tensor's type is llama.cpp's (--pure), fallbacks included`, () => {
    for (const [type, want] of Object.entries(m.pure)) {
      const target = parseQuantizeTarget(type) as GGMLType;
      const got = tensors.map((t) => (mixQuantizes(t) ? quantizedType(target, t.type, t.dims[0]).type : t.type));
      assert.equal(differences(tensors, got, want), [], type);
    }
  });
}

test('Qwen2.5-0.5B\'s shape under Q4_K_M takes q5_0, q8_0 and q6_K where its rows are not a multiple of 256, and says why', () => {
  const m = golden.models['qwen2.5-0.5b'];
  const tensors = tensorsOf(m);
  const shape = MIX_SHAPES['qwen2.5-0.5b'];
  const got = mixTypes(QUANT_MIXES.q4_k_m, { arch: 'qwen2', nLayers: shape.nLayers, nHeads: shape.nHeads, nKvHeads: shape.nKvHeads }, tensors, (t) => keptFloat(t.type));
  const at = (name: string) => got[tensors.findIndex((t) => t.name === name)];
  assert.equal(at('token_embd.weight'), { type: GGMLType.Q8_0 }); // tied: the output's rule, rows of 896
  assert.is(at('blk.0.attn_q.weight').type, GGMLType.Q5_0);
  assert.match(at('blk.0.attn_q.weight').reason!, /rows of 896 values are not a multiple of q4_K's 256-value blocks \(llama\.cpp's fallback\)/);
  assert.is(at('blk.0.attn_v.weight').type, GGMLType.Q8_0); // q6_K's fallback
  assert.equal(at('blk.0.ffn_down.weight'), { type: GGMLType.Q6_K }); // rows of 4864 = 19 · 256
  assert.equal(at('blk.3.ffn_down.weight'), { type: GGMLType.Q4_K });
});

// ---- the bytes: wisp quantize against llama_model_quantize on the small models ---------------------

const dir = mkdtempSync(join(tmpdir(), 'wisp-mixes-'));
const vocab = readLlama2cTokenizer(sharedModel('tok512.bin'));
assert.is(vocab.tokens.length, golden.vocabSize);

for (const model of ['mini-qwen2', 'mini-llama']) {
  const m = golden.models[model];
  for (const [mix, hashes] of Object.entries(m.sha256)) {
    test(`wisp quantize --type ${mix.toLowerCase()} on ${model} writes llama.cpp's bytes, tensor for tensor`, () => {
      const input = join(dir, `${model}.gguf`);
      const output = join(dir, `${model}-${mix}.gguf`);
      writeMixModel(input, MIX_SHAPES[model], vocab, { type: GGMLType.F32, seed: 7 });
      const report = quantizeModel(input, output, mixByName(mix));
      const f = GGUFFile.open(output);
      assert.is(f.number('general.file_type'), mixByName(mix).ftype);
      const bad = m.tensors.flatMap(([name], i) => {
        const t = f.tensorInfo(name);
        const sha = createHash('sha256').update(f.tensorBytes(name)).digest('hex').slice(0, 32);
        return traitsOf(t.type).name === m.mixes[mix][i] && sha === hashes[i] ? [] : [`${name}: wisp ${traitsOf(t.type).name} ${sha}, llama.cpp ${m.mixes[mix][i]} ${hashes[i]}`];
      });
      assert.equal(bad, []);
      assert.is(report.matrices, m.tensors.filter(([, d]) => d.length === 2).length);
    });
  }
}

test('wisp quantize --type q4_k_m prints the mix\'s rules and each fallback with its reason', () => {
  const input = join(dir, 'cli-in.gguf');
  const output = join(dir, 'cli-out.gguf');
  writeMixModel(input, MIX_SHAPES['mini-qwen2'], vocab, { type: GGMLType.F32, seed: 7 });
  const r = spawnSync(process.execPath, [CLI, 'quantize', input, output, '--type', 'q4_k_m'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^wrote .*cli-out\.gguf in [\d.]+ s: 26 tensors: 11 f32, 11 q5_0, 2 q8_0, 1 q4_K, 1 q6_K \(15 re-encoded, 11 copied\)$/m);
  assert.match(r.stdout, /^15 matrices by llama\.cpp's Q4_K_M rules; 12 took a fallback type:$/m);
  assert.match(r.stdout, /^ {2}11 q5_0: rows of 288 values are not a multiple of q4_K's 256-value blocks \(llama\.cpp's fallback\): blk\.0-1\.attn_q\.weight, blk\.0-1\.attn_k\.weight, blk\.0\.attn_v\.weight, /m);
  assert.match(r.stdout, /^ {2}1 q8_0: rows of 288 values are not a multiple of q6_K's 256-value blocks \(llama\.cpp's fallback\): blk\.1\.attn_v\.weight$/m);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
