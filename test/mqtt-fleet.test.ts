// A fleet on a real Mosquitto broker (shared subscriptions): two wisp devices take requests from
// $share/<group>/wisp/fleet/infer; stopping one mid-stream gives its clients an error, not silence,
// and new requests go to the other. Also: the service as a client of an external broker (LWT status).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type Server } from '../host/mqtt/server.js';
import { connect, listen, sleep, type Reply } from './helpers/mqtt.js';
import { sharedModel } from './helpers/paths.js';

const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find(existsSync);
let broker: ChildProcess;
let url: string;
let dir: string;
const servers: Server[] = [];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function device(name: string): Promise<Server> {
  const s = await startServer({
    modelPath: sharedModel('stories260K.gguf'),
    device: name,
    broker: { url },
    fleetGroup: 'edge',
    maxSequences: 4,
    contextSize: 256,
    threads: 1,
    log: pino({ level: 'silent' }),
  });
  servers.push(s);
  return s;
}

test.before(async () => {
  if (!MOSQUITTO) throw new Error('mosquitto is not installed (apt-get install mosquitto; .ci/run does this)');
  dir = mkdtempSync(join(tmpdir(), 'wisp-fleet-'));
  const port = await freePort();
  writeFileSync(join(dir, 'mosquitto.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  broker = spawn(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
  url = `mqtt://127.0.0.1:${port}`;
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
});

test.after(async () => {
  for (const s of servers) await s.stop().catch(() => {});
  broker?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function ask(c: Awaited<ReturnType<typeof connect>>, id: string, maxTokens: number): Promise<{ messages: Reply[]; done(ms?: number): Promise<Reply[]> }> {
  const l = await listen(c, `fleet/replies/${id}`);
  await c.publishAsync('wisp/fleet/infer', JSON.stringify({ id, prompt: 'Once upon a time', max_tokens: maxTokens, temperature: 0.8, seed: 7 }), {
    qos: 1,
    properties: { responseTopic: `fleet/replies/${id}`, correlationData: Buffer.from(id) },
  });
  return l;
}

test('requests on the fleet topic spread over two devices; each is answered once, by one of them', async () => {
  await device('fleet-a');
  await device('fleet-b');
  const c = await connect(url);
  const runs = await Promise.all(Array.from({ length: 8 }, (_, i) => ask(c, `spread-${i}`, 8)));
  const finals = await Promise.all(runs.map(async (r) => (await r.done()).filter((m) => m.done)));
  for (const f of finals) assert.is(f.length, 1);
  const byDevice = new Map<string, number>();
  for (const [f] of finals) byDevice.set(f.device!, (byDevice.get(f.device!) ?? 0) + 1);
  assert.equal([...byDevice.keys()].sort(), ['fleet-a', 'fleet-b'], `both devices served: ${JSON.stringify([...byDevice])}`);
  for (const [f] of finals) assert.is(f.finish_reason, 'length');
  await c.endAsync();
});

test('a device stopped mid-stream: its clients get a shutdown error, the other device finishes its own and takes new requests', async () => {
  const [a] = servers;
  const c = await connect(url);
  const runs = await Promise.all(Array.from({ length: 6 }, (_, i) => ask(c, `long-${i}`, 200)));
  // wait until every request is streaming somewhere
  for (let i = 0; i < 400 && runs.some((r) => r.messages.length < 2); i++) await sleep(5);
  await a.stop('maintenance');
  const finals = (await Promise.all(runs.map((r) => r.done()))).map((ms) => ms.filter((m) => m.done));
  for (const f of finals) assert.is(f.length, 1, 'exactly one final message each');
  const failed = finals.filter(([f]) => f.error);
  const finished = finals.filter(([f]) => !f.error);
  assert.ok(failed.length > 0, 'some requests were on the stopped device');
  for (const [f] of failed) {
    assert.is(f.error!.code, 'shutdown');
    assert.match(f.error!.message, /maintenance/);
    assert.is(f.device, 'fleet-a');
  }
  for (const [f] of finished) assert.is(f.device, 'fleet-b');
  // the stopped device says so on its retained status
  const status = await new Promise<{ online: boolean }>((resolve) => {
    c.on('message', (t, p) => {
      if (t === 'wisp/fleet-a/status') resolve(JSON.parse(p.toString()));
    });
    void c.subscribeAsync('wisp/fleet-a/status');
  });
  assert.is(status.online, false);
  // new requests all go to the device still up
  const after = await Promise.all(Array.from({ length: 4 }, (_, i) => ask(c, `after-${i}`, 5)));
  const devices = (await Promise.all(after.map((r) => r.done()))).map((ms) => ms.find((m) => m.done)!.device);
  assert.equal(devices, ['fleet-b', 'fleet-b', 'fleet-b', 'fleet-b']);
  await c.endAsync();
});

test('a device that loses its broker connection is marked offline by its Last Will', async () => {
  const b = servers[1];
  const c = await connect(url);
  const seen: boolean[] = [];
  c.on('message', (t, p) => {
    if (t === 'wisp/fleet-b/status') seen.push(JSON.parse(p.toString()).online);
  });
  await c.subscribeAsync('wisp/fleet-b/status');
  await sleep(100);
  assert.equal(seen.slice(-1), [true]);
  // cut the device's socket without DISCONNECT: the broker publishes the will
  const transport = (b.service as unknown as { opts: { transport: { client?: { stream: { destroy(): void } ; options: { reconnectPeriod: number } } } } }).opts.transport;
  transport.client!.options.reconnectPeriod = 0;
  transport.client!.stream.destroy();
  for (let i = 0; i < 100 && seen.at(-1) !== false; i++) await sleep(20);
  assert.is(seen.at(-1), false);
  await c.endAsync();
});

test.run();
