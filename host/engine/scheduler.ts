// Continuous batching: requests wait in a bounded queue that is fair between clients, join the
// running batch at a step boundary when a KV cache slot is free, and leave it when they finish or
// are cancelled. Each decode step runs every active sequence's next token in one batched forward
// pass (model.decodeBatch), so the weights are read once per step, not once per request.
import type { Tokenizer } from '../model/tokenizer/index.js';
import { contextSizeOf, runPrompt, type TokenModel } from './generate.js';
import { SequenceDecoder, checkPrompt, type FinishReason, type SequenceOptions } from './sequence.js';

export interface ScheduledJob {
  /** Request id, for logs and errors. */
  id: string;
  /** Fairness key: the client (or user) that sent it. */
  client: string;
  promptIds: readonly number[];
  options: SequenceOptions;
  /** A piece of text that became final (never empty). */
  onText(text: string): void;
  /** Called exactly once, unless onError is. */
  onDone(result: JobResult): void;
  /** Called exactly once instead of onDone when the job cannot finish. */
  onError(err: Error): void;
}

export interface JobResult {
  text: string;
  ids: number[];
  finishReason: FinishReason;
  usage: { promptTokens: number; completionTokens: number };
  timings: { queueMs: number; prefillMs: number; decodeMs: number; timeToFirstTokenMs: number; decodeTokensPerSecond: number };
}

export interface JobHandle {
  cancel(): void;
}

export class BusyError extends Error {
  readonly code = 'busy';
}

export interface SchedulerOptions {
  /** Jobs waiting in all; one more is refused with BusyError. */
  maxQueue?: number;
  /** Jobs one client may have waiting. */
  maxQueuePerClient?: number;
  /** Sequences decoding at once (default and cap: the model's KV cache slots). */
  maxActive?: number;
  /** Called after each decode step with its batch size and duration. */
  onStep?(batchSize: number, ms: number): void;
  /** Called after each prompt runs (a step of its own, the other sequences wait) with its tokens and duration. */
  onPrefill?(tokens: number, ms: number): void;
}

interface Entry {
  job: ScheduledJob;
  seq?: SequenceDecoder;
  state?: unknown;
  /** The token to run next and its position. */
  token?: number;
  pos?: number;
  cancelled: boolean;
  finished: boolean;
  tSubmit: number;
  tAdmit?: number;
  tPrefilled?: number;
  tFirst?: number;
  decodeSteps: number;
}

export class Scheduler<S = unknown> {
  private readonly queues = new Map<string, Entry[]>(); // client -> its waiting jobs, in order
  private readonly clientOrder: string[] = []; // round-robin order of clients with waiting jobs
  private readonly active: Entry[] = [];
  private queuedCount = 0;
  private running = false;
  private closed: Error | undefined;
  private readonly maxQueue: number;
  private readonly maxQueuePerClient: number;
  private readonly maxActive: number;
  private readonly contextSize: number;
  private idle: Array<() => void> = [];

  constructor(
    private readonly model: TokenModel<S>,
    private readonly tokenizer: Tokenizer,
    private readonly opts: SchedulerOptions = {},
  ) {
    this.maxQueue = opts.maxQueue ?? 64;
    this.maxQueuePerClient = opts.maxQueuePerClient ?? Math.max(1, Math.ceil(this.maxQueue / 4));
    const slots = model.maxSequences ?? 1;
    this.maxActive = Math.max(1, Math.min(opts.maxActive ?? slots, slots));
    this.contextSize = contextSizeOf(model as TokenModel<unknown>);
  }

  get queued(): number {
    return this.queuedCount;
  }

  get activeCount(): number {
    return this.active.length;
  }

  /** Queues a job, or throws (BusyError when full; PromptTooLongError / RangeError for a bad job). */
  submit(job: ScheduledJob): JobHandle {
    if (this.closed) throw this.closed;
    checkPrompt(job.promptIds, this.contextSize, job.options.maxTokens);
    if (this.queuedCount >= this.maxQueue) throw new BusyError(`the queue is full (${this.maxQueue} requests waiting); try again later`);
    const mine = this.queues.get(job.client) ?? [];
    if (mine.length >= this.maxQueuePerClient) throw new BusyError(`client '${job.client}' already has ${mine.length} requests waiting (limit ${this.maxQueuePerClient})`);
    const entry: Entry = { job, cancelled: false, finished: false, tSubmit: performance.now(), decodeSteps: 0 };
    if (mine.length === 0) {
      this.queues.set(job.client, mine);
      this.clientOrder.push(job.client);
    }
    mine.push(entry);
    this.queuedCount++;
    this.kick();
    return { cancel: () => this.cancelEntry(entry) };
  }

  /** Cancels every job of a client (it disconnected). */
  cancelClient(client: string): number {
    let n = 0;
    for (const e of [...(this.queues.get(client) ?? []), ...this.active.filter((a) => a.job.client === client)]) {
      if (!e.cancelled && !e.finished) {
        this.cancelEntry(e);
        n++;
      }
    }
    return n;
  }

  /** Fails every waiting and running job with `reason` and refuses new ones. */
  close(reason: Error): void {
    if (this.closed) return;
    this.closed = reason;
    for (const e of [...this.active, ...[...this.queues.values()].flat()]) this.fail(e, reason);
    this.active.length = 0;
    this.queues.clear();
    this.clientOrder.length = 0;
    this.queuedCount = 0;
  }

  /** Resolves when nothing is queued or running. */
  drained(): Promise<void> {
    if (!this.running && this.queuedCount === 0 && this.active.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private cancelEntry(e: Entry): void {
    if (e.finished) return;
    e.cancelled = true;
    // a queued job is answered right away; a running one at the next step boundary
    const q = this.queues.get(e.job.client);
    const at = q?.indexOf(e) ?? -1;
    if (at >= 0) {
      q!.splice(at, 1);
      this.queuedCount--;
      if (q!.length === 0) this.dropClient(e.job.client);
      this.finish(e, 'cancelled');
    }
  }

  private dropClient(client: string): void {
    this.queues.delete(client);
    const i = this.clientOrder.indexOf(client);
    if (i >= 0) this.clientOrder.splice(i, 1);
  }

  /** The next waiting job, one client at a time in turn. */
  private dequeue(): Entry | undefined {
    const client = this.clientOrder.shift();
    if (client === undefined) return undefined;
    const q = this.queues.get(client)!;
    const e = q.shift()!;
    this.queuedCount--;
    if (q.length === 0) this.queues.delete(client);
    else this.clientOrder.push(client);
    return e;
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    setImmediate(() => void this.loop());
  }

  private async loop(): Promise<void> {
    try {
      while (!this.closed && (this.queuedCount > 0 || this.active.length > 0)) {
        this.retireCancelled();
        while (this.active.length < this.maxActive && this.queuedCount > 0 && !this.closed) {
          const e = this.dequeue()!;
          await this.admit(e);
          await yieldToEvents(); // a long prompt's prefill is a step of its own: cancels and new requests land between
          this.retireCancelled();
        }
        await this.decodeStep();
        await yieldToEvents();
      }
    } finally {
      this.running = false;
      if (!this.closed && (this.queuedCount > 0 || this.active.length > 0)) this.kick();
      else for (const f of this.idle.splice(0)) f();
    }
  }

  private retireCancelled(): void {
    for (let i = this.active.length - 1; i >= 0; i--) {
      const e = this.active[i];
      if (e.cancelled) {
        this.active.splice(i, 1);
        this.finish(e, 'cancelled');
      }
    }
  }

  /** Takes a KV cache slot, runs the prompt, samples the first token. */
  private async admit(e: Entry): Promise<void> {
    e.tAdmit = performance.now();
    try {
      e.seq = new SequenceDecoder(this.tokenizer, e.job.promptIds, e.job.options, this.contextSize);
      e.state = this.model.newState(this.contextSize);
      const logits = await runPrompt(this.model, e.state as S, e.job.promptIds);
      e.tPrefilled = performance.now();
      this.opts.onPrefill?.(e.job.promptIds.length, e.tPrefilled - e.tAdmit);
      if (e.finished) return; // closed while the prompt ran (an asynchronous model)
      this.active.push(e);
      this.accept(e, logits);
    } catch (err) {
      this.fail(e, err as Error);
    }
  }

  /** One forward pass for every active sequence that has a token to run. */
  private async decodeStep(): Promise<void> {
    const batch = this.active.filter((e) => e.token !== undefined && !e.cancelled);
    if (batch.length === 0) return;
    const t0 = performance.now();
    const limit = this.model.decodeBatch ? Math.max(1, this.model.maxBatch ?? batch.length) : 1;
    for (let i = 0; i < batch.length; i += limit) {
      const part = batch.slice(i, i + limit);
      try {
        const logits = this.model.decodeBatch
          ? await this.model.decodeBatch(part.map((e) => e.state as S), part.map((e) => e.token!), part.map((e) => e.pos!))
          : [await this.model.forward(part[0].state as S, part[0].token!, part[0].pos!)];
        part.forEach((e, r) => {
          if (e.finished) return; // closed while the step ran
          e.decodeSteps++;
          this.accept(e, logits[r]);
        });
      } catch (err) {
        for (const e of part) this.fail(e, err as Error);
      }
    }
    this.opts.onStep?.(batch.length, performance.now() - t0);
  }

  private accept(e: Entry, logits: Float32Array): void {
    const step = e.seq!.next(logits);
    if (e.tFirst === undefined) e.tFirst = performance.now();
    if (step.text) this.emit(e, step.text);
    if (step.finish) {
      this.remove(e);
      this.finish(e, step.finish);
      return;
    }
    e.token = step.token;
    e.pos = step.pos;
  }

  private emit(e: Entry, text: string): void {
    try {
      e.job.onText(text);
    } catch {
      // a consumer's failure must not stop the batch; the job still gets its final message
    }
  }

  private remove(e: Entry): void {
    const i = this.active.indexOf(e);
    if (i >= 0) this.active.splice(i, 1);
  }

  private release(e: Entry): void {
    if (e.state !== undefined) {
      this.model.releaseState?.(e.state as S);
      e.state = undefined;
    }
  }

  private finish(e: Entry, reason: FinishReason): void {
    if (e.finished) return;
    e.finished = true;
    const rest = reason === 'cancelled' && e.seq && !e.seq.done ? e.seq.cancel() : '';
    if (rest) this.emit(e, rest);
    this.release(e);
    const now = performance.now();
    const tAdmit = e.tAdmit ?? now;
    const tPrefilled = e.tPrefilled ?? tAdmit;
    const decodeMs = now - tPrefilled;
    const seq = e.seq;
    const result: JobResult = {
      text: seq?.text ?? '',
      ids: seq?.ids ?? [],
      finishReason: reason,
      usage: { promptTokens: e.job.promptIds.length, completionTokens: seq?.ids.length ?? 0 },
      timings: {
        queueMs: tAdmit - e.tSubmit,
        prefillMs: tPrefilled - tAdmit,
        decodeMs,
        timeToFirstTokenMs: (e.tFirst ?? now) - e.tSubmit,
        decodeTokensPerSecond: decodeMs > 0 && e.decodeSteps > 0 ? (e.decodeSteps * 1000) / decodeMs : 0,
      },
    };
    try {
      e.job.onDone(result);
    } catch {
      // see emit
    }
  }

  private fail(e: Entry, err: Error): void {
    if (e.finished) return;
    e.finished = true;
    this.remove(e);
    this.release(e);
    try {
      e.job.onError(err);
    } catch {
      // see emit
    }
  }
}

function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
