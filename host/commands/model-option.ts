// The --model option shared by run, serve and info: a path or a catalog name, found on the search path.
import { findCatalogEntry, loadCatalog } from '../model/catalog.js';
import { wispCommand } from '../invocation.js';
import { isOffline, PullError, pullCommand } from '../model/pull.js';
import { hostOf, ModelNotFoundError, resolveModel, userCacheDir } from '../model/resolve.js';
import { formatBytes } from '../obs/progress.js';

export const MODEL_HELP = `  -m, --model PATH|NAME   a .gguf file or a model name looked up on the search path
                          ($WISP_MODEL_PATH, models/ in the checkout, the user cache); default: the catalog
                          default (or, when only it is on this machine, the catalog's offline model)`;

export function resolveModelOption(spec: string | undefined, note: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): string {
  // a path or name given by the user is resolved without requiring a valid catalog first
  if (spec !== undefined) return resolveModel(spec).path;
  const catalog = loadCatalog();
  try {
    return resolveModel(catalog.default, { catalog }).path;
  } catch (err) {
    // the default is not here: the offline model, if it is (the test data beside a checkout, say),
    // without touching the network; else the default's error (resolveOrPullModel downloads it)
    if (!(err instanceof ModelNotFoundError) || catalog.fallback === undefined) throw err;
    let path: string;
    try {
      path = resolveModel(catalog.fallback, { catalog }).path;
    } catch {
      throw err;
    }
    const d = findCatalogEntry(catalog, catalog.default)!;
    note(
      `wisp: ${d.name} (the catalog default, ${d.size_approximate ? '≈' : ''}${formatBytes(d.size)}) is not on this machine; using ${catalog.fallback}, ` +
        `the offline model, found at ${path}. \`${wispCommand()} pull ${d.name}\` downloads the default.`,
    );
    return path;
  }
}

/**
 * resolveModelOption, and when the model is a catalog model that is not on this machine, pulls it
 * into the user cache first (progress, sha256 check, resume), as `ollama run` does. With
 * WISP_OFFLINE set, or when the download fails, the error says where it looked and what to do.
 */
export async function resolveOrPullModel(spec: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  try {
    return resolveModelOption(spec);
  } catch (err) {
    if (!(err instanceof ModelNotFoundError) || !err.entry || isOffline(env)) throw err;
    const e = err.entry;
    const checked = e.sha256 ? 'sha256-checked' : 'its sha256 recorded: the publisher states none';
    process.stderr.write(`wisp: ${e.name} is not on this machine: downloading it (${e.size_approximate ? '≈' : ''}${formatBytes(e.size)} from ${hostOf(e.url)}, ${checked}) into ${userCacheDir(env)}\n`);
    try {
      return (await pullCommand(e.name, { env, out: (line) => process.stderr.write(`wisp: ${line}\n`) })).path;
    } catch (pullErr) {
      if (!(pullErr instanceof PullError)) throw pullErr;
      throw new Error(`${pullErr.message.split('\n')[0]}\n${err.message}`);
    }
  }
}
