#!/usr/bin/env node
// A wisp client in one file, to copy into your own project: it needs only mqtt.js (`npm i mqtt`).
//
//   node examples/node-client.mjs [options] "Once upon a time"
//
// Sends the prompt to wisp/<device>/infer and prints the answer as it streams. MQTT 5 (default):
// the reply topic goes in the Response Topic property, and the Correlation Data we set comes back
// on every reply. --v3: MQTT 3.1.1, the reply topic goes in the request's `reply_to` field.
// Ctrl-C sends a cancel and prints what came so far; a second Ctrl-C quits at once.
// The protocol: docs/PROTOCOL.md.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';

const USAGE = `usage: node node-client.mjs [options] "prompt"

  --broker URL       default $WISP_BROKER or mqtt://127.0.0.1:1883 (mqtts://, ws:// work too)
  --device NAME      default $WISP_DEVICE or this host's name (what \`wisp serve\` uses)
  -n, --max-tokens N default 128
  --temp T           temperature (default: the device's, 0.8; 0 = greedy)
  --seed N           sampling seed
  --user NAME        broker user (password from $WISP_BROKER_PASSWORD)
  --v3               MQTT 3.1.1 (reply_to in the request) instead of MQTT 5
  --timeout S        give up when nothing arrives for S seconds (default 60)`;

function fail(message, code = 2) {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

let args;
try {
  args = parseArgs({
    allowPositionals: true,
    options: {
      broker: { type: 'string' },
      device: { type: 'string' },
      'max-tokens': { type: 'string', short: 'n' },
      temp: { type: 'string' },
      seed: { type: 'string' },
      user: { type: 'string' },
      v3: { type: 'boolean' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (err) {
  fail(`${err.message}\n\n${USAGE}`);
}
const { values: opt, positionals } = args;
if (opt.help) fail(USAGE, 0);
const prompt = positionals.join(' ');
if (!prompt) fail(USAGE);

const number = (value, name, { integer = false, min = 0 } = {}) => {
  if (value === undefined) return undefined;
  const x = Number(value);
  if (!Number.isFinite(x) || x < min || (integer && !Number.isInteger(x))) fail(`--${name}: expected ${integer ? 'an integer' : 'a number'} >= ${min}, got '${value}'`);
  return x;
};

const brokerUrl = opt.broker ?? process.env.WISP_BROKER ?? 'mqtt://127.0.0.1:1883';
// `wisp serve` names the device after the host by default, the same way
const device = opt.device ?? process.env.WISP_DEVICE ?? (hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64) || 'wisp');
const v5 = !opt.v3;
const timeoutMs = (number(opt.timeout, 'timeout') ?? 60) * 1000;

// One id per request: echoed on every reply and part of the reply topic.
const clientId = `wisp-example-${randomUUID().slice(0, 8)}`;
const id = `${clientId}-1`;
// Without broker users any topic outside wisp/<device>/ works; with users the device only replies
// under wisp/<device>/reply/<user>/, so use that.
const replyTopic = opt.user ? `wisp/${device}/reply/${opt.user}/${id}` : `wisp/${device}/reply/${id}`;
const correlation = Buffer.from(randomUUID());

const request = {
  id,
  prompt,
  max_tokens: number(opt['max-tokens'], 'max-tokens', { integer: true, min: 1 }) ?? 128,
  ...(opt.temp !== undefined ? { temperature: number(opt.temp, 'temp') } : {}),
  ...(opt.seed !== undefined ? { seed: number(opt.seed, 'seed', { integer: true }) } : {}),
  stream: true,
  // who we are: with an external broker the device cannot see connections, and our Last Will
  // (below) cancels everything sent under this name if the connection is lost
  client: clientId,
  ...(v5 ? {} : { reply_to: replyTopic }),
};

const client = mqtt.connect(brokerUrl, {
  protocolVersion: v5 ? 5 : 4,
  clientId,
  clean: true,
  reconnectPeriod: 0,
  connectTimeout: 10_000,
  ...(opt.user ? { username: opt.user, password: process.env.WISP_BROKER_PASSWORD } : {}),
  // Sent by the broker only if we vanish without a DISCONNECT (crash, power or network loss).
  will: { topic: `wisp/${device}/cancel`, payload: Buffer.from(JSON.stringify({ client: clientId })), qos: 1, retain: false },
});

let finished = false;
let nextSeq = 0;
let idleTimer;
const armIdle = () => {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => stop(`no reply from device '${device}' for ${timeoutMs / 1000} s (is it serving on ${brokerUrl}?)`, 1), timeoutMs);
};

function stop(message, code) {
  if (finished) return;
  finished = true;
  clearTimeout(idleTimer);
  if (message) process.stderr.write(`${message}\n`);
  process.exitCode = code;
  // a clean DISCONNECT: the broker drops our Last Will
  client.end(false, () => process.exit(code));
}

client.on('error', (err) => stop(`mqtt: ${err.message}`, 1));
client.on('close', () => {
  if (!finished) stop(`connection to ${brokerUrl} closed`, 1);
});

client.on('message', (topic, payload, packet) => {
  if (topic !== replyTopic) return;
  if (v5 && !packet.properties?.correlationData?.equals(correlation)) return; // someone else's reply
  let msg;
  try {
    msg = JSON.parse(payload.toString('utf8'));
  } catch {
    return;
  }
  if (msg.id !== id) return;
  armIdle();
  if (msg.error) return stop(`\n${msg.device ?? device}: ${msg.error.code}: ${msg.error.message}`, 1);
  if (msg.done) {
    process.stdout.write('\n');
    const t = msg.timings;
    process.stderr.write(
      `${msg.device}: ${msg.usage.prompt_tokens} prompt + ${msg.usage.completion_tokens} generated tokens, finish: ${msg.finish_reason}\n` +
        `queue ${t.queue_ms} ms, prefill ${t.prefill_ms} ms, first token ${t.ttft_ms} ms, decode ${t.decode_ms} ms (${t.decode_tokens_per_second} tok/s)\n`,
    );
    return stop(undefined, msg.finish_reason === 'cancelled' ? 130 : 0);
  }
  // a chunk {id, seq, text}: QoS 1 keeps them in order; a gap would mean a lost message
  if (msg.seq !== nextSeq) process.stderr.write(`\n[expected chunk ${nextSeq}, got ${msg.seq}]\n`);
  nextSeq = msg.seq + 1;
  process.stdout.write(msg.text);
});

let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted || finished) process.exit(130);
  interrupted = true;
  process.stderr.write('\n[cancelling; Ctrl-C again to quit]\n');
  // the device ends the request at its next step and sends the final message (finish_reason: cancelled)
  client.publish(`wisp/${device}/cancel`, JSON.stringify({ id }), { qos: 1 });
});

client.once('connect', async () => {
  try {
    // subscribe first, so no reply can be missed
    const granted = await client.subscribeAsync(replyTopic, { qos: 1 });
    if (granted.some((g) => g.qos > 2)) return stop(`the broker refused the subscription to ${replyTopic}`, 1);
    armIdle();
    await client.publishAsync(`wisp/${device}/infer`, JSON.stringify(request), {
      qos: 1,
      ...(v5 ? { properties: { responseTopic: replyTopic, correlationData: correlation } } : {}),
    });
  } catch (err) {
    stop(`mqtt: ${err.message}`, 1);
  }
});
