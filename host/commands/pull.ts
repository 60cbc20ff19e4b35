// `wisp pull [NAME]`: download a catalog model into the user cache (progress, sha256, resume).
import { findCatalogEntry, loadCatalog } from '../model/catalog.js';
import { pullCommand } from '../model/pull.js';
import { expectedHash } from '../model/recorded-hash.js';
import { ModelNotFoundError, resolveModel } from '../model/resolve.js';
import { sha256File } from '../model/sha256.js';
import { parseOptions, UsageError } from './args.js';

const HELP = `usage: wisp pull [NAME] [--dir DIR] [--url URL]

  NAME          a model in models/catalog.json (default: the catalog's default model)
  --dir DIR     where to put it (default: the user cache, $WISP_CACHE_DIR or ~/.cache/wisp/models)
  --url URL     download from this URL instead of the catalog's (a mirror); sha256 is still checked
An interrupted pull keeps NAME.gguf.part and resumes from it next time. For a model whose
publisher states no sha256, the first download records the hash it got (FILE.sha256, beside
the model) and later pulls check against it.`;

export async function main(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseOptions(argv, { dir: { type: 'string' }, url: { type: 'string' } }, HELP, true);
  if (positionals.length > 1) throw new UsageError(`pull takes one model name\n\n${HELP}`);
  if (v.dir === undefined && v.url === undefined && (await alreadyOnSearchPath(positionals[0]))) return;
  await pullCommand(positionals[0], { dir: v.dir, url: v.url });
}

/** A verified copy anywhere on the search path (the test data beside a checkout, say) needs no download. */
async function alreadyOnSearchPath(name: string | undefined): Promise<boolean> {
  const catalog = loadCatalog();
  const entry = findCatalogEntry(catalog, name ?? catalog.default);
  if (!entry) return false; // pullCommand names the catalog's models
  let path: string;
  try {
    path = resolveModel(entry.name, { catalog }).path;
  } catch (err) {
    if (err instanceof ModelNotFoundError) return false;
    throw err;
  }
  const expected = expectedHash(entry, path);
  if (!expected) {
    console.log(`${entry.name}: already present at ${path} (its publisher states no sha256 and none was recorded there); nothing to download`);
    return true;
  }
  if ((await sha256File(path)) !== expected.sha256) return false; // a different or damaged file: pull a good one
  const against = expected.source === 'recorded' ? ' against the hash recorded on first download' : '';
  console.log(`${entry.name}: already present at ${path} (sha256 ${expected.sha256.slice(0, 12)}… verified${against}); nothing to download`);
  return true;
}
