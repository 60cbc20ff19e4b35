// The checks a candidate kernel module passes before it may replace a family's module while serving,
// in this order, refused with the reason at the first failure (docs/KERNELS.md, "Hot swap"):
//   size      at most maxBytes
//   sha256    equal to what the operator sent
//   signature ed25519 by a key the device trusts (unsigned: only where the profile allows it)
//   imports   env.memory (shared) and the self-test's WASI functions on the manifest's allow-list, with
//             the baseline's signatures; nothing else (no file, clock, random, socket: no capability)
//   exports   exactly the family's functions with the family's signatures (manifest.json)
//   layout    no memory of its own, data only in the family's static area, and instantiating it
//             (data segments, start function) writes nothing else: run once on a patterned memory
//   compile   WebAssembly.Module
//   canary    golden inputs, bit for bit against the family's trusted module and the JS reference
//   timing    not slower than the active module by more than maxSlowdown (unless forced)
// Pure of any thread: ./verify-worker.ts runs it off the serving path.
import { createHash } from 'node:crypto';
import { CanaryFailure, runCanary, timeModules } from './canary.js';
import { checkSignature, type ModuleSignature, type TrustedKey } from './keys.js';
import { createSharedMemory, instantiateKernel, type KernelExport } from './load.js';
import { readSections, signatureText, WasmFormatError, type Signature } from './wasm-sections.js';

export type CheckName = 'size' | 'sha256' | 'signature' | 'imports' | 'exports' | 'layout' | 'compile' | 'canary' | 'timing';
export const CHECKS: readonly CheckName[] = ['size', 'sha256', 'signature', 'imports', 'exports', 'layout', 'compile', 'canary', 'timing'];

/** What a family's modules must be, from the manifest and the family's built baseline. */
export interface FamilyRules {
  family: string;
  exports: Record<string, KernelExport>;
  /** The WASI imports allowed ("module.name") and their signatures (the baseline's). */
  wasiImports: Record<string, Signature>;
  /** The family's static area [start, end): its memoryBase up to the next family's (or 1 MiB). */
  dataArea: [number, number];
}

export interface VerifyPolicy {
  maxBytes: number;
  allowUnsigned: boolean;
  /** Refused when the candidate takes more than this times the active module's time (timing check). */
  maxSlowdown: number;
  /** Skip the timing check's refusal (the timing still runs and is reported). */
  force: boolean;
}

export const DEFAULT_POLICY: VerifyPolicy = { maxBytes: 8 << 20, allowUnsigned: false, maxSlowdown: 1.25, force: false };

export interface Candidate {
  bytes: Uint8Array;
  /** The sha256 the operator sent (hex). */
  sha256: string;
  signature?: ModuleSignature;
}

export type Verdict =
  | {
      ok: true;
      sha256: string;
      signedBy?: string;
      module: WebAssembly.Module;
      canary: { checked: number; uncovered: string[]; ms: number };
      timing: { candidate: number; active: number; ratio: number; forced: boolean };
      ms: number;
    }
  | { ok: false; check: CheckName; reason: string; ms: number };

/** The most initial pages a candidate's memory import may ask for (the built modules ask for 17). */
const MAX_INITIAL_PAGES = 64;

/**
 * Instantiates the module once over a memory filled with a pattern and says what it wrote outside
 * [lo, hi) (its data segments and start function run at instantiation; on the serving memory such a
 * write would land in weights or caches), or undefined when nothing.
 */
function instantiationWrites(module: WebAssembly.Module, lo: number, hi: number): string | undefined {
  const pages = Math.max(MAX_INITIAL_PAGES, Math.ceil(hi / 65536) + 16);
  const memory = createSharedMemory(pages);
  const bytes = new Uint8Array(memory.buffer);
  bytes.fill(0xa5);
  try {
    instantiateKernel(module, memory);
  } catch (err) {
    return `instantiating it fails (its start function or data): ${(err as Error).message}`;
  }
  for (let i = 0; i < bytes.length; i++) {
    if (i === lo) i = hi;
    if (i < bytes.length && bytes[i] !== 0xa5) return `instantiating it writes memory at ${i}, outside the family's static area [${lo}, ${hi}): on the serving memory that is weights or caches`;
  }
  return undefined;
}

const refuse = (check: CheckName, reason: string, t0: number): Verdict => ({ ok: false, check, reason, ms: performance.now() - t0 });

/**
 * Runs the checks in order. `trusted`: the family's built baseline (the canary's bits); `active`:
 * the module in use (the timing's yardstick).
 */
export async function verifyCandidate(
  c: Candidate, rules: FamilyRules, policy: VerifyPolicy, keys: readonly TrustedKey[], trusted: WebAssembly.Module, active: WebAssembly.Module, path: 'x16' | 'x8',
): Promise<Verdict> {
  const t0 = performance.now();
  const { bytes } = c;
  if (bytes.length > policy.maxBytes) return refuse('size', `the module is ${bytes.length} bytes; the limit is ${policy.maxBytes}`, t0);
  if (bytes.length === 0) return refuse('size', 'the module is empty', t0);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== c.sha256.toLowerCase()) return refuse('sha256', `the module's sha256 is ${sha256}, not the ${c.sha256} sent with it`, t0);
  let signedBy: string | undefined;
  if (c.signature) {
    const s = checkSignature(bytes, c.signature, keys);
    if ('refused' in s) return refuse('signature', s.refused, t0);
    signedBy = s.key.id;
  } else if (!policy.allowUnsigned) {
    return refuse('signature', "the module is not signed, and this device's profile does not allow unsigned kernels (`wisp kernels sign FILE`; docs/KERNELS.md)", t0);
  }
  let sections;
  try {
    sections = readSections(bytes);
  } catch (err) {
    if (err instanceof WasmFormatError) return refuse('imports', err.message, t0);
    throw err;
  }
  for (const i of sections.imports) {
    const key = `${i.module}.${i.name}`;
    if (i.kind === 'memory') {
      if (key !== 'env.memory') return refuse('imports', `imports a memory as ${key}; a kernel imports the serving memory as env.memory`, t0);
      if (!i.shared) return refuse('imports', 'imports env.memory unshared; the serving memory is shared (wasi-threads)', t0);
      continue;
    }
    if (i.kind !== 'function') return refuse('imports', `imports a ${i.kind} (${key}); a kernel imports only env.memory and ${Object.keys(rules.wasiImports).join(', ')}`, t0);
    const allowed = rules.wasiImports[key];
    if (!allowed) return refuse('imports', `imports ${key}, which is not on the allow-list (env.memory, ${Object.keys(rules.wasiImports).join(', ')}): a kernel gets no file, clock, random, socket or other capability`, t0);
    if (signatureText(i) !== signatureText(allowed)) return refuse('imports', `imports ${key} as ${signatureText(i)}; the allow-list has ${signatureText(allowed)}`, t0);
  }
  if (!sections.imports.some((i) => i.kind === 'memory')) return refuse('imports', 'does not import env.memory: a kernel works on the serving memory', t0);
  const diffs: string[] = [];
  const got = new Map(sections.exports.map((e) => [e.name, e]));
  for (const [name, want] of Object.entries(rules.exports)) {
    const g = got.get(name);
    if (!g) diffs.push(`missing ${name} ${signatureText(want)}`);
    else if (signatureText(g) !== signatureText(want)) diffs.push(`${name} is ${signatureText(g)}, the ABI's ${signatureText(want)}`);
  }
  for (const [name, g] of got) if (!(name in rules.exports)) diffs.push(`${name} ${signatureText(g)} is not in the ABI`);
  if (diffs.length > 0) return refuse('exports', `the exports differ from the ${rules.family} family's ABI: ${diffs.slice(0, 6).join('; ')}${diffs.length > 6 ? `; and ${diffs.length - 6} more` : ''}`, t0);
  if (sections.ownMemories > 0) return refuse('layout', 'defines a memory of its own; a kernel works on the imported serving memory', t0);
  const mem = sections.imports.find((i) => i.kind === 'memory');
  if (mem && mem.kind === 'memory' && mem.initial > MAX_INITIAL_PAGES) return refuse('layout', `asks for ${mem.initial} pages of initial memory; a kernel needs only the host's (at most ${MAX_INITIAL_PAGES})`, t0);
  const [lo, hi] = rules.dataArea;
  for (const d of sections.data) {
    if (d.passive) continue;
    if (d.offset === undefined) return refuse('layout', 'has a data segment at a computed offset; only constant offsets in the family\'s static area are allowed', t0);
    if (d.offset < lo || d.offset + d.bytes > hi) return refuse('layout', `has ${d.bytes} bytes of data at ${d.offset}, outside the ${rules.family} family's static area [${lo}, ${hi}): instantiating it would overwrite serving memory`, t0);
  }
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  } catch (err) {
    return refuse('compile', `this runtime (Node ${process.versions.node}) cannot compile it: ${(err as Error).message}`, t0);
  }
  const wrote = instantiationWrites(module, lo, hi);
  if (wrote) return refuse('layout', wrote, t0);
  let canary;
  try {
    canary = await runCanary(rules.family, module, trusted, Object.keys(rules.exports), path);
  } catch (err) {
    if (err instanceof CanaryFailure) return refuse('canary', err.message, t0);
    throw err;
  }
  const [candidate, activeSeconds] = timeModules(rules.family, [module, active], trusted, Object.keys(rules.exports), path, 60);
  const ratio = candidate / activeSeconds;
  if (ratio > policy.maxSlowdown && !policy.force) {
    return refuse('timing', `it took ${ratio.toFixed(2)}× the active module's time in a short timing (the limit is ${policy.maxSlowdown}×; force: true swaps it anyway)`, t0);
  }
  return {
    ok: true,
    sha256,
    signedBy,
    module,
    canary: { checked: canary.checked.length, uncovered: canary.uncovered, ms: canary.ms },
    timing: { candidate, active: activeSeconds, ratio, forced: ratio > policy.maxSlowdown },
    ms: performance.now() - t0,
  };
}
