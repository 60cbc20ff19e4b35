// The catalog's real models, as a user meets them: an entry whose publisher states no sha256 (and only a
// rounded size) is pulled from a local HTTP server, its hash recorded on the first download and checked on
// every later one; with no --model, the catalog default when it is on this machine, else the offline model
// when that is, without a request; `wisp models` says which fit this device's memory.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Catalog, CatalogEntry } from '../host/model/catalog.js';
import { type PullError, pullCommand, pullModel } from '../host/model/pull.js';
import { recordPath, recordedHash } from '../host/model/recorded-hash.js';
import { serveFile } from './helpers/http-file.js';
import { runCli } from './helpers/serve.js';
import { sharedModel } from './helpers/paths.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'wisp-catalog-models-'));
  dirs.push(d);
  return d;
}
test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const STORIES = readFileSync(sharedModel('stories260K.gguf'));
const STORIES_SHA = createHash('sha256').update(STORIES).digest('hex');

/** An entry as the catalog's hub models are: no sha256, a rounded size. */
function unpublished(url: string): CatalogEntry {
  return { name: 'hub-model', file: 'hub-model.gguf', url, size: 1_200_000, size_approximate: true, license: 'Apache-2.0', description: 'test' };
}

function env(): NodeJS.ProcessEnv {
  return { HOME: tempDir(), WISP_CACHE_DIR: tempDir() };
}

test('a model whose publisher states no sha256 is downloaded whatever its exact size, and its hash recorded beside it', async () => {
  const server = await serveFile('/hub-model.gguf', STORIES);
  try {
    const dir = tempDir();
    const out: string[] = [];
    const r = await pullCommand('hub-model', { catalog: { default: 'hub-model', models: [unpublished(`${server.origin}/hub-model.gguf`)] }, dir, env: env(), progress: false, out: (l) => out.push(l) });
    assert.is(r.bytes, STORIES.length);
    assert.is(r.hashSource, 'recorded-now');
    assert.ok(readFileSync(r.path).equals(STORIES));
    assert.is(readFileSync(recordPath(r.path), 'utf8'), `${STORIES_SHA}  hub-model.gguf\n`); // sha256sum's format
    assert.equal(out, [`hub-model: downloaded 1.2 MB to ${r.path} (sha256 ${STORIES_SHA.slice(0, 12)}… recorded in ${r.path}.sha256: the publisher states none, so later pulls check against this one)`]);
  } finally {
    await server.close();
  }
});

test('a later pull checks the file against the recorded hash: present and intact, nothing fetched; damaged, fetched again', async () => {
  const server = await serveFile('/hub-model.gguf', STORIES);
  try {
    const dir = tempDir();
    const entry = unpublished(`${server.origin}/hub-model.gguf`);
    const first = await pullModel(entry, { dir, env: env() });
    const again = await pullModel(entry, { dir, env: env() });
    assert.equal([again.alreadyPresent, again.hashSource, server.requests.length], [true, 'recorded', 1]);
    const damaged = Buffer.from(STORIES);
    damaged[1000] ^= 1;
    writeFileSync(first.path, damaged);
    const fixed = await pullModel(entry, { dir, env: env() });
    assert.equal([fixed.alreadyPresent, fixed.hashSource, server.requests.length], [false, 'recorded', 2]);
    assert.ok(readFileSync(first.path).equals(STORIES));
  } finally {
    await server.close();
  }
});

test('a download that differs from the recorded hash is refused and deleted, naming the record', async () => {
  const dir = tempDir();
  const path = join(dir, 'hub-model.gguf');
  writeFileSync(recordPath(path), `${'0'.repeat(64)}  hub-model.gguf\n`);
  assert.is(recordedHash(path), '0'.repeat(64));
  const server = await serveFile('/hub-model.gguf', STORIES);
  try {
    await pullModel(unpublished(`${server.origin}/hub-model.gguf`), { dir, env: env() }).then(
      () => assert.unreachable('the pull should fail'),
      (err: PullError) => {
        assert.is(err.code, 'WISP_PULL_VERIFY');
        assert.match(err.message, `has sha256 ${STORIES_SHA}, expected ${'0'.repeat(64)} (recorded by the first download, in ${path}.sha256)`);
      },
    );
    assert.not.ok(existsSync(path));
    assert.not.ok(existsSync(`${path}.part`));
  } finally {
    await server.close();
  }
});

/** A catalog file whose default is a hub model at an address that refuses connections, with stories260K as the offline model. */
function catalogFile(dir: string, fallback: boolean): string {
  const stories: CatalogEntry = { name: 'tiny-offline', file: 'stories260K.gguf', url: 'http://127.0.0.1:9/stories260K.gguf', sha256: STORIES_SHA, size: STORIES.length, license: 'MIT', description: 'test' };
  const c: Catalog = { default: 'hub-model', ...(fallback ? { fallback: 'tiny-offline' } : {}), models: [unpublished('http://127.0.0.1:9/hub-model.gguf'), stories] };
  const path = join(dir, 'catalog.json');
  writeFileSync(path, JSON.stringify(c));
  return path;
}

test('with no --model, the default not on this machine and the offline model on it, wisp uses the offline model and says why, with no download', async () => {
  const dir = tempDir();
  const r = await runCli(['run', '-n', '4', '--temp', '0', '--prompt', 'Once'], { WISP_CATALOG: catalogFile(dir, true), WISP_CACHE_DIR: join(dir, 'cache') });
  assert.is(r.code, 0, r.err);
  assert.match(r.err, /^wisp: hub-model \(the catalog default, ≈1\.2 MB\) is not on this machine; using tiny-offline, the offline model, found at .*stories260K\.gguf\. `[^`]*wisp pull hub-model` downloads the default\.$/m);
  assert.not.match(r.err, /downloading|could not reach/);
  assert.match(r.out, /^Once/);
});

test('with no offline model either, the default is pulled, and a failed pull says what it tried', async () => {
  const dir = tempDir();
  const r = await runCli(['run', '-n', '4', '--prompt', 'Once'], { WISP_CATALOG: catalogFile(dir, false), WISP_CACHE_DIR: join(dir, 'cache') });
  assert.is(r.code, 1);
  assert.match(r.err, /wisp: hub-model is not on this machine: downloading it \(≈1\.2 MB from 127\.0\.0\.1:9, its sha256 recorded: the publisher states none\)/);
  assert.match(r.err, /wisp pull hub-model: could not reach 127\.0\.0\.1:9/);
});

test('wisp models says which models fit this device\'s memory budget, and when the default does not', async () => {
  const dir = tempDir();
  const small: CatalogEntry = { name: 'small', file: 'small.gguf', url: 'http://127.0.0.1:9/small.gguf', size: 1000, license: 'MIT', description: 'test' };
  const huge: CatalogEntry = { ...small, name: 'huge', file: 'huge.gguf', size: 10 ** 16, size_approximate: true };
  const path = join(dir, 'catalog.json');
  writeFileSync(path, JSON.stringify({ default: 'huge', models: [huge, small] }));
  const r = await runCli(['models', '--profile', 'raspberry-pi-4'], { WISP_CATALOG: path, WISP_CACHE_DIR: join(dir, 'cache') });
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^memory: [\d.]+ [kMGT]B for a model \(profile raspberry-pi-4: (the smaller of 3072 MiB and 50% of this machine's [\d.]+ [kMGT]B)\)$/m);
  assert.match(r.out, /^ {2}huge \(default\): ≈10\.0 PB|^ {2}huge \(default\): ≈10000\.0 TB/m);
  assert.match(r.out, /^ {2}huge \(default\): .*; does not fit \(needs ≈[\d.]+ TB\); not on disk \(wisp pull huge\)$/m);
  assert.match(r.out, /^ {2}small: 1\.0 kB, MIT; fits; not on disk \(wisp pull small\)$/m);
  assert.match(r.out, /^the default, huge, does not fit: run a smaller model with --model NAME$/m);
});

test.run();
