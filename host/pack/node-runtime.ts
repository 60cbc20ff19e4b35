// The Node runtime a bundle can carry: the npm package node-linux-<arch>@VERSION, fetched with the
// npm client (so the registry's integrity is checked and .npmrc/proxy settings apply), its sha256
// checked against host/pack/node-runtimes.json when the version is listed there, and only bin/node
// and LICENSE kept, in a cache so the next pack needs no network.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as tar from 'tar';
import { repoRoot } from '../model/catalog.js';
import { sha256File } from '../model/sha256.js';
import { PackError } from './errors.js';
import { describeNative, nativeKindOfFile } from './native.js';
import type { PackTarget } from './target.js';

export interface NodeRuntime {
  package: string;
  version: string;
  /** Directory holding `bin/node` and `LICENSE`. */
  dir: string;
  /** sha256 of the npm tarball it came from. */
  tarballSha256: string;
  /** npm's integrity (sha512) of that tarball, as the registry gave it. */
  integrity: string;
  /** Whether tarballSha256 was checked against host/pack/node-runtimes.json. */
  pinned: boolean;
  /** sha256 of the node binary itself, recorded in bundle.json so a device can check it. */
  binarySha256: string;
}

const EXACT = /^\d+\.\d+\.\d+$/;

/** Where fetched runtimes are kept: $WISP_PACK_CACHE, else $XDG_CACHE_HOME/wisp/runtimes, else ~/.cache/wisp/runtimes. */
export function runtimeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.WISP_PACK_CACHE) return env.WISP_PACK_CACHE;
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'wisp', 'runtimes');
}

export function pinnedSha256(pkg: string, version: string): string | undefined {
  const table = JSON.parse(readFileSync(join(repoRoot(), 'host', 'pack', 'node-runtimes.json'), 'utf8')) as Record<string, unknown>;
  const versions = table[pkg] as Record<string, string> | undefined;
  return versions?.[version];
}

/** The lowest Node major wisp runs on, from package.json's engines (">=20"). */
export function minimumNodeMajor(): number {
  const engines = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')).engines?.node as string | undefined;
  return Number(/>=\s*(\d+)/.exec(engines ?? '')?.[1] ?? 20);
}

function checkVersion(version: string): void {
  const major = Number(version.split('.')[0]);
  const min = minimumNodeMajor();
  if (!(major >= min)) throw new PackError(`--with-node ${version}: wisp needs Node ${min} or newer`);
}

export async function fetchNodeRuntime(target: PackTarget, version: string, log: (line: string) => void): Promise<NodeRuntime> {
  if (!/^\d+(\.\d+){0,2}$/.test(version)) throw new PackError(`--with-node takes a Node version (24, 24.22 or 24.22.3), got '${version}'`);
  checkVersion(version);
  const pkg = target.nodePackage;
  const cache = runtimeCacheDir();
  if (EXACT.test(version)) {
    const cached = readCached(join(cache, `${pkg}-${version}`));
    if (cached) {
      log(`node runtime: ${pkg}@${version} from the cache (${cached.dir})`);
      return cached;
    }
  }
  mkdirSync(cache, { recursive: true });
  const tmp = mkdtempSync(join(cache, '.fetch-'));
  try {
    log(`node runtime: fetching ${pkg}@${version} with npm pack (the npm registry)`);
    let out: string;
    try {
      ({ stdout: out } = await promisify(execFile)('npm', ['pack', `${pkg}@${version}`, '--json', '--pack-destination', tmp], {
        maxBuffer: 64 * 1024 * 1024,
      }));
    } catch (err) {
      const msg = ((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n').filter(Boolean).slice(-2).join(' ');
      throw new PackError(`cannot fetch ${pkg}@${version} from the npm registry: ${msg}`);
    }
    const info = (JSON.parse(out) as Array<{ version: string; integrity: string; filename: string }>)[0];
    checkVersion(info.version);
    const tgz = join(tmp, info.filename);
    // npm checked the download against the registry's integrity; check the file we read is that one
    const [algo, expected] = info.integrity.split(/-(.*)/s);
    const got = createHash(algo).update(readFileSync(tgz)).digest('base64');
    if (got !== expected) throw new PackError(`${pkg}@${info.version}: the tarball does not match the registry's integrity ${info.integrity}`);
    const tarballSha256 = await sha256File(tgz);
    const pin = pinnedSha256(pkg, info.version);
    if (pin !== undefined && pin !== tarballSha256) {
      throw new PackError(`${pkg}@${info.version}: sha256 ${tarballSha256} differs from the recorded ${pin} (host/pack/node-runtimes.json): refusing it`);
    }
    const dir = join(tmp, 'runtime');
    mkdirSync(dir);
    await tar.x({ file: tgz, cwd: dir, strip: 1, filter: (p) => p === 'package/bin/node' || p === 'package/LICENSE' });
    const binary = join(dir, 'bin', 'node');
    if (!existsSync(binary)) throw new PackError(`${pkg}@${info.version} holds no bin/node`);
    const kind = nativeKindOfFile(binary);
    if (kind?.kind !== 'elf' || kind.machine !== target.elfMachine) {
      throw new PackError(`${pkg}@${info.version}: bin/node is ${kind ? describeNative(kind) : 'not native code'}, not for ${target.arch}`);
    }
    const runtime: NodeRuntime = {
      package: pkg,
      version: info.version,
      dir: join(cache, `${pkg}-${info.version}`),
      tarballSha256,
      integrity: info.integrity,
      pinned: pin !== undefined,
      binarySha256: await sha256File(binary),
    };
    writeFileSync(join(dir, 'source.json'), `${JSON.stringify({ ...runtime, dir: undefined }, null, 2)}\n`);
    rmSync(runtime.dir, { recursive: true, force: true });
    renameSync(dir, runtime.dir);
    return runtime;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** A cached runtime whose binary still has the sha256 recorded when it was fetched. */
function readCached(dir: string): NodeRuntime | undefined {
  try {
    const source = JSON.parse(readFileSync(join(dir, 'source.json'), 'utf8')) as Omit<NodeRuntime, 'dir'>;
    // verifyRuntime checks the tarball's sha256 against the table as it is now
    return { ...source, dir, pinned: pinnedSha256(source.package, source.version) !== undefined };
  } catch {
    return undefined;
  }
}

/** Re-checks a cached runtime: its tarball against the pinned sha256 (the table may be newer than the cache), its binary's hash (a cache can be tampered with or cut short). */
export async function verifyRuntime(rt: NodeRuntime): Promise<void> {
  const pin = pinnedSha256(rt.package, rt.version);
  if (pin !== undefined && pin !== rt.tarballSha256) {
    throw new PackError(`cached ${rt.package}@${rt.version} in ${rt.dir} came from a tarball with sha256 ${rt.tarballSha256}, not the recorded ${pin}: delete that folder and pack again`);
  }
  let got: string;
  try {
    got = await sha256File(join(rt.dir, 'bin', 'node'));
  } catch {
    got = 'unreadable';
  }
  if (got !== rt.binarySha256) throw new PackError(`cached ${rt.package}@${rt.version} in ${rt.dir} is damaged (sha256 ${got}); delete that folder and pack again`);
}
