#!/usr/bin/env node
// Freezes llama.cpp's per-tensor type choices for its quantization mixes, and its quantized bytes on
// two small models, as goldens for test/quantize-mixes.test.ts.
//
// llama.cpp is the reference, not a dependency: node-llama-cpp installed outside the project (its
// prebuilt linux-x64 binaries ship libllama; koffi comes with it),
//   mkdir /tmp/oracle && cd /tmp/oracle && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install node-llama-cpp
// then, from the repository root after `node build.mjs`,
//   NODE_PATH=/tmp/oracle/node_modules node scripts/golden/llamacpp_quant_mixes.mjs
// It rewrites test/golden/quant-mixes.json. LLAMA_LIB=/path/to/libllama.so uses another build.
//
// For each shape of test/helpers/mix-models.ts it writes a model file (F16 zeros for the real shapes:
// the rules read names and shapes only; F32 random weights for the two small ones), runs
// llama_model_quantize(in, out, params) with each mix's ftype (and `pure` for the single types), and
// records the type of every tensor of the output (read back with wisp's GGUF reader) and, for the small
// models, the sha256 of every tensor's bytes (its first 128 bits), in the input's tensor order.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = (p) => join(root, 'dist', p);
const { GGMLType, traitsOf } = await import(dist('host/model/ggml-types.js'));
const { GGUFFile } = await import(dist('host/model/gguf/index.js'));
const { readLlama2cTokenizer } = await import(dist('host/model/llama2c-tokenizer.js'));
const { MIX_SHAPES, writeMixModel } = await import(dist('test/helpers/mix-models.js'));
const { sharedModel } = await import(dist('test/helpers/paths.js'));

const require = createRequire(process.env.NODE_PATH ? `${process.env.NODE_PATH}/` : import.meta.url);
const koffi = require('koffi');
const oracle = process.env.NODE_PATH ?? '/tmp/oracle/node_modules';
const bins = join(oracle, '@node-llama-cpp', 'linux-x64', 'bins', 'linux-x64');
const libPath = process.env.LLAMA_LIB ?? join(bins, readdirSync(bins).find((f) => /^libllama\..*so$/.test(f)) ?? 'libllama.so');
if (!existsSync(libPath)) {
  console.error(`libllama not found at ${libPath}; set LLAMA_LIB or NODE_PATH`);
  process.exit(2);
}
let provenance = `libllama from ${libPath}`;
try {
  const nlc = JSON.parse(readFileSync(join(oracle, 'node-llama-cpp', 'package.json'), 'utf8'));
  const rel = JSON.parse(readFileSync(join(oracle, 'node-llama-cpp', 'llama', 'binariesGithubRelease.json'), 'utf8'));
  provenance = `libllama (linux-x64 prebuilt) of node-llama-cpp ${nlc.version}, llama.cpp release ${rel.release}`;
} catch { /* keep the path */ }

const lib = koffi.load(libPath);
// include/llama.h's llama_model_quantize_params, field for field
koffi.struct('llama_model_quantize_params', {
  nthread: 'int32_t',
  ftype: 'int',
  output_tensor_type: 'int',
  token_embedding_type: 'int',
  allow_requantize: 'bool',
  quantize_output_tensor: 'bool',
  only_copy: 'bool',
  pure: 'bool',
  keep_split: 'bool',
  dry_run: 'bool',
  imatrix: 'void *',
  kv_overrides: 'void *',
  tt_overrides: 'void *',
  prune_layers: 'void *',
  max_buf_size: 'size_t',
});
const defaultParams = lib.func('llama_model_quantize_params llama_model_quantize_default_params()');
const quantizeModel = lib.func('uint32_t llama_model_quantize(const char *fname_inp, const char *fname_out, const llama_model_quantize_params *params)');
const backendInit = lib.func('void llama_backend_init()');
const logCallback = koffi.proto('void llama_log_cb(int level, const char *text, void *user)');
const logSet = lib.func('void llama_log_set(llama_log_cb *cb, void *user)');
backendInit();
const quiet = koffi.register(() => {}, koffi.pointer(logCallback));
if (!process.env.VERBOSE) logSet(quiet, null);

// llama_ftype of each mix, and of the single types (written with `pure`: no per-tensor rules)
const MIXES = { Q3_K_S: 11, Q3_K_M: 12, Q3_K_L: 13, Q4_K_S: 14, Q4_K_M: 15, Q5_K_S: 16, Q5_K_M: 17 };
const PURE = { q4_0: 2, q4_1: 3, q8_0: 7, q5_0: 8, q5_1: 9, q2_K: 10, q3_K: 11, q4_K: 14, q5_K: 16, q6_K: 18 };
// the small models' bytes are compared for the mixes the issue names
const BYTE_MIXES = ['Q4_K_M', 'Q5_K_M', 'Q3_K_M'];

const vocab = readLlama2cTokenizer(sharedModel('tok512.bin'));
const dir = mkdtempSync(join(tmpdir(), 'wisp-mix-goldens-'));

function run(inPath, ftype, pure) {
  const out = join(dir, 'out.gguf');
  const p = defaultParams();
  p.ftype = ftype;
  p.nthread = 2;
  p.pure = pure;
  if (quantizeModel(inPath, out, p) !== 0) throw new Error(`llama_model_quantize failed for ftype ${ftype} on ${inPath} (VERBOSE=1 shows its log)`);
  // in the input's tensor order (llama.cpp writes them in its own order)
  const f = GGUFFile.open(out);
  const names = GGUFFile.open(inPath).tensors.map((t) => t.name);
  const types = names.map((n) => traitsOf(f.tensorInfo(n).type).name);
  const sha = names.map((n) => createHash('sha256').update(f.tensorBytes(n)).digest('hex').slice(0, 32));
  rmSync(out);
  return { types, sha };
}

const golden = {
  note: `llama.cpp's tensor types (and, for the small models, tensor sha256) from llama_model_quantize of ${provenance}; made by scripts/golden/llamacpp_quant_mixes.mjs`,
  vocabSize: vocab.tokens.length,
  models: {},
};
try {
  for (const [name, shape] of Object.entries(MIX_SHAPES)) {
    const small = name.startsWith('mini-');
    const inPath = join(dir, `${name}.gguf`);
    writeMixModel(inPath, shape, vocab, { type: small ? GGMLType.F32 : GGMLType.F16, seed: 7, zeros: !small });
    const src = GGUFFile.open(inPath);
    const entry = { input: small ? 'f32, seed 7' : 'f16 zeros', tensors: src.tensors.map((t) => [t.name, t.dims]), mixes: {}, pure: {}, sha256: {} };
    for (const [mix, ftype] of Object.entries(MIXES)) {
      const r = run(inPath, ftype, false);
      entry.mixes[mix] = r.types;
      if (small && BYTE_MIXES.includes(mix)) entry.sha256[mix] = r.sha;
      console.error(`${name} ${mix}: ${r.types.join(' ')}`);
    }
    for (const [type, ftype] of Object.entries(PURE)) entry.pure[type] = run(inPath, ftype, true).types;
    golden.models[name] = entry;
    rmSync(inPath);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const outFile = join(root, 'test', 'golden', 'quant-mixes.json');
// one line per tensor list, type list and hash list
const text = JSON.stringify(golden, null, 1).replace(/\[\s*("[^"]*"|\d+)(,\s*("[^"]*"|\d+))*\s*\]/g, (m) => m.replace(/\s+/g, ''));
writeFileSync(outFile, `${text}\n`);
console.error(`wrote ${outFile}`);
