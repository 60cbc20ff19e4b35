// Where the service's replies go and how they are sent: the reply topic a message asks for (MQTT 5
// Response Topic, else `reply_to`, else the default), checked against the reply ACL; error replies
// for requests that could not be accepted; every publish tracked so stop() can wait for the last.
import type { Logger } from 'pino';
import type { RequestOutcome, ServiceMetrics } from '../obs/metrics.js';
import { errorReply, isRequestId, topics, type ErrorCode, type InferRequest } from './protocol.js';
import type { InboundMessage, Transport } from './transport.js';

export interface ReplyTarget {
  topic: string;
  correlationData?: Buffer;
}

export interface ReplierOptions {
  device: string;
  transport: Transport;
  log: Logger;
  metrics?: ServiceMetrics;
  /** May a reply for `user` (undefined: no broker users) go to `topic`? (the ACL's reply rule) */
  mayReplyTo?: (user: string | undefined, topic: string) => boolean;
}

export class Replier {
  private readonly pending = new Map<Promise<void>, number>(); // reply being published -> when it was sent

  constructor(private readonly o: ReplierOptions) {}

  /** Where replies go: the MQTT 5 response topic, else reply_to, else the default; a string is why not. */
  target(m: InboundMessage, req: { id?: string; reply_to?: string }, fleet: boolean): ReplyTarget | string {
    const topic = m.responseTopic ?? req.reply_to ?? this.defaultTopic(m, req.id ?? null, fleet);
    if (this.o.mayReplyTo && !this.o.mayReplyTo(m.user, topic)) {
      return m.user !== undefined
        ? `reply topic '${topic}' is not one user '${m.user}' may read (use ${topics.reply(this.o.device, '<id>', m.user)})`
        : `reply topic '${topic}' is not allowed (it must not be a wisp request, cancel, status or control topic)`;
    }
    return { topic, correlationData: m.correlationData };
  }

  /** wisp/<device>/reply/[<user>/]<id> (fleet: wisp/fleet/reply/<id>); `errors` when the id is unusable. */
  defaultTopic(m: InboundMessage, id: string | null, fleet: boolean): string {
    const target = id !== null && isRequestId(id) ? id : 'errors';
    return fleet ? topics.reply('fleet', target) : topics.reply(this.o.device, target, m.user);
  }

  /** An error for a message we could not accept, sent wherever it can be read. */
  reject(m: InboundMessage, id: string | null, partial: Partial<InferRequest> | undefined, fleet: boolean, code: ErrorCode, message: string, outcome?: RequestOutcome): void {
    const reply = this.target(m, { id: id ?? undefined, reply_to: typeof partial?.reply_to === 'string' ? partial.reply_to : undefined }, fleet);
    const target = typeof reply === 'string' ? { topic: this.defaultTopic(m, id, fleet) } : reply;
    this.o.log.warn({ client: m.clientId, user: m.user, req: id, code, topic: target.topic }, message);
    this.error(target, id, code, message, outcome);
  }

  /** One error reply; `outcome` counts it as a request that ended so (control refusals are not requests). */
  error(reply: ReplyTarget, id: string | null, code: ErrorCode, message: string, outcome?: RequestOutcome): void {
    if (outcome) this.o.metrics?.requestFinished(outcome);
    this.send(reply, errorReply(id, code, message, this.o.device), 'error');
  }

  send(reply: ReplyTarget, body: object, kind: string): void {
    this.o.metrics?.mqttMessage('out', kind);
    const p = this.o.transport
      .publish(reply.topic, JSON.stringify(body), { qos: 1, correlationData: reply.correlationData })
      .catch((err: Error) => this.o.log.error({ topic: reply.topic, err: err.message }, 'reply not published'))
      .finally(() => this.pending.delete(p));
    this.pending.set(p, performance.now());
  }

  /** Resolves when every reply sent so far is published (or failed). */
  settled(): Promise<unknown> {
    return Promise.allSettled([...this.pending.keys()]);
  }

  /** How long the oldest reply not yet taken by the broker has waited, in ms (0: none waits). */
  oldestWaitMs(): number {
    const now = performance.now();
    let oldest = now;
    for (const t of this.pending.values()) oldest = Math.min(oldest, t);
    return now - oldest;
  }
}

/** reply_to and id from a message that failed validation, when they are readable. */
export function salvage(payload: Buffer): Partial<InferRequest> | undefined {
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
