// The install path: npm gives no warning for this checkout's config, onnxruntime-node's CUDA
// libraries are not downloaded (wisp uses the CPU provider that ships inside the package), and a
// build with nothing changed leaves dist/ alone (what a running `npm start` serves from).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from './helpers/paths.js';

const npm = spawnSync('npm', ['--version'], { encoding: 'utf8' });
const hasNpm = npm.status === 0;

test('npm prints no warning about this checkout\'s config but the .npmrc key that keeps the CUDA download off', () => {
  if (!hasNpm) return console.log('  (skipped: no npm on the PATH)');
  // run as a user would, not with the npm_config_* variables an enclosing `npm test` exports
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  const r = spawnSync('npm', ['pkg', 'get', 'name'], { cwd: ROOT, encoding: 'utf8', env });
  assert.is(r.status, 0, r.stderr);
  const warnings = r.stderr.split('\n').filter((l) => /warn/i.test(l));
  const others = warnings.filter((l) => !/Unknown project config "onnxruntime-node-install"/.test(l));
  assert.equal(others, [], r.stderr);
});

test('onnxruntime-node\'s CUDA libraries are not downloaded', () => {
  const dir = join(ROOT, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', process.platform, process.arch);
  const files = readdirSync(dir);
  assert.ok(files.some((f) => f.startsWith('onnxruntime_binding')), files.join(', '));
  assert.equal(files.filter((f) => /cuda|tensorrt|providers_shared/.test(f)), []);
});

test('a build with nothing changed rebuilds nothing and leaves dist/ in place', () => {
  const build = () => spawnSync(process.execPath, [join(ROOT, 'build.mjs')], { cwd: ROOT, encoding: 'utf8' });
  const first = build(); // brings dist/ up to date if a source changed since the last build
  assert.is(first.status, 0, first.stderr);
  const cli = join(ROOT, 'dist', 'host', 'cli.js');
  const before = statSync(cli);
  const again = build();
  assert.is(again.status, 0, again.stderr);
  assert.match(again.stderr, /build: kernels \(.*\) up to date/);
  assert.match(again.stderr, /build: host \(tsc\) up to date/);
  const after = statSync(cli);
  assert.is(after.ino, before.ino);
  assert.is(after.mtimeMs, before.mtimeMs);
});

test.run();
