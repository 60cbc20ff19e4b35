// The --model option shared by run, serve and info: a path or a catalog name, found on the search path.
import { loadCatalog } from '../model/catalog.js';
import { resolveModel } from '../model/resolve.js';

export const MODEL_HELP = `  -m, --model PATH|NAME   a .gguf file or a model name looked up on the search path
                          ($WISP_MODEL_PATH, ./models, the user cache); default: the catalog default`;

export function resolveModelOption(spec: string | undefined): string {
  const catalog = loadCatalog();
  return resolveModel(spec ?? catalog.default, { catalog }).path;
}
