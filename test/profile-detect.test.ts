// Device detection and profile choice: fake devices (a Pi 4's cpuinfo and device-tree text, a Pi 5,
// a Jetson Orin, an x86 with AVX-512, a Snapdragon with QNN, a Mac, a Windows PC with DirectML)
// through the FactSource interface, and this real machine's ONNX Runtime providers.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  availableProviders,
  detectDevice,
  loadProfiles,
  parseCpuinfo,
  parseProfile,
  pickProfile,
  resolveSettings,
  systemFacts,
  wasmSimdSupport,
  type FactSource,
  type ProviderProbe,
} from '../host/profiles/index.js';
import { probeProviders } from '../host/profiles/probe.js';
import { probeModel, probeOne } from '../host/profiles/probe-child.js';

const GiB = 2 ** 30;

const PI4_CPUINFO = `processor	: 0
BogoMIPS	: 108.00
Features	: fp asimd evtstrm crc32 cpuid
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: 0x0
CPU part	: 0xd08
CPU revision	: 3

processor	: 1
BogoMIPS	: 108.00
Features	: fp asimd evtstrm crc32 cpuid
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: 0x0
CPU part	: 0xd08
CPU revision	: 3

Hardware	: BCM2835
Revision	: c03114
Model		: Raspberry Pi 4 Model B Rev 1.4
`;

const PI5_CPUINFO = `processor	: 0
BogoMIPS	: 108.00
Features	: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: 0x4
CPU part	: 0xd0b
CPU revision	: 1
`;

const ORIN_CPUINFO = `processor	: 0
model name	: ARMv8 Processor rev 1 (v8l)
BogoMIPS	: 62.50
Features	: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp uscat ilrcpc flagm paca pacg
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: 0x0
CPU part	: 0xd42
CPU revision	: 1
`;

const AVX512_CPUINFO = `processor	: 0
vendor_id	: GenuineIntel
model name	: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz
flags		: fpu vme sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni
`;

const probes = (available: string[], listed = ['cpu', ...available]): ProviderProbe[] =>
  [...new Set(listed)].map((name) => ({ name, listed: true, available: available.includes(name) || name === 'cpu', detail: 'fake' }));

function fake(f: Partial<{ arch: string; platform: string; cpuinfo: string; model: string; cores: number; mem: number; providers: ProviderProbe[] }>): FactSource {
  return {
    arch: () => f.arch ?? 'arm64',
    platform: () => f.platform ?? 'linux',
    cpuinfo: () => f.cpuinfo,
    deviceTreeModel: () => f.model,
    cores: () => f.cores ?? 4,
    totalMemoryBytes: () => f.mem ?? 8 * GiB,
    wasmSimd: () => ({ simd128: true, relaxedSimd: false }),
    providers: async () => f.providers ?? probes([]),
  };
}

const profiles = loadProfiles();
const pick = async (source: FactSource) => pickProfile(await detectDevice(source), profiles);

test('cpuinfo: x86 flags, arm Features, the ARM core named from its part number', () => {
  const pi4 = parseCpuinfo(PI4_CPUINFO);
  assert.equal(pi4.features, ['asimd', 'cpuid', 'crc32', 'evtstrm', 'fp']);
  assert.is(pi4.model, 'Cortex-A72');
  assert.is(parseCpuinfo(PI5_CPUINFO).model, 'Cortex-A76');
  assert.is(parseCpuinfo(ORIN_CPUINFO).model, 'Cortex-A78AE');
  const x86 = parseCpuinfo(AVX512_CPUINFO);
  assert.ok(x86.features!.includes('avx512f') && x86.features!.includes('sse4_1'));
  assert.is(x86.model, 'Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz');
  assert.equal(parseCpuinfo(undefined), { features: null });
});

test('a Raspberry Pi 4 (cpuinfo + device-tree model with its NUL) gets raspberry-pi-4 with 4 threads', async () => {
  const device = await detectDevice(fake({ cpuinfo: PI4_CPUINFO, model: 'Raspberry Pi 4 Model B Rev 1.4\0', mem: 4 * GiB }));
  assert.is(device.deviceModel, 'Raspberry Pi 4 Model B Rev 1.4');
  const choice = pickProfile(device, profiles);
  assert.is(choice.profile?.name, 'raspberry-pi-4');
  assert.match(choice.explanation, /raspberry-pi-4: score \d+ \(arch arm64; platform linux; device model "Raspberry Pi 4 Model B Rev 1.4"/);
  assert.match(choice.explanation, /next best generic-arm64/);
  const s = resolveSettings(choice.profile!, device);
  assert.equal([s.threads, s.simd, s.memoryBudgetBytes, s.maxSequences], [4, 'simd128', 2 * GiB, 2]);
  // the same board on a 32-bit OS
  assert.is((await pick(fake({ arch: 'arm', cpuinfo: PI4_CPUINFO, model: 'Raspberry Pi 4 Model B Rev 1.1' }))).profile?.name, 'raspberry-pi-4');
});

test('a Raspberry Pi 5 gets raspberry-pi-5; relaxed SIMD is lowered to simd128 where the runtime lacks it', async () => {
  const device = await detectDevice(fake({ cpuinfo: PI5_CPUINFO, model: 'Raspberry Pi 5 Model B Rev 1.0' }));
  const choice = pickProfile(device, profiles);
  assert.is(choice.profile?.name, 'raspberry-pi-5');
  const s = resolveSettings(choice.profile!, device);
  assert.is(s.simd, 'simd128');
  assert.ok(s.notes.some((n) => /relaxed-simd → simd128/.test(n)));
});

test('a Jetson Orin gets jetson-orin whether or not the CUDA provider initialises', async () => {
  for (const providers of [probes(['cuda', 'tensorrt']), probes([], ['cpu', 'cuda', 'tensorrt'])]) {
    const choice = await pick(fake({ cpuinfo: ORIN_CPUINFO, model: 'NVIDIA Jetson AGX Orin Developer Kit', cores: 12, providers }));
    assert.is(choice.profile?.name, 'jetson-orin');
  }
});

test('an x86 server with AVX-512 and no board model gets generic-x86_64', async () => {
  const choice = await pick(fake({ arch: 'x64', cpuinfo: AVX512_CPUINFO, cores: 32, mem: 64 * GiB }));
  assert.is(choice.profile?.name, 'generic-x86_64');
  const rejected = choice.candidates.filter((c) => !c.matches).map((c) => c.profile.name).sort();
  assert.equal(rejected, profiles.map((p) => p.name).filter((n) => n !== 'generic-x86_64').sort());
  const s = resolveSettings(choice.profile!, await detectDevice(fake({ arch: 'x64', cpuinfo: AVX512_CPUINFO, cores: 32, mem: 64 * GiB })));
  assert.is(s.threads, 32);
  assert.is(s.memoryBudgetBytes, Math.floor(0.6 * 64 * GiB));
});

test('an arm64 board with QNN gets qualcomm-npu; without QNN it is generic-arm64, and the candidate says why', async () => {
  assert.is((await pick(fake({ cpuinfo: PI5_CPUINFO, providers: probes(['qnn']) }))).profile?.name, 'qualcomm-npu');
  const choice = await pick(fake({ cpuinfo: PI5_CPUINFO }));
  assert.is(choice.profile?.name, 'generic-arm64');
  const npu = choice.candidates.find((c) => c.profile.name === 'qualcomm-npu')!;
  assert.is(npu.matches, false);
  assert.ok(npu.reasons.includes('✗ provider qnn not available'), npu.reasons.join('; '));
});

test('a Mac gets apple-silicon (no /proc/cpuinfo: features unknown); a Windows PC with DirectML gets windows-dml', async () => {
  const mac = await detectDevice(fake({ platform: 'darwin', providers: probes(['coreml']) }));
  assert.is(mac.cpuFeatures, null);
  assert.is(pickProfile(mac, profiles).profile?.name, 'apple-silicon');
  assert.is((await pick(fake({ arch: 'x64', platform: 'win32', providers: probes(['dml']) }))).profile?.name, 'windows-dml');
  assert.is((await pick(fake({ arch: 'x64', platform: 'win32' }))).profile?.name, 'generic-x86_64');
});

test('a tie in score goes to the higher priority, then the name; no match at all says so', async () => {
  const base = (name: string, priority?: number) => parseProfile({
    name, description: 'tie', match: { arch: ['arm64'] }, ...(priority === undefined ? {} : { priority }), threads: 1, simd: 'simd128',
    providers: [], routing: { default: 'wasm' }, memory: { budgetMiB: 64 }, batch: { maxSequences: 1, maxBatchTokens: 16 },
  }, `${name}.json`);
  const device = await detectDevice(fake({}));
  const byPriority = pickProfile(device, [base('a'), base('b', 2)]);
  assert.is(byPriority.profile?.name, 'b');
  assert.match(byPriority.explanation, /ties a at 1, wins on priority 2 > 0/);
  assert.is(pickProfile(device, [base('zz'), base('aa')]).profile?.name, 'aa');
  const none = pickProfile(await detectDevice(fake({ arch: 's390x' })), profiles);
  assert.is(none.profile, null);
  assert.match(none.explanation, /no profile matches this device \(s390x\/linux\); name one with --profile/);
});

test('this machine: SIMD128 validates, the CPU provider initialises and CUDA does not', async () => {
  assert.is(wasmSimdSupport().simd128, true);
  const device = await detectDevice(systemFacts());
  assert.ok(device.cores >= 1 && device.totalMemoryBytes > 0);
  const cpu = device.providers.find((p) => p.name === 'cpu');
  assert.ok(cpu?.available, JSON.stringify(device.providers));
  assert.match(cpu!.detail, /ran the probe node/);
  const cuda = device.providers.find((p) => p.name === 'cuda');
  // onnxruntime-node lists cuda on linux x64 even without the CUDA libraries; it must not initialise here
  // (a machine with an NVIDIA driver may really have it: then there is nothing to assert)
  if (!existsSync('/proc/driver/nvidia')) {
    if (cuda) assert.is(cuda.available, false);
    assert.not.ok(availableProviders(device).includes('cuda'));
  }
  assert.ok(pickProfile(device, profiles).profile !== null);
});

test('the probe tells ORT\'s silent CPU fallback apart: with it disabled, a node left to the CPU EP fails the session', async () => {
  const ort = createRequire(import.meta.url)('onnxruntime-node');
  ort.env.logLevel = 'fatal';
  const model = probeModel();
  assert.is((await probeOne(ort, model, 'cpu')).available, true);
  // the CPU provider probed with the fallback off is exactly the "fell back to CPU" case
  const fellBack = await probeOne(ort, model, 'cpu', false);
  assert.equal(fellBack, { available: false, detail: 'loads, but ORT assigned the probe node to its CPU provider (silent CPU fallback)' });
  assert.is((await probeOne(ort, model, 'no-such-ep')).available, false);
});

test('a probe that cannot finish reports no provider available instead of failing detection', async () => {
  const r = await probeProviders({ timeoutMs: 1 });
  assert.is(r.length, 1);
  assert.is(r[0].available, false);
  assert.match(r[0].detail, /onnxruntime-node could not be probed/);
});

test.run();
