// What the service says about itself must be true when it is read: the load gauges at every scrape
// (not as of the last request that came or went), and /healthz not 200 while the scheduler has work
// and makes no progress. Real embedded broker and mqtt.js client; a held decode step stands in for
// a kernel that hangs.
import { pino } from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type Server } from '../host/mqtt/server.js';
import { connect, holdSteps, listen, sleep } from './helpers/mqtt.js';
import { sharedModel } from './helpers/paths.js';

const D = 'health-box';
let server: Server;
let base: string;

test.before(async () => {
  server = await startServer({
    modelPath: sharedModel('stories260K.gguf'),
    device: D,
    host: '127.0.0.1',
    port: 0,
    metricsPort: 0,
    maxSequences: 4,
    contextSize: 256,
    threads: 1,
    stallAfterMs: 300,
    log: pino({ level: 'silent' }),
  });
  base = `http://127.0.0.1:${server.http!.port}`;
});

test.after(async () => {
  await server.stop();
});

const load = () => (server.service.health().status as { load: { queued: number; active: number } }).load;

async function gauges(): Promise<{ queued: number; active: number; broker: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const num = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  return { queued: num('wisp_queue_depth'), active: num('wisp_active_sequences'), broker: num('wisp_broker_connected') };
}

test('the queue and active gauges are what the scheduler holds at the moment of the scrape', async () => {
  const hold = holdSteps(server.model.model);
  const c = await connect(server.url);
  try {
    const l = await listen(c, 'gauge/#');
    for (let k = 0; k < 6; k++) await c.publishAsync(`wisp/${D}/infer`, JSON.stringify({ id: `g${k}`, prompt: 'Once upon a time', max_tokens: 20, reply_to: `gauge/${k}` }), { qos: 1 });
    // steps held: whatever the scheduler took in before the first step waits with the rest queued,
    // and nothing changes while we look
    for (let i = 0; i < 400 && load().queued + load().active < 6; i++) await sleep(10);
    const { queued, active } = load();
    assert.is(queued + active, 6);
    assert.ok(active >= 1 && queued >= 1, `${queued} queued, ${active} active`);
    assert.equal(await gauges(), { queued, active, broker: 1 });
    hold.release();
    for (let i = 0; i < 600 && l.messages.filter((m) => m.done).length < 6; i++) await sleep(10);
    assert.is(l.messages.filter((m) => m.done).length, 6);
    assert.equal(await gauges(), { queued: 0, active: 0, broker: 1 });
  } finally {
    hold.restore();
    await c.endAsync();
  }
});

test('/healthz is 503 while the scheduler has work and no step ends for stallAfterMs, and 200 again once it moves', async () => {
  const healthz = async () => {
    const r = await fetch(`${base}/healthz`);
    return { code: r.status, body: (await r.json()) as { ok: boolean; status: { scheduler: { stalled: boolean }; problems?: string[]; broker: { connected: boolean } } } };
  };
  const before = await healthz();
  assert.is(before.code, 200);
  assert.is(before.body.status.broker.connected, true);
  const hold = holdSteps(server.model.model);
  const c = await connect(server.url);
  try {
    const l = await listen(c, `wisp/${D}/reply/stall1`);
    await c.publishAsync(`wisp/${D}/infer`, JSON.stringify({ id: 'stall1', prompt: 'Once upon a time', max_tokens: 5 }), { qos: 1 });
    let h = await healthz();
    for (let i = 0; i < 200 && h.code === 200; i++, h = await healthz()) await sleep(25);
    assert.is(h.code, 503);
    assert.is(h.body.ok, false);
    assert.is(h.body.status.scheduler.stalled, true);
    assert.match(h.body.status.problems!.join(' '), /scheduler stalled: no step ended for \d+ s with 0 queued, 1 active/, JSON.stringify(h.body));
    hold.release();
    assert.is((await l.done()).at(-1)!.finish_reason, 'length');
    assert.is((await healthz()).code, 200);
  } finally {
    hold.restore();
    await c.endAsync();
  }
});

test.run();
