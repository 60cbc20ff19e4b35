// `wisp quantize IN.gguf OUT.gguf --type TYPE`
import { quantizeModel } from '../model/quantize-model.js';
import { parseTypeName, WRITABLE_TYPES } from '../model/type-names.js';
import { createProgress, started, type Progress } from '../obs/progress.js';
import { parseOptions, UsageError } from './args.js';

const HELP = `usage: wisp quantize IN.gguf OUT.gguf --type ${Object.keys(WRITABLE_TYPES).join('|')}

Re-encodes every weight matrix in TYPE with ggml's reference quantizers (bit-identical to
llama.cpp's output for the same f32 input); 1-D tensors (norms) stay f32.`;

export async function main(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseOptions(argv, { type: { type: 'string' } }, HELP, true);
  if (positionals.length !== 2) throw new UsageError(HELP);
  if (!v.type) throw new UsageError(`--type is required\n\n${HELP}`);
  const [inPath, outPath] = positionals;
  if (inPath === outPath) throw new UsageError('IN and OUT must be different files');
  let progress: Progress | undefined;
  const t0 = performance.now();
  const r = quantizeModel(inPath, outPath, parseTypeName(v.type), (done, total) => (progress ??= started(createProgress('quantize', total))).update(done));
  progress?.stop();
  console.log(`wrote ${outPath}: ${r.changed} of ${r.tensors} tensors re-encoded as ${v.type} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
