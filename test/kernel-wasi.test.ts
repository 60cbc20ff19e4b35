// Every kernel module (each family in each flavour) is a WASI program: its `_start` self-test runs
// unchanged under node:wasi and wasmtime (shared-memory build), and its own-memory build runs as a
// preview-2 component under jco.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { flavoursOf, kernelModule, kernelsDir, loadManifest, type KernelModule } from '../host/kernels/load.js';
import { ROOT } from './helpers/paths.js';

const manifest = loadManifest();
const families = Object.keys(manifest.families);
/** Every module the build made: each family in each of its flavours. */
const modules: KernelModule[] = families.flatMap((f) => flavoursOf(f, manifest).map((flavour) => kernelModule(f, flavour, manifest)));
const hasWasmtime = spawnSync('python3', ['-c', 'import wasmtime'], { encoding: 'utf8' }).status === 0;

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, cwd: ROOT });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

test('the manifest lists the three kernel families with ABI 4, and every module its sha256, shared memory and WASI imports', () => {
  assert.equal(families.sort(), ['attn', 'matmul', 'ops']);
  for (const m of modules) {
    const what = `${m.family}.${m.flavour}`;
    assert.is(m.abi, 4);
    assert.match(m.sha256, /^[0-9a-f]{64}$/);
    assert.ok(Object.keys(m.exports).includes('_start'), `${what} exports _start`);
    assert.equal(m.wasiImports.sort(), ['wasi_snapshot_preview1.fd_write', 'wasi_snapshot_preview1.proc_exit'], `${what} imports only the self-test's WASI calls`);
    assert.ok(m.memory?.shared, `${what} imports a shared memory`);
  }
});

for (const m of modules) {
  const wasm = join(kernelsDir(), m.file);
  const what = `${m.family}.${m.flavour}`;
  // a flavour this Node cannot compile (relaxed SIMD before Node 22) runs under wasmtime here, and
  // under node:wasi and jco on a Node that has it (.ci/run's Node 24 pass)
  const here = WebAssembly.validate(readFileSync(wasm)) ? test : test.skip;

  here(`${what}: _start passes under node:wasi`, () => {
    const script = `
      import { WASI } from 'node:wasi';
      import { readFileSync } from 'node:fs';
      const mod = new WebAssembly.Module(readFileSync(${JSON.stringify(wasm)}));
      const memory = new WebAssembly.Memory({ initial: 17, maximum: 65536, shared: true });
      const wasi = new WASI({ version: 'preview1' });
      const inst = new WebAssembly.Instance(mod, { env: { memory }, ...wasi.getImportObject() });
      process.exitCode = wasi.start({ exports: { ...inst.exports, memory } });`;
    const r = run(process.execPath, ['--no-warnings', '--input-type=module', '-e', script]);
    assert.is(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`${m.family}: \\d+ checks, 0 failed`));
  });

  (hasWasmtime ? test : test.skip)(`${what}: _start passes under wasmtime (shared memory import)`, () => {
    const r = run('python3', [join(ROOT, 'scripts', 'wasi', 'run_wasmtime.py'), wasm]);
    assert.is(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`${m.family}: \\d+ checks, 0 failed`));
  });

  here(`${what}: the own-memory component runs under jco run`, () => {
    const component = join(kernelsDir(), m.component.file);
    assert.ok(readFileSync(component).length > 0);
    // jco on this test's Node (it runs the component on the Node that runs it)
    const r = run(process.execPath, [join(ROOT, 'node_modules', '@bytecodealliance', 'jco', 'dist', 'jco.js'), 'run', component]);
    assert.is(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`${m.family}: \\d+ checks, 0 failed`));
  });
}

test.run();
