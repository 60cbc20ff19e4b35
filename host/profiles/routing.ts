// The routing plan: for one model, which backend runs each layer's attention and FFN, and the
// output head. Made once when a model loads (plan time), so a bad layer spec or a rule past the
// model's last layer is an error then, never in the middle of a request. The plan is plain data
// (JSON-serialisable, structured-cloneable); the engine walks it.
//
// Precedence: the routing table's `default` covers everything, then rules apply in order and a
// later rule overrides an earlier one where they overlap (write the broad rule first, then the
// exceptions). A rule that ends up owning no entry is reported in `warnings`.
//
// Provider fallback: a rule naming `onnx:P` tries P, then the providers after P in the profile's
// `providers` list, skipping those not available on the device, and records each skip in the
// entry's reason. With none available the entry runs on wasm, which is always there.
import { ProfileError, type ProfileProblem } from './errors.js';
import { selectLayers } from './layers.js';
import type { BackendSpec, DeviceProfile, LayerOp, OpGroup, Provider, ProviderOptionValue, RoutingRule } from './types.js';

export interface RouteEntry {
  /** Layer index; null for the head. */
  layer: number | null;
  op: OpGroup;
  backend: 'wasm' | 'onnx';
  /** The execution provider, when backend is onnx. */
  provider?: Provider;
  /**
   * What to try, in order, if this backend cannot build its session at load: the remaining
   * available providers of the profile's list as "onnx:<p>", then "wasm". Empty for wasm.
   */
  fallbacks: string[];
  /** Index in routing.rules of the rule that decided this entry; null for the default. */
  rule: number | null;
  /** e.g. "rules[0] (layers 0-7, ffn) → onnx:qnn; qnn unavailable → onnx:cpu" or "default → wasm". */
  reason: string;
}

export interface LayerRoute {
  attention: RouteEntry;
  ffn: RouteEntry;
}

export interface RoutingPlan {
  profile: string;
  /** The profile file, when it came from one. */
  source?: string;
  nLayers: number;
  /** Providers the plan was made with (those that initialised on the device). */
  availableProviders: string[];
  /** Session options per provider (the profile's providerOptions), for { name, ...options }. */
  providerOptions: Partial<Record<Provider, Record<string, ProviderOptionValue>>>;
  layers: LayerRoute[];
  head: RouteEntry;
  warnings: string[];
}

export interface ModelShape {
  nLayers: number;
}

const LAYER_OPS: readonly LayerOp[] = ['attention', 'ffn'];

/** The op groups a rule covers (see RoutingRule.ops). */
export function ruleOps(rule: RoutingRule): OpGroup[] {
  return rule.ops ?? (rule.layers === undefined ? ['attention', 'ffn', 'head'] : ['attention', 'ffn']);
}

function ruleLabel(rule: RoutingRule, i: number): string {
  const layers = rule.layers === undefined ? (ruleOps(rule).every((o) => o === 'head') ? '' : 'all layers') : `layers ${rule.layers.trim()}`;
  return `rules[${i}] (${[layers, ruleOps(rule).join('+')].filter(Boolean).join(', ')})`;
}

type Resolved = Pick<RouteEntry, 'backend' | 'provider' | 'fallbacks'> & { how: string };

/** A backend spec on this device: the provider it lands on after fallback, and why. */
function resolveBackend(spec: BackendSpec, profile: DeviceProfile, available: ReadonlySet<string>): Resolved {
  if (spec === 'wasm') return { backend: 'wasm', fallbacks: [], how: 'wasm' };
  const list = profile.providers;
  let candidates: Provider[];
  if (spec === 'onnx') candidates = [...list];
  else {
    const named = spec.slice(5) as Provider;
    const at = list.indexOf(named);
    candidates = at < 0 ? [named] : list.slice(at);
  }
  const skipped: string[] = [];
  for (let i = 0; i < candidates.length; i++) {
    const p = candidates[i];
    if (!available.has(p)) {
      skipped.push(p);
      continue;
    }
    const rest = candidates.slice(i + 1).filter((q) => available.has(q)).map((q) => `onnx:${q}`);
    const how = skipped.length === 0 ? (spec === 'onnx' ? `onnx → onnx:${p}` : spec) : `${spec}; ${skipped.join(', ')} unavailable → onnx:${p}`;
    return { backend: 'onnx', provider: p, fallbacks: [...rest, 'wasm'], how };
  }
  return { backend: 'wasm', fallbacks: [], how: `${spec}; ${skipped.join(', ')} unavailable → wasm` };
}

/**
 * Plans a model of `model.nLayers` layers on `profile`, given the providers that initialised on
 * the device (detectDevice → availableProviders). Throws a ProfileError naming every rule whose
 * layers reach past the model.
 */
export function planRouting(profile: DeviceProfile & { source?: string }, model: ModelShape, available: readonly string[]): RoutingPlan {
  const source = profile.source ?? `profile ${profile.name}`;
  const { nLayers } = model;
  if (!Number.isInteger(nLayers) || nLayers < 1) throw new Error(`planRouting: nLayers must be a positive integer, got ${nLayers}`);
  const availableSet = new Set(available);
  const rules = profile.routing.rules ?? [];
  const problems: ProfileProblem[] = [];
  const layerSets = rules.map((rule, i) => {
    if (rule.layers === undefined) return null;
    try {
      return new Set(selectLayers(rule.layers, nLayers));
    } catch (err) {
      problems.push({ pointer: `/routing/rules/${i}/layers`, message: (err as Error).message });
      return new Set<number>();
    }
  });
  if (problems.length > 0) throw new ProfileError(source, problems);

  const memo = new Map<BackendSpec, Resolved>();
  const resolve = (spec: BackendSpec) => {
    let r = memo.get(spec);
    if (!r) memo.set(spec, (r = resolveBackend(spec, profile, availableSet)));
    return r;
  };
  const entry = (layer: number | null, op: OpGroup): RouteEntry => {
    // the last rule that covers (layer, op) decides
    for (let i = rules.length - 1; i >= 0; i--) {
      const rule = rules[i];
      if (!ruleOps(rule).includes(op)) continue;
      if (layer !== null && layerSets[i] !== null && !layerSets[i]!.has(layer)) continue;
      const r = resolve(rule.backend);
      return { layer, op, backend: r.backend, ...(r.provider ? { provider: r.provider } : {}), fallbacks: [...r.fallbacks], rule: i, reason: `${ruleLabel(rule, i)} → ${r.how}` };
    }
    const r = resolve(profile.routing.default);
    return { layer, op, backend: r.backend, ...(r.provider ? { provider: r.provider } : {}), fallbacks: [...r.fallbacks], rule: null, reason: `default → ${r.how}` };
  };

  const layers: LayerRoute[] = [];
  for (let l = 0; l < nLayers; l++) layers.push({ attention: entry(l, 'attention'), ffn: entry(l, 'ffn') });
  const head = entry(null, 'head');

  const owned = new Set<number>();
  for (const e of [...layers.flatMap((l) => [l.attention, l.ffn]), head]) if (e.rule !== null) owned.add(e.rule);
  const warnings = rules.flatMap((rule, i) => {
    if (owned.has(i)) return [];
    const selectsNothing = layerSets[i] !== null && layerSets[i]!.size === 0 && !ruleOps(rule).includes('head');
    return [`${ruleLabel(rule, i)} decides nothing: ${selectsNothing ? `it selects no layer of a ${nLayers}-layer model` : 'later rules override it everywhere'}`];
  });

  return {
    profile: profile.name,
    ...(profile.source ? { source: profile.source } : {}),
    nLayers,
    availableProviders: [...available],
    providerOptions: structuredClone(profile.providerOptions ?? {}),
    layers,
    head,
    warnings,
  };
}

/** Every entry in execution order: layer 0 attention, layer 0 ffn, …, head. */
export function planEntries(plan: RoutingPlan): RouteEntry[] {
  return [...plan.layers.flatMap((l) => LAYER_OPS.map((op) => l[op])), plan.head];
}

/** The backend an entry runs on, as a spec: "wasm" or "onnx:<provider>". */
export function entryBackend(e: RouteEntry): string {
  return e.backend === 'onnx' ? `onnx:${e.provider}` : 'wasm';
}

/** One line per entry: "layer 3 ffn        onnx:cpu   rules[0] (layers 0-7, ffn) → onnx:qnn; qnn unavailable → onnx:cpu". */
export function describeRoutingPlan(plan: RoutingPlan): string {
  const rows = planEntries(plan).map((e) => [e.layer === null ? 'head' : `layer ${e.layer} ${e.op}`, entryBackend(e), e.reason]);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`).join('\n');
}

/** The onnxruntime-node executionProviders entry for a provider of the plan: { name, ...options }. */
export function sessionProvider(plan: RoutingPlan, provider: Provider): { name: Provider } & Record<string, ProviderOptionValue> {
  return { ...(plan.providerOptions[provider] ?? {}), name: provider };
}
