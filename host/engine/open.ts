// Opens a model on an engine: the JS f32 reference (the oracle), or the forward pass
// (host/engine/forward.ts) with every block on the wasm kernels (the product), every block on ONNX
// Runtime, or each layer's attention and FFN and the head where a device profile's routing plan
// says (routed). The GGUF header is read once here; the forward pass reads the data once.
//
// Kernel threads (wasm and routed engines): opts.threads when given (--threads), else the device
// profile in effect: --profile, else the one picked for this machine (the routing plan's, or
// pickProfileQuick, which skips the ONNX Runtime probe when it cannot change the choice).
import { BACKENDS } from '../backends/registry.js';
import type { ActivationChoice } from '../model/block-formats.js';
import type { LlamaConfig } from '../model/llama/config.js';
import { ModelFile } from '../model/model-file.js';
import type { Tokenizer } from '../model/tokenizer/index.js';
import type { BackendOp } from '../obs/metrics.js';
import {
  detectDevice,
  loadProfiles,
  namedProfile,
  pickProfile,
  planRouting,
  probeProvidersCached,
  profilesDir,
  routeProfile,
  systemFacts,
  type LoadedProfile,
  type RoutingPlan,
  type RoutingTable,
} from '../profiles/index.js';
import { usableCores } from '../profiles/cores.js';
import type { SimdLevel } from '../profiles/types.js';
import { chooseKernels, type KernelChoice } from '../kernels/choose.js';
import type { KernelFamily } from '../kernels/load.js';
import { pickProfileQuick, profileThreads } from '../profiles/settings.js';
import type { BackendName, OpTime, Placement } from './backend.js';
import { ForwardPass } from './forward.js';
import type { TokenModel } from './generate.js';
import { checkVocabulary, loadModel, tokenizerFromGGUF } from './load-model.js';
import { describePlacement, isAllWasm, logPlanFallbacks, planTargets, uniformPlacement, uniformTargets } from './placement.js';

export const ENGINES = ['wasm', 'reference', 'onnx', 'routed'] as const;
export type EngineName = (typeof ENGINES)[number];

/** Where load-time notes go: a function, or a logger with warn (pino's; info, when it has one, gets the thread count). */
export type OpenLog = ((msg: string) => void) | { warn(msg: string): void; info?(msg: string): void };

export interface OpenOptions {
  /** wasm (default), reference, onnx (all-ONNX, one fused session) or routed (a profile's plan). */
  engine?: EngineName;
  /**
   * Kernel threads (wasm, routed), ORT intra-op threads (onnx). Default: the device profile's
   * (`profile`, else the detected one; see pickProfileQuick) for wasm and routed, 1 for onnx.
   */
  threads?: number;
  /** Kernel pool spin iterations before Atomics.wait (host/backends/wasm/pool.ts; default its own). */
  spinLimit?: number;
  contextSize?: number;
  kvType?: 'f32' | 'f16';
  /** KV cache slots (sequences decoding at once; the wasm engine plans their memory at load). */
  maxSequences?: number;
  /**
   * Device profile whose routing plan runs the model: a name in device-profiles/ or a file path.
   * Implies the routed engine. With engine 'routed' and no profile, the detected one is used.
   */
  profile?: string | null;
  /** A routing plan, or a routing table (replaces the profile's, or stands alone: see routeProfile). */
  routing?: RoutingPlan | RoutingTable;
  /** Providers taken as available instead of probing ONNX Runtime (tests; `--providers`). */
  providers?: string[];
  /** ORT intra-op threads per session (onnx and routed engines; default: the same as threads). */
  onnxThreads?: number;
  /** Load-time notes (fallbacks, warnings), each once; default stderr. */
  log?: OpenLog;
  /** Each timed block's time (ServiceMetrics.backendTime fits). */
  onOpTime?: (backend: BackendName, op: BackendOp, seconds: number) => void;
  /** Time every block (default: a plan that mixes backends or is not all wasm; the routed engine always has). */
  timeOps?: boolean;
  /** Run consecutive ONNX blocks as one session (default: --engine onnx; a routing plan runs a session per block). */
  fuse?: boolean;
  /** Prompt tokens per prefill step and sequences per decode batch (default: the backends' own). */
  prefillChunk?: number;
  /** The most rows one step may carry (a device profile's batch.maxBatchTokens; default: no cap). */
  maxBatchTokens?: number;
  /** The wasm backend's load-time layouts (q4_0r8, q4_Kr4, f16f; default true; false keeps ggml's, for A/B). */
  repack?: boolean;
  /** The activations of the wasm backend's quantized matmuls: q8 (ggml's, llama.cpp's math; default) or q16 (WasmOptions.activations). */
  activations?: ActivationChoice;
  /** `--kernels FLAVOUR`: run every kernel family built in that flavour on it (default: chosen per runtime and CPU, host/kernels/choose.ts). */
  kernels?: string;
}

export interface OpenModel {
  path: string;
  name: string;
  config: LlamaConfig;
  tokenizer: Tokenizer;
  /** The engine: generate() and the Scheduler drive it. */
  model: TokenModel<unknown>;
  /** The forward pass (every engine but the reference): its backends, for inspection. */
  forward?: ForwardPass;
  /** The routing plan the engine was built from (routed engine). */
  plan?: RoutingPlan;
  /** Where each block runs, as loaded. */
  placement(): Placement;
  /** Time per backend and op group (when timed: the routed engine; empty for the others). */
  opTimes(): OpTime[];
  /** e.g. "wasm (2 threads)" */
  description: string;
  /** The thread count used and why ("--threads", "profile generic-x86_64: auto = 2 cores"); none for the reference engine. */
  threads?: { count: number; reason: string; profile?: string };
  /** The kernel flavour of each family and why (wasm and routed engines). */
  kernels?: KernelChoice;
  close(): Promise<void>;
}

export function parseEngine(name: string): EngineName {
  if (!(ENGINES as readonly string[]).includes(name)) throw new Error(`unknown engine '${name}'; choose ${ENGINES.join(', ')}`);
  return name as EngineName;
}

function logger(log: OpenLog | undefined): (msg: string) => void {
  if (log === undefined) return (msg) => process.stderr.write(`wisp: ${msg}\n`);
  return typeof log === 'function' ? log : (msg) => log.warn(msg);
}

/** Informational lines (the thread count): stderr, the function, or the logger's info. */
function infoLogger(log: OpenLog | undefined): (msg: string) => void {
  if (log === undefined || typeof log === 'function') return logger(log);
  return (msg) => log.info?.(msg);
}

function isPlan(r: RoutingPlan | RoutingTable): r is RoutingPlan {
  return Array.isArray((r as RoutingPlan).layers) && (r as RoutingPlan).head !== undefined;
}

/**
 * The routing plan for a model of nLayers: a given plan (checked against the model), or
 * planRouting(profile, { nLayers }, available providers), the profile being --profile, a
 * --route table (alone or over the profile), or the detected one. The providers come from the
 * ONNX Runtime probe (a child process, once per process) unless given.
 */
export async function resolvePlan(nLayers: number, opts: Pick<OpenOptions, 'profile' | 'routing' | 'providers'>): Promise<RoutingPlan> {
  return (await planAndProfile(nLayers, opts)).plan;
}

/** resolvePlan, and the device profile it was made from when that is --profile or the detected one (not a --route table alone). */
async function planAndProfile(nLayers: number, opts: Pick<OpenOptions, 'profile' | 'routing' | 'providers'>): Promise<{ plan: RoutingPlan; profile?: LoadedProfile }> {
  const routing = opts.routing;
  if (routing && isPlan(routing)) {
    if (routing.nLayers !== nLayers) throw new Error(`the routing plan is for ${routing.nLayers} layers; the model has ${nLayers}`);
    return { plan: routing, ...(opts.profile ? { profile: namedProfile(opts.profile) } : {}) };
  }
  const available = opts.providers ?? (await probeProvidersCached()).filter((p) => p.available).map((p) => p.name);
  const named: LoadedProfile | undefined = opts.profile ? namedProfile(opts.profile) : undefined;
  if (routing) return { plan: planRouting(routeProfile(routing, named), { nLayers }, available), ...(named ? { profile: named } : {}) };
  if (named) return { plan: planRouting(named, { nLayers }, available), profile: named };
  const device = await detectDevice({ ...systemFacts({ probe: false }), providers: probeProvidersCached });
  const choice = pickProfile(device, loadProfiles(profilesDir()));
  if (!choice.profile) throw new Error(`no device profile fits this machine (${choice.explanation}); pass --profile or --route`);
  return { plan: planRouting(choice.profile, { nLayers }, available), profile: choice.profile };
}

/**
 * The kernel thread count and why: `threads` when given, else the profile's (`profile`, else the
 * one picked for this machine without the ONNX Runtime probe when it cannot matter). A machine no
 * profile fits, or unreadable profiles, get 1 thread, and the reason says so.
 */
export async function chooseThreads(threads: number | undefined, profile?: LoadedProfile | string | null): Promise<{ count: number; reason: string; profile?: string }> {
  if (threads !== undefined) return { count: threads, reason: '--threads' };
  const cores = usableCores();
  try {
    let p = typeof profile === 'string' ? namedProfile(profile) : (profile ?? undefined);
    if (!p) {
      const { choice } = await pickProfileQuick(loadProfiles(profilesDir()));
      if (!choice.profile) return { count: 1, reason: `no device profile fits this machine: ${choice.explanation}` };
      p = choice.profile;
    }
    const t = profileThreads(p, cores);
    return { count: t.threads, reason: t.reason, profile: p.name };
  } catch (err) {
    return { count: 1, reason: `device profiles could not be read: ${(err as Error).message}` };
  }
}

/** "profile jetson-orin", "a routing table", "a routing table over profile x" */
function planLabel(plan: RoutingPlan, opts: OpenOptions): string {
  if (!opts.routing || isPlan(opts.routing)) return `profile ${plan.profile}`;
  return opts.profile ? `a routing table over profile ${opts.profile}` : 'a routing table';
}

export async function openModel(path: string, opts: OpenOptions = {}): Promise<OpenModel> {
  let engine = opts.engine ?? 'wasm';
  if (opts.profile || opts.routing) {
    if (engine !== 'wasm' && engine !== 'routed') throw new Error(`a profile or routing table runs on the routed engine, not '${engine}'`);
    engine = 'routed';
  }
  const log = logger(opts.log);
  const file = ModelFile.open(path);
  const config = file.config;
  const tokenizer = tokenizerFromGGUF(file.header);
  checkVocabulary(path, tokenizer, config);
  const base = { path, name: file.name, config, tokenizer };
  if (engine === 'reference') {
    const m = loadModel(file, { contextSize: opts.contextSize });
    return {
      ...base,
      model: m.engine as TokenModel<unknown>,
      placement: () => uniformPlacement(config.nLayers, { backend: 'wasm' }),
      opTimes: () => [],
      description: 'reference (f32 JS)',
      close: async () => {},
    };
  }
  const note = infoLogger(opts.log);
  const threadNote = (n: number) => `${n} thread${n === 1 ? '' : 's'}`;
  const sizes = { contextSize: opts.contextSize, maxSequences: opts.maxSequences, maxRows: opts.prefillChunk, maxBatchTokens: opts.maxBatchTokens, log };

  if (engine === 'onnx') {
    // ORT intra-op threads: the profile's count is for the wasm kernels
    const threads = opts.threads ?? 1;
    // a block ONNX cannot build (or open) runs on the wasm kernels instead, said once in the log
    const fp = await ForwardPass.open(file, uniformTargets(config.nLayers, [{ backend: 'onnx', variant: { name: 'cpu' } }, { backend: 'wasm' }]), BACKENDS, {
      ...sizes,
      backends: { onnx: { threads: opts.onnxThreads ?? threads, fuse: opts.fuse ?? true }, wasm: { threads, kvType: opts.kvType, spinLimit: opts.spinLimit, repack: opts.repack } },
      timeOps: opts.timeOps,
      onOpTime: opts.onOpTime,
    });
    const onnx = fp.backend('onnx') as { describe?(): string } | undefined;
    const onWasm = fp.backend('wasm') ? ` (${describePlacement(fp.placement())})` : '';
    return {
      ...base,
      model: fp,
      forward: fp,
      placement: () => fp.placement(),
      opTimes: () => fp.opTimes(),
      description: `onnx ${onnx?.describe?.() ?? ''}${onWasm}, ${threadNote(threads)}`,
      threads: { count: threads, reason: opts.threads !== undefined ? '--threads' : "the onnx engine's default" },
      close: () => fp.close(),
    };
  }

  let plan: RoutingPlan | undefined;
  let planProfile: LoadedProfile | undefined;
  if (engine === 'routed') ({ plan, profile: planProfile } = await planAndProfile(config.nLayers, opts));
  const threadChoice = await chooseThreads(opts.threads, planProfile ?? opts.profile);
  const threads = threadChoice.count;
  note(`threads: ${threads} (${threadChoice.reason})`);
  const cores = usableCores();
  if (threads > cores) {
    log(`${threads} kernel threads on ${cores} core${cores === 1 ? '' : 's'}: at every barrier some thread waits for one that is off the CPU, so expect fewer tokens/s than with --threads ${cores}`);
  }
  if (plan) {
    if (plan.nLayers !== config.nLayers) throw new Error(`the routing plan is for ${plan.nLayers} layers; ${path} has ${config.nLayers}`);
    for (const w of plan.warnings) log(`routing: warning: ${w}`);
    logPlanFallbacks(plan, log);
  }
  const kernels = await chooseKernels({ simd: await profileSimd(planProfile, threadChoice.profile ?? opts.profile ?? undefined), override: opts.kernels });
  noteKernelsOnce(kernels, note);
  const mixed = plan !== undefined && !isAllWasm(plan);
  const fp = await ForwardPass.open(file, plan ? planTargets(plan) : uniformTargets(config.nLayers, [{ backend: 'wasm' }]), BACKENDS, {
    ...sizes,
    backends: {
      wasm: { threads, kvType: opts.kvType, spinLimit: opts.spinLimit, repack: opts.repack, activations: opts.activations, kernels: modulesOf(kernels) },
      onnx: { threads: opts.onnxThreads ?? threads, fuse: opts.fuse ?? false },
    },
    timeOps: opts.timeOps ?? mixed,
    onOpTime: opts.onOpTime,
  });
  const kv = `${opts.kvType ?? 'f32'} KV${opts.activations === 'q16' ? ', q16 activations' : ''}`;
  const description = !mixed
    ? `wasm (${threadNote(threads)}, ${kv}${plan ? `, all blocks on wasm by ${planLabel(plan, opts)}` : ''})`
    : `routed by ${planLabel(plan!, opts)} (${describePlacement(fp.placement())}; ${threadNote(threads)}, ${kv})`;
  return {
    ...base,
    model: fp,
    forward: fp,
    ...(plan ? { plan } : {}),
    placement: () => fp.placement(),
    opTimes: () => fp.opTimes(),
    description,
    threads: threadChoice,
    kernels,
    close: () => fp.close(),
  };
}

/** The SIMD level of the device profile in effect (the plan's, --profile, or the detected one); undefined when none fits. */
async function profileSimd(planProfile: LoadedProfile | undefined, name: string | undefined): Promise<SimdLevel | undefined> {
  if (planProfile) return planProfile.simd;
  try {
    if (name) return namedProfile(name).simd;
    return (await pickProfileQuick(loadProfiles(profilesDir()))).choice.profile?.simd;
  } catch {
    return undefined;
  }
}

const noted = new WeakSet<KernelChoice>();

/** The kernel choice and why, once per process (the choice itself is made once: chooseKernels). */
function noteKernelsOnce(k: KernelChoice, note: (msg: string) => void): void {
  if (noted.has(k)) return;
  noted.add(k);
  note(`kernels: ${k.lines.join('; ')} [${Math.round(k.ms)} ms]`);
}

function modulesOf(k: KernelChoice): Record<KernelFamily, WebAssembly.Module> {
  return Object.fromEntries(Object.values(k.families).map((c) => [c.family, c.module])) as Record<KernelFamily, WebAssembly.Module>;
}
