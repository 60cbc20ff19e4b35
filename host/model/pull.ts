// `wisp pull <name>`: downloads a catalog model into the user cache, resumably, and keeps it
// only if its size and sha256 match the catalog. A catalog entry whose publisher states no sha256
// (and whose size is a rounded figure) is kept as downloaded, and its hash recorded beside it
// (./recorded-hash.ts): later pulls check the file against that record.
//
// The download goes to <dir>/<file>.part; an interrupted pull leaves the .part behind and the
// next pull asks for the rest with a Range request. The sha256 covers the whole file (the bytes
// already on disk are hashed first), and the final name appears only by an atomic rename.
import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { findCatalogEntry, catalogNames, loadCatalog, type Catalog, type CatalogEntry } from './catalog.js';
import { createProgress, formatBytes, NO_PROGRESS, type Progress, type ProgressStream } from '../obs/progress.js';
import { hostOf, userCacheDir } from './resolve.js';
import { expectedHash, recordHash } from './recorded-hash.js';
import { hashFileInto, sha256File } from './sha256.js';
import { wispCommand } from '../invocation.js';
import { fetchFor, proxyNote, proxySettings } from './proxy-fetch.js';


export interface PullOptions {
  /** Where to save the model (default: the user cache, see userCacheDir). */
  dir?: string;
  /** Overrides entry.url, e.g. a mirror. */
  url?: string;
  /** Default: fetch, through the proxy HTTPS_PROXY / HTTP_PROXY name (NO_PROXY honoured). */
  fetchImpl?: typeof fetch;
  /** true: a bar on a TTY, a line every ~10% otherwise; a function: called as bytes arrive. */
  progress?: boolean | ((done: number, total: number) => void);
  /** Where progress is written (default: process.stderr). */
  progressStream?: ProgressStream;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** Give up when no data arrives for this long (default 30 s). */
  timeoutMs?: number;
}

export interface PullResult {
  path: string;
  bytes: number;
  /** The download continued a .part left by an earlier pull. */
  resumed: boolean;
  sha256: string;
  /** Bytes fetched over the network by this call. */
  downloaded: number;
  /** The file was already there with the right hash; nothing was fetched. */
  alreadyPresent: boolean;
  /** Where the hash checked against came from; 'recorded-now': none was known, this pull recorded it. */
  hashSource: 'publisher' | 'recorded' | 'recorded-now';
}

export type PullErrorCode =
  | 'WISP_OFFLINE' // WISP_OFFLINE is set
  | 'WISP_PULL_NETWORK' // could not connect, or the connection broke
  | 'WISP_PULL_HTTP' // the server answered with an error status
  | 'WISP_PULL_VERIFY' // wrong size or sha256
  | 'WISP_PULL_ABORTED' // the caller's signal fired
  | 'WISP_PULL_UNKNOWN_MODEL'; // pullCommand: no such catalog name

/** Every failure of a pull; `message` is meant for the user as is (no stack trace needed). */
export class PullError extends Error {
  constructor(
    readonly code: PullErrorCode,
    message: string,
    readonly details: { url?: string; status?: number; partPath?: string; partBytes?: number; expected?: string; actual?: string } = {},
  ) {
    super(message);
    this.name = 'PullError';
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** Everything one pull needs to know, so helpers take one argument instead of six. */
interface Job {
  entry: CatalogEntry;
  url: string;
  dir: string;
  finalPath: string;
  partPath: string;
  fetchImpl: typeof fetch;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  signal?: AbortSignal;
  /** The sha256 the file must have (the publisher's, or recorded by an earlier pull), if known. */
  sha256?: { sha256: string; source: 'publisher' | 'recorded' };
  /** The exact size the file must have, if known (not a rounded catalog figure). */
  size?: number;
}

export async function pullModel(entry: CatalogEntry, opts: PullOptions = {}): Promise<PullResult> {
  const env = opts.env ?? process.env;
  const dir = resolve(opts.dir ?? userCacheDir(env));
  const finalPath = join(dir, entry.file);
  const job: Job = {
    entry,
    url: opts.url ?? entry.url,
    dir,
    finalPath,
    partPath: `${finalPath}.part`,
    fetchImpl: opts.fetchImpl ?? fetchFor(env),
    env,
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    signal: opts.signal,
    sha256: expectedHash(entry, finalPath),
    size: entry.size_approximate ? undefined : entry.size,
  };

  const present = await presentFile(job);
  if (present) return present;
  let offset = await fileSize(job.partPath);
  if (job.size !== undefined && offset > job.size) {
    await rm(job.partPath, { force: true }); // longer than the model: not ours, start over
    offset = 0;
  }
  // Hash what is already on disk before asking for the rest, so the connection never idles.
  const hash = createHash('sha256');
  if (offset > 0) await hashFileInto(hash, job.partPath, offset);
  if (offset === job.size) return finish(job, hash, { resumed: true, downloaded: 0 });

  const reporters: Progress[] = [];
  try {
    const got = await download(job, offset, hash, (total) => {
      const r = makeReporter(opts, entry, total);
      reporters.push(r);
      return r;
    });
    return await finish(job, got.hash, got);
  } finally {
    for (const r of reporters) r.stop();
  }
}

interface Downloaded {
  hash: Hash;
  resumed: boolean;
  downloaded: number;
}

/** Fetches bytes [offset, size) into the .part (or the whole file if the server ignores Range). */
async function download(job: Job, offset: number, hash: Hash, reporterFor: (total: number) => Progress): Promise<Downloaded> {
  if (isOffline(job.env)) throw offlineError(job);
  const watchdog = new Watchdog(job.timeoutMs, job.signal);
  try {
    const res = await request(job, offset, watchdog);
    const range = await startingPoint(job, res, offset);
    if (range === 'complete') return { hash, resumed: true, downloaded: 0 };
    const { start, total } = range;
    if (start === 0 && offset > 0) hash = createHash('sha256'); // server ignored Range: start over
    const downloaded = await writeBody(job, res, start, total, hash, watchdog, reporterFor(total ?? job.entry.size));
    return { hash, resumed: start > 0, downloaded };
  } finally {
    watchdog.stop();
  }
}

async function request(job: Job, offset: number, watchdog: Watchdog): Promise<Response> {
  // identity: byte ranges must count bytes of the file, not of a compressed stream.
  const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'wisp-pull' };
  if (offset > 0) headers.range = `bytes=${offset}-`;
  watchdog.kick();
  try {
    return await job.fetchImpl(job.url, { headers, redirect: 'follow', signal: watchdog.signal });
  } catch (err) {
    throw await transferError(job, err, watchdog, 'connect');
  }
}

/**
 * Where the body starts in the file, from the status: 206 → offset, 200 → 0, 416 → already complete;
 * and the whole file's size, as the server states it.
 */
async function startingPoint(job: Job, res: Response, offset: number): Promise<{ start: number; total?: number } | 'complete'> {
  if (res.status === 416 && offset > 0) {
    await res.body?.cancel(); // the part already holds everything the server has
    return 'complete';
  }
  if (res.status !== 200 && res.status !== 206) {
    await res.body?.cancel();
    throw await httpError(job, res);
  }
  const range = res.status === 206 ? parseContentRange(res.headers.get('content-range')) : undefined;
  const start = range?.start ?? 0;
  const total = range?.total ?? lengthOf(res, start);
  if (res.status === 206 && start !== offset) {
    await res.body?.cancel();
    throw new PullError('WISP_PULL_HTTP', `${prefix(job)}: asked ${job.url} for bytes from ${offset} but the server sent bytes from ${start}.`, { url: job.url, status: 206 });
  }
  if (total !== undefined && job.size !== undefined && total !== job.size) {
    await res.body?.cancel();
    throw new PullError(
      'WISP_PULL_VERIFY',
      `${prefix(job)}: ${job.url} is ${total} bytes but the catalog says ${job.size}; it is not the file the catalog describes (wrong URL or mirror?).`,
      { url: job.url, expected: String(job.size), actual: String(total) },
    );
  }
  return { start, total };
}

/** Streams the body into the .part, hashing as it goes; returns the bytes written. `total`: the server's size of the file, if stated. */
async function writeBody(job: Job, res: Response, start: number, total: number | undefined, hash: Hash, watchdog: Watchdog, reporter: Progress): Promise<number> {
  const limit = job.size ?? total; // the size the file must have: the catalog's exact one, else the server's
  await mkdir(job.dir, { recursive: true });
  const file = await open(job.partPath, start > 0 ? 'a' : 'w');
  const reader = res.body!.getReader();
  let done = start;
  reporter.start(done);
  try {
    for (;;) {
      const { done: end, value } = await reader.read();
      if (end) break;
      watchdog.kick();
      if (value.length === 0) continue;
      if (limit !== undefined && done + value.length > limit) {
        const whose = job.size !== undefined ? 'the catalog expects' : 'it announced';
        throw new PullError('WISP_PULL_VERIFY', `${prefix(job)}: ${job.url} sent more than the ${limit} bytes ${whose}.`, { url: job.url });
      }
      await file.write(value);
      hash.update(value);
      done += value.length;
      reporter.update(done);
    }
  } catch (err) {
    await reader.cancel().catch(() => {});
    if (err instanceof PullError) throw err;
    throw await transferError(job, err, watchdog, 'body', done); // bytes written so far stay in the .part
  } finally {
    await file.close();
  }
  if (limit !== undefined && done < limit) {
    throw await transferError(job, new Error(`the server ended the response after ${done} of ${limit} bytes`), watchdog, 'body', done);
  }
  return done - start;
}

/**
 * Checks size and sha256 of the finished .part against what is known (the catalog's exact size, the
 * publisher's or an earlier pull's hash), then renames it into place; with no hash known, records it.
 */
async function finish(job: Job, hash: Hash, got: { resumed: boolean; downloaded: number }): Promise<PullResult> {
  const actual = hash.digest('hex');
  const onDisk = await fileSize(job.partPath);
  const expected = job.sha256?.sha256;
  if ((job.size !== undefined && onDisk !== job.size) || (expected !== undefined && actual !== expected)) {
    await rm(job.partPath, { force: true });
    const what =
      job.size !== undefined && onDisk !== job.size
        ? `is ${onDisk} bytes, expected ${job.size}`
        : `has sha256 ${actual}, expected ${expected}${job.sha256?.source === 'recorded' ? ` (recorded by the first download, in ${job.finalPath}.sha256)` : ''}`;
    throw new PullError(
      'WISP_PULL_VERIFY',
      `${prefix(job)}: the download from ${job.url} ${what} (catalog entry "${job.entry.name}").\n` +
        `  The corrupt download was deleted. If the URL or mirror serves a different file, fix it; otherwise run \`${wispCommand()} pull ${job.entry.name}\` again.`,
      { url: job.url, expected, actual },
    );
  }
  await rename(job.partPath, job.finalPath); // atomic within one directory
  if (!job.sha256) recordHash(job.finalPath, actual);
  return { path: job.finalPath, bytes: onDisk, resumed: got.resumed, sha256: actual, downloaded: got.downloaded, alreadyPresent: false, hashSource: job.sha256?.source ?? 'recorded-now' };
}

/**
 * The final file, when it is already there and checks out: the right hash (and exact size), or, with no
 * hash known at all (copied in by hand), its hash recorded now. Undefined: it must be (re)downloaded.
 */
async function presentFile(job: Job): Promise<PullResult | undefined> {
  const size = await fileSize(job.finalPath);
  if (size === 0 || (job.size !== undefined && size !== job.size)) return undefined;
  const actual = await sha256File(job.finalPath);
  if (job.sha256 && actual !== job.sha256.sha256) return undefined;
  if (!job.sha256) recordHash(job.finalPath, actual);
  return { path: job.finalPath, bytes: size, resumed: false, sha256: actual, downloaded: 0, alreadyPresent: true, hashSource: job.sha256?.source ?? 'recorded-now' };
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** WISP_OFFLINE is set (to anything but 0, false, no): nothing is downloaded. */
export function isOffline(env: NodeJS.ProcessEnv): boolean {
  const v = (env.WISP_OFFLINE ?? '').toLowerCase();
  return v !== '' && v !== '0' && v !== 'false' && v !== 'no';
}

function parseContentRange(h: string | null): { start: number; total?: number } | undefined {
  const m = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(h?.trim() ?? '');
  if (!m) return undefined;
  return { start: Number(m[1]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

function lengthOf(res: Response, start: number): number | undefined {
  const len = res.headers.get('content-length');
  return len === null || !/^\d+$/.test(len) ? undefined : start + Number(len);
}

// ---------------------------------------------------------------------------------------------
// Timeouts and cancellation

/** Aborts the request when no data has arrived for `ms`, or when the caller's signal fires. */
class Watchdog {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly onOuterAbort = () => this.controller.abort(this.outer?.reason);
  timedOut = false;

  constructor(private readonly ms: number, private readonly outer?: AbortSignal) {
    if (outer?.aborted) this.onOuterAbort();
    else outer?.addEventListener('abort', this.onOuterAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  kick(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new Error('timeout'));
    }, this.ms);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.outer?.removeEventListener('abort', this.onOuterAbort);
  }
}

// ---------------------------------------------------------------------------------------------
// Error messages: what failed, what was kept, and how to go on (resume, or work offline).

function prefix(job: Job): string {
  return `wisp pull ${job.entry.name}`;
}

async function transferError(job: Job, err: unknown, watchdog: Watchdog, phase: 'connect' | 'body', done = 0): Promise<PullError> {
  const host = hostOf(job.url);
  let code: PullErrorCode = 'WISP_PULL_NETWORK';
  let what: string;
  if (job.signal?.aborted) {
    code = 'WISP_PULL_ABORTED';
    what = 'the download was cancelled';
  } else if (watchdog.timedOut) {
    what = `no data from ${host} for ${job.timeoutMs / 1000} s (timed out)`;
  } else {
    what = describeNetworkFailure(err, host);
  }
  const head =
    phase === 'connect' && code !== 'WISP_PULL_ABORTED'
      ? `could not reach ${host}${proxyNote(job.url, proxySettings(job.env))}: ${what}` +
        (proxySettings(job.env) || code !== 'WISP_PULL_NETWORK' ? '' : ' (behind a web proxy? set HTTPS_PROXY=http://proxy:port)')
      : `download interrupted${done > 0 ? ` after ${formatBytes(done)} of ${formatBytes(job.entry.size)}` : ''}: ${what}`;
  const partBytes = await fileSize(job.partPath);
  return new PullError(code, [`${prefix(job)}: ${head}.`, `  URL: ${job.url}`, ...(await recovery(job, partBytes))].join('\n'), {
    url: job.url,
    partPath: job.partPath,
    partBytes,
  });
}

async function httpError(job: Job, res: Response): Promise<PullError> {
  const status = `${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
  const hint =
    res.status === 404 || res.status === 410
      ? 'the file is not at that address (moved or renamed upstream?); a mirror can be given with --url'
      : res.status === 401 || res.status === 403
        ? 'access was refused; the file may need a login, or the mirror blocks this client'
        : res.status >= 500
          ? 'the server had a problem; try again later or use a mirror (--url)'
          : 'the request was not accepted';
  const partBytes = await fileSize(job.partPath);
  const lines = [`${prefix(job)}: ${hostOf(job.url)} answered HTTP ${status}: ${hint}.`, `  URL: ${job.url}`, ...(await recovery(job, partBytes))];
  return new PullError('WISP_PULL_HTTP', lines.join('\n'), { url: job.url, status: res.status, partPath: job.partPath, partBytes });
}

function offlineError(job: Job): PullError {
  const lines = [
    `${prefix(job)}: WISP_OFFLINE is set, so nothing is downloaded (${job.url}).`,
    `  Unset WISP_OFFLINE to download, or:`,
    ...offlineHelp(job),
  ];
  return new PullError('WISP_OFFLINE', lines.join('\n'), { url: job.url });
}

async function recovery(job: Job, partBytes: number): Promise<string[]> {
  const kept =
    partBytes > 0
      ? `  The partial download is kept at ${job.partPath} (${formatBytes(partBytes)} of ${formatBytes(job.entry.size)}); run \`${wispCommand()} pull ${job.entry.name}\` again to resume it.`
      : `  Nothing was saved; run \`${wispCommand()} pull ${job.entry.name}\` again to retry.`;
  return [kept, '  To work offline instead:', ...offlineHelp(job)];
}

function offlineHelp(job: Job): string[] {
  const e = job.entry;
  const facts = `${e.size_approximate ? '≈' : ''}${formatBytes(e.size)}, ${e.sha256 ? `sha256 ${e.sha256}` : 'its publisher states no sha256'}`;
  return [
    `  - copy ${e.file} (${facts}) into ${job.dir}`,
    `    or into a directory listed in WISP_MODEL_PATH (WISP_MODEL_PATH=/dir/with/models), or`,
    `  - pass --model /path/to/${e.file}.`,
  ];
}

/** Names the network failure from the error chain fetch (undici) throws. */
function describeNetworkFailure(err: unknown, host: string): string {
  const code = errorCode(err);
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `DNS lookup of ${host.replace(/:\d+$/, '')} failed (${code}; no network, or no DNS?)`;
    case 'ECONNREFUSED':
      return `connection refused (${code}; nothing listening at ${host})`;
    case 'ECONNRESET':
    case 'EPIPE':
      return `the connection was reset (${code})`;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `the connection timed out (${code})`;
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return `the network is unreachable (${code})`;
    case 'UND_ERR_SOCKET':
      return 'the server closed the connection';
    default: {
      const msgs = causeChain(err).map((e) => (e instanceof Error ? e.message : String(e)));
      return [...new Set(msgs)].join(': ') + (code ? ` (${code})` : '');
    }
  }
}

function errorCode(err: unknown): string | undefined {
  for (const e of causeChain(err)) {
    const code = (e as { code?: unknown })?.code;
    if (typeof code === 'string') return code;
    // A failed connect to several addresses (IPv4 and IPv6) arrives as an AggregateError.
    if (e instanceof AggregateError) {
      const inner = e.errors.map(errorCode).find(Boolean);
      if (inner) return inner;
    }
  }
  return undefined;
}

function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && chain.length < 8; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}


// ---------------------------------------------------------------------------------------------
// Progress

/** Progress over `total` bytes (the server's size of the file, else the catalog's). */
function makeReporter(opts: PullOptions, entry: CatalogEntry, total: number): Progress {
  if (typeof opts.progress === 'function') {
    const cb = opts.progress;
    return { start() {}, update: (done) => cb(done, total), stop() {} };
  }
  if (opts.progress !== true) return NO_PROGRESS;
  return createProgress(entry.name, total, opts.progressStream ?? process.stderr);
}

// ---------------------------------------------------------------------------------------------
// The command

export interface PullCommandOptions extends PullOptions {
  catalog?: Catalog;
  /** Where the summary line goes (default: stdout). */
  out?: (line: string) => void;
}

/** `wisp pull [name]`: pulls a catalog model (the catalog's default when no name is given) and prints one summary line. */
export async function pullCommand(name: string | undefined, opts: PullCommandOptions = {}): Promise<PullResult> {
  const catalog = opts.catalog ?? loadCatalog();
  const wanted = name ?? catalog.default;
  const entry = findCatalogEntry(catalog, wanted);
  if (!entry) {
    throw new PullError(
      'WISP_PULL_UNKNOWN_MODEL',
      `wisp pull: "${wanted}" is not in the model catalog. Models in the catalog: ${catalogNames(catalog).join(', ')}.\n` +
        `  For another model, put its .gguf in a directory listed in WISP_MODEL_PATH (WISP_MODEL_PATH=/dir/with/models) or pass --model /path/to/file.gguf.`,
    );
  }
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const result = await pullModel(entry, { ...opts, progress: opts.progress ?? true });
  out(summary(entry, result));
  return result;
}

function summary(entry: CatalogEntry, r: PullResult): string {
  const hash =
    r.hashSource === 'publisher' ? `sha256 ${r.sha256.slice(0, 12)}… verified`
    : r.hashSource === 'recorded' ? `sha256 ${r.sha256.slice(0, 12)}… verified against the hash recorded on first download`
    : `sha256 ${r.sha256.slice(0, 12)}… recorded in ${r.path}.sha256: the publisher states none, so later pulls check against this one`;
  if (r.alreadyPresent) return `${entry.name}: already present at ${r.path} (${formatBytes(r.bytes)}, ${hash})`;
  const how = r.resumed ? `resumed, fetched ${formatBytes(r.downloaded)} of ${formatBytes(r.bytes)}` : `downloaded ${formatBytes(r.bytes)}`;
  return `${entry.name}: ${how} to ${r.path} (${hash})`;
}
