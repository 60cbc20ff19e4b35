// `wisp bench` (the device benchmark) end to end on stories260K with --quick --tune: the JSON names
// what ran and has every measurement; the tuned profile is valid and `wisp serve --profile` answers
// an mqtt.js request with it; the HTML report renders its plots in headless Chromium; `bench
// compare` puts results side by side. No timing is judged: only that the figures are there.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DeviceBench } from '../host/bench/device.js';
import { BENCH_TYPES, kernelVariants } from '../host/bench/kernels.js';
import type { TunedProfile } from '../host/bench/tune.js';
import { loadProfile } from '../host/profiles/index.js';
import { connect, listen } from './helpers/mqtt.js';
import { CLI, MODELS_DIR, ROOT } from './helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'wisp-bench-device-'));
const out = join(dir, 'out');
const env = { ...process.env, WISP_MODEL_PATH: MODELS_DIR ?? '' };
const CHROMIUM = '/usr/bin/chromium';

function wisp(args: string[]) {
  const res = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000, env });
  return { code: res.status, out: res.stdout, err: res.stderr };
}

// one quick run, shared by the tests below
const run = wisp(['bench', '--tune', '--quick', '--threads', '1,2', '--model', 'stories260K', '--out', out]);
const bench = (): DeviceBench => JSON.parse(readFileSync(join(out, 'device.json'), 'utf8')) as DeviceBench;

test('wisp bench --tune --quick writes device.json naming the device, CPU, profile, Node/V8, wisp version, model sha256 and kernel hashes', () => {
  assert.is(run.code, 0, run.err);
  const b = bench();
  assert.is(b.kind, 'wisp-device-bench');
  assert.is(b.quick, true);
  const e = b.environment;
  for (const k of ['device', 'cpuModel', 'node', 'v8', 'wisp', 'arch'] as const) assert.ok(typeof e[k] === 'string' && e[k].length > 0, k);
  assert.is(e.node, process.versions.node);
  assert.ok(e.lastLevelCache.bytes > 0);
  // each family's baseline module: the sha256 recorded is the file's
  type Module = { file: string };
  const manifest = JSON.parse(readFileSync(join(ROOT, 'kernels', 'manifest.json'), 'utf8')) as { families: Record<string, Module & { flavours?: Record<string, Module> }> };
  const base = e.kernels.baseline;
  assert.equal(Object.keys(e.kernels.flavours)[0], base);
  for (const [family, m] of Object.entries(manifest.families)) {
    const file = (m.flavours?.[base] ?? m).file;
    assert.is(e.kernels.flavours[base][family], createHash('sha256').update(readFileSync(join(ROOT, 'kernels', file))).digest('hex'), family);
  }
  assert.ok(b.profile.name, 'a shipped profile matches this machine');
  assert.is(b.model.file, 'stories260K.gguf');
  assert.is(b.model.sha256, '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d');
});

test('it measures memory read and every kernel variant × flavour × thread count over more bytes than the last-level cache', () => {
  const b = bench();
  assert.equal(b.memory.map((m) => m.threads), [1, 2]);
  assert.ok(b.workingSetBytes > b.environment.lastLevelCache.bytes);
  // every weight type with kernels (the block-format table) and each load-time layout the engine runs it in
  const variants = b.settings.kernelShapes.flatMap(([rows]) => BENCH_TYPES.flatMap((t) => kernelVariants(t, rows)));
  for (const v of ['f32', 'f16', 'f16f', 'q8_0', 'q4_0', 'q4_0r8', 'q4_K', 'q4_Kr4', 'q6_K', 'q5_K', 'q2_K']) assert.ok(variants.includes(v), `${v} in ${variants}`);
  const want = variants.flatMap((t) => b.kernelFlavours.flatMap((f) => [1, 2].map((n) => `${t} ${f} ${n}`)));
  assert.equal(b.kernels.map((k) => `${k.type} ${k.flavour} ${k.threads}`).sort(), want.sort());
  for (const k of b.kernels) {
    assert.ok(k.matrices * k.weightBytes >= b.workingSetBytes, `${k.type}: ${k.matrices} matrices of ${k.weightBytes} bytes are rotated over`);
    assert.ok(k.gbPerSecond > 0 && k.ofReadBandwidth > 0);
    const roof = b.memory.find((m) => m.threads === k.threads)!.gbPerSecond;
    assert.ok(Math.abs(k.ofReadBandwidth - k.gbPerSecond / roof) < 1e-9 * k.ofReadBandwidth, 'the share is of the read bandwidth at the same thread count');
  }
});

test('it measures prefill and decode for all-wasm, all-ONNX and mixed routings at each thread count, and MQTT time to first token', () => {
  const b = bench();
  const names = [...new Set(b.routing.map((r) => r.route))];
  assert.ok(names.includes('all-wasm') && names.includes('all-onnx:cpu') && names.includes('ffn-onnx:cpu'), names.join(', '));
  for (const r of b.routing) {
    assert.is(r.error, undefined, `${r.route}: ${r.error}`);
    assert.ok(r.prefillTokensPerSecond! > 0 && r.decodeTokensPerSecond! > 0, r.route);
  }
  assert.equal(b.routing.filter((r) => r.route === 'all-wasm').map((r) => r.threads), [1, 2]);
  assert.equal(b.mqtt.map((m) => m.threads), [1, 2]);
  for (const m of b.mqtt) {
    assert.is(m.errors, 0);
    assert.ok(m.requests >= 1 && m.ttftClientMs.p50 > 0 && m.ttftDeviceMs.p50 > 0);
    assert.equal(m.engineBatch.map((e) => e.sequences), b.settings.batchSequences);
  }
  // the table printed
  assert.match(run.out, /memory read\s+1 thread\s+2 threads/);
  assert.match(run.out, /all-wasm\s+[\d.]+ \/ [\d.]+\s+[\d.]+ \/ [\d.]+/);
});

test('the tuned profile validates against profile.schema.json and records the measurements that chose each setting', () => {
  const path = join(out, 'tuned-profile.json');
  const p = loadProfile(path) as unknown as TunedProfile;
  const t = p.tuned;
  assert.is(t.by, 'wisp bench --tune');
  assert.is(t.from, bench().profile.name);
  assert.is(p.threads, t.choices.threads.value);
  assert.is(p.batch.maxSequences, t.choices.maxSequences.value);
  assert.is(p.batch.maxBatchTokens, t.choices.maxBatchTokens.value);
  for (const c of Object.values(t.choices)) assert.ok(c.why.length > 0);
  const chosen = t.measurements.routing.find((r) => r.route === t.choices.routing.value && r.threads === p.threads);
  assert.ok(chosen, 'the chosen routing and threads are among the measurements');
  assert.equal(p.routing, bench().routing.find((r) => r.route === t.choices.routing.value)!.routing);
  assert.ok(t.measurements.kernels.length > 0 && t.measurements.engineBatch.length > 0);
  assert.is(t.model.sha256, bench().model.sha256);
});

test('wisp serve --profile with the tuned profile serves it and answers a request from mqtt.js', async () => {
  const profile = join(out, 'tuned-profile.json');
  const name = (JSON.parse(readFileSync(profile, 'utf8')) as TunedProfile).name;
  const serve = spawn(process.execPath, [CLI, 'serve', '--profile', profile, '--port', '0', '--metrics-port', 'off', '--device', 'tunedtest'], { env: { ...env, WISP_LOG_LEVEL: 'warn' } });
  let stdout = '';
  let stderr = '';
  serve.stdout.on('data', (d) => (stdout += d));
  serve.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => serve.on('exit', resolve));
  try {
    for (let i = 0; i < 300 && !stdout.includes('Stop with Ctrl-C'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(stdout, new RegExp(`threads: \\d+ \\(profile ${name}: \\d+`), stdout + stderr);
    const url = /broker:\s+embedded, listening on (mqtt:\/\/[^,\s]+)/.exec(stdout)![1];
    const c = await connect(url.replace('0.0.0.0', '127.0.0.1'));
    try {
      const status = new Promise<{ profile: string | null; online: boolean }>((resolve) => c.on('message', (t, p) => t === 'wisp/tunedtest/status' && resolve(JSON.parse(p.toString()))));
      await c.subscribeAsync('wisp/tunedtest/status', { qos: 1 });
      assert.is((await status).profile, name, 'the status names the tuned profile');
      const l = await listen(c, 'tuned/reply');
      await c.publishAsync('wisp/tunedtest/infer', JSON.stringify({ id: 't1', prompt: 'Once upon a time', max_tokens: 16, temperature: 0 }), { qos: 1, properties: { responseTopic: 'tuned/reply' } });
      const final = (await l.done()).at(-1)!;
      assert.is(final.error, undefined, JSON.stringify(final.error));
      assert.is(final.finish_reason, 'length');
      assert.ok((final.text ?? '').length > 0);
    } finally {
      await c.endAsync();
    }
  } finally {
    serve.kill('SIGTERM');
  }
  assert.is(await exited, 0, stderr);
});

// The report in a real browser. playwright-core drives Debian's chromium (no browser download): it
// can measure what was laid out (getBBox) and watch every request, which --dump-dom cannot (it only
// serializes the DOM, and this page has no script to change it).
const inChromium = existsSync(CHROMIUM) ? test : test.skip;
if (!existsSync(CHROMIUM)) console.log(`skipping the Chromium test: ${CHROMIUM} is absent (apt-get install chromium; .ci/run installs it)`);

inChromium('the HTML report renders in headless Chromium: every plot has axes with labels, series drawn, one series per thread count; nothing is fetched', async () => {
  const { chromium } = await import('playwright-core');
  const profileDir = mkdtempSync(join(tmpdir(), 'wisp-chromium-'));
  const browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`file://${join(out, 'device.html')}`);
    const charts = await page.evaluate(() =>
      [...document.querySelectorAll('svg.chart')].map((svg) => {
        const box = (el: Element | null) => {
          const b = el ? (el as SVGGraphicsElement).getBBox() : { width: 0, height: 0 };
          return { w: b.width, h: b.height };
        };
        const axis = (k: string) => {
          const a = svg.querySelector(`g.axis.${k}`);
          return { box: box(a), label: a?.querySelector('.axis-label')?.textContent ?? '', labelBox: box(a?.querySelector('.axis-label') ?? null), ticks: a?.querySelectorAll('g.tick text').length ?? 0 };
        };
        return {
          title: svg.getAttribute('data-title') ?? '',
          seriesBy: svg.getAttribute('data-series-by'),
          x: axis('x'),
          y: axis('y'),
          series: [...svg.querySelectorAll('g.series')].map((g) => ({ name: g.getAttribute('data-series') ?? '', ...box(g), marks: g.querySelectorAll('rect.bar, circle.point').length })),
          legend: [...svg.querySelectorAll('g.legend-item')].map((g) => g.getAttribute('data-series')),
          shown: (svg as SVGSVGElement).getBoundingClientRect().height > 0,
        };
      }),
    );
    assert.ok(charts.length >= 8, `${charts.length} plots`);
    const threadSeries = ['1 thread', '2 threads'];
    for (const c of charts) {
      assert.ok(c.shown, `${c.title}: laid out`);
      for (const a of [c.x, c.y]) {
        assert.ok(a.box.w > 0 && a.box.h > 0, `${c.title}: an axis drawn`);
        assert.ok(a.ticks >= 1, `${c.title}: tick labels`);
      }
      assert.ok(c.y.label.length > 0 && c.y.labelBox.w > 0, `${c.title}: y axis label rendered`);
      assert.ok(c.series.length >= 1, `${c.title}: a series`);
      for (const s of c.series) assert.ok(s.marks > 0 && s.w > 0 && s.h > 0, `${c.title}: series ${s.name} drawn`);
      assert.equal(c.legend, c.series.map((s) => s.name), `${c.title}: a legend entry per series`);
      if (c.seriesBy === 'threads') assert.equal(c.series.map((s) => s.name), threadSeries, `${c.title}: one series per thread count`);
    }
    assert.ok(charts.filter((c) => c.seriesBy === 'threads').length >= 4, 'plots with a series per thread count');
    const tokLines = charts.find((c) => /^decode tok\/s against threads/.test(c.title))!;
    assert.is(tokLines.x.label, 'threads');
    assert.equal(tokLines.series.map((s) => s.name), [...new Set(bench().routing.map((r) => r.route))], 'tok/s vs threads: one line per routing');
    assert.ok(charts.some((c) => /share of the memory roofline/.test(c.title)));
    assert.equal(requests.filter((u) => !u.startsWith('file://')), [], 'nothing fetched from elsewhere');
    assert.equal(errors, []);
  } finally {
    await browser.close();
    rmSync(profileDir, { recursive: true, force: true });
  }
});

test('bench compare puts two results side by side and writes compare.html; a file that is not a result is one line', () => {
  const b = bench();
  const other = { ...b, environment: { ...b.environment, device: 'pi5', cpuModel: 'Cortex-A76' } };
  const second = join(dir, 'pi5.json');
  writeFileSync(second, JSON.stringify(other));
  const r = wisp(['bench', 'compare', join(out, 'device.json'), second, '--out', out]);
  assert.is(r.code, 0, r.err);
  const header = r.out.split('\n')[0];
  assert.match(header, /device\.json\)/);
  assert.match(header, /pi5 \(pi5\.json\)/);
  assert.match(r.out, /CPU\s+.*Cortex-A76/);
  assert.match(r.out, /decode tok\/s all-wasm, 1t\s+[\d.]+\s+[\d.]+/);
  assert.ok(existsSync(join(out, 'compare.html')));
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{"hello": 1}');
  const e = wisp(['bench', 'compare', bad]);
  assert.is(e.code, 1);
  assert.is(e.err.trim().split('\n').length, 1, e.err);
  assert.match(e.err, /is not a `wisp bench` device result/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
