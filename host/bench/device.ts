// `wisp bench`: the device benchmark a user runs on a box. Detects the device profile, then measures,
// at every thread count asked for: memory-read bandwidth and kernel GB/s per weight type and kernel
// flavour (both over more bytes than the last-level cache), prefill/decode tok/s of the model under
// every routing candidate the profile allows, MQTT time to first token from a real mqtt.js client
// through the embedded broker (with the engine's batch scaling), and, when asked and installed,
// llama.cpp on the same file. The result carries what it ran on (environment.ts) so results from
// many devices can be compared (compare.ts) and a profile tuned from it (tune.ts).
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { GGUFHeaderView } from '../model/gguf/index.js';
import { sha256File } from '../model/sha256.js';
import { traitsOf, type GGMLType } from '../model/ggml-types.js';
import { detectDevice, loadProfiles, pickProfile, type DeviceProfile, type RoutingTable } from '../profiles/index.js';
import { benchEnvironment, type BenchEnvironment } from './environment.js';
import { benchKernels, BENCH_TYPES, kernelVariants, type KernelResult, type ReadBandwidth } from './kernels.js';
import { llamaCppSpeed, loadNodeLlamaCpp } from './llamacpp.js';
import { benchPrompt } from './models.js';
import { groupedBars, type Chart } from './plot.js';
import type { Section, Table } from './report.js';
import { routeSpeed, routingCandidates, type BenchRoute } from './routing.js';
import { benchTtft, type TtftResult } from './serve.js';

export const DEVICE_BENCH_KIND = 'wisp-device-bench';
export const DEVICE_BENCH_FORMAT = 1;

export interface DeviceBenchSettings {
  threads: number[];
  promptTokens: number;
  genTokens: number;
  /** [rows, cols] of the kernel bench's matrices. */
  kernelShapes: Array<[number, number]>;
  kernelTypes: string[];
  kernelMinSeconds: number;
  ttftRequests: number;
  ttftMaxTokens: number;
  batchSequences: number[];
  batchMs: number;
  compareLlamaCpp: boolean;
}

export interface RouteRow {
  route: string;
  routing: RoutingTable;
  threads: number;
  /** What the engine said it built ("wasm (2 threads, f32 KV)"). */
  engine?: string;
  loadMs?: number;
  prefillTokensPerSecond?: number;
  decodeTokensPerSecond?: number;
  /** Why this candidate could not run here (one line). */
  error?: string;
}

export interface LlamaCppRow {
  threads: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
}

export interface DeviceBench {
  kind: typeof DEVICE_BENCH_KIND;
  format: number;
  date: string;
  quick: boolean;
  environment: BenchEnvironment;
  profile: { name: string | null; source?: string; explanation: string; providersAvailable: string[]; wasmSimd: { simd128: boolean; relaxedSimd: boolean } };
  model: { file: string; path: string; sha256: string; bytes: number; arch?: string; layers?: number; vocab?: number };
  settings: DeviceBenchSettings;
  memory: ReadBandwidth[];
  workingSetBytes: number;
  kernelFlavours: string[];
  flavoursSkipped: Array<{ flavour: string; reason: string }>;
  kernels: KernelResult[];
  routing: RouteRow[];
  mqtt: TtftResult[];
  llamacpp?: { found: boolean; note?: string; rows: LlamaCppRow[] };
}

export interface DeviceBenchOptions {
  modelPath: string;
  quick: boolean;
  threads: number[];
  promptTokens?: number;
  genTokens?: number;
  kernelShapes?: Array<[number, number]>;
  kernelTypes?: GGMLType[];
  kernelMinSeconds?: number;
  compareLlamaCpp?: boolean;
  /** Called as each measurement starts (progress). */
  onStep?(what: string): void;
  /** Called with the total number of steps once it is known. */
  onTotal?(steps: number): void;
  /** One-line notes (fallbacks, skipped candidates). */
  log?(msg: string): void;
}

/** The settings a full or a --quick run uses, with the caller's overrides. */
export function deviceSettings(o: DeviceBenchOptions): DeviceBenchSettings {
  const q = o.quick;
  return {
    threads: o.threads,
    promptTokens: o.promptTokens ?? (q ? 16 : 128),
    genTokens: o.genTokens ?? (q ? 8 : 64),
    // TinyLlama's FFN down (issue 13's target shape); a small one for --quick
    kernelShapes: o.kernelShapes ?? [q ? [256, 1024] : [2048, 5632]],
    kernelTypes: (o.kernelTypes ?? BENCH_TYPES).map((t) => traitsOf(t).name),
    kernelMinSeconds: o.kernelMinSeconds ?? (q ? 0.02 : 0.25),
    ttftRequests: q ? 2 : 10,
    ttftMaxTokens: q ? 4 : 16,
    batchSequences: q ? [1, 2, 4] : [1, 2, 4, 8],
    batchMs: q ? 50 : 500,
    compareLlamaCpp: o.compareLlamaCpp ?? false,
  };
}

function modelFacts(path: string, sha256: string): DeviceBench['model'] {
  const h = GGUFHeaderView.read(path);
  const arch = h.optString('general.architecture');
  return {
    file: basename(path),
    path,
    sha256,
    bytes: statSync(path).size,
    ...(arch ? { arch } : {}),
    ...(arch && h.optNumber(`${arch}.block_count`) !== undefined ? { layers: h.optNumber(`${arch}.block_count`) } : {}),
    ...(h.optArray('tokenizer.ggml.tokens') ? { vocab: h.optArray('tokenizer.ggml.tokens')!.length } : {}),
  };
}

export async function benchDevice(o: DeviceBenchOptions): Promise<DeviceBench> {
  const settings = deviceSettings(o);
  const step = o.onStep ?? (() => {});
  // the engine's "threads: N (--threads)" lines say nothing the tables do not
  const log = (msg: string) => (/^threads: \d+ \(/.test(msg) ? undefined : o.log?.(msg));
  const environment = benchEnvironment();
  const facts = await detectDevice();
  const choice = pickProfile(facts, loadProfiles());
  const providersAvailable = facts.providers.filter((p) => p.available).map((p) => p.name);
  const profile: DeviceProfile = choice.profile ?? { name: 'none', description: '', match: {}, threads: 'auto', simd: 'simd128', providers: ['cpu'], routing: { default: 'wasm' }, memory: { fraction: 0.6 }, batch: { maxSequences: 4, maxBatchTokens: 1024 } };
  if (!choice.profile) log(`no device profile fits this machine (${choice.explanation}); measuring the all-wasm routing and the CPU provider`);
  const routes = routingCandidates(profile, providersAvailable);
  const shapes = settings.kernelShapes;
  const types = o.kernelTypes ?? BENCH_TYPES;
  const flavours = Object.keys(environment.kernels.flavours);
  const threadSet = [...new Set([1, ...settings.threads])];
  const kernelSteps = threadSet.length + shapes.reduce((n, [rows]) => n + types.reduce((m, t) => m + kernelVariants(t, rows).length, 0), 0) * flavours.length * settings.threads.length;
  const steps = kernelSteps + settings.threads.length * (routes.length + 1 + (settings.compareLlamaCpp ? 1 : 0)) + 1;
  o.onTotal?.(steps);

  step('model sha256');
  const model = modelFacts(o.modelPath, await sha256File(o.modelPath));

  const k = await benchKernels(settings.threads, undefined, { shapes, types, minSeconds: settings.kernelMinSeconds, onStart: step });
  // (a skipped flavour's rows never start: the progress bar jumps over them at the end)
  for (const s of k.flavoursSkipped) log(`kernel flavour ${s.flavour} not measured: ${s.reason}`);

  const header = GGUFHeaderView.read(o.modelPath);
  const prompt = benchPrompt(model.vocab ?? 32000, settings.promptTokens, header.optNumber('tokenizer.ggml.bos_token_id') ?? 1);
  const routing: RouteRow[] = [];
  for (const t of settings.threads) {
    for (const route of routes) {
      step(`${route.name}, ${t} thread${t > 1 ? 's' : ''}: ${settings.promptTokens} prompt tokens, ${settings.genTokens} generated`);
      routing.push(await routeRow(o.modelPath, route, prompt, settings.genTokens, t, log));
    }
  }

  const mqtt: TtftResult[] = [];
  for (const t of settings.threads) {
    step(`MQTT time to first token, ${t} thread${t > 1 ? 's' : ''}`);
    mqtt.push(await benchTtft({ modelPath: o.modelPath, threads: t, requests: settings.ttftRequests, maxTokens: settings.ttftMaxTokens, batchSequences: settings.batchSequences, batchMs: settings.batchMs }));
  }

  let llamacpp: DeviceBench['llamacpp'];
  if (settings.compareLlamaCpp) {
    const nlc = await loadNodeLlamaCpp();
    const rows: LlamaCppRow[] = [];
    let note: string | undefined = nlc ? undefined : 'node-llama-cpp not found (install it, or set WISP_LLAMACPP=/path/to/node_modules)';
    for (const t of settings.threads) {
      step(`llama.cpp, ${t} thread${t > 1 ? 's' : ''}`);
      if (!nlc || note) continue;
      try {
        const s = await llamaCppSpeed(nlc, o.modelPath, prompt, settings.genTokens, t);
        rows.push({ threads: t, prefillTokensPerSecond: s.prefillTokensPerSecond, decodeTokensPerSecond: s.decodeTokensPerSecond });
      } catch (err) {
        note = `llama.cpp could not run the model: ${(err as Error).message.split('\n')[0]}`;
      }
    }
    if (note) log(note);
    llamacpp = { found: !!nlc, ...(note ? { note } : {}), rows };
  }

  return {
    kind: DEVICE_BENCH_KIND,
    format: DEVICE_BENCH_FORMAT,
    date: new Date().toISOString(),
    quick: o.quick,
    environment,
    profile: { name: choice.profile?.name ?? null, ...(choice.profile ? { source: (choice.profile as { source?: string }).source } : {}), explanation: choice.explanation, providersAvailable, wasmSimd: facts.wasmSimd },
    model,
    settings,
    memory: k.readBandwidth,
    workingSetBytes: k.workingSetBytes,
    kernelFlavours: k.flavours,
    flavoursSkipped: k.flavoursSkipped,
    kernels: k.results,
    routing,
    mqtt,
    ...(llamacpp ? { llamacpp } : {}),
  };
}

async function routeRow(path: string, route: BenchRoute, prompt: number[], gen: number, threads: number, log: (msg: string) => void): Promise<RouteRow> {
  const base = { route: route.name, routing: route.routing as RoutingTable, threads };
  try {
    const r = await routeSpeed(path, route, prompt, gen, threads, log);
    return { ...base, engine: r.engine, loadMs: r.loadMs, prefillTokensPerSecond: r.prefillTokensPerSecond, decodeTokensPerSecond: r.decodeTokensPerSecond };
  } catch (err) {
    const error = (err as Error).message.split('\n')[0];
    log(`${route.name} at ${threads} thread${threads > 1 ? 's' : ''} could not run: ${error}`);
    return { ...base, error };
  }
}

// ---- presenting it --------------------------------------------------------------------------------

const threadName = (t: number) => `${t} thread${t > 1 ? 's' : ''}`;
const f1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');

/** The tables of a device bench, as printed and as shown in the HTML report. */
export function deviceTables(b: DeviceBench): Array<{ heading: string; table: Table }> {
  const ts = b.settings.threads;
  const memory: Table = { headers: ['memory read', ...ts.map(threadName)], rows: [['GB/s (memcmp, > LLC)', ...ts.map((t) => f1(b.memory.find((m) => m.threads === t)?.gbPerSecond))]] };
  const kernelKeys = [...new Set(b.kernels.map((r) => `${r.type}\t${r.flavour}\t${r.rows}×${r.cols}`))];
  const kernels: Table = {
    headers: ['kernel', 'flavour', 'shape', ...ts.map((t) => `${threadName(t)} GB/s (of read)`)],
    rows: kernelKeys.map((key) => {
      const [type, flavour, shape] = key.split('\t');
      return [type, flavour, shape, ...ts.map((t) => {
        const r = b.kernels.find((x) => x.type === type && x.flavour === flavour && `${x.rows}×${x.cols}` === shape && x.threads === t);
        return r ? `${f1(r.gbPerSecond)} (${(r.ofReadBandwidth * 100).toFixed(0)}%)` : '-';
      })];
    }),
  };
  const routeNames = [...new Set(b.routing.map((r) => r.route))];
  const routing: Table = {
    headers: ['routing', ...ts.map((t) => `${threadName(t)} prefill / decode tok/s`)],
    rows: [
      ...routeNames.map((name) => [name, ...ts.map((t) => {
        const r = b.routing.find((x) => x.route === name && x.threads === t);
        return !r ? '-' : r.error ? 'failed' : `${f1(r.prefillTokensPerSecond)} / ${f1(r.decodeTokensPerSecond)}`;
      })]),
      ...(b.llamacpp?.rows.length ? [['llama.cpp', ...ts.map((t) => {
        const r = b.llamacpp!.rows.find((x) => x.threads === t);
        return r ? `${f1(r.prefillTokensPerSecond)} / ${f1(r.decodeTokensPerSecond)}` : '-';
      })]] : []),
    ],
  };
  const seqs = b.settings.batchSequences;
  const mqtt: Table = {
    headers: ['threads', 'TTFT p50 / p95 ms (client)', 'TTFT p50 ms (device)', ...seqs.map((n) => `decodeBatch ${n} seq tok/s`)],
    rows: b.mqtt.map((m) => [String(m.threads), `${ms(m.ttftClientMs.p50)} / ${ms(m.ttftClientMs.p95)}`, ms(m.ttftDeviceMs.p50), ...seqs.map((n) => f1(m.engineBatch.find((e) => e.sequences === n)?.tokensPerSecond))]),
  };
  return [
    { heading: `memory read (working set ${Math.round(b.workingSetBytes / 2 ** 20)} MiB, last-level cache ${Math.round(b.environment.lastLevelCache.bytes / 2 ** 20)} MiB)`, table: memory },
    { heading: 'kernels: matvec GB/s of weights, and the share of the memory read at the same thread count', table: kernels },
    { heading: `${b.model.file}: prefill ${b.settings.promptTokens} tokens, decode ${b.settings.genTokens}, greedy`, table: routing },
    { heading: `MQTT (embedded broker, mqtt.js client, ${b.settings.ttftMaxTokens} tokens per request) and the engine's batch scaling`, table: mqtt },
  ];
}

/** The report's plots: tok/s against threads per routing, per routing with a bar per thread count, kernels against the roofline, flavours side by side. */
export function deviceCharts(b: DeviceBench): Chart[] {
  const ts = b.settings.threads;
  const ok = b.routing.filter((r) => !r.error);
  const routeNames = [...new Set(ok.map((r) => r.route))];
  const lines = (what: 'prefill' | 'decode'): Chart => ({
    kind: 'lines',
    title: `${what} tok/s against threads, one line per routing (${b.model.file})`,
    x: { label: 'threads' },
    y: { label: `${what} tokens/s` },
    series: [
      ...routeNames.map((name) => ({ name, points: ok.filter((r) => r.route === name).map((r) => [r.threads, what === 'prefill' ? r.prefillTokensPerSecond! : r.decodeTokensPerSecond!] as [number, number]) })),
      ...(b.llamacpp?.rows.length ? [{ name: 'llama.cpp', points: b.llamacpp.rows.map((r) => [r.threads, what === 'prefill' ? r.prefillTokensPerSecond : r.decodeTokensPerSecond] as [number, number]) }] : []),
    ],
  });
  const perThreads = (what: 'prefill' | 'decode'): Chart => ({
    ...groupedBars({
      title: `${what} tok/s per routing (backends side by side), one bar per thread count`,
      xLabel: 'routing',
      yLabel: `${what} tokens/s`,
      bars: [
        ...ok.map((r) => ({ category: r.route, series: threadName(r.threads), value: what === 'prefill' ? r.prefillTokensPerSecond! : r.decodeTokensPerSecond! })),
        ...(b.llamacpp?.rows ?? []).map((r) => ({ category: 'llama.cpp', series: threadName(r.threads), value: what === 'prefill' ? r.prefillTokensPerSecond : r.decodeTokensPerSecond })),
      ],
    }),
    seriesBy: 'threads',
  });
  const baseline = b.kernelFlavours[0];
  const kernelLabel = (r: KernelResult) => (b.settings.kernelShapes.length > 1 ? `${r.type} ${r.rows}×${r.cols}` : r.type);
  const ofBaseline = b.kernels.filter((r) => r.flavour === baseline);
  const charts: Chart[] = [
    lines('decode'),
    lines('prefill'),
    perThreads('decode'),
    perThreads('prefill'),
    {
      ...groupedBars({
        title: `kernel GB/s (${baseline}), one bar per thread count; dashed: memory read`,
        xLabel: 'kernel',
        yLabel: 'GB/s of weights',
        bars: ofBaseline.map((r) => ({ category: kernelLabel(r), series: threadName(r.threads), value: r.gbPerSecond })),
        references: b.memory.filter((m) => ts.includes(m.threads)).map((m) => ({ label: `memory read, ${threadName(m.threads)}`, value: m.gbPerSecond })),
      }),
      seriesBy: 'threads',
    },
    {
      ...groupedBars({
        title: `each kernel's share of the memory roofline (${baseline}), one bar per thread count`,
        xLabel: 'kernel',
        yLabel: '% of memory read at the same threads',
        bars: ofBaseline.map((r) => ({ category: kernelLabel(r), series: threadName(r.threads), value: r.ofReadBandwidth * 100 })),
        references: [{ label: 'memory read', value: 100 }],
      }),
      seriesBy: 'threads',
    },
    groupedBars({
      title: `kernel flavours side by side, ${threadName(Math.max(...ts))}`,
      xLabel: 'kernel',
      yLabel: 'GB/s of weights',
      bars: b.kernels.filter((r) => r.threads === Math.max(...ts)).map((r) => ({ category: kernelLabel(r), series: r.flavour, value: r.gbPerSecond })),
    }),
    {
      kind: 'lines',
      title: 'engine batch scaling: decodeBatch tok/s against sequences, one line per thread count',
      x: { label: 'sequences decoding at once' },
      y: { label: 'generated tokens/s, all sequences' },
      series: b.mqtt.map((m) => ({ name: threadName(m.threads), points: m.engineBatch.map((e) => [e.sequences, e.tokensPerSecond] as [number, number]) })),
      seriesBy: 'threads',
    },
    {
      ...groupedBars({
        title: 'MQTT time to first token (client clock), one bar per thread count',
        xLabel: 'percentile',
        yLabel: 'ms',
        bars: b.mqtt.flatMap((m) => [
          { category: 'p50', series: threadName(m.threads), value: m.ttftClientMs.p50 },
          { category: 'p95', series: threadName(m.threads), value: m.ttftClientMs.p95 },
        ]),
      }),
      seriesBy: 'threads',
    },
  ];
  return charts;
}

/** The whole report: what ran, the tables, the plots. */
export function deviceSections(b: DeviceBench, extra: Section[] = []): { title: string; intro: string[]; sections: Section[] } {
  const e = b.environment;
  const kernels = Object.entries(e.kernels.flavours).map(([f, fams]) => `${f}: ${Object.entries(fams).map(([fam, sha]) => `${fam} ${sha.slice(0, 12)}`).join(', ')}`);
  const facts: Table = {
    headers: ['', ''],
    rows: [
      ['device', `${e.device}${e.deviceModel ? ` (${e.deviceModel})` : ''}, ${e.arch} ${e.platform}`],
      ['CPU', `${e.cpuModel}, ${e.cores} cores, last-level cache ${Math.round(e.lastLevelCache.bytes / 2 ** 20)} MiB (${e.lastLevelCache.source})`],
      ['memory', `${(e.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB`],
      ['profile', `${b.profile.name ?? 'none'}; providers here: ${b.profile.providersAvailable.join(', ') || 'none'}; relaxed SIMD ${b.profile.wasmSimd.relaxedSimd ? 'validates' : 'does not validate'}`],
      ['Node / V8', `${e.node} / ${e.v8}`],
      ['wisp', e.wisp],
      ['kernels', kernels.join('; ')],
      ['model', `${b.model.file}, sha256 ${b.model.sha256}`],
      ['run', `${b.date}${b.quick ? ', --quick (short: the figures are rough)' : ''}`],
    ],
  };
  const charts = deviceCharts(b);
  return {
    title: `wisp device benchmark: ${e.deviceModel ?? e.device}`,
    intro: [`${e.cpuModel}, Node ${e.node}, profile ${b.profile.name ?? 'none'}, ${b.model.file}`],
    sections: [
      { heading: 'what ran', table: facts },
      ...deviceTables(b).map((t) => ({ heading: t.heading, table: t.table })),
      ...extra,
      { heading: 'plots', charts },
    ],
  };
}
