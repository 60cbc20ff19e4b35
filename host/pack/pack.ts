// `wisp pack`: a self-contained deployment bundle for one target (docs/DEPLOY.md). Gathers the
// built host, kernels, profiles and the production dependencies for that platform only, optionally
// a model and a Node runtime, adds the systemd unit, config and install script, and writes one
// gzipped tarball; returns what went in, by group, for the listing.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { repoRoot } from '../model/catalog.js';
import { resolveModel } from '../model/resolve.js';
import { sha256File } from '../model/sha256.js';
import { NO_PROGRESS, type Progress } from '../obs/progress.js';
import { namedProfile } from '../profiles/load.js';
import type { LoadedProfile } from '../profiles/types.js';
import { appEntries, fileEntry, textEntry, type BundleEntry, type EntryGroup } from './contents.js';
import { productionTree, type LeftOut } from './dependencies.js';
import { PackError } from './errors.js';
import { fetchNodeRuntime, verifyRuntime, type NodeRuntime } from './node-runtime.js';
import { targetName, type PackTarget } from './target.js';
import { writeTarball } from './write-tarball.js';

export interface PackOptions {
  target: PackTarget;
  /** Output file; default wisp-<version>-<platform>-<arch>.tgz in the working directory. */
  out?: string;
  /** A model name or path, resolved through the model search path. */
  model?: string;
  /** A Node version for node-linux-<arch> (24, 24.22, 24.22.3). */
  withNode?: string;
  /** The device profile whose memory budget sets the unit's MemoryMax (default: the target's generic one). */
  profile?: string;
  log?: (line: string) => void;
  /** Made once the archive's size (before compression) is known. */
  progress?: (total: number) => Progress;
  /** Pack time, for the bundle id (tests pass a fixed one). */
  now?: Date;
}

export interface PackGroupSummary {
  group: EntryGroup;
  files: number;
  bytes: number;
  detail: string;
}

export interface PackResult {
  out: string;
  bundleId: string;
  top: string;
  bytes: number;
  sha256: string;
  groups: PackGroupSummary[];
  leftOut: LeftOut[];
  leftOutBytes: number;
  node?: NodeRuntime;
  entries: BundleEntry[];
}

interface BundleFacts {
  version: string;
  bundleId: string;
  top: string;
  target: PackTarget;
  profile: LoadedProfile;
  model?: { file: string; sha256: string; size: number; name: string };
  node?: NodeRuntime;
  commit?: string;
}

function gitCommit(root: string): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** 2025-12-06T03:10:00.123Z -> 20251206T031000Z */
function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

function template(root: string, name: string): string {
  try {
    return readFileSync(join(root, 'host', 'pack', 'templates', name), 'utf8');
  } catch (err) {
    throw new PackError(`cannot read the deploy template ${name} (wisp pack runs in a wisp checkout): ${(err as Error).message}`);
  }
}

function fill(text: string, values: Record<string, string>): string {
  return text.replace(/\{\{([A-Z_]+)\}\}/g, (m, key: string) => {
    if (!(key in values)) throw new PackError(`deploy template placeholder ${m} has no value`);
    return values[key];
  });
}

/** MemoryMax as the bundle's unit states it (install.sh recomputes it on the device when both fields are set). */
export function memoryMaxOf(profile: LoadedProfile): { value: string; note: string; percent: string; budgetMiB: string } {
  const { fraction, budgetMiB } = profile.memory;
  const percent = fraction !== undefined ? String(Math.round(fraction * 100)) : '';
  const budget = budgetMiB !== undefined ? String(budgetMiB) : '';
  const value = budget && !percent ? `${budget}M` : percent ? `${percent}%` : 'infinity';
  const parts = [percent && `${percent}% of the memory`, budget && `${budget} MiB`].filter(Boolean);
  const note = parts.length === 2 ? `${parts.join(' or ')}, whichever is smaller (install.sh computes it)` : parts[0] || 'no memory budget';
  return { value, note, percent, budgetMiB: budget };
}

function deployEntries(root: string, f: BundleFacts): BundleEntry[] {
  const mem = memoryMaxOf(f.profile);
  const modelArg = f.model ? `--model ${f.model.file} ` : '';
  const bundleJson = {
    name: 'wisp',
    version: f.version,
    bundleId: f.bundleId,
    platform: f.target.platform,
    arch: f.target.arch,
    commit: f.commit,
    profile: f.profile.name,
    model: f.model,
    node: f.node && {
      package: f.node.package,
      version: f.node.version,
      tarballSha256: f.node.tarballSha256,
      integrity: f.node.integrity,
      pinned: f.node.pinned,
      binarySha256: f.node.binarySha256,
    },
  };
  return [
    textEntry('install.sh', 'deploy', fill(template(root, 'install.sh'), {
      BUNDLE_ID: f.bundleId,
      UNAME_MACHINE: f.target.unameMachine,
      MEM_PERCENT: mem.percent,
      MEM_BUDGET_MIB: mem.budgetMiB,
    }), 0o755),
    textEntry('bin/wisp', 'deploy', template(root, 'wisp'), 0o755),
    textEntry('deploy/wisp.service', 'deploy', fill(template(root, 'wisp.service'), {
      PROFILE: f.profile.name,
      MEMORY_NOTE: mem.note,
      MEMORY_MAX: mem.value,
    })),
    textEntry('deploy/wisp.env', 'deploy', fill(template(root, 'wisp.env'), { MODEL_ARG: modelArg })),
    textEntry('bundle.json', 'deploy', `${JSON.stringify(bundleJson, null, 2)}\n`),
  ];
}

async function bundledModel(spec: string, log: (line: string) => void): Promise<{ entry: BundleEntry; facts: NonNullable<BundleFacts['model']> }> {
  const found = resolveModel(spec);
  const file = basename(found.path);
  log(`model: ${found.path} (checking its sha256)`);
  const sha256 = await sha256File(found.path);
  if (found.entry && found.entry.file === file && found.entry.sha256 !== sha256) {
    throw new PackError(`${found.path}: sha256 ${sha256} differs from the catalog's ${found.entry.sha256} for ${found.entry.name}: download it again (wisp pull ${found.entry.name})`);
  }
  const entry = fileEntry(dirname(found.path), file, 'model', `models/${file}`);
  return { entry, facts: { file, sha256, size: entry.size, name: found.entry?.name ?? file.replace(/\.gguf$/i, '') } };
}

const GROUP_ORDER: EntryGroup[] = ['app', 'kernels', 'profiles', 'dependencies', 'onnxruntime binding', 'node runtime', 'model', 'deploy'];

function summarize(entries: BundleEntry[], packages: number, f: BundleFacts): PackGroupSummary[] {
  return GROUP_ORDER.flatMap((group) => {
    const list = entries.filter((e) => e.group === group);
    if (list.length === 0) return [];
    const detail: Record<EntryGroup, string> = {
      app: 'dist/host, schemas, catalog, docs, examples',
      kernels: list.filter((e) => e.name.endsWith('.wasm')).map((e) => basename(e.name)).join(' '),
      profiles: `${list.filter((e) => !e.name.endsWith('.schema.json')).length} device profiles`,
      dependencies: `${packages} packages for ${targetName(f.target)}`,
      'onnxruntime binding': list.map((e) => e.name.replace(/^node_modules\/onnxruntime-node\//, '')).join(' '),
      'node runtime': f.node ? `${f.node.package}@${f.node.version}` : '',
      model: f.model ? `${f.model.file}` : '',
      deploy: list.map((e) => e.name).join(' '),
    };
    return [{ group, files: list.length, bytes: list.reduce((s, e) => s + e.size, 0), detail: detail[group] }];
  });
}

export async function pack(opts: PackOptions): Promise<PackResult> {
  const root = repoRoot();
  const log = opts.log ?? (() => {});
  const target = opts.target;
  const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string;
  const top = `wisp-${version}-${targetName(target)}`;
  const bundleId = `${top}-${stamp(opts.now ?? new Date())}`;
  const out = resolve(opts.out ?? `${top}.tgz`);
  if (!existsSync(dirname(out))) throw new PackError(`cannot write ${out}: the folder ${dirname(out)} does not exist`);

  let profile: LoadedProfile;
  try {
    profile = namedProfile(opts.profile ?? target.defaultProfile);
  } catch (err) {
    throw new PackError(`--profile: ${(err as Error).message}`);
  }
  const entries = appEntries(root);

  const tree = productionTree(root, target);
  const binding = `node_modules/onnxruntime-node/bin/napi-v6/${target.platform}/${target.arch}/onnxruntime_binding.node`;
  for (const p of tree.packages) {
    for (const file of p.files) {
      const inBinding = p.name === 'onnxruntime-node' && p.native.includes(file);
      entries.push(fileEntry(root, file, inBinding ? 'onnxruntime binding' : 'dependencies'));
    }
  }
  if (!entries.some((e) => e.name === binding)) throw new PackError(`onnxruntime-node has no ${binding} here: run npm ci (without --omit=optional)`);

  const facts: BundleFacts = { version, bundleId, top, target, profile, commit: gitCommit(root) };
  if (opts.model !== undefined) {
    const m = await bundledModel(opts.model, log);
    entries.push(m.entry);
    facts.model = m.facts;
  }
  if (opts.withNode !== undefined) {
    const node = await fetchNodeRuntime(target, opts.withNode, log);
    await verifyRuntime(node);
    log(`node runtime: ${node.package}@${node.version}, tarball sha256 ${node.tarballSha256} ${node.pinned ? '(matches host/pack/node-runtimes.json)' : '(not in host/pack/node-runtimes.json: checked against the registry\'s integrity only)'}`);
    entries.push(fileEntry(node.dir, 'bin/node', 'node runtime', 'node/bin/node'));
    entries.push(fileEntry(node.dir, 'LICENSE', 'node runtime', 'node/LICENSE'));
    facts.node = node;
  }
  entries.push(...deployEntries(root, facts));

  const written = await writeTarball(entries, top, out, opts.progress ?? (() => NO_PROGRESS));
  return {
    out,
    bundleId,
    top,
    bytes: written.bytes,
    sha256: written.sha256,
    groups: summarize(entries, tree.packages.length, facts),
    leftOut: tree.leftOut,
    leftOutBytes: tree.leftOut.reduce((s, l) => s + fileSize(root, l.file), 0),
    node: facts.node,
    entries,
  };
}

function fileSize(root: string, rel: string): number {
  try {
    return statSync(join(root, rel)).size;
  } catch {
    return 0;
  }
}
