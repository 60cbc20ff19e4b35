// Benchmark plots as self-contained SVG (no script, no fonts or styles from elsewhere): line charts
// (tok/s against threads, one series per routing) and grouped bar charts (GB/s per kernel, one bar per
// thread count or flavour), with axes, tick labels, axis titles, a legend and dashed reference lines
// (the memory roofline). Classes name the parts (`axis x`, `series`, `legend`) and every series
// carries data-series, so a browser test can check what rendered.

export interface Reference {
  label: string;
  value: number;
}

export interface LineChart {
  kind: 'lines';
  title: string;
  /** What the series stand for, when it is a measured dimension ("threads"): data-series-by on the svg. */
  seriesBy?: string;
  x: { label: string };
  y: { label: string };
  /** One polyline each; points sorted by x. */
  series: Array<{ name: string; points: Array<[number, number]> }>;
  references?: Reference[];
}

export interface BarChart {
  kind: 'bars';
  title: string;
  /** What the series stand for, when it is a measured dimension ("threads"): data-series-by on the svg. */
  seriesBy?: string;
  x: { label: string; categories: string[] };
  y: { label: string };
  /** One bar per category each (undefined: no bar). */
  series: Array<{ name: string; values: Array<number | undefined> }>;
  references?: Reference[];
}

export type Chart = LineChart | BarChart;

export const COLOURS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1', '#edc948', '#ff9da7', '#9c755f', '#bab0ac'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A grouped bar chart from loose bars: categories and series in first-seen order. */
export function groupedBars(o: { title: string; xLabel: string; yLabel: string; bars: Array<{ category: string; series: string; value: number }>; references?: Reference[] }): BarChart {
  const categories = [...new Set(o.bars.map((b) => b.category))];
  const names = [...new Set(o.bars.map((b) => b.series))];
  return {
    kind: 'bars',
    title: o.title,
    x: { label: o.xLabel, categories },
    y: { label: o.yLabel },
    series: names.map((name) => ({ name, values: categories.map((c) => o.bars.find((b) => b.category === c && b.series === name)?.value) })),
    ...(o.references?.length ? { references: o.references } : {}),
  };
}

/** Up to ~6 round tick values from 0 to at least max. */
export function niceTicks(max: number): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1).replace(/\.0$/, '') : a >= 1 ? v.toFixed(2).replace(/\.?0+$/, '') : v.toPrecision(2);
}

const W = 760;
const PLOT_TOP = 56;
const PLOT_H = 260;
const LEFT = 70;
const RIGHT = 20;

/** One chart as an <svg> element. */
export function renderChart(chart: Chart): string {
  const names = chart.series.map((s) => s.name);
  const colour = (i: number) => COLOURS[i % COLOURS.length];
  const values = chart.kind === 'lines' ? chart.series.flatMap((s) => s.points.map((p) => p[1])) : chart.series.flatMap((s) => s.values.filter((v): v is number => v !== undefined));
  const ticks = niceTicks(Math.max(0, ...values.filter(Number.isFinite), ...(chart.references ?? []).map((r) => r.value)));
  const yMax = ticks[ticks.length - 1];
  const plotW = W - LEFT - RIGHT;
  const bottom = PLOT_TOP + PLOT_H;
  const y = (v: number) => bottom - (Math.max(0, v) / yMax) * PLOT_H;
  const parts: string[] = [];

  // x axis: category or numeric positions
  let xLabels: Array<{ at: number; text: string }>;
  let rotate = false;
  const marks: string[] = [];
  if (chart.kind === 'lines') {
    const xs = [...new Set(chart.series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
    const lo = xs[0] ?? 0;
    const hi = xs[xs.length - 1] ?? 1;
    const pad = plotW * 0.06;
    const x = (v: number) => (hi === lo ? LEFT + plotW / 2 : LEFT + pad + ((v - lo) / (hi - lo)) * (plotW - 2 * pad));
    xLabels = xs.map((v) => ({ at: x(v), text: fmt(v) }));
    chart.series.forEach((s, i) => {
      const pts = s.points.filter((p) => Number.isFinite(p[1]));
      const path = pts.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
      const dots = pts.map((p) => `<circle class="point" cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="4" fill="${colour(i)}"><title>${escapeXml(`${s.name}, ${chart.x.label} ${fmt(p[0])}: ${fmt(p[1])} ${chart.y.label}`)}</title></circle>`).join('');
      marks.push(`<g class="series" data-series="${escapeXml(s.name)}">${pts.length > 1 ? `<polyline class="line" points="${path}" fill="none" stroke="${colour(i)}" stroke-width="2.5"/>` : ''}${dots}</g>`);
    });
  } else {
    const n = chart.x.categories.length;
    const band = plotW / Math.max(1, n);
    const inner = band * 0.8;
    const barW = inner / Math.max(1, chart.series.length);
    rotate = chart.x.categories.some((c) => c.length * 6.5 > band);
    xLabels = chart.x.categories.map((c, k) => ({ at: LEFT + band * k + band / 2, text: c }));
    chart.series.forEach((s, i) => {
      const bars = s.values
        .map((v, k) => {
          if (v === undefined || !Number.isFinite(v)) return '';
          const x0 = LEFT + band * k + (band - inner) / 2 + i * barW;
          const top = y(v);
          return `<rect class="bar" x="${x0.toFixed(1)}" y="${top.toFixed(1)}" width="${Math.max(1, barW - 1).toFixed(1)}" height="${Math.max(0.5, bottom - top).toFixed(1)}" fill="${colour(i)}"><title>${escapeXml(`${chart.x.categories[k]}, ${s.name}: ${fmt(v)} ${chart.y.label}`)}</title></rect>`;
        })
        .join('');
      marks.push(`<g class="series" data-series="${escapeXml(s.name)}">${bars}</g>`);
    });
  }
  const labelSpace = rotate ? Math.min(150, 12 + 6 * Math.max(...xLabels.map((l) => l.text.length))) : 24;
  const legendTop = bottom + labelSpace + 28;
  const perRow = Math.max(1, Math.floor(plotW / 170));
  const height = legendTop + Math.ceil(names.length / perRow) * 20 + 10;

  parts.push(`<text class="chart-title" x="${LEFT}" y="24" font-size="16" font-weight="bold">${escapeXml(chart.title)}</text>`);
  // y axis: grid lines, ticks, title
  const yTicks = ticks
    .map((t) => `<g class="tick"><line x1="${LEFT}" x2="${W - RIGHT}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e3e3e3"/><text x="${LEFT - 6}" y="${(y(t) + 4).toFixed(1)}" font-size="11" text-anchor="end">${fmt(t)}</text></g>`)
    .join('');
  parts.push(
    `<g class="axis y">${yTicks}<line class="domain" x1="${LEFT}" x2="${LEFT}" y1="${PLOT_TOP}" y2="${bottom}" stroke="#333"/>` +
      `<text class="axis-label" transform="translate(16 ${PLOT_TOP + PLOT_H / 2}) rotate(-90)" font-size="12" text-anchor="middle">${escapeXml(chart.y.label)}</text></g>`,
  );
  const xTicks = xLabels
    .map((l) =>
      rotate
        ? `<g class="tick"><text transform="translate(${l.at.toFixed(1)} ${bottom + 12}) rotate(-35)" font-size="11" text-anchor="end">${escapeXml(l.text)}</text></g>`
        : `<g class="tick"><line x1="${l.at.toFixed(1)}" x2="${l.at.toFixed(1)}" y1="${bottom}" y2="${bottom + 4}" stroke="#333"/><text x="${l.at.toFixed(1)}" y="${bottom + 16}" font-size="11" text-anchor="middle">${escapeXml(l.text)}</text></g>`,
    )
    .join('');
  parts.push(
    `<g class="axis x">${xTicks}<line class="domain" x1="${LEFT}" x2="${W - RIGHT}" y1="${bottom}" y2="${bottom}" stroke="#333"/>` +
      `<text class="axis-label" x="${LEFT + plotW / 2}" y="${bottom + labelSpace + 10}" font-size="12" text-anchor="middle">${escapeXml(chart.x.label)}</text></g>`,
  );
  parts.push(...marks);
  for (const r of chart.references ?? []) {
    const at = y(r.value).toFixed(1);
    parts.push(`<g class="reference"><line x1="${LEFT}" x2="${W - RIGHT}" y1="${at}" y2="${at}" stroke="#333" stroke-dasharray="5 4"/><text x="${W - RIGHT - 4}" y="${(Number(at) - 4).toFixed(1)}" font-size="11" text-anchor="end">${escapeXml(`${r.label} ${fmt(r.value)}`)}</text></g>`);
  }
  const legend = names
    .map((name, i) => {
      const lx = LEFT + (i % perRow) * 170;
      const ly = legendTop + Math.floor(i / perRow) * 20;
      return `<g class="legend-item" data-series="${escapeXml(name)}"><rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${colour(i)}"/><text x="${lx + 17}" y="${ly}" font-size="12">${escapeXml(name)}</text></g>`;
    })
    .join('');
  parts.push(`<g class="legend">${legend}</g>`);
  return `<svg class="chart" data-kind="${chart.kind}"${chart.seriesBy ? ` data-series-by="${escapeXml(chart.seriesBy)}"` : ''} data-title="${escapeXml(chart.title)}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" role="img" aria-label="${escapeXml(chart.title)}"><rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>`;
}

/** Several charts stacked in one standalone SVG document (the .svg file beside a report). */
export function renderSvgDocument(charts: Chart[]): string {
  let top = 0;
  const placed = charts.map((c) => {
    const svg = renderChart(c);
    const h = Number(/height="(\d+)"/.exec(svg)![1]);
    const g = svg.replace('<svg ', `<svg y="${top}" `);
    top += h + 10;
    return g;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${top}">${placed.join('')}</svg>\n`;
}
