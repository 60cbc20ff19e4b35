// The Grafana dashboard (dashboards/wisp-grafana.json) as a user reads it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from './helpers/paths.js';

const dash = JSON.parse(readFileSync(join(ROOT, 'dashboards', 'wisp-grafana.json'), 'utf8')) as {
  panels: Array<{ title: string; description?: string; targets?: Array<{ expr: string }> }>;
};

test('panels that stay empty unless the routed engine or a kernel hot swap runs say so', () => {
  const byMetric = (metric: string) => dash.panels.filter((p) => p.targets?.some((t) => t.expr.includes(metric)));
  const backend = byMetric('wisp_backend_seconds_total');
  const swaps = byMetric('wisp_kernel_swaps_total');
  assert.is(backend.length, 1);
  assert.is(swaps.length, 1);
  assert.match(backend[0].description ?? '', /Empty unless the device runs the routed engine/);
  assert.match(swaps[0].description ?? '', /Empty until a kernel module is hot-swapped/);
});

test.run();
