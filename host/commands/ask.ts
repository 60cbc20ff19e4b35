// `wisp ask "prompt"`: sends one request to a serving device over MQTT and streams the answer.
import { readFileSync } from 'node:fs';
import { WispClient } from '../mqtt/client.js';
import { wispCommand } from '../invocation.js';
import { numberOption, parseOptions, UsageError } from './args.js';
import { SAMPLING_HELP, SAMPLING_OPTIONS, samplingFrom } from './sampling-options.js';

const HELP = `usage: wisp ask [options] "prompt"

Sends the prompt to a wisp device over MQTT and prints the answer as it streams.

      --broker URL        mqtt://host:port, mqtts://…, ws://… (default mqtt://127.0.0.1:1883)
      --device NAME       the device to ask (default: the first online device on the broker); one
                          whose retained status is offline or absent fails at once
      --fleet             send to wisp/fleet/infer (any device of the fleet group answers)
      --user NAME         broker user (password from $WISP_BROKER_PASSWORD)
      --ca FILE --cert FILE --key FILE   TLS trust and client certificate
      --insecure          do not verify the broker's certificate
      --mqtt-version 5|3  MQTT 5 (default; Response Topic + Correlation Data) or 3.1.1 (reply_to)
      --chat              send the prompt as a user message (the model's chat template applies;
                          refused for a model without one)
      --system TEXT       system message for --chat
${SAMPLING_HELP} (default -n 128; unset flags take the device's defaults)
      --no-stream         wait for the whole answer
      --timeout S         give up after S seconds without a message (default 60)`;

export async function main(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseOptions(
    argv,
    {
      broker: { type: 'string' },
      device: { type: 'string' },
      fleet: { type: 'boolean' },
      user: { type: 'string' },
      ca: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      insecure: { type: 'boolean' },
      'mqtt-version': { type: 'string' },
      chat: { type: 'boolean' },
      system: { type: 'string' },
      ...SAMPLING_OPTIONS,
      'no-stream': { type: 'boolean' },
      timeout: { type: 'string' },
    },
    HELP,
    true,
  );
  const prompt = positionals.join(' ');
  const sampling = samplingFrom(v);
  if (!prompt) throw new UsageError(`give a prompt\n\n${HELP}`);
  if (v.system && !v.chat) throw new UsageError('--system needs --chat');
  const version = v['mqtt-version'] ?? '5';
  if (version !== '5' && version !== '3') throw new UsageError(`--mqtt-version must be 5 or 3, got '${version}'`);
  const url = v.broker ?? 'mqtt://127.0.0.1:1883';
  const client = await connect({
    url,
    protocolVersion: version === '5' ? 5 : 4,
    ...(v.user !== undefined ? { username: v.user, password: process.env.WISP_BROKER_PASSWORD } : {}),
    ...(v.ca ? { ca: readFileSync(v.ca) } : {}),
    ...(v.cert ? { cert: readFileSync(v.cert) } : {}),
    ...(v.key ? { key: readFileSync(v.key) } : {}),
    ...(v.insecure ? { rejectUnauthorized: false } : {}),
  });
  // Ctrl-C cancels the request (the device stops at its next step) and exits 130, as shells expect;
  // a second Ctrl-C leaves at once
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) process.exit(130);
    process.stderr.write('\nwisp: cancelling…\n');
    process.exitCode = 130;
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    let device = v.fleet ? 'fleet' : v.device;
    if (!v.fleet) {
      const statuses = await readStatuses(client, v.device, abort.signal);
      device = pickDevice(statuses, v.device, url);
      const model = statuses?.get(device)?.model;
      if (v.chat && model?.chat_template === false) {
        throw new UsageError(`device ${device} serves ${model.name ?? 'a model'}, which has no chat template (it is not a chat model), so --chat is refused: drop --chat to send the prompt as plain text`);
      }
    }
    if (abort.signal.aborted) return;
    const messages = [...(v.system ? [{ role: 'system' as const, content: v.system }] : []), { role: 'user' as const, content: prompt }];
    const result = await client.ask({
      device: device!,
      fleet: v.fleet,
      request: {
        ...(v.chat ? { messages } : { prompt }),
        max_tokens: sampling.maxTokens ?? 128,
        ...optional('temperature', sampling.temperature),
        ...optional('top_k', sampling.topK),
        ...optional('top_p', sampling.topP),
        ...optional('min_p', sampling.minP),
        ...optional('repeat_penalty', sampling.repeatPenalty),
        ...optional('seed', sampling.seed),
        ...(sampling.stop ? { stop: sampling.stop } : {}),
        stream: !v['no-stream'],
      },
      onText: (t) => process.stdout.write(t),
      idleTimeoutMs: (numberOption(v.timeout, 'timeout') ?? 60) * 1000,
      signal: abort.signal,
    });
    if ('error' in result) throw new Error(`${result.device}: ${result.error.code}: ${result.error.message}`);
    if (v['no-stream']) process.stdout.write(result.text);
    const t = result.timings;
    process.stdout.write('\n');
    process.stderr.write(
      `\n${result.device}: ${result.usage.completion_tokens} tokens, finish: ${result.finish_reason} | ` +
        `queue ${t.queue_ms.toFixed(0)} ms, first token ${t.ttft_ms.toFixed(0)} ms, ${t.decode_tokens_per_second.toFixed(1)} tok/s\n`,
    );
  } finally {
    process.removeListener('SIGINT', onSigint);
    await client.close();
  }
}

function optional<K extends string>(key: K, value: number | undefined): { [P in K]?: number } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: number };
}

/** WispClient.connect, with what to do when nothing listens there. */
async function connect(o: Parameters<typeof WispClient.connect>[0]): Promise<WispClient> {
  try {
    return await WispClient.connect(o);
  } catch (err) {
    const msg = (err as Error).message;
    if (/ECONNREFUSED/.test(msg)) {
      throw new Error(
        `cannot connect to ${o.url}: nothing is listening there (ECONNREFUSED); start a device with \`npm start\` in the checkout ` +
          `or \`${wispCommand()} serve\`, or name the broker it uses with --broker URL`,
      );
    }
    throw err;
  }
}

/** A device's retained status, as much of it as ask uses (docs/PROTOCOL.md, Status). */
interface DeviceStatus {
  online?: boolean;
  ts?: string;
  model?: { name?: string; chat_template?: boolean };
}

/** How long retained statuses may take to arrive, at most, and the quiet time that ends the wait. */
const STATUS_WAIT_MS = 1500;
const STATUS_QUIET_MS = 250;

/**
 * The retained wisp/+/status messages on the broker: the broker sends them right after the
 * subscription, so the wait ends once `wanted`'s status (or, with no device named, an online one)
 * is in and no more arrive for a moment, and never takes longer than STATUS_WAIT_MS. undefined:
 * the broker refused the subscription (an ACL), so nothing can be said.
 */
async function readStatuses(client: WispClient, wanted: string | undefined, signal: AbortSignal): Promise<Map<string, DeviceStatus> | undefined> {
  const seen = new Map<string, DeviceStatus>();
  let refused = false;
  await new Promise<void>((resolve) => {
    let quiet: NodeJS.Timeout | undefined;
    let subscribed = false;
    const cap = setTimeout(done, STATUS_WAIT_MS);
    const settled = () => (wanted !== undefined ? seen.has(wanted) : [...seen.values()].some((s) => s.online === true));
    // after the SUBACK, retained messages follow at once: a quiet moment means they are all in
    const rearm = () => {
      clearTimeout(quiet);
      if (subscribed) quiet = setTimeout(done, STATUS_QUIET_MS);
    };
    function onMessage(topic: string, payload: Buffer) {
      const m = /^wisp\/([^/]+)\/status$/.exec(topic);
      if (!m) return;
      try {
        seen.set(m[1], JSON.parse(payload.toString('utf8')) as DeviceStatus);
      } catch {
        return; // not a status message
      }
      if (settled()) done();
      else rearm();
    }
    let finished = false;
    function done() {
      if (finished) return;
      finished = true;
      clearTimeout(cap);
      clearTimeout(quiet);
      signal.removeEventListener('abort', done);
      client.mqtt.removeListener('message', onMessage);
      void client.mqtt.unsubscribeAsync('wisp/+/status').catch(() => {});
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
    client.mqtt.on('message', onMessage);
    client.mqtt.subscribeAsync('wisp/+/status', { qos: 1 }).then(
      (granted) => {
        refused = granted.some((g) => g.qos > 2);
        subscribed = true;
        if (refused) done();
        else rearm();
      },
      () => {
        refused = true;
        done();
      },
    );
  });
  return refused ? undefined : seen;
}

/** The device to ask: the named one if its status says online, else the first online one. */
function pickDevice(statuses: Map<string, DeviceStatus> | undefined, wanted: string | undefined, url: string): string {
  if (statuses === undefined) {
    if (wanted !== undefined) return wanted; // cannot read statuses here: just ask
    throw new Error(`cannot read device statuses on ${url} (the broker refused wisp/+/status); name the device with --device`);
  }
  const list = [...statuses].map(([d, s]) => `${d} (${s.online ? 'online' : 'offline'})`).join(', ');
  const seen = list ? `devices on this broker: ${list}` : `no wisp device has a status on ${url}; start one with \`npm start\` or \`${wispCommand()} serve\``;
  if (wanted !== undefined) {
    const s = statuses.get(wanted);
    if (s?.online === true) return wanted;
    if (s) throw new Error(`device ${wanted} is offline${s.ts ? ` (since ${s.ts})` : ''}; ${seen}`);
    throw new Error(`no device ${wanted} on ${url} (no retained wisp/${wanted}/status); ${seen}`);
  }
  const online = [...statuses].find(([, s]) => s.online === true);
  if (!online) throw new Error(`no online wisp device on ${url}; ${seen}`);
  return online[0];
}
