// What a benchmark ran on, recorded in every bench JSON so figures from many devices can be put side
// by side: the device and CPU, the last-level cache (the kernel and memory benches size their working
// sets from it), Node and V8, wisp's version, and the kernel modules (flavour and sha256) from
// kernels/manifest.json, the one source of truth for what is built.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { loadManifest, type KernelManifest } from '../kernels/load.js';
import { repoRoot } from '../model/catalog.js';
import { parseCpuinfo } from '../profiles/index.js';

/** The flavour of a manifest that names no baseline: the SIMD128 set every runtime runs. */
export const BASELINE_FLAVOUR = 'simd128';

export interface CacheSize {
  bytes: number;
  /** Where the figure came from: sysfs, lscpu, or an assumption when neither says. */
  source: 'sysfs' | 'lscpu' | 'assumed';
}

export interface KernelModules {
  /** Flavour -> family -> sha256 of its module. The baseline flavour first. */
  flavours: Record<string, Record<string, string>>;
  baseline: string;
  abi: number;
}

export interface BenchEnvironment {
  /** The host name (what `wisp serve` calls the device by default). */
  device: string;
  /** /proc/device-tree/model on boards ("Raspberry Pi 5 Model B Rev 1.0"). */
  deviceModel?: string;
  arch: string;
  platform: string;
  cpuModel: string;
  cores: number;
  totalMemoryBytes: number;
  lastLevelCache: CacheSize;
  node: string;
  v8: string;
  wisp: string;
  kernels: KernelModules;
}

const ASSUMED_LLC = 32 * 2 ** 20;

/** Parses a sysfs or lscpu cache size: "32768K", "1024K", "32 MiB", "64 KiB (2 instances)". */
export function parseCacheSize(text: string): number | undefined {
  const m = /^\s*([\d.]+)\s*([KMG])?(i?B)?\b/i.exec(text);
  if (!m) return undefined;
  const scale = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 }[(m[2] ?? '').toUpperCase() as 'K' | 'M' | 'G'] ?? 1;
  const n = Math.round(Number(m[1]) * scale);
  return n > 0 ? n : undefined;
}

/** The largest cache level of cpu0 (its size as one instance sees it), from sysfs, else lscpu, else 32 MiB assumed. */
export function lastLevelCache(sysfs = '/sys/devices/system/cpu/cpu0/cache'): CacheSize {
  try {
    let best: { level: number; bytes: number } | undefined;
    for (const dir of readdirSync(sysfs).filter((d) => /^index\d+$/.test(d))) {
      const read = (f: string) => readFileSync(join(sysfs, dir, f), 'utf8').trim();
      if (read('type') === 'Instruction') continue;
      const level = Number(read('level'));
      const bytes = parseCacheSize(read('size'));
      if (bytes && (!best || level > best.level || (level === best.level && bytes > best.bytes))) best = { level, bytes };
    }
    if (best) return { bytes: best.bytes, source: 'sysfs' };
  } catch {
    // no sysfs here (macOS, containers without it): ask lscpu
  }
  try {
    const out = execFileSync('lscpu', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
    for (const level of ['L3', 'L2']) {
      const line = out.split('\n').find((l) => l.startsWith(`${level} cache:`));
      const bytes = line && parseCacheSize(line.slice(line.indexOf(':') + 1));
      if (bytes) {
        // lscpu sums the instances ("2 MiB (2 instances)"): one instance's share is what a core sees
        const instances = Number(/\((\d+) instances?\)/.exec(line)?.[1] ?? 1);
        return { bytes: Math.round(bytes / instances), source: 'lscpu' };
      }
    }
  } catch {
    // no lscpu either
  }
  return { bytes: ASSUMED_LLC, source: 'assumed' };
}

/**
 * Every kernel module the manifest names, grouped by flavour, the baseline first. Reads both layouts:
 * a family entry with its own `sha256` (and `flavour`, default the baseline), and a family entry
 * with `baseline` and a `flavours` map of modules (each with its `sha256`).
 */
export function kernelModules(manifest: KernelManifest = loadManifest()): KernelModules {
  type Module = { sha256?: string; family?: string; flavour?: string };
  type Entry = Module & { baseline?: string; flavours?: Record<string, Module> };
  const raw = manifest as unknown as { abi: number; baseline?: string; families: Record<string, Entry> };
  const baseline = raw.baseline ?? Object.values(raw.families).find((f) => f.baseline)?.baseline ?? BASELINE_FLAVOUR;
  const flavours: Record<string, Record<string, string>> = { [baseline]: {} };
  const add = (flavour: string, family: string, sha256: string | undefined) => {
    if (sha256) (flavours[flavour] ??= {})[family] = sha256;
  };
  for (const [key, m] of Object.entries(raw.families)) {
    add(m.flavour ?? m.baseline ?? baseline, m.family ?? key, m.sha256);
    for (const [flavour, f] of Object.entries(m.flavours ?? {})) add(f.flavour ?? flavour, f.family ?? m.family ?? key, f.sha256);
  }
  return { flavours, baseline, abi: raw.abi };
}

export function wispVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function benchEnvironment(): BenchEnvironment {
  const deviceModel = readText('/proc/device-tree/model')?.replace(/\0/g, '').trim();
  const cpuModel = parseCpuinfo(readText('/proc/cpuinfo')).model ?? os.cpus()[0]?.model?.trim() ?? 'unknown';
  return {
    device: os.hostname(),
    ...(deviceModel ? { deviceModel } : {}),
    arch: os.arch(),
    platform: os.platform(),
    cpuModel,
    cores: os.availableParallelism(),
    totalMemoryBytes: os.totalmem(),
    lastLevelCache: lastLevelCache(),
    node: process.versions.node,
    v8: process.versions.v8,
    wisp: wispVersion(),
    kernels: kernelModules(),
  };
}

/** "AMD EPYC, 2 cores, Node 20.20.2 (V8 11.3), simd128": one line naming what ran. */
export function describeEnvironment(e: BenchEnvironment): string {
  const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
  return `${e.deviceModel ?? e.device}: ${e.cpuModel}, ${e.cores} core${e.cores === 1 ? '' : 's'}, LLC ${mib(e.lastLevelCache.bytes)} (${e.lastLevelCache.source}), Node ${e.node} (V8 ${e.v8}), wisp ${e.wisp}, kernels ${Object.keys(e.kernels.flavours).join('/')}`;
}
