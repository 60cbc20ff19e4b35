// MQTT test plumbing: connect real mqtt.js clients, collect a request's replies, run the CLI.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import mqtt, { MqttClient, type IClientOptions } from 'mqtt';
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

/**
 * Connects and hangs up at once: 'connected', the CONNACK reason code of a refusal, or 'closed' when
 * the connection ended without a CONNACK. (connectAsync never settles when the socket just closes.)
 * `localAddress` makes the connection come from that address (127.0.0.2: "another machine").
 */
export function tryConnect(url: string, opts: IClientOptions & { localAddress?: string } = {}): Promise<'connected' | 'closed' | number> {
  return new Promise((resolve) => {
    const { localAddress, ...rest } = opts;
    const options = { protocolVersion: 5 as const, reconnectPeriod: 0, connectTimeout: 3000, ...rest };
    const { hostname, port } = new URL(url);
    const c = localAddress
      ? new MqttClient(() => netConnect({ host: hostname, port: Number(port), localAddress }), options)
      : mqtt.connect(url, options);
    const done = (result: 'connected' | 'closed' | number) => {
      clearTimeout(timer);
      c.removeAllListeners();
      c.on('error', () => {});
      c.end(true);
      resolve(result);
    };
    const timer = setTimeout(() => done('closed'), (options.connectTimeout ?? 3000) + 1000);
    c.once('connect', () => done('connected'));
    c.once('error', (err) => {
      const code = (err as { code?: unknown }).code;
      done(typeof code === 'number' ? code : 'closed'); // a TLS error has a string code
    });
    c.once('close', () => done('closed'));
  });
}

/** A model step that takes `ms` longer, so a request is surely still running when a test acts on it. Returns the undo. */
export function slowSteps(model: object, ms: number): () => void {
  const m = model as { decodeBatch?: (...a: unknown[]) => unknown; forward: (...a: unknown[]) => unknown };
  const key = m.decodeBatch ? 'decodeBatch' : 'forward';
  const own = Object.prototype.hasOwnProperty.call(m, key);
  const orig = m[key]!;
  m[key] = async (...a: unknown[]) => {
    await sleep(ms);
    return orig.apply(m, a);
  };
  return () => {
    if (own) m[key] = orig;
    else delete m[key];
  };
}

/**
 * Holds every decode step of `model` until `release()` (a kernel that hangs, as far as the scheduler
 * can tell); `restore()` puts the model back.
 */
export function holdSteps(model: object): { release(): void; restore(): void } {
  const m = model as { decodeBatch?: (...a: unknown[]) => unknown; forward: (...a: unknown[]) => unknown };
  const key = m.decodeBatch ? 'decodeBatch' : 'forward';
  const own = Object.prototype.hasOwnProperty.call(m, key);
  const orig = m[key]!;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  m[key] = async (...a: unknown[]) => {
    await gate;
    return orig.apply(m, a);
  };
  return {
    release: () => open(),
    restore: () => {
      open();
      if (own) m[key] = orig;
      else delete m[key];
    },
  };
}

/** A self-signed certificate for 127.0.0.1 / localhost in `dir`: { cert (PEM text), key (path) }. */
export function selfSignedCert(dir: string): { cert: string; key: string } {
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'pipe' });
  return { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: join(dir, 'key.pem') };
}
