import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startHttp, type Health } from '../host/obs/http.js';
import { createLogger, requestLogger } from '../host/obs/log.js';
import { ServiceMetrics } from '../host/obs/metrics.js';
import { ROOT } from './helpers/paths.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (enough of the format for prom-client's output). */
function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const s = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value;
}

async function withHttp(health: () => Health, fn: (base: string, metrics: ServiceMetrics) => Promise<void>): Promise<void> {
  const metrics = new ServiceMetrics();
  const server = await startHttp({ port: 0, metrics, health });
  try {
    await fn(`http://127.0.0.1:${server.port}`, metrics);
  } finally {
    await server.close();
  }
}

test('every method shows up in the metrics text with its labels', async () => {
  const m = new ServiceMetrics();
  m.requestFinished('stop');
  m.requestFinished('stop');
  m.requestFinished('rate_limited');
  m.observeLoad(() => ({ queued: 3, active: 2 }));
  m.observeBroker(() => true);
  m.loginRefused('bad_credentials');
  m.loginRefused('bad_credentials');
  m.loginRefused('throttled');
  m.loginDelayed(0.5);
  m.loginDelayed(0); // no wait: not recorded
  m.timeToFirstToken(0.042);
  m.tokensGenerated(100);
  m.tokensGenerated(28);
  m.promptTokens(17);
  m.decodeRate(55);
  m.batchSize(1);
  m.batchSize(5);
  m.backendTime('wasm', 'attention', 0.25);
  m.backendTime('wasm', 'attention', 0.5);
  m.backendTime('onnx', 'ffn', 1.5);
  m.kernelSwap('matmul', 'swapped');
  m.kernelSwap('attn', 'rolled_back');
  m.mqttMessage('in', 'infer');
  m.mqttMessage('out', 'chunk');
  m.mqttMessage('out', 'chunk');
  m.info({ device: 'pi5-kitchen', model: 'stories260K', sha256: 'ab'.repeat(32), engine: 'wasm', threads: 4, kernels: 'matmul=relaxed,attn=simd128,ops=simd128' });
  const s = parseProm(await m.metricsText());

  assert.is(value(s, 'wisp_requests_total', { outcome: 'stop' }), 2);
  assert.is(value(s, 'wisp_requests_total', { outcome: 'rate_limited' }), 1);
  assert.is(value(s, 'wisp_requests_total', { outcome: 'error' }), 0, 'outcomes exist at 0 before they happen');
  assert.is(value(s, 'wisp_queue_depth'), 3);
  assert.is(value(s, 'wisp_active_sequences'), 2);
  assert.is(value(s, 'wisp_broker_connected'), 1);
  assert.is(value(s, 'wisp_login_refusals_total', { reason: 'bad_credentials' }), 2);
  assert.is(value(s, 'wisp_login_refusals_total', { reason: 'throttled' }), 1);
  assert.is(value(s, 'wisp_login_refusals_total', { reason: 'tls_required' }), 0, 'reasons exist at 0 before they happen');
  assert.is(value(s, 'wisp_login_delay_seconds_count'), 1);
  assert.is(value(s, 'wisp_login_delay_seconds_sum'), 0.5);
  assert.is(value(s, 'wisp_time_to_first_token_seconds_count'), 1);
  assert.is(value(s, 'wisp_time_to_first_token_seconds_bucket', { le: '0.025' }), 0);
  assert.is(value(s, 'wisp_time_to_first_token_seconds_bucket', { le: '0.05' }), 1);
  assert.is(value(s, 'wisp_time_to_first_token_seconds_bucket', { le: '0.005' }), 0, 'the smallest bucket is 5 ms');
  assert.is(value(s, 'wisp_time_to_first_token_seconds_bucket', { le: '30' }), 1, 'the largest bucket is 30 s');
  assert.is(value(s, 'wisp_generated_tokens_total'), 128);
  assert.is(value(s, 'wisp_prompt_tokens_total'), 17);
  assert.is(value(s, 'wisp_decode_tokens_per_second_sum'), 55);
  assert.equal(
    s.filter((x) => x.name === 'wisp_batch_size_bucket').map((x) => x.labels.le),
    ['1', '2', '3', '4', '6', '8', '12', '16', '32', '+Inf'],
  );
  assert.is(value(s, 'wisp_batch_size_bucket', { le: '4' }), 1);
  assert.is(value(s, 'wisp_batch_size_bucket', { le: '6' }), 2);
  assert.is(value(s, 'wisp_backend_seconds_total', { backend: 'wasm', op: 'attention' }), 0.75);
  assert.is(value(s, 'wisp_backend_seconds_total', { backend: 'onnx', op: 'ffn' }), 1.5);
  assert.is(value(s, 'wisp_kernel_swaps_total', { family: 'matmul', outcome: 'swapped' }), 1);
  assert.is(value(s, 'wisp_kernel_swaps_total', { family: 'attn', outcome: 'rolled_back' }), 1);
  assert.is(value(s, 'wisp_mqtt_messages_total', { direction: 'in', kind: 'infer' }), 1);
  assert.is(value(s, 'wisp_mqtt_messages_total', { direction: 'out', kind: 'chunk' }), 2);
  assert.is(value(s, 'wisp_info', { device: 'pi5-kitchen', model: 'stories260K', sha256: 'ab'.repeat(32), engine: 'wasm', threads: '4' }), 1);
});

test('the load gauges are read at each scrape, not when the service last reported', async () => {
  const m = new ServiceMetrics();
  let load = { queued: 1, active: 1 };
  m.observeLoad(() => load);
  assert.is(value(parseProm(await m.metricsText()), 'wisp_queue_depth'), 1);
  load = { queued: 0, active: 2 };
  const s = parseProm(await m.metricsText());
  assert.is(value(s, 'wisp_queue_depth'), 0);
  assert.is(value(s, 'wisp_active_sequences'), 2);
});

test('info replaces the previous one (a model reload leaves one series)', async () => {
  const m = new ServiceMetrics();
  m.info({ device: 'd', model: 'a', sha256: '0', engine: 'wasm', threads: 1, kernels: '' });
  m.info({ device: 'd', model: 'b', sha256: '1', engine: 'reference', threads: 2, kernels: '' });
  const infos = parseProm(await m.metricsText()).filter((x) => x.name === 'wisp_info');
  assert.equal(infos.map((x) => x.labels.model), ['b']);
});

test('a TTFT or decode rate that is not finite is dropped, not recorded', async () => {
  const m = new ServiceMetrics();
  m.timeToFirstToken(NaN);
  m.decodeRate(Infinity);
  const s = parseProm(await m.metricsText());
  assert.is(value(s, 'wisp_time_to_first_token_seconds_count'), 0);
  assert.is(value(s, 'wisp_decode_tokens_per_second_count'), 0);
});

test('two services in one process count separately; process metrics only when asked', async () => {
  const a = new ServiceMetrics();
  const b = new ServiceMetrics({ processMetrics: true });
  a.requestFinished('stop');
  const sa = parseProm(await a.metricsText());
  const sb = parseProm(await b.metricsText());
  assert.is(value(sa, 'wisp_requests_total', { outcome: 'stop' }), 1);
  assert.is(value(sb, 'wisp_requests_total', { outcome: 'stop' }), 0);
  assert.is(value(sa, 'process_cpu_seconds_total'), undefined);
  assert.ok((value(sb, 'process_cpu_seconds_total') ?? -1) >= 0);
});

test('GET /metrics serves the registry as Prometheus text', async () => {
  await withHttp(() => ({ ok: true, status: {} }), async (base, metrics) => {
    metrics.mqttMessage('in', 'cancel');
    const res = await fetch(`${base}/metrics`);
    assert.is(res.status, 200);
    assert.ok(res.headers.get('content-type')?.startsWith('text/plain'));
    const s = parseProm(await res.text());
    assert.is(value(s, 'wisp_mqtt_messages_total', { direction: 'in', kind: 'cancel' }), 1);
  });
});

test('GET /healthz is 200 with the status when ok, 503 when not', async () => {
  let health: Health = { ok: true, status: { model: 'stories260K', broker: 'connected' } };
  await withHttp(() => health, async (base) => {
    const up = await fetch(`${base}/healthz`);
    assert.is(up.status, 200);
    assert.equal(await up.json(), { ok: true, status: { model: 'stories260K', broker: 'connected' } });
    health = { ok: false, status: { broker: 'disconnected' } };
    const down = await fetch(`${base}/healthz`);
    assert.is(down.status, 503);
    assert.equal(await down.json(), { ok: false, status: { broker: 'disconnected' } });
  });
});

test('a health check that throws is a 503 with its message', async () => {
  await withHttp(() => { throw new Error('kernel pool out of service'); }, async (base) => {
    const res = await fetch(`${base}/healthz`);
    assert.is(res.status, 503);
    assert.equal(await res.json(), { ok: false, status: { error: 'kernel pool out of service' } });
  });
});

test('GET / is an index; unknown paths are 404; other methods on known paths 405', async () => {
  await withHttp(() => ({ ok: true, status: {} }), async (base) => {
    const index = await fetch(`${base}/`);
    assert.is(index.status, 200);
    assert.match(await index.text(), '/metrics');
    const missing = await fetch(`${base}/nope`);
    assert.is(missing.status, 404);
    await missing.body?.cancel();
    const post = await fetch(`${base}/metrics`, { method: 'POST' });
    assert.is(post.status, 405);
    assert.is(post.headers.get('allow'), 'GET, HEAD');
    await post.body?.cancel();
    const query = await fetch(`${base}/healthz?verbose=1`);
    assert.is(query.status, 200, 'a query string does not change the route');
    await query.body?.cancel();
  });
});

test('a port in use is a clear error', async () => {
  await withHttp(() => ({ ok: true, status: {} }), async (base) => {
    const port = Number(new URL(base).port);
    try {
      await startHttp({ port, metrics: new ServiceMetrics(), health: () => ({ ok: true, status: {} }) });
      assert.unreachable('listened twice on one port');
    } catch (e) {
      assert.match((e as Error).message, `127.0.0.1:${port}: EADDRINUSE`);
    }
  });
});

function memoryLog(level?: string) {
  const lines: string[] = [];
  const log = createLogger({ device: 'pi5-kitchen', level, destination: { write: (s: string) => void lines.push(s) } });
  const records = () => lines.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, records };
}

test('log lines are JSON with the device; request loggers add req and client', () => {
  const { log, records } = memoryLog();
  log.info('service up');
  const r = requestLogger(log, 'req-1', 'sensor-42');
  r.info({ prompt_tokens: 5 }, 'admitted');
  requestLogger(log, 'req-2').warn('cancelled');
  const [up, admitted, cancelled] = records();
  assert.is(up!.device, 'pi5-kitchen');
  assert.is(up!.level, 'info');
  assert.is(up!.msg, 'service up');
  assert.is(up!.req, undefined);
  assert.ok(!Number.isNaN(Date.parse(String(up!.time))), 'ISO time');
  assert.equal([admitted!.req, admitted!.client, admitted!.prompt_tokens, admitted!.device], ['req-1', 'sensor-42', 5, 'pi5-kitchen']);
  assert.equal([cancelled!.req, cancelled!.level], ['req-2', 'warn']);
  assert.not.ok('client' in cancelled!, 'no client key when the client is unknown');
});

test('the level filters lines; WISP_LOG_LEVEL sets it; a bad level is a clear error', () => {
  const { log, records } = memoryLog('warn');
  log.info('hidden');
  log.error('shown');
  assert.equal(records().map((r) => r.msg), ['shown']);
  const saved = process.env.WISP_LOG_LEVEL;
  try {
    process.env.WISP_LOG_LEVEL = 'debug';
    assert.is(memoryLog().log.level, 'debug');
    process.env.WISP_LOG_LEVEL = 'loud';
    assert.throws(() => memoryLog(), /WISP_LOG_LEVEL "loud" is not one of trace, debug, info/);
  } finally {
    if (saved === undefined) delete process.env.WISP_LOG_LEVEL;
    else process.env.WISP_LOG_LEVEL = saved;
  }
});

/** Every PromQL string in a dashboard: panel targets' `expr` and template variables' queries. */
function promqlOf(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => promqlOf(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if ((k === 'expr' || k === 'query' || k === 'definition') && typeof v === 'string') out.push(v);
      else promqlOf(v, out);
    }
  }
  return out;
}

test('the Grafana dashboard uses only metrics the service exports, and charts all of them', async () => {
  const dash = JSON.parse(readFileSync(join(ROOT, 'dashboards', 'wisp-grafana.json'), 'utf8'));
  assert.ok(dash.schemaVersion >= 36);
  assert.ok(dash.templating.list.some((v: { name: string; type: string }) => v.name === 'DS_PROMETHEUS' && v.type === 'datasource'));
  const used = new Set(
    promqlOf(dash)
      .flatMap((q) => q.match(/wisp_[a-z_]+/g) ?? [])
      .map((n) => n.replace(/_(bucket|sum|count)$/, '')),
  );
  const exported = new Set(new ServiceMetrics().registry.getMetricsAsArray().map((m) => m.name));
  assert.equal([...used].filter((n) => !exported.has(n)), [], 'dashboard names a metric the service does not export');
  assert.equal([...exported].filter((n) => !used.has(n)), [], 'a metric no panel shows');
  const ids = dash.panels.map((p: { id: number }) => p.id);
  assert.is(new Set(ids).size, ids.length, 'panel ids are unique');
});

test.run();
