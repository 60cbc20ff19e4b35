// host/kernels/load.ts and registry.ts: a module that is not the one the manifest describes (sha256,
// ABI) is refused with a message naming it, serving kernels get WASI stubs that grant nothing, each
// family's flavours are listed and loaded by name (the baseline by default), and the registry keeps
// one module in use per family. Also what the manifest records of each build (asm/build-kernels.mjs).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  compileFamily, createSharedMemory, familyExports, flavoursOf, instantiateKernel, KERNEL_ABI, KERNEL_FAMILIES, kernelModule, kernelsDir,
  loadManifest, wasiStubImports, type KernelFamily, type KernelManifest, type KernelModule,
} from '../host/kernels/load.js';
import { KernelRegistry } from '../host/kernels/registry.js';
import { ROOT } from './helpers/paths.js';

const FAMILIES = KERNEL_FAMILIES;
const tmp = mkdtempSync(join(tmpdir(), 'wisp-kernel-load-'));

/** Every built module, family × flavour. */
function allModules(manifest: KernelManifest): KernelModule[] {
  return Object.values(manifest.families).flatMap((fam) => Object.values(fam.flavours));
}
/** A copy of the built kernels dir to spoil. */
function copyKernels(name: string): string {
  const dir = join(tmp, name);
  cpSync(kernelsDir(), dir, { recursive: true });
  return dir;
}

// ---- a tiny hand-assembled wasm module (sections short enough for one-byte LEB128 lengths) ----

const str = (s: string) => [s.length, ...Buffer.from(s)];
const section = (id: number, body: number[]) => {
  if (body.length > 127) throw new Error('section too long for this helper');
  return [id, body.length, ...body];
};
const I32 = 0x7f;

/** Imports env.memory (shared, 1 page) and the given WASI functions; exports `call` = import #0 called with args. */
function wasiModule(imports: Array<{ name: string; params: number }>, args: number[]): Uint8Array<ArrayBuffer> {
  const types = imports.map((i) => [0x60, i.params, ...Array(i.params).fill(I32), 1, I32]);
  const typeSection = section(1, [types.length + 1, ...types.flat(), 0x60, 0, 1, I32]);
  const importSection = section(2, [
    imports.length + 1,
    ...imports.flatMap((i, t) => [...str('wasi_snapshot_preview1'), ...str(i.name), 0x00, t]),
    ...str('env'), ...str('memory'), 0x02, 0x03, 1, 1, // shared memory, 1 page, max 1
  ]);
  const funcSection = section(3, [1, imports.length]); // one function of the last type, () -> i32
  const exportSection = section(7, [1, ...str('call'), 0x00, imports.length]);
  const body = [0, ...args.flatMap((a) => [0x41, a]), 0x10, 0, 0x0b]; // no locals; i32.const …; call 0; end
  const codeSection = section(10, [1, body.length, ...body]);
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...typeSection, ...importSection, ...funcSection, ...exportSection, ...codeSection]);
}

// ---- the manifest is checked before a module is compiled ----

test('an untouched copy of the kernels loads from its own directory (the control for the tests below)', () => {
  const dir = copyKernels('good');
  for (const f of FAMILIES) assert.instance(compileFamily(f, dir), WebAssembly.Module);
});

test('a module whose bytes differ from the manifest (sha256) is refused, naming the file; the others still load', () => {
  const dir = copyKernels('tampered');
  const path = join(dir, kernelModule('attn', undefined, loadManifest(dir), dir).file);
  const bytes = readFileSync(path);
  bytes[bytes.length - 1] ^= 1; // one bit of the last byte
  writeFileSync(path, bytes);
  try {
    compileFamily('attn', dir);
    assert.unreachable('a tampered attn module compiled');
  } catch (e) {
    const msg = (e as Error).message;
    assert.ok(msg.startsWith(`${path} does not match its manifest (sha256 `), msg);
    assert.match(msg, /rebuild with `npm run build`/);
  }
  assert.instance(compileFamily('matmul', dir), WebAssembly.Module);
  assert.instance(compileFamily('ops', dir), WebAssembly.Module);
});

test('a manifest of another ABI version is refused, naming the family, both versions and the manifest', () => {
  const dir = copyKernels('abi');
  const manifest = loadManifest(dir);
  manifest.abi = KERNEL_ABI + 1;
  for (const m of allModules(manifest)) m.abi = KERNEL_ABI + 1;
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  for (const f of FAMILIES) {
    assert.throws(
      () => compileFamily(f, dir),
      (e: Error) => e.message === `kernel family '${f}' has ABI ${KERNEL_ABI + 1} in ${join(dir, 'manifest.json')}; this host speaks ABI ${KERNEL_ABI}: rebuild with \`npm run build\``,
    );
  }
});

test('a missing manifest or family says how to build them', () => {
  const dir = copyKernels('partial');
  const manifest = loadManifest(dir);
  delete manifest.families.ops;
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  assert.throws(() => compileFamily('ops', dir), /kernel family 'ops' is not in .*manifest\.json; rebuild with `npm run build`/);
  rmSync(join(dir, 'manifest.json'));
  assert.throws(() => loadManifest(dir), /no kernel manifest at .*manifest\.json: run `npm run build`/);
});

// ---- the WASI stubs a serving kernel gets ----

test('the serving import object offers only fd_write and proc_exit, the modules import nothing else', () => {
  const wasi = wasiStubImports().wasi_snapshot_preview1 as Record<string, unknown>;
  assert.equal(Object.keys(wasi).sort(), ['fd_write', 'proc_exit']);
  for (const f of FAMILIES) {
    const imports = WebAssembly.Module.imports(compileFamily(f)).map((i) => `${i.module}.${i.name}:${i.kind}`).sort();
    assert.equal(imports, ['env.memory:memory', 'wasi_snapshot_preview1.fd_write:function', 'wasi_snapshot_preview1.proc_exit:function'], f);
  }
});

test('a module importing any other WASI call (path_open, clock_time_get, random_get) cannot be instantiated for serving', () => {
  for (const [name, params] of [['path_open', 9], ['clock_time_get', 3], ['random_get', 2], ['sock_accept', 3]] as const) {
    const mod = new WebAssembly.Module(wasiModule([{ name, params }], Array(params).fill(0)));
    assert.throws(() => instantiateKernel(mod, createSharedMemory(1, 1)), (e: Error) => e instanceof WebAssembly.LinkError && e.message.includes(name), name);
  }
});

test('fd_write to stdout under the stubs returns ENOSYS, writes no byte count and prints nothing; a kernel’s _start prints nothing and its proc_exit throws', () => {
  // in a child process, so that anything reaching fd 1 would show in its stdout
  const load = pathToFileURL(join(ROOT, 'dist', 'host', 'kernels', 'load.js')).href;
  const fdWrite = Array.from(wasiModule([{ name: 'fd_write', params: 4 }], [1, 0, 1, 8])); // fd_write(1, iovs 0, 1 iovec, nwritten at 8)
  const script = `
    import { compileFamily, createSharedMemory, instantiateKernel } from ${JSON.stringify(load)};
    const result = {};
    const memory = createSharedMemory(1, 1);
    const m = new Uint8Array(memory.buffer);
    new DataView(memory.buffer).setUint32(0, 16, true); // iovec: buf 16, len 6
    new DataView(memory.buffer).setUint32(4, 6, true);
    new DataView(memory.buffer).setUint32(8, 0xdeadbeef, true); // nwritten, must stay as it is
    m.set(Buffer.from('hello\\n'), 16);
    const probe = instantiateKernel(new WebAssembly.Module(Uint8Array.from(${JSON.stringify(fdWrite)})), memory);
    result.errno = probe.call();
    result.nwritten = new DataView(memory.buffer).getUint32(8, true);
    result.starts = {};
    for (const f of ['matmul', 'attn', 'ops']) {
      const k = instantiateKernel(compileFamily(f), createSharedMemory(17));
      try { k._start(); result.starts[f] = 'returned'; } catch (e) { result.starts[f] = String(e.message); }
    }
    process.stderr.write(JSON.stringify(result));`;
  const r = spawnSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, '', 'nothing reaches stdout');
  const result = JSON.parse(r.stderr) as { errno: number; nwritten: number; starts: Record<string, string> };
  assert.is(result.errno, 52); // ENOSYS
  assert.is(result.nwritten, 0xdeadbeef);
  for (const f of FAMILIES) assert.is(result.starts[f], 'kernel called proc_exit while serving', f);
});

// ---- what the manifest records of each build ----

test('the manifest records the asc flags of both builds of every module: shared-memory module and own-memory component', () => {
  const manifest = loadManifest();
  for (const m of allModules(manifest)) {
    const f = `${m.family}.${m.flavour}`;
    const base = ['--memoryBase', String(m.memoryBase)];
    for (const flags of [m.buildFlags, m.component.buildFlags]) {
      assert.ok(Array.isArray(flags), `${f}: flags recorded`);
      for (const x of ['-O3', '--noAssert', '--runtime', 'stub', '--enable', 'simd', ...base]) assert.ok(flags.includes(x), `${f}: ${x} in ${flags}`);
      assert.equal(flags.slice(flags.indexOf('--memoryBase'), flags.indexOf('--memoryBase') + 2), base);
    }
    // the shared build imports a shared memory; the component's module has its own (no threads: the
    // component model has no shared memory)
    for (const x of ['--importMemory', '--sharedMemory', 'threads']) {
      assert.ok(m.buildFlags.includes(x), `${f}: shared build has ${x}`);
      assert.not.ok(m.component.buildFlags.includes(x), `${f}: component build has no ${x}`);
    }
    assert.match(m.component.sha256, /^[0-9a-f]{64}$/);
  }
});

// ---- flavours ----

test('the manifest lists every family with its flavours, baseline first: matmul in simd128 and relaxed, attn and ops in simd128', () => {
  const manifest = loadManifest();
  assert.equal(Object.keys(manifest.families).sort(), [...FAMILIES].sort());
  assert.is(manifest.baseline, 'simd128');
  assert.equal(flavoursOf('matmul', manifest), ['simd128', 'relaxed']);
  assert.equal(flavoursOf('attn', manifest), ['simd128']);
  assert.equal(flavoursOf('ops', manifest), ['simd128']);
  for (const m of allModules(manifest)) {
    assert.is(m.file, `${m.family}.${m.flavour}.wasm`);
    assert.is(m.abi, KERNEL_ABI);
    assert.match(m.sha256, /^[0-9a-f]{64}$/);
  }
  assert.is(kernelModule('matmul', 'relaxed', manifest).source, 'asm/arch/relaxed/matmul.ts');
  assert.ok(kernelModule('matmul', 'relaxed', manifest).buildFlags.join(' ').includes('--enable relaxed-simd'));
});

/** Whether this Node can compile a built flavour (relaxed SIMD: Node 22 and later). */
function compiles(family: KernelFamily, flavour: string): boolean {
  return WebAssembly.validate(readFileSync(join(kernelsDir(), kernelModule(family, flavour, loadManifest()).file)));
}
/** The tests that compile the relaxed flavour run where this Node can (and are skipped, saying so, where it cannot). */
const withRelaxed = compiles('matmul', 'relaxed') ? test : test.skip;

test('every flavour of a family exports exactly the baseline\'s functions with the same signatures and imports the same', () => {
  const manifest = loadManifest();
  for (const f of FAMILIES) {
    for (const flavour of flavoursOf(f, manifest)) {
      const m = kernelModule(f, flavour, manifest);
      assert.equal(m.exports, familyExports(f, manifest), `${f}.${flavour}`);
      assert.equal(m.wasiImports.sort(), kernelModule(f, undefined, manifest).wasiImports.sort(), `${f}.${flavour}`);
      if (!compiles(f, flavour)) continue; // the manifest's exports are checked above; the module's where it compiles
      assert.equal(WebAssembly.Module.exports(compileFamily(f, undefined, manifest, flavour)).map((e) => e.name).sort(),
        WebAssembly.Module.exports(compileFamily(f, undefined, manifest)).map((e) => e.name).sort());
    }
  }
});

withRelaxed('compileFamily loads the baseline by default and a named flavour on request; an unknown flavour is refused, naming the built ones (needs relaxed SIMD)', () => {
  const manifest = loadManifest();
  const relaxed = readFileSync(join(kernelsDir(), kernelModule('matmul', 'relaxed', manifest).file));
  assert.ok(WebAssembly.validate(relaxed));
  assert.instance(compileFamily('matmul', undefined, manifest, 'relaxed'), WebAssembly.Module);
  assert.throws(() => compileFamily('matmul', undefined, manifest, 'avx9'), (e: Error) =>
    e.message === `kernel family 'matmul' has no flavour 'avx9' in ${join(kernelsDir(), 'manifest.json')} (built: simd128, relaxed)`);
  assert.throws(() => compileFamily('attn', undefined, manifest, 'relaxed'), /kernel family 'attn' has no flavour 'relaxed' .*\(built: simd128\)/);
});

test('a tampered flavour is refused by its own sha256 while the baseline still loads', () => {
  const dir = copyKernels('tampered-flavour');
  const manifest = loadManifest(dir);
  const path = join(dir, kernelModule('matmul', 'relaxed', manifest, dir).file);
  const bytes = readFileSync(path);
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(path, bytes);
  assert.throws(() => compileFamily('matmul', dir, manifest, 'relaxed'), (e: Error) => e.message.startsWith(`${path} does not match its manifest (sha256 `));
  assert.instance(compileFamily('matmul', dir, manifest), WebAssembly.Module);
});

// ---- the registry ----

test('the registry starts every family on its baseline and lists its flavours', () => {
  const registry = KernelRegistry.open();
  assert.equal(registry.families(), [...FAMILIES]);
  for (const f of FAMILIES) {
    const active = registry.active(f);
    assert.is(active.flavour, 'simd128');
    assert.is(active.sha256, kernelModule(f, undefined, registry.manifest).sha256);
  }
  assert.equal(registry.flavours('matmul'), ['simd128', 'relaxed']);
  const modules = registry.modules();
  assert.equal(Object.keys(modules), [...FAMILIES]);
  for (const f of FAMILIES) assert.is(modules[f], registry.active(f).module);
});

withRelaxed('the registry puts a family on another built flavour, and refuses an unknown or tampered one, keeping the module in use (needs relaxed SIMD)', () => {
  const dir = copyKernels('registry');
  const registry = KernelRegistry.open(dir);
  const before = registry.active('matmul');
  assert.throws(() => registry.use('matmul', 'avx9'), /kernel family 'matmul' has no flavour 'avx9'/);
  assert.is(registry.active('matmul'), before);
  const relaxed = registry.use('matmul', 'relaxed');
  assert.is(registry.active('matmul'), relaxed);
  assert.is(relaxed.entry?.file, 'matmul.relaxed.wasm');
  assert.is(registry.modules().matmul, relaxed.module);
  assert.is(registry.active('attn').flavour, 'simd128');
  const base = registry.use('matmul', 'simd128');
  const path = join(dir, 'matmul.relaxed.wasm');
  const bytes = readFileSync(path);
  bytes[0] ^= 1;
  writeFileSync(path, bytes);
  assert.throws(() => registry.use('matmul', 'relaxed'), /does not match its manifest/);
  assert.is(registry.active('matmul'), base);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
