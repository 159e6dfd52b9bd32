/**
 * `--log-file`: appends log lines to a file and reopens it on demand (SIGHUP), so logrotate can move the file
 * away and the next line lands in a fresh one. Writes are synchronous so no line is lost at exit.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { LogSink } from './log.js';

export class LogFile implements LogSink {
  private fd: number;

  /** Opens (creates or appends) the file now, so a bad path fails at start with a clear error. */
  constructor(readonly path: string) {
    this.fd = openSync(path, 'a', 0o640);
  }

  write(line: string): void {
    if (this.fd >= 0) writeSync(this.fd, line);
  }

  /** Reopens the path; on failure keeps writing to the old file and rethrows for the caller to log. */
  reopen(): void {
    const next = openSync(this.path, 'a', 0o640);
    const old = this.fd;
    this.fd = next;
    if (old >= 0) closeSync(old);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
