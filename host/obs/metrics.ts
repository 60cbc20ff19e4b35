// Prometheus metrics of the MQTT service. One ServiceMetrics owns one prom-client Registry (never the
// global one), so two services in one process — tests, a fleet simulation — keep separate counts.
// The service calls the typed methods below; `wisp serve` exposes `metricsText()` on GET /metrics
// (host/obs/http.ts), and dashboards/wisp-grafana.json charts every metric named here.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** How a request ended: a finish_reason, or why it never ran (docs/PROTOCOL.md error codes). */
export const REQUEST_OUTCOMES = ['stop', 'length', 'cancelled', 'error', 'busy', 'invalid', 'rate_limited'] as const;
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

/** The groups a backend's time is booked under (one forward step = embed, layers, head; then sample). */
export const BACKEND_OPS = ['embed', 'attention', 'ffn', 'head', 'sample'] as const;
export type BackendOp = (typeof BACKEND_OPS)[number];

export type KernelSwapOutcome = 'swapped' | 'rolled_back' | 'rejected';

/** Why a login (an MQTT CONNECT) was refused; all present from 0. */
export const LOGIN_REFUSALS = ['tls_required', 'no_credentials', 'bad_credentials', 'client_id_taken', 'throttled'] as const;
export type LoginRefusalReason = (typeof LOGIN_REFUSALS)[number];

/** What the load gauges show, read at each scrape. */
export interface Load {
  queued: number;
  active: number;
}

export interface ServiceInfo {
  device: string;
  model: string;
  /** sha256 of the model file */
  sha256: string;
  engine: string;
  threads: number;
  /** The kernel flavour per family, e.g. "matmul=relaxed,attn=simd128,ops=simd128" ("" without wasm kernels). */
  kernels: string;
}

export interface ServiceMetricsOptions {
  /** Also collect prom-client's process and Node metrics (CPU, memory, event-loop lag, GC). Default false. */
  processMetrics?: boolean;
}

// 5 ms (a tiny model, warm) .. 30 s (a long prompt on a Pi)
const TTFT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const DECODE_RATE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
const BATCH_BUCKETS = [1, 2, 3, 4, 6, 8, 12, 16, 32];
// the login back-off: half a second .. its 30 s default cap
const LOGIN_DELAY_BUCKETS = [0.5, 1, 2, 4, 8, 16, 30, 60];

/** The embedded broker's delivery counters (a structural copy of DeliveryStats: obs/ knows no mqtt/). */
export interface DeliveryCounts {
  behind: number;
  overflows: number;
  dropped: Record<string, number>;
}

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly contentType: string = this.registry.contentType;

  private readonly requests: Counter<'outcome'>;
  private readonly ttft: Histogram;
  private readonly generated: Counter;
  private readonly prompt: Counter;
  private readonly decode: Histogram;
  private readonly batch: Histogram;
  private readonly backend: Counter<'backend' | 'op'>;
  private readonly swaps: Counter<'family' | 'outcome'>;
  private readonly mqtt: Counter<'direction' | 'kind'>;
  private readonly infoGauge: Gauge<keyof ServiceInfo>;
  private readonly loginRefusals: Counter<'reason'>;
  private readonly loginDelay: Histogram;
  private load: () => Load = () => ({ queued: 0, active: 0 });
  private brokerUp: () => boolean = () => false;
  private delivery: () => DeliveryCounts | undefined = () => undefined;

  constructor(opts: ServiceMetricsOptions = {}) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'wisp_requests_total', help: 'Requests finished, by outcome (finish reason or refusal)', labelNames: ['outcome'], registers });
    // every outcome exists from the start at 0, so rate() and "no errors yet" show as 0, not as no data
    for (const outcome of REQUEST_OUTCOMES) this.requests.inc({ outcome }, 0);
    // the gauges ask the service at each scrape (observeLoad), so they are never stale
    const metrics = this;
    new Gauge({ name: 'wisp_queue_depth', help: 'Requests waiting to be admitted into the batch', registers, collect() {
      this.set(metrics.load().queued);
    } });
    new Gauge({ name: 'wisp_active_sequences', help: 'Sequences in the running batch', registers, collect() {
      this.set(metrics.load().active);
    } });
    new Gauge({ name: 'wisp_broker_connected', help: '1 while the service is connected to its broker (the embedded one: always, once started)', registers, collect() {
      this.set(metrics.brokerUp() ? 1 : 0);
    } });
    // the embedded broker's delivery counters (host/mqtt/aedes-patches.ts), read at each scrape
    const deliveryCounter = (name: string, help: string, read: (d: DeliveryCounts) => Record<string, number>, label?: string) => {
      const seen = new Map<string, number>();
      new Counter({ name, help, labelNames: label ? [label] : [], registers, collect() {
        const d = metrics.delivery();
        if (!d) return;
        for (const [key, value] of Object.entries(read(d))) {
          const delta = value - (seen.get(key) ?? 0);
          if (delta > 0) label ? this.inc({ [label]: key }, delta) : this.inc(delta);
          else if (!seen.has(key)) label ? this.inc({ [label]: key }, 0) : this.inc(0);
          seen.set(key, value);
        }
      } });
    };
    deliveryCounter('wisp_delivery_behind_total', 'Times a client (live or kept session) fell behind the backlog limit; its requests were cancelled', (d) => ({ '': d.behind }));
    deliveryCounter('wisp_delivery_overflows_total', 'Connections dropped for a backlog over the max limit', (d) => ({ '': d.overflows }));
    deliveryCounter('wisp_delivery_dropped_total', 'Messages a client did not get, by reason', (d) => d.dropped, 'reason');
    this.loginRefusals = new Counter({ name: 'wisp_login_refusals_total', help: 'MQTT CONNECTs refused by the embedded broker, by reason', labelNames: ['reason'], registers });
    for (const reason of LOGIN_REFUSALS) this.loginRefusals.inc({ reason }, 0);
    this.loginDelay = new Histogram({ name: 'wisp_login_delay_seconds', help: 'Back-off a login waited after failed ones (from its address or for its user) before its password was checked', buckets: LOGIN_DELAY_BUCKETS, registers });
    this.ttft = new Histogram({ name: 'wisp_time_to_first_token_seconds', help: 'From a request arriving to its first generated token', buckets: TTFT_BUCKETS, registers });
    this.generated = new Counter({ name: 'wisp_generated_tokens_total', help: 'Tokens generated (sampled), all requests', registers });
    this.prompt = new Counter({ name: 'wisp_prompt_tokens_total', help: 'Prompt tokens prefilled, all requests', registers });
    this.decode = new Histogram({ name: 'wisp_decode_tokens_per_second', help: 'Decode speed of each finished request', buckets: DECODE_RATE_BUCKETS, registers });
    this.batch = new Histogram({ name: 'wisp_batch_size', help: 'Sequences in each decode step', buckets: BATCH_BUCKETS, registers });
    this.backend = new Counter({ name: 'wisp_backend_seconds_total', help: 'Time spent in each backend, by op group', labelNames: ['backend', 'op'], registers });
    this.swaps = new Counter({ name: 'wisp_kernel_swaps_total', help: 'Kernel module hot swaps, by family and outcome', labelNames: ['family', 'outcome'], registers });
    this.mqtt = new Counter({ name: 'wisp_mqtt_messages_total', help: 'MQTT messages handled, by direction and topic kind', labelNames: ['direction', 'kind'], registers });
    this.infoGauge = new Gauge({ name: 'wisp_info', help: 'The device, its model, engine and kernel flavours (always 1)', labelNames: ['device', 'model', 'sha256', 'engine', 'threads', 'kernels'], registers });
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  requestFinished(outcome: RequestOutcome): void {
    this.requests.inc({ outcome });
  }

  /** Where the queue depth and active sequences gauges read from at each scrape. */
  observeLoad(load: () => Load): void {
    this.load = load;
  }

  /** Where wisp_broker_connected reads from at each scrape. */
  observeBroker(connected: () => boolean): void {
    this.brokerUp = connected;
  }

  /** Where the wisp_delivery_* counters read the embedded broker's delivery stats at each scrape. */
  observeDelivery(stats: () => DeliveryCounts | undefined): void {
    this.delivery = stats;
  }

  loginRefused(reason: LoginRefusalReason): void {
    this.loginRefusals.inc({ reason });
  }

  /** A login waited this long for the back-off; only waits > 0 are recorded. */
  loginDelayed(seconds: number): void {
    if (seconds > 0 && Number.isFinite(seconds)) this.loginDelay.observe(seconds);
  }

  /** Dropped when not finite (a request that produced no token has no TTFT). */
  timeToFirstToken(seconds: number): void {
    if (Number.isFinite(seconds)) this.ttft.observe(seconds);
  }

  tokensGenerated(n: number): void {
    this.generated.inc(n);
  }

  promptTokens(n: number): void {
    this.prompt.inc(n);
  }

  /** Once per finished request; dropped when not finite (a decode of zero duration). */
  decodeRate(tokPerSec: number): void {
    if (Number.isFinite(tokPerSec)) this.decode.observe(tokPerSec);
  }

  /** Once per decode step. */
  batchSize(n: number): void {
    this.batch.observe(n);
  }

  backendTime(backend: string, op: BackendOp, seconds: number): void {
    this.backend.inc({ backend, op }, seconds);
  }

  kernelSwap(family: string, outcome: KernelSwapOutcome): void {
    this.swaps.inc({ family, outcome });
  }

  mqttMessage(direction: 'in' | 'out', kind: string): void {
    this.mqtt.inc({ direction, kind });
  }

  /** Replaces the previous info (a model reload leaves one series, not two). */
  info(i: ServiceInfo): void {
    this.infoGauge.reset();
    this.infoGauge.set({ device: i.device, model: i.model, sha256: i.sha256, engine: i.engine, threads: String(i.threads), kernels: i.kernels }, 1);
  }

  /** The Prometheus text exposition of every metric in this registry. */
  metricsText(): Promise<string> {
    return this.registry.metrics();
  }
}
