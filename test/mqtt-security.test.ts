// The service's security promises through the embedded broker with a users table, with real
// mqtt.js clients (MQTT 5 and 3.1.1) on random ports: a request belongs to its user and client id;
// reused ids are answered; control/# is refused; TLS-only logins and listeners; the login back-off.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker } from '../host/mqtt/broker.js';
import { DEFAULT_LOGIN_BACKOFF, LoginBackoff, type LoginBackoffPolicy } from '../host/mqtt/limits.js';
import { startServer, type Server } from '../host/mqtt/server.js';
import { hashPassword, parseUsers, type UserTable } from '../host/mqtt/users.js';
import { ServiceMetrics } from '../host/obs/metrics.js';
import { connect, listen, selfSignedCert, sleep, slowSteps, tryConnect, type Reply } from './helpers/mqtt.js';
import { CLI, sharedModel } from './helpers/paths.js';

const D = 'sec-box';
const PROMPT = 'Once upon a time';
let server: Server;
let tmp: string;
let tls: { cert: string; key: string };
let users: UserTable;

test.before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'wisp-security-'));
  tls = selfSignedCert(tmp);
  const password = await hashPassword('pw');
  users = parseUsers({ users: { alice: { role: 'client', password }, bob: { role: 'client', password }, ops: { role: 'operator', password } } });
  server = await startServer({
    modelPath: sharedModel('stories260K.gguf'),
    device: D,
    host: '127.0.0.1',
    port: 0,
    users,
    maxSequences: 4,
    contextSize: 256,
    threads: 1,
    log: pino({ level: 'silent' }),
  });
});

test.after(async () => {
  await server.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const as = (username: string, opts: Parameters<typeof connect>[1] = {}) => connect(server.url, { username, password: 'pw', ...opts });
const request = (id: string, maxTokens: number, extra: object = {}) => JSON.stringify({ id, prompt: PROMPT, max_tokens: maxTokens, temperature: 0, ...extra });
const finals = (ms: Reply[]) => ms.filter((m) => m.done);

for (const version of [5, 4] as const) {
  test(`MQTT ${version === 5 ? '5' : '3.1.1'}: bob on alice's client id can neither cancel her request nor lose his own with the same id`, async () => {
    const undo = slowSteps(server.model.model, 10); // 200 tokens: ~2 s, so her request is surely running
    try {
      const id = `X${version}`;
      // an operator watches alice's replies (she has left by then)
      const ops = await as('ops');
      const hers = await listen(ops, `wisp/${D}/reply/alice/${id}`);
      const alice = await as('alice', { clientId: 'shared-id', protocolVersion: version });
      await alice.publishAsync(`wisp/${D}/infer`, request(id, 200), { qos: 1 });
      while (hers.messages.length < 2) await sleep(5);
      await alice.endAsync(); // a clean DISCONNECT: her request goes on
      const bob = await as('bob', { clientId: 'shared-id', protocolVersion: version });
      const his = await listen(bob, `wisp/${D}/reply/bob/#`);
      await bob.publishAsync(`wisp/${D}/cancel`, JSON.stringify({ id }), { qos: 1 });
      await bob.publishAsync(`wisp/${D}/infer`, request(id, 5), { qos: 1 });
      const bobs = await his.done();
      assert.equal(finals(bobs).map((m) => [m.id, m.finish_reason, m.usage?.completion_tokens]), [[id, 'length', 5]], "bob's own request with that id runs");
      const herFinal = finals(await hers.done(30_000));
      assert.equal(herFinal.map((m) => [m.finish_reason, m.usage?.completion_tokens]), [['length', 200]], "alice's request is not cancelled");
      await bob.endAsync();
      await ops.endAsync();
    } finally {
      undo();
    }
  });
}

test('a lost connection cancels the requests of the user on it, not another user’s on the same client id', async () => {
  const undo = slowSteps(server.model.model, 10);
  try {
    const ops = await as('ops');
    const hers = await listen(ops, `wisp/${D}/reply/alice/lost-a`);
    const his = await listen(ops, `wisp/${D}/reply/bob/lost-b`);
    const alice = await as('alice', { clientId: 'shared-2' });
    await alice.publishAsync(`wisp/${D}/infer`, request('lost-a', 150), { qos: 1 });
    await alice.endAsync();
    const bob = await as('bob', { clientId: 'shared-2' });
    await bob.publishAsync(`wisp/${D}/infer`, request('lost-b', 150), { qos: 1 });
    while (his.messages.length < 1) await sleep(5);
    bob.end(true); // no DISCONNECT: the connection is lost
    assert.is(finals(await his.done())[0].finish_reason, 'cancelled');
    assert.is(finals(await hers.done(30_000))[0].finish_reason, 'length');
    await ops.endAsync();
  } finally {
    undo();
  }
});

for (const version of [5, 4] as const) {
  test(`MQTT ${version === 5 ? '5' : '3.1.1'}: a reused request id gets duplicate_id; a DUP redelivery is answered once`, async () => {
    const c = await as('alice', { protocolVersion: version });
    const id = `reuse${version}`;
    const l = await listen(c, `wisp/${D}/reply/alice/${id}`);
    await c.publishAsync(`wisp/${D}/infer`, request(id, 5, { stream: false }), { qos: 1 });
    while (finals(l.messages).length < 1) await sleep(5);
    // the same bytes flagged DUP: a redelivery, no second answer
    await c.publishAsync(`wisp/${D}/infer`, request(id, 5, { stream: false }), { qos: 1, dup: true });
    // the id again for another request, and the same bytes sent anew: one duplicate_id each
    await c.publishAsync(`wisp/${D}/infer`, request(id, 7, { stream: false }), { qos: 1 });
    await c.publishAsync(`wisp/${D}/infer`, request(id, 5, { stream: false }), { qos: 0 });
    // a later request on the same topic sequence marks the end
    const end = await listen(c, `wisp/${D}/reply/alice/${id}-end`);
    await c.publishAsync(`wisp/${D}/infer`, request(`${id}-end`, 1, { stream: false }), { qos: 1 });
    await end.done();
    await sleep(100);
    const codes = finals(l.messages).map((m) => m.error?.code ?? m.finish_reason);
    assert.equal(codes, ['length', 'duplicate_id', 'duplicate_id']);
    assert.match(finals(l.messages)[1].error!.message, /already used by this client/);
    await c.endAsync();
  });
}

test('control/#: an operator gets one reply per kernel command; a malformed one is invalid_request, another control topic not_implemented', async () => {
  const ops = await as('ops');
  const l = await listen(ops, `wisp/${D}/reply/ops/#`);
  await ops.publishAsync(`wisp/${D}/control/kernels/swap`, JSON.stringify({ id: 'swap1', family: 'matmul' }), { qos: 1 });
  await ops.publishAsync(`wisp/${D}/control/kernels`, JSON.stringify({ id: 'list1', command: 'list' }), { qos: 1 });
  await ops.publishAsync(`wisp/${D}/control/model`, JSON.stringify({ id: 'model1' }), { qos: 1 });
  for (let i = 0; i < 600 && l.messages.length < 3; i++) await sleep(50);
  const ms = l.messages;
  const byId = new Map(ms.map((m) => [m.id, m as unknown as Record<string, unknown> & { error?: { code: string; message: string } }]));
  assert.is(byId.get('swap1')!.error?.code, 'invalid_request');
  assert.match(byId.get('swap1')!.error!.message, /module/);
  assert.equal([byId.get('list1')!.command, byId.get('list1')!.ok], ['list', true]);
  assert.is(byId.get('model1')!.error?.code, 'not_implemented');
  await ops.endAsync();
});

test('require_tls: a password login on the plaintext listener is refused (0x87 / 5) unchecked; over TLS it works', async () => {
  const metrics = new ServiceMetrics();
  const broker = await startBroker({ device: D, host: '127.0.0.1', tcpPort: 0, tls: { port: 0, ...tls }, users: { ...users, require_tls: true }, metrics });
  try {
    const plain = broker.url;
    assert.match(plain, /^mqtt:/);
    assert.is(await tryConnect(plain, { username: 'alice', password: 'pw', protocolVersion: 5 }), 0x87);
    assert.is(await tryConnect(plain, { username: 'alice', password: 'pw', protocolVersion: 4 }), 5);
    const secure = `mqtts://127.0.0.1:${broker.ports.tls}`;
    assert.is(await tryConnect(secure, { username: 'alice', password: 'pw', ca: tls.cert }), 'connected');
    assert.is(await tryConnect(secure, { username: 'alice', password: 'pw', ca: tls.cert, protocolVersion: 4 }), 'connected');
    assert.is(broker.loginDelay('127.0.0.1', 'alice'), 0, 'refused for TLS, not counted as a wrong password');
    assert.match(await metrics.metricsText(), /wisp_login_refusals_total\{reason="tls_required"\} 2/);
  } finally {
    await broker.close();
  }
  // a users file that requires TLS with no TLS listener is an error at start, not a broker nobody can log in to
  await startBroker({ device: D, host: '127.0.0.1', tcpPort: 0, users: { ...users, require_tls: true } }).then(
    () => assert.unreachable('started without TLS'),
    (err: Error) => assert.match(err.message, /requires TLS .*no TLS listener/),
  );
});

test('wisp serve --port off: TLS only, no plaintext listener (ss -ltn); without --tls-port it is a usage error', async () => {
  const args = ['serve', '--model', sharedModel('stories260K.gguf'), '--device', 'tls-only', '--host', '127.0.0.1', '--port', 'off', '--metrics-port', 'off', '--threads', '1'];
  const refused = spawn(process.execPath, [CLI, ...args]);
  let refusedErr = '';
  refused.stderr.on('data', (d) => (refusedErr += d));
  assert.is(await new Promise((r) => refused.on('exit', r)), 2);
  assert.match(refusedErr, /--port off needs --tls-port/);

  const p = spawn(process.execPath, [CLI, ...args, '--tls-port', '0', '--tls-cert', join(tmp, 'cert.pem'), '--tls-key', tls.key]);
  try {
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    for (let i = 0; i < 600 && !/mqtts:\/\/[\w.]+:\d+/.test(out); i++) await sleep(50);
    const port = Number(/mqtts:\/\/[\w.]+:(\d+)/.exec(out)?.[1]);
    assert.ok(port > 0, out);
    const ss = await new Promise<string>((resolve) => {
      const q = spawn('ss', ['-ltnpH']);
      let text = '';
      q.stdout.on('data', (d) => (text += d));
      q.on('exit', () => resolve(text));
    });
    const listening = ss.split('\n').filter((l) => l.includes(`pid=${p.pid},`)).map((l) => Number(/:(\d+)\s/.exec(l)?.[1]));
    assert.equal(listening, [port], `only the TLS port is listened on: ${ss}`);
    assert.is(await tryConnect(`mqtts://127.0.0.1:${port}`, { ca: tls.cert }), 'connected');
  } finally {
    p.kill('SIGTERM');
    await new Promise((r) => p.on('exit', r));
  }
});

test('LoginBackoff: free failures, then a doubling wait up to the cap; 50 failures cost the default policy its 30 s cap', () => {
  const b = new LoginBackoff({ freeFailures: 3, baseDelayMs: 100, maxDelayMs: 800, forgetAfterMs: 60_000, maxPendingPerAddress: 8 });
  assert.equal([0, 1, 2, 3, 4, 5, 6, 7, 50].map((n) => b.delayFor(n)), [0, 0, 0, 100, 200, 400, 800, 800, 800]);
  assert.is(new LoginBackoff(DEFAULT_LOGIN_BACKOFF).delayFor(50), 30_000);
  // forgotten after a quiet spell; a success clears the user's count, not the address's
  for (let i = 0; i < 4; i++) {
    assert.is.not(b.start('10.0.0.1', 'alice', 0), null);
    b.end('10.0.0.1', 'alice', 'failed', 0);
  }
  // while it backs off, an address may have one login pending; a second is refused unchecked
  assert.is(b.start('10.0.0.1', undefined, 0), 200);
  assert.is(b.start('10.0.0.1', undefined, 0), null);
  b.end('10.0.0.1', undefined, 'other', 0);
  assert.is(b.delay('10.0.0.1', undefined, 1), 400, 'the refused one counted against the address');
  assert.is(b.delay('10.0.0.9', 'alice', 1), 200);
  b.end('10.0.0.9', 'alice', 'ok', 2);
  assert.is(b.delay('10.0.0.9', 'alice', 3), 0);
  assert.is(b.delay('10.0.0.1', undefined, 3), 400);
  assert.is(b.delay('10.0.0.1', undefined, 60_001), 0);
});

test('50 wrong passwords: the next attempt from that address waits the back-off the policy gives; a user elsewhere does not', async () => {
  const policy: LoginBackoffPolicy = { freeFailures: 3, baseDelayMs: 100, maxDelayMs: 800, forgetAfterMs: 60_000, maxPendingPerAddress: 8 };
  const metrics = new ServiceMetrics();
  const broker = await startBroker({ device: D, host: '127.0.0.1', tcpPort: 0, users, loginBackoff: policy, metrics });
  try {
    const url = broker.url;
    const wrong = await Promise.all(Array.from({ length: 50 }, (_, i) => tryConnect(url, { username: 'alice', password: 'guess', protocolVersion: i % 2 ? 4 : 5 })));
    for (const code of wrong) assert.ok([0x86, 4, 0x88, 3].includes(code as number), `refused: ${code}`);
    const expected = broker.loginDelay('127.0.0.1', 'alice');
    assert.is(expected, policy.maxDelayMs, 'the address and the user are at the cap');
    const t0 = performance.now();
    assert.is(await tryConnect(url, { username: 'alice', password: 'guess' }), 0x86);
    assert.ok(performance.now() - t0 >= expected, `the refusal came after ${performance.now() - t0} ms, the back-off is ${expected} ms`);
    // bob from another address: no wait at all
    assert.is(broker.loginDelay('127.0.0.2', 'bob'), 0);
    assert.is(await tryConnect(url, { username: 'bob', password: 'pw', localAddress: '127.0.0.2' }), 'connected');
    // alice herself from there: her user name is backing off, so she waits, then gets in
    const herWait = broker.loginDelay('127.0.0.2', 'alice');
    assert.is(herWait, policy.maxDelayMs);
    const t1 = performance.now();
    assert.is(await tryConnect(url, { username: 'alice', password: 'pw', localAddress: '127.0.0.2' }), 'connected');
    assert.ok(performance.now() - t1 >= herWait);
    assert.is(broker.loginDelay('127.0.0.2', 'alice'), 0, 'her login cleared her user name');
    const text = await metrics.metricsText();
    const refusals = [...text.matchAll(/wisp_login_refusals_total\{reason="(\w+)"\} (\d+)/g)].reduce((n, m) => n + Number(m[2]), 0);
    assert.is(refusals, 51);
    assert.match(text, /wisp_login_delay_seconds_count [1-9]/);
    assert.is(broker.stats.authFailures, 51);
  } finally {
    await broker.close();
  }
});

test.run();
