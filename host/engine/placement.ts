// Placements: which backend runs each block. A routing plan (host/profiles/routing.ts, from a device
// profile) or an engine name becomes the blocks' target lists the forward pass opens; and the
// helpers that describe a placement and its op times for logs, `wisp run --placement` and benches.
import type { RouteEntry, RoutingPlan } from '../profiles/routing.js';
import { planEntries, sessionProvider } from '../profiles/routing.js';
import type { Provider } from '../profiles/types.js';
import { walkBlocks, type BlockPlacement, type EngineOp, type OpTime, type PlacedBlock, type Placement, type Target } from './backend.js';

/** Every block on the same targets (an engine name: all wasm, all onnx:cpu). */
export function uniformTargets(nLayers: number, targets: Target[]): PlacedBlock[] {
  return walkBlocks(nLayers).map((b) => ({ ...b, targets }));
}

/** A plan's blocks with their targets: the entry's backend (and provider, with the profile's options), then its fallbacks. */
export function planTargets(plan: RoutingPlan): PlacedBlock[] {
  const target = (spec: string): Target => {
    const [backend, provider] = spec.split(':');
    if (!provider) return { backend };
    const { name, ...options } = sessionProvider(plan, provider as Provider);
    return { backend, variant: Object.keys(options).length > 0 ? { name, options } : { name } };
  };
  const entries = planEntries(plan);
  return walkBlocks(plan.nLayers).map((b, i) => {
    const e = entries[i];
    return { ...b, targets: [target(e.backend === 'onnx' ? `onnx:${e.provider}` : e.backend), ...e.fallbacks.map(target)] };
  });
}

/** The placement a plan asks for (its resolved entries), for comparing with what runs. */
export function planPlacement(plan: RoutingPlan): Placement {
  const p = (e: RouteEntry): BlockPlacement => (e.backend === 'onnx' ? { backend: 'onnx', provider: e.provider } : { backend: 'wasm' });
  return { layers: plan.layers.map((l) => ({ attention: p(l.attention), ffn: p(l.ffn) })), head: p(plan.head) };
}

export function uniformPlacement(nLayers: number, b: BlockPlacement): Placement {
  return { layers: Array.from({ length: nLayers }, () => ({ attention: { ...b }, ffn: { ...b } })), head: { ...b } };
}

/** "wasm", "onnx:cpu" */
export function placed(b: BlockPlacement): string {
  return b.provider ? `${b.backend}:${b.provider}` : b.backend;
}

/** "wasm: 5 blocks, onnx:cpu: 6 blocks" */
export function describePlacement(p: Placement): string {
  const counts = new Map<string, number>();
  for (const b of [...p.layers.flatMap((l) => [l.attention, l.ffn]), p.head]) {
    const k = placed(b);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k}: ${n} block${n === 1 ? '' : 's'}`).join(', ');
}

/** True when every entry of the plan runs on wasm. */
/** True when every entry of the plan runs on wasm. */
export function isAllWasm(plan: RoutingPlan): boolean {
  return planEntries(plan).every((e) => e.backend === 'wasm');
}

/** "layers 0-3 attention, layer 5 ffn, head" */
export function describeEntries(entries: readonly RouteEntry[]): string {
  const parts: string[] = [];
  for (const op of ['attention', 'ffn'] as const) {
    const ls = entries.filter((e) => e.op === op && e.layer !== null).map((e) => e.layer!).sort((a, b) => a - b);
    if (ls.length === 0) continue;
    const ranges: string[] = [];
    for (let i = 0; i < ls.length; ) {
      let j = i;
      while (j + 1 < ls.length && ls[j + 1] === ls[j] + 1) j++;
      ranges.push(i === j ? `${ls[i]}` : `${ls[i]}-${ls[j]}`);
      i = j + 1;
    }
    parts.push(`layer${ls.length > 1 ? 's' : ''} ${ranges.join(',')} ${op}`);
  }
  if (entries.some((e) => e.layer === null)) parts.push('head');
  return parts.join(', ');
}

/**
 * One log line per distinct plan-time fallback ("onnx:cuda; cuda unavailable → onnx:cpu"), naming
 * the blocks it moved: the profile asked for a provider this device does not have.
 */
export function logPlanFallbacks(plan: RoutingPlan, log: (msg: string) => void): void {
  const byHow = new Map<string, RouteEntry[]>();
  for (const e of planEntries(plan)) {
    if (!e.reason.includes(' unavailable → ')) continue;
    const how = e.reason.slice(e.reason.indexOf(' → ') + 3);
    byHow.set(how, [...(byHow.get(how) ?? []), e]);
  }
  for (const [how, es] of byHow) log(`routing: ${how} (${describeEntries(es)}; profile ${plan.profile})`);
}

/** One line per block ("layer 0 attention  onnx:cpu"), then the time per backend and op group. */
export function placementTable(p: Placement, times: readonly OpTime[] = []): string {
  const name = placed;
  const rows = [...p.layers.flatMap((l, i) => [[`layer ${i} attention`, name(l.attention)], [`layer ${i} ffn`, name(l.ffn)]]), ['head', name(p.head)]];
  const w = Math.max(...rows.map((r) => r[0].length));
  const lines = rows.map(([a, b]) => `${a.padEnd(w)}  ${b}`);
  if (times.length > 0) lines.push('', opTimeTable(times));
  return lines.join('\n');
}

/** backend × op: total ms, calls, µs per call. */
export function opTimeTable(times: readonly OpTime[]): string {
  const lines = [`${'backend'.padEnd(8)} ${'op'.padEnd(10)} ${'ms'.padStart(10)} ${'calls'.padStart(8)} ${'µs/call'.padStart(9)}`];
  const order: EngineOp[] = ['embed', 'attention', 'ffn', 'head', 'fused', 'sample'];
  const sorted = [...times].sort((a, b) => a.backend.localeCompare(b.backend) || order.indexOf(a.op) - order.indexOf(b.op));
  for (const t of sorted) lines.push(`${t.backend.padEnd(8)} ${t.op.padEnd(10)} ${t.ms.toFixed(1).padStart(10)} ${String(t.calls).padStart(8)} ${((t.ms * 1000) / Math.max(1, t.calls)).toFixed(1).padStart(9)}`);
  return lines.join('\n');
}
