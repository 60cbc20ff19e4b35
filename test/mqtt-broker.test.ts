// The embedded broker (host/mqtt/broker.ts) with real clients over real sockets: mqtt.js speaking
// MQTT 5 and 3.1.1 over TCP, TLS and WebSocket, raw sockets for packets mqtt.js would not send,
// and mosquitto_pub / mosquitto_sub when installed. Plus the pure parts: users file, ACL, buckets.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { AedesPublishPacket } from 'aedes';
import { CLI } from './helpers/paths.js';
import { selfSignedCert, tryConnect } from './helpers/mqtt.js';
import { startBroker, type EmbeddedBroker, type LimitReason } from '../host/mqtt/broker.js';
import { filterCovers, mayReplyTo, replyPrefixFor, subscribeDenial, publishDenial, topicMatches } from '../host/mqtt/acl.js';
import { DEFAULT_LOGIN_BACKOFF, TokenBucket } from '../host/mqtt/limits.js';
import { UsersError, checkCredentials, hashPassword, loadUsers, parseUsers, verifyPassword, type UserTable } from '../host/mqtt/users.js';

const DEVICE = 'dev1';
const MAX_PAYLOAD = 64 * 1024;
const RATE = { messagesPerSecond: 10, burst: 5 };
const PASSWORDS: Record<string, string> = { alice: 'alice-pw', bob: 'bob-pw', ops: 'ops-pw', flood: 'flood-pw', big: 'big-pw' };
const ROLE: Record<string, 'client' | 'operator'> = { alice: 'client', bob: 'client', ops: 'operator', flood: 'client', big: 'client' };

// ---- the pure parts ------------------------------------------------------------------------------

function usersError(data: unknown): UsersError {
  try {
    parseUsers(data, 'users.json');
  } catch (err) {
    assert.instance(err, UsersError);
    return err as UsersError;
  }
  throw new Error('expected the users file to be rejected');
}

test('users file: each bad field is named in the error', async () => {
  const good = await hashPassword('x');
  const err = usersError({ require_tls: 'yes', users: { alice: { role: 'admin', password: good }, bob: { role: 'client', password: 'hunter2' }, carol: { role: 'client' }, 'a/b': { role: 'client', password: good } }, extra: 1 });
  const text = err.problems.join('\n');
  assert.match(text, 'users.alice.role: "admin" is not a role (one of client, operator)');
  assert.match(text, 'users.bob.password: not a password hash of the form scrypt$');
  assert.match(text, 'users.carol: missing required field "password"');
  assert.match(text, 'user name "a/b" is not allowed');
  assert.match(text, 'top level: unknown field "extra"');
  assert.match(text, 'require_tls: must be boolean');
  assert.match(err.message, 'invalid users file users.json');
  assert.equal(parseUsers({ users: { alice: { role: 'client', password: good } } }).users.alice.role, 'client');
  assert.is(parseUsers({ require_tls: true, users: {} }).require_tls, true);
});

test('hashPassword / verifyPassword: scrypt$salt$hash, right password only, fresh salt each time', async () => {
  const h = await hashPassword('s3cret');
  assert.match(h, /^scrypt\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
  assert.ok(await verifyPassword('s3cret', h));
  assert.not.ok(await verifyPassword('s3cret ', h));
  assert.not.ok(await verifyPassword('s3cret', 'scrypt$AAAA$AAAA'));
  assert.not.ok(await verifyPassword('s3cret', 'plain'));
  assert.is.not(await hashPassword('s3cret'), h);
  const table: UserTable = { users: { alice: { role: 'operator', password: h } } };
  assert.is(await checkCredentials(table, 'alice', Buffer.from('s3cret')), 'operator');
  assert.is(await checkCredentials(table, 'alice', 'nope'), null);
  assert.is(await checkCredentials(table, 'mallory', 's3cret'), null);
  assert.is(await checkCredentials(table, 'constructor', 's3cret'), null);
});

test('filterCovers: a subscription may only reach topics its allowed filter reaches', () => {
  const own = 'wisp/d/reply/alice/#';
  for (const f of ['wisp/d/reply/alice/#', 'wisp/d/reply/alice/+', 'wisp/d/reply/alice/r1', 'wisp/d/reply/alice/+/x', 'wisp/d/reply/alice']) {
    assert.ok(filterCovers(own, f), f);
  }
  for (const f of ['wisp/#', '#', 'wisp/+/reply/#', 'wisp/d/reply/+/r1', 'wisp/d/reply/#', 'wisp/d/reply/bob/#', 'wisp/d/reply/alice2/#', '+/d/reply/alice/x']) {
    assert.not.ok(filterCovers(own, f), f);
  }
  assert.ok(filterCovers('wisp/d/status', 'wisp/d/status'));
  assert.not.ok(filterCovers('wisp/d/status', 'wisp/d/+'));
  assert.ok(filterCovers('wisp/+/x', 'wisp/+/x'));
  assert.ok(topicMatches('wisp/d/control/#', 'wisp/d/control'));
  assert.not.ok(topicMatches('#', '$SYS/x'));
});

test('ACL rules by role', () => {
  const alice = { clientId: 'c1', username: 'alice', role: 'client' as const };
  const ops = { clientId: 'c2', username: 'ops', role: 'operator' as const };
  assert.is(publishDenial(alice, 'd', 'wisp/d/infer', false), null);
  assert.is(publishDenial(alice, 'd', 'wisp/d/cancel', false), null);
  assert.is(publishDenial(alice, 'd', 'wisp/fleet/infer', false), null);
  assert.ok(publishDenial(alice, 'd', 'wisp/d/infer', true), 'a retained request would replay');
  assert.ok(publishDenial(alice, 'd', 'wisp/d/control/kernels', false));
  assert.ok(publishDenial(alice, 'd', 'wisp/d/reply/bob/1', false), 'no forged replies');
  assert.ok(publishDenial(alice, 'd', 'wisp/other/infer', false));
  assert.is(publishDenial(ops, 'd', 'wisp/d/control/kernels/swap', false), null);
  assert.ok(publishDenial(ops, 'd', 'wisp/d/reply/bob/1', false));
  assert.is(subscribeDenial(alice, 'd', 'wisp/d/status'), null);
  assert.ok(subscribeDenial(alice, 'd', 'wisp/d/#'));
  assert.is(subscribeDenial(ops, 'd', 'wisp/d/#'), null);
  assert.ok(subscribeDenial(ops, 'd', 'wisp/#'));
  assert.is(publishDenial({ clientId: 'x', role: 'anonymous' }, 'd', 'anything/at/all', true), null);
  assert.ok(publishDenial({ clientId: 'x', role: 'anonymous' }, 'd', '$SYS/x', false));
  // every $ topic, not only aedes' $SYS/ (see the rule's comment)
  assert.ok(publishDenial({ clientId: 'x', role: 'anonymous' }, 'd', '$CONTROL/dynamic-security/v1', false));
  assert.ok(publishDenial({ clientId: 'x', role: 'anonymous' }, 'd', '$share/g/wisp/fleet/infer', false));
});

test('replyPrefixFor / mayReplyTo: replies stay under the requesting user', () => {
  assert.is(replyPrefixFor('d', 'alice'), 'wisp/d/reply/alice/');
  assert.ok(mayReplyTo('d', 'alice', 'wisp/d/reply/alice/42'));
  assert.ok(mayReplyTo('d', 'alice', 'wisp/d/reply/alice/app/42'));
  for (const t of ['wisp/d/reply/alice/', 'wisp/d/reply/alice', 'wisp/d/reply/alice2/1', 'wisp/d/reply/bob/1', 'wisp/d/reply/alice/+', 'wisp/d/infer', 'elsewhere/1']) {
    assert.not.ok(mayReplyTo('d', 'alice', t), t);
  }
  // no users table: anywhere but back into the device's own (or the fleet's) request topics
  assert.ok(mayReplyTo('d', undefined, 'app/replies/1'));
  assert.ok(mayReplyTo('d', undefined, 'wisp/d/reply/x/1'));
  for (const t of ['wisp/d/infer', 'wisp/d/control/x', 'wisp/fleet/infer', '$SYS/x', 'a/#', '']) {
    assert.not.ok(mayReplyTo('d', undefined, t), t);
  }
  // nor into another device's request, cancel, status or control topics
  for (const t of ['wisp/other/infer', 'wisp/other/cancel', 'wisp/other/status', 'wisp/other/control', 'wisp/other/control/kernels/swap']) {
    assert.not.ok(mayReplyTo('d', undefined, t), t);
  }
  for (const t of ['wisp/other/reply/1', 'wisp/app/infer/answers', 'wisp/other/inference']) assert.ok(mayReplyTo('d', undefined, t), t);
});

test('TokenBucket: burst at once, then the sustained rate', () => {
  const b = new TokenBucket({ messagesPerSecond: 10, burst: 3 }, 0);
  assert.equal([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false]);
  assert.not.ok(b.take(50));
  assert.ok(b.take(100));
  assert.not.ok(b.take(100));
  assert.equal([b.take(10_000), b.take(10_000), b.take(10_000), b.take(10_000)], [true, true, true, false]);
});

// ---- the broker over real sockets ----------------------------------------------------------------

let broker: EmbeddedBroker;
let tmp: string;
let cert: string;
const logLines: { msg: string; fields: Record<string, unknown> }[] = [];
const limitedEvents: { clientId: string; reason: LimitReason }[] = [];
const disconnected: string[] = [];
/** What the in-process "service" received on wisp/dev1/infer. */
const inbox: AedesPublishPacket[] = [];
const clients: MqttClient[] = [];

test.before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'wisp-broker-'));
  cert = selfSignedCert(tmp).cert;
  const users: UserTable = { users: {} };
  for (const [name, pw] of Object.entries(PASSWORDS)) users.users[name] = { role: ROLE[name], password: await hashPassword(pw) };
  broker = await startBroker({
    host: '127.0.0.1',
    tcpPort: 0,
    wsPort: 0,
    tls: { port: 0, cert, key: join(tmp, 'key.pem') }, // PEM text and a path both work
    users,
    device: DEVICE,
    maxPayloadBytes: MAX_PAYLOAD,
    ratePerClient: RATE,
    // every client here comes from 127.0.0.1 and some get passwords wrong on purpose: no back-off
    // (mqtt-security.test.ts tests it on a broker of its own)
    loginBackoff: { ...DEFAULT_LOGIN_BACKOFF, freeFailures: 1000 },
    log: (msg, fields) => void logLines.push({ msg, fields }),
  });
  broker.onLimited((clientId, reason) => void limitedEvents.push({ clientId, reason }));
  broker.onClientDisconnect((clientId) => void disconnected.push(clientId));
  await new Promise<void>((resolve) => broker.aedes.subscribe(`wisp/${DEVICE}/infer`, (p, cb) => (inbox.push(p), cb()), resolve));
});

test.after(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
  await broker?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function client(user: string | null, opts: IClientOptions = {}, url = broker.url): Promise<MqttClient> {
  const c = await connectAsync(url, {
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...(user ? { username: user, password: PASSWORDS[user] } : {}),
    ...opts,
  });
  clients.push(c);
  return c;
}

function refusedCode(user: string, password: string | undefined, protocolVersion: 4 | 5): Promise<'connected' | 'closed' | number> {
  return tryConnect(broker.url, { protocolVersion, username: user, password });
}

/** The failure code in the SUBACK that mqtt.js rejected a subscribeAsync with. */
function subackCode(err: unknown): number | undefined {
  return (err as { packet?: { granted?: number[] } }).packet?.granted?.[0];
}

/** Resolves with the next message on `topic` for `c`, or rejects after `ms`. */
function nextMessage(c: MqttClient, topic: string, ms = 3000): Promise<IPublishPacket> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (c.off('message', on), reject(new Error(`no message on ${topic} in ${ms} ms`))), ms);
    const on = (t: string, _payload: Buffer, packet: IPublishPacket) => {
      if (t !== topic) return;
      clearTimeout(timer);
      c.off('message', on);
      resolve(packet);
    };
    c.on('message', on);
  });
}

/** Whether the service gets a message with this payload within `ms`. */
async function serviceGets(payload: string, ms = 1500): Promise<AedesPublishPacket | undefined> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const p = inbox.find((m) => m.payload.toString() === payload);
    if (p) return p;
    await sleep(10);
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The service publishing in-process (not subject to the ACL). */
function servicePublish(topic: string, payload: string): Promise<void> {
  return new Promise((resolve, reject) => broker.aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false }, (err) => (err ? reject(err) : resolve())));
}

test('wrong password, unknown user and no credentials are refused (MQTT 5 and 3.1.1)', async () => {
  assert.is(await refusedCode('alice', 'wrong', 5), 0x86);
  assert.is(await refusedCode('alice', 'wrong', 4), 4);
  assert.is(await refusedCode('mallory', 'alice-pw', 5), 0x86);
  assert.is(await refusedCode('alice', undefined, 5), 0x87);
  assert.ok(broker.stats.authFailures >= 4);
  assert.ok(logLines.some((l) => l.msg === 'connection refused' && l.fields.user === 'mallory'));
});

test('a client publishes to infer (the service sees who); not to control/#: PUBACK 0x87, not delivered', async () => {
  const alice = await client('alice');
  await alice.publishAsync(`wisp/${DEVICE}/infer`, 'alice-req-1', { qos: 1 });
  const got = await serviceGets('alice-req-1');
  assert.ok(got, 'the service received the request');
  assert.equal(broker.publisherOf(got!), { clientId: alice.options.clientId, username: 'alice', role: 'client' });

  const ops = await client('ops');
  await ops.subscribeAsync(`wisp/${DEVICE}/control/#`);
  const watched = nextMessage(ops, `wisp/${DEVICE}/control/kernels`, 500).catch(() => null);
  const err = await alice.publishAsync(`wisp/${DEVICE}/control/kernels`, 'swap', { qos: 1 }).then(() => null, (e: unknown) => e as { code?: number });
  assert.is(err?.code, 0x87, 'negative PUBACK');
  assert.is(await watched, null, 'the control message was not delivered');
  assert.ok(alice.connected, 'an MQTT 5 client stays connected after a refused publish');
  assert.ok(logLines.some((l) => l.msg === 'publish refused' && l.fields.topic === `wisp/${DEVICE}/control/kernels`));
});

test('MQTT 3.1.1: a refused QoS 0 publish is dropped (connection kept); a refused QoS 1 closes the connection', async () => {
  const v4 = await client('bob', { protocolVersion: 4 });
  const ops = await client('ops');
  await ops.subscribeAsync(`wisp/${DEVICE}/control/#`);
  const watched = nextMessage(ops, `wisp/${DEVICE}/control/x`, 500).catch(() => null);
  v4.publish(`wisp/${DEVICE}/control/x`, 'q0', { qos: 0 });
  await v4.publishAsync(`wisp/${DEVICE}/infer`, 'bob-after-q0', { qos: 1 });
  assert.ok(await serviceGets('bob-after-q0'), 'still connected and served after the dropped QoS 0');
  assert.is(await watched, null);
  const closed = new Promise<void>((resolve) => v4.once('close', () => resolve()));
  v4.publish(`wisp/${DEVICE}/control/x`, 'q1', { qos: 1 });
  await closed;
});

test('a client cannot subscribe to other users\' replies, wisp/# or wisp/+/reply/#; it gets its own', async () => {
  const alice = await client('alice');
  for (const filter of [`wisp/${DEVICE}/reply/bob/#`, 'wisp/#', 'wisp/+/reply/#', `wisp/${DEVICE}/#`, '#', `wisp/${DEVICE}/reply/+/x`]) {
    const granted = await alice.subscribeAsync(filter).then((g) => g[0].qos, subackCode);
    assert.is(granted, 0x87, filter);
  }
  const v4 = await client('alice', { protocolVersion: 4 });
  const g4 = await v4.subscribeAsync('wisp/#').then((g) => g[0].qos, subackCode);
  assert.is(g4, 128, 'MQTT 3.1.1 SUBACK failure');

  await alice.subscribeAsync([`${replyPrefixFor(DEVICE, 'alice')}#`, `wisp/${DEVICE}/status`]);
  const mine = nextMessage(alice, `${replyPrefixFor(DEVICE, 'alice')}r1`);
  const notMine = nextMessage(alice, `${replyPrefixFor(DEVICE, 'bob')}r1`, 500).catch(() => null);
  await servicePublish(`${replyPrefixFor(DEVICE, 'bob')}r1`, 'for bob');
  await servicePublish(`${replyPrefixFor(DEVICE, 'alice')}r1`, 'for alice');
  assert.is((await mine).payload.toString(), 'for alice');
  assert.is(await notMine, null);
  assert.ok(broker.stats.deniedSubscriptions >= 7);
});

test('an operator publishes and subscribes control/# and sees everything under wisp/<device>/#', async () => {
  const ops = await client('ops');
  await ops.subscribeAsync(`wisp/${DEVICE}/#`);
  const ctl = nextMessage(ops, `wisp/${DEVICE}/control/kernels/swap`);
  await ops.publishAsync(`wisp/${DEVICE}/control/kernels/swap`, '{"family":"matmul"}', { qos: 1 });
  assert.is((await ctl).payload.toString(), '{"family":"matmul"}');
  const reply = nextMessage(ops, `${replyPrefixFor(DEVICE, 'alice')}r9`);
  await servicePublish(`${replyPrefixFor(DEVICE, 'alice')}r9`, 'x');
  await reply;
});

test('a client id connected as one user cannot be taken over by another', async () => {
  const alice = await client('alice', { clientId: 'shared-id' });
  assert.is(await tryConnect(broker.url, { clientId: 'shared-id', username: 'bob', password: PASSWORDS.bob }), 0x85);
  await sleep(50);
  assert.ok(alice.connected);
});

test('MQTT 5 request/response: responseTopic and correlationData pass through the broker', async () => {
  const ops = await client('ops');
  await ops.subscribeAsync(`wisp/${DEVICE}/infer`);
  const seen = nextMessage(ops, `wisp/${DEVICE}/infer`);
  const alice = await client('alice');
  const correlationData = Buffer.from([0, 1, 2, 250]);
  const responseTopic = `${replyPrefixFor(DEVICE, 'alice')}req-7`;
  await alice.publishAsync(`wisp/${DEVICE}/infer`, '{"id":"req-7"}', { qos: 1, properties: { responseTopic, correlationData, userProperties: { k: 'v' } } });
  const p = await seen;
  assert.is(p.properties?.responseTopic, responseTopic);
  assert.equal(Buffer.from(p.properties!.correlationData!), correlationData);
  const inProcess = await serviceGets('{"id":"req-7"}');
  assert.is(inProcess?.properties?.responseTopic, responseTopic, 'the in-process service sees it too');
  // and the reply comes back to alice with the correlation data echoed
  await alice.subscribeAsync(`${replyPrefixFor(DEVICE, 'alice')}#`);
  const reply = nextMessage(alice, responseTopic);
  broker.aedes.publish({ cmd: 'publish', topic: responseTopic, payload: Buffer.from('{"id":"req-7","done":true}'), qos: 1, retain: false, dup: false, properties: { correlationData } }, () => {});
  assert.equal(Buffer.from((await reply).properties!.correlationData!), correlationData);
});

test('TLS: mqtts with the self-signed CA works; plain MQTT to the TLS port fails', async () => {
  const url = `mqtts://127.0.0.1:${broker.ports.tls}`;
  const c = await client('alice', { ca: cert, rejectUnauthorized: true }, url);
  await c.publishAsync(`wisp/${DEVICE}/infer`, 'over-tls', { qos: 1 });
  assert.ok(await serviceGets('over-tls'));
  const plain = await tryConnect(`mqtt://127.0.0.1:${broker.ports.tls}`, { username: 'alice', password: PASSWORDS.alice });
  assert.is(plain, 'closed', 'plain connect to the TLS port must fail');
  assert.ok(logLines.some((l) => l.msg === 'TLS handshake failed'));
  // a client without the CA refuses the self-signed server certificate
  const untrusted = await tryConnect(url, { username: 'alice', password: PASSWORDS.alice, rejectUnauthorized: true });
  assert.is(untrusted, 'closed', 'a client without the CA must not connect');
});

test('WebSocket: mqtt.js over ws:// (MQTT 5 and 3.1.1)', async () => {
  const url = `ws://127.0.0.1:${broker.ports.ws}/mqtt`;
  const ws5 = await client('alice', {}, url);
  await ws5.subscribeAsync(`${replyPrefixFor(DEVICE, 'alice')}#`);
  await ws5.publishAsync(`wisp/${DEVICE}/infer`, 'over-ws', { qos: 1 });
  assert.ok(await serviceGets('over-ws'));
  const reply = nextMessage(ws5, `${replyPrefixFor(DEVICE, 'alice')}ws1`);
  await servicePublish(`${replyPrefixFor(DEVICE, 'alice')}ws1`, 'back');
  assert.is((await reply).payload.toString(), 'back');
  const ws4 = await client('bob', { protocolVersion: 4 }, url);
  await ws4.publishAsync(`wisp/${DEVICE}/infer`, 'over-ws-v4', { qos: 1 });
  assert.ok(await serviceGets('over-ws-v4'));
  const res = await fetch(`http://127.0.0.1:${broker.ports.ws}/`);
  assert.is(res.status, 426, 'plain HTTP is told to upgrade');
});

test('oversized payloads: over maxPayloadBytes refused, 10 MB cuts the connection, others keep being served', async () => {
  const alice = await client('alice');
  const before = broker.stats.oversized;
  // just over the payload limit (under the packet limit): MQTT 5 gets PUBACK 0x87, stays connected
  const big = await client('big');
  const err = await big.publishAsync(`wisp/${DEVICE}/infer`, Buffer.alloc(MAX_PAYLOAD + 1, 120), { qos: 1 }).then(() => null, (e: { code?: number }) => e);
  assert.is(err?.code, 0x87);
  assert.ok(big.connected);
  assert.ok(limitedEvents.some((e) => e.reason === 'payload_too_large' && e.clientId === big.options.clientId));

  // 10 MB from 3.1.1 and from MQTT 5 (0x95 DISCONNECT): the connection is dropped at its header
  for (const protocolVersion of [4, 5] as const) {
    const c = await client('big', { protocolVersion });
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    c.publish(`wisp/${DEVICE}/infer`, Buffer.alloc(10 * 1024 * 1024, 121), { qos: 0 });
    await closed;
  }
  assert.ok(broker.stats.oversized >= before + 3);
  await alice.publishAsync(`wisp/${DEVICE}/infer`, 'alice-after-10mb', { qos: 1 });
  assert.ok(await serviceGets('alice-after-10mb'), 'the broker keeps serving others');
  assert.not.ok(inbox.some((m) => m.payload.length > MAX_PAYLOAD), 'nothing oversized reached the service');
});

test('a 10 MB packet is refused from its fixed header, before the body arrives (raw socket)', async () => {
  const before = broker.stats.oversized;
  const sock = await new Promise<Socket>((resolve, reject) => {
    const s = netConnect(broker.ports.tcp!, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const str = (s: string) => {
    const b = Buffer.from(s);
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]);
  };
  const varint = (n: number) => {
    const out: number[] = [];
    do {
      let byte = n % 128;
      n = Math.floor(n / 128);
      if (n > 0) byte |= 128;
      out.push(byte);
    } while (n > 0);
    return Buffer.from(out);
  };
  // CONNECT (3.1.1, clean, user name + password)
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0xc2, 0, 60]), str('raw-big'), str('big'), str(PASSWORDS.big)]);
  sock.write(Buffer.concat([Buffer.from([0x10]), varint(body.length), body]));
  const connack = await new Promise<Buffer>((resolve) => sock.once('data', resolve));
  assert.equal([...connack], [0x20, 2, 0, 0]);
  const closed = new Promise<boolean>((resolve) => {
    sock.once('close', () => resolve(true));
    setTimeout(() => resolve(false), 3000);
  });
  sock.on('error', () => {});
  const topic = str(`wisp/${DEVICE}/infer`);
  // declares 10 MB, sends 64 KiB of it and then nothing: only the header can be what is refused
  sock.write(Buffer.concat([Buffer.from([0x30]), varint(topic.length + 10 * 1024 * 1024), topic, Buffer.alloc(64 * 1024)]));
  assert.ok(await closed, 'the broker closed the connection without waiting for the body');
  assert.ok(broker.stats.oversized > before);

  // the same before any CONNECT: a 10 MB CONNECT from a stranger
  const stranger = netConnect(broker.ports.tcp!, '127.0.0.1');
  stranger.on('error', () => {});
  const strangerClosed = new Promise<boolean>((resolve) => {
    stranger.once('close', () => resolve(true));
    setTimeout(() => resolve(false), 3000);
  });
  stranger.write(Buffer.concat([Buffer.from([0x10]), varint(10 * 1024 * 1024), Buffer.alloc(16 * 1024)]));
  assert.ok(await strangerClosed, 'an oversized CONNECT is refused from its header too');
});

test('a flooding client is rate limited (dropped, logged, onLimited) while another is served', async () => {
  const flood = await client('flood', { protocolVersion: 4 });
  const alice = await client('alice');
  const t0 = Date.now();
  for (let i = 0; i < 200; i++) flood.publish(`wisp/${DEVICE}/infer`, `flood-${i}`, { qos: 0 });
  await alice.publishAsync(`wisp/${DEVICE}/infer`, 'alice-during-flood', { qos: 1 });
  assert.ok(await serviceGets('alice-during-flood'), 'alice is served during the flood');
  await sleep(200);
  const elapsed = (Date.now() - t0) / 1000;
  const through = inbox.filter((m) => m.payload.toString().startsWith('flood-')).length;
  assert.ok(through >= RATE.burst, `the burst gets through (${through})`);
  assert.ok(through <= RATE.burst + Math.ceil(elapsed * RATE.messagesPerSecond) + 1, `at most burst + rate × time (${through} in ${elapsed} s)`);
  assert.ok(flood.connected, 'QoS 0 excess is dropped, the connection kept');
  assert.ok(broker.stats.rateLimited >= 150);
  assert.ok(limitedEvents.some((e) => e.reason === 'rate_limited' && e.clientId === flood.options.clientId));
  const lines = logLines.filter((l) => l.msg === 'publish dropped: rate limited');
  assert.ok(lines.length >= 1 && lines.length <= 3, `throttled to a line per second (${lines.length})`);

  // MQTT 5 QoS 1 over the limit: PUBACK 0x87 with the reason; a new client id does not reset the bucket
  const flood5 = await client('flood');
  const acks = await Promise.all(
    Array.from({ length: RATE.burst + 5 }, (_, i) => new Promise<{ reasonCode?: number; properties?: { reasonString?: string } }>((resolve) =>
      flood5.publish(`wisp/${DEVICE}/infer`, `flood-v5-${i}`, { qos: 1 }, (_err, p) => resolve((p ?? {}) as never)),
    )),
  );
  const refused = acks.filter((a) => a.reasonCode === 0x87);
  assert.ok(refused.length >= 5, `${refused.length} negative PUBACKs`);
  assert.match(refused[0].properties?.reasonString ?? '', 'rate limited');
  assert.ok(flood5.connected);
});

test('disconnects are reported with the client id', async () => {
  const c = await client('alice', { clientId: 'goes-away' });
  await c.endAsync();
  const t0 = Date.now();
  while (!disconnected.includes('goes-away') && Date.now() - t0 < 2000) await sleep(10);
  assert.ok(disconnected.includes('goes-away'));
  assert.is(broker.identityOf('goes-away'), undefined);
});

const mosquitto = (() => {
  try {
    execFileSync('mosquitto_sub', ['--help'], { stdio: 'pipe' });
    return true;
  } catch (err) {
    return (err as { status?: number }).status !== undefined; // --help exits non-zero but it ran
  }
})();

function run(cmd: string, args: string[], timeoutMs = 5000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, out: stdout + stderr }),
    );
  });
}

test('mosquitto_pub / mosquitto_sub against the embedded broker', async () => {
  if (!mosquitto) {
    console.log('  (skipped: mosquitto clients not installed)');
    return;
  }
  const base = ['-h', '127.0.0.1', '-p', String(broker.ports.tcp), '-V', 'mqttv5'];
  const auth = (u: string) => ['-u', u, '-P', PASSWORDS[u]];
  // publish a request as alice
  const pub = await run('mosquitto_pub', [...base, ...auth('alice'), '-q', '1', '-t', `wisp/${DEVICE}/infer`, '-m', 'from-mosquitto']);
  assert.is(pub.code, 0, pub.out);
  assert.ok(await serviceGets('from-mosquitto'));
  // wrong password
  const bad = await run('mosquitto_pub', [...base, '-u', 'alice', '-P', 'nope', '-t', `wisp/${DEVICE}/infer`, '-m', 'x']);
  assert.is.not(bad.code, 0);
  // alice receives her own reply
  const sub = run('mosquitto_sub', [...base, ...auth('alice'), '-t', `${replyPrefixFor(DEVICE, 'alice')}#`, '-C', '1', '-W', '4']);
  await sleep(400);
  await servicePublish(`${replyPrefixFor(DEVICE, 'alice')}m1`, 'to-mosquitto');
  const got = await sub;
  assert.is(got.out.trim(), 'to-mosquitto');
  // and is refused wisp/#
  for (const version of ['mqttv5', 'mqttv311']) {
    const denied = await run('mosquitto_sub', [...base, '-V', version, ...auth('alice'), '-t', 'wisp/#', '-C', '1', '-W', '2']);
    assert.match(denied.out, 'All subscription requests were denied', version);
  }
});

test('wisp user add / list / remove write a users file the broker accepts', async () => {
  const file = join(tmp, 'users.json');
  const wisp = (args: string[], stdin = '') =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = execFile(process.execPath, [CLI, 'user', ...args, '--file', file], { encoding: 'utf8', timeout: 20_000 }, (err, out, errText) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errText }),
      );
      child.stdin!.end(stdin);
    });
  assert.is((await wisp(['add', 'carol', '--role', 'operator'], 'carol-pw\n')).code, 0);
  assert.is((await wisp(['add', 'dave', '--role', 'client'], 'dave-pw\n')).code, 0);
  assert.is((await wisp(['list'])).out, 'carol\toperator\ndave\tclient\n');
  const bad = await wisp(['add', 'eve', '--role', 'admin'], 'x\n');
  assert.is(bad.code, 2);
  assert.match(bad.err, '--role must be one of client, operator');
  assert.is((await wisp(['remove', 'dave'])).code, 0);
  assert.is((statSync(file).mode & 0o777).toString(8), '600');
  const table = loadUsers(file);
  assert.equal(Object.keys(table.users), ['carol']);
  assert.match(table.users.carol.password, /^scrypt\$/);
  assert.is(await checkCredentials(table, 'carol', 'carol-pw'), 'operator');
});

test('close() frees the ports', async () => {
  const b = await startBroker({ host: '127.0.0.1', tcpPort: 0, wsPort: 0, device: 'x' });
  const anon = await connectAsync(b.url, { reconnectPeriod: 0 });
  const { tcp, ws } = b.ports;
  const idle = netConnect(tcp!, '127.0.0.1'); // never sends CONNECT
  idle.on('error', () => {});
  await sleep(50);
  const t0 = Date.now();
  await b.close();
  assert.ok(Date.now() - t0 < 2000, 'close does not wait for idle sockets');
  await anon.endAsync(true);
  for (const port of [tcp!, ws!]) {
    const s = createServer();
    await new Promise<void>((resolve, reject) => s.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

test.run();
