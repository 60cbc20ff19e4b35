// wisp as a client of an external broker (a real Mosquitto on a random port): retained requests
// are never run, at publish time or at a restart; an impostor on the device's client id is met with
// a growing back-off, not a fight every second; the Last Will says only what the device knows; a
// broker that goes away is logged and turns /healthz to 503 until it is back.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { pino, type Logger } from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { validator } from '../host/mqtt/protocol.js';
import { startServer, type Server, type ServerOptions } from '../host/mqtt/server.js';
import { connect, listen, sleep } from './helpers/mqtt.js';
import { sharedModel } from './helpers/paths.js';

const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find(existsSync);
let mosquitto: ChildProcess | undefined;
let dir: string;
let port: number;
let url: string;
const servers: Server[] = [];
const clients: MqttClient[] = [];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return p;
}

async function startMosquitto(): Promise<void> {
  mosquitto = spawn(MOSQUITTO!, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      const c = await connect(url);
      await c.endAsync();
      return;
    } catch {
      await sleep(50);
    }
  }
  throw new Error(`mosquitto did not start on port ${port}`);
}

async function stopMosquitto(): Promise<void> {
  const m = mosquitto;
  if (!m || m.exitCode !== null) return;
  await new Promise((r) => (m.once('exit', r), m.kill('SIGKILL')));
}

/** A pino logger whose lines land in `lines` (parsed). */
function captured(): { log: Logger; lines: Array<Record<string, any>> } {
  const lines: Array<Record<string, any>> = [];
  return { log: pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) }), lines };
}

async function device(name: string, extra: Partial<ServerOptions> = {}): Promise<Server> {
  const s = await startServer({
    modelPath: sharedModel('stories260K.gguf'),
    device: name,
    broker: { url },
    maxSequences: 4,
    contextSize: 256,
    threads: 1,
    log: pino({ level: 'silent' }),
    ...extra,
  });
  servers.push(s);
  return s;
}

async function client(opts: Parameters<typeof connect>[1] = {}): Promise<MqttClient> {
  const c = await connect(url, opts);
  clients.push(c);
  return c;
}

test.before(async () => {
  if (!MOSQUITTO) throw new Error('mosquitto is not installed (apt-get install mosquitto; .ci/run does this)');
  dir = mkdtempSync(join(tmpdir(), 'wisp-external-'));
  port = await freePort();
  url = `mqtt://127.0.0.1:${port}`;
  writeFileSync(join(dir, 'mosquitto.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  await startMosquitto();
});

test.after(async () => {
  for (const c of clients) await c.endAsync(true).catch(() => {});
  for (const s of servers) await s.stop().catch(() => {});
  await stopMosquitto();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ask = (id: string, extra: object = {}) => JSON.stringify({ id, prompt: 'Once upon a time', max_tokens: 3, reply_to: `ext/replies/${id}`, ...extra });

test('a retained request is never run: not when it is published, not at a restart of the device; clearing it gets no reply', async () => {
  const pub = await client();
  const watch = await listen(pub, 'ext/replies/#');
  const errors = await listen(pub, 'wisp/ret-box/reply/#');
  const done = (id: string) => watch.messages.filter((m) => m.id === id && m.done);
  const served = async (id: string) => {
    await pub.publishAsync('wisp/ret-box/infer', ask(id), { qos: 1 });
    while (done(id).length === 0) await sleep(5);
  };
  // stored before the device starts: a device that took stored messages would run it now
  await pub.publishAsync('wisp/ret-box/infer', ask('stored'), { qos: 1, retain: true });
  const first = await device('ret-box');
  // published retained while the device runs: seen with its retain flag, refused
  await pub.publishAsync('wisp/ret-box/infer', ask('live'), { qos: 1, retain: true });
  await served('ok1');
  // a restart: the broker still holds 'live'; the new device must not run (or answer) it
  await first.stop();
  await device('ret-box');
  await served('ok2');
  const holder = await client();
  const held = new Promise<{ retain: boolean; payload: string }>((resolve) => holder.on('message', (_t, p, packet) => resolve({ retain: packet.retain, payload: p.toString() })));
  await holder.subscribeAsync('wisp/ret-box/infer', { qos: 1 });
  const stored = await held;
  assert.ok(stored.retain && stored.payload.includes('"live"'), 'the broker does hold the retained request');
  // the owner clears it: an empty retained message, which is not a request
  await pub.publishAsync('wisp/ret-box/infer', '', { qos: 1, retain: true });
  await served('ok3');
  await sleep(100);
  const finals = watch.messages.filter((m) => m.done).map((m) => [m.id, m.error?.code ?? m.finish_reason]);
  assert.equal(finals, [['live', 'invalid_request'], ['ok1', 'length'], ['ok2', 'length'], ['ok3', 'length']]);
  assert.match(done('live')[0].error!.message, /retained requests are not run/);
  assert.equal(errors.messages, [], 'no invalid_json (or any) reply for the empty message');
});

test('control over an external broker: refused as forbidden, the device cannot check the sender’s role', async () => {
  await device('ctl-box');
  const c = await client();
  const l = await listen(c, 'ext/ctl/#');
  await c.publishAsync('wisp/ctl-box/control/kernels/swap', JSON.stringify({ id: 'c1' }), { qos: 1, properties: { responseTopic: 'ext/ctl/1' } });
  const ms = await l.done();
  assert.equal(ms.map((m) => [m.id, m.error?.code]), [['c1', 'forbidden']]);
  assert.match(ms[0].error!.message, /cannot check through an external broker/);
});

test('an impostor on the device’s client id: the device logs the takeover and doubles its wait each time, up to the cap', async () => {
  const { log, lines } = captured();
  const s = await device('twin', { broker: { url, reconnectMs: 100, maxReconnectMs: 800 }, log });
  const takeovers = () => lines.filter((l) => l.level === 50 && /^broker connection taken over \(.*client id wisp-twin\)/.test(l.msg));
  // the impostor comes back each time it is kicked, until four takeovers are seen
  let stop = false;
  let impostor: MqttClient | undefined;
  let impostorGone: Promise<void> = Promise.resolve();
  const comeBack = async (): Promise<void> => {
    if (stop) return;
    const c = await connect(url, { clientId: 'wisp-twin', reconnectPeriod: 0 }).catch(() => undefined);
    if (!c) return sleep(25).then(comeBack);
    impostor = c;
    impostorGone = new Promise((resolve) => c.once('close', () => resolve(comeBack())));
  };
  await comeBack();
  for (let i = 0; i < 1200 && takeovers().length < 4; i++) await sleep(25);
  stop = true;
  // Mosquitto 2.0 closes the old connection without a DISCONNECT: the first close looks like any
  // loss (retry at the usual 100 ms), the second in a row is a takeover, and the wait doubles
  assert.is(lines.find((l) => l.msg === 'broker connection lost: reconnecting')?.retryInMs, 100);
  // each takeover doubles the wait, up to the cap (a reset by the broker counts as a takeover too:
  // Mosquitto resets rather than closes when it kicks a connection with unread bytes)
  assert.equal(takeovers().slice(0, 4).map((l) => l.retryInMs), [200, 400, 800, 800]);
  assert.match(takeovers()[0].msg, /Is another wisp serving device 'twin', or a client using its client id\? Next attempt in 200 ms/i);
  // the impostor kicked for good, the device is back, subscribed (healthy) and serving
  await impostorGone;
  for (let i = 0; i < 400 && !s.service.health().ok; i++) await sleep(25);
  assert.ok(s.service.health().ok, JSON.stringify(s.service.health().status));
  const c = await client();
  const l = await listen(c, 'ext/replies/twin1');
  await c.publishAsync('wisp/twin/infer', ask('twin1'), { qos: 1 });
  assert.is((await l.done()).at(-1)!.finish_reason, 'length');
  await impostor?.endAsync(true);
});

test('the Last Will is {device, online: false}: no time, which the device cannot know when it writes the will', async () => {
  const s = await device('will-box');
  const c = await client();
  const seen: Array<Record<string, unknown>> = [];
  c.on('message', (t, p) => t === 'wisp/will-box/status' && seen.push(JSON.parse(p.toString())));
  await c.subscribeAsync('wisp/will-box/status', { qos: 1 });
  for (let i = 0; i < 100 && seen.length === 0; i++) await sleep(20);
  assert.ok(validator('status')(seen.at(-1)), 'the online status is valid');
  assert.type(seen.at(-1)!.ts, 'string', 'a status the device publishes has its time');
  const transport = (s.service as unknown as { opts: { transport: { client?: { stream: { destroy(): void }; options: { reconnectPeriod: number } } } } }).opts.transport;
  transport.client!.options.reconnectPeriod = 0;
  transport.client!.stream.destroy(); // no DISCONNECT: the broker publishes the will
  for (let i = 0; i < 100 && seen.at(-1)!.online !== false; i++) await sleep(20);
  assert.equal(seen.at(-1), { device: 'will-box', online: false });
  assert.ok(validator('status')(seen.at(-1)), JSON.stringify(validator('status').errors));
});

test('the broker going away is logged and turns /healthz to 503 (wisp_broker_connected 0); when it is back, so is the device', async () => {
  const { log, lines } = captured();
  const s = await device('down-box', { metricsPort: 0, log });
  const base = `http://127.0.0.1:${s.http!.port}`;
  const health = async () => {
    const r = await fetch(`${base}/healthz`);
    return { code: r.status, body: (await r.json()) as { status: { broker: { connected: boolean; reason?: string }; problems?: string[] } } };
  };
  const brokerGauge = async () => Number(/^wisp_broker_connected (\S+)$/m.exec(await (await fetch(`${base}/metrics`)).text())?.[1]);
  assert.is((await health()).code, 200);
  assert.is(await brokerGauge(), 1);
  await stopMosquitto();
  let h = await health();
  for (let i = 0; i < 200 && h.code === 200; i++, h = await health()) await sleep(25);
  assert.is(h.code, 503);
  assert.is(h.body.status.broker.connected, false);
  assert.match(h.body.status.problems!.join(' '), /broker connection down since/);
  assert.is(await brokerGauge(), 0);
  assert.ok(lines.some((l) => l.level === 40 && l.msg === 'broker connection lost: reconnecting'), JSON.stringify(lines.map((l) => l.msg)));
  await startMosquitto();
  for (let i = 0; i < 400 && (await health()).code !== 200; i++) await sleep(25);
  assert.is((await health()).code, 200);
  assert.ok(lines.some((l) => l.msg === 'broker connection restored'));
  // subscriptions are back: it serves again
  const c = await client();
  const l = await listen(c, 'ext/replies/back1');
  await c.publishAsync('wisp/down-box/infer', ask('back1'), { qos: 1 });
  assert.is((await l.done()).at(-1)!.finish_reason, 'length');
});

test.run();
