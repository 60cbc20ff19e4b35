// Kernel threads: the count comes from the device profile in effect (--profile, else the detected
// one, found without the ONNX Runtime probe when the probe cannot change the choice), --threads
// overrides, and the count and its reason are logged. More threads than cores still finish with
// the same bits: the pool's barrier spins briefly, then sleeps (host/backends/wasm/pool.ts).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Arena, planBytes } from '../host/backends/wasm/arena.js';
import { activationOf, matmulJobs } from '../host/backends/wasm/jobs.js';
import { adaptSpin } from '../host/backends/wasm/control.js';
import { KernelPool } from '../host/backends/wasm/pool.js';
import { chooseThreads, openModel } from '../host/engine/open.js';
import { mulberry32 } from '../host/engine/sampler.js';
import { GGMLType } from '../host/model/ggml-types.js';
import { quantize } from '../host/model/quantize/index.js';
import { loadProfiles, type FactSource, type ProviderProbe } from '../host/profiles/index.js';
import { pickProfileQuick, profileThreads } from '../host/profiles/settings.js';
import { CLI, ROOT, sharedModel } from './helpers/paths.js';

const STORIES = sharedModel('stories260K.gguf');
const golden = JSON.parse(readFileSync(join(ROOT, 'test', 'golden', 'stories260K-greedy.json'), 'utf8')) as { ids: number[] };
const CORES = availableParallelism();
const profiles = loadProfiles();
const dir = mkdtempSync(join(tmpdir(), 'wisp-threads-'));

function facts(f: { arch: string; platform?: string; model?: string; cores?: number }): FactSource {
  return {
    arch: () => f.arch,
    platform: () => f.platform ?? 'linux',
    cpuinfo: () => undefined,
    deviceTreeModel: () => f.model,
    cores: () => f.cores ?? 4,
    totalMemoryBytes: () => 8 * 2 ** 30,
    wasmSimd: () => ({ simd128: true, relaxedSimd: false }),
    providers: async () => {
      throw new Error('pickProfileQuick reads providers through its own probe argument');
    },
  };
}

test('pickProfileQuick: no ONNX Runtime probe where providers cannot change the choice, the probe where they can', async () => {
  let probes = 0;
  const probe = (available: string[]) => async (): Promise<ProviderProbe[]> => {
    probes++;
    return ['cpu', ...available].map((name) => ({ name, listed: true, available: true, detail: 'fake' }));
  };
  const x64 = await pickProfileQuick(profiles, facts({ arch: 'x64' }), probe([]));
  assert.is(x64.choice.profile?.name, 'generic-x86_64');
  const pi4 = await pickProfileQuick(profiles, facts({ arch: 'arm64', model: 'Raspberry Pi 4 Model B Rev 1.4', cores: 2 }), probe([]));
  assert.is(pi4.choice.profile?.name, 'raspberry-pi-4');
  assert.equal(profileThreads(pi4.choice.profile!, 2), { threads: 4, reason: 'profile raspberry-pi-4: 4; more than the 2 cores' });
  assert.is(probes, 0, 'x64 and a Pi 4 are decided without the probe');
  assert.not.ok(x64.probed || pi4.probed);
  // a plain arm64 board: the qualcomm-npu profile wins if qnn initialises, so the probe decides
  const plain = await pickProfileQuick(profiles, facts({ arch: 'arm64' }), probe([]));
  const npu = await pickProfileQuick(profiles, facts({ arch: 'arm64' }), probe(['qnn']));
  assert.is(probes, 2);
  assert.ok(plain.probed && npu.probed);
  assert.is(plain.choice.profile?.name, 'generic-arm64');
  assert.is(npu.choice.profile?.name, 'qualcomm-npu');
  assert.equal(profileThreads(npu.choice.profile!, 8), { threads: 8, reason: 'profile qualcomm-npu: auto = 8 cores' });
});

test('openModel without threads takes the profile\'s count and logs why; threads given override it', async () => {
  const expected = await chooseThreads(undefined);
  const { choice } = await pickProfileQuick(profiles);
  assert.ok(choice.profile, 'a shipped profile fits this machine');
  assert.equal(expected, { count: profileThreads(choice.profile!, CORES).threads, reason: profileThreads(choice.profile!, CORES).reason, profile: choice.profile!.name });
  const logs: string[] = [];
  const m = await openModel(STORIES, { contextSize: 64, log: (s) => logs.push(s) });
  try {
    assert.equal(m.threads, expected);
    assert.ok(logs.includes(`threads: ${expected.count} (${expected.reason})`), logs.join('\n'));
    assert.match(m.description, new RegExp(`^wasm \\(${expected.count} threads?,`));
  } finally {
    await m.close();
  }
  const one = await openModel(STORIES, { contextSize: 64, threads: 1, log: () => {} });
  try {
    assert.equal(one.threads, { count: 1, reason: '--threads' });
  } finally {
    await one.close();
  }
  // a --route table alone is no device profile: the detected one still gives the count
  const routed = await openModel(STORIES, { contextSize: 64, routing: { default: 'wasm' }, providers: ['cpu'], log: () => {} });
  try {
    assert.equal(routed.threads, expected);
  } finally {
    await routed.close();
  }
});

const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [CLI, 'run', '-m', STORIES, '--temp', '0', '--ignore-eos', '--ids', ...args], { encoding: 'utf8', timeout: 300_000 });
const idsOf = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!) as number[];

test('wisp run says which thread count it used and why: the detected profile, or --threads', async () => {
  const expected = await chooseThreads(undefined);
  const auto = await run(['-n', '30']);
  assert.ok(auto.stderr.includes(`wisp: threads: ${expected.count} (${expected.reason})\n`), auto.stderr);
  assert.match(auto.stderr, new RegExp(`engine: wasm \\(${expected.count} threads?`));
  assert.equal(idsOf(auto.stdout), golden.ids.slice(0, 30));
  const given = await run(['-n', '30', '-t', '1']);
  assert.ok(given.stderr.includes('wisp: threads: 1 (--threads)\n'), given.stderr);
  assert.equal(idsOf(given.stdout), golden.ids.slice(0, 30));
});

test('more threads than cores (a --profile asking for cores + 1): a warning once, the same ids, and it finishes', async () => {
  const n = CORES + 1;
  const file = join(dir, 'oversubscribed.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'oversubscribed',
      description: `${n} kernel threads whatever the cores`,
      match: {},
      threads: n,
      simd: 'simd128',
      providers: ['cpu'],
      routing: { default: 'wasm' },
      memory: { fraction: 0.5 },
      batch: { maxSequences: 2, maxBatchTokens: 256 },
    }),
  );
  const r = await run(['-n', '100', '--profile', file]);
  assert.ok(r.stderr.includes(`wisp: threads: ${n} (profile oversubscribed: ${n}; more than the ${CORES} core${CORES === 1 ? '' : 's'})\n`), r.stderr);
  assert.is(r.stderr.split('\n').filter((l) => l.includes(`${n} kernel threads on ${CORES} core`)).length, 1, r.stderr);
  assert.equal(idsOf(r.stdout), golden.ids.slice(0, 100));
  // --threads overrides the profile's count
  const t1 = await run(['-n', '20', '--profile', file, '-t', '1']);
  assert.ok(t1.stderr.includes('wisp: threads: 1 (--threads)\n'), t1.stderr);
  assert.not.match(t1.stderr, /kernel threads on/);
});

test('an oversubscribed waiter\'s spin budget shrinks when it sleeps and grows back when it does not, from its floor too', () => {
  const limit = 20_000;
  let b = limit;
  for (let i = 0; i < 40; i++) b = adaptSpin(b, limit, true);
  assert.is(b, limit >> 6); // the floor: it still spins a little, so a wait can end while spinning
  for (let i = 0; i < 64; i++) b = adaptSpin(b, limit, false);
  assert.is(b, limit);
  assert.is(adaptSpin(0, 0, true), 0); // --spin 0: always sleep
  assert.is(adaptSpin(0, 0, false), 0);
});

test('the barrier, spinning or sleeping, with more threads than cores: the same bits as one thread, every wake-up delivered', async () => {
  const rows = 256, cols = 128, nTok = 3, dispatches = 400;
  const r = mulberry32(5);
  const weights = quantize(GGMLType.Q4_0, Float32Array.from({ length: rows * cols }, () => (r() * 2 - 1) * 0.05), cols);
  const xs = Float32Array.from({ length: nTok * cols }, () => r() * 2 - 1);
  const kind = activationOf('q4_0');
  const xqBytes = (cols / 32) * kind.blockBytes * nTok;
  const results: Array<{ label: string; bits: number[] }> = [];
  for (const [threads, spinLimit] of [[1, undefined], [CORES + 1, undefined], [CORES + 1, 0], [2, 0]] as const) {
    const arena = new Arena(planBytes([weights.length, cols * 4 * nTok, xqBytes, rows * 4 * nTok]), 'the test');
    const pool = KernelPool.create(arena.memory, { threads, spinLimit });
    try {
      await pool.ready;
      const w = arena.alloc(weights.length), x = arena.alloc(cols * 4 * nTok), xq = arena.alloc(xqBytes), y = arena.alloc(rows * 4 * nTok);
      arena.bytes(w, weights.length).set(weights);
      arena.f32(x, cols * nTok).set(xs);
      pool.call(kind.activation!.quantizer!, x, xq, cols * nTok);
      const jobs = matmulJobs('q4_0', kind, w, xq, y, cols, rows, nTok);
      for (let i = 0; i < dispatches; i++) {
        arena.f32(y, rows * nTok).fill(NaN);
        pool.run(jobs);
      }
      results.push({ label: `${threads} threads, spin ${spinLimit ?? 'default'}`, bits: Array.from(new Uint32Array(arena.f32(y, rows * nTok).slice().buffer)) });
      if (spinLimit === 0 && threads > 1) {
        assert.ok(pool.waits.sleeps > 0, 'spin 0: the main thread slept in Atomics.wait');
        assert.is(pool.waits.slicesRunOut, 0, 'every sleep was ended by the last worker\'s notify');
      }
    } finally {
      await pool.close();
    }
  }
  for (const res of results.slice(1)) assert.equal(res.bits, results[0].bits, res.label);
});

test.run();
