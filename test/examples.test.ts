// examples/ against a real server: each client runs as a child process (async: the broker under
// test runs in this process) and must print exactly what `wisp run --temp 0` prints; Ctrl-C
// cancels; the Node client's Last Will cancels its request through an external broker (Mosquitto).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type Server } from '../host/mqtt/server.js';
import { connect, listen, runAsync, sleep, slowSteps, wispRunText } from './helpers/mqtt.js';
import { ROOT, sharedModel } from './helpers/paths.js';

const DEVICE = 'exbox';
const PROMPT = 'Once upon a time';
const N = 60;
const NODE_CLIENT = join(ROOT, 'examples', 'node-client.mjs');
const ASK_SH = join(ROOT, 'examples', 'ask.sh');
const ASK_RR = join(ROOT, 'examples', 'ask-rr.sh');
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const MOSQUITTO_CLIENTS = has('mosquitto_sub') && has('mosquitto_pub');
const MOSQUITTO_RR = has('mosquitto_rr');
const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/opt/homebrew/sbin/mosquitto'].find((p) => spawnSync('test', ['-x', p]).status === 0) ?? (has('mosquitto') ? 'mosquitto' : undefined);
const silent = async () => (await import('pino')).pino({ level: 'silent' });

let expected: string;
let expectedShort: string;
let server: Server;
let host: string;
let port: string;

// a slower model step, so a cancel surely lands mid-answer (stories260K makes ~2000 tokens/s)
const slowDown = (s: Server, ms: number) => slowSteps(s.model.model, ms);

/** Spawns a command; `onFirstOutput` runs once when stdout first has data. */
function run(cmd: string, args: string[], onFirstOutput?: (p: ChildProcess) => void, opts: { detached?: boolean } = {}) {
  return new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve, reject) => {
    const p = spawn(cmd, args, { detached: opts.detached });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d) => {
      const first = stdout === '';
      stdout += d;
      if (first) onFirstOutput?.(p);
    });
    p.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

test.before(async () => {
  // `wisp run` runs synchronously: before the broker exists
  expected = wispRunText(PROMPT, N);
  expectedShort = wispRunText(PROMPT, 20);
  server = await startServer({
    modelPath: sharedModel('stories260K.gguf'),
    device: DEVICE,
    host: '127.0.0.1',
    port: 0,
    maxSequences: 4,
    contextSize: 256,
    threads: 1,
    log: await silent(),
  });
  ({ hostname: host, port } = new URL(server.url));
});

test.after(async () => {
  await server.stop();
});

test('node-client.mjs, MQTT 5: streams exactly what `wisp run` prints; usage on stderr', async () => {
  const r = await runAsync(process.execPath, [NODE_CLIENT, '--broker', server.url, '--device', DEVICE, '-n', String(N), '--temp', '0', PROMPT]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, `${expected}\n`);
  assert.match(r.stderr, new RegExp(`${DEVICE}: 5 prompt \\+ ${N} generated tokens, finish: length`));
  assert.match(r.stderr, /first token [\d.]+ ms/);
});

test('node-client.mjs --v3 (MQTT 3.1.1, reply_to): the same text', async () => {
  const r = await runAsync(process.execPath, [NODE_CLIENT, '--broker', server.url, '--device', DEVICE, '-n', String(N), '--temp', '0', '--v3', PROMPT]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, `${expected}\n`);
});

test('node-client.mjs: an error reply is printed and exits 1; a device that is not there times out', async () => {
  const bad = await runAsync(process.execPath, [NODE_CLIENT, '--broker', server.url, '--device', DEVICE, '--temp', '20', PROMPT]);
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /exbox: invalid_request: .*temperature/);
  const none = await runAsync(process.execPath, [NODE_CLIENT, '--broker', server.url, '--device', 'nobody', '--timeout', '0.5', PROMPT]);
  assert.is(none.code, 1);
  assert.match(none.stderr, /no reply from device 'nobody'/);
});

test('node-client.mjs: Ctrl-C cancels; the final message says cancelled', async () => {
  const restore = slowDown(server, 5);
  try {
    const r = await run(process.execPath, [NODE_CLIENT, '--broker', server.url, '--device', DEVICE, '-n', '200', '--temp', '0', PROMPT], (p) => p.kill('SIGINT'));
    assert.is(r.code, 130, r.stderr);
    assert.match(r.stderr, /finish: cancelled/);
    assert.ok(r.stdout.length < expected.length * 2, 'stopped early');
    assert.ok(expected.startsWith(r.stdout.trimEnd().slice(0, 20)));
  } finally {
    restore();
  }
});

test('ask.sh (mosquitto_sub + mosquitto_pub): streams exactly what `wisp run` prints', async () => {
  if (!MOSQUITTO_CLIENTS) return console.log('  (skipped: mosquitto clients not installed)');
  const r = await runAsync('bash', [ASK_SH, '-h', host, '-p', port, '-d', DEVICE, '-n', String(N), '-t', '0', PROMPT]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, `${expected}\n`);
  assert.match(r.stderr, new RegExp(`${DEVICE}: finish length, usage \\{"prompt_tokens":5,"completion_tokens":${N}\\}`));
});

test('ask.sh: no device, no broker: a clear message each', async () => {
  if (!MOSQUITTO_CLIENTS) return;
  const env = { ...process.env, WISP_TIMEOUT: '1' };
  const none = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const p = spawn('bash', [ASK_SH, '-h', host, '-p', port, '-d', 'nobody', PROMPT], { env });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stderr }));
  });
  assert.is(none.code, 1);
  assert.match(none.stderr, /no status from device 'nobody'/);
  const closed = await runAsync('bash', [ASK_SH, '-h', '127.0.0.1', '-p', String(await freePort()), '-d', DEVICE, PROMPT]);
  assert.is(closed.code, 1);
  assert.match(closed.stderr, /cannot reach the broker/);
});

test('ask.sh: prompts with quotes, backslashes and newlines are sent as valid JSON', async () => {
  if (!MOSQUITTO_CLIENTS) return;
  const prompt = 'She said "hi" \\ and\nleft\t.';
  const r = await runAsync('bash', [ASK_SH, '-h', host, '-p', port, '-d', DEVICE, '-n', '5', '-t', '0', prompt]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /finish length/);
});

test('ask.sh: Ctrl-C (SIGINT to the whole process group, as a terminal sends it) cancels', async () => {
  if (!MOSQUITTO_CLIENTS) return;
  const restore = slowDown(server, 5);
  try {
    const r = await run('bash', [ASK_SH, '-h', host, '-p', port, '-d', DEVICE, '-n', '200', '-t', '0', PROMPT], (p) => process.kill(-p.pid!, 'SIGINT'), { detached: true });
    assert.is(r.code, 130, r.stderr);
    assert.match(r.stderr, /finish cancelled/);
    assert.ok(expected.startsWith(r.stdout.trimEnd().slice(0, 20)));
  } finally {
    restore();
  }
});

test('ask-rr.sh (mosquitto_rr, stream: false): the same text in one message', async () => {
  if (!MOSQUITTO_RR) return console.log('  (skipped: mosquitto_rr not installed)');
  const r = await runAsync('bash', [ASK_RR, '-h', host, '-p', port, '-d', DEVICE, '-n', '20', '-t', '0', PROMPT]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, `${expectedShort}\n`);
  const j = await runAsync('bash', [ASK_RR, '-h', host, '-p', port, '-d', DEVICE, '-n', '20', '-t', '0', '-j', PROMPT]);
  assert.is(j.code, 0, j.stderr);
  const final = JSON.parse(j.stdout);
  assert.is(final.text, expectedShort);
  assert.is(final.done, true);
  const err = await runAsync('bash', [ASK_RR, '-h', host, '-p', port, '-d', DEVICE, '-t', '20', PROMPT]);
  assert.is(err.code, 1);
  assert.match(err.stderr, /exbox: invalid_request: .*temperature/);
});

test('node-client.mjs through Mosquitto: killed mid-answer, its Last Will cancels the request', async () => {
  if (!MOSQUITTO) return console.log('  (skipped: mosquitto broker not installed)');
  const mport = await freePort();
  const broker = spawn(MOSQUITTO, ['-p', String(mport)], { stdio: 'ignore' });
  let external: Server | undefined;
  try {
    const url = `mqtt://127.0.0.1:${mport}`;
    for (let i = 0; i < 50; i++) {
      try {
        await (await connect(url)).endAsync();
        break;
      } catch {
        await sleep(100);
      }
    }
    external = await startServer({ modelPath: sharedModel('stories260K.gguf'), device: 'extbox', broker: { url }, maxSequences: 2, contextSize: 256, threads: 1, log: await silent() });
    const restore = slowDown(external, 5);
    const watcher = await connect(url);
    const replies = await listen(watcher, 'wisp/extbox/reply/#');
    const r = await run(process.execPath, [NODE_CLIENT, '--broker', url, '--device', 'extbox', '-n', '200', '--temp', '0', PROMPT], (p) => p.kill('SIGKILL'));
    assert.is(r.signal, 'SIGKILL');
    const ms = await replies.done(10_000);
    const final = ms.find((m) => m.done)!;
    assert.is(final.finish_reason, 'cancelled', JSON.stringify(final));
    assert.ok(final.usage!.completion_tokens < 200);
    restore();
    await watcher.endAsync();
  } finally {
    await external?.stop();
    broker.kill();
  }
});

test.run();
