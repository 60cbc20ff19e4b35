// Choosing each kernel family's flavour for this runtime and CPU (host/kernels/choose.ts): what is
// offered (what the runtime validates and the profile's simd allows), the canary every candidate runs
// (host/kernels/canary.ts), the timing, --kernels, the refusal of a flavour the runtime cannot
// validate, and the kernel pool running the chosen module on every thread.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KernelPool } from '../host/backends/wasm/pool.js';
import { CanaryFailure, canaryCases, runCanary } from '../host/kernels/canary.js';
import { chooseKernels, KernelChoiceError } from '../host/kernels/choose.js';
import { simdLevelOf } from '../host/kernels/flavours.js';
import {
  compileFamily, createSharedMemory, familyExports, flavoursOf, KERNEL_FAMILIES, kernelModule, kernelsDir, loadManifest, type KernelManifest,
} from '../host/kernels/load.js';
import { wasmSimdSupport } from '../host/profiles/detect.js';

const manifest = loadManifest();
const tmp = mkdtempSync(join(tmpdir(), 'wisp-kernel-choose-'));

/** A copy of kernels/ whose matmul 'relaxed' module is replaced by `bytes` (manifest sha256 updated). */
function kernelsWithRelaxed(name: string, bytes: Uint8Array): string {
  const dir = join(tmp, name);
  cpSync(kernelsDir(), dir, { recursive: true });
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as KernelManifest;
  const entry = m.families.matmul.flavours.relaxed;
  writeFileSync(join(dir, entry.file), bytes);
  entry.sha256 = createHash('sha256').update(bytes).digest('hex');
  entry.size = bytes.length;
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
  return dir;
}

// (func (result v128) (i32x4.relaxed_trunc_f32x4_s (v128.const 0))): valid only where relaxed SIMD is
const RELAXED_ONLY = Uint8Array.from([
  0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7b, 3, 2, 1, 0,
  0x0a, 0x19, 1, 0x17, 0, 0xfd, 0x0c, ...new Array<number>(16).fill(0), 0xfd, 0x81, 0x02, 0x0b,
]);

test('the canary covers every export of every built family, and every built flavour passes it', async () => {
  for (const family of KERNEL_FAMILIES) {
    const exports = Object.keys(familyExports(family, manifest));
    const { cases, uncovered } = canaryCases(family, exports, 'x16');
    assert.equal(uncovered, [], `${family}: exports no canary case covers`);
    assert.is(cases.length, exports.length - 1, `${family}: every export but _start`);
    const trusted = compileFamily(family);
    for (const flavour of flavoursOf(family, manifest)) {
      const bytes = readFileSync(join(kernelsDir(), kernelModule(family, flavour, manifest).file));
      if (!WebAssembly.validate(bytes)) continue; // refused before any canary (the test below)
      const r = await runCanary(family, new WebAssembly.Module(bytes), trusted, exports, 'x16');
      assert.equal(r.checked.length, cases.length);
    }
  }
});

test('the canary refuses a module without the family\'s kernels, naming the first one missing', async () => {
  const exports = Object.keys(familyExports('matmul', manifest));
  try {
    await runCanary('matmul', compileFamily('ops'), compileFamily('matmul'), exports, 'x16');
    assert.unreachable('ops passed the matmul canary');
  } catch (err) {
    assert.instance(err, CanaryFailure);
    assert.match((err as Error).message, /^\w+: the module does not export \w+/);
  }
});

test('a profile at simd128 offers only the baseline; relaxed-simd offers every flavour the runtime validates, canaried and timed', async () => {
  const plain = await chooseKernels({ simd: 'simd128' });
  assert.is(plain.families.matmul.flavour, 'simd128');
  const relaxedEntry = kernelModule('matmul', 'relaxed', manifest);
  assert.is(simdLevelOf(relaxedEntry), 'relaxed-simd');
  assert.equal(plain.families.matmul.candidates.map((c) => [c.flavour, c.refused ?? 'ran']), [
    ['simd128', 'ran'],
    ['relaxed', 'the profile allows simd simd128; it needs relaxed-simd'],
  ]);
  const all = await chooseKernels({ simd: 'relaxed-simd' });
  const validates = WebAssembly.validate(readFileSync(join(kernelsDir(), relaxedEntry.file)));
  const m = all.families.matmul;
  if (validates) {
    // both ran the canary and were timed; the baseline is kept unless the other is > MARGIN faster
    assert.ok(m.candidates.every((c) => c.refused === undefined && c.seconds! > 0), JSON.stringify(m.candidates));
    assert.match(m.reason, /^canary passed; .* in a short timing/);
  } else {
    assert.is(m.flavour, 'simd128');
    assert.match(m.candidates[1].refused!, /cannot validate kernel flavour 'relaxed'.*Node ≥ 22/);
  }
  for (const f of ['attn', 'ops'] as const) assert.equal([all.families[f].flavour, all.families[f].reason], ['simd128', 'the only flavour built']);
  assert.match(all.lines.join('\n'), /^matmul: \w+ \(.+\)\nattn: simd128 \(the only flavour built\)\nops: simd128 \(the only flavour built\)$/);
  assert.is(await chooseKernels({ simd: 'relaxed-simd' }), all, 'made once per process');
});

test('--kernels names a flavour for every family built in it (refused where the runtime cannot validate it); an unknown one is refused', async () => {
  const relaxedBytes = readFileSync(join(kernelsDir(), kernelModule('matmul', 'relaxed', manifest).file));
  assert.is(WebAssembly.validate(relaxedBytes), wasmSimdSupport().relaxedSimd, 'the built relaxed flavour validates exactly where relaxed SIMD does');
  const relaxed = chooseKernels({ override: 'relaxed', simd: 'simd128' });
  if (wasmSimdSupport().relaxedSimd) {
    // the override wins over the profile's simd128, and the families not built in it keep the baseline
    const r = await relaxed;
    assert.equal([r.families.matmul.flavour, r.families.matmul.reason], ['relaxed', '--kernels']);
    assert.is(r.summary, 'matmul relaxed, attn simd128, ops simd128');
  } else {
    await relaxed.then(
      () => assert.unreachable('--kernels relaxed accepted on a runtime without relaxed SIMD'),
      (e: Error) => {
        assert.instance(e, KernelChoiceError);
        assert.match(e.message, new RegExp(`^--kernels relaxed: this runtime \\(Node ${process.versions.node}, V8 .*\\) cannot validate kernel flavour 'relaxed' of family 'matmul': it needs relaxed-simd \\(Node ≥ 22, or Node 20 with --experimental-wasm-relaxed-simd\\)$`));
      },
    );
  }
  const base = await chooseKernels({ override: 'simd128' });
  assert.is(base.summary, 'matmul simd128, attn simd128, ops simd128');
  await chooseKernels({ override: 'avx9' }).then(
    () => assert.unreachable(),
    (e: Error) => assert.is(e.message, '--kernels avx9: no kernel family is built in that flavour (built: simd128, relaxed)'),
  );
});

test('a flavour this runtime cannot validate is refused naming the Node version that has it (or, where it validates, fails the canary)', async () => {
  const dir = kernelsWithRelaxed('relaxed-only', RELAXED_ONLY);
  if (!wasmSimdSupport().relaxedSimd) {
    const auto = await chooseKernels({ dir, simd: 'relaxed-simd' });
    assert.is(auto.families.matmul.flavour, 'simd128');
    assert.match(auto.families.matmul.candidates[1].refused!, new RegExp(`^this runtime \\(Node ${process.versions.node}, V8 .*\\) cannot validate kernel flavour 'relaxed' of family 'matmul': it needs relaxed-simd \\(Node ≥ 22, or Node 20 with --experimental-wasm-relaxed-simd\\)$`));
    await chooseKernels({ dir, override: 'relaxed' }).then(
      () => assert.unreachable(),
      (e: Error) => {
        assert.instance(e, KernelChoiceError);
        assert.match(e.message, /^--kernels relaxed: this runtime .* cannot validate kernel flavour 'relaxed' .*Node ≥ 22/);
      },
    );
  } else {
    // this runtime validates relaxed SIMD: the module compiles, and the canary finds no kernels in it
    const auto = await chooseKernels({ dir, simd: 'relaxed-simd' });
    assert.is(auto.families.matmul.flavour, 'simd128');
    assert.match(auto.families.matmul.candidates[1].refused!, /^failed the canary: \w+: the module does not export/);
    await chooseKernels({ dir, override: 'relaxed' }).then(
      () => assert.unreachable(),
      (e: Error) => assert.match(e.message, /^kernel family 'matmul', flavour 'relaxed', on Node .*: failed the canary/),
    );
  }
});

test('the kernel pool instantiates the chosen modules (every thread: test/kernel-swap.test.ts shows it with modules that differ)', async () => {
  const memory = createSharedMemory(64);
  const choice = await chooseKernels({ simd: 'relaxed-simd' });
  const modules = Object.fromEntries(Object.values(choice.families).map((c) => [c.family, c.module])) as Record<(typeof KERNEL_FAMILIES)[number], WebAssembly.Module>;
  const pool = KernelPool.create(memory, { threads: 3, modules });
  try {
    await pool.ready;
    const n = 4096;
    const a = 1 << 20, b = a + 4 * n, out = b + 4 * n;
    const f = new Float32Array(memory.buffer);
    for (let i = 0; i < n; i++) {
      f[a / 4 + i] = i;
      f[b / 4 + i] = 2 * i;
    }
    pool.run([{ kernel: 'add', args: [a, b, out, n] }]);
    assert.is(f[out / 4 + 7], 21);
  } finally {
    await pool.close();
  }
  // a pool given a module that lacks the table's kernels cannot start
  const wrong = { ...modules, ops: compileFamily('attn') };
  assert.throws(() => KernelPool.create(createSharedMemory(32), { threads: 2, modules: wrong }), /kernel ops\.\w+ is not exported by the loaded module/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
