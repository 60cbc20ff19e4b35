#!/usr/bin/env node
// Runs every kernel module's own self-test (its WASI `_start`) under node:wasi, from a kernels
// folder (a checkout's or an unpacked bundle's): `node kernel-selftest.mjs DIR`. Prints one line
// per module, `PASS <file>`, `SKIP <file>: <why>` (a flavour this runtime cannot compile) or
// `FAIL <file>: <why>`, and exits 1 if any failed.
// Used by scripts/ci/arm64-proof.sh under an emulated arm64 Node; needs nothing but Node.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WASI } from 'node:wasi';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node kernel-selftest.mjs KERNELS_DIR');
  process.exit(2);
}
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));

/** Every shared-memory module the manifest describes (families, and any flavour entries nested in them). */
function modules(node, out = new Map()) {
  if (node && typeof node === 'object') {
    if (typeof node.file === 'string' && node.file.endsWith('.wasm') && node.memory) out.set(node.file, node);
    for (const v of Object.values(node)) modules(v, out);
  }
  return out;
}

let failed = 0;
const found = modules(manifest.families);
if (found.size === 0) {
  console.log(`FAIL ${dir}: the manifest lists no kernel modules`);
  process.exit(1);
}
for (const [file, m] of found) {
  try {
    const bytes = readFileSync(join(dir, file));
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (m.sha256 && sha !== m.sha256) throw new Error(`sha256 ${sha} is not the manifest's ${m.sha256}`);
    if (!WebAssembly.validate(bytes)) {
      // a flavour this runtime lacks (relaxed SIMD before Node 22): not a failure of the module
      console.log(`SKIP ${file}: Node ${process.version} cannot compile it`);
      continue;
    }
    const module = new WebAssembly.Module(bytes);
    const memory = new WebAssembly.Memory({ initial: m.memory.initial, maximum: m.memory.maximum, shared: !!m.memory.shared });
    // the self-test prints its own summary line (`matmul: 79 checks, 0 failed`) on stdout
    const wasi = new WASI({ version: 'preview1', returnOnExit: true });
    const instance = new WebAssembly.Instance(module, { env: { memory }, ...wasi.getImportObject() });
    const code = wasi.start({ exports: { ...instance.exports, memory } });
    if (code !== 0) throw new Error(`_start exited with ${code}`);
    console.log(`PASS ${file}`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${file}: ${err.message}`);
  }
}
process.exit(failed ? 1 : 0);
