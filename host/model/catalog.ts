// The model catalog (models/catalog.json): which models `wisp pull` can fetch, from where, and the
// size and sha256 that a download must match (where the publisher states a hash; otherwise the first
// download records one, ./recorded-hash.ts). Architecture and vocabulary are not repeated here:
// the GGUF is the source of truth for those.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, parse, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CatalogEntry {
  name: string;
  file: string;
  url: string;
  /** The publisher's sha256 of the file; absent: recorded on first download (trust on first use). */
  sha256?: string;
  size: number;
  /** `size` is a rounded figure (display, memory checks), not checked against a download. */
  size_approximate?: boolean;
  license: string;
  description: string;
  /** Fallback chat template name when the GGUF carries none; null for a base model. */
  chat_template?: string | null;
  /** Number of weights. */
  params?: number;
  /** ggml weight type name, e.g. F32, Q4_0. */
  quant?: string;
}

export interface Catalog {
  /** The model served when none is named (downloaded first when it is not on this machine). */
  default: string;
  /** Served instead, without touching the network, when the default is not on this machine and it is (the offline and test model). */
  fallback?: string;
  models: CatalogEntry[];
}

/** A catalog file that cannot be read, parsed or validated. */
export class CatalogError extends Error {
  readonly code = 'WISP_CATALOG_INVALID';
  constructor(message: string, readonly source: string, readonly problems: string[] = []) {
    super(message);
    this.name = 'CatalogError';
  }
}

let cachedRoot: string | undefined;

/**
 * The checkout (or installed package) root: the nearest ancestor of this module holding the
 * package.json named "wisp". Walking up instead of counting levels keeps it right whether the
 * module runs from dist/host/model or is loaded from source by another tool.
 */
export function repoRoot(): string {
  if (cachedRoot) return cachedRoot;
  const here = dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = dirname(dir)) {
    if (isWispPackage(join(dir, 'package.json'))) return (cachedRoot = dir);
    if (dir === parse(dir).root) break;
  }
  // Fallback for an unusual layout: dist/host/model -> three levels up.
  return (cachedRoot = resolve(here, '..', '..', '..'));
}

function isWispPackage(file: string): boolean {
  if (!existsSync(file)) return false;
  try {
    return JSON.parse(readFileSync(file, 'utf8')).name === 'wisp';
  } catch {
    return false;
  }
}

/** models/catalog.json in the checkout, or the file $WISP_CATALOG names (a private catalog or mirror). */
export function defaultCatalogPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.WISP_CATALOG ? resolve(env.WISP_CATALOG) : join(repoRoot(), 'models', 'catalog.json');
}

export function catalogSchemaPath(): string {
  return join(repoRoot(), 'models', 'catalog.schema.json');
}

let validator: ValidateFunction | undefined;

function catalogValidator(): ValidateFunction {
  if (validator) return validator;
  const schema = JSON.parse(readFileSync(catalogSchemaPath(), 'utf8'));
  validator = new Ajv({ allErrors: true }).compile(schema);
  return validator;
}

/** Reads and validates a catalog file (default: the shipped models/catalog.json). */
export function loadCatalog(path: string = defaultCatalogPath()): Catalog {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CatalogError(`cannot read model catalog ${path}: ${(err as Error).message}`, path);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new CatalogError(`model catalog ${path} is not valid JSON: ${(err as Error).message}`, path);
  }
  return parseCatalog(data, path);
}

/** Validates already-parsed catalog data; `source` names it in error messages. */
export function parseCatalog(data: unknown, source = 'catalog'): Catalog {
  const validate = catalogValidator();
  if (!validate(data)) {
    const problems = (validate.errors ?? []).map((e) => describeError(e, data));
    throw invalid(source, problems);
  }
  const catalog = data as Catalog;
  const problems = checkConsistency(catalog);
  if (problems.length > 0) throw invalid(source, problems);
  return catalog;
}

function invalid(source: string, problems: string[]): CatalogError {
  const list = problems.map((p) => `  - ${p}`).join('\n');
  return new CatalogError(`invalid model catalog ${source}:\n${list}`, source, problems);
}

/** Rules JSON Schema cannot say: unique names and files, and a default and fallback that exist. */
function checkConsistency(catalog: Catalog): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  catalog.models.forEach((m, i) => {
    for (const key of [m.name.toLowerCase(), m.file.toLowerCase()]) {
      const first = seen.get(key);
      if (first !== undefined && first !== i) {
        problems.push(`${entryLabel(catalog, i)}: "${key}" is already used by ${entryLabel(catalog, first)}`);
      }
      seen.set(key, i);
    }
  });
  if (!findCatalogEntry(catalog, catalog.default)) {
    problems.push(`default: "${catalog.default}" is not the name of any model in the catalog`);
  }
  if (catalog.fallback !== undefined && !findCatalogEntry(catalog, catalog.fallback)) {
    problems.push(`fallback: "${catalog.fallback}" is not the name of any model in the catalog`);
  }
  return problems;
}

/** Turns an ajv error into "models[0] (stories260K).sha256: must match pattern …". */
function describeError(e: ErrorObject, data: unknown): string {
  const parts = e.instancePath.split('/').slice(1).map(decodePointer);
  let where = 'catalog';
  if (parts[0] === 'models' && parts.length >= 2) {
    where = entryLabel(data as Catalog, Number(parts[1]));
    if (parts.length > 2) where += `.${parts.slice(2).join('.')}`;
  } else if (parts.length > 0) {
    where = parts.join('.');
  }
  switch (e.keyword) {
    case 'required':
      return `${where}: missing required field "${(e.params as { missingProperty: string }).missingProperty}"`;
    case 'additionalProperties':
      return `${where}: unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"`;
    case 'pattern':
      return `${where}: ${JSON.stringify(valueAt(data, parts))} does not match ${patternHint(parts.at(-1))}`;
    default:
      return `${where}: ${e.message ?? e.keyword}`;
  }
}

function patternHint(field: string | undefined): string {
  switch (field) {
    case 'sha256': return 'the expected form (64 lower-case hex digits)';
    case 'url': return 'the expected form (an http:// or https:// URL)';
    case 'file': return 'the expected form (a plain file name ending in .gguf)';
    case 'name': return 'the expected form (letters, digits, ".", "_", "-")';
    default: return 'the expected form';
  }
}

function entryLabel(catalog: Catalog, index: number): string {
  const name = (catalog?.models?.[index] as Partial<CatalogEntry> | undefined)?.name;
  return typeof name === 'string' ? `models[${index}] ("${name}")` : `models[${index}]`;
}

function decodePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

function valueAt(data: unknown, parts: string[]): unknown {
  let v: any = data;
  for (const p of parts) v = v?.[p];
  return v;
}

/** Finds an entry by name (case-insensitive) or by its file name. */
export function findCatalogEntry(catalog: Catalog, name: string): CatalogEntry | undefined {
  const key = name.toLowerCase();
  return (
    catalog.models.find((m) => m.name.toLowerCase() === key) ??
    catalog.models.find((m) => m.file.toLowerCase() === key)
  );
}

export function catalogNames(catalog: Catalog): string[] {
  return catalog.models.map((m) => m.name);
}
