// The kernel registry: per family, the module in use (its flavour, sha256, where it came from, the
// compiled module) and a history of the ones it replaced. Every family starts on its baseline flavour;
// `adopt` takes the load-time choice (./choose.ts), `use` a built flavour by name, `install` a module
// that passed the swap checks (./verify.ts), `rollback` goes back one step. Every module in use has the
// family's exports with the family's signatures (the build checks the flavours, the verifier a swapped
// module), so the kernel table of host/backends/wasm/kernel-table.ts is the same whichever is active.
import type { KernelChoice } from './choose.js';
import {
  compileFamily, familyManifest, flavoursOf, kernelModule, kernelsDir, KERNEL_FAMILIES, loadManifest,
  type KernelFamily, type KernelManifest, type KernelModule,
} from './load.js';

/** A family's module in use (or once in use: the history). */
export interface ActiveKernel {
  family: KernelFamily;
  /** The built flavour, or what the operator called a swapped module (default 'swapped'). */
  flavour: string;
  sha256: string;
  size: number;
  /** 'built': from kernels/ (manifest entry in `entry`); 'swap': installed while serving. */
  source: 'built' | 'swap';
  entry?: KernelModule;
  module: WebAssembly.Module;
  /** Who signed a swapped module (key id), if anyone. */
  signedBy?: string;
  /** Why it is in use (the load-time choice's reason, "swap by ops", "rollback: …"). */
  reason: string;
  since: string;
}

/** How many replaced modules a family keeps (rollback goes back through them). */
export const HISTORY_LENGTH = 8;

export class KernelRegistry {
  private readonly activeByFamily = new Map<KernelFamily, ActiveKernel>();
  private readonly historyByFamily = new Map<KernelFamily, ActiveKernel[]>();

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

  /** The family's module in use: the baseline's until `use`, `adopt` or `install` chose another (compiled on first ask). */
  active(family: KernelFamily): ActiveKernel {
    return this.activeByFamily.get(family) ?? this.use(family, familyManifest(family, this.manifest, this.dir).baseline, 'the baseline');
  }

  /** The modules the family used before, most recent first. */
  history(family: KernelFamily): ActiveKernel[] {
    return [...(this.historyByFamily.get(family) ?? [])];
  }

  /**
   * Makes a built flavour the family's module in use and returns it; a flavour that is not built, does
   * not match the manifest or that this runtime cannot compile is refused with the reason (the
   * family keeps its module).
   */
  use(family: KernelFamily, flavour: string, reason = `flavour ${flavour}`): ActiveKernel {
    const entry = kernelModule(family, flavour, this.manifest, this.dir);
    const module = compileFamily(family, this.dir, this.manifest, flavour);
    const active = builtKernel(family, entry, module, reason);
    this.activeByFamily.set(family, active);
    return active;
  }

  /** Takes the load-time choice (./choose.ts) as the modules in use. */
  adopt(choice: KernelChoice): void {
    for (const c of Object.values(choice.families)) this.activeByFamily.set(c.family, builtKernel(c.family, c.entry, c.module, c.reason));
  }

  /** Puts a module in use, keeping the one it replaces in the history; returns the replaced one. */
  install(k: ActiveKernel): ActiveKernel {
    const previous = this.active(k.family);
    const h = this.historyByFamily.get(k.family) ?? [];
    h.unshift(previous);
    h.length = Math.min(h.length, HISTORY_LENGTH);
    this.historyByFamily.set(k.family, h);
    this.activeByFamily.set(k.family, k);
    return previous;
  }

  /** The module the family would go back to, or undefined when there is none. */
  previous(family: KernelFamily): ActiveKernel | undefined {
    return this.historyByFamily.get(family)?.[0];
  }

  /** Goes back to the previous module (the current one is dropped); returns it, or throws when there is none. */
  rollback(family: KernelFamily, reason: string): ActiveKernel {
    const h = this.historyByFamily.get(family);
    const prev = h?.shift();
    if (!prev) throw new Error(`kernel family '${family}' has no earlier module to roll back to`);
    const back = { ...prev, reason: `rollback: ${reason}`, since: new Date().toISOString() };
    this.activeByFamily.set(family, back);
    return back;
  }

  /** Every family's module in use, for instantiating over one memory (host/backends/wasm/kernel-table.ts). */
  modules(): Record<KernelFamily, WebAssembly.Module> {
    return Object.fromEntries(this.families().map((f) => [f, this.active(f).module])) as Record<KernelFamily, WebAssembly.Module>;
  }

  /** family -> flavour, sha256 and source of the module in use (the retained status, `wisp kernels list`). */
  describe(): Record<string, { flavour: string; sha256: string; source: 'built' | 'swap'; since: string }> {
    return Object.fromEntries(this.families().map((f) => {
      const a = this.active(f);
      return [f, { flavour: a.flavour, sha256: a.sha256, source: a.source, since: a.since }];
    }));
  }
}

function builtKernel(family: KernelFamily, entry: KernelModule, module: WebAssembly.Module, reason: string): ActiveKernel {
  return { family, flavour: entry.flavour, sha256: entry.sha256, size: entry.size, source: 'built', entry, module, reason, since: new Date().toISOString() };
}
