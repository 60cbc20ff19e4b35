// `wisp ask "prompt"`: sends one request to a serving device over MQTT and streams the answer.
import { readFileSync } from 'node:fs';
import { WispClient } from '../mqtt/client.js';
import { numberOption, parseOptions, UsageError } from './args.js';
import { SAMPLING_HELP, SAMPLING_OPTIONS, samplingFrom } from './sampling-options.js';

const HELP = `usage: wisp ask [options] "prompt"

Sends the prompt to a wisp device over MQTT and prints the answer as it streams.

      --broker URL        mqtt://host:port, mqtts://…, ws://… (default mqtt://127.0.0.1:1883)
      --device NAME       the device to ask (default: the first online device on the broker)
      --fleet             send to wisp/fleet/infer (any device of the fleet group answers)
      --user NAME         broker user (password from $WISP_BROKER_PASSWORD)
      --ca FILE --cert FILE --key FILE   TLS trust and client certificate
      --insecure          do not verify the broker's certificate
      --mqtt-version 5|3  MQTT 5 (default; Response Topic + Correlation Data) or 3.1.1 (reply_to)
      --chat              send the prompt as a user message (the model's chat template applies)
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
  const client = await WispClient.connect({
    url: v.broker ?? 'mqtt://127.0.0.1:1883',
    protocolVersion: version === '5' ? 5 : 4,
    ...(v.user !== undefined ? { username: v.user, password: process.env.WISP_BROKER_PASSWORD } : {}),
    ...(v.ca ? { ca: readFileSync(v.ca) } : {}),
    ...(v.cert ? { cert: readFileSync(v.cert) } : {}),
    ...(v.key ? { key: readFileSync(v.key) } : {}),
    ...(v.insecure ? { rejectUnauthorized: false } : {}),
  });
  const abort = new AbortController();
  const onSigint = () => {
    process.stderr.write('\nwisp: cancelling…\n');
    abort.abort();
  };
  process.once('SIGINT', onSigint);
  try {
    const device = v.device ?? (v.fleet ? 'fleet' : await firstOnlineDevice(client));
    const messages = [...(v.system ? [{ role: 'system' as const, content: v.system }] : []), { role: 'user' as const, content: prompt }];
    const result = await client.ask({
      device,
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

/** Reads the retained status messages and picks the first device that is online. */
async function firstOnlineDevice(client: WispClient): Promise<string> {
  const found = await new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => done(undefined), 1500);
    const onMessage = (topic: string, payload: Buffer) => {
      const m = /^wisp\/([^/]+)\/status$/.exec(topic);
      if (!m) return;
      try {
        if (JSON.parse(payload.toString('utf8')).online === true) done(m[1]);
      } catch {
        // not a status message
      }
    };
    const done = (d: string | undefined) => {
      clearTimeout(timer);
      client.mqtt.removeListener('message', onMessage);
      void client.mqtt.unsubscribeAsync('wisp/+/status').catch(() => {});
      resolve(d);
    };
    client.mqtt.on('message', onMessage);
    void client.mqtt.subscribeAsync('wisp/+/status', { qos: 1 });
  });
  if (!found) throw new Error('no online wisp device on this broker (none published wisp/<device>/status); name one with --device');
  return found;
}
