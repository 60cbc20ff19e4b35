// The memory-read baseline every kernel figure is divided by, measured in the same run:
// memcmp over two large buffers (Buffer.compare is native memcmp), reading 2×N bytes.

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

/** Native single-thread read bandwidth in GB/s over buffers much larger than the caches. */
export function measureReadBandwidth(bytes = 256 * 2 ** 20): number {
  const a = Buffer.alloc(bytes, 7);
  const b = Buffer.alloc(bytes, 7);
  const t = timeIt(() => {
    if (Buffer.compare(a, b) !== 0) throw new Error('unreachable');
  });
  return (2 * bytes) / t.seconds / 1e9;
}
