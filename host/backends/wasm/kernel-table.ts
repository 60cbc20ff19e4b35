// One numbered table of every kernel export, built from kernels/manifest.json in the same order on
// the main thread and in every worker, so a dispatch names a function by index.
import { familyExports, instantiateKernel, KERNEL_FAMILIES, type KernelFamily, type KernelManifest } from '../../kernels/load.js';

export const FAMILIES: readonly KernelFamily[] = KERNEL_FAMILIES;

export interface KernelEntry {
  family: KernelFamily;
  name: string;
  /** Which parameters are f32 (passed through the float view of the argument block). */
  floatParams: boolean[];
}

export function kernelTable(manifest: KernelManifest): KernelEntry[] {
  const table: KernelEntry[] = [];
  for (const family of FAMILIES) {
    // every flavour of a family has the same exports (the build checks): the table fits whichever runs
    for (const [name, sig] of Object.entries(familyExports(family, manifest))) {
      if (name === '_start') continue;
      if (sig.params.some((p) => p !== 'i32' && p !== 'f32')) throw new Error(`kernel ${family}.${name}: only i32/f32 parameters are supported`);
      table.push({ family, name, floatParams: sig.params.map((p) => p === 'f32') });
    }
  }
  return table;
}

export type KernelFn = (...args: number[]) => number | undefined;

/** One instance of every family over the shared memory (per thread). */
export function instantiateFamilies(modules: Record<KernelFamily, WebAssembly.Module>, memory: WebAssembly.Memory): Record<KernelFamily, WebAssembly.Exports> {
  return Object.fromEntries(FAMILIES.map((f) => [f, instantiateKernel(modules[f], memory)])) as Record<KernelFamily, WebAssembly.Exports>;
}

/** The callable functions of the instances, in table order. */
export function bindTable(table: KernelEntry[], instances: Record<KernelFamily, WebAssembly.Exports>): KernelFn[] {
  return table.map((e) => {
    const fn = instances[e.family][e.name];
    if (typeof fn !== 'function') throw new Error(`kernel ${e.family}.${e.name} is not exported by the loaded module`);
    return fn as KernelFn;
  });
}
