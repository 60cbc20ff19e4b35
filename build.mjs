#!/usr/bin/env node
// Builds wisp: AssemblyScript kernels (asm/ -> kernels/*.wasm + manifest.json) and the
// TypeScript host and tests (-> dist/). Run by `npm install` (prepare), `npm test` and `npm run build`.
//
// Each part is rebuilt only when its inputs changed (a hash of every source file, the build
// script and the compiler version, kept in node_modules/.cache/wisp-build.json): `npx wisp` in
// a checkout runs `prepare` again, and it must neither take seconds nor touch the dist/ that a
// running `npm start` serves from. When the host does change, tsc writes a fresh folder and it
// replaces dist/ by rename, so a running service never sees dist/ half written or gone.
// `node build.mjs --force` rebuilds everything.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const bin = (name) => join(root, 'node_modules', '.bin', name);
const force = process.argv.includes('--force');
const stampFile = join(root, 'node_modules', '.cache', 'wisp-build.json');

function step(label, fn) {
  const t0 = performance.now();
  fn();
  console.error(`build: ${label} (${Math.round(performance.now() - t0)} ms)`);
}

/** Every file under `dir` whose name passes `keep`, sorted (a deleted file changes the hash too). */
function files(dir, keep) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name), keep) : keep(e.name) ? [join(dir, e.name)] : []))
    .sort();
}

function version(pkg) {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return 'missing';
  }
}

/** sha256 over the paths and contents of the inputs, plus the tool versions. */
function fingerprint(inputs, tools) {
  const h = createHash('sha256');
  for (const t of tools) h.update(`${t}@${version(t)}\n`);
  for (const f of inputs) h.update(`${relative(root, f)}\n`).update(readFileSync(f));
  return h.digest('hex');
}

const stamps = (() => {
  try {
    return JSON.parse(readFileSync(stampFile, 'utf8'));
  } catch {
    return {};
  }
})();

function saveStamp(part, value) {
  stamps[part] = value;
  mkdirSync(dirname(stampFile), { recursive: true });
  writeFileSync(stampFile, `${JSON.stringify(stamps, null, 2)}\n`);
}

/** Runs `build` (sync or async) when `part`'s fingerprint changed or an output is missing; says which. */
async function buildPart(part, { inputs, tools, outputs, label }, build) {
  const fp = fingerprint(inputs, tools);
  if (!force && stamps[part] === fp && outputs.every((o) => existsSync(o))) {
    console.error(`build: ${label} up to date`);
    return;
  }
  await build();
  saveStamp(part, fp);
}

// Kernel families and their flavours: asm/families.json (asm/build-kernels.mjs says how they are built).
const asmDir = join(root, 'asm');
const config = existsSync(join(asmDir, 'families.json')) ? JSON.parse(readFileSync(join(asmDir, 'families.json'), 'utf8')) : undefined;
if (config && config.families.length > 0) {
  const { buildKernels } = await import('./asm/build-kernels.mjs');
  const kernels = join(root, 'kernels');
  const flavours = (f) => [config.baseline, ...(f.flavours ?? []).filter((x) => x !== config.baseline)];
  const inputs = [...files(asmDir, (n) => /\.(ts|mjs|json)$/.test(n))];
  const outputs = [join(kernels, 'manifest.json'), ...config.families.flatMap((f) => flavours(f).map((x) => join(kernels, `${f.name}.${x}.wasm`)))];
  const label = `kernels (${config.families.map((f) => `${f.name}: ${flavours(f).join(', ')}`).join('; ')})`;
  await buildPart('kernels', { label, inputs, tools: ['assemblyscript', '@bytecodealliance/jco'], outputs }, async () => {
    const t0 = performance.now();
    try {
      await buildKernels(root, config);
    } catch (e) {
      // a flavour whose exports differ from the baseline's, or an asc error: one line saying which
      console.error(`build: ${e.message}`);
      process.exit(1);
    }
    console.error(`build: ${label} (${Math.round(performance.now() - t0)} ms)`);
  });
}

// The built modules signed by the development key (scripts/sign-kernels.mjs: the key lives in the
// user's config dir, never in the checkout); a signature that still verifies is kept.
if (existsSync(join(root, 'kernels', 'manifest.json'))) {
  const { signKernels } = await import('./scripts/sign-kernels.mjs');
  try {
    const { signed, key } = signKernels(root);
    if (signed > 0) console.error(`build: signed ${signed} kernel module${signed > 1 ? 's' : ''} with the development key ${key}`);
  } catch (e) {
    console.error(`build: could not sign the kernels with the development key: ${e.message}`);
    process.exit(1);
  }
}

// The host and tests: tsc into a fresh folder beside dist/, then swapped in (a deleted source
// must not leave its compiled file behind, and a running service must not lose its dist/).
const dist = join(root, 'dist');
const hostInputs = [
  join(root, 'tsconfig.json'),
  ...['host', 'test', 'scripts'].flatMap((d) => files(join(root, d), (n) => n.endsWith('.ts'))),
];
await buildPart('host', { label: 'host (tsc)', inputs: hostInputs, tools: ['typescript', '@types/node'], outputs: [join(dist, 'host', 'cli.js')] }, () => {
  const fresh = join(root, `.dist-build-${process.pid}`);
  rmSync(fresh, { recursive: true, force: true });
  try {
    step('host (tsc)', () => execFileSync(bin('tsc'), ['-p', join(root, 'tsconfig.json'), '--outDir', fresh], { stdio: 'inherit' }));
  } catch {
    rmSync(fresh, { recursive: true, force: true });
    console.error('build: tsc failed (errors above); dist/ is left as it was');
    process.exit(2);
  }
  chmodSync(join(fresh, 'host', 'cli.js'), 0o755);
  // two renames: dist/ is missing only between them (microseconds), never half written
  const old = join(root, `.dist-old-${process.pid}`);
  if (existsSync(dist)) renameSync(dist, old);
  renameSync(fresh, dist);
  rmSync(old, { recursive: true, force: true });
});
