// Roles through the whole service: with a users table, a `client` reads only its own replies,
// cannot steer replies into another user's topics, cannot use control/#; an `operator` can.
import { pino } from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type Server } from '../host/mqtt/server.js';
import { hashPassword, parseUsers } from '../host/mqtt/users.js';
import { connect, listen, sleep } from './helpers/mqtt.js';
import { sharedModel } from './helpers/paths.js';

const D = 'acl-box';
let server: Server;

test.before(async () => {
  const password = await hashPassword('pw');
  server = await startServer({
    modelPath: sharedModel('stories260K.gguf'),
    device: D,
    host: '127.0.0.1',
    port: 0,
    users: parseUsers({ users: { alice: { role: 'client', password }, bob: { role: 'client', password }, ops: { role: 'operator', password } } }),
    contextSize: 128,
    threads: 1,
    log: pino({ level: 'silent' }),
  });
});

test.after(async () => {
  await server.stop();
});

/** mqtt.js 5 rejects a subscription the broker refuses (SUBACK reason >= 0x80). */
async function refused(c: Awaited<ReturnType<typeof connect>>, topic: string): Promise<boolean> {
  try {
    const granted = await c.subscribeAsync(topic, { qos: 1 });
    return granted.every((g) => g.qos >= 128);
  } catch (err) {
    return /not authorized/i.test((err as Error).message);
  }
}

const as = (username: string) => connect(server.url, { username, password: 'pw' });

test('a client user gets its replies under wisp/<device>/reply/<user>/ and another user cannot subscribe there', async () => {
  const alice = await as('alice');
  const bob = await as('bob');
  const l = await listen(alice, `wisp/${D}/reply/alice/#`);
  assert.ok(await refused(bob, `wisp/${D}/reply/alice/#`), "bob's subscription to alice's replies is refused");
  assert.ok(await refused(bob, `wisp/${D}/reply/#`), 'a wildcard over every user’s replies is refused');
  const bobGot: string[] = [];
  bob.on('message', (t) => bobGot.push(t));
  await alice.publishAsync(`wisp/${D}/infer`, JSON.stringify({ id: 'a1', prompt: 'Once upon a time', max_tokens: 10, temperature: 0 }), { qos: 1 });
  const ms = await l.done();
  assert.is(ms.at(-1)!.finish_reason, 'length');
  await sleep(100);
  assert.equal(bobGot, []);
  await alice.endAsync();
  await bob.endAsync();
});

test('a client cannot steer replies into another user’s topic: forbidden_reply_topic at its own', async () => {
  const alice = await as('alice');
  const l = await listen(alice, `wisp/${D}/reply/alice/#`);
  await alice.publishAsync(`wisp/${D}/infer`, JSON.stringify({ id: 'steer', prompt: 'hi', max_tokens: 3, reply_to: `wisp/${D}/reply/bob/x` }), { qos: 1 });
  const ms = await l.done();
  assert.is(ms.length, 1);
  assert.is(ms[0].error!.code, 'forbidden_reply_topic');
  assert.match(ms[0].error!.message, /wisp\/acl-box\/reply\/bob\/x/);
  await alice.endAsync();
});

test('control/# is for operators only', async () => {
  const alice = await as('alice');
  const ops = await as('ops');
  const got: string[] = [];
  ops.on('message', (t) => got.push(t));
  const sub = await ops.subscribeAsync(`wisp/${D}/control/#`, { qos: 1 });
  assert.ok(sub[0].qos < 128, 'the operator may subscribe to control/#');
  assert.ok(await refused(alice, `wisp/${D}/control/#`), 'a client may not subscribe to control/#');
  let publishRefused = false;
  await alice.publishAsync(`wisp/${D}/control/kernels/swap`, '{}', { qos: 1 }).catch(() => (publishRefused = true));
  await ops.publishAsync(`wisp/${D}/control/kernels/rollback`, '{}', { qos: 1 });
  await sleep(200);
  assert.ok(publishRefused, "the client's publish to control/ is refused (PUBACK with a failure reason)");
  assert.equal(got, [`wisp/${D}/control/kernels/rollback`]);
  await alice.endAsync();
  await ops.endAsync();
});

test('bob cannot cancel alice’s request', async () => {
  const alice = await as('alice');
  const bob = await as('bob');
  const l = await listen(alice, `wisp/${D}/reply/alice/#`);
  await alice.publishAsync(`wisp/${D}/infer`, JSON.stringify({ id: 'mine', prompt: 'Once upon a time', max_tokens: 60, temperature: 0 }), { qos: 1 });
  await bob.publishAsync(`wisp/${D}/cancel`, JSON.stringify({ id: 'mine' }), { qos: 1 });
  const ms = await l.done();
  assert.is(ms.at(-1)!.finish_reason, 'length');
  await alice.endAsync();
  await bob.endAsync();
});

test('wrong password: refused', async () => {
  let err: Error | undefined;
  await connect(server.url, { username: 'alice', password: 'nope' }).catch((e: Error) => (err = e));
  assert.ok(err);
});

test.run();
