// How the service meets the broker. Embedded: in the broker's own process, reading publishes off
// aedes (which knows the sending connection, so fairness, ACL users and disconnect-cancels are
// keyed by the real client) and publishing into it. External: an mqtt.js MQTT 5 client with a Last
// Will on the status topic, TLS and credentials, joining fleet shared subscriptions.
import type { AedesPublishPacket, Client as AedesClient, PublishPacket } from 'aedes';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { EmbeddedBroker, LimitReason } from './broker.js';
import type { Backlog } from './outbox.js';

export interface InboundMessage {
  topic: string;
  payload: Buffer;
  qos: number;
  /** The publishing connection's client id (embedded broker only). */
  clientId?: string;
  /** The authenticated user of that connection (embedded broker with users only). */
  user?: string;
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
  /** A client's connection was lost and its session with it, or its kept session ended (embedded broker only). */
  clientGone(clientId: string): void;
  /** More is waiting for a client than it reads (embedded broker only): stop producing for it. */
  clientBehind(clientId: string, backlog: Backlog): void;
  /** The broker refused a publish for a limit before it reached the service (embedded broker only). */
  dropped(m: InboundMessage, reason: LimitReason): void;
}

export interface Transport {
  /** e.g. "embedded broker on mqtt://0.0.0.0:1883" */
  readonly description: string;
  /** True when clientId/user on inbound messages come from the broker (and cannot be spoofed). */
  readonly knowsClients: boolean;
  start(handlers: TransportHandlers, subscriptions: string[]): Promise<void>;
  publish(topic: string, payload: string, opts?: OutboundOptions): Promise<void>;
  close(): Promise<void>;
}

/** The service inside the embedded aedes broker. */
export class EmbeddedTransport implements Transport {
  readonly knowsClients = true;
  readonly description: string;
  private onPublish?: (packet: AedesPublishPacket, client: AedesClient | null) => void;
  private detached = false;

  constructor(private readonly broker: EmbeddedBroker) {
    this.description = `embedded broker on ${broker.url}`;
  }

  async start(handlers: TransportHandlers, subscriptions: string[]): Promise<void> {
    const wanted = new Set(subscriptions);
    this.onPublish = (packet, client) => {
      if (!client || !wanted.has(packet.topic)) return; // our own publishes have no client
      handlers.message(this.inbound(packet, client.id));
    };
    this.broker.aedes.on('publish', this.onPublish);
    // docs/PROTOCOL.md "Delivery": a client that sent DISCONNECT left on purpose, its requests go on
    // (mosquitto_pub + mosquitto_sub work that way); a lost connection takes its requests with it
    // only if its session ends with it; a kept session keeps them until it expires or is replaced
    this.broker.onClientDisconnect((clientId, clean, session) => {
      if (!clean && session === 'ends' && !this.detached) handlers.clientGone(clientId);
    });
    this.broker.onSessionEnd((clientId) => {
      if (!this.detached) handlers.clientGone(clientId);
    });
    this.broker.onClientBehind((clientId, backlog) => {
      if (!this.detached) handlers.clientBehind(clientId, backlog);
    });
    this.broker.onLimited((clientId, reason, packet) => {
      if (packet && !this.detached) handlers.dropped(this.inbound(packet, clientId), reason);
    });
  }

  private inbound(packet: PublishPacket, clientId: string): InboundMessage {
    const props = (packet as { properties?: { responseTopic?: string; correlationData?: Buffer } }).properties;
    return {
      topic: packet.topic,
      payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
      qos: packet.qos,
      clientId,
      user: this.broker.identityOf(clientId)?.username,
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
}

/** The service as an MQTT 5 client of an external broker (Mosquitto, EMQX, ...). */
export class ClientTransport implements Transport {
  readonly knowsClients = false;
  readonly description: string;
  private client?: MqttClient;

  constructor(private readonly opts: ExternalBrokerOptions) {
    this.description = `external broker ${opts.url}`;
  }

  async start(handlers: TransportHandlers, subscriptions: string[]): Promise<void> {
    const o = this.opts;
    const options: IClientOptions = {
      protocolVersion: 5,
      clientId: o.clientId,
      clean: true,
      reconnectPeriod: 1000,
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
        responseTopic: props?.responseTopic,
        correlationData: props?.correlationData,
      });
    });
    await client.subscribeAsync(subscriptions, { qos: 1 });
    // after a reconnect with a clean session the subscriptions are gone: take them again
    client.on('connect', (ack) => {
      if (!ack.sessionPresent) void client.subscribeAsync(subscriptions, { qos: 1 }).catch(() => {});
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
    // force when the connection is down: a clean end would wait for a broker that is not there
    if (this.client) await this.client.endAsync(!this.client.connected);
  }
}
