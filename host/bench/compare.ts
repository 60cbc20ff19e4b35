// `wisp bench compare a.json b.json …`: device bench results from several devices (or runtimes,
// or wisp versions) side by side: one column per file, one row per figure any of them has.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { DEVICE_BENCH_KIND, DEVICE_BENCH_FORMAT, type DeviceBench } from './device.js';
import { groupedBars, type Chart } from './plot.js';
import type { Section, Table } from './report.js';

/** A device bench JSON, or a one-line error naming the file and what is wrong with it. */
export function loadDeviceBench(path: string): DeviceBench {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`bench compare: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let data: Partial<DeviceBench>;
  try {
    data = JSON.parse(text) as Partial<DeviceBench>;
  } catch {
    throw new Error(`bench compare: ${path} is not JSON`);
  }
  if (data?.kind !== DEVICE_BENCH_KIND) throw new Error(`bench compare: ${path} is not a \`wisp bench\` device result (no "kind": "${DEVICE_BENCH_KIND}")`);
  if (data.format !== DEVICE_BENCH_FORMAT) throw new Error(`bench compare: ${path} has format ${data.format}; this wisp reads format ${DEVICE_BENCH_FORMAT}`);
  for (const key of ['environment', 'model', 'settings', 'memory', 'kernels', 'routing', 'mqtt'] as const) {
    if (data[key] === undefined) throw new Error(`bench compare: ${path} has no "${key}"`);
  }
  return data as DeviceBench;
}

export interface Comparison {
  /** One per file: "host (file.json)". */
  columns: string[];
  table: Table;
  /** Warnings: results of different models, quick runs. */
  notes: string[];
  charts: Chart[];
}

const f1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(1));

export function compareBenches(files: string[], benches: DeviceBench[]): Comparison {
  const columns = benches.map((b, i) => `${b.environment.device} (${basename(files[i])})`);
  const rows: string[][] = [];
  const row = (label: string, cell: (b: DeviceBench) => string) => {
    const cells = benches.map(cell);
    if (cells.some((c) => c !== '-')) rows.push([label, ...cells]);
  };
  row('CPU', (b) => b.environment.cpuModel);
  row('cores / LLC MiB', (b) => `${b.environment.cores} / ${Math.round(b.environment.lastLevelCache.bytes / 2 ** 20)}`);
  row('Node (V8)', (b) => `${b.environment.node} (${b.environment.v8})`);
  row('wisp', (b) => b.environment.wisp);
  row('profile', (b) => b.profile.name ?? 'none');
  row('kernels', (b) => Object.entries(b.environment.kernels.flavours).map(([f, fam]) => `${f} ${(fam.matmul ?? Object.values(fam)[0] ?? '').slice(0, 8)}`).join(', '));
  row('model', (b) => `${b.model.file} ${b.model.sha256.slice(0, 12)}`);
  const threads = [...new Set(benches.flatMap((b) => b.settings.threads))].sort((a, c) => a - c);
  for (const t of threads) row(`memory read GB/s, ${t}t`, (b) => f1(b.memory.find((m) => m.threads === t)?.gbPerSecond));
  const kernelKeys = [...new Set(benches.flatMap((b) => b.kernels.map((k) => `${k.type} ${k.flavour} ${k.rows}×${k.cols}`)))];
  for (const key of kernelKeys) {
    for (const t of threads) {
      row(`${key} GB/s (of read), ${t}t`, (b) => {
        const k = b.kernels.find((x) => `${x.type} ${x.flavour} ${x.rows}×${x.cols}` === key && x.threads === t);
        return k ? `${f1(k.gbPerSecond)} (${(k.ofReadBandwidth * 100).toFixed(0)}%)` : '-';
      });
    }
  }
  const routes = [...new Set(benches.flatMap((b) => b.routing.map((r) => r.route)))];
  for (const what of ['decode', 'prefill'] as const) {
    for (const r of routes) {
      for (const t of threads) {
        row(`${what} tok/s ${r}, ${t}t`, (b) => {
          const x = b.routing.find((y) => y.route === r && y.threads === t);
          return !x ? '-' : x.error ? 'failed' : f1(what === 'decode' ? x.decodeTokensPerSecond : x.prefillTokensPerSecond);
        });
      }
    }
    for (const t of threads) row(`${what} tok/s llama.cpp, ${t}t`, (b) => f1(b.llamacpp?.rows.find((x) => x.threads === t)?.[what === 'decode' ? 'decodeTokensPerSecond' : 'prefillTokensPerSecond']));
  }
  for (const t of threads) row(`MQTT TTFT p50 ms, ${t}t`, (b) => f1(b.mqtt.find((m) => m.threads === t)?.ttftClientMs.p50));

  const notes: string[] = [];
  const models = new Set(benches.map((b) => b.model.sha256));
  if (models.size > 1) notes.push(`the results are of ${models.size} different model files (sha256): their tok/s are not comparable`);
  const quick = benches.flatMap((b, i) => (b.quick ? [columns[i]] : []));
  if (quick.length) notes.push(`--quick runs (rough figures): ${quick.join(', ')}`);

  const perDevice = (title: string, yLabel: string, bars: Array<{ category: string; series: string; value: number | undefined }>): Chart =>
    groupedBars({ title, xLabel: '', yLabel, bars: bars.filter((b): b is { category: string; series: string; value: number } => b.value !== undefined && Number.isFinite(b.value)) });
  const charts: Chart[] = [
    perDevice('decode tok/s per routing and threads, one bar per device', 'decode tokens/s', benches.flatMap((b, i) => b.routing.filter((r) => !r.error).map((r) => ({ category: `${r.route} ${r.threads}t`, series: columns[i], value: r.decodeTokensPerSecond })))),
    perDevice('prefill tok/s per routing and threads, one bar per device', 'prefill tokens/s', benches.flatMap((b, i) => b.routing.filter((r) => !r.error).map((r) => ({ category: `${r.route} ${r.threads}t`, series: columns[i], value: r.prefillTokensPerSecond })))),
    perDevice('kernel GB/s, one bar per device', 'GB/s of weights', benches.flatMap((b, i) => b.kernels.map((k) => ({ category: `${k.type} ${k.flavour} ${k.threads}t`, series: columns[i], value: k.gbPerSecond })))),
    perDevice("kernels' share of the memory roofline, one bar per device", '% of memory read', benches.flatMap((b, i) => b.kernels.map((k) => ({ category: `${k.type} ${k.flavour} ${k.threads}t`, series: columns[i], value: k.ofReadBandwidth * 100 })))),
    perDevice('memory read GB/s, one bar per device', 'GB/s', benches.flatMap((b, i) => b.memory.map((m) => ({ category: `${m.threads}t`, series: columns[i], value: m.gbPerSecond })))),
  ].filter((c) => c.kind === 'bars' && c.x.categories.length > 0);
  return { columns, table: { headers: ['', ...columns], rows }, notes, charts };
}

export function compareSections(c: Comparison): { title: string; intro: string[]; sections: Section[] } {
  return {
    title: `wisp device benchmarks side by side (${c.columns.length})`,
    intro: c.notes,
    sections: [
      { heading: 'figures', table: c.table },
      { heading: 'plots', charts: c.charts },
    ],
  };
}
