// `wisp convert`: llama2.c checkpoint + tokenizer.bin -> GGUF.
import { closeSync, openSync, readSync } from 'node:fs';
import { wispCommand } from '../invocation.js';
import { convertLlama2c } from '../model/convert-llama2c.js';
import { parseTypeName } from '../model/type-names.js';
import { createProgress, started, type Progress } from '../obs/progress.js';
import { parseOptions, UsageError } from './args.js';
import { findInputFile } from './input-file.js';

const HELP = `usage: wisp convert llama2c CHECKPOINT.bin --tokenizer TOKENIZER.bin -o OUT.gguf [--type f32]

  --tokenizer PATH   llama2.c tokenizer file (e.g. tok512.bin, tokenizer.bin)
A bare file name not in the current folder is looked up on the model search path and in the
tokenizer folders (the test data beside a checkout).
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
  const input = findInputFile(checkpoint, 'checkpoint');
  if (startsWithGGUF(input)) {
    throw new UsageError(`${checkpoint} is already a GGUF file, not a llama2.c checkpoint: nothing to convert (run it with \`${wispCommand()} run --model ${checkpoint}\`)`);
  }
  const tokenizer = findInputFile(v.tokenizer, '--tokenizer');
  let progress: Progress | undefined;
  const { tensors } = convertLlama2c(input, tokenizer, v.out, {
    type: v.type ? parseTypeName(v.type) : undefined,
    name: v.name,
    onProgress: (done, total) => (progress ??= started(createProgress('convert', total))).update(done),
  });
  progress?.stop();
  console.log(`wrote ${v.out} (${tensors} tensors)`);
}

/** GGUF files begin with the magic "GGUF"; llama2.c checkpoints with a small int32 (dim). */
function startsWithGGUF(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const magic = Buffer.alloc(4);
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.toString('latin1') === 'GGUF';
  } finally {
    closeSync(fd);
  }
}
