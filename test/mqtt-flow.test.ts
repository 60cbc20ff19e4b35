// Per-client flow control in the embedded broker (host/mqtt/outbox.ts, aedes-patches.ts): a reader
// that stops must not stall the others or crash the process; a client's Receive Maximum and Maximum
// Packet Size are honoured; mqemitter's queue never recurses past the stack.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket } from 'mqtt-packet';
import { startBroker } from '../host/mqtt/broker.js';
import { startServer, type Server } from '../host/mqtt/server.js';
import { connect, sleep, type Reply } from './helpers/mqtt.js';
import { ROOT, sharedModel } from './helpers/paths.js';
import { rawConnect } from './helpers/raw-mqtt.js';

const DEVICE = 'flowbox';
const READER = join(ROOT, 'dist', 'test', 'helpers', 'stream-reader.js');
let server: Server;
let url: string;

test.before(async () => {
  server = await startServer({
    modelPath: sharedModel('stories260K.gguf'),
    device: DEVICE,
    host: '127.0.0.1',
    port: 0,
    metricsPort: 0,
    maxSequences: 4,
    contextSize: 512,
    threads: 1,
    maxQueue: 64,
    // /healthz: a reply that waits 500 ms for the broker is a stall (the stall test below)
    stallAfterMs: 500,
    log: (await import('pino')).pino({ level: process.env.WISP_TEST_LOG ?? 'silent' }),
  });
  url = server.url;
});

test.after(async () => {
  await server.stop();
});

/** A child process running test/helpers/stream-reader.ts, its stdout lines parsed. */
function reader(clientId: string, requests: number, maxTokens: number, correlationBytes: number) {
  const child = spawn(process.execPath, [READER, url, DEVICE, clientId, String(requests), String(maxTokens), String(correlationBytes)]) as ChildProcessWithoutNullStreams;
  const lines: Array<Record<string, unknown>> = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
    }
  });
  const stop = () => {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  };
  return { child, lines, stop };
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One client sending `n` requests one after another; resolves with each request's replies and time to first token. */
async function steadyClient(name: string, n: number, maxTokens: number): Promise<{ replies: Map<string, Reply[]>; firstTokenMs: number[] }> {
  const c = await connect(url, { clientId: name });
  const replies = new Map<string, Reply[]>();
  c.on('message', (_t, p) => {
    const m = JSON.parse(p.toString()) as Reply;
    replies.set(m.id!, [...(replies.get(m.id!) ?? []), m]);
  });
  await c.subscribeAsync(`${name}/#`, { qos: 1 });
  const firstTokenMs: number[] = [];
  for (let r = 0; r < n; r++) {
    const id = `${name}-${r}`;
    const t0 = performance.now();
    await c.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id, prompt: 'Once upon a time', max_tokens: maxTokens, temperature: 0 }), { qos: 1, properties: { responseTopic: `${name}/${id}` } });
    await until(`the first token of ${id}`, () => (replies.get(id)?.length ?? 0) > 0, 60_000);
    firstTokenMs.push(performance.now() - t0);
    await until(`the final reply of ${id}`, () => replies.get(id)!.some((m) => m.done), 60_000);
  }
  await c.endAsync();
  return { replies, firstTokenMs };
}

async function stillServing(): Promise<void> {
  const c = await connect(url);
  await c.subscribeAsync('after/#', { qos: 1 });
  const done = new Promise<Reply>((resolve) =>
    c.on('message', (_t, p) => {
      const m = JSON.parse(p.toString()) as Reply;
      if (m.done) resolve(m);
    }),
  );
  await c.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id: 'after', prompt: 'Once upon a time', max_tokens: 8, temperature: 0 }), { qos: 1, properties: { responseTopic: 'after/1' } });
  assert.is((await done).finish_reason, 'length');
  await c.endAsync();
}

test('a stopped reader with 16 long streams: every other request is answered throughout, the process survives, the stopped client’s requests end', async () => {
  const stopped = reader('stopped', 16, 400, 8192);
  const behindBefore = server.broker!.delivery.stats.behind;
  try {
    await until('the stopped reader to send its requests', () => stopped.lines.some((l) => l.sent), 15_000);
    stopped.child.kill('SIGSTOP');
    // from the moment it stops, while its backlog fills the socket buffers and then its queue:
    // three well-behaved clients, one request at a time each
    let largest = 0;
    const watch = setInterval(() => (largest = Math.max(largest, server.broker!.delivery.backlogOf('stopped')?.bytes ?? 0)), 10);
    const steady = await Promise.all([0, 1, 2].map((k) => steadyClient(`steady-${k}`, 8, 24))).finally(() => clearInterval(watch));
    const firstTokenMs = steady.flatMap((s) => s.firstTokenMs);
    console.log(`  others' first token while a reader is stopped: median ${median(firstTokenMs).toFixed(0)} ms, max ${Math.max(...firstTokenMs).toFixed(0)} ms over ${firstTokenMs.length} requests`);
    for (const { replies } of steady) {
      for (const [id, ms] of replies) {
        assert.is(ms.filter((m) => m.done).length, 1, `${id}: one final`);
        assert.is(ms.at(-1)!.finish_reason, 'length', `${id}: ${JSON.stringify(ms.at(-1))}`);
        assert.equal(ms.filter((m) => !m.done).map((m) => m.seq), ms.slice(0, -1).map((_, i) => i), `${id}: every chunk, in order`);
      }
    }
    await until('the stopped reader to be found behind', () => server.broker!.delivery.stats.behind > behindBefore, 60_000);
    const limits = server.broker!.delivery.limits;
    console.log(`  its backlog in the broker: at most ${(largest / 1024).toFixed(0)} KiB seen (behind at ${limits.behindBytes / 1024} KiB, max ${limits.maxBytes / 1024} KiB)`);
    assert.ok(largest <= limits.maxBytes, 'its backlog stays within the max');
    // resumed, it reads each of its requests' final message (cancelled when it fell behind), unless
    // its connection (and with it its session) was dropped
    stopped.child.kill('SIGCONT');
    await until('the stopped reader’s finals', () => stopped.lines.some((l) => l.closed) || stopped.lines.filter((l) => l.final).length === 16, 60_000);
    const finals = stopped.lines.filter((l) => l.final);
    const closed = stopped.lines.some((l) => l.closed);
    console.log(`  the stopped reader: ${finals.length} finals (${[...new Set(finals.map((f) => f.finish_reason))].join(', ')})${closed ? ', its connection dropped' : ''}`);
    assert.is(new Set(finals.map((f) => f.final)).size, finals.length, 'at most one final per request');
    if (!closed) assert.is(finals.length, 16);
  } finally {
    stopped.stop();
  }
  await stillServing();
});

test('a stopped subscriber to another client’s replies is dropped at the backlog limit; that client’s requests finish', async () => {
  const overflowsBefore = server.broker!.delivery.stats.overflows;
  // it sends no request, so there is nothing of its own to cancel when it falls behind
  const watcher = reader('watcher', 0, 0, 0);
  try {
    await until('the watcher to subscribe', () => watcher.lines.some((l) => l.sent !== undefined), 15_000);
    watcher.child.kill('SIGSTOP');
    const c = await connect(url, { clientId: 'owner' });
    const got = new Map<string, Reply[]>();
    c.on('message', (_t, p) => {
      const m = JSON.parse(p.toString()) as Reply;
      got.set(m.id!, [...(got.get(m.id!) ?? []), m]);
    });
    await c.subscribeAsync('watcher/replies/#', { qos: 1 });
    const correlationData = Buffer.alloc(16 * 1024, 0x61);
    const ids = [0, 1, 2, 3, 4, 5].map((i) => `own-${i}`);
    for (const [i, id] of ids.entries()) {
      await c.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id, prompt: 'Once upon a time', max_tokens: 400, temperature: 0.9, seed: i }), {
        qos: 1,
        properties: { responseTopic: `watcher/replies/${id}`, correlationData },
      });
    }
    await until('the owner’s finals', () => ids.every((id) => got.get(id)?.some((m) => m.done)), 120_000);
    for (const id of ids) {
      const ms = got.get(id)!;
      assert.is(ms.filter((m) => m.done).length, 1);
      assert.ok(['length', 'stop'].includes(ms.at(-1)!.finish_reason!), `${id} not cancelled: ${ms.at(-1)!.finish_reason}`);
    }
    await c.endAsync();
    await until('the watcher to be dropped', () => server.broker!.delivery.stats.overflows > overflowsBefore, 30_000);
    // the drop is counted where an operator looks
    const scrape = await (await fetch(`http://127.0.0.1:${server.http!.port}/metrics`)).text();
    const overflows = Number(/^wisp_delivery_overflows_total (\d+)/m.exec(scrape)?.[1]);
    assert.is(overflows, server.broker!.delivery.stats.overflows, scrape);
    assert.match(scrape, /^wisp_delivery_dropped_total\{reason="overflow"\} \d+/m);
    watcher.child.kill('SIGCONT');
    await until('the watcher to see its connection end', () => watcher.lines.some((l) => l.closed), 30_000);
  } finally {
    watcher.stop();
  }
  await stillServing();
});

test('Receive Maximum: never more unacknowledged QoS 1 messages than the client allows, all of them in order', async () => {
  const raw = await rawConnect(url, { clientId: 'rm-client', properties: { receiveMaximum: 2 } });
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rm/#', qos: 1 }] });
  await raw.next((p) => p.cmd === 'suback');
  let unacked = 0;
  let most = 0;
  const payloads: string[] = [];
  raw.on((p) => {
    if (p.cmd !== 'publish') return;
    unacked++;
    most = Math.max(most, unacked);
    payloads.push((p as IPublishPacket).payload.toString());
    // acknowledge late, so a broker that ignored the limit would have sent more meanwhile
    setTimeout(() => {
      unacked--;
      raw.send({ cmd: 'puback', messageId: p.messageId! });
    }, 40);
  });
  const pub = await connect(url, { clientId: 'rm-pub' });
  for (let i = 0; i < 12; i++) await pub.publishAsync('rm/x', `m${i}`, { qos: 1 });
  await until('12 messages', () => payloads.length === 12, 15_000);
  assert.is(most, 2, `at most 2 unacknowledged (saw ${most})`);
  assert.equal(payloads, Array.from({ length: 12 }, (_, i) => `m${i}`));
  raw.close();
  await pub.endAsync();
});

test('Maximum Packet Size: a message too big for the client is not sent to it; the next one is, on the same connection', async () => {
  const raw = await rawConnect(url, { clientId: 'mps-client', properties: { maximumPacketSize: 256 } });
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'mps/#', qos: 1 }] });
  await raw.next((p) => p.cmd === 'suback');
  const pub = await connect(url, { clientId: 'mps-pub' });
  await pub.publishAsync('mps/big', Buffer.alloc(1000, 0x62), { qos: 1 });
  await pub.publishAsync('mps/small', 'fits', { qos: 1 });
  const small = (await raw.next((p) => p.cmd === 'publish')) as IPublishPacket;
  assert.is(small.topic, 'mps/small');
  assert.is(raw.packets.filter((p) => p.cmd === 'publish').length, 1);
  assert.is(raw.socket.destroyed, false);
  raw.send({ cmd: 'pingreq' });
  await raw.next((p) => p.cmd === 'pingresp');
  assert.ok(server.broker!.delivery.stats.dropped.too_large >= 1);
  raw.close();
  await pub.endAsync();
});

test('mqemitter’s queue: 20,000 queued messages nobody reads run without exhausting the stack', async () => {
  const log: string[] = [];
  const b = await startBroker({ device: 'mqtest', host: '127.0.0.1', tcpPort: 0, log: (msg) => log.push(msg) });
  try {
    // hold every delivery slot (aedes' concurrency: 100) with a subscriber that answers later
    const held: Array<() => void> = [];
    await new Promise<void>((resolve) => b.aedes.subscribe('hold/#', (_p: unknown, cb: () => void) => void held.push(cb), resolve));
    for (let i = 0; i < 100; i++) b.aedes.publish({ cmd: 'publish', topic: 'hold/x', payload: Buffer.from('x'), qos: 0, retain: false, dup: false }, () => {});
    await until('the slots to be held', () => held.length === 100, 5000);
    // then a run of messages with no subscriber, as replies to a client that just left
    let published = 0;
    for (let i = 0; i < 20_000; i++) b.aedes.publish({ cmd: 'publish', topic: 'nobody/here', payload: Buffer.from('y'), qos: 0, retain: false, dup: false }, () => void published++);
    for (const cb of held) cb();
    await until('every publish to finish', () => published === 20_000, 30_000);
    assert.ok(b.delivery.stats.deferred > 0, 'some deliveries started on a fresh stack');
  } finally {
    await b.close();
  }
});

test('/healthz is not ok while replies and the broker’s queue cannot move, and ok again once they can', async () => {
  const c = await connect(url);
  await c.subscribeAsync('stalled/#', { qos: 1 });
  let chunks = 0;
  let final: Reply | undefined;
  c.on('message', (_t, p) => {
    const m = JSON.parse(p.toString()) as Reply;
    if (m.done) final = m;
    else chunks++;
  });
  assert.is(server.service.health().ok, true);
  await c.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id: 'stalled', prompt: 'Once upon a time', max_tokens: 480, temperature: 0.9 }), { qos: 1, properties: { responseTopic: 'stalled/1' } });
  await until('a first chunk', () => chunks > 0, 10_000);
  // hold every one of aedes' delivery slots (as a reader that stopped used to), so the service's
  // replies and everyone's publishes wait
  const held: Array<() => void> = [];
  const holder = (_p: unknown, cb: () => void) => void held.push(cb);
  await new Promise<void>((resolve) => server.broker!.aedes.subscribe('stall/#', holder, resolve));
  for (let i = 0; i < 100; i++) server.broker!.aedes.publish({ cmd: 'publish', topic: 'stall/x', payload: Buffer.from('x'), qos: 0, retain: false, dup: false }, () => {});
  const problems = () => ((server.service.health().status.problems as string[] | undefined) ?? []).join('; ');
  await until('both stalls to be reported', () => /replies stalled/.test(problems()) && /broker stalled/.test(problems()), 10_000);
  assert.is(server.service.health().ok, false);
  assert.match(problems(), /replies stalled: one has waited \d+ s for the broker/);
  assert.match(problems(), /broker stalled: \d+ messages wait in the broker, none delivered for/);
  const h = await fetch(`http://127.0.0.1:${server.http!.port}/healthz`);
  assert.is(h.status, 503);
  for (const cb of held) cb();
  await new Promise<void>((resolve) => server.broker!.aedes.unsubscribe('stall/#', holder, resolve));
  await until('the final', () => final !== undefined, 30_000);
  await until('ok again', () => server.service.health().ok, 10_000);
  await c.endAsync();
});

test.run();
