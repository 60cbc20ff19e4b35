// How the service meets the broker. Embedded: in the broker's own process, reading publishes off
// aedes (which knows the sending connection, so fairness, ACL users and disconnect-cancels are
// keyed by the real client) and publishing into it. External: an mqtt.js MQTT 5 client with a Last
// Will on the status topic, TLS and credentials, joining fleet shared subscriptions.
import type { AedesPublishPacket, Client as AedesClient, PublishPacket } from 'aedes';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { topicMatches } from './acl.js';
import type { EmbeddedBroker, LimitReason } from './broker.js';
import type { Backlog } from './outbox.js';
import type { Role } from './users.js';

export interface InboundMessage {
  topic: string;
  payload: Buffer;
  qos: number;
  /**
   * The MQTT retain flag as delivered: a message the broker stored and replays (or, subscribed with
   * Retain As Published, one published retained). Requests carrying it are never run.
   */
  retain: boolean;
  /** The MQTT DUP flag: the publisher says this is a redelivery (only the embedded broker passes it on). */
  dup: boolean;
  /** The publishing connection's client id (embedded broker only). */
  clientId?: string;
  /** The authenticated user of that connection (embedded broker with users only). */
  user?: string;
  /** The connection's role (embedded broker only; 'anonymous' without a users table). */
  role?: Role | 'anonymous';
  /** MQTT 5 Response Topic and Correlation Data. */
  responseTopic?: string;
  correlationData?: Buffer;
}

export interface OutboundOptions {
  qos?: 0 | 1;
  retain?: boolean;
  correlationData?: Buffer;
}

export interface TransportHandlers {
  message(m: InboundMessage): void;
  /**
   * A client's connection was lost and its session with it, or its kept session ended (embedded
   * broker only); `user`: who was logged in on it.
   */
  clientGone(clientId: string, user: string | undefined): void;
  /** More is waiting for a client than it reads (embedded broker only): stop producing for it. */
  clientBehind(clientId: string, user: string | undefined, backlog: Backlog): void;
  /** The broker refused a publish for a limit before it reached the service (embedded broker only). */
  dropped(m: InboundMessage, reason: LimitReason): void;
  /** The connection to an external broker went down or came back (not called for the first connect). */
  connection?(change: ConnectionChange): void;
}

export interface ConnectionChange {
  connected: boolean;
  /** Why it went down: the broker's DISCONNECT reason, the socket error, "connection closed". */
  reason?: string;
  /** Another connection took this client id (MQTT 5 DISCONNECT 0x8E, "session taken over"). */
  takenOver?: boolean;
  /** When the next connection attempt is due, in ms (a growing back-off after repeated takeovers). */
  retryInMs?: number;
}

export interface Transport {
  /** e.g. "embedded broker on mqtt://0.0.0.0:1883" */
  readonly description: string;
  /** True when clientId/user on inbound messages come from the broker (and cannot be spoofed). */
  readonly knowsClients: boolean;
  /** Whether messages flow now (an external broker's connection can drop and come back). */
  readonly connected: boolean;
  /** Why the broker is not delivering, when messages have waited `limitMs` (embedded broker only). */
  deliveryStall?(limitMs: number): string | undefined;
  start(handlers: TransportHandlers, subscriptions: string[]): Promise<void>;
  publish(topic: string, payload: string, opts?: OutboundOptions): Promise<void>;
  close(): Promise<void>;
}

/** The service inside the embedded aedes broker. */
export class EmbeddedTransport implements Transport {
  readonly knowsClients = true;
  readonly connected = true;
  readonly description: string;
  private onPublish?: (packet: AedesPublishPacket, client: AedesClient | null) => void;
  private detached = false;

  constructor(private readonly broker: EmbeddedBroker) {
    this.description = `embedded broker on ${broker.url}`;
  }

  deliveryStall(limitMs: number): string | undefined {
    return this.broker.delivery.stallReason(limitMs);
  }

  async start(handlers: TransportHandlers, subscriptions: string[]): Promise<void> {
    this.onPublish = (packet, client) => {
      // our own publishes have no client
      if (!client || !subscriptions.some((filter) => topicMatches(filter, packet.topic))) return;
      // over its limit but acknowledged (MQTT 3.1.1 QoS 1/2, which has no negative ack): onLimited
      // below answers it; it is never run
      if (this.broker.limitOf(packet)) return;
      handlers.message(this.inbound(packet, client.id));
    };
    this.broker.aedes.on('publish', this.onPublish);
    // docs/PROTOCOL.md "When a client goes away": a client that sent DISCONNECT left on purpose, its
    // requests go on (mosquitto_pub + mosquitto_sub work that way); a lost connection takes its
    // requests with it only if its session ends with it; a kept session keeps them until it expires
    // or is replaced
    this.broker.onClientDisconnect((clientId, clean, who, session) => {
      if (!clean && session === 'ends' && !this.detached) handlers.clientGone(clientId, who?.username);
    });
    this.broker.onSessionEnd((clientId, who) => {
      if (!this.detached) handlers.clientGone(clientId, who?.username);
    });
    this.broker.onClientBehind((clientId, who, backlog) => {
      if (!this.detached) handlers.clientBehind(clientId, who?.username, backlog);
    });
    this.broker.onLimited((clientId, reason, packet) => {
      if (packet && !this.detached) handlers.dropped(this.inbound(packet, clientId), reason);
    });
  }

  private inbound(packet: PublishPacket, clientId: string): InboundMessage {
    const props = (packet as { properties?: { responseTopic?: string; correlationData?: Buffer } }).properties;
    const who = this.broker.identityOf(clientId);
    return {
      topic: packet.topic,
      payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
      qos: packet.qos,
      retain: packet.retain === true,
      dup: packet.dup === true,
      clientId,
      user: who?.username,
      role: who?.role,
      responseTopic: props?.responseTopic,
      correlationData: props?.correlationData,
    };
  }

  publish(topic: string, payload: string, opts: OutboundOptions = {}): Promise<void> {
    const packet = {
      cmd: 'publish' as const,
      topic,
      payload: Buffer.from(payload),
      qos: opts.qos ?? 1,
      retain: opts.retain ?? false,
      dup: false,
      ...(opts.correlationData ? { properties: { correlationData: opts.correlationData } } : {}),
    };
    return new Promise((resolve, reject) => this.broker.aedes.publish(packet, (err) => (err ? reject(err) : resolve())));
  }

  async close(): Promise<void> {
    if (this.onPublish) this.broker.aedes.removeListener('publish', this.onPublish);
    this.detached = true;
  }
}

export interface ExternalBrokerOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  /** PEM contents */
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
  /** Published retained by the broker if this connection dies without saying goodbye. */
  will: { topic: string; payload: string };
  connectTimeoutMs?: number;
  /** Wait before reconnecting (default 1000 ms); doubled after each takeover in a row, up to maxReconnectMs. */
  reconnectMs?: number;
  /** The longest wait between attempts while another connection keeps taking the client id (default 5 min). */
  maxReconnectMs?: number;
}

/** MQTT 5 DISCONNECT reason code: another connection with the same client id took the session. */
const SESSION_TAKEN_OVER = 0x8e;
/** A connection that lasted this long was not fighting anyone: the takeover count starts again. */
const STABLE_CONNECTION_MS = 60_000;

/**
 * The service as an MQTT 5 client of an external broker (Mosquitto, EMQX, ...).
 *
 * Two clients with one client id make the broker drop each in turn; reconnecting every second would
 * keep both off the air. A takeover is a DISCONNECT 0x8E (EMQX, aedes) or, as Mosquitto 2.0 sends
 * none, the broker closing the connection without an error soon after it was made, twice or more in
 * a row. Each one in a row doubles the wait before the next attempt (reconnectMs up to
 * maxReconnectMs); a connection that lasts STABLE_CONNECTION_MS, or a broker that cannot be reached,
 * resets the count.
 */
export class ClientTransport implements Transport {
  readonly knowsClients = false;
  readonly description: string;
  private client?: MqttClient;
  private up = false;
  private closing = false;
  /** Connections in a row the broker closed soon after they were made (takeovers, likely or certain). */
  private kicks = 0;
  private connectedAt = 0;
  private sawError = false;
  private lastReason?: string;
  private takenOver = false;
  private stableTimer?: NodeJS.Timeout;
  /** Connections made so far: a SUBACK that arrives after its connection was replaced says nothing. */
  private attempts = 0;
  /** The current connection's subscriptions are acknowledged. */
  private subscribed = false;

  constructor(private readonly opts: ExternalBrokerOptions) {
    this.description = `external broker ${opts.url}`;
  }

  /** On the broker with the subscriptions acknowledged (what /healthz and wisp_broker_connected say). */
  get connected(): boolean {
    return this.up && this.subscribed;
  }

  async start(handlers: TransportHandlers, subscriptions: string[]): Promise<void> {
    const o = this.opts;
    const base = o.reconnectMs ?? 1000;
    const options: IClientOptions = {
      protocolVersion: 5,
      clientId: o.clientId,
      clean: true,
      reconnectPeriod: base,
      // the transport takes its subscriptions itself at every connect, so it knows when they hold
      resubscribe: false,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      will: { topic: o.will.topic, payload: Buffer.from(o.will.payload), qos: 1, retain: true },
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.ca ? { ca: o.ca } : {}),
      ...(o.cert ? { cert: o.cert } : {}),
      ...(o.key ? { key: o.key } : {}),
      ...(o.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.rejectUnauthorized } : {}),
    };
    const client = mqtt.connect(o.url, options);
    this.client = client;
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => {
        client.end(true);
        reject(new Error(`cannot connect to ${o.url}: ${err.message}`));
      };
      const timer = setTimeout(() => fail(new Error(`no CONNACK within ${options.connectTimeout} ms`)), options.connectTimeout);
      client.once('connect', () => {
        clearTimeout(timer);
        client.removeListener('error', fail);
        resolve();
      });
      client.once('error', fail);
    });
    client.on('message', (topic, payload, packet) => {
      const props = packet.properties;
      handlers.message({
        topic,
        payload,
        qos: packet.qos,
        retain: packet.retain,
        dup: false, // the broker sets DUP per hop: a client's redelivery reaches us as a fresh message
        responseTopic: props?.responseTopic,
        correlationData: props?.correlationData,
      });
    });
    // Retain Handling 2: the broker sends no stored message when we subscribe, so a retained request
    // is not replayed at every restart; Retain As Published: a request published retained arrives
    // with its flag, so the service can refuse it rather than run it once live
    const subscribe = () => client.subscribeAsync(subscriptions, { qos: 1, rh: 2, rap: true });
    await subscribe();
    this.subscribed = true;

    // mqtt.js arms its reconnect timer when the socket closes, with options.reconnectPeriod as it is
    // then; so each connection sets, when it is made, the wait that follows if it is taken over too
    const connected = () => {
      this.up = true;
      this.sawError = false;
      this.connectedAt = performance.now();
      client.options.reconnectPeriod = Math.min(o.maxReconnectMs ?? 300_000, base * 2 ** Math.min(this.kicks, 30));
      clearTimeout(this.stableTimer);
      this.stableTimer = setTimeout(() => {
        this.kicks = 0;
        client.options.reconnectPeriod = base;
      }, STABLE_CONNECTION_MS);
      this.stableTimer.unref();
    };
    connected();
    client.on('disconnect', (packet) => {
      this.lastReason = packet.properties?.reasonString ?? `DISCONNECT reason 0x${(packet.reasonCode ?? 0).toString(16)}`;
      this.takenOver = packet.reasonCode === SESSION_TAKEN_OVER;
    });
    client.on('error', (err) => {
      this.lastReason = err.message;
      // a reset or a broken pipe is the broker closing on us, as Mosquitto does to the loser of a
      // takeover when it had unread bytes from us (a subscribe just after CONNACK): not an error of
      // ours. If the broker is really gone, the next attempt fails to connect and resets the count.
      const code = (err as NodeJS.ErrnoException).code;
      const brokerClosed = code === 'ECONNRESET' || code === 'EPIPE';
      if (!brokerClosed) this.sawError = true;
      // the broker cannot be reached: nobody is taking our id. (A reset or broken pipe while connecting
      // is not that: Mosquitto drops a handshake that a takeover crossed, and the count must go on.)
      if (!this.up && !brokerClosed) this.kicks = 0;
    });
    client.on('close', () => {
      if (!this.up || this.closing) return;
      this.up = false;
      this.subscribed = false;
      clearTimeout(this.stableTimer);
      const soon = performance.now() - this.connectedAt < STABLE_CONNECTION_MS;
      this.kicks = this.takenOver || (soon && !this.sawError) ? this.kicks + 1 : 0;
      const takenOver = this.takenOver || this.kicks >= 2;
      handlers.connection?.({
        connected: false,
        reason: this.takenOver
          ? `DISCONNECT 0x8E: another connection took client id ${o.clientId}`
          : takenOver
            ? `closed by the broker ${this.kicks} times in a row soon after connecting, as Mosquitto does when another connection takes client id ${o.clientId}`
            : (this.lastReason ?? 'connection closed'),
        takenOver,
        retryInMs: client.options.reconnectPeriod,
      });
      this.takenOver = false;
      this.lastReason = undefined;
    });
    // after a reconnect with a clean session the subscriptions are gone: take them again, and only
    // then say connected (/healthz ok), since a request published before the SUBACK reaches no one
    client.on('connect', () => {
      connected();
      const attempt = ++this.attempts;
      subscribe().then(
        () => {
          if (attempt !== this.attempts || !this.up) return;
          this.subscribed = true;
          handlers.connection?.({ connected: true });
        },
        () => {}, // the connection closed under the subscribe: 'close' reports it, the next connect retries
      );
    });
  }

  async publish(topic: string, payload: string, opts: OutboundOptions = {}): Promise<void> {
    if (!this.client) throw new Error('transport not started');
    await this.client.publishAsync(topic, payload, {
      qos: opts.qos ?? 1,
      retain: opts.retain ?? false,
      ...(opts.correlationData ? { properties: { correlationData: opts.correlationData } } : {}),
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.stableTimer);
    // force when the connection is down: a clean end would wait for a broker that is not there
    if (this.client) await this.client.endAsync(!this.client.connected);
  }
}
