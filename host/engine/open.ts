// Opens a model on an engine: the wasm kernels (the product), the JS f32 reference (the oracle),
// the all-ONNX engine, or the routed engine, which runs each layer's attention and FFN and the head
// on the backend a device profile's routing plan names (host/engine/routed.ts).
//
// Kernel threads (wasm and routed engines): opts.threads when given (--threads), else the device
// profile in effect: --profile, else the one picked for this machine (the routing plan's, or
// pickProfileQuick, which skips the ONNX Runtime probe when it cannot change the choice).
import { OnnxModel } from '../backends/onnx/model.js';
import { WasmModel } from '../backends/wasm/model.js';
import { usableCores } from '../backends/wasm/pool.js';
import { GGUFHeaderView } from '../model/gguf/index.js';
import { configFromGGUF, type LlamaConfig } from '../model/llama-config.js';
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
import { pickProfileQuick, profileThreads } from '../profiles/settings.js';
import type { AsyncTokenModel, TokenModel } from './generate.js';
import { checkVocabulary, loadModel, tokenizerFromGGUF } from './load-model.js';
import { RoutedModel, describePlacement, isAllWasm, uniformPlacement, type BackendName, type OpTime, type Placement } from './routed.js';

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
  /** Each routed block's time (ServiceMetrics.backendTime fits). */
  onOpTime?: (backend: BackendName, op: BackendOp, seconds: number) => void;
  /** Always build the routed engine, even for an all-wasm plan (to time every block). */
  alwaysRouted?: boolean;
}

export interface OpenModel {
  path: string;
  name: string;
  config: LlamaConfig;
  tokenizer: Tokenizer;
  /** The engine, honestly typed: forward/prefill/decodeBatch may return promises (generateAsync, the Scheduler). */
  asyncModel: AsyncTokenModel<unknown>;
  /** The same engine when its steps are synchronous (wasm, reference): generate() can drive it. */
  sync?: TokenModel<unknown>;
  /** The routing plan the engine was built from (routed engine). */
  plan?: RoutingPlan;
  /** Where each block runs, as loaded. */
  placement(): Placement;
  /** Time per backend and op group (routed engine; empty for the others). */
  opTimes(): OpTime[];
  /** e.g. "wasm (2 threads)" */
  description: string;
  /** The thread count used and why ("--threads", "profile generic-x86_64: auto = 2 cores"); none for the reference engine. */
  threads?: { count: number; reason: string; profile?: string };
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
  if (engine === 'reference') {
    const m = loadModel(path);
    const model = m.engine as TokenModel<unknown>;
    return {
      path,
      name: m.file.optString('general.name') ?? path,
      config: m.config,
      tokenizer: m.tokenizer,
      asyncModel: model,
      sync: model,
      placement: () => uniformPlacement(m.config.nLayers, { backend: 'wasm' }),
      opTimes: () => [],
      description: 'reference (f32 JS)',
      close: async () => {},
    };
  }
  const note = infoLogger(opts.log);
  const threadNote = (n: number) => `${n} thread${n === 1 ? '' : 's'}`;

  if (engine === 'onnx') {
    // ORT intra-op threads: the profile's count is for the wasm kernels
    const threads = opts.threads ?? 1;
    const header = GGUFHeaderView.read(path);
    const config = configFromGGUF(header);
    const tokenizer = tokenizerFromGGUF(header);
    checkVocabulary(path, tokenizer, config);
    const m = await OnnxModel.load(path, { contextSize: opts.contextSize, maxSequences: opts.maxSequences, threads: opts.onnxThreads ?? threads, log });
    const provider = /\((\w+)\)/.exec(m.description)?.[1];
    return {
      path,
      name: header.optString('general.name') ?? path,
      config,
      tokenizer,
      asyncModel: m as AsyncTokenModel<unknown>,
      placement: () => uniformPlacement(config.nLayers, { backend: 'onnx', ...(provider ? { provider } : {}) }),
      opTimes: () => [],
      description: `${m.description}, ${threadNote(threads)}`,
      threads: { count: threads, reason: opts.threads !== undefined ? '--threads' : 'the onnx engine\'s default' },
      close: () => m.close(),
    };
  }

  let plan: RoutingPlan | undefined;
  let planProfile: LoadedProfile | undefined;
  if (engine === 'routed') {
    const nLayers = configFromGGUF(GGUFHeaderView.read(path)).nLayers;
    ({ plan, profile: planProfile } = await planAndProfile(nLayers, opts));
  }
  const threadChoice = await chooseThreads(opts.threads, planProfile ?? opts.profile);
  const threads = threadChoice.count;
  note(`threads: ${threads} (${threadChoice.reason})`);
  const cores = usableCores();
  if (threads > cores) {
    log(`${threads} kernel threads on ${cores} core${cores === 1 ? '' : 's'}: at every barrier some thread waits for one that is off the CPU, so expect fewer tokens/s than with --threads ${cores}`);
  }
  const wasmOpts = { threads, contextSize: opts.contextSize, kvType: opts.kvType, maxSequences: opts.maxSequences, spinLimit: opts.spinLimit };
  if (plan && (!isAllWasm(plan) || opts.alwaysRouted)) {
    const routed = await RoutedModel.load(path, plan, { ...wasmOpts, onnxThreads: opts.onnxThreads ?? threads, log, onOpTime: opts.onOpTime });
    const header = new GGUFHeaderView(path, routed.wasm.file.header);
    const tokenizer = await tokenizerFor(path, header, routed.config, routed);
    return {
      path,
      name: header.optString('general.name') ?? path,
      config: routed.config,
      tokenizer,
      asyncModel: routed as AsyncTokenModel<unknown>,
      plan,
      placement: () => routed.placement(),
      opTimes: () => routed.opTimes(),
      description: `routed by ${planLabel(plan, opts)} (${describePlacement(routed.placement())}; ${threadNote(threads)}, ${opts.kvType ?? 'f32'} KV)`,
      threads: threadChoice,
      close: () => routed.close(),
    };
  }

  // all wasm: the WasmModel itself, no routing layer in the step
  if (plan) for (const w of plan.warnings) log(`routing: warning: ${w}`);
  const wasm = WasmModel.load(path, wasmOpts);
  const header = new GGUFHeaderView(path, wasm.file.header);
  const tokenizer = await tokenizerFor(path, header, wasm.config, wasm, wasm.ready());
  return {
    path,
    name: header.optString('general.name') ?? path,
    config: wasm.config,
    tokenizer,
    asyncModel: wasm as AsyncTokenModel<unknown>,
    sync: wasm as TokenModel<unknown>,
    ...(plan ? { plan } : {}),
    placement: () => wasm.placement(),
    opTimes: () => wasm.opTimes(),
    description: `wasm (${threadNote(threads)}, ${opts.kvType ?? 'f32'} KV${plan ? `, all blocks on wasm by ${planLabel(plan, opts)}` : ''})`,
    threads: threadChoice,
    close: () => wasm.close(),
  };
}

/** The model's tokenizer, checked against its config (after `ready`); closes the engine if anything fails. */
async function tokenizerFor(path: string, header: GGUFHeaderView, config: LlamaConfig, engine: { close(): Promise<void> }, ready?: Promise<void>): Promise<Tokenizer> {
  try {
    await ready;
    const tokenizer = tokenizerFromGGUF(header);
    checkVocabulary(path, tokenizer, config);
    return tokenizer;
  } catch (err) {
    await engine.close();
    throw err;
  }
}
