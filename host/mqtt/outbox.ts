// Per-client flow control for the embedded broker: every PUBLISH aedes delivers to a connected
// client goes through that client's Outbox instead of straight onto its socket.
//
// Why: aedes (2.0.0-beta.1) writes a delivery to the socket and only calls mqemitter back once the
// socket has drained. mqemitter runs at most `concurrency` (100) deliveries at once for the whole
// broker, so a client that stops reading holds every slot after ~100 messages and every other
// client's messages (requests and replies alike) wait behind it until aedes drops it (drainTimeout,
// 60 s). The queue that built up meanwhile is then run through a synchronous recursion
// (mqemitter._do -> fastparallel -> released -> _do) that overflows the stack and kills the process
// (see aedes-patches.ts for that guard).
//
// Here a delivery is queued per client and mqemitter is released at once, so one client's backlog
// never holds anyone else's. The queue is bounded: past `behind*` the client is reported behind
// (the service cancels its requests: their final messages are still queued), past `max*` its
// connection is dropped. The queue drains as the socket accepts data, with at most the client's
// Receive Maximum QoS 1/2 messages unacknowledged, and without any packet over the client's Maximum
// Packet Size (MQTT 5 [MQTT-3.1.2-24], [MQTT-3.3.4-7/8/9]). The message expiry interval is applied
// while a message waits, and only properties a PUBLISH may carry are sent (a Will's Will Delay
// Interval is not: [MQTT-3.3.2], aedes copies it into the will's PUBLISH).
import { generate } from 'mqtt-packet';
import type { AedesClientInternals, StoredPacket } from './aedes-internals.js';

export interface FlowLimits {
  /** More messages than this waiting for a client, or more bytes: it is behind (reported once per episode). */
  behindMessages: number;
  behindBytes: number;
  /** Over these its connection is dropped (a live client) or new messages are not kept (an offline session). */
  maxMessages: number;
  maxBytes: number;
}

/** Generous for a client that reads; a stopped one is found within a few MB. */
export const DEFAULT_FLOW_LIMITS: FlowLimits = {
  behindMessages: 2000,
  behindBytes: 1024 * 1024,
  maxMessages: 10_000,
  maxBytes: 4 * 1024 * 1024,
};

export interface Backlog {
  messages: number;
  bytes: number;
}

/**
 * Says when a backlog is to be reported behind: each time it grows past another multiple of the
 * behind limits (so requests a client sends while behind are cancelled too, before it reaches the
 * max limits), until it has shrunk to half of them.
 */
export class BehindWatch {
  private level = 0;

  constructor(private readonly limits: FlowLimits) {}

  update(b: Backlog): boolean {
    const l = this.limits;
    if (b.messages <= l.behindMessages / 2 && b.bytes <= l.behindBytes / 2) {
      this.level = 0;
      return false;
    }
    const level = Math.floor(Math.max(b.messages / l.behindMessages, b.bytes / l.behindBytes));
    if (level <= this.level) return false;
    this.level = level;
    return true;
  }
}

export type DropReason = 'not_authorized' | 'expired' | 'too_large' | 'unencodable' | 'overflow';

export interface OutboxEvents {
  /** The backlog grew past the behind limits (see BehindWatch). */
  behind(client: AedesClientInternals, backlog: Backlog): void;
  /** The backlog crossed the max limits: the caller drops the connection. */
  overflow(client: AedesClientInternals, backlog: Backlog): void;
  /** A message this client will not get. */
  dropped(client: AedesClientInternals, reason: DropReason, topic: string): void;
  error(client: AedesClientInternals, err: Error): void;
}

interface Entry {
  packet: StoredPacket;
  /** Delivered through a QoS 0 subscription: goes out at QoS 0. */
  qos0: boolean;
  /** From the session store on resume: keeps its packet id (if it was sent before) and sets DUP. */
  replay: boolean;
  /** Not for this client after all (not authorized): only removed from the session store. */
  drop: boolean;
  bytes: number;
}

/** Properties a PUBLISH may carry (MQTT 5 §3.3.2.3); anything else (a will's delay) is left out. */
const PUBLISH_PROPERTIES = new Set(['payloadFormatIndicator', 'messageExpiryInterval', 'responseTopic', 'correlationData', 'userProperties', 'subscriptionIdentifier', 'contentType']);

function publishProperties(props: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!props) return undefined;
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || !PUBLISH_PROPERTIES.has(k)) continue;
    (out ??= {})[k] = v;
  }
  return out;
}

/** Roughly what a message costs on the wire: enough to bound memory, not to size packets. */
export function weight(p: StoredPacket): number {
  const props = p.properties as { correlationData?: Buffer; responseTopic?: string } | undefined;
  return 16 + p.topic.length + p.payload.length + (props?.correlationData?.length ?? 0) + (props?.responseTopic?.length ?? 0);
}

export class Outbox {
  private readonly queue: Entry[] = [];
  private head = 0;
  private bytes = 0;
  /** Packet ids sent at QoS 1/2 and not yet acknowledged (PUBACK, PUBCOMP, or a failed PUBREC). */
  private readonly inflight = new Set<number>();
  /** Ids of resumed messages still queued (they keep their id). */
  private readonly reserved = new Set<number>();
  private nextId = 1;
  private holds = 1; // released by ready(): nothing goes out before the CONNACK and the resumed queue
  private running = false;
  private readonly behind: BehindWatch;
  private overflowed = false;

  constructor(
    private readonly client: AedesClientInternals,
    private readonly limits: FlowLimits,
    private readonly events: OutboxEvents,
  ) {
    this.behind = new BehindWatch(limits);
  }

  get backlog(): Backlog {
    return { messages: this.queue.length - this.head, bytes: this.bytes };
  }

  /** Replaces aedes' client.deliver0 / deliverQoS: queue the message, release mqemitter at once. */
  deliver(packet: StoredPacket, qos0: boolean, done: () => void): void {
    setImmediate(done); // never on this stack: mqemitter may be deep in a run of deliveries
    const c = this.client;
    if (c.closed || this.overflowed) return;
    // [MQTT-3.8.3-3] No Local: not back to the client that published it
    if (packet.clientId === c.id && packet.nl) return;
    // one copy per message, however many of the client's subscriptions match (aedes' dedupe)
    if (packet.brokerId) {
      if ((c.duplicates[packet.brokerId] ?? 0) >= packet.brokerCounter!) return;
      c.duplicates[packet.brokerId] = packet.brokerCounter!;
    }
    const allowed = c.broker.authorizeForward(c, packet);
    if (!allowed) {
      this.events.dropped(c, 'not_authorized', packet.topic);
      if (!c.clean && packet.qos > 0 && !qos0) this.push({ packet, qos0, replay: false, drop: true, bytes: 0 }, false);
      return;
    }
    this.push({ packet: allowed, qos0, replay: false, drop: false, bytes: weight(allowed) }, false);
  }

  /** Messages kept for the session while the client was away, to go before anything live. */
  resume(stored: StoredPacket[]): void {
    const live = new Set(this.queue.slice(this.head).map((e) => `${e.packet.brokerId}:${e.packet.brokerCounter}`));
    const entries: Entry[] = [];
    for (const p of stored) {
      if (live.has(`${p.brokerId}:${p.brokerCounter}`)) continue; // already queued live
      if (p.messageId !== undefined) this.reserved.add(p.messageId);
      entries.push({ packet: p, qos0: false, replay: true, drop: false, bytes: weight(p) });
    }
    this.queue.splice(this.head, 0, ...entries);
    for (const e of entries) this.bytes += e.bytes;
    this.checkLimits();
  }

  /** Delay sending until release() (the session store is being read). */
  hold(): void {
    this.holds++;
  }

  release(): void {
    if (this.holds > 0 && --this.holds === 0) this.kick();
  }

  /** A PUBACK / PUBCOMP (or a PUBREC refusing the message) for one of our packet ids. */
  acknowledged(messageId: number): void {
    if (this.inflight.delete(messageId)) this.kick();
  }

  private push(e: Entry, front: boolean): void {
    if (front) this.queue.splice(this.head, 0, e);
    else this.queue.push(e);
    this.bytes += e.bytes;
    this.checkLimits();
    this.kick();
  }

  private checkLimits(): void {
    const b = this.backlog;
    const l = this.limits;
    if (!this.overflowed && (b.messages > l.maxMessages || b.bytes > l.maxBytes)) {
      this.overflowed = true;
      this.events.overflow(this.client, b);
      return;
    }
    if (this.behind.update(b)) this.events.behind(this.client, b);
  }

  private kick(): void {
    if (this.running || this.holds > 0) return;
    void this.run().catch((err: Error) => this.events.error(this.client, err));
  }

  private canSend(): boolean {
    const c = this.client;
    if (this.holds > 0 || c.closed || this.head >= this.queue.length) return false;
    const e = this.queue[this.head];
    if (e.drop || e.qos0 || e.packet.qos === 0) return true;
    return this.inflight.size < (c.receiveMaximum ?? 65535); // [MQTT-3.3.4-9]
  }

  private shift(): Entry {
    const e = this.queue[this.head];
    this.queue[this.head++] = undefined as unknown as Entry;
    this.bytes -= e.bytes;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    this.checkLimits();
    return e;
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.canSend()) await this.send(this.shift());
    } finally {
      this.running = false;
    }
  }

  private allocateId(): number {
    for (let i = 0; i < 65535; i++) {
      const id = this.nextId;
      this.nextId = id >= 65535 ? 1 : id + 1;
      if (!this.inflight.has(id) && !this.reserved.has(id)) return id;
    }
    throw new Error('no free packet id');
  }

  /** Removes a message from the session store without sending it (its id marks which one). */
  private async unstore(p: StoredPacket): Promise<void> {
    const persistence = this.client.broker.persistence;
    const id = p.messageId ?? this.allocateId();
    try {
      await persistence.outgoingUpdate(this.client, { ...p, messageId: id });
      await persistence.outgoingClearMessageId(this.client, { ...p, messageId: id });
    } catch {
      // not in the store (never queued there, or dropped by the session cap)
    }
    this.reserved.delete(id);
  }

  private async send(e: Entry): Promise<void> {
    const c = this.client;
    const p = e.packet;
    // aedes' rule: a QoS 0 subscription gets QoS 0; otherwise at most the QoS subscribed to that exact topic
    const qos = e.qos0 ? 0 : (Math.min(p.qos, c.subscriptions[p.topic]?.qos ?? p.qos) as 0 | 1 | 2);
    const stored = !c.clean && p.qos > 0 && !e.qos0; // in the session store until acknowledged
    if (e.drop) return this.unstore(p);
    if (e.replay && !c.broker.authorizeForward(c, p)) {
      this.events.dropped(c, 'not_authorized', p.topic);
      return this.unstore(p);
    }
    const properties = c.version === 5 ? publishProperties(p.properties as Record<string, unknown> | undefined) : undefined;
    if (p.messageExpiry !== undefined) {
      const left = p.messageExpiry - Date.now();
      if (left <= 0) {
        // [MQTT-3.3.2-5] an expired message is not delivered
        this.events.dropped(c, 'expired', p.topic);
        return stored ? this.unstore(p) : undefined;
      }
      if (properties) properties.messageExpiryInterval = Math.ceil(left / 1000); // [MQTT-3.3.2-6]
    }
    const resent = e.replay && p.messageId !== undefined;
    const messageId = qos > 0 ? (resent ? p.messageId! : this.allocateId()) : undefined;
    const out: StoredPacket = {
      cmd: 'publish',
      topic: p.topic,
      payload: p.payload,
      qos,
      retain: p.retain,
      dup: resent, // [MQTT-3.3.1-1] a resent message
      brokerId: p.brokerId,
      brokerCounter: p.brokerCounter,
      ...(messageId !== undefined ? { messageId } : {}),
      ...(properties ? { properties } : {}),
    };
    let wire: Buffer;
    try {
      wire = generate(out as Parameters<typeof generate>[0], { protocolVersion: c._wireVersion ?? 4 });
    } catch (err) {
      this.events.error(c, new Error(`cannot encode a message on '${p.topic}': ${(err as Error).message}`));
      this.events.dropped(c, 'unencodable', p.topic);
      if (messageId !== undefined) this.reserved.delete(messageId);
      return stored ? this.unstore(p) : undefined;
    }
    if (c.maximumPacketSize !== undefined && wire.length > c.maximumPacketSize) {
      // [MQTT-3.1.2-25] discarded as if it had been sent
      this.events.dropped(c, 'too_large', p.topic);
      if (messageId !== undefined) this.reserved.delete(messageId);
      return stored ? this.unstore(p) : undefined;
    }
    if (messageId !== undefined) {
      this.reserved.delete(messageId);
      this.inflight.add(messageId);
      // the store learns the id before the client can acknowledge it
      if (stored) await c.broker.persistence.outgoingUpdate(c, out).catch(() => {});
    }
    if (c.closed || c.conn.destroyed) return;
    if (!c.conn.write(wire)) {
      // aedes' own wait: its drainTimeout drops a client that never reads again
      await new Promise<void>((resolve) => c.waitForDrain(() => resolve()));
    }
  }
}
