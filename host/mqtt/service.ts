// The MQTT inference service: reads requests off the broker, hands each message to the handler of
// its topic kind (handlers/: infer, cancel, control), and owns the lifecycle, the retained status
// and health. One misbehaving client gets error replies; the others keep being served (nothing
// here throws past a message handler).
import type { Logger } from 'pino';
import { Scheduler, type SchedulerOptions } from '../engine/scheduler.js';
import { hasChatTemplate } from '../model/chat-prompt.js';
import type { KernelManager } from '../kernels/manager.js';
import type { ServiceMetrics } from '../obs/metrics.js';
import { dispatch, serviceSubscriptions, type HandlerContext, type ServedModel } from './handlers/index.js';
import { topics } from './protocol.js';
import { Replier, salvage } from './replies.js';
import { RequestBook, ownerOf } from './requests.js';
import { RateLimiter, type RateLimit } from './limits.js';
import type { LimitReason } from './broker.js';
import type { Backlog } from './outbox.js';
import type { ConnectionChange, InboundMessage, Transport } from './transport.js';

export type { ServedModel } from './handlers/index.js';

/** A kernel family's module in the status (status.schema.json). */
export interface KernelStatus {
  flavour: string;
  sha256: string;
  /** built: from kernels/; swap: installed while serving (docs/KERNELS.md). */
  source: 'built' | 'swap';
}

export interface ServiceOptions extends SchedulerOptions {
  device: string;
  served: ServedModel;
  transport: Transport;
  log: Logger;
  metrics?: ServiceMetrics;
  /** Join `$share/<group>/wisp/fleet/infer` (needs a broker with shared subscriptions). */
  fleetGroup?: string;
  /**
   * A request streams at most one chunk per this many ms; text coming sooner is joined into the next
   * chunk (the first goes at once). Default 0: one chunk per piece of text (about one per token).
   */
  chunkIntervalMs?: number;
  /** Bytes; a bigger request gets payload_too_large without being parsed. Default 256 KiB. */
  maxPayloadBytes?: number;
  /**
   * Requests a client may send; the excess gets rate_limited. Unset: no limit here (the embedded
   * broker limits before the service sees a message).
   */
  rate?: RateLimit;
  /** May a reply for `user` (undefined: no broker users) go to `topic`? (the ACL's reply rule) */
  mayReplyTo?: (user: string | undefined, topic: string) => boolean;
  /**
   * The scheduler counts as stalled (/healthz 503) when it has work and no step has ended for this
   * long. Default 120 s: more than the longest prefill a small device runs as one step.
   */
  stallAfterMs?: number;
  /** The kernel module in use per family (flavour, sha256, where it came from), read at each status. */
  kernels?: () => Record<string, KernelStatus>;
  /** The kernel commands of control/kernels (wasm engines). */
  kernelManager?: KernelManager;
  profile?: string | null;
  version?: string;
}

class ShutdownError extends Error {
  readonly code = 'shutdown';
}

/** The largest request accepted unless --max-payload says otherwise. */
export const DEFAULT_MAX_REQUEST_BYTES = 256 * 1024;
export const DEFAULT_STALL_AFTER_MS = 120_000;
/**
 * A reply is taken by the broker within milliseconds; one that waits this long (or stallAfterMs, if
 * shorter) means delivery is stuck, as it was behind a client that stopped reading (outbox.ts).
 */
export const DELIVERY_STALL_MS = 30_000;

export class InferenceService {
  private readonly device: string;
  private readonly scheduler: Scheduler<unknown>;
  private readonly requests = new RequestBook();
  private readonly replies: Replier;
  private readonly context: HandlerContext;
  private statusTimer?: NodeJS.Timeout;
  private statusDirty = false;
  private lastStatusAt = 0;
  private stopped = false;
  private started = false;
  /** When the scheduler last made progress (a step, a request ending) or went from idle to busy. */
  private lastProgress = performance.now();
  private broker: { connected: boolean; since: string; reason?: string } = { connected: false, since: new Date().toISOString() };

  constructor(private readonly opts: ServiceOptions) {
    this.device = opts.device;
    this.scheduler = new Scheduler(opts.served.model, opts.served.tokenizer, {
      ...opts,
      onStep: (n, ms) => {
        this.lastProgress = performance.now();
        opts.metrics?.batchSize(n);
        opts.onStep?.(n, ms);
      },
    });
    this.replies = new Replier({ device: opts.device, transport: opts.transport, log: opts.log, metrics: opts.metrics, mayReplyTo: opts.mayReplyTo });
    const service = this;
    this.context = {
      device: opts.device,
      log: opts.log,
      metrics: opts.metrics,
      served: opts.served,
      scheduler: this.scheduler,
      requests: this.requests,
      replies: this.replies,
      knowsClients: opts.transport.knowsClients,
      maxPayload: opts.maxPayloadBytes ?? DEFAULT_MAX_REQUEST_BYTES,
      chunkIntervalMs: opts.chunkIntervalMs ?? 0,
      limiter: opts.rate ? new RateLimiter(opts.rate) : undefined,
      get stopped() {
        return service.stopped;
      },
      loadChanged: (event) => this.loadChanged(event),
      kernels: opts.kernelManager,
    };
    // gauges read at each scrape, so they are true whenever Prometheus looks
    opts.metrics?.observeLoad(() => ({ queued: this.scheduler.queued, active: this.scheduler.activeCount }));
    opts.metrics?.observeBroker(() => this.started && !this.stopped && opts.transport.connected);
  }

  /** Topics this service listens on. */
  get subscriptions(): string[] {
    return serviceSubscriptions(this.device, this.opts.fleetGroup);
  }

  async start(): Promise<void> {
    await this.opts.transport.start(
      {
        message: (m) => dispatch(this.context, m),
        clientGone: (clientId, user) => this.onClientGone(clientId, user),
        clientBehind: (clientId, user, backlog) => this.onClientBehind(clientId, user, backlog),
        dropped: (m, reason) => this.onDropped(m, reason),
        connection: (change) => this.onConnection(change),
      },
      this.subscriptions,
    );
    this.started = true;
    this.broker = { connected: true, since: new Date().toISOString() };
    await this.publishStatus(true);
    this.statusTimer = setInterval(() => {
      if (this.statusDirty || performance.now() - this.lastStatusAt > 30_000) void this.publishStatus(true).catch(() => {});
    }, 1000);
    this.statusTimer.unref();
    this.infoMetric();
    this.opts.log.info({ subscriptions: this.subscriptions, transport: this.opts.transport.description }, 'serving');
  }

  /** Ends every request with a `shutdown` error, marks the device offline, leaves the broker. */
  async stop(reason = 'the service is stopping'): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.scheduler.close(new ShutdownError(reason));
    // the last replies and the offline status, unless the broker is gone (then the Will says offline)
    await withTimeout(this.replies.settled(), 5000);
    if (this.started) await withTimeout(this.publishStatus(false).catch(() => {}), 2000);
    await this.opts.transport.close();
  }

  /**
   * 200 on /healthz only while the service takes requests: started, not stopping, its broker
   * connection up, and its scheduler not stalled (work waiting and no step ended for stallAfterMs).
   */
  health(): { ok: boolean; status: Record<string, unknown> } {
    const serving = this.started && !this.stopped;
    const connected = this.opts.transport.connected;
    const pending = this.scheduler.queued + this.scheduler.activeCount > 0;
    const quietMs = pending ? performance.now() - this.lastProgress : 0;
    const stalled = quietMs > (this.opts.stallAfterMs ?? DEFAULT_STALL_AFTER_MS);
    const deliveryLimitMs = Math.min(this.opts.stallAfterMs ?? DEFAULT_STALL_AFTER_MS, DELIVERY_STALL_MS);
    const replyWaitMs = this.replies.oldestWaitMs();
    const brokerStall = this.opts.transport.deliveryStall?.(deliveryLimitMs);
    const problems = [
      ...(!this.started ? ['not started'] : []),
      ...(this.stopped ? ['stopping'] : []),
      ...(serving && !connected ? [`broker connection down since ${this.broker.since}${this.broker.reason ? ` (${this.broker.reason})` : ''}`] : []),
      ...(stalled ? [`scheduler stalled: no step ended for ${Math.round(quietMs / 1000)} s with ${this.scheduler.queued} queued, ${this.scheduler.activeCount} active`] : []),
      ...(replyWaitMs > deliveryLimitMs ? [`replies stalled: one has waited ${Math.round(replyWaitMs / 1000)} s for the broker`] : []),
      ...(brokerStall ? [`broker stalled: ${brokerStall}`] : []),
    ];
    return {
      ok: problems.length === 0,
      status: {
        ...this.statusPayload(serving),
        broker: { connected, since: this.broker.since, ...(this.broker.reason ? { reason: this.broker.reason } : {}) },
        scheduler: { stalled, ms_since_progress: Math.round(quietMs) },
        delivery: { stalled: replyWaitMs > deliveryLimitMs || brokerStall !== undefined, oldest_reply_wait_ms: Math.round(replyWaitMs) },
        ...(problems.length > 0 ? { problems } : {}),
      },
    };
  }

  // ---- events that are not messages ------------------------------------------------------------

  /** A request the broker dropped for a limit (embedded broker): the sender still gets one error reply. */
  private onDropped(m: InboundMessage, code: LimitReason): void {
    if (m.topic !== topics.infer(this.device) && m.topic !== topics.fleetPublish) return;
    const maxPayload = this.context.maxPayload;
    const partial = m.payload.length <= maxPayload ? salvage(m.payload) : undefined;
    const message = code === 'rate_limited' ? `client '${m.clientId}' sends requests faster than its rate limit` : `request is ${m.payload.length} bytes; the limit is ${maxPayload}`;
    this.replies.reject(m, partial?.id ?? null, partial, m.topic === topics.fleetPublish, code, message, code === 'rate_limited' ? 'rate_limited' : 'invalid');
  }

  private onClientGone(clientId: string, user: string | undefined): void {
    const owner = ownerOf(clientId, user);
    const n = this.scheduler.cancelClient(owner.key);
    if (n > 0) this.opts.log.info({ client: owner.key, cancelled: n }, 'client disconnected: its requests are cancelled');
  }

  /** The broker holds more for this client than it reads (outbox.ts): end its requests (their finals still queue). */
  private onClientBehind(clientId: string, user: string | undefined, backlog: Backlog): void {
    const owner = ownerOf(clientId, user);
    const n = this.scheduler.cancelClient(owner.key);
    if (n > 0) this.opts.log.warn({ client: owner.key, cancelled: n, waiting: backlog }, 'client falls behind reading its replies: its requests are cancelled');
  }

  /** The external broker's connection went down or came back: logged, and /healthz follows it. */
  private onConnection(c: ConnectionChange): void {
    this.broker = { connected: c.connected, since: new Date().toISOString(), ...(c.reason ? { reason: c.reason } : {}) };
    if (c.connected) {
      this.opts.log.info({ transport: this.opts.transport.description }, 'broker connection restored');
      this.markStatus();
    } else if (c.takenOver) {
      this.opts.log.error(
        { transport: this.opts.transport.description, retryInMs: c.retryInMs },
        `broker connection taken over (${c.reason}): is another wisp serving device '${this.device}', or a client using its client id? Next attempt in ${c.retryInMs} ms`,
      );
    } else {
      this.opts.log.warn({ transport: this.opts.transport.description, reason: c.reason, retryInMs: c.retryInMs }, 'broker connection lost: reconnecting');
    }
  }

  /** A request was queued or ended: the status follows; an end is progress, and work arriving at an idle scheduler starts the stall clock. */
  private loadChanged(event: 'queued' | 'ended'): void {
    if (event === 'ended' || this.scheduler.queued + this.scheduler.activeCount === 1) this.lastProgress = performance.now();
    this.markStatus();
  }

  // ---- status --------------------------------------------------------------------------------

  /** wisp_info: the device, model, engine and kernel flavours (again after a kernel swap). */
  infoMetric(): void {
    const kernels = Object.entries(this.opts.kernels?.() ?? {}).map(([f, k]) => `${f}=${k.flavour}`).join(',');
    this.opts.metrics?.info({ device: this.device, model: this.opts.served.name, sha256: this.opts.served.sha256, engine: this.opts.served.engine, threads: this.opts.served.threads ?? 0, kernels });
  }

  /** The kernels changed (a swap or rollback): the status and wisp_info follow. */
  kernelsChanged(): void {
    this.infoMetric();
    this.markStatus();
  }

  private markStatus(): void {
    this.statusDirty = true;
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
      kernels: this.opts.kernels?.() ?? {},
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

function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p.then(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
}
