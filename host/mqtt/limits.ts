// Flow limits of the embedded broker: a token bucket per principal on inference publishes, and a
// log throttle so a flood produces a log line per second, not a line per dropped message.

export interface RateLimit {
  /** Sustained rate, refilled continuously. */
  messagesPerSecond: number;
  /** Bucket size: how many may arrive at once after a quiet spell. */
  burst: number;
}

/** A token bucket: `take()` spends one token if there is one. Time in milliseconds. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly limit: RateLimit, now = performance.now()) {
    this.tokens = limit.burst;
    this.last = now;
  }

  take(now = performance.now()): boolean {
    const elapsed = Math.max(0, now - this.last) / 1000;
    this.last = now;
    this.tokens = Math.min(this.limit.burst, this.tokens + elapsed * this.limit.messagesPerSecond);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** A token bucket per key (a user, a client id): the broker's and the external-broker service's limit. */
export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(readonly limit: RateLimit) {}

  /** Spends one of `key`'s tokens; false when its bucket is empty. */
  take(key: string, now = performance.now()): boolean {
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = new TokenBucket(this.limit, now)));
    return bucket.take(now);
  }

  /** Drops `key`'s bucket (its client is gone). */
  forget(key: string): void {
    this.buckets.delete(key);
  }
}

export function checkRateLimit(limit: RateLimit): void {
  if (!(limit.messagesPerSecond > 0) || !Number.isFinite(limit.messagesPerSecond)) {
    throw new Error(`ratePerClient.messagesPerSecond must be a positive number, got ${limit.messagesPerSecond}`);
  }
  if (!Number.isInteger(limit.burst) || limit.burst < 1) {
    throw new Error(`ratePerClient.burst must be an integer >= 1, got ${limit.burst}`);
  }
}

/**
 * Says whether an event under `key` should be logged now: the first one is, then at most one per
 * `intervalMs`, reporting how many were suppressed in between.
 */
export class LogThrottle {
  private readonly entries = new Map<string, { last: number; suppressed: number }>();

  constructor(private readonly intervalMs = 1000, private readonly maxKeys = 10_000) {}

  /** null: stay quiet; a number: log now, mentioning that many suppressed since the last line. */
  admit(key: string, now = performance.now()): number | null {
    if (this.entries.size >= this.maxKeys) this.prune(now);
    const e = this.entries.get(key);
    if (e && now - e.last < this.intervalMs) {
      e.suppressed += 1;
      return null;
    }
    const suppressed = e?.suppressed ?? 0;
    this.entries.set(key, { last: now, suppressed: 0 });
    return suppressed;
  }

  /** Keys come and go with clients: drop the ones quiet for a whole interval (their count is lost). */
  private prune(now: number): void {
    for (const [key, e] of this.entries) if (now - e.last >= this.intervalMs) this.entries.delete(key);
  }
}
