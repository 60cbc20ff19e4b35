// `wisp bench --tune`: a device profile chosen from a device bench's measurements. The rules, each
// recorded with the figures that decided it in the profile's `tuned` field:
// - routing and threads: the (routing, threads) pair with the highest decode tok/s; pairs within
//   TIE of the best count as equal, and then fewer threads (cores left for the rest of the box),
//   then the higher prefill tok/s, win. Decode first: serving spends most of its time there.
// - kernel flavour: at the chosen thread count, the flavour with the highest geometric mean GB/s
//   over the kernels measured (the profile's `simd` level names it).
// - maxSequences: from the engine's decodeBatch scaling at the chosen threads: the fewest sequences
//   whose aggregate tok/s is within BATCH_GAIN of the most measured (more buys too little; one noisy
//   size does not stop the search).
// - maxBatchTokens: about MAX_STEP_SECONDS of prefill at the measured prefill rate, so a long prompt
//   joining the batch stalls the other streams at most that long; at least maxSequences, at most 4096.
import { hostname } from 'node:os';
import type { DeviceProfile, RoutingTable, SimdLevel } from '../profiles/index.js';
import type { DeviceBench, RouteRow } from './device.js';

export const TIE = 0.03;
export const BATCH_GAIN = 0.15;
export const MAX_STEP_SECONDS = 0.25;

export interface Choice<T> {
  value: T;
  why: string;
}

export interface TunedRecord {
  by: string;
  date: string;
  /** The profile the tuned one starts from (the one detected for the device). */
  from: string;
  environment: DeviceBench['environment'];
  model: { file: string; sha256: string };
  choices: { threads: Choice<number>; flavour: Choice<string>; routing: Choice<string>; maxSequences: Choice<number>; maxBatchTokens: Choice<number> };
  /** The figures the choices were made from. */
  measurements: {
    routing: Array<Pick<RouteRow, 'route' | 'threads' | 'prefillTokensPerSecond' | 'decodeTokensPerSecond'>>;
    kernels: Array<{ flavour: string; type: string; threads: number; gbPerSecond: number; ofReadBandwidth: number }>;
    memory: DeviceBench['memory'];
    engineBatch: Array<{ threads: number; sequences: number; tokensPerSecond: number }>;
  };
}

export type TunedProfile = DeviceProfile & { tuned: TunedRecord };

/** The SIMD level a profile names for a kernel flavour. */
export function simdOfFlavour(flavour: string): SimdLevel {
  return /relaxed/.test(flavour) ? 'relaxed-simd' : 'simd128';
}

const f1 = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

function chooseRouting(b: DeviceBench): { row: RouteRow; why: string } {
  const ok = b.routing.filter((r) => !r.error && Number.isFinite(r.decodeTokensPerSecond) && Number.isFinite(r.prefillTokensPerSecond));
  if (ok.length === 0) throw new Error('bench --tune: no routing ran on this device, so there is nothing to tune from');
  const best = Math.max(...ok.map((r) => r.decodeTokensPerSecond!));
  const near = ok.filter((r) => r.decodeTokensPerSecond! >= best * (1 - TIE));
  near.sort((a, c) => a.threads - c.threads || c.prefillTokensPerSecond! - a.prefillTokensPerSecond!);
  const row = near[0];
  const top = ok.find((r) => r.decodeTokensPerSecond === best)!;
  const why =
    row === top
      ? `highest decode: ${f1(best)} tok/s (${row.route}, ${row.threads} thread${row.threads > 1 ? 's' : ''}) of ${ok.length} measured`
      : `${f1(row.decodeTokensPerSecond!)} tok/s decode is within ${TIE * 100}% of the best (${f1(best)}, ${top.route} at ${top.threads} threads) with ${row.threads} thread${row.threads > 1 ? 's' : ''} and prefill ${f1(row.prefillTokensPerSecond!)} tok/s`;
  return { row, why };
}

function chooseFlavour(b: DeviceBench, threads: number): Choice<string> {
  const at = (f: string) => b.kernels.filter((k) => k.flavour === f && k.threads === threads && k.gbPerSecond > 0);
  const scored = b.kernelFlavours.map((f) => ({ f, n: at(f).length, g: Math.exp(at(f).reduce((s, k) => s + Math.log(k.gbPerSecond), 0) / Math.max(1, at(f).length)) })).filter((x) => x.n > 0);
  if (scored.length === 0) return { value: b.environment.kernels.baseline, why: 'no kernel measurement at this thread count: the baseline' };
  scored.sort((a, c) => c.g - a.g);
  const skipped = b.flavoursSkipped.length ? `; not measurable here: ${b.flavoursSkipped.map((s) => s.flavour).join(', ')}` : '';
  return {
    value: scored[0].f,
    why: scored.length === 1 ? `the only flavour measured (${f1(scored[0].g)} GB/s geometric mean over ${scored[0].n} kernels)${skipped}` : `highest geometric mean GB/s at ${threads} threads: ${scored.map((s) => `${s.f} ${f1(s.g)}`).join(', ')}${skipped}`,
  };
}

function chooseMaxSequences(b: DeviceBench, threads: number): Choice<number> {
  const batch = [...(b.mqtt.find((m) => m.threads === threads)?.engineBatch ?? [])].sort((a, c) => a.sequences - c.sequences);
  if (batch.length === 0) return { value: 4, why: 'no batch measurement at this thread count: 4' };
  const best = Math.max(...batch.map((e) => e.tokensPerSecond));
  const chosen = batch.find((e) => e.tokensPerSecond >= best * (1 - BATCH_GAIN))!;
  const series = batch.map((e) => `${e.sequences}: ${f1(e.tokensPerSecond)}`).join(', ');
  return { value: chosen.sequences, why: `the fewest sequences whose decodeBatch tok/s is within ${BATCH_GAIN * 100}% of the most measured (${series})` };
}

/** A profile tuned from `b`, starting from `base` (the device's detected profile): valid against profile.schema.json. */
export function tuneProfile(b: DeviceBench, base: DeviceProfile): TunedProfile {
  const { row, why } = chooseRouting(b);
  const threads = row.threads;
  const flavour = chooseFlavour(b, threads);
  const maxSequences = chooseMaxSequences(b, threads);
  const prefill = row.prefillTokensPerSecond!;
  const maxBatchTokens = Math.min(4096, Math.max(maxSequences.value, Math.round(prefill * MAX_STEP_SECONDS)));
  const host = (b.environment.device || hostname()).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '') || 'device';
  const name = `tuned-${host}`.slice(0, 64);
  const routing: RoutingTable = structuredClone(row.routing);
  const profile: TunedProfile = {
    name,
    description: `Tuned by \`wisp bench --tune\` on ${b.environment.device} (${b.environment.cpuModel}, Node ${b.environment.node}) on ${b.date.slice(0, 10)} from ${base.name}, with ${b.model.file}: ${row.route}, ${threads} thread${threads > 1 ? 's' : ''}, ${flavour.value} kernels.`,
    priority: (base.priority ?? 0) + 1,
    match: structuredClone(base.match),
    threads,
    simd: simdOfFlavour(flavour.value),
    providers: [...base.providers],
    ...(base.providerOptions ? { providerOptions: structuredClone(base.providerOptions) } : {}),
    routing,
    memory: structuredClone(base.memory),
    batch: { maxSequences: maxSequences.value, maxBatchTokens },
    tuned: {
      by: 'wisp bench --tune',
      date: b.date,
      from: base.name,
      environment: b.environment,
      model: { file: b.model.file, sha256: b.model.sha256 },
      choices: {
        threads: { value: threads, why },
        flavour,
        routing: { value: row.route, why },
        maxSequences,
        maxBatchTokens: { value: maxBatchTokens, why: `${MAX_STEP_SECONDS} s of prefill at ${f1(prefill)} tok/s (${row.route}, ${threads} thread${threads > 1 ? 's' : ''}), within [maxSequences, 4096]` },
      },
      measurements: {
        routing: b.routing.filter((r) => !r.error).map((r) => ({ route: r.route, threads: r.threads, prefillTokensPerSecond: r.prefillTokensPerSecond, decodeTokensPerSecond: r.decodeTokensPerSecond })),
        kernels: b.kernels.map((k) => ({ flavour: k.flavour, type: k.type, threads: k.threads, gbPerSecond: k.gbPerSecond, ofReadBandwidth: k.ofReadBandwidth })),
        memory: b.memory,
        engineBatch: b.mqtt.flatMap((m) => m.engineBatch.map((e) => ({ threads: m.threads, sequences: e.sequences, tokensPerSecond: e.tokensPerSecond }))),
      },
    },
  };
  return profile;
}
