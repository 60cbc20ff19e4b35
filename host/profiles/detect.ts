// What device is this? detectDevice() gathers the facts a profile can match on: os.arch/platform,
// the CPU flags of /proc/cpuinfo, cores, total memory, /proc/device-tree/model, the WebAssembly
// SIMD the runtime validates, and which ONNX Runtime execution providers actually initialise.
// The raw facts come through a FactSource so tests can describe a Pi 4 or a Jetson with text.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { probeProviders, type ProviderProbe } from './probe.js';

export type { ProviderProbe } from './probe.js';

/** Where detectDevice gets raw facts; systemFacts() reads this machine. */
export interface FactSource {
  arch(): string;
  platform(): string;
  /** Text of /proc/cpuinfo, or undefined where there is none (macOS, Windows). */
  cpuinfo(): string | undefined;
  /** Text of /proc/device-tree/model, or undefined. */
  deviceTreeModel(): string | undefined;
  cores(): number;
  totalMemoryBytes(): number;
  /** WebAssembly SIMD the JS runtime accepts. */
  wasmSimd(): { simd128: boolean; relaxedSimd: boolean };
  /** Which onnxruntime-node providers initialise (see probe.ts). */
  providers(): Promise<ProviderProbe[]>;
}

export interface DeviceFacts {
  arch: string;
  platform: string;
  /** "model name" (x86) or the CPU part decoded (arm), when cpuinfo says. */
  cpuModel?: string;
  /** Lower-case CPU flags; null when there is no /proc/cpuinfo to read them from. */
  cpuFeatures: string[] | null;
  cores: number;
  totalMemoryBytes: number;
  /** /proc/device-tree/model (boards: "Raspberry Pi 4 Model B Rev 1.4", "NVIDIA Jetson AGX Orin"). */
  deviceModel?: string;
  wasmSimd: { simd128: boolean; relaxedSimd: boolean };
  providers: ProviderProbe[];
}

/** Providers that initialised, in the order probed. */
export function availableProviders(device: DeviceFacts): string[] {
  return device.providers.filter((p) => p.available).map((p) => p.name);
}

export async function detectDevice(source: FactSource = systemFacts()): Promise<DeviceFacts> {
  const cpu = parseCpuinfo(source.cpuinfo());
  const model = source.deviceTreeModel()?.replace(/\0/g, '').trim();
  return {
    arch: source.arch(),
    platform: source.platform(),
    ...(cpu.model ? { cpuModel: cpu.model } : {}),
    cpuFeatures: cpu.features,
    cores: source.cores(),
    totalMemoryBytes: source.totalMemoryBytes(),
    ...(model ? { deviceModel: model } : {}),
    wasmSimd: source.wasmSimd(),
    providers: await source.providers(),
  };
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** This machine. `probe: false` skips starting ONNX Runtime (providers then lists nothing). */
export function systemFacts(options: { probe?: boolean } = {}): FactSource {
  return {
    arch: () => os.arch(),
    platform: () => os.platform(),
    cpuinfo: () => readText('/proc/cpuinfo'),
    deviceTreeModel: () => readText('/proc/device-tree/model'),
    cores: () => os.availableParallelism(), // the count usableCores() (host/profiles/cores.ts) gives the pool
    totalMemoryBytes: () => os.totalmem(),
    wasmSimd: wasmSimdSupport,
    providers: () => (options.probe === false ? Promise.resolve([]) : probeProviders()),
  };
}

// (func (result v128) v128.const 0): valid only where SIMD128 is
const SIMD128 = Uint8Array.from([
  0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7b, 3, 2, 1, 0,
  0x0a, 0x16, 1, 0x14, 0, 0xfd, 0x0c, ...new Array<number>(16).fill(0), 0x0b,
]);
// (func (result v128) (i32x4.relaxed_trunc_f32x4_s (v128.const 0))): valid only where relaxed SIMD is
const RELAXED = Uint8Array.from([
  0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7b, 3, 2, 1, 0,
  0x0a, 0x19, 1, 0x17, 0, 0xfd, 0x0c, ...new Array<number>(16).fill(0), 0xfd, 0x81, 0x02, 0x0b,
]);

export function wasmSimdSupport(): { simd128: boolean; relaxedSimd: boolean } {
  return { simd128: WebAssembly.validate(SIMD128), relaxedSimd: WebAssembly.validate(RELAXED) };
}

// ARM CPU parts (cpuinfo "CPU part") wisp's shipped profiles care about, for a readable cpuModel
const ARM_PARTS: Record<string, string> = {
  '0xd03': 'Cortex-A53',
  '0xd04': 'Cortex-A35',
  '0xd05': 'Cortex-A55',
  '0xd07': 'Cortex-A57',
  '0xd08': 'Cortex-A72',
  '0xd09': 'Cortex-A73',
  '0xd0a': 'Cortex-A75',
  '0xd0b': 'Cortex-A76',
  '0xd0c': 'Neoverse-N1',
  '0xd0d': 'Cortex-A77',
  '0xd41': 'Cortex-A78',
  '0xd42': 'Cortex-A78AE',
  '0xd4b': 'Cortex-A78C',
  '0xd44': 'Cortex-X1',
  '0xd46': 'Cortex-A510',
  '0xd47': 'Cortex-A710',
  '0xd4d': 'Cortex-A715',
  '0xd40': 'Neoverse-V1',
  '0xd49': 'Neoverse-N2',
};

/** CPU flags (x86 `flags`, arm `Features`: the first processor's) and a model name from cpuinfo text. */
export function parseCpuinfo(text: string | undefined): { features: string[] | null; model?: string } {
  if (text === undefined) return { features: null };
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'mi').exec(text)?.[1]?.trim();
  const flags = field('flags') ?? field('Features');
  const features = flags === undefined ? null : [...new Set(flags.toLowerCase().split(/\s+/).filter(Boolean))].sort();
  const part = field('CPU part')?.toLowerCase();
  const model = (part && ARM_PARTS[part]) ?? field('model name') ?? field('Hardware') ?? (part ? `ARM part ${part}` : undefined);
  return { features, ...(model ? { model } : {}) };
}
