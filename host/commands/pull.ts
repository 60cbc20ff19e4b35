// `wisp pull [NAME]`: download a catalog model into the user cache (progress, sha256, resume).
import { pullCommand } from '../model/pull.js';
import { parseOptions, UsageError } from './args.js';

const HELP = `usage: wisp pull [NAME] [--dir DIR] [--url URL]

  NAME          a model in models/catalog.json (default: the catalog's default model)
  --dir DIR     where to put it (default: the user cache, $WISP_CACHE_DIR or ~/.cache/wisp/models)
  --url URL     download from this URL instead of the catalog's (a mirror); sha256 is still checked
An interrupted pull keeps NAME.gguf.part and resumes from it next time.`;

export async function main(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseOptions(argv, { dir: { type: 'string' }, url: { type: 'string' } }, HELP, true);
  if (positionals.length > 1) throw new UsageError(`pull takes one model name\n\n${HELP}`);
  await pullCommand(positionals[0], { dir: v.dir, url: v.url });
}
