// Loading device profiles: JSON Schema validation (device-profiles/profile.schema.json, with ajv),
// then the checks a schema cannot express. A bad profile is a ProfileError naming the file and
// every bad field; a good one is a LoadedProfile.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { repoRoot } from '../model/catalog.js';
import { ProfileError, type ProfileProblem } from './errors.js';
import { parseLayerSpec } from './layers.js';
import type { DeviceProfile, LoadedProfile, Provider } from './types.js';

export function profilesDir(): string {
  return join(repoRoot(), 'device-profiles');
}

export function profileSchemaPath(): string {
  return join(profilesDir(), 'profile.schema.json');
}

let validator: ValidateFunction | undefined;

function profileValidator(): ValidateFunction {
  if (validator) return validator;
  const schema = JSON.parse(readFileSync(profileSchemaPath(), 'utf8'));
  // `expected` is our annotation: the one-line wording of a field whose schema is an anyOf or a pattern
  const ajv = new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true });
  ajv.addVocabulary(['expected']);
  validator = ajv.compile(schema);
  return validator;
}

/** A path as the user would type it: relative to the working directory when inside it. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : path;
}

/** Reads and validates one profile file. */
export function loadProfile(path: string): LoadedProfile {
  const source = displayPath(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ProfileError(source, [{ pointer: '', message: `cannot read: ${(err as Error).message}` }]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ProfileError(source, [{ pointer: '', message: `not valid JSON: ${(err as Error).message}` }]);
  }
  return parseProfile(data, source);
}

/** The profile files of a folder (every *.json but the schema), sorted by name. */
export function profileFiles(dir: string = profilesDir()): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json'))
    .sort()
    .map((f) => join(dir, f));
}

/** Loads every profile of a folder (default: the shipped device-profiles/). One bad file fails the lot. */
export function loadProfiles(dir: string = profilesDir()): LoadedProfile[] {
  const profiles = profileFiles(dir).map(loadProfile);
  const seen = new Map<string, string>();
  for (const p of profiles) {
    const first = seen.get(p.name);
    if (first) throw new ProfileError(p.source, [{ pointer: '/name', message: `"${p.name}" is already the name of ${first}` }]);
    seen.set(p.name, p.source);
  }
  return profiles;
}

/** --profile NAME|PATH: a file when it looks like a path (ends in .json or has a slash), else a profile name in `dir`. */
export function namedProfile(spec: string, dir: string = profilesDir()): LoadedProfile {
  if (spec.endsWith('.json') || spec.includes('/') || spec.includes(sep) || isAbsolute(spec)) return loadProfile(spec);
  const all = loadProfiles(dir);
  const found = all.find((p) => p.name === spec.toLowerCase());
  if (!found) throw new ProfileError(spec, [{ pointer: '', message: `no profile named '${spec}' (profiles: ${all.map((p) => p.name).join(', ')})` }]);
  return found;
}

/**
 * A routing table given on its own (`wisp run --route '<json>'`), or replacing a profile's: the
 * table is checked as the profile's `routing` (schema and layer-spec syntax), so a malformed one is
 * a ProfileError naming `/routing/...`. Without a base profile the providers are those the table
 * names, in order, then cpu (so `onnx:cuda` falls back to the CPU provider where CUDA is missing).
 */
export function routeProfile(table: unknown, base?: DeviceProfile & { source?: string }, source = '--route'): LoadedProfile {
  let providers: string[];
  if (base) providers = [...base.providers];
  else {
    const named: string[] = [];
    const t = table as { default?: unknown; rules?: Array<{ backend?: unknown }> } | null;
    const specs = t && typeof t === 'object' ? [t.default, ...(Array.isArray(t.rules) ? t.rules.map((r) => (r && typeof r === 'object' ? r.backend : undefined)) : [])] : [];
    for (const b of specs) if (typeof b === 'string' && b.startsWith('onnx:')) named.push(b.slice(5));
    providers = [...new Set([...named, 'cpu'])];
  }
  const data = base
    ? { ...structuredClone(base), routing: table, providers }
    : { name: 'route', description: 'a routing table given on the command line', match: {}, threads: 1, simd: 'simd128', providers, routing: table, memory: { fraction: 0.6 }, batch: { maxSequences: 4, maxBatchTokens: 1024 } };
  delete (data as { source?: string }).source;
  return parseProfile(data, base ? `${base.source ?? base.name} with ${source}` : source);
}

/** Validates already-parsed profile data; `source` names it in errors. */
export function parseProfile(data: unknown, source = 'profile'): LoadedProfile {
  const validate = profileValidator();
  if (!validate(data)) throw new ProfileError(source, schemaProblems(validate.errors ?? [], data));
  const profile = data as DeviceProfile;
  const problems = semanticProblems(profile);
  if (problems.length > 0) throw new ProfileError(source, problems);
  return Object.assign(structuredClone(profile), { source });
}

/** Rules the schema cannot say. */
function semanticProblems(p: DeviceProfile): ProfileProblem[] {
  const problems: ProfileProblem[] = [];
  if (p.match.deviceModel !== undefined) {
    try {
      new RegExp(p.match.deviceModel, 'i');
    } catch (err) {
      problems.push({ pointer: '/match/deviceModel', message: `not a regular expression: ${(err as Error).message}` });
    }
  }
  for (const name of Object.keys(p.providerOptions ?? {})) {
    if (!p.providers.includes(name as Provider)) {
      problems.push({ pointer: `/providerOptions/${name}`, message: `options for "${name}", which is not in /providers (${p.providers.join(', ') || 'empty'})` });
    }
  }
  const checkBackend = (pointer: string, backend: string) => {
    if (backend === 'onnx' && p.providers.length === 0) {
      problems.push({ pointer, message: '"onnx" needs at least one provider in /providers' });
    }
    const provider = backend.startsWith('onnx:') ? backend.slice(5) : undefined;
    if (provider && !p.providers.includes(provider as Provider)) {
      problems.push({ pointer, message: `"${backend}" names provider "${provider}", which is not in /providers (${p.providers.join(', ') || 'empty'})` });
    }
  };
  checkBackend('/routing/default', p.routing.default);
  (p.routing.rules ?? []).forEach((rule, i) => {
    const at = `/routing/rules/${i}`;
    checkBackend(`${at}/backend`, rule.backend);
    if (rule.layers !== undefined) {
      try {
        parseLayerSpec(rule.layers);
      } catch (err) {
        problems.push({ pointer: `${at}/layers`, message: (err as Error).message });
      }
      if (rule.ops?.includes('head')) {
        problems.push({ pointer: `${at}/ops`, message: '"head" is not a layer op: route the head in a rule without "layers"' });
      }
    }
  });
  return problems;
}

/** ajv errors as one line per problem; an anyOf's branch errors fold into its `expected` wording. */
function schemaProblems(errors: ErrorObject[], data: unknown): ProfileProblem[] {
  const folded = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => `${e.schemaPath}/`);
  const problems: ProfileProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (folded.some((prefix) => e.schemaPath.startsWith(prefix))) continue;
    if (e.keyword === 'propertyNames') continue; // its cause, reported with the name itself, follows
    const p = e.propertyName !== undefined
      ? { pointer: `${e.instancePath}/${e.propertyName}`, message: `${JSON.stringify(e.propertyName)} is not one of: ${((e.params as { allowedValues?: unknown[] }).allowedValues ?? []).join(', ')}` }
      : { pointer: e.instancePath || '/', message: describe(e, data) };
    const key = `${p.pointer}\0${p.message}`;
    if (!seen.has(key)) problems.push(p);
    seen.add(key);
  }
  return problems;
}

function describe(e: ErrorObject, data: unknown): string {
  const value = valueAt(data, e.instancePath);
  const got = `, got ${JSON.stringify(value)}`;
  const expected = (e.parentSchema as { expected?: string } | undefined)?.expected;
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = (e.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys((e.parentSchema as { properties?: object })?.properties ?? {}).filter((k) => k !== '$schema');
      return `unknown field "${field}"${known.length ? ` (known: ${known.join(', ')})` : ''}`;
    }
    case 'required':
      return `missing required field "${(e.params as { missingProperty: string }).missingProperty}"`;
    case 'enum':
      return `${JSON.stringify(value)} is not one of: ${((e.params as { allowedValues: unknown[] }).allowedValues).join(', ')}`;
    case 'minProperties':
      return `must give at least one of: ${Object.keys((e.parentSchema as { properties?: object })?.properties ?? {}).join(', ')}`;
    case 'anyOf':
    case 'oneOf':
    case 'pattern':
      return expected ? (e.keyword === 'pattern' ? `${JSON.stringify(value)} is not ${expected}` : `must be ${expected}${got}`) : `${e.message}${got}`;
    case 'type':
      return `${e.message}${got}`;
    default:
      return `${e.message ?? e.keyword}${typeof value === 'object' ? '' : got}`;
  }
}

function valueAt(data: unknown, pointer: string): unknown {
  let v: any = data;
  for (const part of pointer.split('/').slice(1)) v = v?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return v;
}
