// The shape of a device profile (device-profiles/*.json). The JSON Schema
// device-profiles/profile.schema.json is the source of truth; these types mirror it.

/** ONNX Runtime execution providers a profile may name (onnxruntime-node's names for them). */
export const PROVIDERS = ['cpu', 'cuda', 'tensorrt', 'qnn', 'coreml', 'dml', 'webgpu', 'xnnpack'] as const;
export type Provider = (typeof PROVIDERS)[number];

/** The op groups a routing rule can send somewhere: a layer's two halves, and the output head. */
export const OP_GROUPS = ['attention', 'ffn', 'head'] as const;
export type OpGroup = (typeof OP_GROUPS)[number];
export type LayerOp = Exclude<OpGroup, 'head'>;

/** `wasm`, `onnx` (the first available provider of the profile's list) or `onnx:<provider>`. */
export type BackendSpec = 'wasm' | 'onnx' | `onnx:${Provider}`;

export type SimdLevel = 'scalar' | 'simd128' | 'relaxed-simd';

export interface ProfileMatch {
  /** os.arch() values. */
  arch?: string[];
  /** os.platform() values. */
  platform?: string[];
  /** /proc/cpuinfo flags that must all be present (lower case). */
  cpuFeatures?: string[];
  /** Case-insensitive regular expression searched in /proc/device-tree/model. */
  deviceModel?: string;
  /** Providers that must initialise on the device. */
  providers?: Provider[];
}

export interface RoutingRule {
  /** Layer spec: "0-7", "8-", "even", "odd", "all", "0,2,4" (absent: every layer). */
  layers?: string;
  /** Op groups (absent: attention and ffn, plus head when `layers` is absent too). */
  ops?: OpGroup[];
  backend: BackendSpec;
}

export interface RoutingTable {
  default: BackendSpec;
  /** Later rules win where they overlap. */
  rules?: RoutingRule[];
}

export type ProviderOptionValue = string | number | boolean;

export interface DeviceProfile {
  $schema?: string;
  name: string;
  description: string;
  priority?: number;
  match: ProfileMatch;
  threads: number | 'auto';
  simd: SimdLevel;
  providers: Provider[];
  providerOptions?: Partial<Record<Provider, Record<string, ProviderOptionValue>>>;
  routing: RoutingTable;
  memory: { budgetMiB?: number; fraction?: number };
  batch: { maxSequences: number; maxBatchTokens: number };
  /** Kernel hot swap on this device class (docs/KERNELS.md). */
  kernels?: { allowUnsigned?: boolean; maxSlowdown?: number; probationSteps?: number };
  /** Written by `wisp bench --tune`: the measurements each setting was chosen from (host/bench/tune.ts). */
  tuned?: { by: string; date: string; from: string; choices: Record<string, { value: unknown; why: string }>; measurements: Record<string, unknown>; environment?: unknown; model?: { file?: string; sha256?: string } };
}

/** A profile as loaded: the JSON plus where it came from (named in every error about it). */
export type LoadedProfile = DeviceProfile & { readonly source: string };
