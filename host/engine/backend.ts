// The Backend interface: what one backend does for a block of the forward pass (the embedding, a
// layer's attention over some sequences, a layer's FFN, the head), on activation rows that every
// backend of an engine reads and updates in place. host/engine/forward.ts walks the blocks once
// for every engine; host/backends/<name>/ implements this; host/backends/registry.ts lists them.
//
// A backend's lifecycle: its factory creates it (ctx: the model file, sizes, its own options); the
// engine adds the blocks placed on it (it may refuse some: no provider could run them, and they go
// to their next target); prepare() runs once every backend has its blocks (a backend that rewrites
// weights in place, the wasm repacking, does it there, after the others have read them); then
// steps; close().
import type { ModelFile } from '../model/model-file.js';
import type { BackendOp } from '../obs/metrics.js';

/** A backend's name in the registry ('wasm', 'onnx'). */
export type BackendName = string;

export type BlockOp = 'attention' | 'ffn' | 'head';

/** One block of the forward pass: a layer's attention or FFN half, or the head (layer null). */
export interface Block {
  /** Position in the walk: layer l's attention is 2l, its FFN 2l + 1, the head 2·nLayers. */
  index: number;
  op: BlockOp;
  layer: number | null;
}

/** Where a block can run: a backend and, for backends with several, the variant (an ONNX Runtime execution provider and its options). */
export interface Target {
  backend: BackendName;
  variant?: { name: string; options?: Record<string, unknown> };
}

/** A block with where it runs first and where it goes when that backend cannot run it. */
export interface PlacedBlock extends Block {
  targets: Target[];
}

/** A block a backend could not take, and why (the error is rethrown when no target is left). */
export interface Refusal {
  block: PlacedBlock;
  error: Error;
}

/** Where one block runs, as loaded (after every fallback). */
export interface BlockPlacement {
  backend: BackendName;
  /** The ONNX Runtime execution provider the block's session opened on. */
  provider?: string;
}

export interface Placement {
  layers: Array<{ attention: BlockPlacement; ffn: BlockPlacement }>;
  head: BlockPlacement;
}

/** The groups time is booked under: the blocks' ops, or 'fused' for a run of blocks in one call (one ONNX session). */
export type EngineOp = BackendOp | 'fused';

/** Time spent per backend and op group since load (or the last resetOpTimes). */
export interface OpTime {
  backend: BackendName;
  op: EngineOp;
  ms: number;
  calls: number;
}

/** An engine that can say where its blocks run and how long they took. */
export interface InspectableModel {
  placement(): Placement;
  opTimes(): OpTime[];
  resetOpTimes(): void;
}

/** Rows row..row+n-1 of one step's activations belong to one sequence, at positions pos0..pos0+n-1. */
export interface Segment<S = unknown> {
  state: S;
  row: number;
  pos0: number;
  n: number;
}

export type MaybePromise<T> = T | Promise<T>;

/** Consecutive blocks a backend runs in one call per sequence (all-ONNX: every layer and the head in one session). */
export interface FusedRun<S = unknown> {
  blocks: readonly Block[];
  /** Runs the blocks on the segment's rows of x, in place; with the head, returns the logits of its last row. */
  run(segment: Segment<S>, x: Float32Array): Promise<Float32Array | undefined>;
}

/**
 * One backend. x is the step's activation rows (maxRows × dim f32, row-major; n of them in use):
 * every block reads its rows and writes its result back in place. S is the backend's per-sequence
 * state (its KV caches).
 */
export interface Backend<S = unknown> {
  readonly name: BackendName;
  /** Takes blocks placed on it; returns those it cannot run (the engine moves them to their next target). */
  add(blocks: readonly PlacedBlock[]): Promise<Refusal[]>;
  /** Once every backend has its blocks: `blocks` are all it runs. */
  prepare?(blocks: readonly Block[]): MaybePromise<void>;
  placementOf(block: Block): BlockPlacement;
  /** Activation rows in memory of its own (the wasm arena): when a backend offers them, the engine's steps use them. */
  rows?(): Float32Array;
  /** The run a block belongs to, when this backend runs it with others in one call. */
  runOf?(block: Block): FusedRun<S> | undefined;
  newSequence(maxSeq: number): S;
  releaseSequence(state: S): void;
  /** The embedding rows of the tokens into x rows 0..n-1. */
  embed(tokens: readonly number[], x: Float32Array): MaybePromise<void>;
  /** Layer l's attention half on x rows 0..n-1 (x + attention), each segment over its own KV cache. */
  attention(layer: number, segments: readonly Segment<S>[], x: Float32Array, n: number): MaybePromise<void>;
  /** Layer l's feed-forward half on x rows 0..n-1 (x + FFN). */
  ffn(layer: number, x: Float32Array, n: number): MaybePromise<void>;
  /** The final norm and the output matrix on x rows row..row+n-1: n logits rows, valid until the next call. */
  head(x: Float32Array, row: number, n: number): MaybePromise<Float32Array[]>;
  close(): Promise<void>;
}

/** What every backend gets at creation. */
export interface BackendContext {
  model: ModelFile;
  /** Positions one sequence can hold. */
  contextSize: number;
  /** Sequences that can hold KV caches at once. */
  maxSequences: number;
  /** Activation rows of one step (prefill chunk, decode batch). */
  maxRows: number;
  log: (msg: string) => void;
}

export interface BackendFactory<O = unknown> {
  readonly name: BackendName;
  /** Its weights live in memory it owns (the wasm arena): created first, so the data section is read straight into it. */
  readonly ownsWeights?: boolean;
  /** The activation rows per step it is planned for when nothing else says (the engine takes the smallest). */
  readonly maxRows: number;
  create(ctx: BackendContext, options: O): Promise<Backend>;
}

/** The backends an engine may use, by name: data (host/backends/registry.ts), loaded on first use. */
export type BackendRegistry = Readonly<Record<BackendName, () => Promise<BackendFactory<never>>>>;

/** The blocks of a model in walk order. */
export function walkBlocks(nLayers: number): Block[] {
  const blocks: Block[] = [];
  for (let l = 0; l < nLayers; l++) blocks.push({ index: 2 * l, op: 'attention', layer: l }, { index: 2 * l + 1, op: 'ffn', layer: l });
  blocks.push({ index: 2 * nLayers, op: 'head', layer: null });
  return blocks;
}

/** "layer 3 attention", "the head" */
export function blockName(b: Block): string {
  return b.op === 'head' ? 'the head' : `layer ${b.layer} ${b.op === 'ffn' ? 'FFN' : 'attention'}`;
}
