/**
 * SC4's pidfile and readyfile, which scripts still wait on (`while [ ! -f "$READY" ]; do sleep 1; done`):
 * - pidfile: written at start with the process id and a newline;
 * - readyfile: removed at start if a previous run left one (so a waiting script cannot pass on a stale file),
 *   created empty once the tunnel is ready (SC4 "touched" it);
 * - both removed when sc exits, however it exits (short of SIGKILL), so neither outlives the tunnel.
 */
import { rmSync, writeFileSync } from 'node:fs';

export class LegacyFiles {
  private readonly owned = new Set<string>();

  constructor(
    private readonly pidfile: string | undefined,
    private readonly readyfile: string | undefined,
  ) {}

  /** At start; throws with the path and the cause when a file cannot be written or removed. */
  start(): void {
    if (this.readyfile) rmSync(this.readyfile, { force: true });
    process.once('exit', () => this.removeAll());
    if (this.pidfile) {
      writeFileSync(this.pidfile, `${process.pid}\n`);
      this.owned.add(this.pidfile);
    }
  }

  /** When the tunnel is ready. */
  ready(): void {
    if (!this.readyfile) return;
    writeFileSync(this.readyfile, '');
    this.owned.add(this.readyfile);
  }

  removeAll(): void {
    for (const f of this.owned) rmSync(f, { force: true });
    this.owned.clear();
  }
}
