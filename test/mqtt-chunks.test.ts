// Chunk coalescing (--chunk-ms): a request streams at most one chunk per interval, the pieces joined;
// the text, the order and the one final message stay what they are with one chunk per token.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ChunkStream } from '../host/mqtt/chunk-stream.js';
import { startServer, type Server } from '../host/mqtt/server.js';
import { connect, listen, wispRunText } from './helpers/mqtt.js';
import { sharedModel } from './helpers/paths.js';

const DEVICE = 'chunkbox';
const PROMPTS = ['Once upon a time', 'The little dog', 'Lily wanted to', 'One day, Tom'];
let server: Server;

test.before(async () => {
  server = await startServer({
    modelPath: sharedModel('stories260K.gguf'),
    device: DEVICE,
    host: '127.0.0.1',
    port: 0,
    maxSequences: 4,
    contextSize: 256,
    threads: 2,
    // longer than any test runs: every piece after the first is held until the request ends
    chunkIntervalMs: 600_000,
    log: (await import('pino')).pino({ level: 'silent' }),
  });
});

test.after(async () => {
  await server.stop();
});

test('interval 0: every piece is its own chunk, in order', () => {
  const sent: string[] = [];
  const s = new ChunkStream(0, (t) => sent.push(t));
  for (const t of ['a', 'b', '', 'c']) s.push(t);
  s.flush();
  assert.equal(sent, ['a', 'b', 'c']);
});

test('the first piece goes at once; later ones within the interval are joined and sent by flush', () => {
  const sent: string[] = [];
  const s = new ChunkStream(600_000, (t) => sent.push(t));
  s.push('Once');
  assert.equal(sent, ['Once']);
  s.push(' upon');
  s.push(' a');
  assert.equal(sent, ['Once']);
  s.flush();
  s.flush(); // nothing held: nothing sent
  assert.equal(sent, ['Once', ' upon a']);
});

test('held text goes out by itself when the interval ends (no later piece needed)', async () => {
  const sent: string[] = [];
  let arrived: () => void = () => {};
  const s = new ChunkStream(5, (t) => {
    sent.push(t);
    arrived();
  });
  s.push('a');
  const second = new Promise<void>((r) => (arrived = r));
  s.push('b');
  s.push('c');
  await second;
  assert.equal(sent, ['a', 'bc']);
});

test('served with an interval: 4 concurrent greedy requests each get their text once, in 2 chunks, and exactly one final', async () => {
  const c = await connect(server.url);
  const runs = await Promise.all(
    PROMPTS.map(async (prompt, i) => {
      const l = await listen(c, `chunks/${i}`);
      await c.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id: `c${i}`, prompt, max_tokens: 40, temperature: 0 }), { qos: 1, properties: { responseTopic: `chunks/${i}` } });
      return { prompt, ms: await l.done() };
    }),
  );
  for (const { prompt, ms } of runs) {
    const expected = wispRunText(prompt, 40);
    const chunks = ms.filter((m) => !m.done);
    assert.is(ms.filter((m) => m.done).length, 1, `${prompt}: one final`);
    assert.ok(ms.at(-1)!.done, `${prompt}: the final comes last`);
    assert.equal(chunks.map((m) => m.seq), [0, 1], `${prompt}: the first piece, then the rest joined`);
    assert.is(chunks.map((m) => m.text).join(''), expected);
    assert.is(ms.at(-1)!.text, expected);
  }
  await c.endAsync();
});

test.run();
