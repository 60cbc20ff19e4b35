// The models a benchmark runs on, named the same way in every bench subcommand: a .gguf path or a
// model name looked up on the model search path (host/model/resolve.ts, as `wisp run` does), or the
// name of a random-weight benchmark model (110m-q4_0, tinyllama-q4_0, …) that `wisp synth` writes once
// into the cache from a tokenizer's vocabulary.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ModelNotFoundError, resolveModel, userCacheDir } from '../model/resolve.js';
import { resolveModelOption } from '../commands/model-option.js';
import { readShapeVocab, SYNTH_SHAPES, shapeVocabPath, synthModel } from '../model/synth.js';
import { quantizeModel } from '../model/quantize-model.js';
import { parseQuantizeTarget, WRITABLE_TYPES } from '../model/type-names.js';
import { createProgress, started, type Progress } from '../obs/progress.js';

/** The random-weight benchmark models: `<shape>-<type>` (host/model/synth.ts SYNTH_SHAPES; a type or one of llama.cpp's mixes). */
export const SYNTH_BENCH_MODELS = ['110m-q8_0', '110m-q4_0', '110m-f16', '110m-f32', 'tinyllama-q4_0', 'tinyllama-q8_0', 'llama-3.2-1b-q8_0', 'llama-3.2-1b-q4_k_m', 'qwen3-0.6b-q8_0'];

/** What `wisp bench models` runs without --model: llama2.c's 110M, TinyLlama, and the shapes of two models edge users run (issue 16). */
export const DEFAULT_BENCH_MODELS = ['110m-q8_0', '110m-q4_0', 'tinyllama-q4_0', 'llama-3.2-1b-q4_k_m', 'qwen3-0.6b-q8_0'];

/** A mistake in a benchmark's input (model, tokenizer): one line, printed as a usage error. */
export class BenchInputError extends Error {}

/** `llama-3.2-1b-q4_k_m` -> shape and type: the type is after the last dash (shapes have dashes). */
function benchModelParts(name: string): { shape: string; type: string } {
  const cut = name.lastIndexOf('-');
  return { shape: name.slice(0, cut), type: name.slice(cut + 1) };
}

/** Why wisp cannot write a benchmark model yet (a mix before wisp quantize writes mixes), or undefined. */
export function unwritableBenchModel(name: string): string | undefined {
  try {
    parseQuantizeTarget(benchModelParts(name).type);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The file of a synthesized benchmark model, written first if it is not in the cache yet. */
export function synthBenchModel(name: string, tokenizer?: string): string {
  const { shape, type } = benchModelParts(name);
  const dir = join(userCacheDir(), 'bench');
  const path = join(dir, `synth-${shape}-${type}.gguf`);
  if (existsSync(path)) return path;
  const why = unwritableBenchModel(name);
  if (why) throw new BenchInputError(`the benchmark model ${name}: ${why}`);
  // the shape's own vocabulary when the machine has it (qwen3's package), else llama 2's
  const tok = tokenizer ?? shapeVocabPath(SYNTH_SHAPES[shape]);
  if (!tok) throw new BenchInputError(`the benchmark model ${name} is written once by \`wisp synth\` from a vocabulary: pass --tokenizer PATH (a llama2.c tokenizer.bin) or set WISP_TOKENIZER_DIR`);
  if (!existsSync(tok)) throw new BenchInputError(`--tokenizer: ${tok} not found`);
  mkdirSync(dir, { recursive: true });
  const single = type in WRITABLE_TYPES;
  // a mix: the shape in f16 first (not kept), then re-encoded by llama.cpp's per-tensor rules as `wisp quantize` does
  const synthPath = single ? path : `${path}.f16.tmp`;
  console.log(`writing ${path} (random weights, seed 1${single ? '' : `, f16 quantized to ${type}`})…`);
  withProgress(basename(path), (onProgress) =>
    synthModel(synthPath, {
      shape: SYNTH_SHAPES[shape],
      vocab: readShapeVocab(SYNTH_SHAPES[shape], tok),
      type: single ? WRITABLE_TYPES[type] : WRITABLE_TYPES.f16,
      seed: 1,
      name: `synth-${shape}-${type}`,
      onProgress,
    }),
  );
  if (!single) {
    try {
      withProgress(`quantize ${type}`, (onProgress) => quantizeModel(synthPath, `${path}.tmp`, parseQuantizeTarget(type), onProgress));
      renameSync(`${path}.tmp`, path);
    } finally {
      rmSync(synthPath, { force: true });
    }
  }
  return path;
}

/** Runs a long step with a progress bar that appears at its first report. */
function withProgress<T>(label: string, run: (onProgress: (done: number, total: number) => void) => T): T {
  let progress: Progress | undefined;
  try {
    return run((done, total) => (progress ??= started(createProgress(label, total))).update(done));
  } finally {
    progress?.stop();
  }
}

/**
 * `--model` of a bench subcommand as a file: a benchmark model name, a path, or a name on the model
 * search path; undefined gives the model `wisp serve` serves (the catalog default, else the offline
 * model when only it is here). Not found is one line naming where it looked.
 */
export function benchModelPath(spec: string | undefined, tokenizer?: string): string {
  if (spec !== undefined && SYNTH_BENCH_MODELS.includes(spec.toLowerCase())) return synthBenchModel(spec.toLowerCase(), tokenizer);
  try {
    if (spec !== undefined) return resolveModel(spec).path;
    // as wisp run and serve choose it: the catalog default, else the offline model when only it is here
    return resolveModelOption(undefined, (line) => console.log(line));
  } catch (err) {
    if (!(err instanceof ModelNotFoundError)) throw err;
    const what = spec === undefined ? `the default model "${err.spec}"` : `model "${spec}"`;
    const where = err.searched.length === 1 && err.searched[0] !== spec ? `looked at ${err.searched[0]}` : `looked in ${err.searched.join(', ')}`;
    throw new BenchInputError(`${what} not found (${where}); pass --model PATH|NAME, set WISP_MODEL_PATH, or name a benchmark model: ${SYNTH_BENCH_MODELS.join(', ')}`);
  }
}
