// Benchmark results people would rather see than read: bar charts as one self-contained SVG
// (and an HTML page around it), beside the JSON.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Bar {
  label: string;
  value: number;
  /** series name: colour and legend */
  series: string;
}

export interface Chart {
  title: string;
  unit: string;
  bars: Bar[];
  /** a horizontal reference line, e.g. the memory-read bandwidth */
  reference?: { label: string; value: number };
}

const COLOURS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1'];

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** One horizontal bar chart per Chart, stacked vertically. */
export function renderSvg(charts: Chart[]): string {
  const width = 900;
  const left = 230;
  const barH = 16;
  let y = 10;
  const parts: string[] = [];
  for (const chart of charts) {
    const series = [...new Set(chart.bars.map((b) => b.series))];
    const max = Math.max(...chart.bars.map((b) => b.value), chart.reference?.value ?? 0) * 1.1 || 1;
    const scale = (v: number) => (v / max) * (width - left - 80);
    parts.push(`<text x="10" y="${y + 16}" font-size="15" font-weight="bold">${escape(chart.title)} (${escape(chart.unit)})</text>`);
    series.forEach((s, i) => {
      parts.push(`<rect x="${left + i * 150}" y="${y + 24}" width="12" height="12" fill="${COLOURS[i % COLOURS.length]}"/>`);
      parts.push(`<text x="${left + i * 150 + 16}" y="${y + 35}" font-size="12">${escape(s)}</text>`);
    });
    y += 46;
    const top = y;
    for (const b of chart.bars) {
      const colour = COLOURS[series.indexOf(b.series) % COLOURS.length];
      parts.push(`<text x="${left - 6}" y="${y + barH - 4}" font-size="11" text-anchor="end">${escape(b.label)}</text>`);
      parts.push(`<rect x="${left}" y="${y}" width="${scale(b.value).toFixed(1)}" height="${barH - 3}" fill="${colour}"/>`);
      parts.push(`<text x="${left + scale(b.value) + 4}" y="${y + barH - 4}" font-size="11">${b.value.toFixed(b.value < 10 ? 2 : 1)}</text>`);
      y += barH;
    }
    if (chart.reference) {
      const x = left + scale(chart.reference.value);
      parts.push(`<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${y}" stroke="#333" stroke-dasharray="4 3"/>`);
      // label under the bars, clear of the legend
      parts.push(`<text x="${x + 4}" y="${y + 12}" font-size="11">${escape(chart.reference.label)} ${chart.reference.value.toFixed(1)}</text>`);
    }
    y += chart.reference ? 36 : 24;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>\n`;
}

export function writeReport(dir: string, name: string, data: unknown, charts: Chart[]): { json: string; svg: string; html: string } {
  const json = join(dir, `${name}.json`);
  const svg = join(dir, `${name}.svg`);
  const html = join(dir, `${name}.html`);
  writeFileSync(json, `${JSON.stringify(data, null, 2)}\n`);
  const picture = renderSvg(charts);
  writeFileSync(svg, picture);
  writeFileSync(html, `<!doctype html><meta charset="utf-8"><title>wisp ${escape(name)}</title><body style="font-family:sans-serif"><h1>wisp ${escape(name)}</h1>${picture}<pre>${escape(JSON.stringify(data, null, 2))}</pre></body>\n`);
  return { json, svg, html };
}
