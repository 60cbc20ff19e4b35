// `wisp serve` (what `npm start` runs): the model behind an MQTT inference service, with the
// embedded broker unless --broker names an external one.
import { readFileSync } from 'node:fs';
import { engineChoice, ENGINE_OPTIONS, kvOption } from './engine-options.js';
import { startServer, defaultDeviceName } from '../mqtt/server.js';
import { loadUsers } from '../mqtt/users.js';
import { intOption, parseOptions, UsageError } from './args.js';
import { MODEL_HELP, resolveModelOption } from './model-option.js';

const HELP = `usage: wisp serve [options]

Serves the model over MQTT: requests on wisp/<device>/infer, replies streamed to the response
topic (docs/PROTOCOL.md). Runs an embedded broker unless --broker is given.

${MODEL_HELP}
      --device NAME       topic level for this device (default: the host name)
      --engine NAME       wasm (default), reference, onnx or routed
      --profile NAME|PATH run layers where this device profile's routing plan says (wisp profile show)
      --route JSON        a routing table (see wisp run --help)
  -t, --threads N         kernel threads (default: the device profile's, --profile or the detected
                          one: "auto" = the cores; printed at startup with the reason)
      --context N         context per sequence (default: the model's, at most 4096)
      --max-sequences N   sequences decoding at once (KV cache slots, default 4)
      --kv TYPE           KV cache type: f32 (default) or f16
      --queue N           requests that may wait (default 64; one more gets 'busy')
      --queue-per-client N  requests one client may have waiting (default queue/4)
  embedded broker:
      --host ADDR         listen address (default 0.0.0.0)
      --port N|off        MQTT over TCP (default 1883; off: none, TLS only)
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
  limits and observability:
      --max-payload BYTES largest request (default 262144)
      --rate N            requests per second per client (default 10, burst 2N)
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
      rate: { type: 'string' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
    },
    HELP,
  );
  if (v['tls-port'] !== undefined && (!v['tls-cert'] || !v['tls-key'])) throw new UsageError('--tls-port needs --tls-cert and --tls-key');
  if (v.port === 'off' && v['tls-port'] === undefined) throw new UsageError('--port off needs --tls-port: it would leave no MQTT listener');
  if (v.fleet !== undefined && !v.broker) throw new UsageError('--fleet needs --broker: the embedded broker has no shared subscriptions (use Mosquitto or EMQX)');
  const file = (path: string | undefined) => (path === undefined ? undefined : readFileSync(path));
  const rate = intOption(v.rate, 'rate', 1);
  const metricsPort = v['metrics-port'] === 'off' ? undefined : (intOption(v['metrics-port'], 'metrics-port', 0) ?? 9464);
  const modelPath = resolveModelOption(v.model);
  const t0 = performance.now();
  const server = await startServer({
    modelPath,
    device: v.device ?? defaultDeviceName(),
    ...engineChoice(v),
    threads: intOption(v.threads, 'threads', 1),
    contextSize: intOption(v.context, 'context', 2),
    maxSequences: intOption(v['max-sequences'], 'max-sequences', 1) ?? 4,
    kvType: kvOption(v.kv),
    maxQueue: intOption(v.queue, 'queue', 1),
    maxQueuePerClient: intOption(v['queue-per-client'], 'queue-per-client', 1),
    host: v.host ?? '0.0.0.0',
    port: v.port === 'off' ? 'off' : intOption(v.port, 'port', 0),
    wsPort: intOption(v['ws-port'], 'ws-port', 0),
    tls: v['tls-port'] !== undefined ? { port: intOption(v['tls-port'], 'tls-port', 0)!, cert: readFileSync(v['tls-cert']!), key: readFileSync(v['tls-key']!), ca: file(v['tls-ca']) } : undefined,
    users: v.users !== undefined ? loadUsers(v.users) : undefined,
    broker: v.broker
      ? {
          url: v.broker,
          username: v['broker-user'],
          password: process.env.WISP_BROKER_PASSWORD,
          ca: file(v['broker-ca']),
          cert: file(v['broker-cert']),
          key: file(v['broker-key']),
          rejectUnauthorized: v.insecure ? false : undefined,
        }
      : undefined,
    fleetGroup: v.fleet,
    maxPayloadBytes: intOption(v['max-payload'], 'max-payload', 1),
    rate: rate !== undefined ? { messagesPerSecond: rate, burst: 2 * rate } : undefined,
    metricsPort,
    metricsHost: v['metrics-host'],
  });
  const c = server.model.config;
  const infer = `wisp/${server.device}/infer`;
  const local = server.url.replace('0.0.0.0', '127.0.0.1');
  const { hostname: brokerHost, port: brokerPort } = new URL(local);
  console.log(
    [
      `wisp: serving ${server.modelName} (${c.arch}, ${c.nLayers} layers, vocab ${c.vocabSize}) on ${server.model.description}; loaded in ${(performance.now() - t0).toFixed(0)} ms`,
      ...(server.model.threads ? [`  threads: ${server.model.threads.count} (${server.model.threads.reason})`] : []),
      `  broker:  ${server.broker ? `embedded, ${server.url}` : server.url}${server.broker?.ports.ws ? `, ws://…:${server.broker.ports.ws}` : ''}${server.broker?.ports.tls ? `, mqtts://…:${server.broker.ports.tls}` : ''}`,
      `  topics:  ${infer} (requests), wisp/${server.device}/status (retained)${v.fleet ? `, $share/${v.fleet}/wisp/fleet/infer` : ''}`,
      ...(server.http ? [`  metrics: http://${v['metrics-host'] ?? '127.0.0.1'}:${server.http.port}/metrics  health: /healthz`] : []),
      '',
      'Send it a prompt (streams the answer):',
      `  npx wisp ask --broker ${local} --device ${server.device} "Once upon a time"`,
      `  mosquitto_rr -h ${brokerHost} -p ${brokerPort} -V 5 -t ${infer} -e wisp/${server.device}/reply/cli -m '{"id":"cli","prompt":"Once upon a time","max_tokens":64,"stream":false}'`,
      'Stop with Ctrl-C.',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`wisp: ${signal}: stopping (requests in flight get a 'shutdown' error)\n`);
      void server.stop(`the device is shutting down (${signal})`).finally(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
