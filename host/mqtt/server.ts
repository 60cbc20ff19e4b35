// `wisp serve` put together: the model on its engine, the embedded broker (or a connection to an
// external one), the inference service, and the HTTP endpoint for /metrics and /healthz.
import { hostname } from 'node:os';
import { basename } from 'node:path';
import { openModel, type OpenModel, type OpenOptions } from '../engine/open.js';
import { WISP_VERSION } from '../invocation.js';
import type { KernelThreads } from '../kernels/hot-swap.js';
import { KernelManager } from '../kernels/manager.js';
import { KernelRegistry } from '../kernels/registry.js';
import { watchKernelsDir } from '../kernels/watch.js';
import { namedProfile } from '../profiles/index.js';
import type { DeviceProfile } from '../profiles/types.js';
import { sha256File } from '../model/sha256.js';
import { createLogger, type Logger } from '../obs/log.js';
import { startHttp, type HttpServer } from '../obs/http.js';
import { ServiceMetrics } from '../obs/metrics.js';
import { checkDeviceName, mayReplyTo } from './acl.js';
import { startBroker, type BrokerOptions, type EmbeddedBroker } from './broker.js';
import { topics } from './protocol.js';
import { DEFAULT_MAX_REQUEST_BYTES, InferenceService } from './service.js';
import { ClientTransport, EmbeddedTransport, type ExternalBrokerOptions, type Transport } from './transport.js';
import type { LoginBackoffPolicy, RateLimit } from './limits.js';
import type { UserTable } from './users.js';
import type { SchedulerOptions } from '../engine/scheduler.js';

const DEFAULT_RATE: RateLimit = { messagesPerSecond: 10, burst: 20 };

export interface ServerOptions extends OpenOptions {
  modelPath: string;
  device?: string;
  /** Embedded broker listeners (ignored with `broker`). */
  host?: string;
  /** Plain MQTT over TCP: default 1883; 'off': none (TLS only, with `tls`). */
  port?: number | 'off';
  wsPort?: number;
  tls?: BrokerOptions['tls'];
  users?: UserTable;
  /** How failed logins slow the next ones (embedded broker with users); default DEFAULT_LOGIN_BACKOFF. */
  loginBackoff?: LoginBackoffPolicy;
  /** External broker instead of the embedded one. */
  broker?: Pick<ExternalBrokerOptions, 'url' | 'username' | 'password' | 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'reconnectMs' | 'maxReconnectMs'>;
  fleetGroup?: string;
  maxQueue?: number;
  maxQueuePerClient?: number;
  maxPayloadBytes?: number;
  /** A request streams at most one chunk per this many ms (default 0: one per piece of text; service.ts). */
  chunkIntervalMs?: number;
  /** The scheduler's step and prompt callbacks (benchmarks: where the service thread's time goes). */
  onStep?: SchedulerOptions['onStep'];
  onPrefill?: SchedulerOptions['onPrefill'];
  /** Requests per client (per user with a users table); default 10/s, burst 20. */
  rate?: RateLimit;
  /** Embedded broker: per-client backlog limits (host/mqtt/outbox.ts DEFAULT_FLOW_LIMITS). */
  flow?: BrokerOptions['flow'];
  /** /healthz says 503 when the scheduler has work and no step ended for this long (default 120 s). */
  stallAfterMs?: number;
  /** HTTP /metrics + /healthz port; undefined = none, 0 = any free port. */
  metricsPort?: number;
  metricsHost?: string;
  log?: Logger;
  profile?: string | null;
  /** Directories of trusted kernel signing keys (*.pub); default /etc/wisp/keys, the user's config dir, kernels/. */
  trustedKeyDirs?: string[];
  /** Kernel swap policy; default: the profile's `kernels` (allowUnsigned false, maxSlowdown 1.25, probation 32 steps). */
  kernelPolicy?: { allowUnsigned?: boolean; maxSlowdown?: number; maxBytes?: number; probationSteps?: number };
  /** Watch this directory for kernel modules to swap in (<family>.<name>.wasm + .sig; docs/KERNELS.md). */
  watchKernels?: string;
}

export interface Server {
  device: string;
  /** The served model's name (its file name without .gguf). */
  modelName: string;
  model: OpenModel;
  service: InferenceService;
  broker?: EmbeddedBroker;
  /** The kernel registry and commands (wasm engines). */
  kernels?: KernelManager;
  http?: HttpServer;
  metrics: ServiceMetrics;
  /** Where clients connect (the embedded broker's URL, or the external broker's). */
  url: string;
  stop(reason?: string): Promise<void>;
}

export function defaultDeviceName(): string {
  const name = hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return name.slice(0, 64) || 'wisp';
}


export async function startServer(o: ServerOptions): Promise<Server> {
  const device = o.device ?? defaultDeviceName();
  checkDeviceName(device);
  const log = o.log ?? createLogger({ device });
  const metrics = new ServiceMetrics({ processMetrics: true });
  // what is running, in start order; torn down in reverse
  const cleanup: Array<() => Promise<void>> = [];
  const tearDown = async () => {
    for (const f of cleanup.reverse()) await f().catch(() => {});
  };
  const maxPayloadBytes = o.maxPayloadBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const rate = o.rate ?? DEFAULT_RATE;
  let broker: EmbeddedBroker | undefined;
  let transport: Transport;
  // the listeners first: a port in use fails at once, not after a long model load
  if (o.broker) {
    transport = new ClientTransport({
      ...o.broker,
      clientId: `wisp-${device}`,
      // no `ts`: the broker publishes the will when the connection dies, a time the device cannot
      // write into it beforehand (status.schema.json)
      will: { topic: topics.status(device), payload: JSON.stringify({ device, online: false }) },
    });
  } else {
    if (o.port === 'off' && !o.tls && o.wsPort === undefined) throw new Error('--port off leaves no listener: give --tls-port (or --ws-port)');
    broker = await startBroker({
      device,
      host: o.host ?? '127.0.0.1',
      tcpPort: o.port === 'off' ? undefined : (o.port ?? 1883),
      wsPort: o.wsPort,
      tls: o.tls,
      users: o.users,
      maxPayloadBytes,
      // a request of up to 16 MiB is read and answered payload_too_large; bigger cuts the connection
      maxPacketBytes: 16 * 1024 * 1024,
      ratePerClient: rate,
      flow: o.flow,
      loginBackoff: o.loginBackoff,
      metrics,
      log,
    });
    const b = broker;
    metrics.observeDelivery(() => b.delivery.stats);
    cleanup.push(() => b.close());
    transport = new EmbeddedTransport(b);
  }
  try {
    const [model, sha256] = await Promise.all([
      openModel(o.modelPath, { ...o, log, onOpTime: (backend, op, seconds) => metrics.backendTime(backend, op, seconds) }),
      sha256File(o.modelPath),
    ]);
    cleanup.push(() => model.close());
    // the file name says which model it is; general.name is often just the architecture
    const modelName = basename(model.path).replace(/\.gguf$/i, '');
    let service: InferenceService | undefined;
    const manager = model.kernels ? kernelManager(model, o, log, metrics, () => service?.kernelsChanged()) : undefined;
    if (manager) cleanup.push(() => manager.close());
    const kernels = () => (manager ? Object.fromEntries(Object.entries(manager.registry.describe()).map(([f, k]) => [f, { flavour: k.flavour, sha256: k.sha256, source: k.source }])) : {});
    service = new InferenceService({
      device,
      served: {
        name: modelName,
        aliases: [model.name],
        path: model.path,
        sha256,
        tokenizer: model.tokenizer,
        model: manager ? manager.guard(model.model) : model.model,
        engine: model.description,
        threads: model.threads?.count,
        contextSize: model.model.contextSize ?? model.config.contextLength,
      },
      transport,
      log,
      metrics,
      fleetGroup: o.fleetGroup,
      maxQueue: o.maxQueue,
      maxQueuePerClient: o.maxQueuePerClient,
      maxPayloadBytes,
      chunkIntervalMs: o.chunkIntervalMs,
      onStep: o.onStep,
      onPrefill: o.onPrefill,
      // the embedded broker limits rates itself (and tells us what it dropped); an external one does not
      rate: broker ? undefined : rate,
      mayReplyTo: (user, topic) => mayReplyTo(device, user, topic),
      stallAfterMs: o.stallAfterMs,
      kernels,
      kernelManager: manager,
      // the profile in effect: the routing plan's, else the one the thread count came from
      profile: model.plan?.profile ?? model.threads?.profile ?? o.profile ?? null,
      version: WISP_VERSION,
    });
    await service.start();
    const started = service;
    cleanup.push(() => started.stop());
    if (manager && o.watchKernels) {
      const watcher = watchKernelsDir(o.watchKernels, manager, log);
      cleanup.push(async () => watcher.close());
    }
    let http: HttpServer | undefined;
    if (o.metricsPort !== undefined) {
      http = await startHttp({ port: o.metricsPort, host: o.metricsHost, metrics, health: () => started.health() });
      const h = http;
      cleanup.push(() => h.close());
    }
    let stopping: Promise<void> | undefined;
    return {
      device,
      modelName,
      model,
      service: started,
      broker,
      kernels: manager,
      http,
      metrics,
      url: broker ? broker.url : o.broker!.url,
      // the service first, with the reason its requests end with; then the rest in reverse
      stop: (reason?: string) => (stopping ??= started.stop(reason).then(tearDown)),
    };
  } catch (err) {
    await tearDown();
    throw err;
  }
}

/** The kernel manager of a model on the wasm kernels: the load-time choice as the registry's start, the wasm pool to switch, the profile's swap policy. */
function kernelManager(model: OpenModel, o: ServerOptions, log: Logger, metrics: ServiceMetrics, changed: () => void): KernelManager {
  const registry = KernelRegistry.open();
  registry.adopt(model.kernels!);
  let fromProfile: DeviceProfile['kernels'] = {};
  try {
    const name = model.plan?.profile ?? model.threads?.profile ?? o.profile ?? undefined;
    if (name) fromProfile = namedProfile(name).kernels ?? {};
  } catch {
    // no readable profile: the defaults
  }
  const p = { ...fromProfile, ...o.kernelPolicy };
  const pool = (model.forward?.backend('wasm') as { pool?: KernelThreads } | undefined)?.pool;
  return new KernelManager({
    registry,
    threads: () => (pool ? [pool] : []),
    log,
    metrics,
    onChange: changed,
    trustedKeyDirs: o.trustedKeyDirs,
    policy: { ...(p.allowUnsigned !== undefined ? { allowUnsigned: p.allowUnsigned } : {}), ...(p.maxSlowdown !== undefined ? { maxSlowdown: p.maxSlowdown } : {}), ...(o.kernelPolicy?.maxBytes !== undefined ? { maxBytes: o.kernelPolicy.maxBytes } : {}) },
    probationSteps: p.probationSteps,
  });
}
