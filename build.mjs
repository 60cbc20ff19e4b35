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

// Kernel families: every asm/<family>.ts that is an entry point (not a shared lib file).
const asmDir = join(root, 'asm');
const families = existsSync(join(asmDir, 'families.json'))
  ? JSON.parse(readFileSync(join(asmDir, 'families.json'), 'utf8'))
  : [];
if (families.length > 0) {
  const { buildKernels } = await import('./asm/build-kernels.mjs');
  step(`kernels (${families.map((f) => f.name).join(', ')})`, () => buildKernels(root, families));
}

// a clean dist/: a deleted source must not leave its compiled test behind
rmSync(join(root, 'dist'), { recursive: true, force: true });
step('host (tsc)', () => execFileSync(bin('tsc'), ['-p', join(root, 'tsconfig.json')], { stdio: 'inherit' }));
const cli = join(root, 'dist', 'host', 'cli.js');
if (existsSync(cli)) chmodSync(cli, 0o755);
