// `wisp serve` / `npm start` in a user's first hour: where the broker listens and who may use it,
// what a port in use says, and a catalog model that is not on the machine yet.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hashPassword } from '../host/mqtt/users.js';
import { serveFile } from './helpers/http-file.js';
import { sharedModel } from './helpers/paths.js';
import { runCli, startServe } from './helpers/serve.js';

const tempDirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'wisp-serve-cli-'));
  tempDirs.push(d);
  return d;
}
test.after(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** The lines a person reads on stderr (not the JSON log). */
const plainLines = (s: string) => s.split('\n').filter((l) => l.trim() && !l.startsWith('{'));

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function occupiedPort(): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as { port: number }).port;
  return { port, close: () => new Promise((ok) => server.close(() => ok())) };
}

test('the embedded broker listens on loopback only by default; the banner says where and that auth is off', async () => {
  const s = await startServe(['--port', '0', '--metrics-port', '0', '--device', 'loopback']);
  try {
    assert.ok(s.url, s.out() + s.err());
    assert.match(s.out(), /broker: {2}embedded, listening on mqtt:\/\/127\.0\.0\.1:\d+ \(this machine only; --host 0\.0\.0\.0 opens it\)/);
    assert.match(s.out(), /auth: {4}none: anyone who can connect may use it/);
    assert.match(s.err(), /"host":"127\.0\.0\.1"/);
    assert.not.match(s.err(), /warning/);
    const port = Number(new URL(s.url).port);
    assert.ok(await canConnect('127.0.0.1', port));
    // another address of this machine does not reach it
    const other = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal);
    if (other) assert.not.ok(await canConnect(other.address, port), `reached on ${other.address}`);
  } finally {
    assert.is(await s.stop(), 0, s.err());
  }
});

test('/healthz names the device profile the log names, and no log line repeats the "device" key', async () => {
  const s = await startServe(['--port', '0', '--metrics-port', '0', '--device', 'health']);
  try {
    const metrics = /metrics: (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(s.out())?.[1];
    assert.ok(metrics, s.out());
    const health = (await (await fetch(`${metrics}/healthz`)).json()) as { status: { profile: string | null } };
    const logged = /threads: \d+ \(profile ([^:]+):/.exec(s.err())?.[1];
    assert.ok(logged, s.err());
    assert.is(health.status.profile, logged);
    for (const line of s.err().split('\n').filter((l) => l.startsWith('{'))) {
      assert.ok((line.match(/"device":/g) ?? []).length <= 1, line);
    }
  } finally {
    await s.stop();
  }
});

test('--host 0.0.0.0 without a users file prints one warning line that anyone on the network can use it', async () => {
  const s = await startServe(['--host', '0.0.0.0', '--port', '0', '--metrics-port', 'off', '--device', 'open']);
  try {
    const warnings = plainLines(s.err()).filter((l) => /warning/.test(l));
    assert.is(warnings.length, 1, s.err());
    assert.match(warnings[0], /listens on 0\.0\.0\.0 with no --users file: anyone on the network can send it prompts/);
    assert.match(s.out(), /listening on mqtt:\/\/0\.0\.0\.0:\d+ \(on [^)]*127\.0\.0\.1/);
  } finally {
    await s.stop();
  }
  const dir = tempDir();
  const users = join(dir, 'users.json');
  writeFileSync(users, JSON.stringify({ users: { alice: { role: 'client', password: await hashPassword('pw') } } }));
  const a = await startServe(['--host', '0.0.0.0', '--port', '0', '--metrics-port', 'off', '--device', 'open', '--users', users]);
  try {
    assert.not.match(a.err(), /warning/);
    assert.match(a.out(), new RegExp(`auth: {4}users from ${users}`));
  } finally {
    await a.stop();
  }
});

test('a port in use names --port and --broker, fails before loading the model, exits non-zero', async () => {
  const busy = await occupiedPort();
  try {
    const r = await runCli(['serve', '--model', 'stories260K', '--port', String(busy.port), '--metrics-port', 'off']);
    assert.is(r.code, 2);
    const lines = plainLines(r.err);
    assert.is(lines.length, 1, r.err);
    assert.match(lines[0], new RegExp(`MQTT port ${busy.port} on 127\\.0\\.0\\.1 is already in use .*--port N, or use the broker that is already there with --broker mqtt://127\\.0\\.0\\.1:${busy.port}`));
    assert.not.match(r.err, /threads:/); // the model was not loaded
    const ws = await runCli(['serve', '--port', '0', '--ws-port', String(busy.port), '--metrics-port', 'off']);
    assert.is(ws.code, 2);
    assert.match(ws.err, /--ws-port N/);
  } finally {
    await busy.close();
  }
});

test('--backlog-max below --backlog is one usage line', async () => {
  const r = await runCli(['serve', '--model', 'stories260K', '--port', '0', '--metrics-port', 'off', '--backlog', '500', '--backlog-max', '100']);
  assert.is(r.code, 2);
  const lines = plainLines(r.err);
  assert.is(lines.length, 1, r.err);
  assert.match(lines[0], /--backlog-max \(100\) must be at least --backlog \(500\)/);
});

test('a metrics port in use names --metrics-port', async () => {
  const busy = await occupiedPort();
  try {
    const r = await runCli(['serve', '--model', 'stories260K', '--port', '0', '--metrics-port', String(busy.port)], { WISP_LOG_LEVEL: 'warn' });
    assert.is(r.code, 2);
    const lines = plainLines(r.err);
    assert.is(lines.length, 1, r.err);
    assert.match(lines[0], new RegExp(`metrics port ${busy.port} .*already in use: pick another with --metrics-port N`));
  } finally {
    await busy.close();
  }
});

test('a missing users file says how to create it; an unreachable --broker says what to check', async () => {
  const dir = tempDir();
  const r = await runCli(['serve', '--users', join(dir, 'users.json'), '--port', '0', '--metrics-port', 'off']);
  assert.is(r.code, 2);
  assert.match(r.err, /--users .*users\.json: no such file; create it with `[^`]*wisp user add NAME --role client --file /);
  const closed = await occupiedPort();
  await closed.close(); // free a moment ago: nothing listens there
  const b = await runCli(['serve', '--broker', `mqtt://127.0.0.1:${closed.port}`, '--metrics-port', 'off'], { WISP_LOG_LEVEL: 'warn' });
  assert.is(b.code, 1);
  assert.match(b.err, /cannot connect to mqtt:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.* \(nothing listens at .*leave --broker out to use the embedded one\)/);
});

/** A catalog whose default model is stories260K's bytes under another name, served by a local HTTP server. */
async function localCatalog(dir: string) {
  const bytes = readFileSync(sharedModel('stories260K.gguf'));
  const server = await serveFile('/tiny-story.gguf', bytes);
  const catalog = join(dir, 'catalog.json');
  const entry = {
    name: 'tiny-story',
    file: 'tiny-story.gguf',
    url: `${server.origin}/tiny-story.gguf`,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.length,
    license: 'MIT',
    description: 'stories260K under another name (test)',
  };
  writeFileSync(catalog, JSON.stringify({ default: 'tiny-story', models: [entry] }));
  return { bytes, server, catalog, entry };
}

test('serve with no model on the search path pulls the catalog default (progress, sha256, resume), then serves', async () => {
  const dir = tempDir();
  const cache = join(dir, 'cache');
  const { bytes, server, catalog } = await localCatalog(dir);
  // an interrupted earlier pull: the rest is fetched with a Range request
  mkdirSync(cache);
  writeFileSync(join(cache, 'tiny-story.gguf.part'), bytes.subarray(0, 400_000));
  const s = await startServe(['--port', '0', '--metrics-port', 'off', '--device', 'pulled'], { WISP_CATALOG: catalog, WISP_CACHE_DIR: cache });
  try {
    assert.match(s.err(), /tiny-story is not on this machine: downloading it \([\d.]+ [kM]B from 127\.0\.0\.1:\d+, sha256-checked\)/, s.err());
    assert.match(s.err(), /tiny-story: \d+% \(/); // progress (a line per 10% when not a terminal)
    assert.match(s.err(), /tiny-story: resumed, fetched .* \(sha256 [0-9a-f]{12}… verified\)/);
    assert.equal(server.requests, [{ path: '/tiny-story.gguf', range: 'bytes=400000-' }]);
    assert.match(s.out(), /serving tiny-story \(llama, 5 layers, vocab 512\)/);
    assert.ok(readFileSync(join(cache, 'tiny-story.gguf')).equals(bytes));
  } finally {
    await s.stop();
    await server.close();
  }
});

test('offline, serve fails with where it looked and how to get the model, and downloads nothing', async () => {
  const dir = tempDir();
  const { server, catalog } = await localCatalog(dir);
  try {
    const r = await runCli(['serve', '--port', '0', '--metrics-port', 'off'], { WISP_CATALOG: catalog, WISP_CACHE_DIR: join(dir, 'cache'), WISP_OFFLINE: '1' });
    assert.is(r.code, 1);
    assert.match(r.err, /model "tiny-story" not found: run `[^`]*wisp pull tiny-story` to download it/);
    assert.match(r.err, /offline, copy tiny-story\.gguf into one of the folders above/);
    assert.is(server.requests.length, 0);
    assert.not.ok(existsSync(join(dir, 'cache', 'tiny-story.gguf')));
    // no network at all: the pull's reason, then the same advice
    await server.close();
    const down = await runCli(['serve', '--port', '0', '--metrics-port', 'off'], { WISP_CATALOG: catalog, WISP_CACHE_DIR: join(dir, 'cache') });
    assert.is(down.code, 1);
    assert.match(down.err, /wisp pull tiny-story: could not reach 127\.0\.0\.1:\d+: connection refused/);
    assert.match(down.err, /model "tiny-story" not found/);
  } finally {
    await server.close().catch(() => {});
  }
});

test.run();
