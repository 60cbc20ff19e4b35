// `wisp bench serve`: the MQTT service under load. Starts a server in this process (the model, the
// embedded broker on a free port, the service), then drives it with real mqtt.js clients running in
// a worker thread (so their JSON and socket work does not share the service's event loop): 1, 4 and
// 8 concurrent streams, each a client sending greedy requests back to back. Measures the aggregate
// generated tokens/s (counted from each final message's usage), time to first token (the device's
// timings.ttft_ms and the client's own clock) and the per-request latency, and, as the baseline, the
// same requests run directly on the same model with generate() (what `wisp run` does), no MQTT.
// Beside the engine's own decodeBatch, when node-llama-cpp is found: llama.cpp's multi-sequence
// decode on the same file, prompts and thread count, so its batching gain can be read beside ours.
import { randomUUID } from 'node:crypto';
import { performance as perfHooks } from 'node:perf_hooks';
import { basename } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import mqtt from 'mqtt';
import { generate } from '../engine/generate.js';
import { llamaCppBatchSpeed, loadNodeLlamaCpp, type BatchSpeed } from './llamacpp.js';
import { startServer, type Server, type ServerOptions } from '../mqtt/server.js';

export const BENCH_PROMPTS = [
  'Once upon a time',
  'One day, a little girl named Lily',
  'The big dog ran to the park',
  'Tom and his mom went to the store',
  'There was a small bird in a tree',
  'A boy found a shiny red ball',
  'The sun was hot and the sky was blue',
  'Sam wanted to play with his friend',
];

export interface ServeBenchOptions {
  modelPath: string;
  threads: number;
  /** KV cache slots; also the scheduler's batch limit (default 8). */
  maxSequences?: number;
  /** Context per sequence (default 256: the prompt + max_tokens fit, the KV caches stay small). */
  contextSize?: number;
  /** Concurrent stream counts (default 1, 4, 8). */
  streams?: number[];
  /** Tokens generated per request (max_tokens). */
  maxTokens?: number;
  /** Each level keeps its streams busy this long; requests in flight at the deadline finish. */
  seconds?: number;
  /** Requests run directly (no MQTT) for the baseline. */
  directRequests?: number;
  /** Measure llama.cpp's multi-sequence decode when node-llama-cpp is found (default true). */
  llamaCpp?: boolean;
  /** The service's --chunk-ms: at most one streamed chunk per request per interval (default 0: one per token). */
  chunkIntervalMs?: number;
  onProgress?(msg: string): void;
}

export interface Percentiles {
  p50: number;
  p95: number;
  mean: number;
}

export interface StreamLevel {
  streams: number;
  requests: number;
  /** Completion tokens of all requests (from their final messages' usage). */
  tokens: number;
  seconds: number;
  /** Generated tokens per second, all streams together. */
  tokensPerSecond: number;
  /** Per stream: tokensPerSecond / streams. */
  tokensPerSecondPerStream: number;
  /** Time to first token as the device measured it (timings.ttft_ms, from receipt to the first chunk). */
  ttftDeviceMs: Percentiles;
  /** From publishing the request to receiving the first chunk, on the client's clock. */
  ttftClientMs: Percentiles;
  /** From publishing the request to receiving the final message. */
  latencyMs: Percentiles;
  finishReasons: Record<string, number>;
  errors: number;
  /** Where the service thread's time went while the level was measured. */
  serviceThread: ServiceThreadTime;
}

/**
 * The service thread's time during a level, as shares of its wall time (they add up to 1): the
 * decode steps, the prompts (each a step of its own while the other sequences wait), the rest of
 * its work (MQTT delivery, JSON, sampling, the scheduler) and idle (waiting for requests).
 */
export interface ServiceThreadTime {
  steps: number;
  /** Sequences per decode step. */
  meanBatch: number;
  prefills: number;
  decode: number;
  prefill: number;
  other: number;
  idle: number;
}

export interface DirectResult {
  requests: number;
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
  latencyMs: Percentiles;
  /** generate() from the call to the first token's text. */
  ttftMs: Percentiles;
}

/** The engine alone: decodeBatch over n sequences (what the scheduler runs per step), no sampling, no MQTT. */
export interface EngineBatch {
  sequences: number;
  msPerStep: number;
  tokensPerSecond: number;
}

export interface ServeBenchResult {
  model: string;
  engine: string;
  threads: number;
  maxSequences: number;
  contextSize: number;
  maxTokens: number;
  secondsPerLevel: number;
  promptTokens: number[];
  direct: DirectResult;
  /** decodeBatch alone at each stream count: the ceiling the service can reach. */
  engineBatch: EngineBatch[];
  /** llama.cpp, n sequences of one context generating at once (1 always included: the ratios' base); undefined without node-llama-cpp. */
  llamaCppBatch?: BatchSpeed[];
  levels: StreamLevel[];
  /** tokensPerSecond of n streams / of 1 stream, by n. */
  scaling: Record<string, number>;
  /** 1 stream over MQTT vs direct: tok/s ratio and the extra latency per request. */
  mqttOverhead: { tokensPerSecondRatio: number; latencyMsAdded: number; latencyRatio: number; ttftMsAdded: number };
}

export function percentiles(xs: number[]): Percentiles {
  if (xs.length === 0) return { p50: 0, p95: 0, mean: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  return { p50: at(0.5), p95: at(0.95), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

// ---- the clients (worker thread) ----------------------------------------------------------------

interface ClientJob {
  url: string;
  device: string;
  streams: number;
  seconds: number;
  maxTokens: number;
  prompts: string[];
  /** Requests per stream before the clock starts (not counted). */
  warmup: number;
  /** TCP_NODELAY on the client sockets (mqtt.js leaves Nagle on). */
  noDelay: boolean;
  /** Requests per stream, instead of keeping the streams busy for `seconds`. */
  requests?: number;
}

interface RequestSample {
  tokens: number;
  finish: string;
  error?: string;
  ttftDeviceMs?: number;
  ttftClientMs?: number;
  latencyMs: number;
}

interface ClientReport {
  samples: RequestSample[];
  seconds: number;
}

async function runClients(job: ClientJob): Promise<ClientReport> {
  const clients = await Promise.all(
    Array.from({ length: job.streams }, async (_, i) => {
      const c = mqtt.connect(job.url, { protocolVersion: 5, reconnectPeriod: 0, clientId: `bench-${i}-${randomUUID().slice(0, 6)}` });
      await new Promise<void>((resolve, reject) => {
        c.once('connect', () => resolve());
        c.once('error', reject);
      });
      if (job.noDelay) (c.stream as { setNoDelay?(on: boolean): void }).setNoDelay?.(true);
      // one subscription per client; each request gets its own reply topic under it
      await c.subscribeAsync(`bench/${i}/+`, { qos: 1 });
      return c;
    }),
  );
  const ask = (c: mqtt.MqttClient, stream: number, n: number): Promise<RequestSample> =>
    new Promise((resolve, reject) => {
      const id = `s${stream}-r${n}`;
      const topic = `bench/${stream}/${id}`;
      let first: number | undefined;
      const t0 = performance.now();
      const onMessage = (t: string, payload: Buffer) => {
        if (t !== topic) return;
        const now = performance.now();
        const m = JSON.parse(payload.toString('utf8')) as {
          done?: boolean;
          error?: { code: string; message: string };
          finish_reason?: string;
          usage?: { completion_tokens: number };
          timings?: { ttft_ms: number };
        };
        if (!m.done) {
          first ??= now;
          return;
        }
        c.removeListener('message', onMessage);
        if (m.error) return resolve({ tokens: 0, finish: 'error', error: `${m.error.code}: ${m.error.message}`, latencyMs: now - t0 });
        resolve({
          tokens: m.usage!.completion_tokens,
          finish: m.finish_reason!,
          ttftDeviceMs: m.timings!.ttft_ms,
          ttftClientMs: first !== undefined ? first - t0 : undefined,
          latencyMs: now - t0,
        });
      };
      c.on('message', onMessage);
      const request = { id, prompt: job.prompts[(((stream + n) % job.prompts.length) + job.prompts.length) % job.prompts.length], max_tokens: job.maxTokens, temperature: 0 };
      c.publishAsync(`wisp/${job.device}/infer`, JSON.stringify(request), { qos: 1, properties: { responseTopic: topic, correlationData: Buffer.from(id) } }).catch(reject);
    });
  try {
    // warm up every stream (JIT, first allocations), then all streams start together
    await Promise.all(clients.map(async (c, i) => {
      for (let n = 0; n < job.warmup; n++) await ask(c, i, -1 - n);
    }));
    parentPort?.postMessage({ started: true });
    const samples: RequestSample[] = [];
    const t0 = performance.now();
    const deadline = t0 + job.seconds * 1000;
    await Promise.all(
      clients.map(async (c, i) => {
        for (let n = 0; job.requests !== undefined ? n < job.requests : performance.now() < deadline; n++) samples.push(await ask(c, i, n));
      }),
    );
    return { samples, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await Promise.all(clients.map((c) => c.endAsync()));
  }
}

if (!isMainThread && (workerData as { wispBenchServeClients?: ClientJob } | null)?.wispBenchServeClients) {
  runClients((workerData as { wispBenchServeClients: ClientJob }).wispBenchServeClients).then(
    (r) => parentPort!.postMessage({ ok: r }),
    (err: Error) => parentPort!.postMessage({ error: err.stack ?? err.message }),
  );
}

/** Runs the clients in a worker; `onStarted` when the warm-up is over and the measured part begins. */
function clientsInWorker(job: ClientJob, onStarted?: () => void): Promise<ClientReport> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { wispBenchServeClients: job } });
    w.on('message', (m: { started?: boolean; ok?: ClientReport; error?: string }) => {
      if (m.started) return onStarted?.();
      void w.terminate();
      if (m.ok) resolve(m.ok);
      else reject(new Error(`bench clients: ${m.error}`));
    });
    w.once('error', reject);
  });
}

// ---- the bench ----------------------------------------------------------------------------------

function summarize(streams: number, r: ClientReport, serviceThread: ServiceThreadTime): StreamLevel {
  const ok = r.samples.filter((s) => !s.error);
  const tokens = ok.reduce((a, s) => a + s.tokens, 0);
  const finishReasons: Record<string, number> = {};
  for (const s of r.samples) finishReasons[s.finish] = (finishReasons[s.finish] ?? 0) + 1;
  const tokensPerSecond = tokens / r.seconds;
  return {
    streams,
    requests: r.samples.length,
    tokens,
    seconds: r.seconds,
    tokensPerSecond,
    tokensPerSecondPerStream: tokensPerSecond / streams,
    ttftDeviceMs: percentiles(ok.flatMap((s) => (s.ttftDeviceMs !== undefined ? [s.ttftDeviceMs] : []))),
    ttftClientMs: percentiles(ok.flatMap((s) => (s.ttftClientMs !== undefined ? [s.ttftClientMs] : []))),
    latencyMs: percentiles(ok.map((s) => s.latencyMs)),
    finishReasons,
    errors: r.samples.length - ok.length,
    serviceThread,
  };
}

/** Counts the scheduler's steps and prompts and the event loop's idle time from start() to read(). */
class ServiceThreadClock {
  private steps = 0;
  private sequences = 0;
  private decodeMs = 0;
  private prefills = 0;
  private prefillMs = 0;
  private elu = perfHooks.eventLoopUtilization();

  readonly onStep = (batch: number, ms: number): void => {
    this.steps++;
    this.sequences += batch;
    this.decodeMs += ms;
  };

  readonly onPrefill = (_tokens: number, ms: number): void => {
    this.prefills++;
    this.prefillMs += ms;
  };

  start(): void {
    this.steps = this.sequences = this.decodeMs = this.prefills = this.prefillMs = 0;
    this.elu = perfHooks.eventLoopUtilization();
  }

  read(): ServiceThreadTime {
    const { idle, active } = perfHooks.eventLoopUtilization(this.elu);
    const wall = Math.max(1e-9, idle + active);
    const decode = Math.min(1, this.decodeMs / wall);
    const prefill = Math.min(1 - decode, this.prefillMs / wall);
    const idleShare = Math.min(1 - decode - prefill, idle / wall);
    return { steps: this.steps, meanBatch: this.steps > 0 ? this.sequences / this.steps : 0, prefills: this.prefills, decode, prefill, other: 1 - decode - prefill - idleShare, idle: idleShare };
  }
}

/** The same requests on the same model with generate() (no scheduler, no MQTT), one after another. */
async function direct(server: Server, prompts: string[], maxTokens: number, contextSize: number, n: number): Promise<DirectResult> {
  const model = server.model.model;
  const run = async (prompt: string) => {
    const ids = server.model.tokenizer.encode(prompt);
    const t0 = performance.now();
    let first: number | undefined;
    const g = generate(model, server.model.tokenizer, ids, { maxTokens, temperature: 0, contextSize });
    let r = await g.next();
    while (!r.done) {
      if (r.value.text) first ??= performance.now();
      r = await g.next();
    }
    return { tokens: r.value.usage.completionTokens, ms: performance.now() - t0, ttft: (first ?? performance.now()) - t0 };
  };
  for (let i = 0; i < Math.min(2, prompts.length); i++) await run(prompts[i]); // warm-up
  const samples: Array<{ tokens: number; ms: number; ttft: number }> = [];
  for (let i = 0; i < n; i++) samples.push(await run(prompts[i % prompts.length]));
  const ms = samples.reduce((a, s) => a + s.ms, 0);
  const tokens = samples.reduce((a, s) => a + s.tokens, 0);
  return {
    requests: n,
    tokens,
    seconds: ms / 1000,
    tokensPerSecond: (tokens * 1000) / ms,
    latencyMs: percentiles(samples.map((s) => s.ms)),
    ttftMs: percentiles(samples.map((s) => s.ttft)),
  };
}

/**
 * The service as the benchmarks run it, in this process: device 'bench', the embedded broker on a
 * free loopback port, warnings only in the log, and no rate limit (back-to-back requests from one
 * client must not be throttled).
 */
async function startBenchServer(o: Pick<ServerOptions, 'modelPath' | 'threads' | 'maxSequences' | 'contextSize' | 'maxQueue' | 'chunkIntervalMs' | 'onStep' | 'onPrefill'>): Promise<Server> {
  const { pino } = await import('pino');
  return startServer({
    ...o,
    device: 'bench',
    host: '127.0.0.1',
    port: 0,
    rate: { messagesPerSecond: 1e6, burst: 1e6 },
    log: pino({ level: 'warn' }),
  });
}

export async function benchServe(o: ServeBenchOptions): Promise<ServeBenchResult> {
  const maxSequences = o.maxSequences ?? 8;
  const contextSize = o.contextSize ?? 256;
  const streams = o.streams ?? [1, 4, 8];
  const maxTokens = o.maxTokens ?? 64;
  const seconds = o.seconds ?? 5;
  const note = o.onProgress ?? (() => {});
  const clock = new ServiceThreadClock();
  const server = await startBenchServer({ modelPath: o.modelPath, threads: o.threads, maxSequences, contextSize, maxQueue: 256, chunkIntervalMs: o.chunkIntervalMs, onStep: clock.onStep, onPrefill: clock.onPrefill });
  try {
    const promptTokens = BENCH_PROMPTS.map((p) => server.model.tokenizer.encode(p).length);
    note(`direct: ${basename(o.modelPath)}, generate() on the same model, no MQTT`);
    const directRequests = o.directRequests ?? Math.max(4, Math.min(32, Math.round((seconds * 1000) / Math.max(1, await estimateMs(server, maxTokens, contextSize)))));
    const base = await direct(server, BENCH_PROMPTS, maxTokens, contextSize, directRequests);
    const engineBatches: EngineBatch[] = [];
    for (const n of streams.filter((k) => k <= maxSequences)) engineBatches.push(await engineBatch(server, n, contextSize));
    const nlc = o.llamaCpp === false ? undefined : await loadNodeLlamaCpp();
    if (o.llamaCpp !== false) note(nlc ? `llama.cpp: ${streams.join(', ')} sequences of one context, same file, prompts and threads` : 'llama.cpp: node-llama-cpp not found (set WISP_LLAMACPP=/path/to/node_modules); wisp only');
    // the streams' prompts as the service tokenizes them, each sequence one request of maxTokens
    const llamaCppBatch = nlc ? await llamaCppBatchSpeed(nlc, o.modelPath, BENCH_PROMPTS.map((p) => server.model.tokenizer.encode(p)), maxTokens, o.threads, streams) : undefined;
    const levels: StreamLevel[] = [];
    for (const n of streams) {
      if (n > maxSequences) note(`(${n} streams > ${maxSequences} sequences: the rest wait in the queue)`);
      note(`${n} stream${n > 1 ? 's' : ''} over MQTT for ${seconds} s…`);
      const r = await clientsInWorker({ url: server.url, device: server.device, streams: n, seconds, maxTokens, prompts: BENCH_PROMPTS, warmup: 1, noDelay: process.env.WISP_BENCH_NAGLE !== '1' }, () => clock.start());
      levels.push(summarize(n, r, clock.read()));
    }
    const one = levels.find((l) => l.streams === 1);
    const scaling = Object.fromEntries(levels.map((l) => [String(l.streams), one ? l.tokensPerSecond / one.tokensPerSecond : NaN]));
    return {
      model: basename(o.modelPath),
      engine: server.model.description,
      threads: o.threads,
      maxSequences,
      contextSize,
      maxTokens,
      secondsPerLevel: seconds,
      promptTokens,
      direct: base,
      engineBatch: engineBatches,
      llamaCppBatch,
      levels,
      scaling,
      mqttOverhead: one
        ? {
            tokensPerSecondRatio: one.tokensPerSecond / base.tokensPerSecond,
            latencyMsAdded: one.latencyMs.p50 - base.latencyMs.p50,
            latencyRatio: one.latencyMs.p50 / base.latencyMs.p50,
            ttftMsAdded: one.ttftClientMs.p50 - base.ttftMs.p50,
          }
        : { tokensPerSecondRatio: NaN, latencyMsAdded: NaN, latencyRatio: NaN, ttftMsAdded: NaN },
    };
  } finally {
    await server.stop();
  }
}

/** decodeBatch over n sequences for about `minMs` (at least 8 steps, within the context). */
export async function engineBatch(server: Server, n: number, contextSize: number, minMs = 1000): Promise<EngineBatch> {
  const model = server.model.model;
  const prompt = server.model.tokenizer.encode(BENCH_PROMPTS[0]);
  const states = Array.from({ length: n }, () => model.newState(contextSize));
  try {
    const step = async (i: number) => {
      const tokens = states.map(() => prompt[(i % (prompt.length - 1)) + 1]);
      const pos = states.map(() => prompt.length + i);
      if (model.decodeBatch) await model.decodeBatch(states, tokens, pos);
      else for (const [k, s] of states.entries()) await model.forward(s, tokens[k], pos[k]);
    };
    for (const s of states) await (model.prefill ? model.prefill(s, prompt, 0) : model.forward(s, prompt[0], 0));
    await step(0);
    const t0 = performance.now();
    let steps = 1;
    for (; steps < contextSize - prompt.length - 1 && (steps < 8 || performance.now() - t0 < minMs); steps++) await step(steps);
    const ms = (performance.now() - t0) / (steps - 1);
    return { sequences: n, msPerStep: ms, tokensPerSecond: (n * 1000) / ms };
  } finally {
    for (const s of states) model.releaseState?.(s);
  }
}

/** One request's time, roughly, to size the direct baseline to about the same wall time as a level. */
async function estimateMs(server: Server, maxTokens: number, contextSize: number): Promise<number> {
  const model = server.model.model;
  const t0 = performance.now();
  const g = generate(model, server.model.tokenizer, server.model.tokenizer.encode(BENCH_PROMPTS[0]), { maxTokens: Math.min(8, maxTokens), temperature: 0, contextSize });
  while (!(await g.next()).done);
  return ((performance.now() - t0) * maxTokens) / Math.min(8, maxTokens);
}

/** Time to first token over MQTT on an idle device, and the engine's batch scaling, at one thread count. */
export interface TtftResult {
  threads: number;
  engine: string;
  requests: number;
  maxTokens: number;
  errors: number;
  /** From publishing the request to its first chunk, on the client's clock (mqtt.js, embedded broker). */
  ttftClientMs: Percentiles;
  /** The device's own timings.ttft_ms: from receipt to the first chunk. */
  ttftDeviceMs: Percentiles;
  latencyMs: Percentiles;
  /** decodeBatch alone over 1, 2, 4, … sequences: what the batch limit can buy. */
  engineBatch: EngineBatch[];
}

export interface TtftOptions {
  modelPath: string;
  threads: number;
  /** Requests, one after another from one mqtt.js client (after one warm-up). */
  requests: number;
  maxTokens: number;
  /** Sequence counts for the engine's batch scaling (the largest is the server's KV slots). */
  batchSequences: number[];
  /** Least time per batch size (ms). */
  batchMs?: number;
  contextSize?: number;
}

/** Starts the service in this process (embedded broker on a free port), asks it `requests` times from a real mqtt.js client, then measures decodeBatch. */
export async function benchTtft(o: TtftOptions): Promise<TtftResult> {
  const contextSize = o.contextSize ?? 128;
  const clock = new ServiceThreadClock();
  const server = await startBenchServer({ modelPath: o.modelPath, threads: o.threads, maxSequences: Math.max(1, ...o.batchSequences), contextSize, onStep: clock.onStep, onPrefill: clock.onPrefill });
  try {
    const r = await clientsInWorker({ url: server.url, device: server.device, streams: 1, seconds: 0, requests: o.requests, maxTokens: o.maxTokens, prompts: BENCH_PROMPTS, warmup: 1, noDelay: true }, () => clock.start());
    const level = summarize(1, r, clock.read());
    const engineBatches: EngineBatch[] = [];
    for (const n of o.batchSequences) engineBatches.push(await engineBatch(server, n, contextSize, o.batchMs));
    return {
      threads: o.threads,
      engine: server.model.description,
      requests: level.requests,
      maxTokens: o.maxTokens,
      errors: level.errors,
      ttftClientMs: level.ttftClientMs,
      ttftDeviceMs: level.ttftDeviceMs,
      latencyMs: level.latencyMs,
      engineBatch: engineBatches,
    };
  } finally {
    await server.stop();
  }
}
