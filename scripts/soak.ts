// The MQTT service under a long mixed load (a command, not a test): `npm run soak -- --minutes 20`.
//
// A wisp server (embedded broker, stories260K, production limits) runs in a child process; 20
// clients use it for --minutes: persistent MQTT 5 sessions, clean MQTT 5 and 3.1.1 sessions, 20%
// of requests cancelled, 10% of requests followed by an abrupt disconnect (no DISCONNECT) and a
// reconnect, and one slow reader that stops reading for 15 s in every 45 s while it streams long
// replies. Every 30 s it prints the server's RSS and heap (after a full GC); at the end, what each request got:
// exactly one final message (a QoS 1 redelivery of the same final counts once), none (only allowed
// for a clean session whose connection was lost before its final), or two different ones (a bug).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

const PROMPT = 'Once upon a time';
const DEVICE = 'soak';

interface Sample {
  t: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  queued: number;
  active: number;
  behind: number;
  overflows: number;
}

type ServerMessage = { url: string } | ({ memory: true } & Omit<Sample, 't'>);

// ---- the server (child process) ----------------------------------------------------------------

async function serve(modelPath: string): Promise<void> {
  const { startServer } = await import('../host/mqtt/server.js');
  const { pino } = await import('pino');
  // what `wisp serve` runs by default (4 sequences at once), on one kernel thread
  const server = await startServer({ modelPath, device: DEVICE, host: '127.0.0.1', port: 0, threads: 1, maxSequences: 4, log: pino({ level: process.env.WISP_LOG_LEVEL ?? 'warn' }) });
  process.send!({ url: server.url } satisfies ServerMessage);
  process.on('message', (m: string) => {
    if (m === 'memory') {
      // what stays after a full collection, so a sample says what is retained, not when GC last ran
      (globalThis as { gc?: () => void }).gc?.();
      const mem = process.memoryUsage();
      const load = (server.service.health().status as { load: { queued: number; active: number } }).load;
      const d = server.broker!.delivery.stats;
      process.send!({ memory: true, rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external, queued: load.queued, active: load.active, behind: d.behind, overflows: d.overflows } satisfies ServerMessage);
    } else if (m === 'stop') {
      void server.stop().then(() => process.exit(0));
    }
  });
}

// ---- the clients ----------------------------------------------------------------------------------

interface Outcome {
  /** Distinct final messages seen (a redelivered copy is the same text). */
  finals: Set<string>;
  /** Copies of finals received. */
  copies: number;
  /** The client's connection was lost (on purpose) before this request's final, on a clean session. */
  lostWithSession: boolean;
  cancelled: boolean;
}

const outcomes = new Map<string, Outcome>();
let seed = 2024;
const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Kind {
  name: string;
  options: IClientOptions;
  /** The session outlives a lost connection. */
  persistent: boolean;
  v5: boolean;
}

const KINDS: Kind[] = [
  { name: 'persistent-v5', options: { protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 120 } }, persistent: true, v5: true },
  { name: 'clean-v5', options: { protocolVersion: 5, clean: true }, persistent: false, v5: true },
  { name: 'clean-v311', options: { protocolVersion: 4, clean: true }, persistent: false, v5: false },
];

class SoakClient {
  private client?: MqttClient;
  private readonly open = new Set<string>(); // request ids without a final yet
  sent = 0;
  reconnects = 0;

  constructor(
    private readonly url: string,
    readonly id: string,
    private readonly kind: Kind,
  ) {}

  private async connect(): Promise<void> {
    const c = mqtt.connect(this.url, { clientId: this.id, reconnectPeriod: 0, connectTimeout: 10_000, ...this.kind.options });
    c.on('message', (_t, payload) => this.onReply(payload));
    c.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('error', reject);
    });
    await c.subscribeAsync(`soak/${this.id}/#`, { qos: 1 });
    this.client = c;
  }

  private onReply(payload: Buffer): void {
    const m = JSON.parse(payload.toString('utf8')) as { id: string; done?: boolean; finish_reason?: string };
    if (!m.done) return;
    const o = outcomes.get(m.id);
    if (!o) return;
    o.finals.add(payload.toString('utf8'));
    o.copies++;
    o.cancelled = m.finish_reason === 'cancelled';
    this.open.delete(m.id);
  }

  async run(until: number, slow: boolean): Promise<void> {
    await this.connect();
    // the slow reader stops reading for 15 s in every 45 s (a device on a stalled link) while it
    // keeps asking: the broker's backlog for it grows
    const pauses = slow
      ? setInterval(() => {
          const stream = this.client?.stream;
          stream?.pause();
          setTimeout(() => stream?.resume(), 15_000);
        }, 45_000)
      : undefined;
    while (Date.now() < until) {
      const batch = slow ? 4 : 1;
      const ids: string[] = [];
      for (let b = 0; b < batch; b++) ids.push(await this.send(slow));
      if (!slow && rand() < 0.2) {
        await sleep(rand() * 50);
        await this.client!.publishAsync(`wisp/${DEVICE}/cancel`, JSON.stringify({ id: ids[0] }), { qos: 1 }).catch(() => {});
      }
      if (!slow && rand() < 0.1) {
        // an abrupt disconnect while the request runs, then back
        await sleep(rand() * 100);
        this.client!.end(true);
        if (!this.kind.persistent) for (const id of this.open) outcomes.get(id)!.lostWithSession = true;
        await sleep(200 + rand() * 800);
        this.reconnects++;
        await this.connect();
      }
      const deadline = Date.now() + (slow ? 120_000 : 60_000);
      while (ids.some((id) => this.open.has(id) && !outcomes.get(id)!.lostWithSession) && Date.now() < deadline) await sleep(10);
    }
    clearInterval(pauses);
    // the last answers
    const deadline = Date.now() + 30_000;
    while ([...this.open].some((id) => !outcomes.get(id)!.lostWithSession) && Date.now() < deadline) await sleep(50);
    await this.client?.endAsync().catch(() => {});
  }

  private async send(slow: boolean): Promise<string> {
    const id = `${this.id}-${this.sent++}`;
    outcomes.set(id, { finals: new Set(), copies: 0, lostWithSession: false, cancelled: false });
    this.open.add(id);
    const req: Record<string, unknown> = { id, prompt: PROMPT, max_tokens: slow ? 400 : 8 + Math.floor(rand() * 56), temperature: 0.8, seed: this.sent, stream: slow || rand() < 0.8 };
    const topic = `soak/${this.id}/${id}`;
    if (!this.kind.v5) req.reply_to = topic;
    await this.client!.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify(req), {
      qos: 1,
      ...(this.kind.v5 ? { properties: { responseTopic: topic, ...(slow ? { correlationData: Buffer.alloc(16 * 1024, 0x73) } : {}) } } : {}),
    }).catch(() => {});
    return id;
  }
}

// ---- the run ---------------------------------------------------------------------------------------

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const minutes = Number(arg('--minutes', '20'));
  if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, got ${arg('--minutes', '')}`);
  const modelPath = arg('--model', `${process.env.WISP_MODEL_PATH?.split(':')[0] ?? '../shared/models'}/stories260K.gguf`);
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve', modelPath], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--expose-gc'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: ServerMessage) => ('url' in m ? resolve(m.url) : reject(new Error('unexpected message'))));
    child.once('exit', (code) => reject(new Error(`the server exited (${code})`)));
  });
  const samples: Sample[] = [];
  const t0 = Date.now();
  const sample = () =>
    new Promise<Sample>((resolve) => {
      child.once('message', (m: ServerMessage) => resolve({ t: (Date.now() - t0) / 1000, ...(m as Omit<Sample, 't'>) }));
      child.send('memory');
    });
  const mb = (b: number) => (b / 1048576).toFixed(1);
  console.log(`soak: ${minutes} min, 20 clients on ${url} (server pid ${child.pid})`);
  console.log('   t(s)  rss(MB) heapUsed(MB) heapTotal(MB) external(MB) queued active behind overflows requests');
  const print = (s: Sample) =>
    console.log(`${s.t.toFixed(0).padStart(7)} ${mb(s.rss).padStart(8)} ${mb(s.heapUsed).padStart(12)} ${mb(s.heapTotal).padStart(13)} ${mb(s.external).padStart(12)} ${String(s.queued).padStart(6)} ${String(s.active).padStart(6)} ${String(s.behind).padStart(6)} ${String(s.overflows).padStart(9)} ${String(outcomes.size).padStart(8)}`);
  print(await sample().then((s) => (samples.push(s), s)));
  const timer = setInterval(() => void sample().then((s) => (samples.push(s), print(s))), 30_000);

  const until = Date.now() + minutes * 60_000;
  const clients = Array.from({ length: 20 }, (_, i) => new SoakClient(url, `c${i}`, i === 19 ? KINDS[0] : KINDS[i % KINDS.length]));
  await Promise.all(clients.map((c, i) => c.run(until, i === 19)));
  clearInterval(timer);
  const last = await sample();
  samples.push(last);
  print(last);
  child.send('stop');
  await new Promise((resolve) => child.once('exit', resolve));

  // ---- what every request got
  let once = 0;
  let redelivered = 0;
  let missing = 0;
  let lost = 0;
  let conflicting = 0;
  let cancelled = 0;
  const bad: string[] = [];
  for (const [id, o] of outcomes) {
    if (o.finals.size > 1) {
      conflicting++;
      bad.push(`${id}: ${o.finals.size} different finals`);
    } else if (o.finals.size === 1) {
      once++;
      if (o.copies > 1) redelivered++;
      if (o.cancelled) cancelled++;
    } else if (o.lostWithSession) lost++;
    else {
      missing++;
      bad.push(`${id}: no final`);
    }
  }
  const warm = samples.filter((s) => s.t >= Math.min(60, (minutes * 60) / 4));
  const third = Math.max(1, Math.floor(warm.length / 3));
  const avg = (xs: Sample[], k: keyof Sample) => xs.reduce((a, s) => a + s[k], 0) / xs.length;
  const early = warm.slice(0, third);
  const late = warm.slice(-third);
  console.log(`\nrequests: ${outcomes.size} from 20 clients (${clients.reduce((a, c) => a + c.reconnects, 0)} abrupt disconnects)`);
  console.log(`  one final: ${once} (${cancelled} cancelled; ${redelivered} of them also redelivered as a QoS 1 duplicate)`);
  console.log(`  none, ended with a clean session lost on purpose: ${lost}`);
  console.log(`  none otherwise (lost): ${missing}; two different finals: ${conflicting}`);
  for (const b of bad.slice(0, 20)) console.log(`    ${b}`);
  console.log(`server memory after warm-up: RSS ${mb(avg(early, 'rss'))} -> ${mb(avg(late, 'rss'))} MB (max ${mb(Math.max(...warm.map((s) => s.rss)))}), heap used ${mb(avg(early, 'heapUsed'))} -> ${mb(avg(late, 'heapUsed'))} MB (max ${mb(Math.max(...warm.map((s) => s.heapUsed)))}) (first vs last third of the samples)`);
  const ok = missing === 0 && conflicting === 0;
  console.log(ok ? 'soak: every request answered exactly once' : 'soak: FAILED');
  process.exit(ok ? 0 : 1);
}

if (process.argv[2] === '--serve') await serve(process.argv[3]);
else await main();
