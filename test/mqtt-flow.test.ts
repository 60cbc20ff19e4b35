// Delivery through the embedded broker when clients misbehave: a reader that stops reading must not
// stall the others or crash the process (per-client flow control, host/mqtt/outbox.ts).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type Server } from '../host/mqtt/server.js';
import { connect, sleep, type Reply } from './helpers/mqtt.js';
import { ROOT, sharedModel } from './helpers/paths.js';

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
    log: (await import('pino')).pino({ level: process.env.WISP_TEST_LOG ?? 'silent' }),
  });
  url = server.url;
});

test.after(async () => {
  await server.stop();
});

/** A child process running test/helpers/stream-reader.ts, with its stdout lines parsed. */
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
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return { child, lines, stderr: () => stderr };
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

test('a stopped reader with 16 long streams: every other request is answered, the process survives, the stopped client’s requests end', async () => {
  const stopped = reader('stopped', 16, 400, 8192);
  try {
    await until('the stopped reader to send its requests', () => stopped.lines.some((l) => l.sent), 15_000);
    stopped.child.kill('SIGSTOP');
    await sleep(3000); // its backlog outgrows the socket buffers
    // three well-behaved clients, one request at a time each, while the reader stays stopped
    const firstTokenMs: number[] = [];
    const outcomes = new Map<string, Reply[]>();
    await Promise.all(
      [0, 1, 2].map(async (k) => {
        const c = await connect(url, { clientId: `steady-${k}` });
        const got = new Map<string, Reply[]>();
        c.on('message', (_t, p) => {
          const m = JSON.parse(p.toString()) as Reply;
          got.set(m.id!, [...(got.get(m.id!) ?? []), m]);
        });
        await c.subscribeAsync(`steady/${k}/#`, { qos: 1 });
        for (let r = 0; r < 6; r++) {
          const id = `s${k}-${r}`;
          const t0 = performance.now();
          await c.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id, prompt: 'Once upon a time', max_tokens: 24, temperature: 0 }), { qos: 1, properties: { responseTopic: `steady/${k}/${id}` } });
          await until(`the first token of ${id}`, () => (got.get(id)?.length ?? 0) > 0, 60_000);
          firstTokenMs.push(performance.now() - t0);
          await until(`the final reply of ${id}`, () => got.get(id)!.some((m) => m.done), 60_000);
          outcomes.set(id, got.get(id)!);
        }
        await c.endAsync();
      }),
    );
    console.log(`  others' first token while a reader is stopped: median ${median(firstTokenMs).toFixed(0)} ms, max ${Math.max(...firstTokenMs).toFixed(0)} ms over ${firstTokenMs.length} requests`);
    for (const [id, ms] of outcomes) {
      assert.is(ms.filter((m) => m.done).length, 1, `${id}: one final`);
      assert.is(ms.at(-1)!.finish_reason, 'length', `${id}: ${JSON.stringify(ms.at(-1))}`);
    }
    // the stopped client, resumed: each of its requests ended with one final, unless its
    // connection (and with it its clean session) was dropped
    stopped.child.kill('SIGCONT');
    await until('the stopped reader to get its finals or lose its connection', () => stopped.lines.some((l) => l.closed) || stopped.lines.filter((l) => l.final).length === 16, 60_000);
    const finals = stopped.lines.filter((l) => l.final);
    const closed = stopped.lines.some((l) => l.closed);
    console.log(`  the stopped reader: ${finals.length} finals (${finals.map((f) => f.finish_reason).join(',')})${closed ? ', connection dropped' : ''}`);
    assert.is(new Set(finals.map((f) => f.final)).size, finals.length, 'at most one final per request');
    if (!closed) assert.is(finals.length, 16);
  } finally {
    stopped.child.kill('SIGCONT');
    stopped.child.kill('SIGKILL');
  }
  // the process is alive and serving
  const c = await connect(url);
  await c.subscribeAsync('after/#', { qos: 1 });
  const done = new Promise<Reply>((resolve) => c.on('message', (_t, p) => { const m = JSON.parse(p.toString()) as Reply; if (m.done) resolve(m); }));
  await c.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id: 'after', prompt: 'Once upon a time', max_tokens: 8, temperature: 0 }), { qos: 1, properties: { responseTopic: 'after/1' } });
  assert.is((await done).finish_reason, 'length');
  await c.endAsync();
});

test.run();
