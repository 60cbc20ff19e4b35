// The --model option shared by run, serve and info: a path or a catalog name, found on the search path.
import { loadCatalog } from '../model/catalog.js';
import { resolveModel } from '../model/resolve.js';

export const MODEL_HELP = `  -m, --model PATH|NAME   a .gguf file or a model name looked up on the search path
                          ($WISP_MODEL_PATH, models/ in the checkout, the user cache); default: the catalog default`;

export function resolveModelOption(spec: string | undefined): string {
  // a path or name given by the user is resolved without requiring a valid catalog first
  if (spec !== undefined) return resolveModel(spec).path;
  const catalog = loadCatalog();
  return resolveModel(catalog.default, { catalog }).path;
}
