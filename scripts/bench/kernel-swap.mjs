#!/usr/bin/env node
// What a hot kernel swap costs a serving device (issue 14's closing note): serves a model, streams one
// greedy request, and meanwhile swaps matmul back and forth between the built flavours (signed by
// the build's development key) N times over MQTT as an operator. Prints, per swap, the time of the
// checks on the verifier thread (size to timing), the switch on every kernel thread (the pause between
// two steps), the wait for the step in flight; and for the stream, the median gap between tokens
// (one decode step) and the largest gap next to a swap against the largest elsewhere.
//
//   node build.mjs && node scripts/bench/kernel-swap.mjs --model FILE.gguf [--threads 1] [--swaps 6] [--tokens 256]
// (a 110M Q4_0 model: node dist/host/cli.js synth --shape 110m --tokenizer TOKENIZER --type q4_0 -o /tmp/110m-q4_0.gguf)
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values: o } = parseArgs({ options: { model: { type: 'string' }, threads: { type: 'string', default: '1' }, swaps: { type: 'string', default: '6' }, tokens: { type: 'string', default: '256' } } });
if (!o.model) throw new Error('--model FILE.gguf');
const { startServer } = await import(join(root, 'dist/host/mqtt/server.js'));
const { hashPassword, parseUsers } = await import(join(root, 'dist/host/mqtt/users.js'));
const mqtt = (await import('mqtt')).default;
const pino = (await import('pino')).default;

const password = await hashPassword('pw');
const server = await startServer({
  modelPath: o.model, device: 'swapbench', host: '127.0.0.1', port: 0, threads: Number(o.threads), maxSequences: 2, contextSize: 1024,
  users: parseUsers({ users: { bench: { role: 'client', password }, ops: { role: 'operator', password } } }),
  kernelPolicy: { maxSlowdown: 100 }, log: pino({ level: 'silent' }),
});
const connect = (username) => new Promise((resolve, reject) => {
  const c = mqtt.connect(server.url, { protocolVersion: 5, username, password: 'pw', reconnectPeriod: 0 });
  c.once('connect', () => resolve(c));
  c.once('error', reject);
});
const client = await connect('bench');
const ops = await connect('ops');
const kernels = join(root, 'kernels');
const manifest = JSON.parse(readFileSync(join(kernels, 'manifest.json'), 'utf8'));
const modules = Object.values(manifest.families.matmul.flavours).map((m) => ({ name: m.flavour, bytes: readFileSync(join(kernels, m.file)), sig: JSON.parse(readFileSync(join(kernels, `${m.file}.sig`), 'utf8')) }));

const gaps = [];
let last = 0;
const swapAt = [];
const finished = new Promise((resolve) => {
  client.on('message', (_t, p) => {
    const m = JSON.parse(p.toString());
    const now = performance.now();
    if (last) gaps.push({ at: now, gap: now - last });
    last = now;
    if (m.done) resolve(m);
  });
});
await client.subscribeAsync('wisp/swapbench/reply/bench/#', { qos: 1 });
await client.publishAsync('wisp/swapbench/infer', JSON.stringify({ id: 's1', prompt: 'Once upon a time', max_tokens: Number(o.tokens), temperature: 0 }), { qos: 1 });
await new Promise((r) => setTimeout(r, 1500));

let n = 0;
const results = [];
await ops.subscribeAsync('wisp/swapbench/reply/ops/#', { qos: 1 });
for (let i = 0; i < Number(o.swaps); i++) {
  const m = modules[(i + 1) % modules.length];
  const id = `k${n++}`;
  const reply = new Promise((resolve) => ops.on('message', (t, p) => t.endsWith(`/${id}`) && resolve(JSON.parse(p.toString()))));
  const t0 = performance.now();
  await ops.publishAsync('wisp/swapbench/control/kernels', JSON.stringify({ id, command: 'swap', family: 'matmul', module: m.bytes.toString('base64'), sha256: createHash('sha256').update(m.bytes).digest('hex'), signature: m.sig, name: `${m.name}-${i}` }), { qos: 1 });
  const r = await reply;
  swapAt.push([t0, performance.now()]);
  results.push(r);
  console.log(
    r.ok
      ? `swap ${i + 1} (${m.name}): ok; verify ${r.verify_ms} ms, switch ${r.switch_ms} ms, waited ${r.waited_ms} ms for the step in flight, total ${r.total_ms} ms`
      : `swap ${i + 1} (${m.name}): refused after ${r.verify_ms} ms: ${r.reason}`,
  );
  await new Promise((res) => setTimeout(res, 300));
}
const final = await finished;
const sorted = gaps.map((g) => g.gap).sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
// a swap's switch lands between two tokens that arrive after its command was sent and before its reply (+ one step)
const near = (g) => swapAt.some(([a, b]) => g.at >= a && g.at <= b + 3 * median);
const maxNear = Math.max(0, ...gaps.filter(near).map((g) => g.gap));
const maxElse = Math.max(0, ...gaps.filter((g) => !near(g)).map((g) => g.gap));
console.log(`stream: ${final.usage?.completion_tokens} tokens, ${final.timings?.decode_tokens_per_second} tok/s; median gap between tokens ${median.toFixed(2)} ms (one decode step)`);
console.log(`largest gap next to a swap ${maxNear.toFixed(2)} ms (${(maxNear / median).toFixed(2)} decode steps); largest elsewhere ${maxElse.toFixed(2)} ms (${(maxElse / median).toFixed(2)} steps)`);
const sw = results.filter((r) => r.ok).map((r) => r.switch_ms).sort((a, b) => a - b);
const vf = results.filter((r) => r.ok).map((r) => r.verify_ms).sort((a, b) => a - b);
console.log(`swap: verify median ${vf[Math.floor(vf.length / 2)]} ms (max ${vf.at(-1)}), switch median ${sw[Math.floor(sw.length / 2)]} ms (max ${sw.at(-1)}); CPU ${(await import('node:os')).cpus()[0].model}, Node ${process.versions.node}`);
await client.endAsync();
await ops.endAsync();
await server.stop();
