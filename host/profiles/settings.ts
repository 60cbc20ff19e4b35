// A profile's numbers on a given device: "auto" threads become a count, the SIMD level is lowered
// to what the runtime validates, the memory budget becomes bytes.
import type { DeviceFacts } from './detect.js';
import type { DeviceProfile, SimdLevel } from './types.js';

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

export function resolveSettings(profile: DeviceProfile, device: DeviceFacts): RuntimeSettings {
  const notes: string[] = [];
  const threads = profile.threads === 'auto' ? device.cores : profile.threads;
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
