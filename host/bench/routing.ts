// `wisp bench routing`: prefill and decode tok/s of one model under several routings (all-wasm,
// all-ONNX per block, the fused all-ONNX session, alternating layers, FFN on ONNX), greedy, from
// fixed prompt ids, and the time per backend and op group the routed engine measured.
import { argmax } from '../engine/sampler.js';
import { openModel, type OpenOptions } from '../engine/open.js';
import type { OpTime } from '../engine/backend.js';
import type { DeviceProfile, RoutingTable } from '../profiles/index.js';

export interface BenchRoute {
  name: string;
  /** A routing table for the routed engine, or the fused all-ONNX engine. */
  routing: RoutingTable | 'onnx-fused';
  /** Time every block even when every block is wasm (costs a clock read per block). */
  timeOps?: boolean;
  /** Run consecutive ONNX blocks as one session. */
  fuse?: boolean;
  /** ONNX Runtime providers taken as available (default: the CPU provider). */
  providers?: string[];
}

export const BENCH_ROUTES: BenchRoute[] = [
  { name: 'all-wasm', routing: { default: 'wasm' } },
  { name: 'all-wasm (timed)', routing: { default: 'wasm' }, timeOps: true },
  { name: 'all-onnx (blocks)', routing: { default: 'onnx:cpu' } },
  { name: 'all-onnx (fused)', routing: 'onnx-fused' },
  { name: 'alternating', routing: { default: 'wasm', rules: [{ layers: 'even', backend: 'onnx:cpu' }] } },
  { name: 'ffn-onnx', routing: { default: 'wasm', rules: [{ ops: ['ffn'], backend: 'onnx:cpu' }] } },
];

/**
 * The routings worth measuring on a device whose profile is `profile`: all-wasm, then for each
 * execution provider the profile lists that initialises here (`available`): every block on it, the
 * FFNs on it, every other layer on it; then the profile's own table when it is none of these. Each is
 * a routing table a tuned profile can carry as it is.
 */
export function routingCandidates(profile: Pick<DeviceProfile, 'name' | 'providers' | 'routing'>, available: string[]): BenchRoute[] {
  const providers = profile.providers.filter((p) => available.includes(p));
  const routes: BenchRoute[] = [{ name: 'all-wasm', routing: { default: 'wasm' } }];
  for (const p of providers) {
    const onnx = `onnx:${p}` as const;
    routes.push(
      { name: `all-${onnx}`, routing: { default: onnx } },
      { name: `ffn-${onnx}`, routing: { default: 'wasm', rules: [{ ops: ['ffn'], backend: onnx }] } },
      { name: `alternating-${onnx}`, routing: { default: 'wasm', rules: [{ layers: 'even', backend: onnx }] } },
    );
  }
  const same = (a: RoutingTable, b: RoutingTable) => JSON.stringify(a) === JSON.stringify(b);
  if (!routes.some((r) => same(r.routing as RoutingTable, profile.routing))) routes.push({ name: `profile ${profile.name}`, routing: profile.routing });
  return routes.map((r) => ({ ...r, providers: available }));
}

export interface RouteSpeed {
  route: string;
  /** "wasm: 5 blocks, onnx:cpu: 6 blocks" or the engine's description */
  engine: string;
  threads: number;
  promptTokens: number;
  generatedTokens: number;
  loadMs: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  /** Per backend and op group, during prefill and during decode (empty for engines that do not time blocks). */
  prefillOps: OpTime[];
  decodeOps: OpTime[];
}

export async function routeSpeed(path: string, route: BenchRoute, promptIds: number[], genTokens: number, threads: number, log: (msg: string) => void = () => {}): Promise<RouteSpeed> {
  const opts: OpenOptions = {
    threads,
    contextSize: promptIds.length + genTokens + 8,
    providers: route.providers ?? ['cpu'],
    log,
    ...(route.routing === 'onnx-fused' ? { engine: 'onnx' } : { routing: route.routing, timeOps: route.timeOps, fuse: route.fuse }),
  };
  const t0 = performance.now();
  const m = await openModel(path, opts);
  const loadMs = performance.now() - t0;
  try {
    const model = m.model;
    // warm-up (ORT allocates on a session's first runs), then a clean count
    const warmTokens = Math.min(32, promptIds.length);
    const warm = model.newState(warmTokens + 4);
    let t = argmax(await model.prefill!(warm, promptIds.slice(0, warmTokens), 0));
    for (let pos = warmTokens; pos < warmTokens + 3; pos++) t = argmax(await model.forward(warm, t, pos));
    model.releaseState!(warm);
    const inspect = m.model as { resetOpTimes?: () => void };
    inspect.resetOpTimes?.();

    const state = model.newState();
    const tStart = performance.now();
    let token = argmax(await model.prefill!(state, promptIds, 0));
    const tFirst = performance.now();
    const prefillOps = m.opTimes();
    inspect.resetOpTimes?.();
    let pos = promptIds.length;
    for (let i = 1; i < genTokens; i++) token = argmax(await model.forward(state, token, pos++));
    const tEnd = performance.now();
    const decodeOps = m.opTimes();
    model.releaseState!(state);
    return {
      route: route.name,
      engine: m.description,
      threads,
      promptTokens: promptIds.length,
      generatedTokens: genTokens,
      loadMs,
      prefillTokensPerSecond: (promptIds.length * 1000) / (tFirst - tStart),
      decodeTokensPerSecond: ((genTokens - 1) * 1000) / (tEnd - tFirst),
      prefillOps,
      decodeOps,
    };
  } finally {
    await m.close();
  }
}
