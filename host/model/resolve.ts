// Where models live on disk: turns `--model <spec>` (a path or a name) into a file, looking
// through the model search path in a fixed, documented order (see models/README.md).
import { existsSync, statSync } from 'node:fs';
import { wispCommand } from '../invocation.js';
import { homedir } from 'node:os';
import { basename, delimiter, isAbsolute, join, resolve, sep } from 'node:path';
import { formatBytes } from '../obs/progress.js';
import { catalogNames, findCatalogEntry, loadCatalog, repoRoot, type Catalog, type CatalogEntry } from './catalog.js';

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  catalog?: Catalog;
  /** Searched before everything else (e.g. a CLI --model-dir). */
  extraDirs?: string[];
  /** The checkout (or installed package) whose models/ and ../shared/models are searched; default repoRoot(). */
  root?: string;
}

export type SearchDirOrigin = 'option' | 'WISP_MODEL_PATH' | 'repo' | 'shared' | 'cache';

export interface SearchDir {
  dir: string;
  from: SearchDirOrigin;
}

export interface ResolvedModel {
  path: string;
  entry?: CatalogEntry;
  /** Directories looked in (for a path spec: the file itself). */
  searched: string[];
}

const ORIGIN_LABEL: Record<SearchDirOrigin, string> = {
  option: 'given by the caller',
  WISP_MODEL_PATH: 'from WISP_MODEL_PATH',
  repo: "wisp's models/ folder",
  shared: 'test data beside the checkout',
  cache: 'user cache, where `wisp pull` saves',
};

export interface NotFoundDetails {
  spec: string;
  dirs: SearchDir[];
  /** File names tried in each directory. */
  candidates: string[];
  entry?: CatalogEntry;
  /** Names in the catalog, offered when the spec is unknown. */
  known: string[];
  /** Leftover `.part` files of an interrupted pull. */
  partials?: string[];
  /** The spec was a path, not a name. */
  isPath?: boolean;
  /** Directories found where a model file was looked for (a folder named x.gguf). */
  directories?: string[];
}

/** A model name or path that matched no file. The message says where we looked and how to fix it. */
export class ModelNotFoundError extends Error {
  readonly code = 'WISP_MODEL_NOT_FOUND';
  readonly spec: string;
  readonly entry?: CatalogEntry;
  /** Every directory looked in (for a path spec: the path itself). */
  readonly searched: string[];

  constructor(d: NotFoundDetails) {
    super(d.isPath ? pathMessage(d.spec, d.dirs[0]?.dir ?? d.spec, d.known, d.directories?.length ? true : false) : nameMessage(d));
    this.name = 'ModelNotFoundError';
    this.spec = d.spec;
    this.entry = d.entry;
    this.searched = d.dirs.map((x) => x.dir);
  }
}

/** The user cache of downloaded models: $WISP_CACHE_DIR, else $XDG_CACHE_HOME/wisp/models, else ~/.cache/wisp/models. */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.WISP_CACHE_DIR) return resolve(expandHome(env.WISP_CACHE_DIR, env));
  if (env.XDG_CACHE_HOME) return join(resolve(expandHome(env.XDG_CACHE_HOME, env)), 'wisp', 'models');
  return join(homeDir(env), '.cache', 'wisp', 'models');
}

/**
 * The search path with where each entry came from, first match wins, duplicates dropped:
 * WISP_MODEL_PATH, models/ in the checkout, the test data beside a checkout (../shared/models,
 * when it exists), then the user cache where `wisp pull` saves. Every command and `npm start`
 * use this one list.
 */
export function searchDirsWithOrigin(opts: ResolveOptions = {}): SearchDir[] {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const root = opts.root ?? repoRoot();
  const dirs: SearchDir[] = [];
  const add = (dir: string, from: SearchDirOrigin) => {
    const abs = resolve(cwd, expandHome(dir, env));
    if (!dirs.some((d) => d.dir === abs)) dirs.push({ dir: abs, from });
  };
  for (const d of opts.extraDirs ?? []) add(d, 'option');
  for (const d of (env.WISP_MODEL_PATH ?? '').split(delimiter)) if (d.trim()) add(d.trim(), 'WISP_MODEL_PATH');
  add(join(root, 'models'), 'repo');
  const shared = join(root, '..', 'shared', 'models');
  if (isDirectory(shared)) add(shared, 'shared');
  add(userCacheDir(env), 'cache');
  return dirs;
}

/** Directories searched for a model name, in order. */
export function modelSearchDirs(opts: ResolveOptions = {}): string[] {
  return searchDirsWithOrigin(opts).map((d) => d.dir);
}

/**
 * A path names that file: absolute, relative with a '/', '~/…', or anything that exists in the
 * current directory (`--model README.md` is ./README.md, never a README.md on the search path).
 * Anything else is a model name looked up as the catalog entry's file, `<name>.gguf`, then
 * `<name>` in each search directory in turn.
 */
export function resolveModel(spec: string, opts: ResolveOptions = {}): ResolvedModel {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  if (looksLikePath(spec, cwd, env)) return resolvePath(spec, cwd, env, opts.catalog);

  const catalog = opts.catalog ?? loadCatalog();
  const entry = findCatalogEntry(catalog, spec);
  const candidates = candidateFiles(spec, entry);
  const dirs = searchDirsWithOrigin(opts);
  const directories: string[] = [];
  for (let i = 0; i < dirs.length; i++) {
    for (const file of candidates) {
      const path = join(dirs[i].dir, file);
      if (isFile(path)) {
        return { path, entry: entry ?? findCatalogEntry(catalog, file), searched: dirs.slice(0, i + 1).map((d) => d.dir) };
      }
      if (isDirectory(path)) directories.push(path);
    }
  }
  const partials = entry ? dirs.map((d) => join(d.dir, `${entry.file}.part`)).filter(isFile) : [];
  throw new ModelNotFoundError({ spec, dirs, candidates, entry, known: catalogNames(catalog), partials, directories });
}

function resolvePath(spec: string, cwd: string, env: NodeJS.ProcessEnv, catalog?: Catalog): ResolvedModel {
  const path = resolve(cwd, expandHome(spec, env));
  // A broken catalog must not stop someone from running a file they point at directly.
  const cat = catalog ?? tryLoadCatalog();
  if (isFile(path)) {
    return { path, entry: cat ? findCatalogEntry(cat, basename(path)) : undefined, searched: [path] };
  }
  const directories = isDirectory(path) ? [path] : [];
  throw new ModelNotFoundError({ spec, dirs: [{ dir: path, from: 'option' }], candidates: [], known: cat ? catalogNames(cat) : [], isPath: true, directories });
}

function candidateFiles(spec: string, entry: CatalogEntry | undefined): string[] {
  const names = [entry?.file, spec.toLowerCase().endsWith('.gguf') ? undefined : `${spec}.gguf`, spec];
  return [...new Set(names.filter((n): n is string => !!n))];
}

function looksLikePath(spec: string, cwd: string, env: NodeJS.ProcessEnv): boolean {
  if (isAbsolute(spec) || spec.includes('/') || spec.includes(sep) || spec.startsWith('~')) return true;
  const here = resolve(cwd, expandHome(spec, env));
  // a folder named like a model file is a mistake to report, not a name to look up
  return isFile(here) || (spec.toLowerCase().endsWith('.gguf') && isDirectory(here));
}

function tryLoadCatalog(): Catalog | undefined {
  try {
    return loadCatalog();
  } catch {
    return undefined;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function homeDir(env: NodeJS.ProcessEnv): string {
  return env.HOME || homedir();
}

function expandHome(p: string, env: NodeJS.ProcessEnv): string {
  if (p === '~') return homeDir(env);
  if (p.startsWith('~/') || p.startsWith(`~${sep}`)) return join(homeDir(env), p.slice(2));
  return p;
}

function nameMessage({ spec, dirs, candidates, entry, known, partials = [], directories = [] }: NotFoundDetails): string {
  const wisp = wispCommand();
  const width = Math.max(...dirs.map((d) => d.dir.length));
  const where = dirs.map((d) => `  ${d.dir.padEnd(width)}  (${ORIGIN_LABEL[d.from]}${existsSync(d.dir) ? '' : '; does not exist'})`);
  const fix = entry
    ? `run \`${wisp} pull ${entry.name}\` to download it (${formatBytes(entry.size)})`
    : `give the path of a .gguf file, or a catalog name (${known.length ? known.join(', ') : 'none'}; \`${wisp} models\` lists them)`;
  const lines = [
    `model "${spec}" not found${entry ? '' : ' (it is not in the model catalog either)'}: ${fix}.`,
    `Looked for ${candidates.join(', ')} in:`,
    ...where,
    ...directories.map((d) => `${d} is a directory, not a model file.`),
  ];
  const cache = dirs.find((d) => d.from === 'cache')?.dir;
  if (entry) {
    for (const p of partials) lines.push(`A partial download exists at ${p}; \`${wisp} pull ${entry.name}\` resumes it.`);
    lines.push(
      `It downloads from ${hostOf(entry.url)} (this needs network access)${cache ? ` into ${cache}` : ''}; offline, copy ${entry.file} ` +
        'into one of the folders above, set WISP_MODEL_PATH=/dir/with/models, or pass --model /path/to/file.gguf.',
    );
  } else {
    lines.push('To fix: set WISP_MODEL_PATH=/dir/with/models or pass --model /path/to/file.gguf.');
    if (known.length) lines.push(`Models in the catalog (download with \`${wisp} pull <name>\`): ${known.join(', ')}.`);
  }
  return lines.join('\n');
}

function pathMessage(spec: string, abs: string, known: string[], isDir: boolean): string {
  const wisp = wispCommand();
  if (isDir) return `model path ${spec} is a directory, not a GGUF file${abs !== spec ? ` (${abs})` : ''}: pass the .gguf file inside it, e.g. --model ${spec.replace(/\/+$/, '')}/model.gguf.`;
  const names = known.length ? `\nModels in the catalog (download with \`${wisp} pull <name>\`): ${known.join(', ')}.` : '';
  return (
    `model file ${spec} not found${abs !== spec ? ` (looked at ${abs})` : ''}: check the path, or give a catalog name (\`${wisp} models\` lists them).\n` +
    `To fix: check the path, pass --model /path/to/file.gguf, or give a model name, looked up in each ` +
    `directory of WISP_MODEL_PATH=/dir/with/models, then wisp's models/ folder, then the user cache.${names}`
  );
}

/** The host of a URL for messages (the URL itself if it does not parse). */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
