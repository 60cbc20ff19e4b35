// `wisp bench` (the device benchmark, `--tune` for a tuned profile), `wisp bench compare`, and the
// developer benches `kernels | models | routing | serve`: throughput with ratios against baselines
// measured in the same run (memory-read bandwidth; llama.cpp through node-llama-cpp when installed).
// Every subcommand takes the same options the same way (one table below), prints a table, and writes
// JSON + an HTML report with plots into --out. Bad input is one line (exit 2), before anything runs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_TYPES, benchKernels, checkBenchOptions, type KernelBenchOptions } from '../bench/kernels.js';
import { compareBenches, compareSections, loadDeviceBench } from '../bench/compare.js';
import { benchDevice, deviceSections, deviceTables, type DeviceBench } from '../bench/device.js';
import { benchEnvironment, describeEnvironment } from '../bench/environment.js';
import { llamaCppSpeed, loadNodeLlamaCpp, type SpeedResult } from '../bench/llamacpp.js';
import { benchModelPath, DEFAULT_BENCH_MODELS, SYNTH_BENCH_MODELS, unwritableBenchModel } from '../bench/model-spec.js';
import { benchPrompt, wasmSpeed } from '../bench/models.js';
import { groupedBars } from '../bench/plot.js';
import { textTable, writeReport, wroteLine, type Chart, type Section } from '../bench/report.js';
import { BENCH_ROUTES, routeSpeed, type BenchRoute, type RouteSpeed } from '../bench/routing.js';
import { benchServe, type ServeBenchResult } from '../bench/serve.js';
import { tuneProfile } from '../bench/tune.js';
import { opTimeTable } from '../engine/placement.js';
import { DEFAULT_SPIN_LIMIT } from '../backends/wasm/pool.js';
import { DEFAULT_ACTIVATIONS, type ActivationChoice } from '../model/block-formats.js';
import { GGUFHeaderView } from '../model/gguf/index.js';
import { traitsOf } from '../model/ggml-types.js';
import { sha256File } from '../model/sha256.js';
import { parseTypeName } from '../model/type-names.js';
import { createStepProgress, type StepProgress } from '../obs/progress.js';
import { loadProfiles, namedProfile, parseProfile } from '../profiles/index.js';
import { pickProfileQuick } from '../profiles/settings.js';
import { UsageError } from './args.js';
import { activationsOption } from './engine-options.js';

const SUBCOMMANDS = ['kernels', 'models', 'routing', 'serve', 'compare'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number] | 'device';

/** Every bench option, and which subcommands take it. */
const OPTIONS = {
  model: { type: 'string', short: 'm', multiple: true },
  threads: { type: 'string', short: 't' },
  out: { type: 'string', short: 'o' },
  quick: { type: 'boolean' },
  tokenizer: { type: 'string' },
  'prompt-tokens': { type: 'string' },
  gen: { type: 'string' },
  seconds: { type: 'string' },
  compare: { type: 'string' },
  tune: { type: 'boolean' },
  shapes: { type: 'string' },
  types: { type: 'string' },
  flavours: { type: 'string' },
  kv: { type: 'string' },
  activations: { type: 'string' },
  spin: { type: 'string' },
  routes: { type: 'string' },
  streams: { type: 'string' },
  'max-sequences': { type: 'string' },
  'chunk-ms': { type: 'string' },
  context: { type: 'string' },
} as const;
type Option = keyof typeof OPTIONS;

const COMMON: Option[] = ['threads', 'out', 'quick'];
const MODEL: Option[] = ['model', 'tokenizer'];
const ACCEPTS: Record<Subcommand, Option[]> = {
  device: [...COMMON, ...MODEL, 'prompt-tokens', 'gen', 'seconds', 'compare', 'tune', 'shapes', 'types'],
  kernels: [...COMMON, 'seconds', 'shapes', 'types', 'flavours'],
  models: [...COMMON, ...MODEL, 'prompt-tokens', 'gen', 'kv', 'activations', 'spin'],
  routing: [...COMMON, ...MODEL, 'prompt-tokens', 'gen', 'routes'],
  serve: [...COMMON, ...MODEL, 'gen', 'seconds', 'streams', 'max-sequences', 'context', 'chunk-ms'],
  compare: ['out'],
};

const defaultThreads = (): number[] => {
  const cores = availableParallelism();
  const list = [1];
  for (let t = 2; t < cores; t *= 2) list.push(t);
  return [...new Set([...list, cores])];
};

const HELP = `usage: wisp bench [options]                       the device benchmark (below)
       wisp bench --tune [options]                also write a tuned device profile
       wisp bench compare A.json B.json …        device results side by side
       wisp bench kernels | models | routing | serve [options]   one part, in depth

wisp bench    detects the device profile, then measures at each thread count: memory-read bandwidth
              and matvec GB/s per weight type and kernel flavour (over more bytes than the last-level
              cache), prefill/decode tok/s of the model under every routing the profile allows
              (all-wasm, all-ONNX, mixes), and MQTT time to first token from an mqtt.js client through
              the embedded broker. Prints the tables; writes OUT/device.json and OUT/device.html
              (plots). --tune also writes OUT/tuned-profile.json (threads, kernel flavour, routing and
              batch limits chosen from the measurements, which it records): \`wisp serve --profile
              OUT/tuned-profile.json\` runs with it. --compare llama.cpp adds node-llama-cpp's figures
              on the same file (set WISP_LLAMACPP=/path/to/node_modules).
compare       one column per result file, one row per figure; writes OUT/compare.html
kernels       matvec GB/s per type (${BENCH_TYPES.map((t) => traitsOf(t).name.toLowerCase()).join(', ')}), kernel flavour and thread count
              at 768×768, 2048×5632 and 32000×2048 (--shapes ROWSxCOLS,…: cols a multiple of 32, of
              256 for the K-quants), beside the memory-read bandwidth, both over more than the LLC
models       prefill and decode tok/s on the wasm engine beside llama.cpp (when found) on the same
              file and prompt ids; without --model: the random-weight benchmark models
              ${DEFAULT_BENCH_MODELS.join(', ')}
routing       prefill and decode tok/s per routing (${BENCH_ROUTES.map((r) => r.name).join(', ')}), and the
              time per backend and op group
serve         the MQTT service under concurrent streams of greedy requests from mqtt.js clients:
              aggregate tok/s and its ratio to 1 stream, time to first token, the MQTT overhead against
              generate() on the same model, the engine alone (decodeBatch), and llama.cpp's own
              multi-sequence decode when found

options (each subcommand takes those that apply to it; others are refused):
  -m, --model NAME|PATH  a .gguf file, a model name on the model search path ($WISP_MODEL_PATH, the
                         checkout's models/, the user cache), or a benchmark model written once by
                         \`wisp synth\` (${SYNTH_BENCH_MODELS.join(', ')}); repeatable for
                         models/routing/serve. Default: the model \`wisp serve\` serves
      --tokenizer PATH   the vocabulary (llama2.c tokenizer.bin) for the benchmark models (default
                         $WISP_TOKENIZER_DIR/llama2/tokenizer.bin); other models bring their own
  -t, --threads LIST     thread counts, e.g. 1,2,4 (default: 1, powers of two, the cores: ${defaultThreads().join(',')})
  -o, --out DIR          where the JSON and HTML (and SVG) go (default ./bench-out)
      --quick            a short run with small settings (rough figures; what the tests use)
      --prompt-tokens N  prompt length (default 128; --quick 16)
      --gen N            tokens generated per run (default 64; --quick 8)
      --seconds S        least time per kernel row (kernels, device; default 0.25), or per stream level (serve; default 5)
      --compare llama.cpp  (device) llama.cpp's figures on the same file
      --tune             (device) write a tuned profile
      --shapes R×C,…  --types q4_0,…  --flavours simd128,…   (kernels, device) what to measure
      --kv f16|f32  --spin N     (models) KV cache type; spin iterations before Atomics.wait (default ${DEFAULT_SPIN_LIMIT})
      --activations q8|q16       (models) the quantized matmuls' activations (default q8: ggml's, llama.cpp's math)
      --routes a,b               (routing) which routings
      --streams 1,4,8  --max-sequences N  --context N  --chunk-ms MS   (serve)`;

/** Node's parse errors, shortened to one line. */
function parseError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  const opt = /'(-[^' ]+)/.exec(err.message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && opt) return `unknown option ${opt}`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && opt) return /argument missing/.test(err.message) ? `${opt} needs a value` : `${opt} takes no value`;
  return err.message.split('\n')[0];
}

const usage = (msg: string) => new UsageError(`bench: ${msg} (wisp bench --help)`);

/** "1,2,4" -> [1, 2, 4]: each a whole number ≥ min, duplicates dropped, in the order given. */
export function listOption(value: string, name: string, min = 1): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const out = parts.map((s) => {
    const n = Number(s);
    if (s === '' || !Number.isInteger(n) || n < min) throw usage(`--${name} must be a comma-separated list of whole numbers ≥ ${min}, got '${value}'`);
    return n;
  });
  return [...new Set(out)];
}

function intArg(value: string | undefined, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw usage(`--${name} must be a whole number ≥ ${min}, got '${value}'`);
  return n;
}

function secondsArg(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw usage(`--seconds must be a number greater than 0, got '${value}'`);
  return n;
}

/** `64x256` (or `64×256`) -> [64, 256]: rows × cols of a weight matrix. */
function parseShape(s: string): [number, number] {
  const m = /^\s*(\d+)\s*[x×]\s*(\d+)\s*$/.exec(s);
  if (!m) throw usage(`--shapes: '${s}' is not ROWSxCOLS (e.g. 768x768)`);
  return [Number(m[1]), Number(m[2])];
}

type Values = Partial<Record<Option, string | boolean | string[]>> & { model?: string[]; threads?: string; out?: string; quick?: boolean; tokenizer?: string };

export async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return;
  }
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }) as unknown as { values: Values; positionals: string[] };
  } catch (err) {
    throw usage(parseError(err as Error));
  }
  const { values: v, positionals } = parsed;
  const first = positionals[0];
  if (first !== undefined && !(SUBCOMMANDS as readonly string[]).includes(first)) {
    throw usage(`unknown subcommand '${first}' (${SUBCOMMANDS.join(', ')}; none: the device benchmark)`);
  }
  const what: Subcommand = (first as Subcommand | undefined) ?? 'device';
  if (what !== 'compare' && positionals.length > 1) throw usage(`unexpected argument '${positionals[1]}'`);
  for (const key of Object.keys(v) as Option[]) {
    if (!ACCEPTS[what].includes(key)) throw usage(`${what === 'device' ? 'wisp bench' : `bench ${what}`} does not take --${key} (it takes ${ACCEPTS[what].map((o) => `--${o}`).join(', ')})`);
  }
  if (what !== 'serve' && what !== 'models' && what !== 'routing' && (v.model?.length ?? 0) > 1) throw usage(`--model is given ${v.model!.length} times; ${what === 'device' ? 'the device benchmark' : `bench ${what}`} runs one model`);
  const threads = v.threads !== undefined ? listOption(v.threads, 'threads') : defaultThreads();
  const quick = v.quick === true;
  const out = v.out ?? 'bench-out';
  const o = {
    promptTokens: intArg(v['prompt-tokens'] as string | undefined, 'prompt-tokens', 2),
    gen: intArg(v.gen as string | undefined, 'gen', 2),
    seconds: secondsArg(v.seconds as string | undefined),
    shapes: (v.shapes as string | undefined)?.split(',').map(parseShape),
    types: (v.types as string | undefined)?.split(',').map((t) => {
      try {
        return parseTypeName(t.trim());
      } catch (err) {
        throw usage(`--types: ${(err as Error).message}`);
      }
    }),
  };
  if (v.compare !== undefined && v.compare !== 'llama.cpp') throw usage(`--compare takes llama.cpp, got '${v.compare}'`);

  if (what === 'compare') {
    const files = positionals.slice(1);
    if (files.length === 0) throw usage('compare needs one or more device result files (OUT/device.json of `wisp bench`)');
    const benches = files.map(loadDeviceBench);
    mkdirSync(out, { recursive: true });
    return compare(files, benches, out);
  }
  if (what === 'kernels') {
    const k: KernelBenchOptions = {
      shapes: o.shapes ?? (quick ? [[256, 1024]] : undefined),
      types: o.types,
      minSeconds: o.seconds ?? (quick ? 0.02 : undefined),
      flavours: (v.flavours as string | undefined)?.split(',').map((f) => f.trim()),
    };
    try {
      checkBenchOptions(k); // before anything is measured
    } catch (err) {
      throw usage((err as Error).message.replace(/^bench kernels: /, ''));
    }
    mkdirSync(out, { recursive: true });
    return kernels(threads, out, k);
  }
  // every model named (or the default) is found, and read as a GGUF, before anything runs
  const tokenizer = v.tokenizer;
  const modelPath = (spec: string | undefined) => {
    const path = benchModelPath(spec, tokenizer);
    GGUFHeaderView.read(path);
    return path;
  };
  if (what === 'device') {
    const model = modelPath(v.model?.[0]);
    if (o.shapes || o.types) {
      try {
        checkBenchOptions({ shapes: o.shapes, types: o.types });
      } catch (err) {
        throw usage((err as Error).message.replace(/^bench kernels: /, ''));
      }
    }
    mkdirSync(out, { recursive: true });
    return device(model, threads, quick, out, { ...o, compareLlamaCpp: v.compare === 'llama.cpp', tune: v.tune === true });
  }
  if (what === 'routing') {
    const names = (v.routes as string | undefined)?.split(',').map((r) => r.trim());
    const routes = names ? names.map((n) => BENCH_ROUTES.find((r) => r.name === n || r.name.startsWith(`${n} `)) ?? badRoute(n)) : BENCH_ROUTES;
    const paths = (v.model ?? [undefined]).map(modelPath);
    mkdirSync(out, { recursive: true });
    return routing(paths, routes, threads, o.promptTokens ?? (quick ? 16 : 128), o.gen ?? (quick ? 8 : 64), out);
  }
  if (what === 'serve') {
    const streams = v.streams !== undefined ? listOption(v.streams as string, 'streams') : quick ? [1, 2] : [1, 4, 8];
    const maxSequences = intArg(v['max-sequences'] as string | undefined, 'max-sequences', 1) ?? 8;
    const contextSize = intArg(v.context as string | undefined, 'context', 2);
    const paths = (v.model ?? [undefined]).map(modelPath);
    mkdirSync(out, { recursive: true });
    const chunkIntervalMs = intArg(v['chunk-ms'] as string | undefined, 'chunk-ms', 0);
    return serve(paths, threads, streams, { maxSequences, maxTokens: o.gen ?? (quick ? 8 : 64), seconds: o.seconds ?? (quick ? 0.5 : 5), contextSize, chunkIntervalMs, out });
  }
  // models
  const kv = v.kv as string | undefined;
  if (kv !== undefined && kv !== 'f16' && kv !== 'f32') throw usage(`--kv must be f32 or f16, got '${kv}'`);
  const spin = intArg(v.spin as string | undefined, 'spin', 0);
  const activations = v.activations === undefined ? DEFAULT_ACTIVATIONS : activationsOption(v.activations as string)!;
  const paths = (v.model ?? defaultBenchModels()).map(modelPath);
  mkdirSync(out, { recursive: true });
  return models(paths, threads, o.promptTokens ?? (quick ? 16 : 128), o.gen ?? (quick ? 8 : 64), out, spin, kv ?? 'f32', activations);
}

/** The default benchmark models wisp can write (a mix waits for wisp quantize's mixes: said in one line). */
function defaultBenchModels(): string[] {
  return DEFAULT_BENCH_MODELS.filter((name) => {
    const why = unwritableBenchModel(name);
    if (why) console.log(`${name} left out: ${why}`);
    return !why;
  });
}

function badRoute(name: string): never {
  throw usage(`--routes: unknown routing '${name}' (routings: ${BENCH_ROUTES.map((r) => r.name).join(', ')})`);
}

const threadName = (t: number) => `${t} thread${t > 1 ? 's' : ''}`;

/** The facts every bench JSON carries: what ran (the environment and the profile this device gets), and the model files' sha256. */
async function runFacts(paths: string[] = []) {
  const { choice } = await pickProfileQuick(loadProfiles());
  return {
    date: new Date().toISOString(),
    environment: benchEnvironment(),
    profile: choice.profile?.name ?? null,
    ...(paths.length ? { models: await Promise.all(paths.map(async (p) => ({ file: basename(p), path: p, sha256: await sha256File(p) }))) } : {}),
  };
}

// ---- wisp bench (the device) -----------------------------------------------------------------------

async function device(
  modelPath: string,
  threads: number[],
  quick: boolean,
  out: string,
  o: { promptTokens?: number; gen?: number; seconds?: number; shapes?: Array<[number, number]>; types?: ReturnType<typeof parseTypeName>[]; compareLlamaCpp: boolean; tune: boolean },
): Promise<void> {
  console.log(`wisp bench: ${basename(modelPath)} at ${threads.map(threadName).join(', ')}${quick ? ' (--quick: short, rough figures)' : ''}`);
  const notes: string[] = [];
  let progress: StepProgress | undefined;
  let bench: DeviceBench;
  try {
    bench = await benchDevice({
      modelPath,
      quick,
      threads,
      promptTokens: o.promptTokens,
      genTokens: o.gen,
      kernelShapes: o.shapes,
      kernelTypes: o.types,
      kernelMinSeconds: o.seconds,
      compareLlamaCpp: o.compareLlamaCpp,
      onTotal: (n) => (progress = createStepProgress('wisp bench', n)),
      onStep: (what) => progress?.step(what),
      log: (msg) => notes.push(msg),
    });
  } finally {
    progress?.stop();
  }
  console.log(`\n${describeEnvironment(bench.environment)}`);
  console.log(`profile: ${bench.profile.name ?? 'none'} (${bench.profile.explanation.split('\n')[0]})`);
  console.log(`model: ${bench.model.file}, sha256 ${bench.model.sha256}`);
  for (const t of deviceTables(bench)) console.log(`\n${t.heading}\n${textTable(t.table)}`);
  for (const n of [...new Set(notes)]) console.log(`note: ${n}`);

  const extra: Section[] = [];
  let tuned: ReturnType<typeof tuneProfile> | undefined;
  let tunedPath: string | undefined;
  if (o.tune) {
    const base = bench.profile.name ? namedProfile(bench.profile.name) : loadProfiles().find((p) => p.name === `generic-${process.arch === 'arm64' ? 'arm64' : 'x86_64'}`)!;
    tuned = tuneProfile(bench, base);
    parseProfile(tuned, 'the tuned profile'); // valid against profile.schema.json, or a clear error
    tunedPath = join(out, 'tuned-profile.json');
    writeFileSync(tunedPath, `${JSON.stringify(tuned, null, 2)}\n`);
    const c = tuned.tuned.choices;
    const rows = [
      ['threads', String(c.threads.value), c.threads.why],
      ['kernel flavour', `${c.flavour.value} (simd: ${tuned.simd})`, c.flavour.why],
      ['routing', `${c.routing.value} ${JSON.stringify(tuned.routing)}`, c.routing.why],
      ['maxSequences', String(c.maxSequences.value), c.maxSequences.why],
      ['maxBatchTokens', String(c.maxBatchTokens.value), c.maxBatchTokens.why],
    ];
    console.log(`\ntuned profile ${tuned.name} (from ${base.name})\n${textTable({ headers: ['setting', 'value', 'why'], rows })}`);
    console.log(`wrote ${tunedPath}: run it with \`wisp serve --profile ${tunedPath}\``);
    extra.push({ heading: `tuned profile ${tuned.name}: \`wisp serve --profile ${tunedPath}\``, table: { headers: ['setting', 'value', 'why'], rows } });
  }
  const data = { ...bench, ...(tuned ? { tunedProfile: tuned } : {}) };
  const s = deviceSections(bench, extra);
  const files = writeReport(out, 'device', data, [], { svg: false, ...s });
  console.log(wroteLine(files));
}

async function compare(files: string[], benches: DeviceBench[], out: string): Promise<void> {
  const c = compareBenches(files, benches);
  console.log(textTable(c.table));
  for (const n of c.notes) console.log(`note: ${n}`);
  const s = compareSections(c);
  const written = writeReport(out, 'compare', { date: new Date().toISOString(), files, columns: c.columns, rows: c.table.rows }, c.charts, { svg: false, ...s });
  console.log(wroteLine(written));
}

// ---- the developer benches ----------------------------------------------------------------------

async function kernels(threads: number[], out: string, o: KernelBenchOptions): Promise<void> {
  console.log('measuring memory-read bandwidth (native memcmp, over more than the last-level cache)…');
  console.log(`${'type'.padEnd(7)} ${'flavour'.padEnd(8)} ${'shape'.padStart(12)} ${'threads'.padStart(7)} ${'µs'.padStart(9)} ${'GB/s'.padStart(7)}  of read bw (same threads), matrices rotated`);
  const bench = await benchKernels(
    threads,
    (r) =>
      console.log(
        `${r.type.padEnd(7)} ${r.flavour.padEnd(8)} ${`${r.rows}×${r.cols}`.padStart(12)} ${String(r.threads).padStart(7)} ${r.microseconds.toFixed(0).padStart(9)} ${r.gbPerSecond.toFixed(1).padStart(7)}  ${(r.ofReadBandwidth * 100).toFixed(0)}%, ${r.matrices}`,
      ),
    o,
  );
  for (const m of bench.readBandwidth) console.log(`memory read (native memcmp, ${threadName(m.threads)}): ${m.gbPerSecond.toFixed(1)} GB/s`);
  console.log(`working set ${Math.round(bench.workingSetBytes / 2 ** 20)} MiB; last-level cache ${Math.round(bench.lastLevelCache.bytes / 2 ** 20)} MiB (${bench.lastLevelCache.source})`);
  for (const s of bench.flavoursSkipped) console.log(`note: kernel flavour ${s.flavour} not measured: ${s.reason}`);
  const charts: Chart[] = bench.flavours.map((flavour) => ({
    ...groupedBars({
      title: `matvec GB/s (${flavour}), one bar per thread count; dashed: memory read`,
      xLabel: 'kernel and shape',
      yLabel: 'GB/s of weights read',
      bars: bench.results.filter((r) => r.flavour === flavour).map((r) => ({ category: `${r.type} ${r.rows}×${r.cols}`, series: threadName(r.threads), value: r.gbPerSecond })),
      references: bench.readBandwidth.filter((m) => threads.includes(m.threads)).map((m) => ({ label: `memory read, ${threadName(m.threads)}`, value: m.gbPerSecond })),
    }),
    seriesBy: 'threads',
  }));
  const files = writeReport(out, 'kernels', { ...(await runFacts()), ...bench }, charts);
  console.log(wroteLine(files));
}

interface ModelRow {
  model: string;
  threads: number;
  wasm: SpeedResult;
  llamacpp?: SpeedResult;
}

function promptFor(path: string, n: number): number[] {
  const header = GGUFHeaderView.read(path);
  const vocab = header.optArray('tokenizer.ggml.tokens')?.length ?? 32000;
  return benchPrompt(vocab, n, header.optNumber('tokenizer.ggml.bos_token_id') ?? 1);
}

async function models(paths: string[], threads: number[], promptTokens: number, gen: number, out: string, spinLimit: number | undefined, kv: 'f16' | 'f32', activations: ActivationChoice): Promise<void> {
  const nlc = await loadNodeLlamaCpp();
  console.log(nlc ? 'llama.cpp: node-llama-cpp found, measured beside wisp' : 'llama.cpp: node-llama-cpp not found (set WISP_LLAMACPP=/path/to/node_modules); wisp only');
  const rows: ModelRow[] = [];
  console.log(`KV cache: wisp ${kv} (--kv f16|f32), llama.cpp f16 (its default); wisp's activations ${activations} (--activations q8|q16)`);
  console.log(`${'model'.padEnd(28)} thr  prefill tok/s (llama.cpp, ratio)   decode tok/s (llama.cpp, ratio)`);
  for (const path of paths) {
    const prompt = promptFor(path, promptTokens);
    for (const t of threads) {
      const wasm = await wasmSpeed(path, prompt, gen, t, spinLimit, kv, activations);
      const llamacpp = nlc ? await llamaCppSpeed(nlc, path, prompt, gen, t) : undefined;
      rows.push({ model: basename(path), threads: t, wasm, llamacpp });
      const cell = (ours: number, theirs?: number) => `${ours.toFixed(1).padStart(8)}${theirs ? ` (${theirs.toFixed(1)}, ${(ours / theirs).toFixed(2)}×)` : ''}`.padEnd(34);
      console.log(`${basename(path).padEnd(28)} ${String(t).padStart(3)}  ${cell(wasm.prefillTokensPerSecond, llamacpp?.prefillTokensPerSecond)}${cell(wasm.decodeTokensPerSecond, llamacpp?.decodeTokensPerSecond)}`);
    }
  }
  const chart = (what: string, pick: (s: SpeedResult) => number): Chart =>
    groupedBars({
      title: `${what} tok/s: wisp beside llama.cpp`,
      xLabel: 'model and threads',
      yLabel: `${what} tokens/s`,
      bars: rows.flatMap((r) => [
        { category: `${r.model} ${r.threads}t`, value: pick(r.wasm), series: 'wisp (wasm)' },
        ...(r.llamacpp ? [{ category: `${r.model} ${r.threads}t`, value: pick(r.llamacpp), series: 'llama.cpp (native)' }] : []),
      ]),
    });
  const files = writeReport(out, 'models', { ...(await runFacts(paths)), promptTokens, generatedTokens: gen, kvType: kv, activations, spinLimit: spinLimit ?? 'default', rows }, [
    chart('decode', (s) => s.decodeTokensPerSecond),
    chart('prefill', (s) => s.prefillTokensPerSecond),
  ]);
  console.log(wroteLine(files));
}

async function routing(paths: string[], routes: BenchRoute[], threads: number[], promptTokens: number, gen: number, out: string): Promise<void> {
  const rows: Array<RouteSpeed & { model: string }> = [];
  for (const path of paths) {
    const prompt = promptFor(path, promptTokens);
    for (const t of threads) {
      console.log(`\n${basename(path)}, ${threadName(t)}, ${promptTokens} prompt tokens, ${gen} generated`);
      console.log(`${'routing'.padEnd(20)} ${'prefill tok/s'.padStart(14)} ${'decode tok/s'.padStart(13)} ${'vs all-wasm'.padStart(12)} ${'load ms'.padStart(8)}  engine`);
      let base: RouteSpeed | undefined;
      for (const route of routes) {
        const r = await routeSpeed(path, route, prompt, gen, t, (msg) => console.log(`  (${msg})`));
        rows.push({ model: basename(path), ...r });
        if (route.name === 'all-wasm') base = r;
        const vs = base ? `${(r.prefillTokensPerSecond / base.prefillTokensPerSecond).toFixed(2)}/${(r.decodeTokensPerSecond / base.decodeTokensPerSecond).toFixed(2)}` : '';
        console.log(`${route.name.padEnd(20)} ${r.prefillTokensPerSecond.toFixed(1).padStart(14)} ${r.decodeTokensPerSecond.toFixed(1).padStart(13)} ${vs.padStart(12)} ${r.loadMs.toFixed(0).padStart(8)}  ${r.engine}`);
      }
      for (const r of rows.filter((x) => x.model === basename(path) && x.threads === t && x.decodeOps.length > 0)) {
        console.log(`\n  ${r.route}: time per backend and op group (prefill ${r.promptTokens} tokens | decode ${r.generatedTokens - 1} tokens)`);
        const pre = opTimeTable(r.prefillOps).split('\n');
        const dec = opTimeTable(r.decodeOps).split('\n');
        for (let i = 0; i < Math.max(pre.length, dec.length); i++) console.log(`  ${(pre[i] ?? '').padEnd(52)} | ${dec[i] ?? ''}`);
      }
    }
  }
  const chart = (what: string, pick: (s: RouteSpeed) => number): Chart => ({
    ...groupedBars({
      title: `${what} tok/s per routing, one bar per thread count`,
      xLabel: 'model and routing',
      yLabel: `${what} tokens/s`,
      bars: rows.map((r) => ({ category: `${r.model} ${r.route}`, value: pick(r), series: threadName(r.threads) })),
    }),
    seriesBy: 'threads',
  });
  const files = writeReport(out, 'routing', { ...(await runFacts(paths)), promptTokens, generatedTokens: gen, rows }, [
    chart('decode', (s) => s.decodeTokensPerSecond),
    chart('prefill', (s) => s.prefillTokensPerSecond),
  ]);
  console.log(`\n${wroteLine(files)}`);
}

async function serve(
  paths: string[],
  threads: number[],
  streams: number[],
  o: { maxSequences: number; maxTokens: number; seconds: number; contextSize?: number; chunkIntervalMs?: number; out: string },
): Promise<void> {
  const results: ServeBenchResult[] = [];
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  for (const path of paths) {
    for (const t of threads) {
      console.log(`\n${basename(path)}, ${threadName(t)}, --max-sequences ${o.maxSequences}, ${o.maxTokens} tokens per request, greedy${o.chunkIntervalMs ? `, --chunk-ms ${o.chunkIntervalMs}` : ''}`);
      const r = await benchServe({ modelPath: path, threads: t, streams, maxSequences: o.maxSequences, maxTokens: o.maxTokens, seconds: o.seconds, contextSize: o.contextSize, chunkIntervalMs: o.chunkIntervalMs, onProgress: (m) => console.log(`  (${m})`) });
      results.push(r);
      console.log(`${'streams'.padEnd(11)} ${'tok/s'.padStart(8)} ${'vs 1'.padStart(6)} ${'per stream'.padStart(10)} ${'requests'.padStart(8)}  ${'ttft p50/p95 device'.padStart(19)}  ${'ttft p50/p95 client'.padStart(19)}  ${'latency p50/p95'.padStart(17)}`);
      const row = (name: string, tps: number, vs: string, per: number, reqs: number, dev: string, cli: string, lat: string) =>
        console.log(`${name.padEnd(11)} ${f(tps).padStart(8)} ${vs.padStart(6)} ${f(per).padStart(10)} ${String(reqs).padStart(8)}  ${dev.padStart(19)}  ${cli.padStart(19)}  ${lat.padStart(17)}`);
      const pp = (p: { p50: number; p95: number }, d = 1) => `${f(p.p50, d)}/${f(p.p95, d)} ms`;
      row('direct', r.direct.tokensPerSecond, '', r.direct.tokensPerSecond, r.direct.requests, '', pp(r.direct.ttftMs), pp(r.direct.latencyMs));
      const e1 = r.engineBatch.find((e) => e.sequences === 1);
      for (const e of r.engineBatch) row(`${e.sequences} engine`, e.tokensPerSecond, e1 ? `${f(e.tokensPerSecond / e1.tokensPerSecond, 2)}×` : '', e.tokensPerSecond / e.sequences, 0, '', '', `${f(e.msPerStep, 2)} ms/step`);
      // requests: one generation per sequence; the last column its wall time, prefills included
      for (const b of r.llamaCppBatch ?? []) row(`${b.sequences} llama.cpp`, b.tokensPerSecond, `${f(b.ratio, 2)}×`, b.tokensPerSecond / b.sequences, b.sequences, '', '', `${b.generatedTokens} tok, ${f(b.seconds, 2)} s`);
      for (const l of r.levels) {
        row(`${l.streams} mqtt`, l.tokensPerSecond, `${f(r.scaling[String(l.streams)], 2)}×`, l.tokensPerSecondPerStream, l.requests, pp(l.ttftDeviceMs), pp(l.ttftClientMs), pp(l.latencyMs));
        const st = l.serviceThread;
        const pc = (x: number) => `${f(x * 100, 0)}%`;
        console.log(`${''.padEnd(11)} service thread: decode steps ${pc(st.decode)} (${st.steps}, mean batch ${f(st.meanBatch, 2)}), prompts ${pc(st.prefill)} (${st.prefills}), other ${pc(st.other)} (MQTT, JSON, sampling), idle ${pc(st.idle)}`);
        if (l.errors) console.log(`  ${l.errors} request(s) failed`);
      }
      const s4 = r.scaling['4'];
      const lc = (n: number) => r.llamaCppBatch?.find((b) => b.sequences === n);
      const lcRatios = [4, 8].flatMap((n) => (lc(n) ? [`${n}/1: ${f(lc(n)!.ratio, 2)}×`] : []));
      if (s4 !== undefined) console.log(`4 streams / 1 stream: ${f(s4, 2)}× (target ≥ 2.5×)${r.scaling['8'] !== undefined ? `, 8 / 1: ${f(r.scaling['8'], 2)}×` : ''}${lcRatios.length ? `; llama.cpp ${lcRatios.join(', ')}` : ''}`);
      const m = r.mqttOverhead;
      console.log(`MQTT, 1 stream vs direct: ${f(m.tokensPerSecondRatio * 100, 0)}% of the tok/s; per request +${f(m.latencyMsAdded, 2)} ms (${f(m.latencyRatio, 3)}×), first token +${f(m.ttftMsAdded, 2)} ms`);
      const reasons = [...new Set(r.levels.flatMap((l) => Object.keys(l.finishReasons)))];
      if (reasons.some((x) => x !== 'length')) console.log(`finish reasons: ${r.levels.map((l) => `${l.streams}: ${JSON.stringify(l.finishReasons)}`).join(', ')} (tokens counted from usage)`);
    }
  }
  const label = (r: ServeBenchResult) => `${r.model} ${r.threads}t`;
  const streamsLabel = (n: number) => `${n} stream${n > 1 ? 's' : ''}`;
  // one pair of charts per model and thread count: their scales differ by orders of magnitude
  const charts: Chart[] = results.flatMap((r) => [
    groupedBars({
      title: `${label(r)}: generated tokens/s, all streams`,
      xLabel: '',
      yLabel: 'tokens/s',
      bars: [
        { category: 'direct generate()', value: r.direct.tokensPerSecond, series: 'direct' },
        ...r.engineBatch.map((e) => ({ category: `${e.sequences} seq`, value: e.tokensPerSecond, series: 'engine alone (decodeBatch)' })),
        ...r.levels.map((l) => ({ category: streamsLabel(l.streams), value: l.tokensPerSecond, series: 'MQTT' })),
      ],
    }),
    groupedBars({
      title: `${label(r)}: time to first token, p50 (client clock)`,
      xLabel: '',
      yLabel: 'ms',
      bars: [
        { category: 'direct generate()', value: r.direct.ttftMs.p50, series: 'direct' },
        ...r.levels.map((l) => ({ category: streamsLabel(l.streams), value: l.ttftClientMs.p50, series: 'MQTT' })),
      ],
    }),
  ]);
  const files = writeReport(o.out, 'serve', { ...(await runFacts(paths)), results }, charts);
  console.log(`\n${wroteLine(files)}`);
}
