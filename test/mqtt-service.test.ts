// The MQTT service end to end through the embedded broker: real clients (mqtt.js v5 and v3.1.1,
// mosquitto_rr / mosquitto_sub), streamed text equal to `wisp run`, errors for bad input, cancels,
// duplicates, the retained status, metrics, and 20 clients with a flooding one.
import { spawn } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type Server } from '../host/mqtt/server.js';
import { validator } from '../host/mqtt/protocol.js';
import { connect, listen, runAsync, sleep, wispRunText, type Reply } from './helpers/mqtt.js';
import { sharedModel } from './helpers/paths.js';

const DEVICE = 'testbox';
const PROMPT = 'Once upon a time';
let server: Server;
let url: string;
const reply = validator('reply');

function checkReplies(ms: Reply[]): void {
  for (const m of ms) {
    const { correlation: _c, ...body } = m;
    assert.ok(reply(body), `reply ${JSON.stringify(body)} violates reply.schema.json: ${JSON.stringify(reply.errors)}`);
  }
}

test.before(async () => {
  server = await startServer({
    modelPath: sharedModel('stories260K.gguf'),
    device: DEVICE,
    host: '127.0.0.1',
    port: 0,
    metricsPort: 0,
    maxSequences: 4,
    contextSize: 256,
    threads: 2,
    maxQueue: 32,
    log: (await import('pino')).pino({ level: 'silent' }),
  });
  url = server.url;
});

test.after(async () => {
  await server.stop();
});

test('MQTT 5: streamed chunks join to exactly what `wisp run` prints; correlation data echoed on every reply', async () => {
  const expected = wispRunText(PROMPT, 60);
  const c = await connect(url);
  const l = await listen(c, 'my/replies/1');
  await c.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id: 'v5', prompt: PROMPT, max_tokens: 60, temperature: 0 }), {
    qos: 1,
    properties: { responseTopic: 'my/replies/1', correlationData: Buffer.from('corr-42') },
  });
  const ms = await l.done();
  checkReplies(ms);
  const chunks = ms.filter((m) => !m.done);
  const final = ms.at(-1)!;
  assert.ok(chunks.length > 10);
  assert.equal(chunks.map((m) => m.seq), chunks.map((_, i) => i));
  assert.is(chunks.map((m) => m.text).join(''), expected);
  assert.is(final.text, expected);
  assert.is(final.finish_reason, 'length');
  assert.equal(final.usage, { prompt_tokens: 5, completion_tokens: 60 });
  assert.is(final.device, DEVICE);
  for (const m of ms) assert.is(m.correlation, 'corr-42');
  await c.endAsync();
});

test('MQTT 3.1.1: reply_to, and the default reply topic wisp/<device>/reply/<id>; stream:false sends only the final', async () => {
  const expected = wispRunText(PROMPT, 30);
  const c = await connect(url, { protocolVersion: 4 });
  const a = await listen(c, 'legacy/out');
  const b = await listen(c, `wisp/${DEVICE}/reply/v3-default`);
  await c.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id: 'v3', prompt: PROMPT, max_tokens: 30, temperature: 0, reply_to: 'legacy/out' }), { qos: 1 });
  await c.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id: 'v3-default', prompt: PROMPT, max_tokens: 30, temperature: 0, stream: false }), { qos: 0 });
  const [ma, mb] = await Promise.all([a.done(), b.done()]);
  checkReplies([...ma, ...mb]);
  assert.is(ma.filter((m) => !m.done).map((m) => m.text).join(''), expected);
  assert.is(mb.length, 1);
  assert.is(mb[0].text, expected);
  await c.endAsync();
});

test('mosquitto_rr (MQTT 5 request/response) and mosquitto_sub get the same text', async () => {
  const expected = wispRunText(PROMPT, 40);
  const { hostname, port } = new URL(url);
  const sub = spawn('mosquitto_sub', ['-h', hostname, '-p', port, '-V', '5', '-t', `wisp/${DEVICE}/reply/sub1`, '-C', '1000', '-W', '30']);
  let subOut = '';
  sub.stdout.on('data', (d) => (subOut += d));
  await sleep(300);
  const rr = await runAsync('mosquitto_rr', ['-h', hostname, '-p', port, '-V', '5', '-t', `wisp/${DEVICE}/infer`, '-e', `wisp/${DEVICE}/reply/rr1`, '-W', '30', '-m', JSON.stringify({ id: 'rr1', prompt: PROMPT, max_tokens: 40, temperature: 0, stream: false })]);
  assert.is(rr.code, 0, rr.stderr);
  const final = JSON.parse(rr.stdout.trim());
  assert.is(final.text, expected);
  const pub = await runAsync('mosquitto_pub', ['-h', hostname, '-p', port, '-V', '5', '-q', '1', '-t', `wisp/${DEVICE}/infer`, '-m', JSON.stringify({ id: 'sub1', prompt: PROMPT, max_tokens: 40, temperature: 0 })]);
  assert.is(pub.code, 0, pub.stderr);
  for (let i = 0; i < 300 && !subOut.includes('"done":true'); i++) await sleep(100);
  sub.kill();
  const lines = subOut.trim().split('\n').map((l) => JSON.parse(l) as Reply);
  assert.is(lines.filter((m) => !m.done).map((m) => m.text).join(''), expected, subOut.slice(0, 2000));
  assert.is(lines.at(-1)!.text, expected);
});

test('chat messages are rendered with the chat template and answered', async () => {
  const c = await connect(url);
  const l = await listen(c, `wisp/${DEVICE}/reply/chat1`);
  await c.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id: 'chat1', messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: 10, temperature: 0 }), { qos: 1 });
  const ms = await l.done();
  checkReplies(ms);
  const final = ms.at(-1)!;
  assert.is(final.error, undefined);
  assert.ok(final.usage!.prompt_tokens > 4);
  await c.endAsync();
});

test('invalid inputs: one clear error reply each, and the service keeps serving', async () => {
  const c = await connect(url);
  const errors = await listen(c, `wisp/${DEVICE}/reply/#`);
  const cases: Array<[payload: string | Buffer, id: string | null, code: string, message: RegExp]> = [
    ['{not json', null, 'invalid_json', /not JSON/],
    [JSON.stringify({ id: 'e-type', prompt: 42 }), 'e-type', 'invalid_request', /prompt: must be string/],
    [JSON.stringify({ id: 'e-unknown', prompt: 'hi', max_token: 5 }), 'e-unknown', 'invalid_request', /unknown field 'max_token'/],
    [JSON.stringify({ id: 'e-neg', prompt: 'hi', max_tokens: -3 }), 'e-neg', 'invalid_request', /max_tokens: must be >= 1/],
    [JSON.stringify({ id: 'e-both', prompt: 'hi', messages: [{ role: 'user', content: 'x' }] }), 'e-both', 'invalid_request', /exactly one of 'prompt' or 'messages'/],
    [JSON.stringify({ id: 'e-none' }), 'e-none', 'invalid_request', /exactly one of 'prompt' or 'messages'/],
    [JSON.stringify({ id: 'e-long', prompt: 'once upon a time '.repeat(200) }), 'e-long', 'prompt_too_long', /the context holds 256/],
    [JSON.stringify({ id: 'e-model', prompt: 'hi', model: 'llama-70b' }), 'e-model', 'unknown_model', /serves 'stories260K'|not 'llama-70b'/],
    [JSON.stringify({ id: 'e-role', messages: [{ role: 'wizard', content: 'x' }] }), 'e-role', 'invalid_request', /messages\[0\]\.role/],
    [Buffer.alloc(10 * 1024 * 1024, 0x41), null, 'payload_too_large', /limit|larger/],
  ];
  for (const [payload] of cases.slice(0, -1)) await c.publishAsync(`wisp/${DEVICE}/infer`, payload, { qos: 1 });
  // the 10 MB request: an MQTT 5 client with a response topic gets payload_too_large there
  const big = await listen(c, 'big/reply');
  // (an MQTT 5 QoS 1 publisher also gets a PUBACK refusing it)
  await c.publishAsync(`wisp/${DEVICE}/infer`, cases.at(-1)![0], { qos: 1, properties: { responseTopic: 'big/reply', correlationData: Buffer.from('big') } }).catch((err: Error) => assert.match(err.message, /larger|limit|authorized/i));
  const bigReply = await big.done();
  assert.is(bigReply.length, 1);
  assert.is(bigReply[0].error!.code, 'payload_too_large');
  assert.is(bigReply[0].correlation, 'big');
  const c2 = await connect(url);
  const ok = await listen(c2, `wisp/${DEVICE}/reply/after-errors`);
  await c2.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id: 'after-errors', prompt: PROMPT, max_tokens: 5, temperature: 0 }), { qos: 1 });
  const okMs = await ok.done();
  assert.is(okMs.at(-1)!.finish_reason, 'length');
  await sleep(200);
  checkReplies(errors.messages);
  for (const [, id, code, message] of cases.slice(0, -1)) {
    const got = errors.messages.filter((m) => m.id === id && m.error);
    assert.is(got.length, 1, `one error for ${id} (${code}): ${JSON.stringify(errors.messages.filter((m) => m.id === id))}`);
    assert.is(got[0].error!.code, code);
    assert.match(got[0].error!.message, message);
  }
  await c.endAsync().catch(() => {});
  await c2.endAsync();
});

test('cancel by id ends the stream with finish_reason cancelled; a disconnect cancels the client’s requests', async () => {
  const c = await connect(url);
  const l = await listen(c, `wisp/${DEVICE}/reply/long1`);
  await c.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id: 'long1', prompt: PROMPT, max_tokens: 200, temperature: 0.9, seed: 3 }), { qos: 1 });
  while (l.messages.length < 3) await sleep(5);
  await c.publishAsync(`wisp/${DEVICE}/cancel`, JSON.stringify({ id: 'long1' }), { qos: 1 });
  const ms = await l.done();
  const final = ms.at(-1)!;
  assert.is(final.finish_reason, 'cancelled');
  assert.ok(final.usage!.completion_tokens < 200);
  assert.is(ms.filter((m) => m.done).length, 1);

  const before = server.service.health().status as { load: { active: number } };
  void before;
  const d = await connect(url, { clientId: 'leaver' });
  await d.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id: 'gone1', prompt: PROMPT, max_tokens: 200, temperature: 0.9 }), { qos: 1 });
  await sleep(30);
  d.end(true); // drop the connection without DISCONNECT
  for (let i = 0; i < 100 && (server.service.health().status as { load: { active: number; queued: number } }).load.active > 0; i++) await sleep(20);
  assert.is((server.service.health().status as { load: { active: number } }).load.active, 0);
  await c.endAsync();
});

test('a QoS 1 duplicate of an id is answered once', async () => {
  const c = await connect(url);
  const l = await listen(c, `wisp/${DEVICE}/reply/dup1`);
  const body = JSON.stringify({ id: 'dup1', prompt: PROMPT, max_tokens: 5, temperature: 0, stream: false });
  await c.publishAsync(`wisp/${DEVICE}/infer`, body, { qos: 1 });
  await c.publishAsync(`wisp/${DEVICE}/infer`, body, { qos: 1, dup: true });
  await l.done();
  await sleep(300);
  assert.is(l.messages.length, 1);
  await c.endAsync();
});

test('a retained request is refused, never run; an empty retained message (clearing it) is not a request', async () => {
  const c = await connect(url);
  const l = await listen(c, 'retained/replies/#');
  await c.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id: 'ret1', prompt: PROMPT, max_tokens: 5, reply_to: 'retained/replies/ret1' }), { qos: 1, retain: true });
  await c.publishAsync(`wisp/${DEVICE}/infer`, '', { qos: 1, retain: true });
  await c.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id: 'ret2', prompt: PROMPT, max_tokens: 3, reply_to: 'retained/replies/ret2' }), { qos: 1 });
  while (!l.messages.some((m) => m.id === 'ret2' && m.done)) await sleep(5);
  await sleep(100);
  const got = l.messages.filter((m) => m.done).map((m) => [m.id, m.error?.code ?? m.finish_reason]);
  assert.equal(got, [['ret1', 'invalid_request'], ['ret2', 'length']], 'one refusal, no invalid_json for the clearing');
  assert.match(l.messages[0].error!.message, /retained requests are not run/);
  await c.endAsync();
});

test('a control/# message never reaches the infer handler: without broker users it is refused as forbidden', async () => {
  const c = await connect(url);
  const l = await listen(c, 'ctl/replies/#');
  // a valid request body, on a control topic
  await c.publishAsync(`wisp/${DEVICE}/control/kernels/swap`, JSON.stringify({ id: 'ctl1', prompt: PROMPT, max_tokens: 3 }), { qos: 1, properties: { responseTopic: 'ctl/replies/1' } });
  const ms = await l.done();
  assert.equal(ms.map((m) => [m.id, m.error?.code]), [['ctl1', 'forbidden']]);
  assert.match(ms[0].error!.message, /control needs the operator role/);
  await c.endAsync();
});

test('MQTT 3.1.1 QoS 1 over the rate limit: each refused request gets rate_limited and the connection stays up', async () => {
  const c = await connect(url, { protocolVersion: 4, clientId: 'v3-flood' });
  const l = await listen(c, 'v3flood/#');
  const n = 40; // the rate limit: 10/s, burst 20
  await Promise.all(Array.from({ length: n }, (_, k) => c.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id: `v3f${k}`, prompt: PROMPT, max_tokens: 2, reply_to: `v3flood/${k}` }), { qos: 1 })));
  for (let i = 0; i < 600 && l.messages.filter((m) => m.done).length < n; i++) await sleep(50);
  const done = l.messages.filter((m) => m.done);
  assert.is(new Set(done.map((m) => m.id)).size, n, 'one final message for each request');
  assert.is(done.length, n);
  const limited = done.filter((m) => m.error?.code === 'rate_limited').length;
  assert.ok(limited >= n - 20 - 2, `${limited} rate_limited`);
  assert.ok(c.connected, 'still connected');
  await sleep(300); // a few tokens back in the bucket
  const after = await listen(c, 'v3flood-after');
  await c.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id: 'v3f-after', prompt: PROMPT, max_tokens: 2, reply_to: 'v3flood-after' }), { qos: 1 });
  assert.is((await after.done()).at(-1)!.finish_reason, 'length');
  await c.endAsync();
});

test('retained status: online with model sha256 and kernel hashes; valid against status.schema.json', async () => {
  const c = await connect(url);
  const got = new Promise<Record<string, unknown>>((resolve) => c.on('message', (_t, p) => resolve(JSON.parse(p.toString()))));
  await c.subscribeAsync(`wisp/${DEVICE}/status`, { qos: 1 });
  const status = await got;
  assert.ok(validator('status')(status), JSON.stringify(validator('status').errors));
  assert.is(status.online, true);
  assert.match((status.model as { sha256: string }).sha256, /^[0-9a-f]{64}$/);
  const kernels = status.kernels as Record<string, { flavour: string; sha256: string; source: string }>;
  assert.equal(Object.keys(kernels).sort(), ['attn', 'matmul', 'ops']);
  for (const k of Object.values(kernels)) assert.ok(['simd128', 'relaxed'].includes(k.flavour) && k.source === 'built', JSON.stringify(k));
  await c.endAsync();
});

test('20 clients x 10 requests with random cancels and one flooding client: one final message each, the flood limited, the others served', async () => {
  const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => connect(url, { clientId: `load-${i}` })));
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const finals = new Map<string, Reply[]>();
  const chunks = new Map<string, string>();
  for (const c of clients) {
    c.on('message', (_t, payload) => {
      const m = JSON.parse(payload.toString()) as Reply;
      if (m.done) finals.set(m.id!, [...(finals.get(m.id!) ?? []), m]);
      else chunks.set(m.id!, (chunks.get(m.id!) ?? '') + m.text);
    });
  }
  await Promise.all(clients.map((c, i) => c.subscribeAsync(`load/${i}/#`, { qos: 1 })));
  // the flood: 300 requests at once from one client, while the others work
  const flooder = await connect(url, { clientId: 'flooder' });
  const flood = await listen(flooder, 'flood/#');
  for (let k = 0; k < 300; k++) void flooder.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id: `f${k}`, prompt: PROMPT, max_tokens: 4, reply_to: `flood/f${k}` }), { qos: 0 });
  // each well-behaved client sends its next request when the previous one is answered
  const ids: string[] = [];
  await Promise.all(
    clients.map(async (c, i) => {
      for (let r = 0; r < 10; r++) {
        const id = `c${i}-r${r}`;
        ids.push(id);
        await c.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id, prompt: PROMPT, max_tokens: 8 + Math.floor(rand() * 24), temperature: 0.7, seed: r, reply_to: `load/${i}/${id}` }), { qos: 1 });
        if (rand() < 0.2) {
          await sleep(rand() * 20);
          await c.publishAsync(`wisp/${DEVICE}/cancel`, JSON.stringify({ id }), { qos: 1 });
        }
        const deadline = Date.now() + 60_000;
        while (!finals.has(id) && Date.now() < deadline) await sleep(5);
      }
    }),
  );
  await sleep(500);
  let cancelled = 0;
  for (const id of ids) {
    const done = finals.get(id) ?? [];
    assert.is(done.length, 1, `request ${id}: ${done.length} final messages`);
    const f = done[0];
    assert.is(f.error, undefined, `${id}: ${JSON.stringify(f.error)}`);
    assert.ok(['length', 'stop', 'cancelled'].includes(f.finish_reason!));
    if (f.finish_reason === 'cancelled') cancelled++;
    assert.is(chunks.get(id) ?? '', f.text, `${id}: the chunks join to the final text`);
  }
  assert.ok(cancelled > 0, 'some requests were cancelled');
  for (let i = 0; i < 100 && flood.messages.filter((m) => m.done).length < 300; i++) await sleep(50);
  const floodFinals = flood.messages.filter((m) => m.done);
  const limited = floodFinals.filter((m) => m.error && ['rate_limited', 'busy'].includes(m.error.code)).length;
  assert.is(new Set(floodFinals.map((m) => m.id)).size, floodFinals.length, 'one final per flood request');
  assert.ok(limited >= 250, `the flooding client is limited (${limited} of 300 refused; ${floodFinals.length} answered)`);
  await Promise.all([...clients, flooder].map((c) => c.endAsync()));
});

test('/metrics counts requests by outcome; /healthz is 200', async () => {
  const base = `http://127.0.0.1:${server.http!.port}`;
  const text = await (await fetch(`${base}/metrics`)).text();
  assert.match(text, /wisp_requests_total\{outcome="length"\} [1-9]/);
  assert.match(text, /wisp_requests_total\{outcome="invalid"\} [1-9]/);
  assert.match(text, /wisp_batch_size_bucket/);
  assert.match(text, /wisp_time_to_first_token_seconds_count [1-9]/);
  assert.match(text, /wisp_info\{[^}]*threads="2"[^}]*\} 1/); // the engine's kernel threads (threads: 2 above)
  const h = await fetch(`${base}/healthz`);
  assert.is(h.status, 200);
});

test.run();
