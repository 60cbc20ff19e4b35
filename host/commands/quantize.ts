// `wisp quantize IN.gguf OUT.gguf --type TYPE`
import { resolve } from 'node:path';
import { foldLayerNames, quantizeModel, type QuantizeReport } from '../model/quantize-model.js';
import { QUANT_MIXES } from '../model/quantize/mixes.js';
import { parseQuantizeTarget, WRITABLE_TYPES } from '../model/type-names.js';
import { traitsOf } from '../model/ggml-types.js';
import { createProgress, started, type Progress } from '../obs/progress.js';
import { parseOptions, UsageError } from './args.js';
import { resolveModelOption } from './model-option.js';

const HELP = `usage: wisp quantize IN.gguf OUT.gguf --type TYPE|MIX

IN is a path or a model name on the search path (as --model takes).
TYPE (${Object.keys(WRITABLE_TYPES).join(', ')}) re-encodes every weight matrix in that type;
MIX (${Object.keys(QUANT_MIXES).join(', ')}) is one of llama.cpp's mixes: a type per tensor by
llama.cpp's rules (e.g. q4_k_m: q6_K for the output, half the attn_v and ffn_down, q4_K elsewhere).
The quantizers are ggml's reference quantizers (bit-identical to llama.cpp's output for the same
input, no importance matrix); 1-D tensors (norms) are copied as they are. A matrix whose rows the
type's blocks cannot tile takes llama.cpp's fallback, and the summary lists it: q2_k, q3_k -> q4_0,
q4_k -> q5_0, q5_k -> q5_1, q6_k -> q8_0 on rows that are not a multiple of 256 values; rows no
block tiles (not a multiple of 32) stay f32 or f16, as stored.`;

export async function main(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseOptions(argv, { type: { type: 'string' } }, HELP, true);
  if (positionals.length !== 2) throw new UsageError(HELP);
  if (!v.type) throw new UsageError(`--type is required\n\n${HELP}`);
  const [inSpec, outPath] = positionals;
  const target = parseQuantizeTarget(v.type);
  const inPath = resolveModelOption(inSpec);
  if (resolve(inPath) === resolve(outPath)) throw new UsageError('IN and OUT must be different files');
  let progress: Progress | undefined;
  const t0 = performance.now();
  const r = quantizeModel(inPath, outPath, target, (done, total) => (progress ??= started(createProgress('quantize', total))).update(done));
  progress?.stop();
  const requested = typeof target === 'number' ? traitsOf(target).name : target.name;
  for (const line of summary(outPath, requested, r, (performance.now() - t0) / 1000, typeof target !== 'number')) console.log(line);
}

/**
 * What was written, truthfully: tensors per type, and every matrix not in the requested type with the
 * reason, e.g.
 *   wrote out.gguf in 0.1 s: 48 tensors: 32 q8_0, 16 f32 (32 re-encoded, 16 copied)
 *   37 of 37 matrices are not q4_K:
 *     32 q8_0: rows of 64 values are not a multiple of q4_K's 256-value blocks: token_embd.weight, …
 */
export function summary(outPath: string, requested: string, r: QuantizeReport, seconds: number, mix = false): string[] {
  const counts = Object.entries(r.written)
    .sort((a, b) => b[1] - a[1])
    .map(([t, n]) => `${n} ${t}`)
    .join(', ');
  const lines = [`wrote ${outPath} in ${seconds.toFixed(1)} s: ${r.tensors} tensors: ${counts} (${r.changed} re-encoded, ${r.tensors - r.changed} copied)`];
  const rules = `${r.matrices} matrices by llama.cpp's ${requested} rules`;
  if (r.fallbacks.length === 0) {
    lines.push(mix ? rules : `all ${r.matrices} matrices are ${requested}`);
    return lines;
  }
  lines.push(mix ? `${rules}; ${r.fallbacks.length} took a fallback type:` : `${r.fallbacks.length} of ${r.matrices} matrices are not ${requested}:`);
  const groups = new Map<string, string[]>();
  for (const f of r.fallbacks) {
    const key = `${traitsOf(f.type).name}: ${f.reason}`;
    groups.set(key, [...(groups.get(key) ?? []), f.name]);
  }
  for (const [key, names] of groups) lines.push(`  ${names.length} ${key}: ${foldLayerNames(names).join(', ')}`);
  return lines;
}
