/**
 * Whether the store answers, for the server's /readyz: a ping every few seconds, and at once after a request
 * failed with StoreUnavailableError. Logs each change (down with the reason, up again), not each failed ping.
 */
import type { Logger } from '../../observability/log.js';
import type { Store } from './types.js';

export class StoreHealth {
  private ok = true;
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly intervalMs = 2000,
  ) {}

  /** False from a failed ping or request until a ping succeeds again. */
  get ready(): boolean {
    return this.ok;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** A request saw the store unavailable: not ready now, and check again soon. */
  failed(err: Error): void {
    this.set(false, err.message);
  }

  /** Pings now (one at a time); resolves when the state is known. */
  check(): Promise<void> {
    this.checking ??= this.store
      .ping()
      .then(
        () => this.set(true),
        (err: unknown) => this.set(false, (err as Error).message),
      )
      .finally(() => {
        this.checking = null;
      });
    return this.checking;
  }

  private set(ok: boolean, why?: string): void {
    if (ok === this.ok) return;
    this.ok = ok;
    if (ok) this.log.info('store available again: ready');
    else this.log.error('store unavailable: not ready (/readyz 503) until it answers', { error: why });
  }
}
