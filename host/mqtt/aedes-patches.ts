// Fixes wisp carries for the embedded aedes broker (2.0.0-beta.1) until upstream has them, applied
// to one broker instance at start (nothing in node_modules is edited). Each is tested in
// test/mqtt-delivery.test.ts; docs/PROTOCOL.md ("Delivery", "The embedded broker and Mosquitto")
// says what clients see.
//
// 1. Per-client flow control (outbox.ts): every connection's deliveries go through an Outbox, so a
//    client that stops reading backs up only its own queue; mqemitter is released at once.
// 2. No unbounded recursion in mqemitter: when its queue is full, each finished delivery starts the
//    next queued one synchronously (mqemitter._do -> fastparallel -> released -> _do), and a run of
//    messages nobody subscribes to (replies to a client that just left) recursed once per message
//    until `RangeError: Maximum call stack size exceeded` killed the process. Past a depth the next
//    one starts on a fresh stack, keeping its place in the order.
// 3. A resumed session gets its queued messages: aedes dropped them when the new CONNECT (MQTT 5,
//    Clean Start 0) had no Session Expiry Interval, though it answered sessionPresent: true; it
//    decided from the new connection's expiry instead of the session's existence [MQTT-3.1.2-4..6].
//    Here such a connection keeps the session state while it lasts (it still ends with it), and the
//    queued messages are resent through the Outbox (Receive Maximum, Maximum Packet Size and
//    expiry applied) before anything new.
// 4. A session kept for an offline client is bounded like a live one: past the behind limits the
//    owner is told (the service cancels the client's requests), past the max limits new messages are
//    not kept (as Mosquitto's max_queued_messages / max_queued_bytes).
import type { Aedes } from 'aedes';
import { Readable } from 'node:stream';
import { PATCHED_AEDES_VERSION, type AedesClientInternals, type MqEmitterInternals, type SessionStore, type StoredPacket } from './aedes-internals.js';
import { BehindWatch, DEFAULT_FLOW_LIMITS, Outbox, weight, type Backlog, type DropReason, type FlowLimits } from './outbox.js';

export interface DeliveryStats {
  /** Times a client (live or offline session) fell behind its limits. */
  behind: number;
  /** Live connections dropped for a backlog over the max limits. */
  overflows: number;
  /** Messages a client did not get, by why. */
  dropped: Record<DropReason | 'session_full', number>;
  /** mqemitter deliveries moved onto a fresh stack (guard 2). */
  deferred: number;
}

export interface DeliveryHooks {
  /** A client has more waiting for it than the behind limits; `online`: a live connection (else a kept session). */
  behind(clientId: string, backlog: Backlog, online: boolean): void;
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

export interface DeliveryControl {
  readonly stats: Readonly<DeliveryStats>;
  readonly limits: Readonly<FlowLimits>;
  /** What waits for a connected client (not yet written to its socket). */
  backlogOf(clientId: string): Backlog | undefined;
  /** Messages kept in the session store for a client (unacknowledged or not yet sent). */
  storedFor(clientId: string): Backlog;
  /**
   * Why the broker is not delivering, or undefined when it is (for /healthz): messages wait in
   * mqemitter's queue and none started for `limitMs`.
   */
  stallReason(limitMs?: number): string | undefined;
}

/** Nested mqemitter starts allowed on one stack before the next starts on a fresh one. */
const MAX_MQ_DEPTH = 64;

export function patchAedes(aedes: Aedes, hooks: DeliveryHooks, limitsIn: Partial<FlowLimits> = {}): DeliveryControl {
  const internals = aedes as unknown as { version: string; mq: MqEmitterInternals; clients: Record<string, AedesClientInternals>; persistence: SessionStore };
  if (internals.version !== PATCHED_AEDES_VERSION) {
    hooks.log('warn', 'aedes version differs from the one wisp patches: check host/mqtt/aedes-internals.ts', { aedes: internals.version, patched: PATCHED_AEDES_VERSION });
  }
  const limits: FlowLimits = { ...DEFAULT_FLOW_LIMITS, ...limitsIn };
  const stats: DeliveryStats = { behind: 0, overflows: 0, dropped: { not_authorized: 0, expired: 0, too_large: 0, unencodable: 0, overflow: 0, session_full: 0 }, deferred: 0 };
  const outboxes = new WeakMap<AedesClientInternals, Outbox>();
  const clients = internals.clients;

  // ---- 2: bounded recursion in mqemitter ---------------------------------------------------
  const mq = internals.mq;
  const start = mq._do;
  let depth = 0;
  let lastStart = performance.now();
  mq._do = function guardedDo(this: MqEmitterInternals, message, cb) {
    lastStart = performance.now();
    if (depth >= MAX_MQ_DEPTH) {
      stats.deferred++;
      this.current++; // holds its slot, so no later message overtakes it
      setImmediate(() => {
        this.current--;
        start.call(this, message, cb);
      });
      return this;
    }
    depth++;
    try {
      return start.call(this, message, cb);
    } finally {
      depth--;
    }
  };

  // ---- 1: an Outbox per connection ---------------------------------------------------------
  const events = {
    behind(c: AedesClientInternals, backlog: Backlog) {
      stats.behind++;
      hooks.log('warn', 'client falls behind reading its messages', { clientId: c.id, ...backlog });
      hooks.behind(c.id, backlog, true);
    },
    overflow(c: AedesClientInternals, backlog: Backlog) {
      stats.overflows++;
      hooks.log('warn', 'connection dropped: too many messages waiting for it', { clientId: c.id, ...backlog, limits });
      c.conn.destroy(); // it cannot read a DISCONNECT either; its session ends or is kept as it asked
    },
    dropped(c: AedesClientInternals, reason: DropReason, topic: string) {
      stats.dropped[reason]++;
      hooks.log('debug', 'message not delivered', { clientId: c.id, reason, topic });
    },
    error(c: AedesClientInternals, err: Error) {
      hooks.log('error', 'delivery failed', { clientId: c.id, err: err.message });
    },
  };
  const handle = aedes.handle;
  aedes.handle = (conn, req) => {
    const client = handle(conn, req);
    const c = client as unknown as AedesClientInternals;
    const outbox = new Outbox(c, limits, events);
    outboxes.set(c, outbox);
    // aedes subscribes these (read at subscribe time, so before any SUBSCRIBE is handled)
    c.deliver0 = (packet, cb) => outbox.deliver(packet, true, cb);
    c.deliverQoS = (packet, cb) => outbox.deliver(packet, false, cb);
    c._parser.on('packet', (packet: { cmd: string; messageId?: number; reasonCode?: number }) => {
      if (packet.messageId === undefined) return;
      // QoS 1 ends at PUBACK, QoS 2 at PUBCOMP, or at a PUBREC that refuses it ([MQTT-4.9.0-2])
      if (packet.cmd === 'puback' || packet.cmd === 'pubcomp' || (packet.cmd === 'pubrec' && (packet.reasonCode ?? 0) >= 0x80)) {
        outbox.acknowledged(packet.messageId);
      }
    });
    return client;
  };
  aedes.on('clientReady', (client) => outboxes.get(client as unknown as AedesClientInternals)?.release());

  // ---- 3: resumed sessions -----------------------------------------------------------------
  const authenticate = aedes.authenticate;
  aedes.authenticate = function (client, username, password, done) {
    const c = client as unknown as AedesClientInternals;
    // Clean Start 0 resumes the session whatever this connection's expiry; with expiry 0 the
    // session state lives as long as the connection (aedes wipes it at close: scheduleSessionExpiry)
    if (c.version === 5 && c._cleanStart === false && c.sessionExpiryInterval === 0) c.clean = false;
    return authenticate.call(this, client, username, password, done);
  };
  const store = internals.persistence;
  const outgoingStream = store.outgoingStream.bind(store);
  store.outgoingStream = (client) => {
    const c = client as AedesClientInternals;
    const outbox = outboxes.get(c);
    // aedes reads the queue at connect (emptyQueue, after the CONNACK) and when it wipes a session;
    // on Clean Start it discards the queue itself
    if (!outbox || c.closed || c.connected || !c.connackSent || c._cleanStart) return outgoingStream(client);
    outbox.hold();
    collect(outgoingStream(client))
      .then((stored) => outbox.resume(stored))
      .catch((err: Error) => hooks.log('error', 'cannot read a resumed session’s queue', { clientId: c.id, err: err.message }))
      .finally(() => outbox.release());
    return Readable.from([]) as unknown as ReturnType<SessionStore['outgoingStream']>;
  };

  // ---- 4: bounded kept sessions ------------------------------------------------------------
  const stored = new Map<string, { backlog: Backlog; watch: BehindWatch }>();
  const keep = (clientId: string, packet: StoredPacket): boolean => {
    let s = stored.get(clientId);
    if (!s) stored.set(clientId, (s = { backlog: { messages: 0, bytes: 0 }, watch: new BehindWatch(limits) }));
    const b = s.backlog;
    if (b.messages >= limits.maxMessages || b.bytes >= limits.maxBytes) {
      stats.dropped.session_full++;
      return false;
    }
    b.messages++;
    b.bytes += weight(packet);
    // a live client's backlog is its Outbox's to report
    if (s.watch.update(b) && !clients[clientId]) {
      stats.behind++;
      hooks.log('warn', 'an offline session falls behind: too many messages kept for it', { clientId, ...b });
      hooks.behind(clientId, { ...b }, false);
    }
    return true;
  };
  const enqueue = store.outgoingEnqueue.bind(store);
  const enqueueCombi = store.outgoingEnqueueCombi.bind(store);
  const clear = store.outgoingClearMessageId.bind(store);
  store.outgoingEnqueue = async (sub, packet) => {
    if (keep(sub.clientId, packet)) await enqueue(sub, packet);
  };
  store.outgoingEnqueueCombi = async (subs, packet) => {
    const kept = subs.filter((s) => keep(s.clientId, packet));
    if (kept.length > 0) await enqueueCombi(kept, packet);
  };
  store.outgoingClearMessageId = async (client, packet) => {
    const removed = await clear(client, packet);
    const s = removed && stored.get(client.id);
    if (removed && s) {
      s.backlog.messages--;
      s.backlog.bytes -= weight(removed);
      if (s.backlog.messages <= 0) stored.delete(client.id);
      else s.watch.update(s.backlog);
    }
    return removed;
  };

  return {
    stats,
    limits,
    backlogOf: (clientId) => {
      const c = clients[clientId];
      return c ? outboxes.get(c)?.backlog : undefined;
    },
    stallReason: (limitMs = 30_000) => {
      const waiting = mq.length;
      const idle = performance.now() - lastStart;
      return waiting > 0 && idle > limitMs ? `${waiting} messages wait in the broker, none delivered for ${Math.round(idle / 1000)} s` : undefined;
    },
    storedFor: (clientId) => ({ ...(stored.get(clientId)?.backlog ?? { messages: 0, bytes: 0 }) }),
  };
}

async function collect(stream: AsyncIterable<StoredPacket>): Promise<StoredPacket[]> {
  const out: StoredPacket[] = [];
  for await (const p of stream) out.push(p);
  return out;
}
