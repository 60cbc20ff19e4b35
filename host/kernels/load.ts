// Loading kernel modules for serving: the manifest (one source of truth for what each module
// exports), its families and their flavours, and instantiation over one shared memory with WASI
// stubs that grant nothing. Which flavour a family runs is the registry's (./registry.ts); without a
// choice it is the family's baseline.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../model/catalog.js';

/** The kernel ABI this host speaks (docs/KERNEL-ABI.md); asm/families.json holds the build's. */
export const KERNEL_ABI = 4;
/** The kernel families the host runs; asm/families.json lists the same ones (test/kernel-build.test.ts). */
export const KERNEL_FAMILIES = ['matmul', 'attn', 'ops'] as const;
export type KernelFamily = (typeof KERNEL_FAMILIES)[number];

export interface KernelExport {
  params: string[];
  results: string[];
}

/** One built module: a family in one flavour (kernels/<family>.<flavour>.wasm). */
export interface KernelModule {
  family: string;
  flavour: string;
  file: string;
  abi: number;
  sha256: string;
  size: number;
  /** the kernel set it was compiled from, e.g. asm/arch/relaxed/matmul.ts */
  source: string;
  memoryBase: number;
  buildFlags: string[];
  memory?: { initial: number; maximum?: number; shared: boolean };
  wasiImports: string[];
  exports: Record<string, KernelExport>;
  /** the own-memory build of the same source, wrapped by `jco new --wasi-command`; its asc flags */
  component: { file: string; sha256: string; size: number; buildFlags: string[] };
}

/** A family's modules: its baseline flavour and every flavour built (the baseline included). */
export interface FamilyManifest {
  baseline: string;
  flavours: Record<string, KernelModule>;
}

export interface KernelManifest {
  abi: number;
  baseline: string;
  families: Record<string, FamilyManifest>;
}

export function kernelsDir(): string {
  return join(repoRoot(), 'kernels');
}

export function loadManifest(dir = kernelsDir()): KernelManifest {
  let text: string;
  try {
    text = readFileSync(join(dir, 'manifest.json'), 'utf8');
  } catch {
    throw new Error(`no kernel manifest at ${join(dir, 'manifest.json')}: run \`npm run build\` to compile the kernels in asm/`);
  }
  return JSON.parse(text) as KernelManifest;
}

/** The family's entry in the manifest, or a clear error. */
export function familyManifest(family: string, manifest: KernelManifest, dir = kernelsDir()): FamilyManifest {
  const fam = manifest.families[family];
  if (!fam?.flavours) throw new Error(`kernel family '${family}' is not in ${join(dir, 'manifest.json')}; rebuild with \`npm run build\``);
  return fam;
}

/** The flavours built for a family, its baseline first. */
export function flavoursOf(family: string, manifest = loadManifest(), dir = kernelsDir()): string[] {
  const fam = familyManifest(family, manifest, dir);
  return [fam.baseline, ...Object.keys(fam.flavours).filter((f) => f !== fam.baseline)];
}

/** The manifest entry of a family's module in a flavour (default: the baseline), or a clear error. */
export function kernelModule(family: string, flavour: string | undefined, manifest: KernelManifest, dir = kernelsDir()): KernelModule {
  const fam = familyManifest(family, manifest, dir);
  const name = flavour ?? fam.baseline;
  const m = fam.flavours[name];
  if (!m) throw new Error(`kernel family '${family}' has no flavour '${name}' in ${join(dir, 'manifest.json')} (built: ${flavoursOf(family, manifest, dir).join(', ')})`);
  return m;
}

/** The exports and signatures every flavour of a family has (the build makes them the baseline's). */
export function familyExports(family: string, manifest: KernelManifest, dir = kernelsDir()): Record<string, KernelExport> {
  return kernelModule(family, undefined, manifest, dir).exports;
}

/** WASI imports a kernel may have (its self-test's); when serving they do nothing. */
export const WASI_STUBS: Record<string, (...args: number[]) => number> = {
  fd_write: () => 52, // ENOSYS: a serving kernel has no files
  proc_exit: () => {
    throw new Error('kernel called proc_exit while serving');
  },
};

export function wasiStubImports(): WebAssembly.Imports {
  return { wasi_snapshot_preview1: WASI_STUBS as unknown as WebAssembly.ModuleImports };
}

/** A shared memory of `pages` 64 KiB pages that can grow to `maximum` pages (default 4 GiB, the wasm32 limit). */
export function createSharedMemory(pages: number, maximum = 65536): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: pages, maximum, shared: true });
}

/**
 * The bytes of a built module, checked to be the ones the manifest describes (ABI and sha256), or a
 * clear error saying to rebuild.
 */
export function readModuleBytes(m: KernelModule, dir = kernelsDir(), what = `kernel family '${m.family}' (flavour '${m.flavour}')`): Uint8Array<ArrayBuffer> {
  if (m.abi !== KERNEL_ABI) throw new Error(`${what} has ABI ${m.abi} in ${join(dir, 'manifest.json')}; this host speaks ABI ${KERNEL_ABI}: rebuild with \`npm run build\``);
  const path = join(dir, m.file);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new Error(`${path} is missing though ${join(dir, 'manifest.json')} lists it: rebuild with \`npm run build\``);
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== m.sha256) throw new Error(`${path} does not match its manifest (sha256 ${sha.slice(0, 12)}…, manifest ${m.sha256.slice(0, 12)}…): rebuild with \`npm run build\``);
  return bytes;
}

/**
 * Compiles a family's module in a flavour (default: its baseline) after checking it is the one the
 * manifest describes (ABI and sha256).
 */
export function compileFamily(family: KernelFamily, dir = kernelsDir(), manifest = loadManifest(dir), flavour?: string): WebAssembly.Module {
  const m = kernelModule(family, flavour, manifest, dir);
  const what = flavour === undefined ? `kernel family '${family}'` : `kernel family '${family}' (flavour '${m.flavour}')`;
  const bytes = readModuleBytes(m, dir, what);
  try {
    return new WebAssembly.Module(bytes);
  } catch (e) {
    throw new Error(`${what}: this runtime (Node ${process.versions.node}) cannot compile ${join(dir, m.file)}: ${(e as Error).message}`);
  }
}

export function instantiateKernel(module: WebAssembly.Module, memory: WebAssembly.Memory): WebAssembly.Exports {
  return new WebAssembly.Instance(module, { env: { memory }, ...wasiStubImports() }).exports;
}
