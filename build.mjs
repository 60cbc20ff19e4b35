#!/usr/bin/env node
// Builds wisp: AssemblyScript kernels (asm/ -> kernels/*.wasm + manifest.json) and the
// TypeScript host and tests (-> dist/). Run by `npm install` (prepare), `npm test` and `npm run build`.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const bin = (name) => join(root, 'node_modules', '.bin', name);

function step(label, fn) {
  const t0 = performance.now();
  fn();
  console.error(`build: ${label} (${Math.round(performance.now() - t0)} ms)`);
}

// Kernel families and their flavours: asm/families.json (asm/build-kernels.mjs says how they are built).
const asmDir = join(root, 'asm');
const config = existsSync(join(asmDir, 'families.json')) ? JSON.parse(readFileSync(join(asmDir, 'families.json'), 'utf8')) : undefined;
if (config && config.families.length > 0) {
  const { buildKernels } = await import('./asm/build-kernels.mjs');
  const label = config.families.map((f) => `${f.name} (${[config.baseline, ...(f.flavours ?? []).filter((x) => x !== config.baseline)].join(', ')})`).join(', ');
  const t0 = performance.now();
  try {
    await buildKernels(root, config);
  } catch (e) {
    console.error(`build: ${e.message}`);
    process.exit(1);
  }
  console.error(`build: kernels ${label} (${Math.round(performance.now() - t0)} ms)`);
}

// a clean dist/: a deleted source must not leave its compiled test behind
rmSync(join(root, 'dist'), { recursive: true, force: true });
step('host (tsc)', () => execFileSync(bin('tsc'), ['-p', join(root, 'tsconfig.json')], { stdio: 'inherit' }));
const cli = join(root, 'dist', 'host', 'cli.js');
if (existsSync(cli)) chmodSync(cli, 0o755);
