// Hot kernel swap (issue 14): the ordered checks of a candidate (host/kernels/verify.ts), the switch on
// every kernel thread (host/backends/wasm/pool.ts), and the whole thing over MQTT while serving: five
// swaps of matmul under continuous load, rollback after a trap, roles, the WASI stubs, watch mode.
// The bad modules are built here from AssemblyScript sources, as a third party would make them.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import pino from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KernelPool } from '../host/backends/wasm/pool.js';
import type { WasmBackend } from '../host/backends/wasm/backend.js';
import { generateKeyPair, loadPrivateKey, parseSignature, signModule, type ModuleSignature } from '../host/kernels/keys.js';
import { compileFamily, createSharedMemory, flavoursOf, KERNEL_FAMILIES, kernelModule, kernelsDir, loadManifest, type KernelFamily } from '../host/kernels/load.js';
import { KernelManager } from '../host/kernels/manager.js';
import { KernelRegistry } from '../host/kernels/registry.js';
import { WASI_STUBS } from '../host/kernels/load.js';
import { validator } from '../host/mqtt/protocol.js';
import { startServer, type Server } from '../host/mqtt/server.js';
import { hashPassword, parseUsers } from '../host/mqtt/users.js';
import { wasmSimdSupport } from '../host/profiles/detect.js';
import { buildVariants } from './helpers/kernel-variants.js';
import { connect, sleep } from './helpers/mqtt.js';
import { sharedModel } from './helpers/paths.js';
import { runCli } from './helpers/serve.js';

const tmp = mkdtempSync(join(tmpdir(), 'wisp-kernel-swap-'));
const keysDir = join(tmp, 'keys');
const key = generateKeyPair(keysDir, 'test');
const signer = loadPrivateKey(key.privatePath);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sign = (b: Uint8Array): ModuleSignature => signModule(b, signer);

/** A matmul module as built (kernels/), with the signature the build made with its development key. */
interface BuiltModule { flavour: string; bytes: Uint8Array; sig: ModuleSignature; runs: boolean }
const builtMatmul: BuiltModule[] = flavoursOf('matmul').map((flavour) => {
  const file = kernelModule('matmul', flavour, loadManifest()).file;
  const bytes = readFileSync(join(kernelsDir(), file));
  return { flavour, bytes, sig: parseSignature(readFileSync(join(kernelsDir(), `${file}.sig`), 'utf8'), `${file}.sig`), runs: WebAssembly.validate(bytes) };
});
const relaxed = builtMatmul.find((b) => b.flavour === 'relaxed')!;

// The canary runs matmul on a tile of 4 tokens, 16 rows of 256 columns (host/kernels/canary.ts);
// stories260K's rows are 64 and 172 wide and its prompts run matmul on more than 4 tokens.
const HEAD = "export * from '../../matmul/simd128';\nimport { matmul_f32 as base_matmul_f32, matvec_f32 as base_matvec_f32 } from '../../matmul/float';\n";
const VARIANTS = {
  // wrong results: row r0 of every matvec_f32 call off by one
  wrong: `${HEAD}export function matvec_f32(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  base_matvec_f32(w, x, y, cols, r0, r1);
  if (r1 > r0) store<f32>(y + (<usize>r0 << 2), load<f32>(y + (<usize>r0 << 2)) + 1.0);
}
export function matmul_f32(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void { base_matmul_f32(w, x, y, cols, rows, nTok, r0, r1); }
`,
  // right on the canary, traps on a real prompt: more tokens than the canary's tile
  trap: `${HEAD}export function matmul_f32(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  if (nTok > 4) unreachable();
  base_matmul_f32(w, x, y, cols, rows, nTok, r0, r1);
}
export function matvec_f32(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void { base_matvec_f32(w, x, y, cols, r0, r1); }
`,
  // right on the canary; on rows narrower than the canary's (a real model's) every output is NaN
  nan: `${HEAD}export function matvec_f32(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  base_matvec_f32(w, x, y, cols, r0, r1);
  if (cols < 256) for (let r = r0; r < r1; r++) store<f32>(y + (<usize>r << 2), NaN);
}
export function matmul_f32(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void {
  base_matmul_f32(w, x, y, cols, rows, nTok, r0, r1);
  if (cols < 256) for (let t = 0; t < nTok; t++) for (let r = r0; r < r1; r++) store<f32>(y + ((<usize>t * <usize>rows + <usize>r) << 2), NaN);
}
`,
  // right results; on rows narrower than the canary's it tries to write to stdout and keeps the
  // errno the host's stub returns at the top of the family's static area (to be read by the test)
  wasi: `${HEAD}@external("wasi_snapshot_preview1", "fd_write") declare function fd_write(fd: i32, iovs: usize, n: i32, written: usize): i32;
const SLOT: usize = 65536 + 65536 - 64;
export function matvec_f32(w: usize, x: usize, y: usize, cols: i32, r0: i32, r1: i32): void {
  if (cols < 256) {
    store<u32>(SLOT + 16, <u32>(SLOT + 32));
    store<u32>(SLOT + 20, 7);
    store<u64>(SLOT + 32, 0x0a2164656e7770); // "pwned!\\n"
    store<i32>(SLOT, fd_write(1, SLOT + 16, 1, SLOT + 24));
  }
  base_matvec_f32(w, x, y, cols, r0, r1);
}
export function matmul_f32(w: usize, x: usize, y: usize, cols: i32, rows: i32, nTok: i32, r0: i32, r1: i32): void { base_matmul_f32(w, x, y, cols, rows, nTok, r0, r1); }
`,
};
// Where this runtime runs fewer than two built matmul flavours (relaxed SIMD lacking: Node 20), the
// accepted swap under load needs another module it can run: the baseline's source rebuilt at -Os, a
// different module with the same exports and the same bits (the canary checks them), signed by the test key.
// (-Os, not -O2: an -O2 build is ~4% larger than the -O3 one and no longer fits the default 256 KiB
// payload as base64.)
const needRebuilt = builtMatmul.filter((b) => b.runs).length < 2;
const [built, rebuilt] = await Promise.all([
  buildVariants(tmp, 'matmul', VARIANTS),
  needRebuilt ? buildVariants(tmp, 'matmul', { rebuilt: "export * from '../../matmul/simd128';\n" }, { optimize: '-Os' }) : Promise.resolve(undefined),
]);

// ---- hand-made modules (a few bytes each) ------------------------------------------------------

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const str = (s: string) => [s.length, ...Buffer.from(s)];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];

/** Imports env.memory (shared) and `imports`, exports one function `hello` () -> i32. */
function tinyModule(imports: Array<{ module: string; name: string; params: number }>, exportName = 'hello'): Uint8Array {
  const I32 = 0x7f;
  const types = [...imports.map((i) => [0x60, i.params, ...Array<number>(i.params).fill(I32), 1, I32]), [0x60, 0, 1, I32]];
  const importEntries = [
    ...str('env'), ...str('memory'), 0x02, 0x03, 17, ...uleb(65536),
    ...imports.flatMap((i, t) => [...str(i.module), ...str(i.name), 0x00, t]),
  ];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, [types.length, ...types.flat()]),
    ...section(2, [imports.length + 1, ...importEntries]),
    ...section(3, [1, imports.length]),
    ...section(7, [1, ...str(exportName), 0x00, imports.length]),
    ...section(10, [1, 4, 0, 0x41, 0, 0x0b]),
  ]);
}

const log = pino({ level: 'silent' });
function manager(policy: ConstructorParameters<typeof KernelManager>[0]['policy'] = {}): KernelManager {
  return new KernelManager({ registry: KernelRegistry.open(), threads: () => [], log, trustedKeyDirs: [keysDir, kernelsDir()], policy: { maxSlowdown: 4, ...policy } });
}
const candidate = (module: Uint8Array, extra: { signature?: ModuleSignature; sha256?: string; family?: string } = {}) => ({
  family: extra.family ?? 'matmul',
  module,
  sha256: extra.sha256 ?? sha256(module),
  ...('signature' in extra ? (extra.signature ? { signature: extra.signature } : {}) : { signature: sign(module) }),
});

// ---- the checks, in order ------------------------------------------------------------------------

test('a candidate is refused at the first check it fails: size, sha256, signature, exports, compile (a flavour this runtime lacks), canary; every built flavour it runs passes, signed by the build', async () => {
  const m = manager({ maxBytes: 200_000 });
  try {
    const refusals: Array<[string, Awaited<ReturnType<KernelManager['verify']>>]> = [
      ['size', await m.verify(candidate(new Uint8Array(200_001)))],
      ['sha256', await m.verify(candidate(relaxed.bytes, { sha256: '0'.repeat(64) }))],
      ['signature', await m.verify(candidate(relaxed.bytes, { signature: undefined }))],
      ['signature', await m.verify(candidate(relaxed.bytes, { signature: { ...sign(relaxed.bytes), signature: sign(built.wrong).signature } }))],
      ['exports', await m.verify(candidate(tinyModule([])))],
      ['exports', await m.verify(candidate(relaxed.bytes, { family: 'attn' }))],
      ['canary', await m.verify(candidate(built.wrong))],
    ];
    for (const [check, v] of refusals) {
      assert.is(v.ok, false, check);
      if (!v.ok) assert.is(v.check, check, v.reason);
    }
    const reason = (i: number) => (refusals[i][1] as { reason: string }).reason;
    assert.match(reason(0), /^the module is 200001 bytes; the limit is 200000$/);
    assert.match(reason(1), /^the module's sha256 is [0-9a-f]{64}, not the 0{64} sent with it$/);
    assert.match(reason(2), /not signed, and this device's profile does not allow unsigned kernels/);
    assert.match(reason(3), /does not verify with key/);
    assert.match(reason(4), /^the exports differ from the matmul family's ABI: missing \w+ \(/);
    assert.match(reason(6), /^matvec_f32: first call: output 0 is .*, the trusted module gives/);
    // a key the device does not trust
    const other = generateKeyPair(join(tmp, 'untrusted'), 'other');
    const v = await m.verify(candidate(relaxed.bytes, { signature: signModule(relaxed.bytes, loadPrivateKey(other.privatePath)) }));
    assert.ok(!v.ok && v.check === 'signature' && new RegExp(`signed by key ${other.id}, which this device does not trust`).test(v.reason), JSON.stringify(v));
    // each built flavour, signed by the build's development key: one this runtime validates passes
    // everything; one it cannot (relaxed on Node 20) is refused at compile, naming this runtime
    assert.equal(builtMatmul.map((b) => b.flavour), ['simd128', 'relaxed']);
    assert.is(relaxed.runs, wasmSimdSupport().relaxedSimd, 'the relaxed flavour validates exactly where relaxed SIMD does');
    for (const b of builtMatmul) {
      const v = await m.verify(candidate(b.bytes, { signature: b.sig }));
      if (b.runs) {
        assert.ok(v.ok, `${b.flavour}: ${JSON.stringify(v)}`);
        if (v.ok) assert.is(v.signedBy, b.sig.key);
      } else {
        assert.ok(!v.ok && v.check === 'compile', `${b.flavour}: ${JSON.stringify(v)}`);
        if (!v.ok) assert.match(v.reason, new RegExp(`^this runtime \\(Node ${process.versions.node}\\) cannot compile it: .*relaxed`));
      }
    }
  } finally {
    await m.close();
  }
});

test('a module importing path_open, fd_read, random_get or an env function is refused at imports', async () => {
  const m = manager();
  try {
    for (const [mod, name, params] of [['wasi_snapshot_preview1', 'path_open', 9], ['wasi_snapshot_preview1', 'fd_read', 4], ['wasi_snapshot_preview1', 'random_get', 2], ['env', 'abort', 4], ['env', 'seed', 0]] as const) {
      const v = await m.verify(candidate(tinyModule([{ module: mod, name, params }])));
      assert.ok(!v.ok && v.check === 'imports', `${mod}.${name}: ${JSON.stringify(v)}`);
      if (!v.ok) assert.ok(v.reason.startsWith(`imports ${mod}.${name}, which is not on the allow-list (env.memory, wasi_snapshot_preview1.proc_exit, wasi_snapshot_preview1.fd_write)`), v.reason);
    }
    // an allowed name with another signature is not the allowed import
    const v = await m.verify(candidate(tinyModule([{ module: 'wasi_snapshot_preview1', name: 'fd_write', params: 2 }])));
    assert.ok(!v.ok && v.check === 'imports' && /fd_write as \(i32, i32\) -> i32; the allow-list has \(i32, i32, i32, i32\) -> i32/.test(v.reason), JSON.stringify(v));
  } finally {
    await m.close();
  }
});

// ---- the switch on every thread --------------------------------------------------------------------

test('the pool switches a family on every thread in one dispatch, and back', async () => {
  const memory = createSharedMemory(64);
  const modules = Object.fromEntries(KERNEL_FAMILIES.map((f) => [f, compileFamily(f)])) as Record<KernelFamily, WebAssembly.Module>;
  const pool = KernelPool.create(memory, { threads: 3, modules });
  try {
    await pool.ready;
    const rows = 24, cols = 64;
    const w = 1 << 20, x = w + rows * cols * 4, y = x + cols * 4;
    const f = new Float32Array(memory.buffer);
    f.fill(0, w / 4, y / 4 + rows);
    for (let c = 0; c < cols; c++) f[x / 4 + c] = 1;
    const job = { kernel: 'matvec_f32', args: [w, x, y, cols, 0, 0], split: { total: rows, grain: 4, startArg: 4, endArg: 5 } };
    const run = () => {
      f.fill(0, y / 4, y / 4 + rows);
      pool.run([job]);
      return Array.from(f.subarray(y / 4, y / 4 + rows));
    };
    assert.ok(run().every((v) => v === 0));
    pool.swap({ matmul: new WebAssembly.Module(built.wrong) });
    // the wrong module adds 1 to the first row of each call: each of the 3 threads' shares starts with a 1
    assert.equal(run().map((v, r) => (v === 1 ? r : -1)).filter((r) => r >= 0), [0, 8, 16]);
    pool.swap({ matmul: modules.matmul });
    assert.ok(run().every((v) => v === 0));
  } finally {
    await pool.close();
  }
});

// ---- serving ---------------------------------------------------------------------------------------

const DEVICE = 'swap-box';
const PROMPTS = [
  'Once upon a time there was a little girl',
  'The cat sat on the mat and looked at the',
  'Tom and his dog went to the park to play',
  'One day a big red ball rolled down the hill',
  'Lily wanted to bake a cake for her mom',
  'The sun was hot and the children ran to the',
];
let server: Server;
let clientConn: MqttClient;
let ops: MqttClient;
const replies = new Map<string, { text: string; error?: { code: string; message: string }; done: boolean; prompt: string }>();

test.before(async () => {
  const password = await hashPassword('pw');
  server = await startServer({
    modelPath: sharedModel('stories260K.gguf'),
    device: DEVICE,
    host: '127.0.0.1',
    port: 0,
    users: parseUsers({ users: { alice: { role: 'client', password }, ops: { role: 'operator', password } } }),
    maxSequences: 5,
    contextSize: 256,
    threads: 2,
    rate: { messagesPerSecond: 1000, burst: 1000 },
    trustedKeyDirs: [keysDir, kernelsDir()],
    kernelPolicy: { maxSlowdown: 4, probationSteps: 1000 },
    log,
  });
  clientConn = await connect(server.url, { username: 'alice', password: 'pw' });
  ops = await connect(server.url, { username: 'ops', password: 'pw' });
  clientConn.on('message', (_t, payload) => {
    const m = JSON.parse(payload.toString()) as { id: string; text?: string; done?: boolean; error?: { code: string; message: string } };
    const r = replies.get(m.id);
    if (!r) return;
    if (m.error) r.error = m.error;
    else if (!m.done && m.text) r.text += m.text;
    if (m.done) r.done = true;
  });
  await clientConn.subscribeAsync(`wisp/${DEVICE}/reply/alice/#`, { qos: 1 });
});

test.after(async () => {
  await clientConn?.endAsync();
  await ops?.endAsync();
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

let nextId = 0;
function ask(prompt: string, maxTokens = 48): string {
  const id = `r${nextId++}`;
  replies.set(id, { text: '', done: false, prompt });
  void clientConn.publishAsync(`wisp/${DEVICE}/infer`, JSON.stringify({ id, prompt, max_tokens: maxTokens, temperature: 0 }), { qos: 1 });
  return id;
}

async function allDone(ids: string[], timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!ids.every((id) => replies.get(id)!.done)) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`requests without a final message: ${ids.filter((id) => !replies.get(id)!.done).join(', ')}`);
    await sleep(20);
  }
}

async function askAlone(prompt: string): Promise<{ text: string }> {
  const id = ask(prompt);
  await allDone([id]);
  return replies.get(id)!;
}

async function control(client: MqttClient, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const id = `k${nextId++}`;
  const topic = `wisp/${DEVICE}/reply/ops/${id}`;
  await client.subscribeAsync(topic, { qos: 1 });
  const got = new Promise<Record<string, unknown>>((resolve) => {
    const on = (t: string, p: Buffer) => {
      if (t !== topic) return;
      client.removeListener('message', on);
      resolve(JSON.parse(p.toString()) as Record<string, unknown>);
    };
    client.on('message', on);
  });
  await client.publishAsync(`wisp/${DEVICE}/control/kernels`, JSON.stringify({ id, ...body }), { qos: 1 });
  const r = await got;
  assert.ok(validator('kernel-control-reply')(r) || validator('reply')(r), JSON.stringify(r));
  return r;
}

/**
 * The module the accepted swap sends: a built flavour other than the one in use that this runtime
 * runs, with the build's signature (Node 22+: relaxed or simd128, whichever the load-time choice did
 * not take); where there is none, the baseline rebuilt at -Os, signed by the test key.
 */
function otherModule(activeSha: string): { name: string; bytes: Uint8Array; sig: ModuleSignature } {
  const b = builtMatmul.find((x) => x.runs && sha256(x.bytes) !== activeSha);
  if (b) return { name: `${b.flavour}-built`, bytes: b.bytes, sig: b.sig };
  assert.ok(rebuilt, 'the rebuilt baseline was made where fewer than two built flavours run');
  return { name: 'rebuilt-Os', bytes: rebuilt.rebuilt, sig: sign(rebuilt.rebuilt) };
}

const swapBody = (module: Uint8Array, name: string, signature?: ModuleSignature) => ({
  command: 'swap', family: 'matmul', module: Buffer.from(module).toString('base64'), sha256: sha256(module), name, ...(signature ? { signature } : {}),
});

test('five swaps of matmul under four continuous streams: accepted, canary refusal, trap rolled back (one request errors), unsigned, wrong ABI; every stream gets its final message and its no-swap text', async () => {
  // the run without swaps: each prompt's greedy text (the streams' prompts and the one sent after the trapping swap)
  const victimPrompt = 'Once upon a time there was a big dog who liked to run';
  const expected = new Map<string, string>();
  const first = [...PROMPTS, victimPrompt].map((p) => ask(p));
  await allDone(first);
  for (const id of first) {
    const r = replies.get(id)!;
    assert.not.ok(r.error, JSON.stringify(r.error));
    expected.set(r.prompt, r.text);
  }
  // continuous load: four streams, each restarted with the next prompt when it ends
  const ids: string[] = [];
  let loading = true;
  let k = 0;
  const stream = async () => {
    while (loading) {
      const id = ask(PROMPTS[k++ % PROMPTS.length]);
      ids.push(id);
      await allDone([id]);
    }
  };
  const streams = [stream(), stream(), stream(), stream()];
  const wasm = server.model.forward!.backend('wasm') as WasmBackend;
  // each swap is sent while four streams are in flight (a stream that just ended restarts at once)
  const inFlight = () => ids.filter((id) => !replies.get(id)!.done).length;
  const loaded: number[] = [];
  const controlUnderLoad = async (client: MqttClient, body: Record<string, unknown>) => {
    for (let i = 0; i < 500 && inFlight() < 4; i++) await sleep(5);
    loaded.push(inFlight());
    return control(client, body);
  };

  // the accepted swap: a module other than the one in use that this runtime runs
  const other = otherModule(server.kernels!.registry.active('matmul').sha256);
  assert.is.not(sha256(other.bytes), server.kernels!.registry.active('matmul').sha256, 'a module other than the one in use');
  const s1 = await controlUnderLoad(ops, swapBody(other.bytes, other.name, other.sig));
  assert.is(s1.ok, true, JSON.stringify(s1));
  assert.equal([(s1.active as { flavour: string }).flavour, (s1.active as { source: string }).source], [other.name, 'swap']);

  const s2 = await controlUnderLoad(ops, swapBody(built.wrong, 'wrong', sign(built.wrong)));
  assert.equal([s2.ok, s2.check], [false, 'canary'], JSON.stringify(s2));
  assert.match(String(s2.reason), /^canary: matvec_f32: first call: output 0 is/);

  const s3 = await controlUnderLoad(ops, swapBody(built.trap, 'trap', sign(built.trap)));
  assert.is(s3.ok, true, JSON.stringify(s3));
  // the next prompt admitted runs matmul on more than 4 tokens: it traps, the swap is rolled back
  // (that prompt is this one, or a stream's that started just before it)
  const victim = ask(victimPrompt);
  ids.push(victim);
  await allDone([victim]);
  for (let i = 0; i < 200 && server.kernels!.registry.active('matmul').flavour !== other.name; i++) await sleep(20);
  assert.is(server.kernels!.registry.active('matmul').flavour, other.name);

  const s4 = await controlUnderLoad(ops, swapBody(other.bytes, 'unsigned'));
  assert.equal([s4.ok, s4.check], [false, 'signature'], JSON.stringify(s4));
  assert.match(String(s4.reason), /not signed/);

  const abi = tinyModule([]);
  const s5 = await controlUnderLoad(ops, swapBody(abi, 'abi', sign(abi)));
  assert.equal([s5.ok, s5.check], [false, 'exports'], JSON.stringify(s5));
  assert.match(String(s5.reason), /differ from the matmul family's ABI/);

  loading = false;
  await Promise.all(streams);
  await allDone(ids);
  assert.equal(loaded, [4, 4, 4, 4, 4], 'streams in flight when each swap was sent');
  const failed = ids.filter((id) => replies.get(id)!.error);
  assert.is(failed.length, 1, `exactly one request failed: ${failed.map((id) => JSON.stringify(replies.get(id)!.error)).join('; ')}`);
  const f = replies.get(failed[0])!;
  assert.is(f.error!.code, 'model_error');
  assert.match(f.error!.message, new RegExp(`unreachable.*rolled back to '${other.name}'`));
  for (const id of ids) {
    const r = replies.get(id)!;
    if (id === failed[0]) continue;
    assert.is(r.text, expected.get(r.prompt), `${id} (${r.prompt})`);
  }
  // the one failed request aside, nothing was lost; the pool is in service
  assert.is(wasm.pool.threads, 2);
  const status = server.service.statusPayload(true) as { kernels: Record<string, { flavour: string; sha256: string; source: string }> };
  assert.equal(status.kernels.matmul, { flavour: other.name, sha256: sha256(other.bytes), source: 'swap' });
  const metrics = await server.metrics.metricsText();
  assert.match(metrics, /wisp_kernel_swaps_total\{family="matmul",outcome="swapped"\} 2/);
  assert.match(metrics, /wisp_kernel_swaps_total\{family="matmul",outcome="rejected"\} 3/);
  assert.match(metrics, /wisp_kernel_swaps_total\{family="matmul",outcome="rolled_back"\} 1/);
  console.log(`swap timings: accepted swap (${other.name}) verify ${s1.verify_ms} ms, switch ${s1.switch_ms} ms (waited ${s1.waited_ms} ms for the step in flight); trap swap verify ${s3.verify_ms} ms, switch ${s3.switch_ms} ms`);
});

test('a client cannot list, swap or roll back (the broker refuses the publish); an operator can', async () => {
  for (const body of [{ command: 'list' }, { command: 'rollback', family: 'matmul' }, swapBody(relaxed.bytes, 'x', relaxed.sig)]) {
    const err = await clientConn.publishAsync(`wisp/${DEVICE}/control/kernels`, JSON.stringify({ id: 'c1', ...body }), { qos: 1 }).then(() => null, (e: { code?: number }) => e);
    assert.is(err?.code, 0x87, `${body.command}: not authorized`);
  }
  const list = await control(ops, { command: 'list' });
  const fams = list.families as Record<string, { active: { flavour: string }; history: Array<{ flavour: string }> }>;
  assert.equal(Object.keys(fams), [...KERNEL_FAMILIES]);
  const before = fams.matmul.active.flavour;
  const back = await control(ops, { command: 'rollback', family: 'matmul' });
  assert.is(back.ok, true, JSON.stringify(back));
  assert.is((back.active as { flavour: string }).flavour, fams.matmul.history[0].flavour);
  assert.is.not((back.active as { flavour: string }).flavour, before);
  const id = ask(PROMPTS[0]);
  await allDone([id]);
  assert.not.ok(replies.get(id)!.error);
});

test('a module that gives NaN on real inputs is rolled back at its first step: that request gets model_error, the next one runs', async () => {
  const before = server.kernels!.registry.active('matmul');
  const s = await control(ops, swapBody(built.nan, 'nan', sign(built.nan)));
  assert.is(s.ok, true, JSON.stringify(s));
  const bad = ask(PROMPTS[2]);
  await allDone([bad]);
  const r = replies.get(bad)!;
  assert.is(r.error?.code, 'model_error', JSON.stringify(r));
  assert.match(r.error!.message, /non-finite logit.*rolled back to '/);
  assert.is(server.kernels!.registry.active('matmul').sha256, before.sha256);
  const good = await askAlone(PROMPTS[2]);
  assert.not.ok((good as { error?: unknown }).error);
});

test('an allowed WASI import called while serving grants nothing: fd_write gets ENOSYS and writes nothing', async () => {
  const s = await control(ops, swapBody(built.wasi, 'wasi', sign(built.wasi)));
  assert.is(s.ok, true, JSON.stringify(s));
  const wasm = server.model.forward!.backend('wasm') as WasmBackend;
  const slot = 65536 + 65536 - 64;
  new Int32Array(wasm.arena.memory.buffer, slot, 1)[0] = -1;
  const written: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    written.push(String(chunk));
    return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  try {
    const id = ask(PROMPTS[1]);
    await allDone([id]);
    assert.not.ok(replies.get(id)!.error);
  } finally {
    process.stdout.write = write;
  }
  assert.is(new Int32Array(wasm.arena.memory.buffer, slot, 1)[0], WASI_STUBS.fd_write(), 'the kernel got the stub\'s ENOSYS');
  assert.not.ok(written.join('').includes('pwned'), 'nothing reached stdout');
  assert.is((await control(ops, { command: 'rollback', family: 'matmul' })).ok, true);
});

test('watch mode: a signed module dropped into the directory is swapped in; an unsigned one is refused and logged', async () => {
  const dir = join(tmp, 'watch');
  mkdirSync(dir);
  const lines: string[] = [];
  const logger = { info: (_o: object, m: string) => lines.push(m), warn: (_o: object, m: string) => lines.push(m), error: (_o: object, m: string) => lines.push(m) };
  const { watchKernelsDir } = await import('../host/kernels/watch.js');
  const watcher = watchKernelsDir(dir, server.kernels!, logger);
  try {
    writeFileSync(join(dir, 'matmul.nosig.wasm'), built.wrong);
    writeFileSync(join(dir, 'matmul.dropped.wasm.sig'), JSON.stringify(sign(built.wasi)));
    writeFileSync(join(dir, 'matmul.dropped.wasm'), built.wasi);
    for (let i = 0; i < 600 && server.kernels!.registry.active('matmul').flavour !== 'dropped'; i++) await sleep(50);
    assert.is(server.kernels!.registry.active('matmul').flavour, 'dropped', lines.join('\n'));
    for (let i = 0; i < 200 && !lines.some((l) => l.includes('matmul.nosig.wasm refused')); i++) await sleep(50);
    assert.ok(lines.some((l) => /matmul\.nosig\.wasm refused: signature: the module is not signed/.test(l)), lines.join('\n'));
  } finally {
    watcher.close();
  }
});

test('wisp kernels: keygen and sign make a signature the device accepts; list, verify and swap talk to the device as an operator', async () => {
  const dir = join(tmp, 'cli-keys');
  const keygen = await runCli(['kernels', 'keygen', '--dir', dir, '--name', 'ops-key']);
  assert.is(keygen.code, 0, keygen.err);
  assert.is(statSync(join(dir, 'ops-key.key')).mode & 0o777, 0o600);
  const file = join(tmp, 'matmul.cli.wasm');
  writeFileSync(file, built.trap);
  const signed = await runCli(['kernels', 'sign', file, '--key', join(dir, 'ops-key.key')]);
  assert.is(signed.code, 0, signed.err);
  const sig = parseSignature(readFileSync(`${file}.sig`, 'utf8'), 'sig');
  assert.match(keygen.out, new RegExp(`^key ${sig.key}\n`));
  const env = { WISP_BROKER_PASSWORD: 'pw' };
  const remote = ['--broker', server.url, '--device', DEVICE, '--user', 'ops'];
  const list = await runCli(['kernels', 'list', ...remote], env);
  assert.is(list.code, 0, list.err);
  assert.match(list.out, /^matmul: \S+ [0-9a-f]{12} \((built|swap), since /m);
  assert.match(list.out, /^trusted keys: .*\(/m);
  // the device does not trust this new key: refused at signature, exit 1
  const swap = await runCli(['kernels', 'swap', 'matmul', file, ...remote], env);
  assert.is(swap.code, 1);
  assert.match(swap.out, new RegExp(`^matmul: refused at signature: signed by key ${sig.key}, which this device does not trust`));
  // verify FILE: the family from the file's name (matmul.cli.wasm), the same checks without a swap
  const verify = await runCli(['kernels', 'verify', file, ...remote], env);
  assert.is(verify.code, 1);
  assert.match(verify.out, new RegExp(`^matmul: refused at signature: signed by key ${sig.key}`));
  const unnamed = await runCli(['kernels', 'verify', join(tmp, 'x.wasm'), ...remote], env);
  assert.is.not(unnamed.code, 0);
  assert.match(unnamed.err, /which family\? name it \(verify FAMILY FILE\)/);
  const asClient = await runCli(['kernels', 'list', '--broker', server.url, '--device', DEVICE, '--user', 'alice'], env);
  assert.is.not(asClient.code, 0);
});

test.run();
