// `wisp serve` (what `npm start` runs): the model behind an MQTT inference service, with the
// embedded broker unless --broker names an external one.
import { existsSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { activationsOption, engineChoice, ENGINE_OPTIONS, KERNELS_HELP, kvOption } from './engine-options.js';
import { startServer, defaultDeviceName, type Server } from '../mqtt/server.js';
import { loadUsers } from '../mqtt/users.js';
import { wispCommand } from '../invocation.js';
import { intOption, parseOptions, UsageError } from './args.js';
import { MODEL_HELP, resolveOrPullModel } from './model-option.js';
import { profileInEffect } from '../profiles/settings.js';
import { DEFAULT_FLOW_LIMITS } from '../mqtt/outbox.js';

const HELP = `usage: wisp serve [options]

Serves the model over MQTT: requests on wisp/<device>/infer, replies streamed to the response
topic (docs/PROTOCOL.md). Runs an embedded broker unless --broker is given.

${MODEL_HELP}
                          (a catalog model not on this machine is downloaded first; WISP_OFFLINE=1 forbids it)
      --device NAME       topic level for this device (default: the host name)
      --engine NAME       wasm (default), reference, onnx or routed
      --profile NAME|PATH run layers where this device profile's routing plan says (wisp profile show)
      --route JSON        a routing table (see wisp run --help)
${KERNELS_HELP}
  -t, --threads N         kernel threads (default: the device profile's, --profile or the detected
                          one: "auto" = the cores; printed at startup with the reason)
      --context N         context per sequence (default: the model's, at most 4096)
      --max-sequences N   sequences decoding at once (KV cache slots; default: batch.maxSequences of
                          the profile in effect, --profile or the detected one, else 4); its
                          batch.maxBatchTokens caps the rows of one step (prefill chunk, decode batch)
      --kv TYPE           KV cache type: f32 (default) or f16
      --activations q8|q16  activations of the quantized matmuls: q8, ggml's 8-bit ones (llama.cpp's
                          math, the default), or q16 (16-bit, closer to f32 math)
      --queue N           requests that may wait (default 64; one more gets 'busy')
      --queue-per-client N  requests one client may have waiting (default queue/4)
  embedded broker:
      --host ADDR         listen address (default 127.0.0.1: this machine only; 0.0.0.0 opens
                          it to the network: give --users too, or anyone there can use it)
      --port N|off        MQTT over TCP (default 1883; off: none, TLS only — a --ws-port is still plain WebSocket)
      --ws-port N         MQTT over WebSocket (off by default)
      --tls-port N --tls-cert FILE --tls-key FILE [--tls-ca FILE]   MQTT over TLS
      --users FILE        users and roles (wisp user add); without it anyone may connect.
                          "require_tls": true in it refuses password logins without TLS
  external broker:
      --broker URL        mqtt://host:port or mqtts://host:port (Mosquitto, EMQX, ...)
      --broker-user NAME  (password from $WISP_BROKER_PASSWORD)
      --broker-ca FILE --broker-cert FILE --broker-key FILE   TLS trust and client certificate
      --insecure          do not verify the broker's certificate
      --fleet GROUP       also take requests from $share/GROUP/wisp/fleet/infer
  kernel hot swap (docs/KERNELS.md; operators: wisp kernels list|verify|swap|rollback):
      --trusted-keys DIR  trust the kernel signing keys (*.pub) in DIR only (repeatable; default
                          /etc/wisp/keys, the user's config dir and kernels/ with its dev key)
      --watch-kernels DIR swap in modules dropped into DIR (<family>.<name>.wasm + its .sig)
  limits and observability:
      --max-payload BYTES largest request (default 262144)
      --chunk-ms MS       stream at most one chunk per request every MS ms, text joined (default 0: one per token)
      --rate N            requests per second per client (default 10, burst 2N)
      --backlog N         messages waiting for a slow client before its requests are cancelled (default 2000)
      --backlog-max N     messages waiting before its connection is dropped (default 10000)
      --metrics-port N    HTTP /metrics and /healthz (default 9464; 0 = any free port; off = none)
      --metrics-host ADDR (default 127.0.0.1)`;

export async function main(argv: string[]): Promise<void> {
  const { values: v } = parseOptions(
    argv,
    {
      model: { type: 'string', short: 'm' },
      device: { type: 'string' },
      ...ENGINE_OPTIONS,
      threads: { type: 'string', short: 't' },
      context: { type: 'string' },
      'max-sequences': { type: 'string' },
      kv: { type: 'string' },
      activations: { type: 'string' },
      queue: { type: 'string' },
      'queue-per-client': { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'ws-port': { type: 'string' },
      'tls-port': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      users: { type: 'string' },
      broker: { type: 'string' },
      'broker-user': { type: 'string' },
      'broker-ca': { type: 'string' },
      'broker-cert': { type: 'string' },
      'broker-key': { type: 'string' },
      insecure: { type: 'boolean' },
      fleet: { type: 'string' },
      'max-payload': { type: 'string' },
      'chunk-ms': { type: 'string' },
      backlog: { type: 'string' },
      'backlog-max': { type: 'string' },
      rate: { type: 'string' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      'trusted-keys': { type: 'string', multiple: true },
      'watch-kernels': { type: 'string' },
    },
    HELP,
  );
  if (v['tls-port'] !== undefined && (!v['tls-cert'] || !v['tls-key'])) throw new UsageError('--tls-port needs --tls-cert and --tls-key');
  if (v.port === 'off' && v['tls-port'] === undefined) throw new UsageError('--port off needs --tls-port: it would leave no MQTT listener');
  if (v.fleet !== undefined && !v.broker) throw new UsageError('--fleet needs --broker: the embedded broker has no shared subscriptions (use Mosquitto or EMQX)');
  const file = (path: string | undefined, option: string) => (path === undefined ? undefined : readOptionFile(path, option));
  const rate = intOption(v.rate, 'rate', 1);
  const metricsPort = v['metrics-port'] === 'off' ? undefined : (intOption(v['metrics-port'], 'metrics-port', 0) ?? 9464);
  const host = v.host ?? '127.0.0.1';
  const portOff = v.port === 'off';
  const ports = { port: portOff ? undefined : (intOption(v.port, 'port', 0) ?? 1883), 'ws-port': intOption(v['ws-port'], 'ws-port', 0), 'tls-port': intOption(v['tls-port'], 'tls-port', 0) };
  const users = v.users !== undefined ? loadUsersOption(v.users) : undefined;
  const tls = v['tls-port'] !== undefined ? { port: ports['tls-port']!, cert: file(v['tls-cert'], '--tls-cert')!, key: file(v['tls-key'], '--tls-key')!, ca: file(v['tls-ca'], '--tls-ca') } : undefined;
  const modelPath = await resolveOrPullModel(v.model);
  if (!v.broker && !users && !isLoopback(host)) {
    process.stderr.write(`wisp: warning: the broker listens on ${host} with no --users file: anyone on the network can send it prompts and read the replies (${wispCommand()} user add NAME --role client, then --users users.json)\n`);
  }
  // the batch limits of the profile in effect: --profile, else the one this machine gets (a tuned
  // profile from `wisp bench --tune` copied into device-profiles/ included), as for the thread count
  const batchProfile = await profileInEffect(v.profile);
  const t0 = performance.now();
  let server: Server;
  try {
    server = await startServer({
      modelPath,
      device: v.device ?? defaultDeviceName(),
      ...engineChoice(v),
      threads: intOption(v.threads, 'threads', 1),
      contextSize: intOption(v.context, 'context', 2),
      // a --profile (a tuned one from `wisp bench --tune`) brings its batch limit
      maxSequences: intOption(v['max-sequences'], 'max-sequences', 1) ?? batchProfile?.batch.maxSequences ?? 4,
      // and its cap on the rows of one step (a prefill chunk, a decode batch)
      maxBatchTokens: batchProfile?.batch.maxBatchTokens,
      kvType: kvOption(v.kv),
      activations: activationsOption(v.activations),
      maxQueue: intOption(v.queue, 'queue', 1),
      maxQueuePerClient: intOption(v['queue-per-client'], 'queue-per-client', 1),
      host,
      port: portOff ? 'off' : ports.port,
      wsPort: ports['ws-port'],
      tls,
      users,
      broker: v.broker
        ? {
            url: v.broker,
            username: v['broker-user'],
            password: process.env.WISP_BROKER_PASSWORD,
            ca: file(v['broker-ca'], '--broker-ca'),
            cert: file(v['broker-cert'], '--broker-cert'),
            key: file(v['broker-key'], '--broker-key'),
            rejectUnauthorized: v.insecure ? false : undefined,
          }
        : undefined,
      fleetGroup: v.fleet,
      maxPayloadBytes: intOption(v['max-payload'], 'max-payload', 1),
      chunkIntervalMs: intOption(v['chunk-ms'], 'chunk-ms', 0),
      flow: flowOption(intOption(v.backlog, 'backlog', 1), intOption(v['backlog-max'], 'backlog-max', 1)),
      rate: rate !== undefined ? { messagesPerSecond: rate, burst: 2 * rate } : undefined,
      metricsPort,
      metricsHost: v['metrics-host'],
      trustedKeyDirs: v['trusted-keys'],
      watchKernels: v['watch-kernels'],
    });
  } catch (err) {
    throw listenError(err, host, ports, v['metrics-host'] ?? '127.0.0.1', metricsPort) ?? (v.broker ? brokerError(err, v.broker) : undefined) ?? err;
  }
  console.log(banner(server, { loadMs: performance.now() - t0, host, fleet: v.fleet, metricsHost: v['metrics-host'] ?? '127.0.0.1', users: v.users }));
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`wisp: ${signal}: stopping (requests in flight get a 'shutdown' error)\n`);
      void server.stop(`the device is shutting down (${signal})`).finally(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

function readOptionFile(path: string, option: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`${option} ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

function loadUsersOption(path: string) {
  if (!existsSync(path)) throw new UsageError(`--users ${path}: no such file; create it with \`${wispCommand()} user add NAME --role client --file ${path}\``);
  return loadUsers(path);
}

/** An external broker that cannot be reached: what to check (one line). */
function brokerError(err: unknown, url: string): Error | undefined {
  const msg = (err as Error)?.message ?? '';
  if (!msg.startsWith(`cannot connect to ${url}`)) return undefined;
  const host = (() => {
    try {
      return new URL(url).hostname;
    } catch {
      return url;
    }
  })();
  const hint = /ENOTFOUND|EAI_AGAIN/.test(msg)
    ? `no host named ${host} here: give your broker's address, e.g. --broker mqtt://192.168.1.10:1883, or leave --broker out to use the embedded one`
    : /ECONNREFUSED/.test(msg)
      ? `nothing listens at ${url}: start the broker (e.g. systemctl start mosquitto), or leave --broker out to use the embedded one`
      : 'check the URL, credentials (--broker-user, $WISP_BROKER_PASSWORD) and TLS options';
  return new Error(`${msg} (${hint})`);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/**
 * One line for a listener that could not start: which option picks another port (a system
 * Mosquitto on :1883 is common on IoT boxes: --broker joins it instead). undefined: not a listen error.
 */
export function listenError(
  err: unknown,
  host: string,
  ports: Record<'port' | 'ws-port' | 'tls-port', number | undefined>,
  metricsHost: string,
  metricsPort: number | undefined,
): UsageError | undefined {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  if (!e || (e.code !== 'EADDRINUSE' && e.code !== 'EACCES' && e.code !== 'EADDRNOTAVAIL')) return undefined;
  const isMetrics = /metrics\/health/.test(e.message ?? '') || (e.port === metricsPort && !Object.values(ports).includes(e.port));
  const option = isMetrics ? 'metrics-port' : ((Object.keys(ports) as Array<keyof typeof ports>).find((k) => ports[k] === e.port) ?? 'port');
  const where = isMetrics ? metricsHost : host;
  const port = e.port ?? (isMetrics ? metricsPort : ports[option as keyof typeof ports]);
  const what = isMetrics ? 'the metrics port' : option === 'port' ? 'the MQTT port' : `the ${option.replace('-port', '').toUpperCase()} port`;
  if (e.code === 'EADDRNOTAVAIL') return new UsageError(`${isMetrics ? '--metrics-host' : '--host'} ${where} is not an address of this machine`);
  if (e.code === 'EACCES') return new UsageError(`${what} ${port} on ${where} needs privileges (ports below 1024 need root): pick another with --${option} N`);
  if (isMetrics) return new UsageError(`${what} ${port} on ${where} is already in use: pick another with --metrics-port N (0 = any free port, off = none)`);
  const join = option === 'port' ? `, or use the broker that is already there with --broker mqtt://${where === '0.0.0.0' ? '127.0.0.1' : where}:${port}` : '';
  return new UsageError(`${what} ${port} on ${where} is already in use (another wisp, or a system Mosquitto?): pick another with --${option} N${join}`);
}

/** Every address a wildcard host listens on, e.g. "127.0.0.1, 192.168.1.20". */
function addressesOf(host: string): string {
  if (host !== '0.0.0.0' && host !== '::') return host;
  const all = Object.values(networkInterfaces()).flat().filter((a) => a && (host === '::' || a.family === 'IPv4'));
  return all.map((a) => a!.address).join(', ');
}

function banner(server: Server, o: { loadMs: number; host: string; fleet?: string; metricsHost: string; users?: string }): string {
  const c = server.model.config;
  const infer = `wisp/${server.device}/infer`;
  const local = server.url.replace('0.0.0.0', '127.0.0.1').replace('[::]', '[::1]');
  const { hostname: brokerHost, port: brokerPort } = new URL(local);
  const b = server.broker;
  const listeners = b
    ? [
        ...(b.ports.tcp !== undefined ? [`mqtt://${o.host}:${b.ports.tcp}`] : []),
        ...(b.ports.tls !== undefined ? [`mqtts://${o.host}:${b.ports.tls}`] : []),
        ...(b.ports.ws !== undefined ? [`ws://${o.host}:${b.ports.ws}`] : []),
      ].join(', ')
    : '';
  const reach = isLoopback(o.host) ? 'this machine only; --host 0.0.0.0 opens it' : `on ${addressesOf(o.host)}`;
  const auth = o.users ? `users from ${o.users} (ACL by role)` : 'none: anyone who can connect may use it';
  const ask = `${wispCommand()} ask${local === 'mqtt://127.0.0.1:1883' ? '' : ` --broker ${local}`}${server.device === defaultDeviceName() ? '' : ` --device ${server.device}`} "Once upon a time"`;
  return [
    `wisp: serving ${server.modelName} (${c.arch}, ${c.nLayers} layers, vocab ${c.vocabSize}) on ${server.model.description}; loaded in ${o.loadMs.toFixed(0)} ms`,
    ...(server.model.threads ? [`  threads: ${server.model.threads.count} (${server.model.threads.reason})`] : []),
    b ? `  broker:  embedded, listening on ${listeners} (${reach})` : `  broker:  ${server.url}`,
    ...(b ? [`  auth:    ${auth}`] : []),
    `  topics:  ${infer} (requests), wisp/${server.device}/status (retained)${o.fleet ? `, $share/${o.fleet}/wisp/fleet/infer` : ''}`,
    ...(server.http ? [`  metrics: http://${o.metricsHost}:${server.http.port}/metrics  health: /healthz`] : []),
    '',
    'Send it a prompt (streams the answer):',
    `  ${ask}`,
    `  mosquitto_rr -h ${brokerHost} -p ${brokerPort} -V 5 -t ${infer} -e wisp/${server.device}/reply/cli -m '{"id":"cli","prompt":"Once upon a time","max_tokens":64,"stream":false}'`,
    'Stop with Ctrl-C.',
  ].join('\n');
}

/** --backlog / --backlog-max as the broker's flow limits (messages; the byte limits keep their defaults). */
function flowOption(behind: number | undefined, max: number | undefined): { behindMessages?: number; maxMessages?: number } | undefined {
  if (behind === undefined && max === undefined) return undefined;
  const b = behind ?? DEFAULT_FLOW_LIMITS.behindMessages;
  const m = max ?? Math.max(DEFAULT_FLOW_LIMITS.maxMessages, 5 * b);
  if (m < b) throw new UsageError(`--backlog-max (${m}) must be at least --backlog (${b})`);
  return { behindMessages: b, maxMessages: m };
}
