// `wisp ask` as a user runs it: it reads the devices' retained statuses before asking, says what
// to do when no service runs, refuses --chat for a model without a chat template, and exits 130
// on Ctrl-C.
import { createServer } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker, type EmbeddedBroker } from '../host/mqtt/broker.js';
import { connect } from './helpers/mqtt.js';
import { runCli, startServe } from './helpers/serve.js';

/** An embedded broker holding retained statuses for edge1 (online, no chat template) and edge2 (offline). */
async function brokerWithStatuses(): Promise<{ broker: EmbeddedBroker; close(): Promise<void> }> {
  const broker = await startBroker({ device: 'edge1', host: '127.0.0.1', tcpPort: 0 });
  const c = await connect(broker.url);
  const status = (device: string, online: boolean) =>
    JSON.stringify({ device, online, ts: '2026-01-01T00:00:00.000Z', model: { name: 'stories260K', sha256: '0'.repeat(64), context: 512, chat_template: false } });
  await c.publishAsync('wisp/edge1/status', status('edge1', true), { qos: 1, retain: true });
  await c.publishAsync('wisp/edge2/status', status('edge2', false), { qos: 1, retain: true });
  await c.endAsync();
  return { broker, close: () => broker.close() };
}

test('ask fails at once for a device whose status is offline or absent, listing the devices it saw', async () => {
  const b = await brokerWithStatuses();
  try {
    const off = await runCli(['ask', '--broker', b.broker.url, '--device', 'edge2', '--timeout', '600', 'hello']);
    assert.is(off.code, 1);
    assert.match(off.err, /device edge2 is offline \(since 2026-01-01T00:00:00\.000Z\); devices on this broker: edge1 \(online\), edge2 \(offline\)/);
    const none = await runCli(['ask', '--broker', b.broker.url, '--device', 'nosuch', '--timeout', '600', 'hello']);
    assert.is(none.code, 1);
    assert.match(none.err, /no device nosuch on mqtt:\/\/127\.0\.0\.1:\d+ \(no retained wisp\/nosuch\/status\); devices on this broker: edge1 \(online\), edge2 \(offline\)/);
    // the idle timeout (600 s) never came into it: the answer is the status, not "no reply"
    assert.not.match(none.err, /no reply/);
  } finally {
    await b.close();
  }
});

test('ask --chat is refused for a device whose model has no chat template', async () => {
  const b = await brokerWithStatuses();
  try {
    const r = await runCli(['ask', '--broker', b.broker.url, '--chat', 'Tell me a story']);
    assert.is(r.code, 2);
    assert.match(r.err, /device edge1 serves stories260K, which has no chat template .* drop --chat/);
  } finally {
    await b.close();
  }
});

test('ask with nothing listening suggests npm start or wisp serve', async () => {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((ok) => s.close(() => ok())); // a port that was free a moment ago
  const r = await runCli(['ask', '--broker', `mqtt://127.0.0.1:${port}`, 'hello']);
  assert.is(r.code, 1);
  assert.match(r.err, /cannot connect to mqtt:\/\/127\.0\.0\.1:\d+: nothing is listening there \(ECONNREFUSED\); start a device with `npm start` in the checkout or `[^`]*wisp serve`/);
  assert.is(r.err.trim().split('\n').length, 1);
});

test('ask exits 130 on Ctrl-C, and the device cancels the request', async () => {
  const s = await startServe(['--port', '0', '--metrics-port', 'off', '--device', 'ctrlc'], { WISP_LOG_LEVEL: 'warn' });
  try {
    assert.ok(s.url, s.out() + s.err());
    const r = await runCli(['ask', '--broker', s.url, '--device', 'ctrlc', '-n', '2000', '--temp', '1', '--seed', '3', 'Once upon a time'], {}, {
      onStart: (p) => p.stdout!.once('data', () => p.kill('SIGINT')),
    });
    assert.is(r.code, 130, r.err);
    assert.match(r.err, /cancelling/);
    assert.match(r.err, /finish: cancelled/);
  } finally {
    await s.stop();
  }
});

test.run();
