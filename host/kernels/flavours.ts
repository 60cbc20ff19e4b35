// What a kernel flavour needs from the runtime: the WebAssembly features it was built with (its asc
// `--enable` flags in the manifest), the device-profile SIMD level each feature is, and the first
// Node version whose V8 validates it without a flag (measured: docs/KERNELS.md, "Runtimes").
import { wasmSimdSupport } from '../profiles/detect.js';
import type { SimdLevel } from '../profiles/types.js';
import { readModuleBytes, type KernelModule } from './load.js';

interface FeatureFacts {
  /** Whether this runtime validates it (a probe module). */
  validates(): boolean;
  /** The profile `simd` level that allows it. */
  simd: SimdLevel;
  /** The first Node release line that validates it without a flag. */
  node: string;
  /** How older lines get it, if they can. */
  older?: string;
}

/** The wasm features kernel flavours are built with. `threads` (shared memory, atomics) every flavour has. */
export const WASM_FEATURES: Readonly<Record<string, FeatureFacts>> = {
  simd: { simd: 'simd128', node: '16.4', validates: () => wasmSimdSupport().simd128 },
  'relaxed-simd': { simd: 'relaxed-simd', node: '22', older: 'Node 20 with --experimental-wasm-relaxed-simd', validates: () => wasmSimdSupport().relaxedSimd },
};

const SIMD_ORDER: readonly SimdLevel[] = ['scalar', 'simd128', 'relaxed-simd'];

/** The wasm features a module was built with (its `--enable` flags), threads aside. */
export function featuresOf(m: KernelModule): string[] {
  const out: string[] = [];
  m.buildFlags.forEach((f, i) => {
    if (f === '--enable' && m.buildFlags[i + 1] !== 'threads') out.push(m.buildFlags[i + 1]);
  });
  return out;
}

/** The SIMD level a module needs: its highest feature's. */
export function simdLevelOf(m: KernelModule): SimdLevel {
  let level: SimdLevel = 'scalar';
  for (const f of featuresOf(m)) {
    const s = WASM_FEATURES[f]?.simd ?? 'relaxed-simd';
    if (SIMD_ORDER.indexOf(s) > SIMD_ORDER.indexOf(level)) level = s;
  }
  return level;
}

/** Whether a profile's `simd` level allows a module. */
export function simdAllows(profileSimd: SimdLevel, m: KernelModule): boolean {
  return SIMD_ORDER.indexOf(simdLevelOf(m)) <= SIMD_ORDER.indexOf(profileSimd);
}

/** Why this runtime cannot validate a module, naming the Node version that can. */
export function notValidatedReason(m: KernelModule): string {
  const lacking = featuresOf(m).filter((f) => !WASM_FEATURES[f]?.validates());
  const needs = lacking.map((f) => {
    const facts = WASM_FEATURES[f];
    return facts ? `${f} (Node ≥ ${facts.node}${facts.older ? `, or ${facts.older}` : ''})` : f;
  });
  return `this runtime (Node ${process.versions.node}, V8 ${process.versions.v8}) cannot validate kernel flavour '${m.flavour}' of family '${m.family}': it needs ${needs.join(' and ') || 'a feature it lacks'}`;
}

/** A built module compiled, or why this runtime cannot (the Node version that can): the one place a flavour is loaded or refused. */
export function compileFlavour(m: KernelModule, dir?: string): { module?: WebAssembly.Module; refused?: string } {
  const bytes = readModuleBytes(m, dir);
  if (!WebAssembly.validate(bytes)) return { refused: notValidatedReason(m) };
  return { module: new WebAssembly.Module(bytes) };
}
