// Every kernel module is a WASI program: its `_start` self-test runs unchanged under node:wasi and
// wasmtime (shared-memory build), and its own-memory build runs as a preview-2 component under jco.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kernelsDir, loadManifest } from '../host/kernels/load.js';
import { ROOT } from './helpers/paths.js';

const manifest = loadManifest();
const families = Object.keys(manifest.families);
const hasWasmtime = spawnSync('python3', ['-c', 'import wasmtime'], { encoding: 'utf8' }).status === 0;

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, cwd: ROOT });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

test('the manifest lists the three kernel families with ABI 2 and their sha256', () => {
  assert.equal(families.sort(), ['attn', 'matmul', 'ops']);
  for (const f of families) {
    const m = manifest.families[f];
    assert.is(m.abi, 2);
    assert.match(m.sha256, /^[0-9a-f]{64}$/);
    assert.ok(Object.keys(m.exports).includes('_start'), `${f} exports _start`);
    assert.equal(m.wasiImports.sort(), ['wasi_snapshot_preview1.fd_write', 'wasi_snapshot_preview1.proc_exit'], `${f} imports only the self-test's WASI calls`);
    assert.ok(m.memory?.shared, `${f} imports a shared memory`);
  }
});

for (const family of families) {
  const wasm = join(kernelsDir(), manifest.families[family].file);

  test(`${family}: _start passes under node:wasi`, () => {
    const script = `
      import { WASI } from 'node:wasi';
      import { readFileSync } from 'node:fs';
      const mod = new WebAssembly.Module(readFileSync(${JSON.stringify(wasm)}));
      const mem = WebAssembly.Module.imports(mod).find((i) => i.kind === 'memory');
      const memory = new WebAssembly.Memory({ initial: 17, maximum: 65536, shared: true });
      const wasi = new WASI({ version: 'preview1' });
      const inst = new WebAssembly.Instance(mod, { env: { memory }, ...wasi.getImportObject() });
      process.exitCode = wasi.start({ exports: { ...inst.exports, memory } });`;
    const r = run(process.execPath, ['--no-warnings', '--input-type=module', '-e', script]);
    assert.is(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`${family}: \\d+ checks, 0 failed`));
  });

  (hasWasmtime ? test : test.skip)(`${family}: _start passes under wasmtime (shared memory import)`, () => {
    const r = run('python3', [join(ROOT, 'scripts', 'wasi', 'run_wasmtime.py'), wasm]);
    assert.is(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`${family}: \\d+ checks, 0 failed`));
  });

  test(`${family}: the own-memory component runs under jco run`, () => {
    const component = join(kernelsDir(), manifest.families[family].component.file);
    assert.ok(readFileSync(component).length > 0);
    const r = run(join(ROOT, 'node_modules', '.bin', 'jco'), ['run', component]);
    assert.is(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`${family}: \\d+ checks, 0 failed`));
  });
}

test.run();
