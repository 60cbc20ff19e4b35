// MQTT test plumbing: connect real mqtt.js clients, collect a request's replies, run the CLI.
import { spawn, spawnSync } from 'node:child_process';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { CLI, MODELS_DIR } from './paths.js';

export async function connect(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const c = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  c.setMaxListeners(100); // one listener per request being watched
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

export interface Reply {
  id: string | null;
  seq?: number;
  text?: string;
  done?: boolean;
  finish_reason?: string;
  error?: { code: string; message: string };
  usage?: { prompt_tokens: number; completion_tokens: number };
  timings?: Record<string, number>;
  device?: string;
  /** MQTT 5 correlation data of the message, as text */
  correlation?: string;
}

/** Every message on `topic` in order; `done()` resolves with all of them once a final message came. */
export async function listen(client: MqttClient, topic: string): Promise<{ messages: Reply[]; done(timeoutMs?: number): Promise<Reply[]>; stop(): Promise<void> }> {
  const messages: Reply[] = [];
  let finished: (() => void) | undefined;
  const onMessage = (t: string, payload: Buffer, packet: { properties?: { correlationData?: Buffer } }) => {
    if (!matches(topic, t)) return;
    const m = JSON.parse(payload.toString('utf8')) as Reply;
    if (packet.properties?.correlationData) m.correlation = packet.properties.correlationData.toString();
    messages.push(m);
    if (m.done) finished?.();
  };
  client.on('message', onMessage);
  await client.subscribeAsync(topic, { qos: 1 });
  return {
    messages,
    done: (timeoutMs = 30_000) =>
      messages.some((m) => m.done)
        ? Promise.resolve(messages)
        : new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no final message on ${topic} within ${timeoutMs} ms (got ${JSON.stringify(messages).slice(0, 300)})`)), timeoutMs);
            finished = () => {
              clearTimeout(timer);
              resolve(messages);
            };
          }),
    stop: async () => {
      client.removeListener('message', onMessage);
      await client.unsubscribeAsync(topic);
    },
  };
}

function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** The text `wisp run` prints after the prompt, greedy. */
export function wispRunText(prompt: string, maxTokens: number): string {
  const r = spawnSync(process.execPath, [CLI, 'run', '--model', 'stories260K', '--prompt', prompt, '-n', String(maxTokens), '--temp', '0', '-t', '1'], {
    encoding: 'utf8',
    env: { ...process.env, WISP_MODEL_PATH: MODELS_DIR ?? '' },
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`wisp run failed: ${r.stderr}`);
  const out = r.stdout.replace(/\n$/, '');
  if (!out.startsWith(prompt)) throw new Error(`wisp run printed ${JSON.stringify(out.slice(0, 80))}`);
  return out.slice(prompt.length);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a command without blocking the event loop (the broker under test runs in this process). */
export function runAsync(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill(), timeoutMs);
    p.on('error', reject);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
