// Benchmark results people would rather see than read: the JSON, and one self-contained HTML page
// (inline SVG plots from plot.ts, tables, the JSON itself at the end; nothing loaded from elsewhere).
// The subcommands also write their plots as one standalone .svg.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeXml, renderChart, renderSvgDocument, type Chart } from './plot.js';

export type { Chart } from './plot.js';

export interface Table {
  headers: string[];
  rows: string[][];
}

export interface Section {
  heading: string;
  /** Paragraphs of plain text. */
  text?: string[];
  table?: Table;
  charts?: Chart[];
}

/** Columns whose every body cell is a figure ("12.5", "3.1 / 4.0", "9.4 (65%)", "-") read best right-aligned. */
function numericColumns(t: Table): boolean[] {
  return t.headers.map((_, i) => t.rows.length > 0 && t.rows.every((r) => /^(-|failed|[\d.]+( \(\d+%\)| \/ [\d.]+)*)$/.test(r[i] ?? '')));
}

export function renderTable(t: Table): string {
  const numeric = numericColumns(t);
  const cell = (tag: string, v: string, i: number) => `<${tag}${numeric[i] ? ' class="num"' : ''}>${escapeXml(v)}</${tag}>`;
  return `<table><thead><tr>${t.headers.map((h, i) => cell('th', h, i)).join('')}</tr></thead><tbody>${t.rows.map((r) => `<tr>${r.map((v, i) => cell('td', v, i)).join('')}</tr>`).join('')}</tbody></table>`;
}

const STYLE = `body{font-family:sans-serif;margin:24px;max-width:1100px;color:#222}h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
svg.chart{display:block;margin:12px 0}pre{font-size:11px;background:#f6f6f6;padding:8px;overflow:auto}`;

/** A whole report page: title, intro lines, sections, and the data as JSON at the end. */
export function renderHtml(title: string, intro: string[], sections: Section[], data: unknown): string {
  const body = sections
    .map(
      (s) =>
        `<section><h2>${escapeXml(s.heading)}</h2>${(s.text ?? []).map((p) => `<p>${escapeXml(p)}</p>`).join('')}${s.table ? renderTable(s.table) : ''}${(s.charts ?? []).map(renderChart).join('\n')}</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title><style>${STYLE}</style></head>
<body><h1>${escapeXml(title)}</h1>${intro.map((p) => `<p>${escapeXml(p)}</p>`).join('')}
${body}
<details><summary>the measurements as JSON</summary><pre>${escapeXml(JSON.stringify(data, null, 2))}</pre></details>
</body></html>
`;
}

/** Writes NAME.json, NAME.html (the charts, or the given sections) and, unless `svg: false`, NAME.svg with the charts alone. */
export function writeReport(
  dir: string,
  name: string,
  data: unknown,
  charts: Chart[],
  o: { title?: string; intro?: string[]; sections?: Section[]; svg?: boolean } = {},
): { json: string; svg?: string; html: string } {
  const json = join(dir, `${name}.json`);
  const html = join(dir, `${name}.html`);
  writeFileSync(json, `${JSON.stringify(data, null, 2)}\n`);
  const sections = o.sections ?? [{ heading: 'results', charts }];
  writeFileSync(html, renderHtml(o.title ?? `wisp bench ${name}`, o.intro ?? [], sections, data));
  if (o.svg === false) return { json, html };
  const svg = join(dir, `${name}.svg`);
  writeFileSync(svg, renderSvgDocument(charts));
  return { json, svg, html };
}

/** "a, b and c" of the files written, for the last line of a bench. */
export function wroteLine(files: { json: string; svg?: string; html: string }): string {
  return `wrote ${[files.json, files.svg, files.html].filter(Boolean).join(', ')}`;
}

/** A table as aligned text for the terminal: figures right-aligned, words left. */
export function textTable(t: Table): string {
  const rows = [t.headers, ...t.rows];
  const widths = t.headers.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const numeric = numericColumns(t);
  const line = (r: string[]) => r.map((v, i) => (numeric[i] ? (v ?? '').padStart(widths[i]) : (v ?? '').padEnd(widths[i]))).join('  ').trimEnd();
  return [line(t.headers), ...t.rows.map(line)].join('\n');
}
