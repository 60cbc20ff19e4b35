// The production dependencies a bundle carries, for its target only: the packages package-lock.json
// does not mark `dev`, less those whose `os`/`cpu` exclude the target, each with its files as
// installed here minus native code for other platforms (onnxruntime-node ships its binding for six
// platform/arch pairs; a Pi needs one).
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { PackError } from './errors.js';
import { describeNative, nativeKindOfFile, type NativeKind } from './native.js';
import { targetName, type PackTarget } from './target.js';

interface LockEntry {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  link?: boolean;
  os?: string[];
  cpu?: string[];
}

export interface BundledPackage {
  /** `node_modules/foo` or `node_modules/a/node_modules/b`, as in the lockfile. */
  dir: string;
  name: string;
  version: string;
  /** Files to bundle, relative to the repo root. */
  files: string[];
  /** Native objects kept (for the target). */
  native: string[];
}

export interface LeftOut {
  file: string;
  why: string;
}

export interface ProductionTree {
  packages: BundledPackage[];
  /** Files of bundled packages left out because they are native code for another platform. */
  leftOut: LeftOut[];
  /** Packages left out whole because their `os`/`cpu` exclude the target. */
  skippedPackages: string[];
}

/** npm's rule for `os`/`cpu` lists: empty allows all; `!x` excludes x; otherwise the value must be listed. */
export function platformAllows(list: string[] | undefined, value: string): boolean {
  if (!list || list.length === 0) return true;
  if (list.includes(`!${value}`)) return false;
  const positive = list.filter((x) => !x.startsWith('!'));
  return positive.length === 0 || positive.includes(value);
}

function packageName(dir: string): string {
  return dir.slice(dir.lastIndexOf('node_modules/') + 'node_modules/'.length);
}

/** Every file under `dir` (relative to `root`), not descending into nested node_modules (other lockfile entries). */
function listFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string) => {
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        if (name !== 'node_modules') walk(p);
      } else if (st.isFile()) {
        out.push(relative(root, p).split(sep).join('/'));
      }
      // symlinks inside a package (rare) are left out: a bundle holds files
    }
  };
  walk(join(root, dir));
  return out;
}

function nativeMatches(k: NativeKind, target: PackTarget): boolean {
  return k.kind === 'elf' && k.machine === target.elfMachine;
}

export function productionTree(root: string, target: PackTarget): ProductionTree {
  let lock: { packages?: Record<string, LockEntry> };
  try {
    lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  } catch (err) {
    throw new PackError(`cannot read package-lock.json in ${root} (wisp pack runs in a wisp checkout after npm ci): ${(err as Error).message}`);
  }
  const packages: BundledPackage[] = [];
  const leftOut: LeftOut[] = [];
  const skippedPackages: string[] = [];
  for (const [dir, entry] of Object.entries(lock.packages ?? {})) {
    if (!dir.startsWith('node_modules/') || entry.dev) continue;
    const name = packageName(dir);
    if (!platformAllows(entry.os, target.platform) || !platformAllows(entry.cpu, target.arch)) {
      skippedPackages.push(name);
      continue;
    }
    if (entry.link) throw new PackError(`${name} is a linked package (npm link); bundle a real install (npm ci)`);
    let present = true;
    try {
      present = lstatSync(join(root, dir)).isDirectory();
    } catch {
      present = false;
    }
    if (!present) {
      if (entry.optional) {
        // an optional dependency for the target that npm did not install on this machine
        throw new PackError(
          `${name}@${entry.version} (an optional dependency for ${targetName(target)}) is not installed here; ` +
            `install it with npm install --os=${target.platform} --cpu=${target.arch}, then pack again`,
        );
      }
      throw new PackError(`${name}@${entry.version} is in package-lock.json but not in node_modules: run npm ci first`);
    }
    const files: string[] = [];
    const native: string[] = [];
    const foreign: LeftOut[] = [];
    for (const file of listFiles(root, dir)) {
      const kind = nativeKindOfFile(join(root, file));
      if (!kind) files.push(file);
      else if (nativeMatches(kind, target)) {
        files.push(file);
        native.push(file);
      } else foreign.push({ file, why: describeNative(kind) });
    }
    if (foreign.length > 0 && native.length === 0) {
      throw new PackError(
        `${name}@${entry.version} has native code only for other platforms (${[...new Set(foreign.map((f) => f.why))].join(', ')}), ` +
          `none for ${targetName(target)}: it cannot run there`,
      );
    }
    leftOut.push(...foreign);
    packages.push({ dir, name, version: entry.version ?? '?', files, native });
  }
  return { packages, leftOut, skippedPackages };
}
