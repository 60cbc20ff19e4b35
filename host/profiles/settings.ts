// A profile's numbers on a given device: "auto" threads become a count, the SIMD level is lowered
// to what the runtime validates, the memory budget becomes bytes. And the profile in effect when
// only those numbers are needed (`wisp run` without --threads): detection without the ONNX Runtime
// probe unless the probe could change which profile is picked.
import { detectDevice, systemFacts, type DeviceFacts, type FactSource } from './detect.js';
import { pickProfile, type ProfileChoice } from './pick.js';
import { probeProvidersCached, type ProviderProbe } from './probe.js';
import { loadProfiles, namedProfile, profilesDir } from './load.js';
import type { DeviceProfile, LoadedProfile, SimdLevel } from './types.js';

export interface RuntimeSettings {
  threads: number;
  simd: SimdLevel;
  memoryBudgetBytes: number;
  maxSequences: number;
  maxBatchTokens: number;
  /** Where the device changed what the profile asked for. */
  notes: string[];
}

const MIB = 1 << 20;

/** The kernel threads a profile gives on a device with `cores` cores, and why (for logs). */
export function profileThreads(profile: DeviceProfile, cores: number): { threads: number; reason: string } {
  if (profile.threads === 'auto') return { threads: cores, reason: `profile ${profile.name}: auto = ${cores} core${cores === 1 ? '' : 's'}` };
  const more = profile.threads > cores ? `; more than the ${cores} core${cores === 1 ? '' : 's'}` : '';
  return { threads: profile.threads, reason: `profile ${profile.name}: ${profile.threads}${more}` };
}

export function resolveSettings(profile: DeviceProfile, device: DeviceFacts): RuntimeSettings {
  const notes: string[] = [];
  const threads = profileThreads(profile, device.cores).threads;
  if (profile.threads === 'auto') notes.push(`threads auto → ${threads} (cores)`);
  else if (profile.threads > device.cores) notes.push(`threads ${profile.threads} is more than the ${device.cores} cores`);

  let simd = profile.simd;
  if (simd === 'relaxed-simd' && !device.wasmSimd.relaxedSimd) {
    simd = 'simd128';
    notes.push('simd relaxed-simd → simd128 (this runtime does not validate relaxed SIMD)');
  }
  if (simd === 'simd128' && !device.wasmSimd.simd128) {
    simd = 'scalar';
    notes.push('simd simd128 → scalar (this runtime does not validate SIMD128)');
  }

  const limits: number[] = [];
  if (profile.memory.budgetMiB !== undefined) limits.push(profile.memory.budgetMiB * MIB);
  if (profile.memory.fraction !== undefined) limits.push(Math.floor(profile.memory.fraction * device.totalMemoryBytes));
  const memoryBudgetBytes = Math.min(...limits);
  if (profile.memory.budgetMiB !== undefined && profile.memory.budgetMiB * MIB > device.totalMemoryBytes) {
    notes.push(`memory budget ${profile.memory.budgetMiB} MiB is more than the device's ${Math.round(device.totalMemoryBytes / MIB)} MiB`);
  }
  return { threads, simd, memoryBudgetBytes, maxSequences: profile.batch.maxSequences, maxBatchTokens: profile.batch.maxBatchTokens, notes };
}

export interface QuickChoice<P extends DeviceProfile> {
  choice: ProfileChoice<P>;
  device: DeviceFacts;
  /** Whether the ONNX Runtime probe ran (a profile whose match needs providers could have won). */
  probed: boolean;
}

/**
 * The profile this device gets, like pickProfile(detectDevice(), profiles), but without the ONNX
 * Runtime probe (a child process, ~1 s) when its answer cannot change the choice: the facts are
 * read with no providers available, then with every provider a profile's `match` names available;
 * if both pick the same profile, that is the answer. Otherwise (say an arm64 board a `qnn` profile
 * would claim) the providers are probed (probeProvidersCached: once per process).
 */
export async function pickProfileQuick<P extends DeviceProfile>(
  profiles: readonly P[],
  source: FactSource = systemFacts({ probe: false }),
  probe: () => Promise<ProviderProbe[]> = probeProvidersCached,
): Promise<QuickChoice<P>> {
  const named = [...new Set(profiles.flatMap((p) => p.match.providers ?? []))];
  const without = await detectDevice({ ...source, providers: async () => [] });
  const choice = pickProfile(without, profiles);
  if (named.length === 0) return { choice, device: without, probed: false };
  const all = named.map((name): ProviderProbe => ({ name, listed: true, available: true, detail: 'assumed available' }));
  const optimistic = pickProfile({ ...without, providers: all }, profiles);
  if (optimistic.profile?.name === choice.profile?.name) return { choice, device: without, probed: false };
  const device = { ...without, providers: await probe() };
  return { choice: pickProfile(device, profiles), device, probed: true };
}

/**
 * The device profile in effect for a command: the one named (--profile NAME|PATH), else the one this
 * machine gets (pickProfileQuick); undefined when none fits or the profiles cannot be read (the
 * caller keeps its own defaults, as chooseThreads does for the thread count).
 */
export async function profileInEffect(named: string | undefined): Promise<LoadedProfile | undefined> {
  if (named !== undefined) return namedProfile(named);
  try {
    return (await pickProfileQuick(loadProfiles(profilesDir()))).choice.profile ?? undefined;
  } catch {
    return undefined;
  }
}
