// The routed engine: one llama forward pass whose blocks (each layer's attention and FFN halves,
// and the head) run on the backend a RoutingPlan names. The wasm kernels own the step: the
// embedding, the activation rows X in the shared arena, and every block routed to wasm. A block
// routed to ONNX copies its n×dim rows out of the arena (ONNX Runtime refuses SharedArrayBuffer
// views), awaits the OnnxBlocks session and copies the result back. A routed attention layer
// keeps its KV cache in the ONNX sequence state, so a sequence's state is a wasm slot plus one
// ONNX sequence per provider group.
//
// Onnx entries are grouped by their provider list (the entry's provider, then its onnx
// fallbacks); each group is one OnnxBlocks. What each session really opened on is what
// placement() reports; a group that no provider can open falls back to wasm, as the plan's
// fallbacks say, with a log line.
import { OnnxBlocks, type OnnxSequenceState } from '../backends/onnx/blocks.js';
import { NoProviderError, type ProviderSpec } from '../backends/onnx/session.js';
import { WasmModel, type Segment, type WasmModelOptions, type WasmSequence } from '../backends/wasm/model.js';
import type { LlamaConfig } from '../model/llama/config.js';
import type { BackendOp } from '../obs/metrics.js';
import { planEntries, sessionProvider, type RouteEntry, type RoutingPlan } from '../profiles/routing.js';
import type { Provider } from '../profiles/types.js';
import type { AsyncTokenModel } from './generate.js';
import type { BackendName, BlockPlacement, InspectableModel, OpTime, Placement } from './backend.js';

export type { BackendName, BlockPlacement, InspectableModel, OpTime, Placement } from './backend.js';

/** The placement a plan asks for (its resolved entries), for comparing with what runs. */
export function planPlacement(plan: RoutingPlan): Placement {
  const p = (e: RouteEntry): BlockPlacement => (e.backend === 'onnx' ? { backend: 'onnx', provider: e.provider } : { backend: 'wasm' });
  return { layers: plan.layers.map((l) => ({ attention: p(l.attention), ffn: p(l.ffn) })), head: p(plan.head) };
}

export function uniformPlacement(nLayers: number, b: BlockPlacement): Placement {
  return { layers: Array.from({ length: nLayers }, () => ({ attention: { ...b }, ffn: { ...b } })), head: { ...b } };
}

/** "wasm: 5 blocks, onnx:cpu: 6 blocks" */
export function describePlacement(p: Placement): string {
  const counts = new Map<string, number>();
  for (const b of [...p.layers.flatMap((l) => [l.attention, l.ffn]), p.head]) {
    const k = b.backend === 'onnx' ? `onnx:${b.provider}` : 'wasm';
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k}: ${n} block${n === 1 ? '' : 's'}`).join(', ');
}

/** True when every entry of the plan runs on wasm. */
export function isAllWasm(plan: RoutingPlan): boolean {
  return planEntries(plan).every((e) => e.backend === 'wasm');
}

export interface RoutedModelOptions extends WasmModelOptions {
  /** ORT intra-op threads per session (default: ORT's). */
  onnxThreads?: number;
  /** Load-time notes: fallbacks, plan warnings (each once). */
  log?: (msg: string) => void;
  /** Called after every block with its time (e.g. ServiceMetrics.backendTime). */
  onOpTime?: (backend: BackendName, op: BackendOp, seconds: number) => void;
}

/** One sequence: its wasm KV slot (wasm attention layers) and, per ONNX group with attention layers, the ONNX caches. */
export class RoutedState {
  constructor(
    readonly wasm: WasmSequence,
    readonly onnx: ReadonlyArray<OnnxSequenceState | undefined>,
    readonly maxSeq: number,
  ) {}
}

interface Group {
  key: string;
  providers: ProviderSpec[];
  entries: RouteEntry[];
  blocks?: OnnxBlocks;
}

/** Which group runs a block; -1 = wasm. */
interface Route {
  attention: number[];
  ffn: number[];
  head: number;
}

interface Row {
  state: RoutedState;
  pos0: number;
  n: number;
}

export class RoutedModel implements AsyncTokenModel<RoutedState>, InspectableModel {
  readonly config: LlamaConfig;
  readonly contextSize: number;
  readonly maxBatch: number;
  readonly maxSequences: number;
  private readonly times = new Map<string, OpTime>();
  /** n×dim copy of the activation rows for ONNX (ORT cannot read the shared arena). */
  private readonly scratch: Float32Array;
  private busy = false;
  private closed = false;

  private constructor(
    readonly wasm: WasmModel,
    readonly plan: RoutingPlan,
    private readonly groups: Group[],
    private readonly route: Route,
    private readonly placed: Placement,
    private readonly onOpTime?: RoutedModelOptions['onOpTime'],
  ) {
    this.config = wasm.config;
    this.contextSize = wasm.contextSize;
    this.maxBatch = wasm.maxBatch;
    this.maxSequences = wasm.maxSequences;
    this.scratch = new Float32Array(this.maxBatch * wasm.config.dim);
  }

  /**
   * Loads the wasm model (always: it embeds and holds the activations) and one OnnxBlocks per
   * provider group of the plan's onnx entries. OnnxBlocks reads the GGUF itself, so weights of
   * ONNX-routed blocks are held twice (once in the arena, once in ORT's sessions).
   */
  static async load(path: string, plan: RoutingPlan, opts: RoutedModelOptions = {}): Promise<RoutedModel> {
    const log = opts.log ?? (() => {});
    const wasm = WasmModel.load(path, opts);
    const groups: Group[] = [];
    try {
      await wasm.ready();
      const c = wasm.config;
      if (plan.nLayers !== c.nLayers) throw new Error(`the routing plan is for ${plan.nLayers} layers; ${path} has ${c.nLayers}`);
      for (const w of plan.warnings) log(`routing: warning: ${w}`);
      logPlanFallbacks(plan, log);

      // group the onnx entries by provider list
      const route: Route = { attention: new Array(c.nLayers).fill(-1), ffn: new Array(c.nLayers).fill(-1), head: -1 };
      for (const e of planEntries(plan)) {
        if (e.backend !== 'onnx') continue;
        const names = [e.provider!, ...e.fallbacks.filter((f) => f.startsWith('onnx:')).map((f) => f.slice(5))];
        const key = names.join(',');
        let g = groups.findIndex((x) => x.key === key);
        if (g < 0) {
          g = groups.push({ key, providers: names.map((p) => providerSpec(plan, p as Provider)), entries: [] }) - 1;
        }
        groups[g].entries.push(e);
        if (e.layer === null) route.head = g;
        else route[e.op as 'attention' | 'ffn'][e.layer] = g;
      }

      const placed = planPlacement(plan);
      for (const g of groups) {
        const layers = {
          attention: g.entries.filter((e) => e.op === 'attention').map((e) => e.layer!),
          ffn: g.entries.filter((e) => e.op === 'ffn').map((e) => e.layer!),
          head: g.entries.some((e) => e.op === 'head'),
        };
        try {
          g.blocks = await OnnxBlocks.load(path, c, layers, {
            providers: g.providers,
            log,
            contextSize: wasm.contextSize,
            maxSequences: wasm.maxSequences,
            threads: opts.onnxThreads,
          });
        } catch (err) {
          if (!(err instanceof NoProviderError)) throw err;
          // the plan's last fallback: these blocks run on the wasm kernels
          log(`routing: no ONNX provider could open ${g.entries.length} block${g.entries.length === 1 ? '' : 's'} (${describeEntries(g.entries)}) → wasm: ${err.message}`);
          for (const e of g.entries) {
            if (e.layer === null) route.head = -1;
            else route[e.op as 'attention' | 'ffn'][e.layer] = -1;
            setPlaced(placed, e, { backend: 'wasm' });
          }
          continue;
        }
        const prov = g.blocks.provider;
        const moved: RouteEntry[] = [];
        for (const e of g.entries) {
          const actual = e.layer === null ? prov.head! : prov[e.op as 'attention' | 'ffn'].get(e.layer)!;
          if (actual !== e.provider) moved.push(e);
          setPlaced(placed, e, { backend: 'onnx', provider: actual });
        }
        if (moved.length > 0) {
          log(`routing: ${describeEntries(moved)}: planned on onnx:${moved[0].provider}, the session opened on ${[...new Set(moved.map((e) => `onnx:${e.layer === null ? prov.head : prov[e.op as 'attention' | 'ffn'].get(e.layer!)}`))].join(', ')}`);
        }
      }
      return new RoutedModel(wasm, plan, groups, route, placed, opts.onOpTime);
    } catch (err) {
      await Promise.all(groups.map((g) => g.blocks?.close()));
      await wasm.close();
      throw err;
    }
  }

  placement(): Placement {
    return structuredClone(this.placed);
  }

  opTimes(): OpTime[] {
    return [...this.times.values()].map((t) => ({ ...t }));
  }

  resetOpTimes(): void {
    this.times.clear();
  }

  newState(maxSeq = this.contextSize): RoutedState {
    const wasm = this.wasm.newState(maxSeq);
    const onnx: Array<OnnxSequenceState | undefined> = [];
    try {
      for (const g of this.groups) onnx.push(g.blocks && g.blocks.layers.attention.length > 0 ? g.blocks.newSequence(maxSeq) : undefined);
    } catch (err) {
      onnx.forEach((s, i) => s && this.groups[i].blocks!.releaseSequence(s));
      this.wasm.releaseState(wasm);
      throw err;
    }
    return new RoutedState(wasm, onnx, maxSeq);
  }

  releaseState(state: RoutedState): void {
    this.wasm.releaseState(state.wasm);
    state.onnx.forEach((s, i) => s && this.groups[i].blocks?.releaseSequence(s));
  }

  forward(state: RoutedState, token: number, pos: number): Promise<Float32Array> {
    return this.prefill(state, [token], pos);
  }

  /** Runs tokens at positions pos0.. in chunks of maxBatch; returns the last token's logits (reused by the next call). */
  async prefill(state: RoutedState, tokens: readonly number[], pos0: number): Promise<Float32Array> {
    if (tokens.length === 0) throw new RangeError('prefill needs at least one token');
    if (pos0 + tokens.length > state.maxSeq) throw new RangeError(`positions up to ${pos0 + tokens.length - 1} do not fit the context of ${state.maxSeq}`);
    this.wasm.checkTokens(tokens);
    return this.exclusive(async () => {
      const chunk = this.maxBatch;
      let last = 0;
      for (let i = 0; i < tokens.length; i += chunk) {
        const part = tokens.slice(i, i + chunk);
        await this.step(part, [{ state, pos0: pos0 + i, n: part.length }]);
        last = part.length - 1;
      }
      return (await this.head(last, 1, false))[0];
    });
  }

  /**
   * One decode step for several sequences: wasm blocks run all rows at once; an ONNX attention
   * block runs once per sequence (its KV cache is the sequence's), an ONNX FFN once over all rows.
   */
  async decodeBatch(states: readonly RoutedState[], tokens: readonly number[], positions: readonly number[]): Promise<Float32Array[]> {
    const n = tokens.length;
    if (n === 0) return [];
    if (states.length !== n || positions.length !== n) throw new RangeError('decodeBatch needs one state and one position per token');
    if (n > this.maxBatch) throw new RangeError(`a batch holds at most ${this.maxBatch} sequences, got ${n}`);
    if (new Set(states).size !== n) throw new RangeError('a sequence appears twice in one batch');
    this.wasm.checkTokens(tokens);
    states.forEach((s, i) => {
      if (positions[i] >= s.maxSeq) throw new RangeError(`position ${positions[i]} does not fit the context of ${s.maxSeq}`);
    });
    return this.exclusive(async () => {
      await this.step(tokens, states.map((state, i) => ({ state, pos0: positions[i], n: 1 })));
      return this.head(0, n, true);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.groups.map((g) => g.blocks?.close()));
    await this.wasm.close();
  }

  // ---- the step ---------------------------------------------------------------------------------

  /** The activation rows live in one arena: steps must not interleave (the scheduler awaits each). */
  private async exclusive<T>(f: () => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('the routed model is closed');
    if (this.busy) throw new Error('the routed model runs one step at a time (await the previous one)');
    this.busy = true;
    try {
      return await f();
    } finally {
      this.busy = false;
    }
  }

  private tick(backend: BackendName, op: BackendOp, t0: number): void {
    const ms = performance.now() - t0;
    const key = `${backend}:${op}`;
    let t = this.times.get(key);
    if (!t) this.times.set(key, (t = { backend, op, ms: 0, calls: 0 }));
    t.ms += ms;
    t.calls++;
    this.onOpTime?.(backend, op, ms / 1000);
  }

  private async step(tokens: readonly number[], rows: readonly Row[]): Promise<void> {
    const n = tokens.length;
    const w = this.wasm;
    let t0 = performance.now();
    w.embed(tokens);
    this.tick('wasm', 'embed', t0);
    const segments: Segment[] = rows.map((r) => ({ state: r.state.wasm, pos0: r.pos0, n: r.n }));
    for (let l = 0; l < this.config.nLayers; l++) {
      const ga = this.route.attention[l];
      t0 = performance.now();
      if (ga < 0) {
        w.attentionBlock(l, segments, n);
        this.tick('wasm', 'attention', t0);
      } else {
        const blocks = this.groups[ga].blocks!;
        let row = 0;
        for (const r of rows) {
          const seq = r.state.onnx[ga]!;
          await this.onnxRows(row, r.n, (x) => blocks.attention(l, seq, x, r.n, r.pos0));
          row += r.n;
        }
        this.tick('onnx', 'attention', t0);
      }
      const gf = this.route.ffn[l];
      t0 = performance.now();
      if (gf < 0) {
        w.ffnBlock(l, n);
        this.tick('wasm', 'ffn', t0);
      } else {
        const blocks = this.groups[gf].blocks!;
        await this.onnxRows(0, n, (x) => blocks.ffn(l, x, n));
        this.tick('onnx', 'ffn', t0);
      }
    }
  }

  /** X rows row..row+n-1 → scratch → f → back into X. */
  private async onnxRows(row: number, n: number, f: (x: Float32Array) => Promise<Float32Array>): Promise<void> {
    const dim = this.config.dim;
    const all = this.wasm.xRows(row + n);
    const x = this.scratch.subarray(0, n * dim);
    x.set(all.subarray(row * dim, (row + n) * dim));
    const y = await f(x);
    // the arena view is taken again: the memory does not grow, but the view is cheap and safe
    this.wasm.xRows(row + n).set(y, row * dim);
  }

  /** Logits for X rows t..t+n-1; copies when `copy` (a batch), else the reused buffer. */
  private async head(t: number, n: number, copy: boolean): Promise<Float32Array[]> {
    const t0 = performance.now();
    if (this.route.head < 0) {
      this.wasm.headRows(t, n);
      const out = Array.from({ length: n }, (_, i) => (copy ? Float32Array.from(this.wasm.logitsRow(i)) : this.wasm.logitsRow(i)));
      this.tick('wasm', 'head', t0);
      return out;
    }
    const dim = this.config.dim;
    const v = this.config.vocabSize;
    const x = this.scratch.subarray(0, n * dim);
    x.set(this.wasm.xRows(t + n).subarray(t * dim));
    const logits = await this.groups[this.route.head].blocks!.head(x, n);
    for (let j = 0; j < logits.length; j++) {
      if (!Number.isFinite(logits[j])) throw new Error(`the ONNX head produced a non-finite logit (${logits[j]} for token ${j % v})`);
    }
    this.tick('onnx', 'head', t0);
    return Array.from({ length: n }, (_, i) => logits.subarray(i * v, (i + 1) * v));
  }
}

function providerSpec(plan: RoutingPlan, p: Provider): ProviderSpec {
  const { name, ...options } = sessionProvider(plan, p);
  return Object.keys(options).length > 0 ? { name, options } : { name };
}

function setPlaced(p: Placement, e: RouteEntry, b: BlockPlacement): void {
  if (e.layer === null) p.head = b;
  else p.layers[e.layer][e.op as 'attention' | 'ffn'] = b;
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
  const name = (b: BlockPlacement) => (b.backend === 'onnx' ? `onnx:${b.provider}` : 'wasm');
  const rows = [...p.layers.flatMap((l, i) => [[`layer ${i} attention`, name(l.attention)], [`layer ${i} ffn`, name(l.ffn)]]), ['head', name(p.head)]];
  const w = Math.max(...rows.map((r) => r[0].length));
  const lines = rows.map(([a, b]) => `${a.padEnd(w)}  ${b}`);
  if (times.length > 0) lines.push('', opTimeTable(times));
  return lines.join('\n');
}

/** backend × op: total ms, calls, µs per call. */
export function opTimeTable(times: readonly OpTime[]): string {
  const lines = [`${'backend'.padEnd(8)} ${'op'.padEnd(10)} ${'ms'.padStart(10)} ${'calls'.padStart(8)} ${'µs/call'.padStart(9)}`];
  const order: BackendOp[] = ['embed', 'attention', 'ffn', 'head', 'sample'];
  const sorted = [...times].sort((a, b) => a.backend.localeCompare(b.backend) || order.indexOf(a.op) - order.indexOf(b.op));
  for (const t of sorted) lines.push(`${t.backend.padEnd(8)} ${t.op.padEnd(10)} ${t.ms.toFixed(1).padStart(10)} ${String(t.calls).padStart(8)} ${((t.ms * 1000) / Math.max(1, t.calls)).toFixed(1).padStart(9)}`);
  return lines.join('\n');
}
