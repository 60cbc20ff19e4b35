// Choosing each family's flavour for this runtime and CPU at load: every built flavour the runtime
// validates (WebAssembly.validate) and the device profile's `simd` allows is a candidate; each runs
// the canary (./canary.ts: golden inputs against the family's trusted baseline and the JS reference,
// before and after V8's tier-up); the ones that pass are timed together (a few tens of ms) and the
// fastest is used. A flavour other than the baseline must be more than MARGIN faster: equal code must
// not flip the choice on noise. `--kernels FLAVOUR` overrides the choice (still canaried); a flavour
// the runtime cannot validate is refused with the Node version that has it. The result is cached
// per process.
import type { SimdLevel } from '../profiles/types.js';
import { ACTIVATION_PATH } from '../model/block-formats.js';
import { CanaryFailure, runCanary, timeModules } from './canary.js';
import { compileFlavour, simdAllows, simdLevelOf } from './flavours.js';
import { familyExports, flavoursOf, kernelModule, kernelsDir, KERNEL_FAMILIES, loadManifest, type KernelFamily, type KernelManifest, type KernelModule } from './load.js';

/** How much faster than the baseline another flavour must time to be chosen. */
export const MARGIN = 1.05;

/** One flavour of a family, as the choice saw it. */
export interface FlavourCandidate {
  flavour: string;
  /** Why it was not a candidate or failed (none: it ran and passed). */
  refused?: string;
  /** Seconds per timing round (timed candidates only). */
  seconds?: number;
}

/** A family's flavour in use and why. */
export interface FamilyChoice {
  family: KernelFamily;
  flavour: string;
  entry: KernelModule;
  module: WebAssembly.Module;
  /** One line: why this flavour. */
  reason: string;
  candidates: FlavourCandidate[];
}

export interface KernelChoice {
  families: Record<KernelFamily, FamilyChoice>;
  /** ms the canaries and timing took. */
  ms: number;
  /** "matmul relaxed, attn simd128, ops simd128" */
  summary: string;
  /** One line per family with the reason, for the log and `wisp profile detect`. */
  lines: string[];
}

export interface ChooseOptions {
  dir?: string;
  /** The device profile's SIMD level (undefined: no profile; every flavour allowed). */
  simd?: SimdLevel;
  /** `--kernels FLAVOUR`: that flavour for every family built in it, the baseline for the others. */
  override?: string;
  /** ms of timing per family with more than one candidate (default 40). */
  timingMs?: number;
}

export class KernelChoiceError extends Error {}

const cache = new Map<string, Promise<KernelChoice>>();

/** The choice for these options, made once per process. */
export function chooseKernels(o: ChooseOptions = {}): Promise<KernelChoice> {
  const dir = o.dir ?? kernelsDir();
  const key = JSON.stringify([dir, o.simd ?? null, o.override ?? null]);
  let p = cache.get(key);
  if (!p) {
    p = choose({ ...o, dir });
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

async function choose(o: ChooseOptions & { dir: string }): Promise<KernelChoice> {
  const t0 = performance.now();
  const manifest = loadManifest(o.dir);
  if (o.override !== undefined) checkOverride(o.override, manifest, o.dir);
  const families = {} as Record<KernelFamily, FamilyChoice>;
  for (const family of KERNEL_FAMILIES) families[family] = await chooseFamily(family, manifest, o);
  const list = Object.values(families);
  return {
    families,
    ms: performance.now() - t0,
    summary: list.map((c) => `${c.family} ${c.flavour}`).join(', '),
    lines: list.map((c) => `${c.family}: ${c.flavour} (${c.reason})`),
  };
}

function checkOverride(flavour: string, manifest: KernelManifest, dir: string): void {
  const built = new Set(KERNEL_FAMILIES.flatMap((f) => flavoursOf(f, manifest, dir)));
  if (!built.has(flavour)) throw new KernelChoiceError(`--kernels ${flavour}: no kernel family is built in that flavour (built: ${[...built].join(', ')})`);
}

async function chooseFamily(family: KernelFamily, manifest: KernelManifest, o: ChooseOptions & { dir: string }): Promise<FamilyChoice> {
  const flavours = flavoursOf(family, manifest, o.dir);
  const baseline = kernelModule(family, undefined, manifest, o.dir);
  const exportNames = Object.keys(familyExports(family, manifest, o.dir));
  const trusted = compileFlavour(baseline, o.dir);
  if (!trusted.module) throw new KernelChoiceError(`the wasm engine cannot run here: ${trusted.refused}`);
  const candidates: FlavourCandidate[] = [];
  const passed: Array<{ flavour: string; entry: KernelModule; module: WebAssembly.Module }> = [];
  const wanted = o.override !== undefined && flavours.includes(o.override) ? [o.override] : flavours;
  for (const flavour of flavours) {
    const entry = kernelModule(family, flavour, manifest, o.dir);
    if (!wanted.includes(flavour)) {
      candidates.push({ flavour, refused: `not --kernels ${o.override}` });
      continue;
    }
    if (o.override === undefined && o.simd !== undefined && !simdAllows(o.simd, entry)) {
      candidates.push({ flavour, refused: `the profile allows simd ${o.simd}; it needs ${simdLevelOf(entry)}` });
      continue;
    }
    const c = flavour === baseline.flavour ? trusted : compileFlavour(entry, o.dir);
    if (!c.module) {
      if (o.override !== undefined) throw new KernelChoiceError(`--kernels ${o.override}: ${c.refused}`);
      candidates.push({ flavour, refused: c.refused });
      continue;
    }
    try {
      await runCanary(family, c.module, trusted.module, exportNames, ACTIVATION_PATH);
    } catch (err) {
      if (!(err instanceof CanaryFailure)) throw err;
      const why = `failed the canary: ${err.message}`;
      if (o.override !== undefined || flavour === baseline.flavour) throw new KernelChoiceError(`kernel family '${family}', flavour '${flavour}', on Node ${process.versions.node}: ${why}`);
      candidates.push({ flavour, refused: why });
      continue;
    }
    candidates.push({ flavour });
    passed.push({ flavour, entry, module: c.module });
  }
  if (passed.length === 0) throw new KernelChoiceError(`kernel family '${family}': no flavour can run (${candidates.map((c) => `${c.flavour}: ${c.refused}`).join('; ')})`);
  const pick = (p: (typeof passed)[number], reason: string): FamilyChoice => ({ family, flavour: p.flavour, entry: p.entry, module: p.module, reason, candidates });
  if (passed.length === 1) {
    const others = candidates.filter((c) => c.refused);
    const why = o.override !== undefined && o.override === passed[0].flavour
      ? '--kernels'
      : others.length === 0 ? 'the only flavour built' : `canary passed; ${others.map((c) => `${c.flavour}: ${c.refused}`).join('; ')}`;
    return pick(passed[0], why);
  }
  const seconds = timeModules(family, passed.map((p) => p.module), trusted.module, exportNames, ACTIVATION_PATH, o.timingMs ?? 40);
  passed.forEach((p, i) => (candidates.find((c) => c.flavour === p.flavour)!.seconds = seconds[i]));
  const base = passed.findIndex((p) => p.flavour === baseline.flavour);
  let best = base >= 0 ? base : 0;
  for (let i = 0; i < passed.length; i++) if (seconds[i] * MARGIN < seconds[best]) best = i;
  const speed = (i: number, j: number) => `${(seconds[j] / seconds[i]).toFixed(2)}×`;
  const reason = best === base
    ? `canary passed; ${passed.filter((_, i) => i !== base).map((p) => `${p.flavour} ${speed(passed.indexOf(p), base)} as fast`).join(', ')} in a short timing (another flavour must be > ${MARGIN}×)`
    : `canary passed; ${speed(best, base >= 0 ? base : 0)} as fast as ${passed[base >= 0 ? base : 0].flavour} in a short timing`;
  return pick(passed[best], reason);
}
