// `wisp bench kernels | models | routing`: throughput with ratios against baselines measured in the same run
// (memory-read bandwidth; llama.cpp through node-llama-cpp when installed). Prints a table, writes
// JSON + an SVG/HTML report.
import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { BENCH_TYPES, benchKernels, checkBenchOptions, type KernelBenchOptions } from '../bench/kernels.js';
import { llamaCppSpeed, loadNodeLlamaCpp, type SpeedResult } from '../bench/llamacpp.js';
import { benchPrompt, wasmSpeed } from '../bench/models.js';
import { BENCH_ROUTES, routeSpeed, type BenchRoute, type RouteSpeed } from '../bench/routing.js';
import { benchServe, type ServeBenchResult } from '../bench/serve.js';
import { opTimeTable } from '../engine/placement.js';
import { DEFAULT_SPIN_LIMIT } from '../backends/wasm/pool.js';
import { kvOption } from './engine-options.js';
import { resolveModelOption } from './model-option.js';
import { writeReport, type Chart } from '../bench/report.js';
import { GGUFHeaderView } from '../model/gguf/index.js';
import { traitsOf } from '../model/ggml-types.js';
import { userCacheDir } from '../model/resolve.js';
import { SYNTH_SHAPES, synthModel } from '../model/synth.js';
import { parseTypeName } from '../model/type-names.js';
import { readVocabFile } from '../model/vocab-file.js';
import { createProgress, started, type Progress } from '../obs/progress.js';
import { intOption, numberOption, parseOptions, UsageError } from './args.js';

const HELP = `usage: wisp bench kernels [--threads 1,2] [--shapes 768x768,...] [--types q4_0,...] [--seconds 0.25] [--out DIR]
       wisp bench models [--model PATH ...] [--threads 1,2] [--prompt-tokens 128] [--gen 64] [--kv f16|f32] [--out DIR]
       wisp bench routing [--model PATH ...] [--threads 1] [--routes a,b] [--prompt-tokens 128] [--gen 64] [--out DIR]
       wisp bench serve [--model PATH|110m-q4_0 ...] [--threads 1] [--streams 1,4,8] [--max-sequences 8] [--gen 64] [--seconds 5] [--out DIR]

kernels   GB/s of every matvec type at 768×768, 2048×5632 and 32000×2048, beside the memory-read
          bandwidth measured in the same run (native memcmp, one thread). --shapes ROWSxCOLS,...
          and --types (${BENCH_TYPES.map((t) => traitsOf(t).name.toLowerCase()).join(', ')}) pick others (cols a multiple of 32,
          of 256 for the K-quants); --seconds is the least time each row is timed for (default 0.25)
models    prefill and decode tok/s on the wasm engine, beside llama.cpp (node-llama-cpp, when it can
          be found: set WISP_LLAMACPP=/path/to/node_modules) on the same file and prompt ids.
          Without --model: random-weight 110M Q8_0, 110M Q4_0 and TinyLlama-1.1B Q4_0 models, written
          once into the cache by \`wisp synth\` (needs --tokenizer or WISP_TOKENIZER_DIR)
routing   prefill and decode tok/s per routing (${BENCH_ROUTES.map((r) => r.name).join(', ')}:
          ONNX on the CPU provider), and the time per backend and op group the routed engine measures.
          Without --model: stories260K and the random-weight 110M Q4_0 model
serve     the MQTT service in this process (embedded broker on a free port) under 1, 4 and 8
          concurrent streams of greedy requests from mqtt.js clients: aggregate generated tok/s and
          its ratio to 1 stream, time to first token (device and client clocks), and the MQTT
          overhead against the same requests run directly with generate() on the same model;
          beside them the engine alone (decodeBatch over 1, 4, 8 sequences): the service's ceiling,
          and, when node-llama-cpp is found (WISP_LLAMACPP), llama.cpp's own multi-sequence decode
          (one context of 1, 4, 8 sequences generating at once) on the same file, prompts and threads.
          --model: default stories260K; 110m-q4_0 / 110m-q8_0 / 110m-f16 / 110m-f32 / tinyllama-q4_0
          name the random-weight bench models (written once into the cache)

  --threads LIST   thread counts (default: 1 and ${Math.min(2, availableParallelism())})
  --out DIR        where the JSON/SVG/HTML go (default ./bench-out)
  --spin N         most spin iterations before Atomics.wait, for the workers and the main thread
                   (default ${DEFAULT_SPIN_LIMIT}; each adapts below it only when threads outnumber
                   the cores; 0 = always wait)`;

export async function main(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseOptions(
    argv,
    {
      threads: { type: 'string' },
      out: { type: 'string' },
      model: { type: 'string', short: 'm', multiple: true },
      tokenizer: { type: 'string' },
      'prompt-tokens': { type: 'string' },
      gen: { type: 'string' },
      spin: { type: 'string' },
      kv: { type: 'string' },
      routes: { type: 'string' },
      streams: { type: 'string' },
      'max-sequences': { type: 'string' },
      seconds: { type: 'string' },
      context: { type: 'string' },
      shapes: { type: 'string' },
      types: { type: 'string' },
    },
    HELP,
    true,
  );
  const what = positionals[0];
  const threads = (v.threads ?? [...new Set([1, Math.min(2, availableParallelism())])].join(','))
    .split(',')
    .map((t) => intOption(t, 'threads', 1)!);
  const out = v.out ?? 'bench-out';
  mkdirSync(out, { recursive: true });
  if (what === 'kernels') {
    return kernels(threads, out, {
      shapes: v.shapes?.split(',').map(parseShape),
      types: v.types?.split(',').map((t) => parseTypeName(t.trim())),
      minSeconds: v.seconds === undefined ? undefined : positive(numberOption(v.seconds, 'seconds')!, 'seconds'),
    });
  }
  if (what === 'routing') {
    const names = v.routes?.split(',').map((r) => r.trim());
    const routes = names ? names.map((n) => BENCH_ROUTES.find((r) => r.name === n || r.name.startsWith(`${n} `)) ?? badRoute(n)) : BENCH_ROUTES;
    const paths = v.model ?? [resolveModelOption(undefined), defaultModels(v.tokenizer, [['110m', 'q4_0']])[0]];
    return routing(paths, routes, v.threads ? threads : [1], intOption(v['prompt-tokens'], 'prompt-tokens', 2) ?? 128, intOption(v.gen, 'gen', 2) ?? 64, out);
  }
  if (what === 'serve') {
    const paths = (v.model ?? [undefined]).map((m) => (m && /^(110m-(q[48]_0|f16|f32)|tinyllama-q[48]_0)$/.test(m) ? defaultModels(v.tokenizer, [m.split('-') as [string, string]])[0] : resolveModelOption(m)));
    const streams = (v.streams ?? '1,4,8').split(',').map((s) => intOption(s, 'streams', 1)!);
    return serve(paths, v.threads ? threads : [1], streams, {
      maxSequences: intOption(v['max-sequences'], 'max-sequences', 1) ?? 8,
      maxTokens: intOption(v.gen, 'gen', 1) ?? 64,
      seconds: numberOption(v.seconds, 'seconds') ?? 5,
      contextSize: intOption(v.context, 'context', 2),
      out,
    });
  }
  if (what === 'models') {
    const kv = kvOption(v.kv) ?? 'f32';
    return models(v.model ?? defaultModels(v.tokenizer), threads, intOption(v['prompt-tokens'], 'prompt-tokens', 2) ?? 128, intOption(v.gen, 'gen', 2) ?? 64, out, intOption(v.spin, 'spin', 0), kv);
  }
  throw new UsageError(HELP);
}

/** `64x256` (or `64×256`) -> [64, 256]: rows × cols of a weight matrix. */
function parseShape(s: string): [number, number] {
  const m = /^\s*(\d+)\s*[x×]\s*(\d+)\s*$/.exec(s);
  if (!m) throw new UsageError(`--shapes: '${s}' is not ROWSxCOLS (e.g. 768x768)`);
  return [Number(m[1]), Number(m[2])];
}

function positive(n: number, name: string): number {
  if (!(n > 0)) throw new UsageError(`--${name} must be greater than 0, got ${n}`);
  return n;
}

async function kernels(threads: number[], out: string, o: KernelBenchOptions): Promise<void> {
  checkBenchOptions(o); // before anything is measured
  console.log('measuring memory-read bandwidth (native memcmp, 1 thread)…');
  console.log(`${'type'.padEnd(6)} ${'shape'.padStart(12)} ${'threads'.padStart(7)} ${'µs'.padStart(9)} ${'GB/s'.padStart(7)}  of read bw`);
  const bench = await benchKernels(
    threads,
    (r) =>
      console.log(
        `${r.type.padEnd(6)} ${`${r.rows}×${r.cols}`.padStart(12)} ${String(r.threads).padStart(7)} ${r.microseconds.toFixed(0).padStart(9)} ${r.gbPerSecond.toFixed(1).padStart(7)}  ${(r.ofReadBandwidth * 100).toFixed(0)}%`,
      ),
    o,
  );
  console.log(`memory read (native memcmp, 1 thread): ${bench.readBandwidthGBps.toFixed(1)} GB/s`);
  const charts: Chart[] = threads.map((t) => ({
    title: `matvec, ${t} thread${t > 1 ? 's' : ''}`,
    unit: 'GB/s of weights read',
    bars: bench.results.filter((r) => r.threads === t).map((r) => ({ label: `${r.type} ${r.rows}×${r.cols}`, value: r.gbPerSecond, series: `${r.rows}×${r.cols}` })),
    reference: { label: 'memory read, 1 thread', value: bench.readBandwidthGBps },
  }));
  const files = writeReport(out, 'kernels', { date: new Date().toISOString(), ...bench }, charts);
  console.log(`wrote ${files.json}, ${files.svg}, ${files.html}`);
}

/** The issue's benchmark models, synthesized once into the cache. */
function defaultModels(
  tokenizer?: string,
  specs: Array<[string, string]> = [
    ['110m', 'q8_0'],
    ['110m', 'q4_0'],
    ['tinyllama', 'q4_0'],
  ],
): string[] {
  const tok = tokenizer ?? (process.env.WISP_TOKENIZER_DIR ? join(process.env.WISP_TOKENIZER_DIR, 'llama2', 'tokenizer.bin') : undefined);
  const dir = join(userCacheDir(), 'bench');
  mkdirSync(dir, { recursive: true });
  return specs.map(([shape, type]) => {
    const path = join(dir, `synth-${shape}-${type}.gguf`);
    if (!existsSync(path)) {
      if (!tok) throw new UsageError('the benchmark models are written by `wisp synth` from a tokenizer: pass --tokenizer PATH or set WISP_TOKENIZER_DIR');
      console.log(`writing ${path} (random weights, seed 1)…`);
      let progress: Progress | undefined;
      synthModel(path, {
        shape: SYNTH_SHAPES[shape],
        vocab: readVocabFile(tok),
        type: parseTypeName(type),
        seed: 1,
        name: `synth-${shape}-${type}`,
        onProgress: (done, total) => (progress ??= started(createProgress(basename(path), total))).update(done),
      });
      progress?.stop();
    }
    return path;
  });
}

interface ModelRow {
  model: string;
  threads: number;
  wasm: SpeedResult;
  llamacpp?: SpeedResult;
}

async function models(paths: string[], threads: number[], promptTokens: number, gen: number, out: string, spinLimit: number | undefined, kv: 'f16' | 'f32'): Promise<void> {
  const nlc = await loadNodeLlamaCpp();
  console.log(nlc ? 'llama.cpp: node-llama-cpp found, measured beside wisp' : 'llama.cpp: node-llama-cpp not found (set WISP_LLAMACPP=/path/to/node_modules); wisp only');
  const rows: ModelRow[] = [];
  console.log(`KV cache: wisp ${kv} (--kv f16|f32), llama.cpp f16 (its default)`);
  console.log(`${'model'.padEnd(28)} thr  prefill tok/s (llama.cpp, ratio)   decode tok/s (llama.cpp, ratio)`);
  for (const path of paths) {
    const header = GGUFHeaderView.read(path);
    const vocab = header.optArray('tokenizer.ggml.tokens')?.length ?? 32000;
    const prompt = benchPrompt(vocab, promptTokens, header.optNumber('tokenizer.ggml.bos_token_id') ?? 1);
    for (const t of threads) {
      const wasm = await wasmSpeed(path, prompt, gen, t, spinLimit, kv);
      const llamacpp = nlc ? await llamaCppSpeed(nlc, path, prompt, gen, t) : undefined;
      rows.push({ model: basename(path), threads: t, wasm, llamacpp });
      const cell = (ours: number, theirs?: number) => `${ours.toFixed(1).padStart(8)}${theirs ? ` (${theirs.toFixed(1)}, ${(ours / theirs).toFixed(2)}×)` : ''}`.padEnd(34);
      console.log(`${basename(path).padEnd(28)} ${String(t).padStart(3)}  ${cell(wasm.prefillTokensPerSecond, llamacpp?.prefillTokensPerSecond)}${cell(wasm.decodeTokensPerSecond, llamacpp?.decodeTokensPerSecond)}`);
    }
  }
  const chart = (title: string, pick: (s: SpeedResult) => number): Chart => ({
    title,
    unit: 'tokens/s',
    bars: rows.flatMap((r) => [
      { label: `${r.model} ${r.threads}t`, value: pick(r.wasm), series: 'wisp (wasm)' },
      ...(r.llamacpp ? [{ label: `${r.model} ${r.threads}t`, value: pick(r.llamacpp), series: 'llama.cpp (native)' }] : []),
    ]),
  });
  const files = writeReport(out, 'models', { date: new Date().toISOString(), promptTokens, generatedTokens: gen, kvType: kv, spinLimit: spinLimit ?? 'default', rows }, [
    chart('decode', (s) => s.decodeTokensPerSecond),
    chart('prefill', (s) => s.prefillTokensPerSecond),
  ]);
  console.log(`wrote ${files.json}, ${files.svg}, ${files.html}`);
}

function badRoute(name: string): never {
  throw new UsageError(`--routes: unknown routing '${name}' (routings: ${BENCH_ROUTES.map((r) => r.name).join(', ')})`);
}

async function routing(paths: string[], routes: BenchRoute[], threads: number[], promptTokens: number, gen: number, out: string): Promise<void> {
  const rows: Array<RouteSpeed & { model: string }> = [];
  for (const path of paths) {
    const header = GGUFHeaderView.read(path);
    const vocab = header.optArray('tokenizer.ggml.tokens')?.length ?? 32000;
    const prompt = benchPrompt(vocab, promptTokens, header.optNumber('tokenizer.ggml.bos_token_id') ?? 1);
    for (const t of threads) {
      console.log(`\n${basename(path)}, ${t} thread${t > 1 ? 's' : ''}, ${promptTokens} prompt tokens, ${gen} generated`);
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
  const chart = (title: string, pick: (s: RouteSpeed) => number): Chart => ({
    title,
    unit: 'tokens/s',
    bars: rows.map((r) => ({ label: `${r.model} ${r.threads}t ${r.route}`, value: pick(r), series: r.model })),
  });
  const files = writeReport(out, 'routing', { date: new Date().toISOString(), promptTokens, generatedTokens: gen, rows }, [
    chart('decode', (s) => s.decodeTokensPerSecond),
    chart('prefill', (s) => s.prefillTokensPerSecond),
  ]);
  console.log(`\nwrote ${files.json}, ${files.svg}, ${files.html}`);
}

async function serve(
  paths: string[],
  threads: number[],
  streams: number[],
  o: { maxSequences: number; maxTokens: number; seconds: number; contextSize?: number; out: string },
): Promise<void> {
  const results: ServeBenchResult[] = [];
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  for (const path of paths) {
    for (const t of threads) {
      console.log(`\n${basename(path)}, ${t} thread${t > 1 ? 's' : ''}, --max-sequences ${o.maxSequences}, ${o.maxTokens} tokens per request, greedy`);
      const r = await benchServe({ modelPath: path, threads: t, streams, maxSequences: o.maxSequences, maxTokens: o.maxTokens, seconds: o.seconds, contextSize: o.contextSize, onProgress: (m) => console.log(`  (${m})`) });
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
  // one pair of charts per model and thread count: their scales differ by orders of magnitude
  const streamsLabel = (n: number) => `${n} stream${n > 1 ? 's' : ''}`;
  const files = writeReport(
    o.out,
    'serve',
    { date: new Date().toISOString(), results },
    results.flatMap((r) => [
      {
        title: `${label(r)}: generated tokens/s, all streams`,
        unit: 'tokens/s',
        bars: [
          { label: 'direct generate()', value: r.direct.tokensPerSecond, series: 'direct' },
          ...r.engineBatch.map((e) => ({ label: `decodeBatch, ${e.sequences} seq`, value: e.tokensPerSecond, series: 'engine alone' })),
          ...r.levels.map((l) => ({ label: `MQTT, ${streamsLabel(l.streams)}`, value: l.tokensPerSecond, series: 'MQTT' })),
        ],
      },
      {
        title: `${label(r)}: time to first token, p50 (client clock)`,
        unit: 'ms',
        bars: [
          { label: 'direct generate()', value: r.direct.ttftMs.p50, series: 'direct' },
          ...r.levels.map((l) => ({ label: `MQTT, ${streamsLabel(l.streams)}`, value: l.ttftClientMs.p50, series: 'MQTT' })),
        ],
      },
    ]),
  );
  console.log(`\nwrote ${files.json}, ${files.svg}, ${files.html}`);
}
