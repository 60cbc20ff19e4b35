// What a bundle holds, as a list of entries: each a name inside the bundle, where its bytes come
// from (a file here, or text made for this bundle), and the group it is listed under at the end.
import { existsSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { PackError } from './errors.js';

export type EntryGroup =
  | 'app'
  | 'kernels'
  | 'profiles'
  | 'dependencies'
  | 'onnxruntime binding'
  | 'node runtime'
  | 'model'
  | 'deploy';

export interface BundleEntry {
  /** Path inside the bundle's top folder, with '/' separators. */
  name: string;
  group: EntryGroup;
  /** A file to copy... */
  source?: string;
  /** ...or the text to write. */
  content?: string;
  /** File mode (default: the source's, or 0o644 for content). */
  mode?: number;
  size: number;
}

/**
 * The checkout's files a running wisp reads, by group: the built host (not the tests), the kernel
 * modules and their manifest, the device profiles, the model catalog, the protocol schemas, and the
 * docs and examples an operator wants on the device. One list, so a new runtime file is added here.
 */
const APP_FILES: ReadonlyArray<readonly [EntryGroup, readonly string[]]> = [
  [
    'app',
    [
      'package.json',
      'README.md',
      'dist/host',
      'host/mqtt/schemas',
      'models/catalog.json',
      'models/catalog.schema.json',
      'models/README.md',
      'docs/DEPLOY.md',
      'docs/PROTOCOL.md',
      'examples',
      'dashboards',
    ],
  ],
  ['kernels', ['kernels']],
  ['profiles', ['device-profiles']],
];

/** Files needed for a bundle to run at all: a checkout without them was not built. */
export const REQUIRED_BUILD_OUTPUTS = ['dist/host/cli.js', 'kernels/manifest.json', 'package-lock.json'];

function walk(root: string, rel: string): string[] {
  const abs = join(root, rel);
  const st = lstatSync(abs);
  if (st.isFile()) return [rel.split(sep).join('/')];
  if (!st.isDirectory()) return [];
  return readdirSync(abs)
    .sort()
    .flatMap((name) => walk(root, join(rel, name)));
}

export function fileEntry(root: string, rel: string, group: EntryGroup, name = rel): BundleEntry {
  const st = statSync(join(root, rel));
  return { name, group, source: join(root, rel), mode: st.mode & 0o777, size: st.size };
}

export function textEntry(name: string, group: EntryGroup, content: string, mode = 0o644): BundleEntry {
  return { name, group, content, mode, size: Buffer.byteLength(content) };
}

export function appEntries(root: string): BundleEntry[] {
  for (const f of REQUIRED_BUILD_OUTPUTS) {
    if (!existsSync(join(root, f))) throw new PackError(`${f} is missing in ${root}: wisp pack runs in a built checkout (npm ci, or npm run build)`);
  }
  return APP_FILES.flatMap(([group, paths]) =>
    paths
      .filter((path) => existsSync(join(root, path)))
      .flatMap((path) => walk(root, path))
      .filter((rel) => !rel.endsWith('.tsbuildinfo'))
      .map((rel) => fileEntry(root, rel, group)),
  );
}

export function relativeTo(root: string, abs: string): string {
  return relative(root, abs).split(sep).join('/');
}
