#!/usr/bin/env node
// A Q4_K_M-style model for benchmarks and fidelity checks: every weight matrix in q4_K except
// output.weight and the ffn_down matrices in q6_K (llama.cpp's Q4_K_M also gives q6_K to some
// attn_v and ffn_down matrices only; this mix is the heavier, simpler one the speed targets name),
// norms copied. Rows that q4_K/q6_K blocks cannot tile fall back as `wisp quantize` does.
//
//   node build.mjs && node dist/host/cli.js synth --shape 110m --tokenizer ../shared/tokenizers/llama2/tokenizer.bin -o /tmp/110m-f32.gguf
//   node scripts/bench/q4km.mjs /tmp/110m-f32.gguf /tmp/110m-q4_k_m.gguf
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'host', 'model');
const { GGUFFile, gv, writeGGUF } = await import(join(dist, 'gguf', 'index.js'));
const { GGMLType, traitsOf } = await import(join(dist, 'ggml-types.js'));
const { quantizedType, storedBytes } = await import(join(dist, 'quantize', 'index.js'));

const [inPath, outPath] = process.argv.slice(2);
if (!inPath || !outPath) {
  console.error('usage: node scripts/bench/q4km.mjs IN.gguf OUT.gguf');
  process.exit(2);
}
const file = GGUFFile.open(inPath);
const metadata = new Map(file.metadata);
metadata.set('general.file_type', gv.u32(15)); // LLAMA_FTYPE_MOSTLY_Q4_K_M
metadata.set('general.quantized_by', gv.str('wisp scripts/bench/q4km.mjs'));
const written = {};
const tensors = file.tensors.map((t) => {
  let target = t.type;
  if (t.dims.length === 2) {
    const wanted = t.name === 'output.weight' || t.name.endsWith('.ffn_down.weight') ? GGMLType.Q6_K : GGMLType.Q4_K;
    target = quantizedType(wanted, t.type, t.dims[0]).type;
  }
  written[traitsOf(target).name] = (written[traitsOf(target).name] ?? 0) + 1;
  if (target === t.type) return { name: t.name, dims: t.dims, type: t.type, data: () => file.tensorBytes(t.name) };
  return { name: t.name, dims: t.dims, type: target, data: () => storedBytes(target, file.tensorF32(t.name), t.dims[0]) };
});
writeGGUF(outPath, { version: 3, metadata, tensors });
console.log(`wrote ${outPath}: ${Object.entries(written).map(([k, n]) => `${n} ${k}`).join(', ')}`);
