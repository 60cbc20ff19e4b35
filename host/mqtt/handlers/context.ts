// What the topic handlers share with the service: the served model, the scheduler, the request book,
// the replier and the limits. The service (service.ts) builds one and owns the lifecycle.
import type { Logger } from 'pino';
import type { Scheduler } from '../../engine/scheduler.js';
import type { KernelManager } from '../../kernels/manager.js';
import type { TokenModel } from '../../engine/generate.js';
import type { Tokenizer } from '../../model/tokenizer/index.js';
import type { ServiceMetrics } from '../../obs/metrics.js';
import type { RateLimiter } from '../limits.js';
import type { Replier } from '../replies.js';
import type { RequestBook } from '../requests.js';

export interface ServedModel {
  /** What the status and errors call it (the file name without .gguf). */
  name: string;
  /** Other names a request's `model` may use (general.name). */
  aliases?: string[];
  path: string;
  sha256: string;
  tokenizer: Tokenizer;
  model: TokenModel<unknown>;
  /** e.g. "wasm (2 threads, f32 KV)" */
  engine: string;
  /** The engine's threads: kernel threads (wasm, routed), ORT intra-op threads (onnx); 0: none (reference). */
  threads?: number;
  contextSize: number;
}

export interface HandlerContext {
  readonly device: string;
  readonly log: Logger;
  readonly metrics?: ServiceMetrics;
  readonly served: ServedModel;
  readonly scheduler: Scheduler<unknown>;
  readonly requests: RequestBook;
  readonly replies: Replier;
  /** Client ids, users and roles on messages come from the broker (embedded) and cannot be spoofed. */
  readonly knowsClients: boolean;
  /** Bytes; a bigger request gets payload_too_large without being parsed. */
  readonly maxPayload: number;
  /** A request streams at most one chunk per this many ms (0: one per piece of text; chunk-stream.ts). */
  readonly chunkIntervalMs: number;
  /** Requests per client, when the service limits them itself (external broker). */
  readonly limiter?: RateLimiter;
  /** The service is stopping: no new work. */
  readonly stopped: boolean;
  /** The kernel commands (control/kernels); none without wasm kernels (the reference and onnx engines). */
  readonly kernels?: KernelManager;
  /** A request was queued or ended (the status and the stall clock follow the load). */
  loadChanged(event: 'queued' | 'ended'): void;
}
