/** A spawned `node dist/...` program with its output collected, for the server and client launchers. */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { onCleanup, trackChild, within } from './cleanup.js';

/** Repository root (this file runs from dist/test/kit). */
export const ROOT = resolve(import.meta.dirname, '../../..');
export const SERVER_MAIN = resolve(ROOT, 'dist/src/server/cli/main.js');
export const CLIENT_MAIN = resolve(ROOT, 'dist/src/client/cli/main.js');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class NodeProcess {
  readonly proc: ChildProcess;
  readonly exited: Promise<Exit>;
  private output = '';
  private readonly watchers = new Set<() => void>();

  constructor(
    readonly name: string,
    script: string,
    args: string[],
    env: Record<string, string | undefined>,
  ) {
    this.proc = spawn(process.execPath, [script, ...args], {
      env: env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    trackChild(this.proc);
    const collect = (d: Buffer): void => {
      this.output += d.toString('utf8');
      for (const w of this.watchers) w();
    };
    this.proc.stdout!.on('data', collect);
    this.proc.stderr!.on('data', collect);
    this.exited = new Promise((r) => this.proc.once('exit', (code, signal) => r({ code, signal })));
    // Stopped gracefully (so sc and sc-server write their coverage and run their shutdown code), SIGKILL after 10 s.
    onCleanup(() => this.stop('SIGTERM', 10_000));
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  logs(): string {
    return this.output;
  }

  /** The collected output framed for an assertion message. */
  describe(): string {
    const out = this.output.length > 20_000 ? '...' + this.output.slice(-20_000) : this.output;
    return `--- ${this.name} output (pid ${this.proc.pid}, ${this.running ? 'running' : 'exited'}) ---\n${out}--- end ---`;
  }

  /** Resolves with the first match of `re` in the output (past or future); rejects on timeout or exit. */
  waitForLog(re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    return new Promise((resolvePromise, reject) => {
      const check = (): boolean => {
        const m = re.exec(this.output);
        if (m) {
          done();
          resolvePromise(m);
          return true;
        }
        return false;
      };
      const onExit = (): void => {
        if (check()) return;
        done();
        reject(new Error(`${this.name} exited before logging ${re}\n${this.describe()}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${re} from ${this.name}\n${this.describe()}`,
          ),
        );
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.watchers.delete(watch);
        this.proc.off('exit', onExit);
      };
      const watch = (): void => void check();
      if (check()) return;
      this.watchers.add(watch);
      this.proc.once('exit', onExit);
    });
  }

  /** Waits for exit (rejects after `timeoutMs` with the output). */
  waitExit(timeoutMs = 20_000): Promise<Exit> {
    return within(this.exited, timeoutMs, `${this.name} to exit`, () => this.describe());
  }

  /** Sends `signal` and waits; SIGKILL after `killAfterMs` so no test leaks a process. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 15_000): Promise<Exit> {
    if (!this.running) return this.exited;
    this.proc.kill(signal);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), killAfterMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): Promise<Exit> {
    if (this.running) this.proc.kill('SIGKILL');
    return this.exited;
  }
}
