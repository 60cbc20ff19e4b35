// Models on disk: the search path (resolveModel) and `wisp pull` against a local HTTP server.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect as tcpConnect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { loadCatalog, type Catalog, type CatalogEntry } from '../host/model/catalog.js';
import { ModelNotFoundError, modelSearchDirs, resolveModel, userCacheDir } from '../host/model/resolve.js';
import { PullError, pullCommand, pullModel } from '../host/model/pull.js';

// ---------------------------------------------------------------------------------------------
// Fixtures

const tempDirs: string[] = [];
function tempDir(label = 'wisp-models-'): string {
  const dir = mkdtempSync(join(tmpdir(), label));
  tempDirs.push(dir);
  return dir;
}

function touch(dir: string, name: string, body = 'GGUF dummy'): string {
  mkdirSync(dir, { recursive: true });
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
}

/** Deterministic pseudo-random bytes (xorshift32), an odd length so nothing lines up by accident. */
function randomBytes(n: number, seed = 0x2545f491): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const DATA = randomBytes(3 * 1024 * 1024 + 12345);
const DATA_SHA = createHash('sha256').update(DATA).digest('hex');

interface ServerOptions {
  /** First request only: send this many body bytes, then destroy the socket. */
  cutAfter?: number;
  /** Answer every request with 200 and the whole file, as servers without Range support do. */
  ignoreRange?: boolean;
  /** Send the headers, then nothing. */
  stall?: boolean;
}

interface TestServer {
  url: string;
  requests: { path: string; range?: string }[];
  close(): Promise<void>;
}

/** Serves DATA at /model.gguf with Range support; anything else is a 404. */
async function startServer(opts: ServerOptions = {}): Promise<TestServer> {
  const requests: TestServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    requests.push({ path: req.url ?? '', range: req.headers.range });
    if (req.url !== '/model.gguf') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such file');
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    let start = 0;
    if (m && !opts.ignoreRange) {
      start = Number(m[1]);
      if (start >= DATA.length) {
        res.writeHead(416, { 'content-range': `bytes */${DATA.length}` }).end();
        return;
      }
      res.writeHead(206, { 'content-length': DATA.length - start, 'content-range': `bytes ${start}-${DATA.length - 1}/${DATA.length}` });
    } else {
      res.writeHead(200, { 'content-length': DATA.length });
    }
    const body = DATA.subarray(start);
    if (opts.stall) {
      res.flushHeaders();
    } else if (opts.cutAfter !== undefined && requests.length === 1) {
      res.write(body.subarray(0, opts.cutAfter), () => res.socket?.destroy());
    } else {
      res.end(body);
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

async function withServer(opts: ServerOptions, fn: (s: TestServer) => Promise<void>): Promise<void> {
  const s = await startServer(opts);
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

function entryFor(url: string, over: Partial<CatalogEntry> = {}): CatalogEntry {
  return { name: 'tiny', file: 'tiny.gguf', url, sha256: DATA_SHA, size: DATA.length, license: 'MIT', description: 'test data', ...over };
}

async function pullError(p: Promise<unknown>): Promise<PullError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, PullError);
    return err as PullError;
  }
  throw new Error('expected the pull to fail');
}

const noFetch: typeof fetch = async () => {
  throw new Error('no request should be made');
};

/** An environment that never touches the real user cache or WISP_MODEL_PATH. */
function isolatedEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { HOME: tempDir('wisp-home-'), WISP_CACHE_DIR: tempDir('wisp-cache-'), ...extra };
}

const catalog: Catalog = loadCatalog();
const tinyCatalog: Catalog = { default: 'tiny', models: [entryFor('http://127.0.0.1:9/model.gguf')] };

test.after(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Search path

test('modelSearchDirs lists WISP_MODEL_PATH dirs in order, then <repo>/models, then the test data beside the checkout, then the user cache', () => {
  const a = tempDir();
  const b = tempDir();
  const env = isolatedEnv({ WISP_MODEL_PATH: [a, '', b].join(delimiter) });
  const parent = tempDir();
  const root = join(parent, 'checkout');
  mkdirSync(join(parent, 'shared', 'models'), { recursive: true });
  assert.equal(modelSearchDirs({ env, root }), [a, b, join(root, 'models'), join(parent, 'shared', 'models'), env.WISP_CACHE_DIR]);
  // no test data beside it (an installed package): not listed
  assert.equal(modelSearchDirs({ env, root: join(tempDir(), 'pkg') }).length, 4);
});

test('every command finds a model in the test data beside the checkout, with no WISP_MODEL_PATH', () => {
  const parent = tempDir();
  const root = join(parent, 'checkout');
  const file = touch(join(parent, 'shared', 'models'), 'foo.gguf');
  assert.is(resolveModel('foo', { env: isolatedEnv(), root, catalog }).path, file);
});

test('a file in the current folder wins over one of the same name on the search path', () => {
  const cwd = tempDir();
  const here = touch(cwd, 'README.md', 'not a model');
  const dir = tempDir();
  touch(dir, 'README.md', 'elsewhere');
  assert.is(resolveModel('README.md', { env: isolatedEnv({ WISP_MODEL_PATH: dir }), cwd, catalog }).path, here);
});

test('a directory named x.gguf is reported as a directory, not as "not found"', () => {
  const cwd = tempDir();
  mkdirSync(join(cwd, 'x.gguf'));
  try {
    resolveModel('x.gguf', { env: isolatedEnv(), cwd, catalog });
    assert.unreachable('should not resolve');
  } catch (err) {
    assert.instance(err, ModelNotFoundError);
    assert.match((err as Error).message, 'model path x.gguf is a directory, not a GGUF file');
    assert.not.match((err as Error).message, 'not found');
  }
  // on the search path too
  const dir = tempDir();
  mkdirSync(join(dir, 'y.gguf'));
  try {
    resolveModel('y', { env: isolatedEnv({ WISP_MODEL_PATH: dir }), catalog });
    assert.unreachable('should not resolve');
  } catch (err) {
    assert.match((err as Error).message, `${join(dir, 'y.gguf')} is a directory, not a model file`);
  }
});

test('modelSearchDirs puts extraDirs first and resolves relative WISP_MODEL_PATH entries against cwd', () => {
  const cwd = tempDir();
  const extra = tempDir();
  const env = isolatedEnv({ WISP_MODEL_PATH: 'rel/models' });
  const dirs = modelSearchDirs({ env, cwd, extraDirs: [extra] });
  assert.equal(dirs.slice(0, 2), [extra, join(cwd, 'rel', 'models')]);
});

test('the user cache is WISP_CACHE_DIR, else XDG_CACHE_HOME/wisp/models, else ~/.cache/wisp/models', () => {
  assert.is(userCacheDir({ WISP_CACHE_DIR: '/c/wisp', XDG_CACHE_HOME: '/x', HOME: '/h' }), '/c/wisp');
  assert.is(userCacheDir({ XDG_CACHE_HOME: '/x', HOME: '/h' }), '/x/wisp/models');
  assert.is(userCacheDir({ HOME: '/h' }), '/h/.cache/wisp/models');
});

test('resolveModel takes an absolute path as that file', () => {
  const file = touch(tempDir(), 'my-model.gguf');
  const r = resolveModel(file, { env: isolatedEnv(), catalog });
  assert.is(r.path, file);
  assert.is(r.entry, undefined);
});

test('resolveModel takes a relative path against cwd', () => {
  const cwd = tempDir();
  const file = touch(join(cwd, 'sub'), 'm.gguf');
  assert.is(resolveModel('sub/m.gguf', { env: isolatedEnv(), cwd, catalog }).path, file);
  assert.is(resolveModel('./sub/m.gguf', { env: isolatedEnv(), cwd, catalog }).path, file);
});

test('resolveModel takes a bare *.gguf name that exists in cwd as that file', () => {
  const cwd = tempDir();
  const file = touch(cwd, 'here.gguf');
  assert.is(resolveModel('here.gguf', { env: isolatedEnv(), cwd, catalog }).path, file);
});

test('resolveModel finds <name>.gguf through WISP_MODEL_PATH', () => {
  const dir = tempDir();
  const file = touch(dir, 'foo.gguf');
  const r = resolveModel('foo', { env: isolatedEnv({ WISP_MODEL_PATH: dir }), catalog });
  assert.is(r.path, file);
  assert.equal(r.searched, [dir]);
});

test('resolveModel finds a file named exactly <spec> in a search dir', () => {
  const dir = tempDir();
  const file = touch(dir, 'weights.bin');
  assert.is(resolveModel('weights.bin', { env: isolatedEnv({ WISP_MODEL_PATH: dir }), catalog }).path, file);
});

test('resolveModel takes the first search dir that has the model', () => {
  const a = tempDir();
  const b = tempDir();
  touch(b, 'foo.gguf');
  const env = isolatedEnv({ WISP_MODEL_PATH: [a, b].join(delimiter) });
  assert.is(resolveModel('foo', { env, catalog }).path, join(b, 'foo.gguf'));
  const first = touch(a, 'foo.gguf');
  const r = resolveModel('foo', { env, catalog });
  assert.is(r.path, first);
  assert.equal(r.searched, [a]);
});

test('resolveModel looks in the user cache after WISP_MODEL_PATH', () => {
  const env = isolatedEnv({ WISP_MODEL_PATH: tempDir() });
  const file = touch(env.WISP_CACHE_DIR!, 'foo.gguf');
  const r = resolveModel('foo', { env, catalog });
  assert.is(r.path, file);
  assert.is(r.searched.at(-1), env.WISP_CACHE_DIR);
});

test('resolveModel maps a catalog name (any case) to its file and returns the entry', () => {
  const dir = tempDir();
  const file = touch(dir, 'tiny.gguf');
  const r = resolveModel('TINY', { env: isolatedEnv({ WISP_MODEL_PATH: dir }), catalog: tinyCatalog });
  assert.is(r.path, file);
  assert.is(r.entry?.name, 'tiny');
});

const sharedModels = process.env.WISP_MODEL_PATH?.split(delimiter).find((d) => existsSync(join(d, 'stories260K.gguf')));
if (sharedModels) {
  test('resolveModel finds stories260K in the shared models dir through WISP_MODEL_PATH', () => {
    const r = resolveModel('stories260K', { env: isolatedEnv({ WISP_MODEL_PATH: sharedModels }) });
    assert.is(r.path, join(sharedModels, 'stories260K.gguf'));
    assert.is(r.entry?.name, 'stories260K');
    assert.is(statSync(r.path).size, r.entry?.size);
  });
}

test('ModelNotFoundError for a catalog model lists every searched dir and says to run wisp pull', () => {
  const a = tempDir();
  const b = join(tempDir(), 'missing');
  const env = isolatedEnv({ WISP_MODEL_PATH: [a, b].join(delimiter) });
  const root = tempDir(); // no test data beside this "checkout"
  try {
    resolveModel('stories260K', { env, catalog, root });
    assert.unreachable('should not resolve');
  } catch (err) {
    assert.instance(err, ModelNotFoundError);
    const e = err as ModelNotFoundError;
    assert.is(e.code, 'WISP_MODEL_NOT_FOUND');
    assert.equal(e.searched, modelSearchDirs({ env, root }));
    for (const dir of e.searched) assert.ok(e.message.includes(dir), `message names ${dir}`);
    assert.match(e.message, 'stories260K.gguf');
    assert.match(e.message, /`(npx )?wisp pull stories260K`/);
    assert.match(e.message, 'network');
    assert.match(e.message, 'WISP_MODEL_PATH=/dir/with/models');
    assert.match(e.message, 'does not exist'); // b is flagged as missing
  }
});

test('ModelNotFoundError for an unknown name suggests WISP_MODEL_PATH or --model and lists catalog names', () => {
  const env = isolatedEnv({ WISP_MODEL_PATH: tempDir() });
  try {
    resolveModel('nonesuch', { env, catalog });
    assert.unreachable('should not resolve');
  } catch (err) {
    assert.instance(err, ModelNotFoundError);
    const e = err as ModelNotFoundError;
    for (const dir of e.searched) assert.ok(e.message.includes(dir), `message names ${dir}`);
    assert.match(e.message, 'nonesuch.gguf');
    assert.match(e.message, 'set WISP_MODEL_PATH=/dir/with/models or pass --model /path/to/file.gguf');
    assert.match(e.message, 'stories260K');
    assert.not.match(e.message, 'wisp pull nonesuch');
  }
});

test('ModelNotFoundError for a missing path names the path', () => {
  const cwd = tempDir();
  try {
    resolveModel('./nope/model.gguf', { env: isolatedEnv(), cwd, catalog });
    assert.unreachable('should not resolve');
  } catch (err) {
    assert.instance(err, ModelNotFoundError);
    assert.match((err as Error).message, join(cwd, 'nope', 'model.gguf'));
    assert.match((err as Error).message, '--model /path/to/file.gguf');
  }
});

test('ModelNotFoundError points at a partial download left by an interrupted pull', () => {
  const env = isolatedEnv();
  const part = touch(env.WISP_CACHE_DIR!, 'tiny.gguf.part', 'half');
  try {
    resolveModel('tiny', { env, catalog: tinyCatalog });
    assert.unreachable('should not resolve');
  } catch (err) {
    assert.match((err as Error).message, part);
  }
});

// ---------------------------------------------------------------------------------------------
// pull

test('pull downloads the whole file, verifies its sha256 and renames it into place', async () => {
  await withServer({}, async (s) => {
    const dir = tempDir();
    const r = await pullModel(entryFor(`${s.url}/model.gguf`), { dir, env: isolatedEnv() });
    assert.is(r.path, join(dir, 'tiny.gguf'));
    assert.is(r.sha256, DATA_SHA);
    assert.is(r.bytes, DATA.length);
    assert.is(r.downloaded, DATA.length);
    assert.is(r.resumed, false);
    assert.ok(readFileSync(r.path).equals(DATA));
    assert.not.ok(existsSync(`${r.path}.part`));
    assert.equal(s.requests.map((q) => q.range), [undefined]);
  });
});

test('pull saves into the user cache by default, where resolveModel then finds it', async () => {
  await withServer({}, async (s) => {
    const env = isolatedEnv();
    const entry = entryFor(`${s.url}/model.gguf`);
    const r = await pullModel(entry, { env });
    assert.is(r.path, join(env.WISP_CACHE_DIR!, 'tiny.gguf'));
    assert.is(resolveModel('tiny', { env, catalog: { default: 'tiny', models: [entry] } }).path, r.path);
  });
});

test('an interrupted pull keeps the .part and the next pull resumes it with a Range request', async () => {
  await withServer({ cutAfter: 1024 * 1024 }, async (s) => {
    const dir = tempDir();
    const entry = entryFor(`${s.url}/model.gguf`);
    const err = await pullError(pullModel(entry, { dir, env: isolatedEnv() }));
    assert.is(err.code, 'WISP_PULL_NETWORK');
    assert.match(err.message, 'download interrupted');
    assert.match(err.message, entry.url);
    assert.match(err.message, 'partial download is kept');
    assert.match(err.message, /`(npx )?wisp pull tiny`/);
    assert.match(err.message, 'WISP_MODEL_PATH');
    const partPath = join(dir, 'tiny.gguf.part');
    const kept = statSync(partPath).size;
    assert.ok(kept > 0 && kept <= 1024 * 1024, `kept ${kept} bytes`);
    assert.is(err.details.partBytes, kept);

    const r = await pullModel(entry, { dir, env: isolatedEnv() });
    assert.is(s.requests.length, 2);
    assert.is(s.requests[1].range, `bytes=${kept}-`);
    assert.is(r.resumed, true);
    assert.is(r.downloaded, DATA.length - kept);
    assert.is(r.sha256, DATA_SHA);
    assert.ok(readFileSync(r.path).equals(DATA));
    assert.not.ok(existsSync(partPath));
  });
});

test('pull starts over when the server ignores Range and answers 200', async () => {
  await withServer({ ignoreRange: true }, async (s) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'tiny.gguf.part'), randomBytes(500_000, 7)); // not a prefix of DATA
    const r = await pullModel(entryFor(`${s.url}/model.gguf`), { dir, env: isolatedEnv() });
    assert.is(s.requests[0].range, 'bytes=500000-');
    assert.is(r.resumed, false);
    assert.is(r.downloaded, DATA.length);
    assert.ok(readFileSync(r.path).equals(DATA));
  });
});

test('a complete .part is verified and renamed without a request', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'tiny.gguf.part'), DATA);
  const r = await pullModel(entryFor('http://127.0.0.1:9/model.gguf'), { dir, env: isolatedEnv(), fetchImpl: noFetch });
  assert.is(r.resumed, true);
  assert.is(r.downloaded, 0);
  assert.ok(readFileSync(join(dir, 'tiny.gguf')).equals(DATA));
});

test('a sha256 mismatch deletes the download and names both hashes', async () => {
  await withServer({}, async (s) => {
    const dir = tempDir();
    const wrong = createHash('sha256').update('something else').digest('hex');
    const err = await pullError(pullModel(entryFor(`${s.url}/model.gguf`, { sha256: wrong }), { dir, env: isolatedEnv() }));
    assert.is(err.code, 'WISP_PULL_VERIFY');
    assert.match(err.message, wrong);
    assert.match(err.message, DATA_SHA);
    assert.not.ok(existsSync(join(dir, 'tiny.gguf')));
    assert.not.ok(existsSync(join(dir, 'tiny.gguf.part')));
  });
});

test('pull refuses a file whose size differs from the catalog before downloading it', async () => {
  await withServer({}, async (s) => {
    const dir = tempDir();
    const err = await pullError(pullModel(entryFor(`${s.url}/model.gguf`, { size: DATA.length + 1 }), { dir, env: isolatedEnv() }));
    assert.is(err.code, 'WISP_PULL_VERIFY');
    assert.match(err.message, `${DATA.length} bytes`);
    assert.not.ok(existsSync(join(dir, 'tiny.gguf')));
  });
});

test('HTTP 404 is a clear error naming the status and the URL', async () => {
  await withServer({}, async (s) => {
    const url = `${s.url}/missing.gguf`;
    const err = await pullError(pullModel(entryFor(url), { dir: tempDir(), env: isolatedEnv() }));
    assert.is(err.code, 'WISP_PULL_HTTP');
    assert.is(err.details.status, 404);
    assert.match(err.message, '404');
    assert.match(err.message, url);
    assert.match(err.message, 'To work offline');
  });
});

test('a refused connection is a clear "could not reach" error', async () => {
  const closed = await startServer();
  const url = `${closed.url}/model.gguf`;
  await closed.close(); // nothing listens on that port any more
  const err = await pullError(pullModel(entryFor(url), { dir: tempDir(), env: isolatedEnv() }));
  assert.is(err.code, 'WISP_PULL_NETWORK');
  assert.match(err.message, 'could not reach 127.0.0.1:');
  assert.match(err.message, 'connection refused');
  assert.match(err.message, url);
  assert.match(err.message, 'WISP_MODEL_PATH=/dir/with/models');
});

test('a DNS failure is reported as such', async () => {
  const fetchImpl: typeof fetch = async () => {
    const cause = Object.assign(new Error('getaddrinfo ENOTFOUND models.example'), { code: 'ENOTFOUND' });
    throw new TypeError('fetch failed', { cause });
  };
  const err = await pullError(pullModel(entryFor('https://models.example/tiny.gguf'), { dir: tempDir(), env: isolatedEnv(), fetchImpl }));
  assert.is(err.code, 'WISP_PULL_NETWORK');
  assert.match(err.message, 'could not reach models.example: DNS lookup of models.example failed');
});

test('a server that stops sending times out and keeps the .part', async () => {
  await withServer({ stall: true }, async (s) => {
    const dir = tempDir();
    const t0 = performance.now();
    const err = await pullError(pullModel(entryFor(`${s.url}/model.gguf`), { dir, env: isolatedEnv(), timeoutMs: 300 }));
    assert.ok(performance.now() - t0 < 5000);
    assert.is(err.code, 'WISP_PULL_NETWORK');
    assert.match(err.message, 'timed out');
  });
});

test('a cancelled pull says so', async () => {
  await withServer({ stall: true }, async (s) => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const err = await pullError(pullModel(entryFor(`${s.url}/model.gguf`), { dir: tempDir(), env: isolatedEnv(), signal: ac.signal }));
    assert.is(err.code, 'WISP_PULL_ABORTED');
  });
});

test('WISP_OFFLINE=1 refuses to download and says how to work offline', async () => {
  await withServer({}, async (s) => {
    const env = isolatedEnv({ WISP_OFFLINE: '1' });
    const err = await pullError(pullModel(entryFor(`${s.url}/model.gguf`), { env }));
    assert.is(err.code, 'WISP_OFFLINE');
    assert.match(err.message, 'WISP_OFFLINE');
    assert.match(err.message, env.WISP_CACHE_DIR!);
    assert.match(err.message, 'WISP_MODEL_PATH');
    assert.is(s.requests.length, 0);
  });
});

test('an already-downloaded file with the right hash is returned without a request', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'tiny.gguf'), DATA);
  const env = isolatedEnv({ WISP_OFFLINE: '1' }); // even offline
  const r = await pullModel(entryFor('http://127.0.0.1:9/model.gguf'), { dir, env, fetchImpl: noFetch });
  assert.is(r.alreadyPresent, true);
  assert.is(r.downloaded, 0);
  assert.is(r.sha256, DATA_SHA);
});

test('a damaged existing file is downloaded again and replaced', async () => {
  await withServer({}, async (s) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'tiny.gguf'), randomBytes(DATA.length, 99));
    const r = await pullModel(entryFor(`${s.url}/model.gguf`), { dir, env: isolatedEnv() });
    assert.is(r.alreadyPresent, false);
    assert.ok(readFileSync(r.path).equals(DATA));
  });
});

test('the progress callback sees increasing byte counts that end at the total', async () => {
  await withServer({}, async (s) => {
    const seen: number[] = [];
    await pullModel(entryFor(`${s.url}/model.gguf`), {
      dir: tempDir(),
      env: isolatedEnv(),
      progress: (done, total) => {
        assert.is(total, DATA.length);
        seen.push(done);
      },
    });
    assert.ok(seen.length > 1);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1], 'strictly increasing');
    assert.is(seen.at(-1), DATA.length);
  });
});

test('progress on a non-TTY stream is a plain line every 10%', async () => {
  await withServer({}, async (s) => {
    let written = '';
    const stream = Object.assign(new (await import('node:stream')).Writable({
      write(chunk, _enc, cb) {
        written += String(chunk);
        cb();
      },
    }), { isTTY: false });
    await pullModel(entryFor(`${s.url}/model.gguf`), { dir: tempDir(), env: isolatedEnv(), progress: true, progressStream: stream });
    const lines = written.trim().split('\n');
    assert.ok(lines.length >= 2 && lines.length <= 10, `${lines.length} lines`);
    assert.not.match(written, '\r');
    assert.match(lines.at(-1)!, /^tiny: 100% \(3\.2 MB of 3\.2 MB, .+\/s\)$/);
  });
});

test('pullCommand prints one summary line, and names the catalog models for an unknown name', async () => {
  await withServer({}, async (s) => {
    const entry = entryFor(`${s.url}/model.gguf`);
    const cat: Catalog = { default: 'tiny', models: [entry] };
    const out: string[] = [];
    const env = isolatedEnv();
    const r = await pullCommand(undefined, { catalog: cat, env, progress: false, out: (l) => out.push(l) });
    assert.equal(out, [`tiny: downloaded 3.2 MB to ${r.path} (sha256 ${DATA_SHA.slice(0, 12)}… verified)`]);
    await pullCommand('TINY', { catalog: cat, env, progress: false, out: (l) => out.push(l) });
    assert.match(out[1], 'already present');

    const err = await pullError(pullCommand('nonesuch', { catalog: cat, env, out: () => {} }));
    assert.is(err.code, 'WISP_PULL_UNKNOWN_MODEL');
    assert.match(err.message, 'Models in the catalog: tiny');
  });
});

// ---------------------------------------------------------------------------------------------
// Proxies (HTTPS_PROXY / HTTP_PROXY / NO_PROXY)

interface TestProxy {
  url: string;
  /** "CONNECT host:port" per tunnel, or "GET http://…" per forwarded request */
  seen: string[];
  close(): Promise<void>;
}

/** A forward proxy as edge networks run them: CONNECT tunnels (and absolute-URI GETs forwarded). */
async function startProxy(): Promise<TestProxy> {
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? '');
    const up = tcpConnect(Number(target.port), target.hostname, () => {
      up.write(`${req.method} ${target.pathname}${target.search} HTTP/1.1\r\nhost: ${target.host}\r\nconnection: close\r\n` +
        Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'proxy-connection'].includes(k)).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n');
      up.pipe(res.socket!);
    });
  });
  server.on('connect', (req, socket: Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    sockets.add(socket);
    const [host, port] = (req.url ?? '').split(':');
    const up = tcpConnect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    sockets.add(up);
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((ok) => {
        for (const so of sockets) so.destroy();
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

test('pull goes through the proxy HTTP_PROXY names, and NO_PROXY sends a host around it', async () => {
  const proxy = await startProxy();
  try {
    await withServer({}, async (s) => {
      const host = new URL(s.url).host;
      const r = await pullModel(entryFor(`${s.url}/model.gguf`), { dir: tempDir(), env: isolatedEnv({ HTTP_PROXY: proxy.url }) });
      assert.ok(readFileSync(r.path).equals(DATA));
      assert.is(proxy.seen.length, 1, proxy.seen.join('; '));
      assert.match(proxy.seen[0], host);
      assert.is(s.requests.length, 1);

      await pullModel(entryFor(`${s.url}/model.gguf`), { dir: tempDir(), env: isolatedEnv({ https_proxy: proxy.url, http_proxy: proxy.url, NO_PROXY: 'example.org,127.0.0.1' }) });
      assert.is(proxy.seen.length, 1, 'NO_PROXY host went around the proxy');
      assert.is(s.requests.length, 2);
    });
  } finally {
    await proxy.close();
  }
});

test('a proxy that cannot be reached is named in the error', async () => {
  const proxy = await startProxy();
  const dead = proxy.url;
  await proxy.close();
  await withServer({}, async (s) => {
    const err = await pullError(pullModel(entryFor(`${s.url}/model.gguf`), { dir: tempDir(), env: isolatedEnv({ HTTP_PROXY: dead }), timeoutMs: 5000 }));
    assert.is(err.code, 'WISP_PULL_NETWORK');
    assert.match(err.message, `through the proxy ${dead} (HTTP_PROXY)`);
    assert.is(s.requests.length, 0);
  });
});

test.run();
