// Where the blocks of a forward pass run and how long they took: the types every engine and
// backend shares (host/engine/routed.ts builds them, host/backends/* report them).
import type { BackendOp } from '../obs/metrics.js';

export type BackendName = 'wasm' | 'onnx';

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

/** Time spent per backend and op group since load (or the last resetOpTimes). */
export interface OpTime {
  backend: BackendName;
  op: BackendOp;
  ms: number;
  calls: number;
}

/** An engine that can say where its blocks run and how long they took. */
export interface InspectableModel {
  placement(): Placement;
  opTimes(): OpTime[];
  resetOpTimes(): void;
}

