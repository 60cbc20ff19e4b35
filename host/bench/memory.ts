// The memory-read baseline every kernel figure is divided by, measured in the same run: memcmp over
// two buffers (Buffer.compare is native memcmp), reading 2×N bytes, over a working set larger than
// the last-level cache so the figure is DRAM's, not the cache's. With more than one thread, each of
// N worker threads compares its own pair of buffers at once and their rates add up.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

export interface Timing {
  seconds: number;
  reps: number;
}

/** Repeats fn until at least `minSeconds` have passed (after one warm-up call); returns seconds per call. */
export function timeIt(fn: () => void, minSeconds = 0.3): Timing {
  fn();
  let reps = 0;
  const t0 = performance.now();
  let elapsed = 0;
  do {
    fn();
    reps++;
    elapsed = (performance.now() - t0) / 1000;
  } while (elapsed < minSeconds);
  return { seconds: elapsed / reps, reps };
}

/** Bytes a benchmark should stream through so no cache level holds it: 4× the last-level cache, at least 64 MiB. */
export function beyondCache(lastLevelCacheBytes: number): number {
  return Math.max(4 * lastLevelCacheBytes, 64 * 2 ** 20);
}

/** Native single-thread read bandwidth in GB/s; `bytes` per buffer (two are compared). */
export function measureReadBandwidth(bytes = 256 * 2 ** 20, minSeconds = 0.3): number {
  const a = Buffer.alloc(bytes, 7);
  const b = Buffer.alloc(bytes, 7);
  const t = timeIt(() => {
    if (Buffer.compare(a, b) !== 0) throw new Error('unreachable');
  }, minSeconds);
  return (2 * bytes) / t.seconds / 1e9;
}

interface ReadJob {
  wispReadBandwidth: { bytes: number; minSeconds: number; start: SharedArrayBuffer };
}

// a worker: its own buffers, ready, wait for the common start, then time memcmp like the main thread
if (!isMainThread && (workerData as ReadJob | null)?.wispReadBandwidth) {
  const { bytes, minSeconds, start } = (workerData as ReadJob).wispReadBandwidth;
  const a = Buffer.alloc(bytes, 7);
  const b = Buffer.alloc(bytes, 7);
  Buffer.compare(a, b); // pages touched before the clock starts
  parentPort!.postMessage('ready');
  Atomics.wait(new Int32Array(start), 0, 0);
  const t = timeIt(() => {
    if (Buffer.compare(a, b) !== 0) throw new Error('unreachable');
  }, minSeconds);
  parentPort!.postMessage((2 * bytes) / t.seconds / 1e9);
}

/**
 * Read bandwidth with `threads` threads reading at once, in GB/s: `workingSetBytes` in all, split
 * over the threads (each compares two buffers of its share / 2). One thread runs on this thread.
 */
export async function measureReadBandwidthThreads(threads: number, workingSetBytes: number, minSeconds = 0.3): Promise<number> {
  const perBuffer = Math.max(4096, Math.floor(workingSetBytes / threads / 2));
  if (threads <= 1) return measureReadBandwidth(perBuffer, minSeconds);
  const start = new SharedArrayBuffer(4);
  const workers = Array.from({ length: threads }, () => new Worker(new URL(import.meta.url), { workerData: { wispReadBandwidth: { bytes: perBuffer, minSeconds, start } } }));
  try {
    const messages = workers.map(
      (w) =>
        new Promise<unknown[]>((resolve, reject) => {
          const got: unknown[] = [];
          w.on('message', (m) => {
            got.push(m);
            if (got.length === 2) resolve(got);
          });
          w.once('error', reject);
          w.once('exit', (code) => reject(new Error(`memory bandwidth worker exited (code ${code})`)));
        }),
    );
    // all buffers allocated before any thread starts reading
    await Promise.all(workers.map((w) => new Promise((resolve, reject) => (w.once('message', resolve), w.once('error', reject)))));
    Atomics.store(new Int32Array(start), 0, 1);
    Atomics.notify(new Int32Array(start), 0);
    const rates = (await Promise.all(messages)).map((m) => m[1] as number);
    return rates.reduce((a, b) => a + b, 0);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
