// The forward pass of every optimized engine: the one walk over a model's blocks (embedding, each
// layer's attention and FFN, the head), each block on the backend its placement names: all on the
// wasm kernels, all on ONNX Runtime, or any mix. Steps are async (ONNX Runtime's session.run is);
// a backend whose block completes synchronously (wasm) is not awaited, so an all-wasm step stays
// one synchronous run of kernel dispatches.
//
// Opening: the placement gives every block a list of targets (backend + variant, then fallbacks).
// Each backend named is created from the registry (a backend owning its weight memory first, so
// the GGUF data is read straight into it), gets its blocks, and may refuse some, which move to
// their next target. Then every backend prepares, and the walk is fixed: consecutive blocks that a
// backend runs as one unit (an ONNX session over several blocks) are one call per sequence.
import type { ModelFile } from '../model/model-file.js';
import type { LlamaConfig } from '../model/llama/config.js';
import {
  blockName,
  type Backend,
  type BackendContext,
  type BackendFactory,
  type BackendName,
  type BackendRegistry,
  type Block,
  type EngineOp,
  type FusedRun,
  type InspectableModel,
  type OpTime,
  type PlacedBlock,
  type Placement,
  type Segment,
} from './backend.js';
import type { TokenModel } from './generate.js';

export interface ForwardOptions {
  /** Positions per sequence (default: the model's context, at most 4096). */
  contextSize?: number;
  /** Sequences that can hold a KV cache at once (default 1). */
  maxSequences?: number;
  /** Activation rows per step: prompt tokens per prefill chunk, sequences per decode batch (default: the smallest of the backends' own). */
  maxRows?: number;
  /** The most rows one step may carry (a device profile's batch.maxBatchTokens): caps maxRows, so a long prompt joining a batch stalls the other streams for at most one such step. */
  maxBatchTokens?: number;
  /** Options of each backend, by name (host/backends/<name>/ says what they are). */
  backends?: Readonly<Record<BackendName, unknown>>;
  /** Load-time notes: fallbacks, each once. */
  log?: (msg: string) => void;
  /** Time every block (opTimes, onOpTime; default off: an untimed step has no clocks). */
  timeOps?: boolean;
  /** Called after every timed block with its time (ServiceMetrics.backendTime fits); runs of fused blocks are not reported here. */
  onOpTime?: (backend: BackendName, op: Exclude<EngineOp, 'fused'>, seconds: number) => void;
}

/** One sequence: each backend's own state for it (its KV caches). */
export class EngineSequence {
  constructor(
    readonly maxSeq: number,
    readonly parts: ReadonlyMap<Backend, unknown>,
  ) {}
}

/** One stop of the walk: a block on its backend, or a run of blocks a backend runs in one call. */
type Stop = { block: Block; backend: Backend; run?: undefined } | { block: Block; backend: Backend; run: FusedRun };

export class ForwardPass implements TokenModel<EngineSequence>, InspectableModel {
  readonly config: LlamaConfig;
  private readonly times = new Map<string, OpTime>();
  private readonly timed: boolean;
  /** The step's activation rows (maxRows × dim): a backend's own memory when one offers it. */
  private readonly x: Float32Array;
  private readonly logits: Float32Array;
  private busy = false;
  private closed = false;

  private constructor(
    readonly model: ModelFile,
    readonly contextSize: number,
    readonly maxSequences: number,
    /** Activation rows per step: the prefill chunk and the most sequences one decodeBatch takes. */
    readonly maxBatch: number,
    private readonly backends: Backend[],
    private readonly stops: Stop[],
    private readonly embedder: Backend,
    private readonly opts: ForwardOptions,
  ) {
    this.config = model.config;
    this.x = backends.find((b) => b.rows)?.rows?.() ?? new Float32Array(maxBatch * this.config.dim);
    this.logits = new Float32Array(this.config.vocabSize);
    this.timed = opts.timeOps ?? false;
  }

  /**
   * Opens every backend the placement names (from the registry) for its blocks, moving blocks a
   * backend refuses to their next target. `blocks` are the model's blocks in walk order.
   */
  static async open(model: ModelFile, blocks: readonly PlacedBlock[], registry: BackendRegistry, opts: ForwardOptions = {}): Promise<ForwardPass> {
    const c = model.config;
    const log = opts.log ?? (() => {});
    if (blocks.length !== 2 * c.nLayers + 1) throw new Error(`the placement has ${blocks.length} blocks; ${model.path} has ${2 * c.nLayers + 1} (${c.nLayers} layers and the head)`);
    const contextSize = Math.min(opts.contextSize ?? Math.min(c.contextLength, 4096), c.contextLength);
    if (!Number.isInteger(contextSize) || contextSize < 1) throw new RangeError(`contextSize must be a positive integer, got ${contextSize}`);
    const maxSequences = Math.max(1, opts.maxSequences ?? 1);

    const factories = new Map<BackendName, BackendFactory<unknown>>();
    const factory = async (name: BackendName) => {
      let f = factories.get(name);
      if (!f) {
        const load = registry[name];
        if (!load) throw new Error(`no backend '${name}'; this build has ${Object.keys(registry).join(', ')}`);
        factories.set(name, (f = (await load()) as BackendFactory<unknown>));
      }
      return f;
    };
    for (const b of blocks) await factory(b.targets[0].backend);
    const maxRows = Math.max(1, Math.min(opts.maxRows ?? Math.min(...[...factories.values()].map((f) => f.maxRows)), opts.maxBatchTokens ?? Number.POSITIVE_INFINITY));
    const ctx: BackendContext = { model, contextSize, maxSequences, maxRows, log };

    const opened = new Map<BackendName, Backend>();
    const owner = new Map<number, Backend>(); // block index -> the backend running it
    const wanted = new Map<number, PlacedBlock['targets'][number]>(); // block index -> the target it was opened for
    const close = () => Promise.all([...opened.values()].map((b) => b.close()));
    try {
      let pending = blocks.map((b) => ({ block: b, at: 0 }));
      while (pending.length > 0) {
        // weight-owning backends first, then in order of first appearance
        const names = [...new Set(pending.map((p) => p.block.targets[p.at].backend))];
        for (const n of names) await factory(n);
        names.sort((a, b) => Number(factories.get(b)!.ownsWeights ?? false) - Number(factories.get(a)!.ownsWeights ?? false));
        const next: typeof pending = [];
        for (const name of names) {
          const mine = pending.filter((p) => p.block.targets[p.at].backend === name);
          let backend = opened.get(name);
          if (!backend) opened.set(name, (backend = await factories.get(name)!.create(ctx, opts.backends?.[name])));
          const refused = await backend.add(mine.map((p) => ({ ...p.block, targets: p.block.targets.slice(p.at) })));
          const no = new Map(refused.map((r) => [r.block.index, r.error]));
          const moved = new Map<string, Block[]>();
          for (const p of mine) {
            const error = no.get(p.block.index);
            if (!error) {
              owner.set(p.block.index, backend);
              wanted.set(p.block.index, p.block.targets[p.at]);
              continue;
            }
            if (p.at + 1 >= p.block.targets.length) throw error;
            next.push({ block: p.block, at: p.at + 1 });
            const to = describeTarget(p.block.targets[p.at + 1]);
            moved.set(to, [...(moved.get(to) ?? []), p.block]);
          }
          for (const [to, bs] of moved) {
            log(`routing: ${name} could not open ${bs.length} block${bs.length === 1 ? '' : 's'} (${bs.map(blockName).join(', ')}) → ${to}: ${no.get(bs[0].index)!.message}`);
          }
        }
        pending = next;
      }
      // a backend with variants (ONNX providers) may have opened a block on a later one of its list
      const drift = new Map<string, Block[]>();
      for (const b of blocks) {
        const want = wanted.get(b.index)!;
        const got = owner.get(b.index)!.placementOf(b).provider;
        if (want.variant && got && got !== want.variant.name) {
          const how = `planned on ${describeTarget(want)}, opened on ${want.backend}:${got}`;
          drift.set(how, [...(drift.get(how) ?? []), b]);
        }
      }
      for (const [how, bs] of drift) log(`routing: ${bs.map(blockName).join(', ')}: ${how}`);
      const used = [...opened.values()].filter((b) => blocks.some((x) => owner.get(x.index) === b));
      for (const b of used) await b.prepare?.(blocks.filter((x) => owner.get(x.index) === b));
      for (const b of opened.values()) if (!used.includes(b)) await b.close();

      // the walk: a block on its backend, or a run of blocks in one call
      const stops: Stop[] = [];
      for (let i = 0; i < blocks.length; ) {
        const backend = owner.get(i)!;
        const run = backend.runOf?.(blocks[i]);
        stops.push(run && run.blocks.length > 1 ? { block: blocks[i], backend, run } : { block: blocks[i], backend });
        i += run && run.blocks.length > 1 ? run.blocks.length : 1;
      }
      // the embedding runs where the activation rows live, else on the first block's backend
      const embedder = used.find((b) => b.rows) ?? owner.get(0)!;
      return new ForwardPass(model, contextSize, maxSequences, maxRows, used, stops, embedder, opts);
    } catch (err) {
      await close();
      throw err;
    }
  }

  /** Where each block runs, as opened. */
  placement(): Placement {
    const at = (s: Block) => this.stopOf(s.index).backend.placementOf(s);
    const layers = Array.from({ length: this.config.nLayers }, (_, l) => ({
      attention: at({ index: 2 * l, op: 'attention', layer: l }),
      ffn: at({ index: 2 * l + 1, op: 'ffn', layer: l }),
    }));
    return { layers, head: at({ index: 2 * this.config.nLayers, op: 'head', layer: null }) };
  }

  opTimes(): OpTime[] {
    return [...this.times.values()].map((t) => ({ ...t }));
  }

  resetOpTimes(): void {
    this.times.clear();
  }

  /** The backend of that name, if this engine uses it (for inspection: the wasm kernel counts, its pool). */
  backend(name: BackendName): Backend | undefined {
    return this.backends.find((b) => b.name === name);
  }

  newState(maxSeq = this.contextSize): EngineSequence {
    if (!Number.isInteger(maxSeq) || maxSeq < 1 || maxSeq > this.contextSize) {
      throw new RangeError(`context ${maxSeq} is outside what this model was loaded for (1..${this.contextSize})`);
    }
    const parts = new Map<Backend, unknown>();
    try {
      for (const b of this.backends) parts.set(b, b.newSequence(maxSeq));
    } catch (err) {
      for (const [b, s] of parts) b.releaseSequence(s);
      throw err;
    }
    return new EngineSequence(maxSeq, parts);
  }

  releaseState(state: EngineSequence): void {
    for (const [b, s] of state.parts) b.releaseSequence(s);
  }

  forward(state: EngineSequence, token: number, pos: number): Promise<Float32Array> {
    return this.prefill(state, [token], pos);
  }

  /** Runs tokens at positions pos0.. in chunks of maxBatch rows; returns the last token's logits (a buffer the next call reuses). */
  async prefill(state: EngineSequence, tokens: readonly number[], pos0: number): Promise<Float32Array> {
    if (tokens.length === 0) throw new RangeError('prefill needs at least one token');
    if (!Number.isInteger(pos0) || pos0 < 0) throw new RangeError(`position ${pos0} is not a position`);
    if (pos0 + tokens.length > state.maxSeq) throw new RangeError(`positions up to ${pos0 + tokens.length - 1} do not fit the context of ${state.maxSeq}`);
    this.checkTokens(tokens);
    this.enter();
    try {
      let logits: Float32Array[] = [];
      for (let i = 0; i < tokens.length; i += this.maxBatch) {
        const part = tokens.length <= this.maxBatch ? tokens : tokens.slice(i, i + this.maxBatch);
        logits = await this.step(part, [{ state, row: 0, pos0: pos0 + i, n: part.length }], i + this.maxBatch >= tokens.length);
      }
      return this.checked(logits[0], this.logits);
    } finally {
      this.busy = false;
    }
  }

  /**
   * One decode step for several sequences: token i goes to states[i] at positions[i]. Blocks run
   * all rows at once where they can (each weight read once per step); attention runs per sequence.
   * Returns each sequence's logits (copies).
   */
  async decodeBatch(states: readonly EngineSequence[], tokens: readonly number[], positions: readonly number[]): Promise<Float32Array[]> {
    const n = tokens.length;
    if (n === 0) return [];
    if (states.length !== n || positions.length !== n) throw new RangeError('decodeBatch needs one state and one position per token');
    if (n > this.maxBatch) throw new RangeError(`a batch holds at most ${this.maxBatch} sequences, got ${n}`);
    if (new Set(states).size !== n) throw new RangeError('a sequence appears twice in one batch');
    this.checkTokens(tokens);
    states.forEach((s, i) => {
      if (!Number.isInteger(positions[i]) || positions[i] < 0 || positions[i] >= s.maxSeq) throw new RangeError(`position ${positions[i]} does not fit the context of ${s.maxSeq}`);
    });
    this.enter();
    try {
      const logits = await this.step(tokens, states.map((state, i) => ({ state, row: i, pos0: positions[i], n: 1 })), true);
      return logits.map((l) => this.checked(l, new Float32Array(l.length)));
    } finally {
      this.busy = false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.backends.map((b) => b.close()));
  }

  // ---- the step -------------------------------------------------------------------------------

  private checkTokens(tokens: readonly number[]): void {
    const v = this.config.vocabSize;
    for (const t of tokens) if (!Number.isInteger(t) || t < 0 || t >= v) throw new RangeError(`token id ${t} outside the vocabulary (0..${v - 1})`);
  }

  /** The activation rows are shared: steps must not interleave (the scheduler and generate await each). The caller clears busy. */
  private enter(): void {
    if (this.closed) throw new Error('the model is closed');
    if (this.busy) throw new Error('the model runs one step at a time (await the previous one)');
    this.busy = true;
  }

  /**
   * Embeds the rows and walks the blocks; `segments` say which rows belong to which sequence. The
   * head runs (when `head`) on the last row of each segment: one row for a prefill chunk, every row
   * of a decode batch. Returns those rows' logits.
   */
  private async step(tokens: readonly number[], segments: readonly Segment<EngineSequence>[], head: boolean): Promise<Float32Array[]> {
    const n = tokens.length;
    const x = this.x;
    // each backend's view of the segments: its own state of each sequence
    const perBackend: Array<Segment[] | undefined> = [];
    const segs = (b: Backend) => (perBackend[this.backends.indexOf(b)] ??= segments.map((g) => ({ state: g.state.parts.get(b), row: g.row, pos0: g.pos0, n: g.n })));
    let logits: Float32Array[] = [];
    let t0 = this.timed ? performance.now() : 0;
    const e = this.embedder.embed(tokens, x);
    if (e) await e;
    if (this.timed) t0 = this.tick(this.embedder.name, 'embed', t0);

    for (const s of this.stops) {
      const b = s.backend;
      if (s.run) {
        const out: Float32Array[] = [];
        for (const g of segs(b)) {
          const y = await s.run.run(g, x);
          if (y) out.push(y);
        }
        if (out.length > 0) logits = out;
        if (this.timed) t0 = this.tick(b.name, 'fused', t0);
        continue;
      }
      const { op, layer } = s.block;
      let r: void | Promise<void> | Float32Array[] | Promise<Float32Array[]>;
      if (op === 'attention') r = b.attention(layer!, segs(b), x, n);
      else if (op === 'ffn') r = b.ffn(layer!, x, n);
      else if (!head) continue;
      else r = b.head(x, segments.length === 1 ? n - 1 : 0, segments.length);
      const v = r instanceof Promise ? await r : r;
      if (v) logits = v;
      if (this.timed) t0 = this.tick(b.name, op, t0);
    }
    return logits;
  }

  private stopOf(index: number): Stop {
    let found = this.stops[0];
    for (const s of this.stops) if (s.block.index <= index) found = s;
    return found;
  }

  /** Copies logits into `out`, refusing a non-finite one (a kernel or graph gone wrong must fail the request, not pick a token). */
  private checked(logits: Float32Array, out: Float32Array): Float32Array {
    for (let j = 0; j < logits.length; j++) {
      if (!Number.isFinite(logits[j])) throw new Error(`the ${this.stopOf(2 * this.config.nLayers).backend.name} head produced a non-finite logit (${logits[j]} for token ${j})`);
    }
    out.set(logits);
    return out;
  }

  private tick(backend: BackendName, op: EngineOp, t0: number): number {
    const now = performance.now();
    const ms = now - t0;
    const key = `${backend}:${op}`;
    let t = this.times.get(key);
    if (!t) this.times.set(key, (t = { backend, op, ms: 0, calls: 0 }));
    t.ms += ms;
    t.calls++;
    if (op !== 'fused') this.opts.onOpTime?.(backend, op, ms / 1000);
    return now;
  }
}

/** "wasm", "onnx:cpu" */
export function describeTarget(t: { backend: string; variant?: { name: string } } | undefined): string {
  if (!t) return 'nothing';
  return t.variant ? `${t.backend}:${t.variant.name}` : t.backend;
}
