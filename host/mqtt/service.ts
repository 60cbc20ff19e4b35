// The MQTT inference service: reads requests off the broker, validates them, queues them on the
// scheduler and streams the replies back. One misbehaving client gets error replies; the others
// keep being served (nothing here throws past a message handler).
import { basename } from 'node:path';
import type { Logger } from 'pino';
import { PromptTooLongError } from '../engine/sequence.js';
import { BusyError, Scheduler, type JobHandle, type JobResult, type SchedulerOptions } from '../engine/scheduler.js';
import type { AsyncTokenModel } from '../engine/generate.js';
import { encodeChat, hasChatTemplate } from '../model/chat-prompt.js';
import type { Tokenizer } from '../model/tokenizer/index.js';
import type { ServiceMetrics, RequestOutcome } from '../obs/metrics.js';
import { requestLogger } from '../obs/log.js';
import {
  ProtocolError,
  errorReply,
  finalReply,
  isRequestId,
  parseCancel,
  parseInferRequest,
  sequenceOptions,
  topics,
  type ErrorCode,
  type InferRequest,
} from './protocol.js';
import { RateLimiter, type RateLimit } from './limits.js';
import type { LimitReason } from './broker.js';
import type { Backlog } from './outbox.js';
import type { InboundMessage, Transport } from './transport.js';

export interface ServedModel {
  /** What the status and errors call it (the file name without .gguf). */
  name: string;
  /** Other names a request's `model` may use (general.name). */
  aliases?: string[];
  path: string;
  sha256: string;
  tokenizer: Tokenizer;
  model: AsyncTokenModel<unknown>;
  /** e.g. "wasm (2 threads, f32 KV)" */
  engine: string;
  /** The engine's threads: kernel threads (wasm, routed), ORT intra-op threads (onnx); 0: none (reference). */
  threads?: number;
  contextSize: number;
}

export interface ServiceOptions extends SchedulerOptions {
  device: string;
  served: ServedModel;
  transport: Transport;
  log: Logger;
  metrics?: ServiceMetrics;
  /** Join `$share/<group>/wisp/fleet/infer` (needs a broker with shared subscriptions). */
  fleetGroup?: string;
  /** Bytes; a bigger request gets payload_too_large without being parsed. Default 256 KiB. */
  maxPayloadBytes?: number;
  /**
   * Requests a client may send; the excess gets rate_limited. Unset: no limit here (the embedded
   * broker limits before the service sees a message).
   */
  rate?: RateLimit;
  /** May a reply for `user` (undefined: no broker users) go to `topic`? (the ACL's reply rule) */
  mayReplyTo?: (user: string | undefined, topic: string) => boolean;
  /** Kernel module hashes for the status message (family -> sha256). */
  kernels?: Record<string, string>;
  profile?: string | null;
  version?: string;
}

/** Errors of this kind end a request with this code. */
function codeOf(err: unknown): ErrorCode {
  if (err instanceof ProtocolError) return err.code;
  if (err instanceof BusyError) return 'busy';
  if (err instanceof PromptTooLongError) return 'prompt_too_long';
  if ((err as { code?: string })?.code === 'shutdown') return 'shutdown';
  if (err instanceof RangeError) return 'invalid_request';
  return 'model_error';
}

class ShutdownError extends Error {
  readonly code = 'shutdown';
}

interface Running {
  id: string;
  client: string;
  handle?: JobHandle;
  reply: ReplyTarget;
  log: Logger;
}

interface ReplyTarget {
  topic: string;
  correlationData?: Buffer;
}

const RECENT_IDS = 4096;

/** The largest request accepted unless --max-payload says otherwise. */
export const DEFAULT_MAX_REQUEST_BYTES = 256 * 1024;

export class InferenceService {
  private readonly device: string;
  private readonly scheduler: Scheduler<unknown>;
  private readonly running = new Map<string, Running>(); // client \0 id -> request
  private readonly recent = new Set<string>(); // finished client \0 id, oldest first
  private readonly limiter?: RateLimiter;
  private readonly maxPayload: number;
  private readonly pending = new Map<Promise<void>, number>(); // reply being published -> when it started
  /** When a request last moved: a decode step, a token, a final message. */
  private lastProgressAt = performance.now();
  private statusTimer?: NodeJS.Timeout;
  private statusDirty = false;
  private lastStatusAt = 0;
  private stopped = false;
  private started = false;

  constructor(private readonly opts: ServiceOptions) {
    this.device = opts.device;
    this.maxPayload = opts.maxPayloadBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    if (opts.rate) this.limiter = new RateLimiter(opts.rate);
    this.scheduler = new Scheduler(opts.served.model, opts.served.tokenizer, {
      ...opts,
      onStep: (n, ms) => {
        this.lastProgressAt = performance.now();
        opts.metrics?.batchSize(n);
        opts.onStep?.(n, ms);
      },
    });
  }

  /** Topics this service listens on. */
  get subscriptions(): string[] {
    const t = [topics.infer(this.device), topics.cancel(this.device)];
    if (this.opts.fleetGroup) t.push(topics.fleetInfer(this.opts.fleetGroup));
    return t;
  }

  async start(): Promise<void> {
    await this.opts.transport.start(
      {
        message: (m) => this.onMessage(m),
        clientGone: (clientId) => this.onClientGone(clientId),
        clientBehind: (clientId, backlog) => this.onClientBehind(clientId, backlog),
        dropped: (m, reason) => this.onDropped(m, reason),
      },
      this.subscriptions,
    );
    this.started = true;
    await this.publishStatus(true);
    this.statusTimer = setInterval(() => {
      if (this.statusDirty || performance.now() - this.lastStatusAt > 30_000) void this.publishStatus(true);
    }, 1000);
    this.statusTimer.unref();
    this.opts.metrics?.info({ device: this.device, model: this.opts.served.name, sha256: this.opts.served.sha256, engine: this.opts.served.engine, threads: this.opts.served.threads ?? 0 });
    this.opts.log.info({ subscriptions: this.subscriptions, transport: this.opts.transport.description }, 'serving');
  }

  /** Ends every request with a `shutdown` error, marks the device offline, leaves the broker. */
  async stop(reason = 'the service is stopping'): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.scheduler.close(new ShutdownError(reason));
    // the last replies and the offline status, unless the broker is gone (then the Will says offline)
    await withTimeout(Promise.allSettled([...this.pending.keys()]), 5000);
    if (this.started) await withTimeout(this.publishStatus(false).catch(() => {}), 2000);
    await this.opts.transport.close();
  }

  /**
   * Why requests are not moving, or undefined when they are (for /healthz): work is waiting and no
   * step or token came for `limitMs`, or a reply has waited that long to be taken by the broker
   * (it used to wait behind a client that stopped reading; host/mqtt/outbox.ts).
   */
  stallReason(limitMs = 30_000): string | undefined {
    const now = performance.now();
    const work = this.scheduler.queued + this.scheduler.activeCount;
    if (work > 0 && now - this.lastProgressAt > limitMs) {
      return `${work} requests waiting, none moved for ${Math.round((now - this.lastProgressAt) / 1000)} s`;
    }
    let oldest = now;
    for (const t of this.pending.values()) oldest = Math.min(oldest, t);
    if (now - oldest > limitMs) return `a reply has waited ${Math.round((now - oldest) / 1000)} s for the broker (${this.pending.size} waiting)`;
    return undefined;
  }

  health(): { ok: boolean; status: Record<string, unknown> } {
    return { ok: this.started && !this.stopped, status: this.statusPayload(this.started && !this.stopped) };
  }

  // ---- inbound -------------------------------------------------------------------------------

  private onMessage(m: InboundMessage): void {
    try {
      if (m.topic === topics.cancel(this.device)) this.onCancel(m);
      else this.onInfer(m, m.topic !== topics.infer(this.device));
    } catch (err) {
      this.opts.log.error({ err, topic: m.topic }, 'message handler failed');
    }
  }

  private onInfer(m: InboundMessage, fleet: boolean): void {
    this.opts.metrics?.mqttMessage('in', fleet ? 'fleet_infer' : 'infer');
    if (this.stopped) return; // the broker redelivers QoS 1 to a live member of the group
    if (m.payload.length > this.maxPayload) {
      return this.reject(m, null, undefined, fleet, 'payload_too_large', `request is ${m.payload.length} bytes; the limit is ${this.maxPayload}`, 'invalid');
    }
    let req: InferRequest;
    try {
      req = parseInferRequest(m.payload);
    } catch (err) {
      const e = err as ProtocolError;
      return this.reject(m, e.id, salvage(m.payload), fleet, e.code, e.message, 'invalid');
    }
    // the embedded broker knows who sent it; an external one does not, so the request may say
    const client = (this.opts.transport.knowsClients ? m.clientId : undefined) ?? req.client ?? m.responseTopic ?? req.reply_to ?? 'anonymous';
    const key = `${client}\u0000${req.id}`;
    const log = requestLogger(this.opts.log, req.id, client);
    if (this.running.has(key) || this.recent.has(key)) {
      log.info('duplicate request id (a QoS 1 redelivery?): answered once, ignored');
      return;
    }
    const reply = this.replyTarget(m, req, fleet);
    if (typeof reply === 'string') return this.reject(m, req.id, req, fleet, 'forbidden_reply_topic', reply, 'invalid');
    if (this.limiter && !this.limiter.take(client)) {
      log.warn('rate limited');
      return this.replyError(reply, req.id, 'rate_limited', `client '${client}' sends requests faster than ${this.limiter.limit.messagesPerSecond}/s`, 'rate_limited');
    }
    const served = this.opts.served;
    if (req.model !== undefined && !modelNames(served).includes(req.model)) {
      return this.replyError(reply, req.id, 'unknown_model', `this device serves '${served.name}', not '${req.model}'`, 'invalid');
    }
    let promptIds: number[];
    try {
      promptIds = req.messages ? encodeChat(served.tokenizer, req.messages) : served.tokenizer.encode(req.prompt!);
    } catch (err) {
      return this.replyError(reply, req.id, 'invalid_request', `cannot tokenize the prompt: ${(err as Error).message}`, 'invalid');
    }
    const run: Running = { id: req.id, client, reply, log };
    if (this.scheduler.queued + this.scheduler.activeCount === 0) this.lastProgressAt = performance.now(); // idle until now
    const stream = req.stream ?? true;
    let seq = 0;
    try {
      this.running.set(key, run);
      run.handle = this.scheduler.submit({
        id: req.id,
        client,
        promptIds,
        options: sequenceOptions(req),
        onText: (text) => {
          this.lastProgressAt = performance.now();
          if (stream) this.send(reply, { id: req.id, seq: seq++, text }, 'chunk');
        },
        onDone: (r) => this.finished(key, run, r),
        onError: (err) => this.failed(key, run, err),
      });
      log.info({ promptTokens: promptIds.length, maxTokens: req.max_tokens, stream, fleet }, 'queued');
      this.markStatus();
    } catch (err) {
      this.running.delete(key);
      const code = codeOf(err);
      this.replyError(reply, req.id, code, (err as Error).message, code === 'busy' ? 'busy' : 'invalid');
    }
  }

  private onCancel(m: InboundMessage): void {
    this.opts.metrics?.mqttMessage('in', 'cancel');
    let c;
    try {
      c = parseCancel(m.payload);
    } catch (err) {
      this.opts.log.warn({ client: m.clientId, err: (err as Error).message }, 'bad cancel message');
      return;
    }
    const sender = this.opts.transport.knowsClients ? m.clientId : undefined;
    if ('client' in c) {
      // a client's Last Will (external broker): cancel all it asked for; on the embedded broker only its own
      if (sender !== undefined && sender !== c.client) return;
      const n = this.scheduler.cancelClient(c.client);
      this.opts.log.info({ client: c.client, cancelled: n }, 'cancel by client');
      return;
    }
    for (const r of this.running.values()) {
      if (r.id === c.id && (sender === undefined || r.client === sender)) {
        r.log.info('cancel requested');
        r.handle?.cancel();
      }
    }
  }

  /** A request the broker dropped for a limit (embedded broker): the sender still gets one error reply. */
  private onDropped(m: InboundMessage, code: LimitReason): void {
    if (m.topic !== topics.infer(this.device) && m.topic !== topics.fleetPublish) return;
    const partial = m.payload.length <= this.maxPayload ? salvage(m.payload) : undefined;
    const message = code === 'rate_limited' ? `client '${m.clientId}' sends requests faster than its rate limit` : `request is ${m.payload.length} bytes; the limit is ${this.maxPayload}`;
    this.reject(m, partial?.id ?? null, partial, m.topic === topics.fleetPublish, code, message, code === 'rate_limited' ? 'rate_limited' : 'invalid');
  }

  private onClientGone(clientId: string): void {
    const n = this.scheduler.cancelClient(clientId);
    if (n > 0) this.opts.log.info({ client: clientId, cancelled: n }, 'client disconnected: its requests are cancelled');
  }

  /** The broker holds more for this client than it reads: end its requests (their finals still queue). */
  private onClientBehind(clientId: string, backlog: Backlog): void {
    const n = this.scheduler.cancelClient(clientId);
    if (n > 0) this.opts.log.warn({ client: clientId, cancelled: n, waiting: backlog }, 'client falls behind reading its replies: its requests are cancelled');
  }

  // ---- outbound ------------------------------------------------------------------------------

  private finished(key: string, run: Running, r: JobResult): void {
    this.lastProgressAt = performance.now();
    this.forget(key);
    this.send(run.reply, finalReply(run.id, r, this.device), 'done');
    const m = this.opts.metrics;
    m?.requestFinished(r.finishReason);
    m?.tokensGenerated(r.usage.completionTokens);
    m?.promptTokens(r.usage.promptTokens);
    if (r.usage.completionTokens > 0) m?.timeToFirstToken(r.timings.timeToFirstTokenMs / 1000);
    if (r.timings.decodeTokensPerSecond > 0) m?.decodeRate(r.timings.decodeTokensPerSecond);
    run.log.info({ finish: r.finishReason, usage: r.usage, timings: r.timings }, 'finished');
  }

  private failed(key: string, run: Running, err: Error): void {
    this.forget(key);
    const code = codeOf(err);
    run.log.warn({ code, err: err.message }, 'request failed');
    this.replyError(run.reply, run.id, code, err.message, 'error');
  }

  private forget(key: string): void {
    this.running.delete(key);
    this.recent.add(key);
    if (this.recent.size > RECENT_IDS) this.recent.delete(this.recent.values().next().value!);
    this.markStatus();
  }

  /** An error for a request we could not accept, sent wherever it can be read. */
  private reject(m: InboundMessage, id: string | null, partial: Partial<InferRequest> | undefined, fleet: boolean, code: ErrorCode, message: string, outcome: RequestOutcome): void {
    const reply = this.replyTarget(m, { id: id ?? undefined, reply_to: typeof partial?.reply_to === 'string' ? partial.reply_to : undefined }, fleet);
    const target = typeof reply === 'string' ? { topic: this.defaultReplyTopic(m, id, fleet) } : reply;
    this.opts.log.warn({ client: m.clientId, req: id, code, topic: target.topic }, message);
    this.replyError(target, id, code, message, outcome);
  }

  private replyError(reply: ReplyTarget, id: string | null, code: ErrorCode, message: string, outcome: RequestOutcome): void {
    this.opts.metrics?.requestFinished(outcome);
    this.send(reply, errorReply(id, code, message, this.device), 'error');
  }

  /** Where replies go: the MQTT 5 response topic, else reply_to, else the default; a string is why not. */
  private replyTarget(m: InboundMessage, req: { id?: string; reply_to?: string }, fleet: boolean): ReplyTarget | string {
    const topic = m.responseTopic ?? req.reply_to ?? this.defaultReplyTopic(m, req.id ?? null, fleet);
    if (this.opts.mayReplyTo && !this.opts.mayReplyTo(m.user, topic)) {
      return m.user !== undefined
        ? `reply topic '${topic}' is not one user '${m.user}' may read (use ${topics.reply(this.device, '<id>', m.user)})`
        : `reply topic '${topic}' is not allowed (it must not be a wisp request, status or control topic)`;
    }
    return { topic, correlationData: m.correlationData };
  }

  private defaultReplyTopic(m: InboundMessage, id: string | null, fleet: boolean): string {
    const target = id !== null && isRequestId(id) ? id : 'errors';
    return fleet ? topics.reply('fleet', target) : topics.reply(this.device, target, m.user);
  }

  private send(reply: ReplyTarget, body: object, kind: string): void {
    this.opts.metrics?.mqttMessage('out', kind);
    const p = this.opts.transport
      .publish(reply.topic, JSON.stringify(body), { qos: 1, correlationData: reply.correlationData })
      .catch((err: Error) => this.opts.log.error({ topic: reply.topic, err: err.message }, 'reply not published'))
      .finally(() => this.pending.delete(p));
    this.pending.set(p, performance.now());
  }

  // ---- status --------------------------------------------------------------------------------

  private markStatus(): void {
    this.statusDirty = true;
    this.opts.metrics?.queueDepth(this.scheduler.queued);
    this.opts.metrics?.activeSequences(this.scheduler.activeCount);
  }

  statusPayload(online: boolean): Record<string, unknown> {
    const s = this.opts.served;
    return {
      device: this.device,
      online,
      ts: new Date().toISOString(),
      version: this.opts.version ?? '0.0.0',
      model: { name: s.name, sha256: s.sha256, context: s.contextSize, chat_template: hasChatTemplate(s.tokenizer) },
      engine: s.engine,
      profile: this.opts.profile ?? null,
      kernels: this.opts.kernels ?? {},
      load: { queued: this.scheduler.queued, active: this.scheduler.activeCount, max_active: s.model.maxSequences ?? 1 },
      fleet_group: this.opts.fleetGroup ?? null,
    };
  }

  private async publishStatus(online: boolean): Promise<void> {
    this.statusDirty = false;
    this.lastStatusAt = performance.now();
    await this.opts.transport.publish(topics.status(this.device), JSON.stringify(this.statusPayload(online)), { qos: 1, retain: true });
  }
}

/** The names a request's `model` field may use for the served model. */
function modelNames(s: ServedModel): string[] {
  const file = basename(s.path);
  return [s.name, ...(s.aliases ?? []), file, file.replace(/\.gguf$/i, ''), 'default'];
}

/** reply_to and id from a request that failed validation, when they are readable. */
function salvage(payload: Buffer): Partial<InferRequest> | undefined {
  if (payload.length > 1024 * 1024) return undefined;
  try {
    const data = JSON.parse(payload.toString('utf8'));
    if (data && typeof data === 'object') {
      return {
        ...(typeof data.reply_to === 'string' && !/[+#]/.test(data.reply_to) ? { reply_to: data.reply_to } : {}),
        ...(typeof data.id === 'string' ? { id: data.id } : {}),
      };
    }
  } catch {
    // not JSON: no reply_to to honour
  }
  return undefined;
}

function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p.then(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
}
