// The models a benchmark runs on, named the same way in every bench subcommand: a .gguf path or a
// model name looked up on the model search path (host/model/resolve.ts, as `wisp run` does), or the
// name of a random-weight benchmark model (110m-q4_0, tinyllama-q4_0, …) that `wisp synth` writes once
// into the cache from a tokenizer's vocabulary.
import { existsSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ModelNotFoundError, resolveModel, userCacheDir } from '../model/resolve.js';
import { loadCatalog } from '../model/catalog.js';
import { SYNTH_SHAPES, shapeVocabPath, synthModel } from '../model/synth.js';
import { parseTypeName } from '../model/type-names.js';
import { readVocabFile } from '../model/vocab-file.js';
import { createProgress, started, type Progress } from '../obs/progress.js';

/** The random-weight benchmark models: `<shape>-<type>` (host/model/synth.ts SYNTH_SHAPES). */
export const SYNTH_BENCH_MODELS = ['110m-q8_0', '110m-q4_0', '110m-f16', '110m-f32', 'tinyllama-q4_0', 'tinyllama-q8_0', 'llama-3.2-1b-q8_0', 'qwen3-0.6b-q8_0'];

/** A mistake in a benchmark's input (model, tokenizer): one line, printed as a usage error. */
export class BenchInputError extends Error {}



/** The file of a synthesized benchmark model, written first if it is not in the cache yet. */
export function synthBenchModel(name: string, tokenizer?: string): string {
  // the type is after the last dash (shapes have dashes: llama-3.2-1b)
  const cut = name.lastIndexOf('-');
  const shape = name.slice(0, cut);
  const type = name.slice(cut + 1);
  const dir = join(userCacheDir(), 'bench');
  const path = join(dir, `synth-${shape}-${type}.gguf`);
  if (existsSync(path)) return path;
  // the shape's own vocabulary when the machine has it (qwen3's package), else llama 2's
  const tok = tokenizer ?? shapeVocabPath(SYNTH_SHAPES[shape]);
  if (!tok) throw new BenchInputError(`the benchmark model ${name} is written once by \`wisp synth\` from a vocabulary: pass --tokenizer PATH (a llama2.c tokenizer.bin) or set WISP_TOKENIZER_DIR`);
  if (!existsSync(tok)) throw new BenchInputError(`--tokenizer: ${tok} not found`);
  mkdirSync(dir, { recursive: true });
  console.log(`writing ${path} (random weights, seed 1)…`);
  let progress: Progress | undefined;
  synthModel(path, {
    shape: SYNTH_SHAPES[shape],
    vocab: readVocabFile(tok),
    type: parseTypeName(type),
    seed: 1,
    name: `synth-${shape}-${type}`,
    onProgress: (done, total) => (progress ??= started(createProgress(basename(path), total))).update(done),
  });
  progress?.stop();
  return path;
}

/**
 * `--model` of a bench subcommand as a file: a benchmark model name, a path, or a name on the model
 * search path; undefined gives the catalog default (the model `wisp serve` serves). Not found is one
 * line naming where it looked.
 */
export function benchModelPath(spec: string | undefined, tokenizer?: string): string {
  if (spec !== undefined && SYNTH_BENCH_MODELS.includes(spec.toLowerCase())) return synthBenchModel(spec.toLowerCase(), tokenizer);
  try {
    if (spec !== undefined) return resolveModel(spec).path;
    const catalog = loadCatalog();
    return resolveModel(catalog.default, { catalog }).path;
  } catch (err) {
    if (!(err instanceof ModelNotFoundError)) throw err;
    const what = spec === undefined ? `the default model "${err.spec}"` : `model "${spec}"`;
    const where = err.searched.length === 1 && err.searched[0] !== spec ? `looked at ${err.searched[0]}` : `looked in ${err.searched.join(', ')}`;
    throw new BenchInputError(`${what} not found (${where}); pass --model PATH|NAME, set WISP_MODEL_PATH, or name a benchmark model: ${SYNTH_BENCH_MODELS.join(', ')}`);
  }
}
