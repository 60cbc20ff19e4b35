// `wisp convert`: llama2.c checkpoint + tokenizer.bin -> GGUF.
import { convertLlama2c } from '../model/convert-llama2c.js';
import { parseTypeName } from '../model/type-names.js';
import { createProgress, started, type Progress } from '../obs/progress.js';
import { parseOptions, UsageError } from './args.js';

const HELP = `usage: wisp convert llama2c CHECKPOINT.bin --tokenizer TOKENIZER.bin -o OUT.gguf [--type f32]

  --tokenizer PATH   llama2.c tokenizer file (e.g. tok512.bin, tokenizer.bin)
  -o, --out PATH     the GGUF file to write
  --type TYPE        weight type for 2-D tensors: f32 (default), f16, bf16, q8_0, q4_0, q4_k, q6_k
  --name NAME        general.name (default: the checkpoint's file name)`;

export async function main(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseOptions(
    argv,
    { tokenizer: { type: 'string' }, out: { type: 'string', short: 'o' }, type: { type: 'string' }, name: { type: 'string' } },
    HELP,
    true,
  );
  const [format, checkpoint] = positionals;
  if (format !== 'llama2c' || !checkpoint || positionals.length > 2) throw new UsageError(HELP);
  if (!v.tokenizer) throw new UsageError(`--tokenizer is required\n\n${HELP}`);
  if (!v.out) throw new UsageError(`-o/--out is required\n\n${HELP}`);
  let progress: Progress | undefined;
  const { tensors } = convertLlama2c(checkpoint, v.tokenizer, v.out, {
    type: v.type ? parseTypeName(v.type) : undefined,
    name: v.name,
    onProgress: (done, total) => (progress ??= started(createProgress('convert', total))).update(done),
  });
  progress?.stop();
  console.log(`wrote ${v.out} (${tensors} tensors)`);
}
