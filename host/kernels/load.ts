// Loading kernel modules for serving: the manifest (one source of truth for what each module
// exports), and instantiation over one shared memory with WASI stubs that grant nothing.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../model/catalog.js';

export const KERNEL_ABI = 2;
export type KernelFamily = 'matmul' | 'attn' | 'ops';

export interface KernelExport {
  params: string[];
  results: string[];
}

export interface FamilyManifest {
  file: string;
  abi: number;
  sha256: string;
  size: number;
  memoryBase: number;
  buildFlags: string[];
  memory?: { initial: number; maximum?: number; shared: boolean };
  wasiImports: string[];
  exports: Record<string, KernelExport>;
  /** the own-memory build of the same source, wrapped by `jco new --wasi-command`; its asc flags */
  component: { file: string; sha256: string; size: number; buildFlags: string[] };
}

export interface KernelManifest {
  abi: number;
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

/** Compiles a family's module after checking it is the one the manifest describes (ABI and sha256). */
export function compileFamily(family: KernelFamily, dir = kernelsDir(), manifest = loadManifest(dir)): WebAssembly.Module {
  const m = manifest.families[family];
  if (!m) throw new Error(`kernel family '${family}' is not in ${join(dir, 'manifest.json')}; rebuild with \`npm run build\``);
  if (m.abi !== KERNEL_ABI) throw new Error(`kernel family '${family}' has ABI ${m.abi} in ${join(dir, 'manifest.json')}; this host speaks ABI ${KERNEL_ABI}: rebuild with \`npm run build\``);
  const path = join(dir, m.file);
  const bytes = readFileSync(path);
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== m.sha256) throw new Error(`${path} does not match its manifest (sha256 ${sha.slice(0, 12)}…, manifest ${m.sha256.slice(0, 12)}…): rebuild with \`npm run build\``);
  return new WebAssembly.Module(bytes);
}

export function instantiateKernel(module: WebAssembly.Module, memory: WebAssembly.Memory): WebAssembly.Exports {
  return new WebAssembly.Instance(module, { env: { memory }, ...wasiStubImports() }).exports;
}
