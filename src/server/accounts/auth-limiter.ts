/**
 * Slows down guessing: failed authentications are counted per source IP and per username over a sliding window;
 * past the limit, further attempts are refused (HTTP 429 / proxy 407 with Retry-After) without checking the key.
 * Per-username counting stops a botnet spreading guesses over many IPs, at the price that an attacker can make
 * an account wait; the window is short for that reason. Memory is bounded by maxEntries.
 */

export interface AuthLimiterOptions {
  windowMs?: number;
  maxFailuresPerIp?: number;
  maxFailuresPerAccount?: number;
  /** Tracked IPs + usernames; beyond it the stalest entries are dropped. */
  maxEntries?: number;
  now?: () => number;
}

export type LimitDecision = { allowed: true } | { allowed: false; retryAfter: number };

export class AuthLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly windowMs: number;
  private readonly maxIp: number;
  private readonly maxAccount: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(opts: AuthLimiterOptions = {}) {
    this.windowMs = opts.windowMs ?? 60_000;
    this.maxIp = opts.maxFailuresPerIp ?? 30;
    this.maxAccount = opts.maxFailuresPerAccount ?? 10;
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.now = opts.now ?? Date.now;
    for (const [name, v] of Object.entries({
      windowMs: this.windowMs,
      maxFailuresPerIp: this.maxIp,
      maxFailuresPerAccount: this.maxAccount,
      maxEntries: this.maxEntries,
    })) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`auth limiter: ${name} must be a positive integer`);
    }
  }

  /** Whether an attempt from this IP for this username may be checked at all. */
  check(ip: string, username: string): LimitDecision {
    const now = this.now();
    const wait = Math.max(
      this.waitMs(ipKey(ip), this.maxIp, now),
      this.waitMs(userKey(username), this.maxAccount, now),
    );
    return wait > 0 ? { allowed: false, retryAfter: Math.max(1, Math.ceil(wait / 1000)) } : { allowed: true };
  }

  recordFailure(ip: string, username: string): void {
    const now = this.now();
    this.add(ipKey(ip), now);
    this.add(userKey(username), now);
  }

  /** A correct key clears the username's count; the IP's stays, or one valid account would unlock guessing. */
  recordSuccess(_ip: string, username: string): void {
    this.failures.delete(userKey(username));
  }

  /** Tracked entries (for tests and metrics). */
  get size(): number {
    return this.failures.size;
  }

  private live(key: string, now: number): number[] {
    const list = this.failures.get(key);
    if (!list) return [];
    const cut = now - this.windowMs;
    let i = 0;
    while (i < list.length && list[i]! <= cut) i++;
    if (i > 0) list.splice(0, i);
    if (list.length === 0) this.failures.delete(key);
    return list;
  }

  private waitMs(key: string, max: number, now: number): number {
    const list = this.live(key, now);
    if (list.length < max) return 0;
    // Allowed again once enough of the oldest failures have left the window to be under the limit.
    return list[list.length - max]! + this.windowMs - now;
  }

  private add(key: string, now: number): void {
    const list = this.live(key, now);
    if (list.length === 0) {
      if (this.failures.size >= this.maxEntries) this.evict(now);
      this.failures.set(key, list);
    }
    list.push(now);
    // Only the newest max+1 timestamps can matter for a decision.
    const keep = Math.max(this.maxIp, this.maxAccount) + 1;
    if (list.length > keep) list.splice(0, list.length - keep);
  }

  private evict(now: number): void {
    for (const key of [...this.failures.keys()]) this.live(key, now);
    // Still full: drop the entries inserted first (Map keeps insertion order).
    for (const key of this.failures.keys()) {
      if (this.failures.size < this.maxEntries) break;
      this.failures.delete(key);
    }
  }
}

function ipKey(ip: string): string {
  return 'ip:' + (ip.startsWith('::ffff:') ? ip.slice(7) : ip);
}

function userKey(username: string): string {
  return 'user:' + username;
}
