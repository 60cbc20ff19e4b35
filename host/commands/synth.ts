// `wisp synth`: random-weight llama GGUFs at real shapes, for benchmarks and tests.
import { SYNTH_SHAPES, synthModel } from '../model/synth.js';
import { parseTypeName } from '../model/type-names.js';
import { readVocabFile } from '../model/vocab-file.js';
import { createProgress, started, type Progress } from '../obs/progress.js';
import { intOption, parseOptions, UsageError } from './args.js';
import { findInputFile } from './input-file.js';

const HELP = `usage: wisp synth --shape ${Object.keys(SYNTH_SHAPES).join('|')} --tokenizer PATH -o OUT.gguf [options]

  --shape NAME       ${Object.entries(SYNTH_SHAPES)
    .map(([k, s]) => `${k} (dim ${s.dim}, ${s.nLayers} layers, ${s.nHeads}/${s.nKvHeads} heads, ffn ${s.ffnDim})`)
    .join('\n                     ')}
  --tokenizer PATH   vocabulary source: a llama2.c tokenizer.bin, a .gguf, or a Hugging Face
                     tokenizer folder (tokenizer.json + tokenizer_config.json, as the converter reads it)
  --type TYPE        f32 (default), f16, bf16, q8_0, q4_0, q4_k, q6_k
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
  const tokenizer = v.tokenizer !== undefined ? findInputFile(v.tokenizer, '--tokenizer') : defaultTokenizer();
  if (!tokenizer) throw new UsageError(`--tokenizer is required (or set WISP_TOKENIZER_DIR to a folder with llama2/tokenizer.bin)\n\n${HELP}`);
  if (!v.out) throw new UsageError(`-o/--out is required\n\n${HELP}`);
  const shape = { ...base, nLayers: intOption(v.layers, 'layers', 1) ?? base.nLayers, contextLength: intOption(v.ctx, 'ctx', 1) ?? base.contextLength };
  const vocab = readVocabFile(tokenizer);
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
  console.log(`wrote ${v.out} (${v.shape}, ${v.type ?? 'f32'}, vocab ${vocab.tokens.length}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

function defaultTokenizer(): string | undefined {
  const dir = process.env.WISP_TOKENIZER_DIR;
  return dir ? `${dir}/llama2/tokenizer.bin` : undefined;
}
