// asm/build-kernels.mjs: every flavour of a family is built from asm/arch/<flavour>/<family>.ts, must
// export exactly the baseline's functions with the same signatures and imports (else the build fails
// naming each difference), and its module's self-test runs the flavour's kernels. Shown on a toy
// family built in a temporary directory, plus the real asm/families.json against the host's facts.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSharedMemory, KERNEL_ABI, KERNEL_FAMILIES, type KernelManifest } from '../host/kernels/load.js';
import { ROOT } from './helpers/paths.js';

interface FamiliesConfig {
  abi: number;
  baseline: string;
  flavours: Record<string, { enable: string[] }>;
  families: Array<{ name: string; memoryBase: number; flavours?: string[] }>;
}
interface Signatures {
  imports: Array<{ module: string; name: string; kind: string; params?: string[]; results?: string[]; shared?: boolean }>;
  exports: Array<{ name: string; params: string[]; results: string[] }>;
}
const build = (await import(pathToFileURL(join(ROOT, 'asm', 'build-kernels.mjs')).href)) as {
  buildKernels(root: string, config: FamiliesConfig, o?: { components?: boolean }): Promise<KernelManifest>;
  abiDifferences(base: Signatures, flavour: Signatures): string[];
};

const tmp = mkdtempSync(join(tmpdir(), 'wisp-kernel-build-'));

/** A toy family `toy` under a fresh root: its module, its SIMD128 set, and the given flavour sets. */
function toyRoot(name: string, flavours: Record<string, Record<string, string>>): { root: string; config: FamiliesConfig } {
  const root = join(tmp, name);
  const files: Record<string, string> = {
    'asm/toy.ts': "export * from './toy/flavour';\nexport { _start } from './toy/selftest';\n",
    'asm/toy/flavour.ts': "export * from './simd128';\n",
    'asm/toy/simd128.ts': "export { kernel_id, scale } from './kernels';\n",
    'asm/toy/kernels.ts': [
      'export function kernel_id(): i32 { return 1; }',
      'export function scale(p: usize, n: i32, s: f32): void { for (let i = 0; i < n; i++) store<f32>(p + (<usize>i << 2), load<f32>(p + (<usize>i << 2)) * s); }',
    ].join('\n'),
    // the self-test leaves the id of the kernel it ran at address 0
    'asm/toy/selftest.ts': "import { kernel_id } from './flavour';\nexport function _start(): void { store<i32>(0, kernel_id()); }\n",
  };
  for (const [flavour, set] of Object.entries(flavours)) for (const [file, text] of Object.entries(set)) files[`asm/arch/${flavour}/${file}`] = text;
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  }
  const config: FamiliesConfig = {
    abi: KERNEL_ABI,
    baseline: 'simd128',
    flavours: { simd128: { enable: ['simd'] }, ...Object.fromEntries(Object.keys(flavours).map((f) => [f, { enable: ['simd'] }])) },
    families: [{ name: 'toy', memoryBase: 65536, flavours: ['simd128', ...Object.keys(flavours)] }],
  };
  return { root, config };
}

async function refusal(root: string, config: FamiliesConfig): Promise<string> {
  try {
    await build.buildKernels(root, config, { components: false });
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('the build accepted the flavour');
}

test('abiDifferences names a missing export, an extra one, a changed signature, and an import the baseline lacks', () => {
  const fn = (name: string, params: string[], results: string[] = []) => ({ name, params, results });
  const memory = { module: 'env', name: 'memory', kind: 'memory', shared: true };
  const base: Signatures = { imports: [memory], exports: [fn('a', ['i32']), fn('b', ['i32', 'f32']), fn('c', [], ['i32'])] };
  assert.equal(build.abiDifferences(base, base), []);
  const flavour: Signatures = {
    imports: [memory, { module: 'wasi_snapshot_preview1', name: 'random_get', kind: 'function', params: ['i32', 'i32'], results: ['i32'] }],
    exports: [fn('a', ['i32']), fn('b', ['i32', 'i32']), fn('d', [])],
  };
  assert.equal(build.abiDifferences(base, flavour), [
    'b is (i32, i32) -> void, the baseline\'s (i32, f32) -> void',
    'missing export c () -> i32',
    'export d () -> void is not in the baseline',
    'imports wasi_snapshot_preview1.random_get (i32, i32) -> i32, which the baseline does not',
  ]);
});

test('the build refuses a flavour whose export has another signature, naming the flavour, its source, the difference and the rule; no module is left for it', async () => {
  const { root, config } = toyRoot('wrong-signature', {
    wrong: {
      'toy.ts': "export * from '../../toy/simd128';\nexport { scale } from './scale';\n",
      'scale.ts': 'export function scale(p: usize, n: i32): void { store<i32>(p, n); }\n',
    },
  });
  const msg = await refusal(root, config);
  assert.ok(msg.startsWith("kernel flavour 'wrong' of family 'toy' (asm/arch/wrong/toy.ts) must export exactly the simd128 baseline's functions with the same signatures and imports; it differs: "), msg);
  assert.ok(msg.includes("scale is (i32, i32) -> void, the baseline's (i32, i32, f32) -> void"), msg);
  assert.ok(msg.includes('a new contract is a new export in the baseline (docs/KERNEL-ABI.md)'), msg);
  assert.not.ok(existsSync(join(root, 'kernels', 'toy.wrong.wasm')), 'no module left for the refused flavour');
  assert.not.ok(existsSync(join(root, 'kernels', 'manifest.json')), 'no manifest written');
});

test('the build refuses a flavour that drops a baseline export', async () => {
  const { root, config } = toyRoot('missing-export', { partial: { 'toy.ts': "export { kernel_id } from '../../toy/simd128';\n" } });
  const msg = await refusal(root, config);
  assert.ok(msg.includes("kernel flavour 'partial' of family 'toy'") && msg.includes('missing export scale (i32, i32, f32) -> void'), msg);
});

test('a flavour overriding one kernel under the same name and signature builds; its module and its self-test run the override, the rest is the baseline\'s', async () => {
  const { root, config } = toyRoot('override', {
    fast: {
      'toy.ts': "export * from '../../toy/simd128';\nexport { kernel_id } from './kernel-id';\n",
      'kernel-id.ts': 'export function kernel_id(): i32 { return 2; }\n',
    },
  });
  const manifest = await build.buildKernels(root, config, { components: false });
  const fam = manifest.families.toy;
  assert.equal(Object.keys(fam.flavours), ['simd128', 'fast']);
  assert.is(fam.flavours.fast.source, 'asm/arch/fast/toy.ts');
  assert.is(fam.flavours.simd128.source, 'asm/toy/simd128.ts');
  assert.equal(fam.flavours.fast.exports, fam.flavours.simd128.exports);
  assert.equal(JSON.parse(readFileSync(join(root, 'kernels', 'manifest.json'), 'utf8')), manifest);
  for (const [flavour, id] of [['simd128', 1], ['fast', 2]] as const) {
    const memory = createSharedMemory(17);
    const m = new WebAssembly.Module(readFileSync(join(root, 'kernels', `toy.${flavour}.wasm`)));
    const k = new WebAssembly.Instance(m, { env: { memory } }).exports as Record<string, (...a: number[]) => number>;
    assert.is(k.kernel_id(), id, `${flavour} exports its own kernel_id`);
    k._start();
    assert.is(new Int32Array(memory.buffer)[0], id, `${flavour}'s self-test ran its own kernel_id`);
    const x = new Float32Array(memory.buffer, 1024, 3);
    x.set([1, 2, 3]);
    k.scale(1024, 3, 2);
    assert.equal(Array.from(x), [2, 4, 6], `${flavour} keeps the baseline's scale`);
  }
  assert.not.ok(readFileSync(join(root, 'asm', 'toy', 'flavour.ts'), 'utf8').includes('arch'), 'the seam file on disk stays the baseline\'s');
});

test('asm/families.json builds the host\'s kernel families at the host\'s ABI, each with the baseline flavour first', () => {
  const config = JSON.parse(readFileSync(join(ROOT, 'asm', 'families.json'), 'utf8')) as FamiliesConfig;
  assert.is(config.abi, KERNEL_ABI);
  assert.equal(config.families.map((f) => f.name), [...KERNEL_FAMILIES]);
  for (const f of config.families) {
    assert.is((f.flavours ?? [])[0], config.baseline, f.name);
    for (const flavour of f.flavours ?? []) assert.ok(config.flavours[flavour], `${f.name}: flavour ${flavour} is defined`);
  }
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
