// `wisp models`: the catalog, and where each model is (or is not) on this machine.
import { loadCatalog } from '../model/catalog.js';
import { ModelNotFoundError, modelSearchDirs, resolveModel } from '../model/resolve.js';
import { formatBytes } from '../obs/progress.js';
import { parseOptions } from './args.js';

const HELP = 'usage: wisp models\n\nLists the catalog (models/catalog.json) and the search path.';

export async function main(argv: string[]): Promise<void> {
  parseOptions(argv, {}, HELP);
  const catalog = loadCatalog();
  console.log('search path:');
  for (const dir of modelSearchDirs()) console.log(`  ${dir}`);
  console.log('\ncatalog:');
  for (const e of catalog.models) {
    let where: string;
    try {
      where = resolveModel(e.name, { catalog }).path;
    } catch (err) {
      if (!(err instanceof ModelNotFoundError)) throw err;
      where = `not on disk (wisp pull ${e.name})`;
    }
    const mark = e.name === catalog.default ? ' (default)' : '';
    console.log(`  ${e.name}${mark}: ${formatBytes(e.size)}, ${e.license}; ${where}`);
  }
}
