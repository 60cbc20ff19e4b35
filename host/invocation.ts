// How the user runs wisp here, so that hints in messages name a command that works where they
// are: `wisp` when it is on the PATH (installed, or `npm link`ed), `npx wisp` in a checkout (npm
// puts the package's own bin first there), else `node <path to cli.js>`. And wisp's version.
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** The checkout or installed package: dist/host/ is two levels below it. */
const packageRoot = resolve(here, '..', '..');

/** wisp's version, from its package.json. */
export const WISP_VERSION: string = (() => {
  try {
    return JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')).version as string;
  } catch {
    return '0.0.0';
  }
})();

let cached: string | undefined;

/**
 * The command to type for wisp, e.g. `npx wisp` (as in "run `npx wisp pull stories260K`").
 * `where` is for tests; without it the answer is for this process, worked out once.
 */
export function wispCommand(where?: { env: NodeJS.ProcessEnv; argv1?: string; cwd: string }): string {
  if (where) return chooseCommand(where.env, where.argv1, where.cwd);
  return (cached ??= chooseCommand(process.env, process.argv[1], process.cwd()));
}

function chooseCommand(env: NodeJS.ProcessEnv, argv1: string | undefined, cwd: string): string {
  // npm exec / npx: the same words work again from here
  if (env.npm_command === 'exec') return 'npx wisp';
  if (onPath('wisp', env)) return 'wisp';
  if (inside(cwd, packageRoot) && existsSync(join(packageRoot, 'package.json'))) return 'npx wisp';
  const cli = argv1 ?? join(packageRoot, 'dist', 'host', 'cli.js');
  const rel = relative(cwd, cli);
  return `node ${rel.length < cli.length && !rel.startsWith('..') ? rel : cli}`;
}

/** A `wisp` executable on the PATH that is this wisp (not some other program of that name). */
function onPath(name: string, env: NodeJS.ProcessEnv): boolean {
  const cli = join(packageRoot, 'dist', 'host', 'cli.js');
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      if (realpathSync(p) === realpathSync(cli)) return true;
    } catch {
      // not there
    }
  }
  return false;
}

function inside(dir: string, root: string): boolean {
  const r = relative(root, dir);
  return r === '' || (!r.startsWith('..') && !r.startsWith(sep) && !/^[A-Za-z]:/.test(r));
}
