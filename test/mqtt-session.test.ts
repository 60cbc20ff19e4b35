// Sessions through the embedded broker (host/mqtt/aedes-patches.ts, transport.ts): a lost
// connection ends a client's requests only with its session; a resumed session (Clean Start 0, with
// and without a Session Expiry Interval on the new CONNECT) gets every QoS 1 chunk and the final
// message published while it was away (mqtt.js v5, mosquitto_sub -c); a kept session is bounded by
// its expiry and by the flow limits; a Will with a delay and messages with an expiry arrive as MQTT 5
// says.
import { spawn } from 'node:child_process';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type Server } from '../host/mqtt/server.js';
import { hashPassword, parseUsers } from '../host/mqtt/users.js';
import { connect, runAsync, sleep, wispRunText, type Reply } from './helpers/mqtt.js';
import { sharedModel } from './helpers/paths.js';

const DEVICE = 'sessionbox';
const PROMPT = 'Once upon a time';
let server: Server;
let url: string;

test.before(async () => {
  server = await startServer({
    modelPath: sharedModel('stories260K.gguf'),
    device: DEVICE,
    host: '127.0.0.1',
    port: 0,
    // one request at a time: a client's later requests wait in the queue, so they are surely
    // still pending when its session expires
    maxSequences: 1,
    contextSize: 512,
    threads: 1,
    maxQueue: 64,
    flow: { behindMessages: 200, maxMessages: 2000 },
    log: (await import('pino')).pino({ level: process.env.WISP_TEST_LOG ?? 'silent' }),
  });
  url = server.url;
});

test.after(async () => {
  await server.stop();
});

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Connects, with a message listener in place before the CONNACK (a resumed session's queue comes right after it). */
async function session(opts: IClientOptions, into: Reply[]): Promise<{ client: MqttClient; sessionPresent: boolean }> {
  const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  client.on('message', (_t, p) => into.push(JSON.parse(p.toString()) as Reply));
  const sessionPresent = await new Promise<boolean>((resolve, reject) => {
    client.once('connect', (ack) => resolve(ack.sessionPresent));
    client.once('error', reject);
  });
  return { client, sessionPresent };
}

/** Every chunk seq once (a resent QoS 1 message may come twice), and the final messages. */
function assemble(ms: Reply[], id: string): { text: string; seqs: number[]; finals: Reply[] } {
  const bySeq = new Map<number, string>();
  for (const m of ms) if (m.id === id && !m.done) bySeq.set(m.seq!, m.text!);
  const seqs = [...bySeq.keys()].sort((a, b) => a - b);
  const finals = ms.filter((m) => m.id === id && m.done);
  return { text: seqs.map((s) => bySeq.get(s)).join(''), seqs, finals };
}

const load = () => (server.service.health().status as { load: { queued: number; active: number } }).load;

for (const resumeWithExpiry of [true, false]) {
  test(`MQTT 5 persistent session: the request runs on after a lost connection; the resumed session (Clean Start 0, ${resumeWithExpiry ? 'with' : 'without'} a Session Expiry Interval) gets every chunk and the final`, async () => {
    const clientId = `keeper-${resumeWithExpiry ? 'sei' : 'nosei'}`;
    const id = `${clientId}-1`;
    const expected = wispRunText(PROMPT, 100);
    const got: Reply[] = [];
    const first = await session({ clientId, clean: false, properties: { sessionExpiryInterval: 300 } }, got);
    await first.client.subscribeAsync(`${clientId}/#`, { qos: 1 });
    await first.client.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id, prompt: PROMPT, max_tokens: 100, temperature: 0 }), { qos: 1, properties: { responseTopic: `${clientId}/${id}` } });
    await until('a few chunks', () => got.length >= 3, 10_000);
    first.client.end(true); // the connection is lost: no DISCONNECT
    const before = got.length;
    await until('the request to finish while the client is away', () => load().active === 0 && load().queued === 0, 30_000);
    const resumed = await session({ clientId, clean: false, ...(resumeWithExpiry ? { properties: { sessionExpiryInterval: 300 } } : {}) }, got);
    assert.is(resumed.sessionPresent, true);
    await until('the final', () => got.some((m) => m.done), 10_000);
    await sleep(200);
    const { text, seqs, finals } = assemble(got, id);
    assert.ok(got.length > before, 'messages arrived after the resume');
    assert.is(finals.length, 1, JSON.stringify(finals));
    assert.is(finals[0].finish_reason, 'length');
    assert.equal(seqs, seqs.map((_, i) => i), 'no chunk missing');
    assert.is(text, expected);
    assert.is(finals[0].text, expected);
    // every message it acknowledged has left the session store
    await until('the session store to empty', () => server.broker!.delivery.storedFor(clientId).messages === 0, 5000);
    await resumed.client.endAsync();
  });
}

test('mosquitto_sub -c (MQTT 3.1.1 and 5): chunks and the final published while it was away arrive when it comes back', async () => {
  const { hostname, port } = new URL(url);
  for (const version of ['311', '5']) {
    const clientId = `msub-${version}`;
    const id = `${clientId}-r`;
    const expected = wispRunText(PROMPT, 100);
    const sub = (extra: string[], count: number) => {
      const p = spawn('mosquitto_sub', ['-h', hostname, '-p', port, '-V', version === '5' ? '5' : 'mqttv311', '-c', '-i', clientId, '-q', '1', '-t', `${clientId}/#`, '-C', String(count), '-W', '30', ...extra]);
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((resolve) => p.on('exit', resolve));
      return { out: () => out, exited, kill: () => p.kill() };
    };
    // first visit: subscribe, read 3 chunks, leave (a clean DISCONNECT; the session stays)
    const a = sub(version === '5' ? ['-x', '300'] : [], 3);
    await until(`${clientId} to subscribe`, () => server.broker!.identityOf(clientId) !== undefined, 10_000);
    await sleep(200);
    const pub = await runAsync('mosquitto_pub', ['-h', hostname, '-p', port, '-q', '1', '-t', `wisp/${DEVICE}/infer`, '-m', JSON.stringify({ id, prompt: PROMPT, max_tokens: 100, temperature: 0, reply_to: `${clientId}/${id}` })]);
    assert.is(pub.code, 0, pub.stderr);
    assert.is(await a.exited, 0);
    await until('the request to finish while the client is away', () => load().active === 0 && load().queued === 0, 30_000);
    // second visit: the rest (MQTT 5: now without a session expiry, the session ends with this connection)
    const b = sub(version === '5' ? ['-x', '0'] : [], 1000);
    await until('the final', () => b.out().includes('"done":true'), 20_000);
    const lines = (a.out() + b.out()).trim().split('\n').map((l) => JSON.parse(l) as Reply);
    const { text, seqs, finals } = assemble(lines, id);
    assert.is(finals.length, 1);
    assert.equal(seqs, seqs.map((_, i) => i));
    assert.is(text, expected);
    assert.is(finals[0].text, expected);
    b.kill();
    await b.exited;
  }
});

test('a kept session is bounded by its expiry: requests still waiting when it expires are cancelled; a clean session’s lost connection cancels at once', async () => {
  const observer = await connect(url, { clientId: 'observer' });
  const seen: Reply[] = [];
  observer.on('message', (_t, p) => seen.push(JSON.parse(p.toString()) as Reply));
  await observer.subscribeAsync('short/#', { qos: 1 });
  const got: Reply[] = [];
  const c = await session({ clientId: 'short', clean: false, properties: { sessionExpiryInterval: 1 } }, got);
  await c.client.subscribeAsync('short/#', { qos: 1 });
  const ids = Array.from({ length: 16 }, (_, i) => `short-${i}`);
  for (const id of ids) {
    await c.client.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id, prompt: PROMPT, max_tokens: 480, temperature: 0.9, seed: 1, stream: false }), { qos: 1, properties: { responseTopic: `short/${id}` } });
  }
  c.client.end(true);
  await until('every request to end', () => ids.every((id) => seen.some((m) => m.id === id && m.done)), 60_000);
  const reasons = ids.map((id) => seen.find((m) => m.id === id && m.done)!.finish_reason);
  console.log(`  after the session expired: ${reasons.join(', ')}`);
  // 16 requests of 480 tokens, one at a time, take longer than the session's 1 s
  assert.ok(reasons.includes('cancelled'), 'the requests still waiting when the session expired were cancelled');
  assert.ok(reasons.some((r) => r !== 'cancelled'), 'requests went on while the session was kept');
  await observer.endAsync();
});

test('a kept session replaced by a Clean Start connection: the requests it left running are cancelled', async () => {
  const observer = await connect(url, { clientId: 'observer-2' });
  const seen: Reply[] = [];
  observer.on('message', (_t, p) => seen.push(JSON.parse(p.toString()) as Reply));
  await observer.subscribeAsync('restart/#', { qos: 1 });
  const c = await session({ clientId: 'restart', clean: false, properties: { sessionExpiryInterval: 300 } }, []);
  const ids = Array.from({ length: 16 }, (_, i) => `restart-${i}`);
  for (const id of ids) {
    await c.client.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id, prompt: PROMPT, max_tokens: 480, temperature: 0.9, seed: 3, stream: false }), { qos: 1, properties: { responseTopic: `restart/${id}` } });
  }
  c.client.end(true);
  await sleep(100);
  const fresh = await session({ clientId: 'restart', clean: true }, []);
  await until('every request to end', () => ids.every((id) => seen.some((m) => m.id === id && m.done)), 60_000);
  const reasons = ids.map((id) => seen.find((m) => m.id === id && m.done)!.finish_reason);
  // 16 requests of 480 tokens, one at a time, outlast the 100 ms before the clean reconnect
  assert.ok(reasons.includes('cancelled'), reasons.join(', '));
  await fresh.client.endAsync();
  await observer.endAsync();
});

test('with a users file: a kept session’s expiry and a client falling behind end that user’s requests (requests are owned by user and client id)', async () => {
  const password = await hashPassword('pw');
  const users = parseUsers({ users: { alice: { role: 'client', password }, ops: { role: 'operator', password } } });
  const secured = await startServer({
    modelPath: sharedModel('stories260K.gguf'),
    device: 'usersbox',
    host: '127.0.0.1',
    port: 0,
    maxSequences: 1,
    contextSize: 512,
    threads: 1,
    users,
    flow: { behindMessages: 200, maxMessages: 2000 },
    log: (await import('pino')).pino({ level: process.env.WISP_TEST_LOG ?? 'silent' }),
  });
  try {
    const seen: Reply[] = [];
    const ops = mqtt.connect(secured.url, { protocolVersion: 5, clientId: 'ops', username: 'ops', password: 'pw', reconnectPeriod: 0 });
    ops.on('message', (_t, p) => seen.push(JSON.parse(p.toString()) as Reply));
    await new Promise((resolve) => ops.once('connect', resolve));
    await ops.subscribeAsync('wisp/usersbox/reply/#', { qos: 1 });
    const alice = mqtt.connect(secured.url, { protocolVersion: 5, clientId: 'alice-1', username: 'alice', password: 'pw', clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 1 } });
    await new Promise((resolve) => alice.once('connect', resolve));
    const ids = Array.from({ length: 16 }, (_, i) => `a-${i}`);
    for (const id of ids) await alice.publishAsync('wisp/usersbox/infer', JSON.stringify({ id, prompt: PROMPT, max_tokens: 480, temperature: 0.9, stream: false }), { qos: 1 });
    alice.end(true);
    await until('every request to end', () => ids.every((id) => seen.some((m) => m.id === id && m.done)), 60_000);
    assert.ok(ids.some((id) => seen.find((m) => m.id === id && m.done)!.finish_reason === 'cancelled'), 'the session’s expiry cancelled alice’s waiting requests');
    // falling behind while away (a longer-lived session): the kept queue passes 200 messages
    const back = mqtt.connect(secured.url, { protocolVersion: 5, clientId: 'alice-2', username: 'alice', password: 'pw', clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 300 } });
    await new Promise((resolve) => back.once('connect', resolve));
    await back.subscribeAsync('wisp/usersbox/reply/alice/#', { qos: 1 });
    await back.publishAsync('wisp/usersbox/infer', JSON.stringify({ id: 'a-long', prompt: PROMPT, max_tokens: 480, temperature: 0.9, seed: 5 }), { qos: 1 });
    back.end(true);
    await until('the long request to end', () => seen.some((m) => m.id === 'a-long' && m.done), 30_000);
    assert.is(seen.find((m) => m.id === 'a-long' && m.done)!.finish_reason, 'cancelled');
    await ops.endAsync();
  } finally {
    await secured.stop();
  }
});

test('an offline session that falls behind: its requests are cancelled, and it still gets each one’s final message when it comes back', async () => {
  const got: Reply[] = [];
  const c = await session({ clientId: 'laggard', clean: false, properties: { sessionExpiryInterval: 300 } }, got);
  await c.client.subscribeAsync('laggard/#', { qos: 1 });
  const behind = server.broker!.delivery.stats.behind;
  const id = 'laggard-1';
  await c.client.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id, prompt: PROMPT, max_tokens: 480, temperature: 0.9, seed: 2 }), { qos: 1, properties: { responseTopic: `laggard/${id}` } });
  await until('a first chunk', () => got.length > 0, 10_000);
  c.client.end(true);
  await until('the request to end', () => load().active === 0 && load().queued === 0, 30_000);
  assert.is(server.broker!.delivery.stats.behind, behind + 1);
  const resumed = await session({ clientId: 'laggard', clean: false, properties: { sessionExpiryInterval: 300 } }, got);
  await until('the final', () => got.some((m) => m.done), 10_000);
  const { text, seqs, finals } = assemble(got, id);
  assert.is(finals.length, 1);
  assert.is(finals[0].finish_reason, 'cancelled');
  assert.ok(seqs.length > 100 && seqs.length < 480, `${seqs.length} chunks: the kept queue's limit (200), not the whole request`);
  assert.equal(seqs, seqs.map((_, i) => i));
  assert.is(text, finals[0].text);
  await resumed.client.endAsync();
});

test('a Will with a Will Delay Interval arrives after the delay as a well-formed PUBLISH (mosquitto_sub -V 5 reads it)', async () => {
  const { hostname, port } = new URL(url);
  const sub = spawn('mosquitto_sub', ['-h', hostname, '-p', port, '-V', '5', '-t', 'wills/w1', '-C', '1', '-W', '20', '-F', '%t %p']);
  let out = '';
  let err = '';
  sub.stdout.on('data', (d) => (out += d));
  sub.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => sub.on('exit', resolve));
  await sleep(300);
  const w = await connect(url, {
    clientId: 'will-maker',
    properties: { sessionExpiryInterval: 10 },
    will: { topic: 'wills/w1', payload: Buffer.from('gone'), qos: 1, retain: false, properties: { willDelayInterval: 1, contentType: 'text/plain' } },
  });
  w.end(true); // lost: the will is due after its delay
  assert.is(await exited, 0, `mosquitto_sub: ${err}`);
  assert.is(out.trim(), 'wills/w1 gone');
});

test('Message Expiry: a message that expires while queued for an offline session is not delivered; one that does not arrives with its remaining interval', async () => {
  const got: Array<{ topic: string; expiry?: number }> = [];
  const client = mqtt.connect(url, { protocolVersion: 5, clientId: 'expiring', clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 300 } });
  client.on('message', (topic, _p, packet) => got.push({ topic, expiry: packet.properties?.messageExpiryInterval }));
  await new Promise((resolve) => client.once('connect', resolve));
  await client.subscribeAsync('exp/#', { qos: 1 });
  client.end(true);
  await sleep(100);
  const expired = server.broker!.delivery.stats.dropped.expired;
  const pub = await connect(url, { clientId: 'exp-pub' });
  await pub.publishAsync('exp/short', 'soon gone', { qos: 1, properties: { messageExpiryInterval: 1 } });
  await pub.publishAsync('exp/long', 'still here', { qos: 1, properties: { messageExpiryInterval: 60 } });
  await pub.endAsync();
  await sleep(2200);
  const again = mqtt.connect(url, { protocolVersion: 5, clientId: 'expiring', clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 300 } });
  again.on('message', (topic, _p, packet) => got.push({ topic, expiry: packet.properties?.messageExpiryInterval }));
  await until('the kept message', () => got.length > 0, 10_000);
  await sleep(300);
  assert.equal(got.map((m) => m.topic), ['exp/long']);
  assert.is(server.broker!.delivery.stats.dropped.expired, expired + 1);
  assert.ok(got[0].expiry! <= 58 && got[0].expiry! >= 50, `remaining interval ${got[0].expiry}`);
  await again.endAsync();
});

test.run();
