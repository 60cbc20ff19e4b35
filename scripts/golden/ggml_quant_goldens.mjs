#!/usr/bin/env node
// Freezes ggml's own quantizer output as golden files for test/quantize.test.ts.
//
// ggml is the reference, but it is not a dependency of wisp: install node-llama-cpp somewhere
// outside the project (its prebuilt linux-x64 binaries ship libggml-base.so; koffi comes along
// as one of its dependencies),
//   mkdir /tmp/oracle && cd /tmp/oracle && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install node-llama-cpp
// then, from the repository root, run
//   NODE_PATH=/tmp/oracle/node_modules node scripts/golden/ggml_quant_goldens.mjs
// It rewrites test/golden/quant/ (index.json, <case>.in.f32, <case>.<type>.bin). Set
// GGML_BASE_LIB=/path/to/libggml-base.so to use another build of ggml.
//
// For every case it makes a deterministic float32 input (seeded PRNG, so a rerun gives the
// same bytes), hands it to ggml_quantize_chunk(type, src, dst, 0, nrows, n_per_row, NULL) (no
// importance matrix, so ggml takes its reference quantizers), and stores ggml's bytes. Q8_K is
// and Q8_1 are only activation types, which ggml_quantize_chunk does not accept; their goldens come
// from quantize_row_q8_K_ref and quantize_row_q8_1_ref. Every
// destination starts zeroed (ggml leaves the bsums of an all-zero Q8_K block unwritten).
// The bytes depend on ggml's version only if its reference quantizers change; index.json
// records which build made them.
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = join(root, 'test', 'golden', 'quant');

const require = createRequire(process.env.NODE_PATH ? `${process.env.NODE_PATH}/` : import.meta.url);
const koffi = require('koffi');
const oracleModules = process.env.NODE_PATH ?? '/tmp/oracle/node_modules';
const libPath = process.env.GGML_BASE_LIB ??
  join(oracleModules, '@node-llama-cpp', 'linux-x64', 'bins', 'linux-x64', 'libggml-base.so');
if (!existsSync(libPath)) {
  console.error(`libggml-base.so not found at ${libPath}; set GGML_BASE_LIB or NODE_PATH`);
  process.exit(2);
}
let provenance = `libggml-base.so from ${libPath}`;
try {
  const nlc = JSON.parse(readFileSync(join(oracleModules, 'node-llama-cpp', 'package.json'), 'utf8'));
  const rel = JSON.parse(readFileSync(join(oracleModules, 'node-llama-cpp', 'llama', 'binariesGithubRelease.json'), 'utf8'));
  provenance = `libggml-base.so (linux-x64 prebuilt) of node-llama-cpp ${nlc.version}, llama.cpp release ${rel.release}`;
} catch { /* keep the path as provenance */ }

const lib = koffi.load(libPath);
const ggml_quantize_init = lib.func('void ggml_quantize_init(int type)');
const ggml_quantize_chunk = lib.func(
  'size_t ggml_quantize_chunk(int type, const float *src, void *dst, int64_t start, int64_t nrows, int64_t n_per_row, const float *imatrix)');
const quantize_row_q8_K_ref = lib.func('void quantize_row_q8_K_ref(const float *x, void *y, int64_t k)');
const quantize_row_q8_1_ref = lib.func('void quantize_row_q8_1_ref(const float *x, void *y, int64_t k)');
const ggml_row_size = lib.func('size_t ggml_row_size(int type, int64_t ne)');
const ggml_type_name = lib.func('const char *ggml_type_name(int type)');
const ggml_blck_size = lib.func('int64_t ggml_blck_size(int type)');

// ggml's type ids (enum ggml_type).
const TYPES = [
  { name: 'F32', id: 0 },
  { name: 'F16', id: 1 },
  { name: 'Q4_0', id: 2 },
  { name: 'Q4_1', id: 3 },
  { name: 'Q5_0', id: 6 },
  { name: 'Q5_1', id: 7 },
  { name: 'Q8_0', id: 8 },
  { name: 'Q8_1', id: 9 },
  { name: 'Q2_K', id: 10 },
  { name: 'Q3_K', id: 11 },
  { name: 'Q4_K', id: 12 },
  { name: 'Q5_K', id: 13 },
  { name: 'Q6_K', id: 14 },
  { name: 'Q8_K', id: 15 },
  { name: 'BF16', id: 30 },
];
const FLOAT_TYPES = ['F32', 'F16', 'BF16'];

// ---- deterministic inputs ----

// mulberry32: a tiny seeded 32-bit PRNG; uniform in [0, 1).
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function gaussian(rand) {
  const u = 1 - rand(); // (0, 1]
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
function fill(n, f) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = f(i);
  return a;
}

// Values that land exactly on a rounding boundary somewhere: half-integers after scaling for the
// integer quantizers (blocks whose scale comes out exact), and midpoints between neighbouring
// f16 / bf16 values for the float conversions.
function tiesRow(n) {
  const a = new Float32Array(n);
  for (let b = 0; b < n / 32; b++) {
    const o = b * 32;
    // Row 0 walks all kinds; row 1 keeps to kinds whose magnitudes top out at 127, so the whole
    // 256-superblock has amax 127 and q8_K's scale is exact too.
    const kind = b < 8 ? b : [0, 1, 4, 5, 0, 4, 1, 5][b % 8];
    for (let j = 0; j < 32; j++) {
      let v;
      switch (kind) {
        case 0: v = j === 0 ? 127 : ((j % 2 ? -1 : 1) * (j * 3.5 - 0.5)) % 127; break; // q8_0: d=1, x.5 ties
        case 1: v = j === 0 ? -8 : ((j % 16) - 8) + 0.5 * (j % 2 ? 1 : -1); break;       // q4_0: d=1, x+8.5 ties
        case 2: v = 1 + (2 * (j % 8) + 1) * 2 ** -11; break;                               // f16 midpoints near 1
        case 3: v = -(1 + (2 * (j % 8) + 1) * 2 ** -8); break;                             // bf16 midpoints near -1
        case 4: v = (j - 16) * 0.5; break;                                                  // many exact halves
        case 5: v = j === 0 ? -127 : (j - 16) * 4 + 0.5; break;
        case 6: v = 65504 * (j % 2 ? 1 : -1) * (j / 32); break;                            // top of the f16 range
        default: v = (2 * j + 1) * 2 ** -25; break;                                        // f16 subnormal midpoints
      }
      a[o + j] = v;
    }
  }
  return a;
}

// Float-only edge values: infinities, NaN, signed zero, subnormals, overflow for f16.
function specialsRow(n) {
  const fixed = [Infinity, -Infinity, NaN, -0, 0, 1e-40, -1e-40, 1.4e-45, 65504, 65520, 65519.996, -70000,
    3.4e38, -3.4e38, 6.1e-5, 5.96e-8, 2.98e-8, 2.99e-8, 1e-8, 1 + 2 ** -11, 1 + 3 * 2 ** -11,
    1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8)];
  const rand = rng(99);
  const a = fill(n, (i) => (i < fixed.length ? fixed[i] : gaussian(rand) * 10 ** Math.floor(rand() * 12 - 8)));
  // A signalling-looking NaN payload too (bits 0x7f800001), to see how the float conversions quiet it.
  new Uint32Array(a.buffer)[fixed.length] = 0x7f800001;
  new Uint32Array(a.buffer)[fixed.length + 1] = 0xffc12345;
  return a;
}

function makeCases() {
  const cases = [];
  const add = (name, nrows, nPerRow, data, types, note) => {
    if (data.length !== nrows * nPerRow) throw new Error(`${name}: ${data.length} != ${nrows}x${nPerRow}`);
    cases.push({ name, nrows, nPerRow, data, types, note });
  };
  const all = TYPES.map((t) => t.name);
  const block32 = ['F32', 'F16', 'BF16', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'Q8_1'];
  let r;

  r = rng(1); add('gauss_1x256', 1, 256, fill(256, () => gaussian(r)), all, 'N(0,1)');
  r = rng(2); add('gauss_4x512', 4, 512, fill(2048, (i) => gaussian(r) * [0.02, 1, 7.5, 300][i >> 9]), all,
    'N(0,s) with s = 0.02, 1, 7.5, 300 per row');
  r = rng(3); add('weights_16x512', 16, 512, fill(8192, () => gaussian(r) * 0.02), all, 'weight-like N(0,0.02)');
  r = rng(4); add('uniform_2x256', 2, 256, fill(512, () => r() * 2 - 1), all, 'U(-1,1)');
  r = rng(5); add('uniform_pos_1x512', 1, 512, fill(512, () => r() * 3 + 0.25), all, 'U(0.25,3.25): all positive');
  r = rng(6); add('uniform_neg_1x256', 1, 256, fill(256, () => -r() * 5 - 1), all, 'U(-6,-1): all negative');
  add('zeros_2x256', 2, 256, new Float32Array(512), all, 'all zeros');
  r = rng(7); add('outlier_1x512', 1, 512, fill(512, (i) => (i === 300 ? 1000 : gaussian(r))), all, 'N(0,1) with x[300] = 1000');
  r = rng(8); add('outlier_neg_1x256', 1, 256, fill(256, (i) => (i === 17 ? -250 : gaussian(r) * 0.1)), all, 'N(0,0.1) with x[17] = -250');
  r = rng(9); add('tiny_1x256', 1, 256, fill(256, () => gaussian(r) * 1e-6), all, 'N(0,1e-6)');
  r = rng(10); add('tiny_mixed_1x256', 1, 256, fill(256, (i) => (i < 128 ? 1e-6 : 1) * gaussian(r)), all,
    'first half N(0,1e-6), second half N(0,1)');
  r = rng(11); add('mixed_signs_1x512', 1, 512, fill(512, (i) => (i % 2 ? -1 : 1) * (0.5 + r()) * 2 ** ((i % 7) - 3)), all,
    'alternating signs, magnitudes spread over 2^-3..2^3');
  add('ties_2x256', 2, 256, tiesRow(512), all, 'exact rounding ties for q8_0/q4_0/q8_K and f16/bf16 midpoints');
  r = rng(12); add('sparse_1x512', 1, 512, fill(512, (i) => ((i * 7919) % 61 === 0 ? gaussian(r) * 3 : 0)), all,
    'mostly zeros: whole 16/32-element sub-blocks are zero');
  add('constant_2x256', 2, 256, fill(512, (i) => (i < 256 ? 0.75 : -0.3)), all, 'row 0 all 0.75, row 1 all -0.3');
  add('ramp_1x256', 1, 256, fill(256, (i) => -1 + (2 * i) / 255), all, 'linear ramp -1..1');
  r = rng(13); add('large_1x256', 1, 256, fill(256, () => gaussian(r) * 2e4), all, 'N(0,2e4): f16 overflow for F16');
  r = rng(15); add('huge_1x256', 1, 256, fill(256, () => gaussian(r) * 1e30), all, 'N(0,1e30): f16 scales overflow to inf');
  r = rng(16); add('subnormal_1x256', 1, 256, fill(256, () => gaussian(r) * 1e-39), all, 'N(0,1e-39): f32 subnormal inputs');
  r = rng(14); add('gauss_3x96', 3, 96, fill(288, () => gaussian(r)), block32, 'rows of 96 (3 blocks of 32)');
  add('specials_1x256', 1, 256, specialsRow(256), FLOAT_TYPES, 'inf, nan, -0, subnormals, f16 overflow');
  return cases;
}

// ---- run ggml ----

for (const t of TYPES) {
  const name = ggml_type_name(t.id);
  if (name.toUpperCase() !== t.name) throw new Error(`ggml type ${t.id} is ${name}, expected ${t.name}`);
  ggml_quantize_init(t.id);
}

if (existsSync(outDir)) {
  for (const f of readdirSync(outDir)) rmSync(join(outDir, f));
}
mkdirSync(outDir, { recursive: true });

const index = {
  note: `ggml reference quantizer output from ${provenance}; made by scripts/golden/ggml_quant_goldens.mjs ` +
    '(ggml_quantize_chunk with imatrix=NULL; Q8_K and Q8_1 via quantize_row_q8_K_ref / quantize_row_q8_1_ref)',
  types: Object.fromEntries(TYPES.map((t) => [t.name, {
    id: t.id, blockSize: Number(ggml_blck_size(t.id)), rowBytes256: Number(ggml_row_size(t.id, 256)),
  }])),
  cases: [],
};

let total = 0;
for (const c of makeCases()) {
  const inFile = `${c.name}.in.f32`;
  writeFileSync(join(outDir, inFile), Buffer.from(c.data.buffer));
  total += c.data.byteLength;
  const outputs = {};
  for (const tn of c.types) {
    const t = TYPES.find((x) => x.name === tn);
    const rowSize = Number(ggml_row_size(t.id, c.nPerRow));
    const dst = new Uint8Array(rowSize * c.nrows);
    if (t.name === 'Q8_K') {
      quantize_row_q8_K_ref(c.data, dst, c.nrows * c.nPerRow);
    } else if (t.name === 'Q8_1') {
      quantize_row_q8_1_ref(c.data, dst, c.nrows * c.nPerRow);
    } else {
      const n = Number(ggml_quantize_chunk(t.id, c.data, dst, 0, c.nrows, c.nPerRow, null));
      if (n !== dst.length) throw new Error(`${c.name}/${t.name}: ggml wrote ${n} bytes, expected ${dst.length}`);
    }
    const file = `${c.name}.${t.name.toLowerCase()}.bin`;
    writeFileSync(join(outDir, file), dst);
    total += dst.length;
    outputs[t.name] = file;
  }
  index.cases.push({ name: c.name, note: c.note, nrows: c.nrows, nPerRow: c.nPerRow, input: inFile, outputs });
}
writeFileSync(join(outDir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
console.error(`wrote ${index.cases.length} cases, ${Object.values(index.cases).reduce((s, c) => s + Object.keys(c.outputs).length, 0)} outputs, ${total} bytes to ${outDir}`);
