// The kernel registry: per family, the module in use (its flavour, manifest entry and compiled module).
// Every family starts on its baseline flavour, which is what the engine runs; `use` puts a family on
// another built flavour. The policy that chooses a flavour (what the runtime validates, a canary, a
// timing, `--kernels`) and swapping while serving (signature checks, history, rollback) build on this;
// every flavour exports the same functions with the same signatures (the build checks), so the kernel
// table of host/backends/wasm/kernel-table.ts is the same whichever is active.
import {
  compileFamily, familyManifest, flavoursOf, kernelModule, kernelsDir, KERNEL_FAMILIES, loadManifest,
  type KernelFamily, type KernelManifest, type KernelModule,
} from './load.js';

/** A family's module in use. */
export interface ActiveKernel {
  family: KernelFamily;
  flavour: string;
  entry: KernelModule;
  module: WebAssembly.Module;
}

export class KernelRegistry {
  private readonly activeByFamily = new Map<KernelFamily, ActiveKernel>();

  private constructor(
    readonly dir: string,
    readonly manifest: KernelManifest,
  ) {}

  /** The registry of the modules in `dir` (default: the built kernels/), every family on its baseline. */
  static open(dir = kernelsDir()): KernelRegistry {
    return new KernelRegistry(dir, loadManifest(dir));
  }

  /** The families this host runs, each checked to be in the manifest. */
  families(): KernelFamily[] {
    for (const f of KERNEL_FAMILIES) familyManifest(f, this.manifest, this.dir);
    return [...KERNEL_FAMILIES];
  }

  /** The flavours built for a family, its baseline first. */
  flavours(family: KernelFamily): string[] {
    return flavoursOf(family, this.manifest, this.dir);
  }

  /** The family's module in use: the baseline's until `use` chose another (compiled on first ask). */
  active(family: KernelFamily): ActiveKernel {
    return this.activeByFamily.get(family) ?? this.use(family, familyManifest(family, this.manifest, this.dir).baseline);
  }

  /**
   * Makes a built flavour the family's module in use and returns it; a flavour that is not built, does
   * not match the manifest or that this runtime cannot compile is refused with the reason (the
   * family keeps its module).
   */
  use(family: KernelFamily, flavour: string): ActiveKernel {
    const entry = kernelModule(family, flavour, this.manifest, this.dir);
    const module = compileFamily(family, this.dir, this.manifest, flavour);
    const active = { family, flavour, entry, module };
    this.activeByFamily.set(family, active);
    return active;
  }

  /** Every family's module in use, for instantiating over one memory (host/backends/wasm/kernel-table.ts). */
  modules(): Record<KernelFamily, WebAssembly.Module> {
    return Object.fromEntries(this.families().map((f) => [f, this.active(f).module])) as Record<KernelFamily, WebAssembly.Module>;
  }
}
