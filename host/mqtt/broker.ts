// The embedded MQTT broker (aedes 2 beta, MQTT 3.1.1 and 5) with wisp's security basics: users
// and roles (users.ts, auth.ts), TLS-only password logins when the users file says so, a login
// back-off per address and user after failures, topic ACLs (acl.ts), a packet size limit enforced
// while a packet is still arriving, and a token bucket per principal on inference requests
// (limits.ts). Listeners: plain TCP, TLS, and MQTT over WebSocket. The service (service.ts) runs in the same process and
// subscribes / publishes through `broker.aedes` directly, so none of these checks apply to it.
import { Aedes, type AedesPublishPacket, type Client, type PublishPacket } from 'aedes';
import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { checkDeviceName, isInferTopic, mayReceive, publishDenial, subscribeDenial, type Identity } from './acl.js';
import { patchAedes, type DeliveryControl } from './aedes-patches.js';
import { CONNACK, authenticate, type LoginRefusal } from './auth.js';
import { readWholeBuffer } from './read-whole.js';
import {
  DEFAULT_LOGIN_BACKOFF,
  LogThrottle,
  LoginBackoff,
  RateLimiter,
  checkLoginBackoff,
  checkRateLimit,
  type LoginBackoffPolicy,
  type RateLimit,
} from './limits.js';
import type { Backlog, FlowLimits } from './outbox.js';
import type { UserTable } from './users.js';

export type { Identity } from './acl.js';
export type { LoginRefusal } from './auth.js';
export { mayReplyTo, replyPrefixFor } from './acl.js';

/** A pino logger (or anything with its methods), or a plain function. */
export type BrokerLogger =
  | { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; debug?(obj: object, msg?: string): void; error?(obj: object, msg?: string): void }
  | ((msg: string, fields: Record<string, unknown>) => void);

export interface BrokerOptions {
  /** Interface to listen on; default '127.0.0.1' (loopback only, as Mosquitto 2); '0.0.0.0' or '::' opens it to the network. */
  host?: string;
  /** Plain MQTT over TCP; 0 = any free port; undefined = no plain listener. */
  tcpPort?: number;
  /** MQTT over WebSocket (browser dashboards), same 0 / undefined meaning. */
  wsPort?: number;
  /** MQTT over TLS. cert / key / ca: PEM text, a Buffer, or a path to a PEM file. */
  tls?: { port: number; cert: string | Buffer; key: string | Buffer; ca?: string | Buffer; requestCert?: boolean };
  /** Absent: anyone may connect, no ACL (the dev default). Present: user name + password required, ACL by role. */
  users?: UserTable;
  /** Topics are wisp/<device>/… */
  device: string;
  /** Largest publish payload accepted; default 1 MiB. */
  maxPayloadBytes?: number;
  /**
   * Largest packet read at all (default: maxPayloadBytes + 65 KiB). Publishes between the two are
   * read, refused and reported through onLimited with the packet; bigger ones cut the connection.
   */
  maxPacketBytes?: number;
  /** Token bucket on publishes to the infer topics, per user (per client id without a users table). */
  ratePerClient?: RateLimit;
  /** How failed logins slow the next ones (users table only); default DEFAULT_LOGIN_BACKOFF. */
  loginBackoff?: LoginBackoffPolicy;
  /** Counts refused and delayed logins (ServiceMetrics fits). */
  metrics?: BrokerMetrics;
  /** Per-client backlog limits (outbox.ts): when a client is behind, and when it is dropped. */
  flow?: Partial<FlowLimits>;
  log?: BrokerLogger;
}

export interface BrokerMetrics {
  loginRefused(reason: LoginRefusal): void;
  /** A login waited this long (back-off after failures) before its credentials were checked. */
  loginDelayed(seconds: number): void;
}

/**
 * What became of a client's session when its connection ended: `ends` with the connection
 * (MQTT 5 Session Expiry 0, 3.1.1 clean session), `kept` for a later connection (until it expires),
 * `taken_over` by a new connection with the same client id.
 */
export type SessionFate = 'ends' | 'kept' | 'taken_over';

/** Why onLimited fired. */
export type LimitReason = 'rate_limited' | 'payload_too_large';

export interface BrokerStats {
  /** Clients connected now. */
  connected: number;
  /** Refused CONNECTs, for any reason (throttled ones included). */
  authFailures: number;
  /** Logins that waited for the back-off before their credentials were checked. */
  loginsDelayed: number;
  deniedPublishes: number;
  deniedSubscriptions: number;
  /** Publishes over maxPayloadBytes, and packets over the packet size limit (connection dropped). */
  oversized: number;
  rateLimited: number;
}

export interface EmbeddedBroker {
  /** The service subscribes / publishes through it in-process (no ACL applies). */
  readonly aedes: Aedes;
  /** The ports actually bound. */
  readonly ports: { tcp?: number; ws?: number; tls?: number };
  /** Where a local client connects: mqtt://host:tcp, else mqtts://host:tls, else ws://host:ws. */
  readonly url: string;
  /** Counters since start (a live view). */
  readonly stats: Readonly<BrokerStats>;
  /**
   * Who a connected client is. Every client publish reaches in-process subscribers with
   * `packet.clientId` set by aedes (a client cannot forge it), so the service keys fairness and
   * reply topics by `identityOf(packet.clientId)`.
   */
  identityOf(clientId: string): Identity | undefined;
  /** `identityOf` the client that published `packet` (undefined for in-process publishes). */
  publisherOf(packet: AedesPublishPacket): Identity | undefined;
  /**
   * Why `packet` went through although over a limit: an MQTT 3.1.1 QoS 1/2 publish over the rate
   * limit is acknowledged (3.1.1 has no negative ack, and closing would lose the rate_limited
   * reply), so in-process subscribers must skip it. Undefined for every other packet.
   */
  limitOf(packet: PublishPacket): LimitReason | undefined;
  /** The wait the login back-off gives the next CONNECT from `address` as `user` now, in ms. */
  loginDelay(address: string, user?: string): number;
  /** Flow control: limits, counters, and what waits for a client. */
  readonly delivery: DeliveryControl;
  /**
   * Called after a client's connection is gone (its requests can be cancelled). `clean`: the client
   * sent DISCONNECT (it left on purpose) rather than losing its connection; `who`: its identity;
   * `session`: what became of its session.
   */
  onClientDisconnect(cb: (clientId: string, clean: boolean, who: Identity | undefined, session: SessionFate) => void): void;
  /**
   * Called when a session kept for an offline client ends: its expiry interval passed, or a new
   * connection with that client id started clean. `who`: the identity the session belonged to.
   */
  onSessionEnd(cb: (clientId: string, who: Identity | undefined, why: 'expired' | 'replaced') => void): void;
  /** Called when more is waiting for a client (connected, or its kept session) than the flow limits allow. */
  onClientBehind(cb: (clientId: string, who: Identity | undefined, backlog: Backlog) => void): void;
  /**
   * Called when a client's publish is dropped for a limit; `packet` is the dropped publish
   * (absent when the connection was cut for a packet over the size limit).
   */
  onLimited(cb: (clientId: string, reason: LimitReason, packet?: PublishPacket) => void): void;
  close(): Promise<void>;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
/** Room for the fixed header, topic (≤ 64 KiB) and MQTT 5 properties on top of the payload. */
const PACKET_OVERHEAD_BYTES = 64 * 1024 + 1024;

type Level = 'debug' | 'info' | 'warn' | 'error';
type Log = (level: Level, msg: string, fields?: Record<string, unknown>) => void;

function makeLog(logger: BrokerLogger | undefined): Log {
  if (!logger) return () => {};
  if (typeof logger === 'function') return (level, msg, fields = {}) => logger(msg, { level, ...fields });
  return (level, msg, fields = {}) => (logger[level] ?? logger.info).call(logger, { component: 'broker', ...fields }, msg);
}

function pem(value: string | Buffer | undefined): string | Buffer | undefined {
  if (value === undefined || Buffer.isBuffer(value) || value.includes('-----BEGIN')) return value;
  return readFileSync(value);
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startBroker(opts: BrokerOptions): Promise<EmbeddedBroker> {
  checkDeviceName(opts.device);
  const maxPayload = opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  if (!Number.isInteger(maxPayload) || maxPayload < 1) throw new Error(`maxPayloadBytes must be a positive integer, got ${maxPayload}`);
  if (opts.ratePerClient) checkRateLimit(opts.ratePerClient);
  // a packet up to maxPacket is read, so a too-big request still gets a payload_too_large reply with
  // its response topic; beyond it the connection is cut as soon as the header says the size
  const maxPacket = Math.max(opts.maxPacketBytes ?? 0, maxPayload + PACKET_OVERHEAD_BYTES);
  const host = opts.host ?? '127.0.0.1';
  const { device, users } = opts;
  const log = makeLog(opts.log);
  if (users?.require_tls && !opts.tls) {
    throw new Error('the users file requires TLS for logins (require_tls) but no TLS listener is configured (--tls-port, --tls-cert, --tls-key)');
  }
  const backoff = new LoginBackoff(opts.loginBackoff ?? DEFAULT_LOGIN_BACKOFF);
  checkLoginBackoff(backoff.policy);

  const stats: BrokerStats = { connected: 0, authFailures: 0, loginsDelayed: 0, deniedPublishes: 0, deniedSubscriptions: 0, oversized: 0, rateLimited: 0 };
  const identities = new WeakMap<Client, Identity>();
  const connected = new Map<string, { client: Client; identity: Identity }>();
  const limiter = opts.ratePerClient ? new RateLimiter(opts.ratePerClient) : undefined;
  const throttle = new LogThrottle();
  const disconnectCallbacks: ((clientId: string, clean: boolean, who: Identity | undefined, session: SessionFate) => void)[] = [];
  const sessionEndCallbacks: ((clientId: string, who: Identity | undefined, why: 'expired' | 'replaced') => void)[] = [];
  const behindCallbacks: ((clientId: string, who: Identity | undefined, backlog: Backlog) => void)[] = [];
  /** Client ids whose session outlived their last connection, and whose it was. */
  const keptSessions = new Map<string, Identity | undefined>();
  /** Publishes let through over a limit (see limitOf). */
  const limitedPackets = new WeakSet<PublishPacket>();
  /** The remote address of each connection (a WebSocket's comes from its HTTP request). */
  const addresses = new WeakMap<Duplex, string>();
  /** Connections that came in on the TLS listener. */
  const secure = new WeakSet<Duplex>();
  const limitedCallbacks: ((clientId: string, reason: LimitReason, packet?: PublishPacket) => void)[] = [];

  /** The key a rate limit and a log throttle count under: the user, so new client ids do not reset it. */
  const principal = (who: Identity) => (who.username !== undefined ? `user:${who.username}` : `client:${who.clientId}`);

  function limited(clientId: string, reason: LimitReason, packet?: PublishPacket): void {
    notify(limitedCallbacks, 'onLimited', clientId, reason, packet);
  }

  function notify<A extends unknown[]>(callbacks: Array<(...args: A) => void>, name: string, ...args: A): void {
    for (const cb of callbacks) {
      try {
        cb(...args);
      } catch (err) {
        log('error', `${name} callback threw`, { err: (err as Error).message });
      }
    }
  }

  /** Logs a refusal, at most once a second per (kind, principal), with the count suppressed since. */
  function logRefusal(kind: string, who: Identity | undefined, msg: string, fields: Record<string, unknown>): void {
    const suppressed = throttle.admit(`${kind}:${who ? principal(who) : '?'}`);
    if (suppressed === null) return;
    log('warn', msg, { clientId: who?.clientId, user: who?.username, ...fields, ...(suppressed > 0 ? { suppressed } : {}) });
  }

  const aedes = await Aedes.createBroker({
    maximumPacketSize: maxPacket,
    maxClientsIdLength: 128,
    connectTimeout: 10_000,

    authenticate(client, username, password, done) {
      const conn = (client as Client & { conn: Duplex }).conn;
      const address = addresses.get(conn) ?? 'unknown';
      const refuse = (refusal: LoginRefusal, returnCode: number, reason: string) => {
        stats.authFailures += 1;
        opts.metrics?.loginRefused(refusal);
        // at most a line a second per kind, address and user: a password flood is a few lines, with counts
        logRefusal(`login:${refusal}:${address}:${username ?? ''}`, undefined, 'connection refused', { clientId: client.id, user: username, address, reason });
        done(Object.assign(new Error(reason), { returnCode }), false);
      };
      const check = () =>
        authenticate(users, client.id, username, password, (id) => connected.get(id)?.identity.username, secure.has(conn));
      if (!users) {
        identities.set(client, { clientId: client.id, role: 'anonymous' }); // no users table: everyone, no ACL
        return done(null, true);
      }
      const user = username || undefined;
      const wait = backoff.start(address, user);
      if (wait === null) {
        return refuse('throttled', CONNACK.SERVER_UNAVAILABLE, 'too many failed logins from this address: try again later');
      }
      if (wait > 0) {
        stats.loginsDelayed += 1;
        opts.metrics?.loginDelayed(wait / 1000);
      }
      const timer = setTimeout(() => {
        check().then(
          (result) => {
            backoff.end(address, user, result.ok ? 'ok' : result.refusal === 'bad_credentials' ? 'failed' : 'other');
            if (!result.ok) return refuse(result.refusal, result.returnCode, result.reason);
            identities.set(client, result.identity);
            done(null, true);
          },
          (err: Error) => {
            backoff.end(address, user, 'other');
            log('error', 'authentication failed', { clientId: client.id, err: err.message });
            done(Object.assign(new Error('server unavailable'), { returnCode: CONNACK.SERVER_UNAVAILABLE }), false);
          },
        );
      }, wait);
      timer.unref();
    },

    // A refused publish is never delivered. How the client hears of it: MQTT 5 QoS 1/2 get a
    // PUBACK/PUBREC with 0x87 and the reason as Reason String (aedes does this for an error here);
    // a 3.1.1 QoS 1/2 publish closes the connection, as 3.1.1 has no negative ack
    // ([MQTT-3.3.5-2]: ack positively or close); QoS 0 is dropped silently, connection kept.
    authorizePublish(client, packet, done) {
      if (!client) return done(null); // a will published by the broker itself
      const who = identities.get(client);
      let kind: 'denied' | LimitReason = 'denied';
      let reason = who ? publishDenial(who, device, packet.topic, packet.retain) : 'not authenticated';
      if (!reason && packet.payload.length > maxPayload) {
        kind = 'payload_too_large';
        reason = `payload of ${packet.payload.length} bytes is over the limit of ${maxPayload}`;
      }
      if (!reason && who && limiter && isInferTopic(device, packet.topic) && !limiter.take(principal(who))) {
        kind = 'rate_limited';
        reason = `rate limited: over ${limiter.limit.messagesPerSecond} requests/s (burst ${limiter.limit.burst})`;
      }
      if (!reason) return done(null);

      if (kind === 'denied') stats.deniedPublishes += 1;
      else if (kind === 'payload_too_large') stats.oversized += 1;
      else stats.rateLimited += 1;
      logRefusal(kind, who, kind === 'rate_limited' ? 'publish dropped: rate limited' : 'publish refused', {
        topic: packet.topic,
        qos: packet.qos,
        reason,
      });
      if (kind !== 'denied') limited(client.id, kind, packet);

      // MQTT 3.1.1 QoS 1/2 over the rate limit: acknowledged and marked rather than refused, since
      // refusing closes a 3.1.1 connection and its rate_limited reply would go nowhere
      if (kind === 'rate_limited' && client.version !== 5 && packet.qos > 0) {
        limitedPackets.add(packet);
        return done(null);
      }
      // QoS 0 from a live connection: aedes (pinned 2.0.0-beta.1) skips the publish of a packet
      // marked _notAuthorized without acking or closing. Not for a will (published from close(),
      // where the mark is not looked at): a will is refused with the error.
      if (packet.qos === 0 && packet.cmd === 'publish' && !client.closed) {
        (packet as PublishPacket & { _notAuthorized?: boolean })._notAuthorized = true;
        return done(null);
      }
      done(new Error(reason));
    },

    authorizeSubscribe(client, sub, done) {
      const who = identities.get(client);
      const reason = who ? subscribeDenial(who, device, sub.topic) : 'not authenticated';
      if (!reason) return done(null, sub);
      stats.deniedSubscriptions += 1;
      logRefusal('subscribe', who, 'subscription refused', { topic: sub.topic, reason });
      done(null, null); // SUBACK 0x87 (MQTT 5) / 0x80 (3.1.1) for this filter; the others are unaffected
    },

    // Checked again at delivery: also covers messages queued for a persistent session that another
    // user resumes.
    authorizeForward(client, packet) {
      const who = identities.get(client);
      return who && mayReceive(who, device, packet.topic) ? packet : null;
    },
  });

  // a connected client's backlog, or its kept session's while it is away
  const behind = (clientId: string, backlog: Backlog) => notify(behindCallbacks, 'onClientBehind', clientId, connected.get(clientId)?.identity ?? keptSessions.get(clientId), backlog);
  const delivery = patchAedes(aedes, { behind, log }, opts.flow);
  aedes.on('sessionExpired', (client: Client) => {
    keptSessions.delete(client.id);
    notify(sessionEndCallbacks, 'onSessionEnd', client.id, identities.get(client), 'expired' as const);
  });

  aedes.on('client', (client: Client) => {
    // Clean Start discards a kept session ([MQTT-3.1.2-4]); without it the session resumes
    const kept = keptSessions.has(client.id) ? { who: keptSessions.get(client.id) } : undefined;
    keptSessions.delete(client.id);
    if (kept && (client as Client & { _cleanStart?: boolean })._cleanStart) {
      notify(sessionEndCallbacks, 'onSessionEnd', client.id, kept.who, 'replaced' as const);
    }
    const identity = identities.get(client) ?? { clientId: client.id, role: 'anonymous' as const };
    connected.set(client.id, { client, identity });
    stats.connected = connected.size;
    log('debug', 'client connected', { clientId: client.id, user: identity.username, role: identity.role, version: client.version });
  });
  aedes.on('clientDisconnect', (client: Client) => {
    if (connected.get(client.id)?.client === client) connected.delete(client.id);
    stats.connected = connected.size;
    const who = identities.get(client);
    if (who && who.username === undefined) limiter?.forget(principal(who));
    log('debug', 'client disconnected', { clientId: client.id, reasonCode: client.disconnectReasonCode });
    // aedes sets _disconnected when a DISCONNECT packet arrived (its types leave the field out)
    const clean = (client as Client & { _disconnected?: boolean })._disconnected === true;
    const session = sessionFate(aedes, client);
    if (session === 'kept') keptSessions.set(client.id, who);
    notify(disconnectCallbacks, 'onClientDisconnect', client.id, clean, who, session);
  });
  const onClientError = (client: Client | null, err: Error & { size?: number; maximumPacketSize?: number }) => {
    if (err.maximumPacketSize !== undefined) {
      stats.oversized += 1;
      const who = client ? identities.get(client) : undefined;
      logRefusal('packet_too_large', who, 'connection dropped: packet too large', { size: err.size, limit: err.maximumPacketSize });
      if (client?.id) limited(client.id, 'payload_too_large');
      return;
    }
    log('debug', 'client error', { clientId: client?.id, err: err.message });
  };
  aedes.on('clientError', onClientError);
  aedes.on('connectionError', onClientError);
  // persistence failures (aedes types leave 'error' out of its event list)
  (aedes as EventEmitter).on('error', (err: Error) => log('error', 'broker error', { err: err.message }));

  // ---- listeners -------------------------------------------------------------------------------
  const sockets = new Set<Duplex>();
  const servers: { server: Server | HttpServer; wss?: WebSocketServer }[] = [];
  const ports: { tcp?: number; ws?: number; tls?: number } = {};
  const serve = (socket: Duplex & Partial<Pick<Socket, 'setNoDelay' | 'remoteAddress'>>, req?: Parameters<Aedes['handle']>[1], tls = false) => {
    sockets.add(socket);
    const address = socket.remoteAddress ?? (req as { socket?: Socket } | undefined)?.socket?.remoteAddress;
    if (address) addresses.set(socket, address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, ''));
    if (tls) secure.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.setNoDelay?.(true); // tokens are small writes; do not wait to coalesce them
    readWholeBuffer(socket); // Node 26 (read-whole.ts)
    aedes.handle(socket, req);
  };

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    closing ??= (async () => {
      const closed = servers.map(
        ({ server }) => new Promise<void>((resolve) => server.close(() => resolve())),
      );
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      for (const { server, wss } of servers) {
        for (const ws of wss?.clients ?? []) ws.terminate();
        wss?.close();
        if ('closeAllConnections' in server) server.closeAllConnections();
      }
      for (const socket of sockets) socket.destroy(); // never sent CONNECT, or not yet closed
      await Promise.all(closed);
    })();
    return closing;
  }

  try {
    if (opts.tcpPort !== undefined) {
      const server = createNetServer((socket) => serve(socket));
      servers.push({ server });
      ports.tcp = await listen(server, opts.tcpPort, host);
    }
    if (opts.tls) {
      const t = opts.tls;
      const server = createTlsServer(
        { cert: pem(t.cert), key: pem(t.key), ca: pem(t.ca), requestCert: t.requestCert ?? false, rejectUnauthorized: t.requestCert ?? false },
        (socket) => serve(socket, undefined, true),
      );
      // a plain-TCP client, a failed handshake, an untrusted client certificate: that socket only
      server.on('tlsClientError', (err, socket) => {
        log('info', 'TLS handshake failed', { remote: socket.remoteAddress, err: err.message });
        socket.destroy();
      });
      servers.push({ server });
      ports.tls = await listen(server, t.port, host);
    }
    if (opts.wsPort !== undefined) {
      const server = createHttpServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
        res.end('wisp: MQTT over WebSocket here; connect with the "mqtt" subprotocol\n');
      });
      const wss = new WebSocketServer({
        server,
        // one MQTT packet per WebSocket message from mqtt.js and browsers: the same size limit
        maxPayload: maxPacket,
        perMessageDeflate: false,
        handleProtocols: (offered) => (offered.has('mqtt') ? 'mqtt' : offered.has('mqttv3.1') ? 'mqttv3.1' : false),
      });
      wss.on('connection', (ws, req) => serve(createWebSocketStream(ws), req));
      wss.on('error', (err) => log('error', 'WebSocket server error', { err: err.message }));
      servers.push({ server, wss });
      ports.ws = await listen(server, opts.wsPort, host);
    }
  } catch (err) {
    await close();
    throw err;
  }
  for (const { server } of servers) server.on('error', (err) => log('error', 'listener error', { err: err.message }));

  const url =
    ports.tcp !== undefined ? `mqtt://${urlHost(host)}:${ports.tcp}`
    : ports.tls !== undefined ? `mqtts://${urlHost(host)}:${ports.tls}`
    : ports.ws !== undefined ? `ws://${urlHost(host)}:${ports.ws}`
    : '';
  // the logger already names the device on every line
  log('info', 'broker listening', { host, ...ports, auth: users ? `${Object.keys(users.users).length} users${users.require_tls ? ', TLS only' : ''}` : 'anonymous', maxPayload });

  return {
    aedes,
    ports,
    url,
    stats,
    identityOf: (clientId) => connected.get(clientId)?.identity,
    // aedes sets clientId on every packet a client publishes (emitPacket); its types leave it out
    publisherOf: (packet) => {
      const clientId = (packet as { clientId?: string }).clientId;
      return clientId === undefined ? undefined : connected.get(clientId)?.identity;
    },
    delivery,
    limitOf: (packet) => (limitedPackets.has(packet) ? 'rate_limited' : undefined),
    loginDelay: (address, user) => backoff.delay(address, user),
    onClientDisconnect: (cb) => void disconnectCallbacks.push(cb),
    onSessionEnd: (cb) => void sessionEndCallbacks.push(cb),
    onClientBehind: (cb) => void behindCallbacks.push(cb),
    onLimited: (cb) => void limitedCallbacks.push(cb),
    close,
  };
}

/** What becomes of a client's session as its connection ends (aedes.scheduleSessionExpiry's rule). */
function sessionFate(aedes: Aedes, client: Client): SessionFate {
  // a new connection with this id is taking the session over (aedes marks it while the old one closes)
  if ((aedes as Aedes & { _takingOver?: Set<string> })._takingOver?.has(client.id)) return 'taken_over';
  // MQTT 5: the Session Expiry Interval (a DISCONNECT may have changed it); 3.1.x: the clean flag
  if (client.version === 5) return client.sessionExpiryInterval > 0 ? 'kept' : 'ends';
  return client.clean ? 'ends' : 'kept';
}
