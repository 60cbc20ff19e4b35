// Every flavour of a kernel family this runtime can compile, instantiated over one test memory (the
// baseline first), and why any other was skipped: what the kernel suites run each check on.
import { compileFamily, flavoursOf, instantiateKernel, type KernelFamily, type KernelManifest } from '../../host/kernels/load.js';

export type Kernels = Record<string, (...args: number[]) => void>;

export function familyFlavours(family: KernelFamily, memory: WebAssembly.Memory, manifest: KernelManifest): { flavours: Record<string, Kernels>; skipped: Record<string, string> } {
  const flavours: Record<string, Kernels> = {};
  const skipped: Record<string, string> = {};
  for (const flavour of flavoursOf(family, manifest)) {
    try {
      flavours[flavour] = instantiateKernel(compileFamily(family, undefined, manifest, flavour), memory) as Kernels;
    } catch (err) {
      skipped[flavour] = (err as Error).message;
    }
  }
  return { flavours, skipped };
}
