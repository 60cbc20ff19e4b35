#!/usr/bin/env node
// Runs every compiled uvu suite (dist/test/**/*.test.js), one process per file so a crash in one
// suite cannot hide the others, and ends with the line `N passed, N failed`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Test data lives beside the checkout (../shared/models); never copied into the repo.
if (!process.env.WISP_MODEL_PATH) {
  const shared = resolve(root, '..', 'shared', 'models');
  if (existsSync(shared)) process.env.WISP_MODEL_PATH = shared;
}
if (!process.env.WISP_TOKENIZER_DIR) {
  const tok = resolve(root, '..', 'shared', 'tokenizers');
  if (existsSync(tok)) process.env.WISP_TOKENIZER_DIR = tok;
}

function findTests(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return findTests(p);
    return name.endsWith('.test.js') ? [p] : [];
  }).sort();
}

const filter = process.argv[2] ? new RegExp(process.argv[2]) : null;
const files = findTests(join(root, 'dist', 'test')).filter((f) => !filter || filter.test(f));
let passed = 0, failed = 0, skipped = 0;
const t0 = performance.now();
for (const file of files) {
  const rel = relative(root, file);
  const res = spawnSync(process.execPath, [file], { encoding: 'utf8', env: process.env, timeout: 10 * 60_000 });
  const out = (res.stdout ?? '') + (res.stderr ?? '');
  process.stdout.write(`\n# ${rel}\n${out}`);
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const skip = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (Number.isNaN(total) || Number.isNaN(ok)) {
    // The suite died before uvu could report: count it as one failure.
    failed += 1;
    process.stdout.write(`\n# ${rel}: suite did not finish (exit ${res.status}, signal ${res.signal})\n`);
    continue;
  }
  // uvu's Total already leaves skipped tests out
  passed += ok;
  failed += total - ok;
  skipped += skip;
  if (res.status !== 0 && total - ok === 0) failed += 1;
}
const secs = ((performance.now() - t0) / 1000).toFixed(1);
console.log(`\n${files.length} suites in ${secs} s${skipped ? `; ${skipped} tests skipped (see above why)` : ''}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || files.length === 0 ? 1 : 0);
