// Flow limits of the embedded broker: a token bucket per principal on inference publishes, a
// login back-off per client address and per user after failed logins, and a log throttle so a flood
// produces a log line per second, not a line per dropped message.

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

/**
 * How failed logins slow the next ones. After `freeFailures` failures under a key (a client address,
 * a user name), each attempt under it waits baseDelayMs, doubling per further failure, capped at
 * maxDelayMs, before its credentials are even checked; a key with no failure for forgetAfterMs
 * starts again from zero. Pending logins per address are capped (`maxPendingPerAddress`, and 1 while
 * the address is backing off) so parallel connections cannot multiply the guess rate: the excess is
 * refused at once, unchecked, and counted as a failure of that address.
 */
export interface LoginBackoffPolicy {
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  forgetAfterMs: number;
  maxPendingPerAddress: number;
}

export const DEFAULT_LOGIN_BACKOFF: LoginBackoffPolicy = {
  freeFailures: 3,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  forgetAfterMs: 15 * 60_000,
  maxPendingPerAddress: 8,
};

export function checkLoginBackoff(p: LoginBackoffPolicy): void {
  for (const k of ['freeFailures', 'baseDelayMs', 'maxDelayMs', 'forgetAfterMs'] as const) {
    if (!Number.isFinite(p[k]) || p[k] < 0) throw new Error(`loginBackoff.${k} must be a number >= 0, got ${p[k]}`);
  }
  if (!Number.isInteger(p.maxPendingPerAddress) || p.maxPendingPerAddress < 1) {
    throw new Error(`loginBackoff.maxPendingPerAddress must be an integer >= 1, got ${p.maxPendingPerAddress}`);
  }
}

/** Failed logins per address and per user, and what they cost the next attempt. Time in ms. */
export class LoginBackoff {
  private readonly failures = new Map<string, { count: number; last: number }>();
  private readonly pending = new Map<string, number>();

  constructor(readonly policy: LoginBackoffPolicy = DEFAULT_LOGIN_BACKOFF, private readonly maxKeys = 100_000) {}

  /** The wait the policy gives an attempt after `failures` failures. */
  delayFor(failures: number): number {
    const p = this.policy;
    if (failures < p.freeFailures) return 0;
    return Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** Math.min(failures - p.freeFailures, 40));
  }

  /** Failures counted under `key` now (0 once forgotten). */
  count(key: string, now = performance.now()): number {
    const e = this.failures.get(key);
    if (!e) return 0;
    if (now - e.last >= this.policy.forgetAfterMs) {
      this.failures.delete(key);
      return 0;
    }
    return e.count;
  }

  /** How long an attempt from `address` as `user` waits before its credentials are checked. */
  delay(address: string, user: string | undefined, now = performance.now()): number {
    const byAddress = this.delayFor(this.count(addressKey(address), now));
    return user === undefined ? byAddress : Math.max(byAddress, this.delayFor(this.count(userKey(user), now)));
  }

  /**
   * Starts an attempt: its wait in ms, or null when `address` already has as many logins pending
   * as it may (then it is refused unchecked, and that counts as a failure of the address).
   * Every non-null start must be followed by one `end`.
   */
  start(address: string, user: string | undefined, now = performance.now()): number | null {
    const a = addressKey(address);
    const backingOff = this.delayFor(this.count(a, now)) > 0;
    const pending = this.pending.get(a) ?? 0;
    if (pending >= (backingOff ? 1 : this.policy.maxPendingPerAddress)) {
      this.bump(a, now);
      return null;
    }
    this.pending.set(a, pending + 1);
    return this.delay(address, user, now);
  }

  /** Ends an attempt: `failed` (bad credentials) counts against the address and the user; a success clears the user's count. */
  end(address: string, user: string | undefined, outcome: 'ok' | 'failed' | 'other', now = performance.now()): void {
    const a = addressKey(address);
    const left = (this.pending.get(a) ?? 1) - 1;
    if (left > 0) this.pending.set(a, left);
    else this.pending.delete(a);
    if (outcome === 'failed') {
      this.bump(a, now);
      if (user !== undefined) this.bump(userKey(user), now);
    } else if (outcome === 'ok' && user !== undefined) {
      // not the address: one good account must not buy an address fresh guesses at another
      this.failures.delete(userKey(user));
    }
  }

  private bump(key: string, now: number): void {
    if (this.failures.size >= this.maxKeys) this.prune(now);
    const count = this.count(key, now);
    this.failures.delete(key); // re-inserted last: the map stays in order of the latest failure
    this.failures.set(key, { count: count + 1, last: now });
  }

  private prune(now: number): void {
    for (const [key, e] of this.failures) if (now - e.last >= this.policy.forgetAfterMs) this.failures.delete(key);
    // still full (a flood of fresh addresses): the oldest go first
    for (const key of this.failures.keys()) {
      if (this.failures.size < this.maxKeys) break;
      this.failures.delete(key);
    }
  }
}

const addressKey = (address: string) => `addr:${address}`;
const userKey = (user: string) => `user:${user}`;
