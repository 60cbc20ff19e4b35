// The kernel commands of a serving device (`wisp kernels list | verify | swap | rollback` over MQTT,
// the watch mode): the registry (what is in use, the history), the checks of a candidate on the
// verifier thread (./verify.ts, ./verifier.ts), the switch at a step boundary and the rollback
// (./hot-swap.ts), and what each leaves behind: a log line, a metric, the retained status.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ACTIVATION_PATH } from '../model/block-formats.js';
import { DEFAULT_PROBATION_STEPS, KernelSwapper, type KernelThreads } from './hot-swap.js';
import { defaultTrustedDirs, loadTrustedKeys, type ModuleSignature, type TrustedKey } from './keys.js';
import { compileFamily, familyExports, KERNEL_FAMILIES, kernelModule, type KernelFamily } from './load.js';
import type { ActiveKernel, KernelRegistry } from './registry.js';
import { KernelVerifier } from './verifier.js';
import { CHECKS, DEFAULT_POLICY, type FamilyRules, type Verdict, type VerifyPolicy } from './verify.js';
import { readSections, type Signature } from './wasm-sections.js';
import type { TokenModel } from '../engine/generate.js';

/** Where host buffers start: below it, each family's static data (docs/KERNEL-ABI.md). */
const HOST_BASE = 1 << 20;

export interface ManagerLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface KernelManagerOptions {
  registry: KernelRegistry;
  /** The kernel pools to switch (the wasm backend's). */
  threads: () => KernelThreads[];
  log: ManagerLog;
  metrics?: { kernelSwap(family: string, outcome: 'swapped' | 'rolled_back' | 'rejected'): void };
  /** The kernels in use changed (the status and wisp_info follow). */
  onChange?(): void;
  /** Directories of trusted *.pub keys (default: /etc/wisp/keys, the user's config dir, kernels/). */
  trustedKeyDirs?: string[];
  policy?: Partial<Omit<VerifyPolicy, 'force'>>;
  probationSteps?: number;
}

/** A candidate as the commands receive it. */
export interface CandidateRequest {
  family: string;
  module: Uint8Array;
  sha256: string;
  signature?: ModuleSignature;
  /** What to call it in the status and lists (default 'swapped'). */
  name?: string;
  force?: boolean;
}

export class KernelCommandError extends Error {}

export function describeKernel(a: ActiveKernel): Record<string, unknown> {
  return { flavour: a.flavour, sha256: a.sha256, source: a.source, size: a.size, since: a.since, reason: a.reason, ...(a.signedBy ? { signed_by: a.signedBy } : {}) };
}

export class KernelManager {
  readonly swapper: KernelSwapper;
  readonly policy: Omit<VerifyPolicy, 'force'>;
  private readonly verifier = new KernelVerifier();
  private keys: TrustedKey[];
  private readonly rules = new Map<KernelFamily, FamilyRules>();
  private readonly trusted = new Map<KernelFamily, WebAssembly.Module>();

  constructor(private readonly o: KernelManagerOptions) {
    this.policy = { ...DEFAULT_POLICY, ...o.policy };
    this.keys = loadTrustedKeys(o.trustedKeyDirs ?? defaultTrustedDirs(), (msg) => o.log.warn({}, msg));
    this.swapper = new KernelSwapper(o.registry, o.threads, {
      changed: (family, what, active, d) => {
        o.metrics?.kernelSwap(family, what);
        const fields = { family, flavour: active.flavour, sha256: active.sha256, switch_ms: round(d.switchMs), waited_ms: round(d.waitedMs) };
        if (what === 'swapped') o.log.info(fields, `kernel swap: ${family} now runs '${active.flavour}' (${active.sha256.slice(0, 12)})`);
        else o.log.warn({ ...fields, reason: d.reason }, `kernel rollback: ${family} back on '${active.flavour}' (${active.sha256.slice(0, 12)}): ${d.reason}`);
        o.onChange?.();
      },
      confirmed: (family, active) => o.log.info({ family, sha256: active.sha256 }, `kernel swap confirmed: ${family} '${active.flavour}' ran ${this.swapper.probationSteps} steps without a kernel failure`),
    }, o.probationSteps ?? DEFAULT_PROBATION_STEPS);
  }

  get registry(): KernelRegistry {
    return this.o.registry;
  }

  /** The trusted keys (re-read with reloadKeys). */
  trustedKeys(): readonly TrustedKey[] {
    return this.keys;
  }

  reloadKeys(): void {
    this.keys = loadTrustedKeys(this.o.trustedKeyDirs ?? defaultTrustedDirs(), (msg) => this.o.log.warn({}, msg));
  }

  /** The model whose steps a swap waits between (./hot-swap.ts). */
  guard<S>(model: TokenModel<S>): TokenModel<S> {
    return this.swapper.guard(model);
  }

  /** Every family: the module in use, its history, the flavours built; the trusted keys and the policy. */
  list(): Record<string, unknown> {
    const r = this.o.registry;
    return {
      families: Object.fromEntries(r.families().map((f) => [f, {
        active: describeKernel(r.active(f)),
        history: r.history(f).map(describeKernel),
        built: r.flavours(f),
        on_probation: this.swapper.onProbation(f),
      }])),
      trusted_keys: this.keys.map((k) => ({ id: k.id, path: k.path })),
      policy: { max_bytes: this.policy.maxBytes, allow_unsigned: this.policy.allowUnsigned, max_slowdown: this.policy.maxSlowdown, probation_steps: this.swapper.probationSteps },
    };
  }

  family(name: string): KernelFamily {
    if (!(KERNEL_FAMILIES as readonly string[]).includes(name)) throw new KernelCommandError(`no kernel family '${name}'; the families are ${KERNEL_FAMILIES.join(', ')}`);
    return name as KernelFamily;
  }

  /** The checks, on the verifier thread (nothing changes). */
  async verify(c: CandidateRequest): Promise<Verdict & { family: KernelFamily }> {
    const family = this.family(c.family);
    const verdict = await this.verifier.verify({
      candidate: { bytes: c.module, sha256: c.sha256, ...(c.signature ? { signature: c.signature } : {}) },
      rules: this.rulesOf(family),
      policy: { ...this.policy, force: c.force ?? false },
      keys: this.keys,
      trusted: this.trustedOf(family),
      active: this.o.registry.active(family).module,
      path: ACTIVATION_PATH,
    });
    return { ...verdict, family };
  }

  /** The checks, then the switch at the next step boundary on every thread. */
  async swap(c: CandidateRequest, by: string): Promise<Record<string, unknown>> {
    const t0 = performance.now();
    const v = await this.verify(c);
    if (!v.ok) {
      this.o.metrics?.kernelSwap(v.family, 'rejected');
      this.o.log.warn({ family: v.family, check: v.check, by }, `kernel swap refused: ${v.family}: ${v.check}: ${v.reason}`);
      return verdictReply(v);
    }
    const name = c.name ?? 'swapped';
    const k: ActiveKernel = { family: v.family, flavour: name, sha256: v.sha256, size: c.module.length, source: 'swap', module: v.module, ...(v.signedBy ? { signedBy: v.signedBy } : {}), reason: `swap by ${by}`, since: new Date().toISOString() };
    const sw = await this.swapper.swap(k);
    return { ...verdictReply(v), active: describeKernel(this.o.registry.active(v.family)), switch_ms: round(sw.switchMs), waited_ms: round(sw.waitedMs), total_ms: round(performance.now() - t0) };
  }

  async rollback(name: string, by: string): Promise<Record<string, unknown>> {
    const family = this.family(name);
    if (!this.o.registry.previous(family)) return { ok: false, family, reason: `kernel family '${family}' has no earlier module to roll back to` };
    const r = await this.swapper.rollback(family, `by ${by}`);
    return { ok: true, family, active: describeKernel(r.active), switch_ms: round(r.switchMs), waited_ms: round(r.waitedMs) };
  }

  async close(): Promise<void> {
    await this.verifier.close();
  }

  /** A family's rules: its ABI exports (manifest), the WASI imports its baseline has, its static area. */
  private rulesOf(family: KernelFamily): FamilyRules {
    let r = this.rules.get(family);
    if (!r) {
      const reg = this.o.registry;
      const base = kernelModule(family, undefined, reg.manifest, reg.dir);
      const baseImports = readSections(readFileSync(join(reg.dir, base.file))).imports;
      const wasiImports: Record<string, Signature> = {};
      for (const name of base.wasiImports) {
        const i = baseImports.find((x) => `${x.module}.${x.name}` === name);
        if (i?.kind === 'function') wasiImports[name] = { params: i.params, results: i.results };
      }
      const bases = Object.values(reg.manifest.families).map((f) => f.flavours[f.baseline].memoryBase).sort((a, b) => a - b);
      const end = bases.find((b) => b > base.memoryBase) ?? HOST_BASE;
      r = { family, exports: familyExports(family, reg.manifest, reg.dir), wasiImports, dataArea: [base.memoryBase, end] };
      this.rules.set(family, r);
    }
    return r;
  }

  /** The family's built baseline: the canary's bits. */
  private trustedOf(family: KernelFamily): WebAssembly.Module {
    let m = this.trusted.get(family);
    if (!m) this.trusted.set(family, (m = compileFamily(family, this.o.registry.dir, this.o.registry.manifest)));
    return m;
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/** A verdict as a control reply's fields. */
export function verdictReply(v: Verdict & { family: string }): Record<string, unknown> {
  if (!v.ok) return { ok: false, family: v.family, check: v.check, reason: `${v.check}: ${v.reason}`, verify_ms: round(v.ms) };
  return {
    ok: true,
    family: v.family,
    sha256: v.sha256,
    ...(v.signedBy ? { signed_by: v.signedBy } : {}),
    checks: CHECKS,
    canary: { kernels: v.canary.checked, uncovered: v.canary.uncovered, ms: round(v.canary.ms) },
    timing: { ratio: round(v.timing.ratio), forced: v.timing.forced },
    verify_ms: round(v.ms),
  };
}
