/** Shared by the packaging tests: run a program to completion, check `version` output, follow a spawned one. */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { onCleanup, ROOT, trackChild, waitFor, within } from '../../kit/index.js';

export function run(cmd: string, args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 180_000,
    maxBuffer: 64 << 20,
    env: { ...process.env, ...env },
  });
}

/** Asserts exit 0 (with the output in the message) and returns stdout. */
export function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `git rev-parse HEAD` of this checkout. */
export function headCommit(): string {
  return ok(run('git', ['rev-parse', 'HEAD']), 'git rev-parse').trim();
}

/** `sc version` / `sc-server version` text: the commit this checkout was built from, and a build time. */
export function assertVersionText(text: string): void {
  assert.match(text, /^Version: \d+\.\d+\.\d+/m);
  const commit = /^Git commit: (.*)$/m.exec(text)?.[1];
  assert.match(commit ?? '', new RegExp(`^${headCommit()}(-dirty)?$`), text);
  assert.match(text, /^Build time: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/m);
}

/** A long-running program (not a node script: the kit's launchers run those), killed at cleanup. */
export class Program {
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  output = '';

  constructor(
    readonly name: string,
    cmd: string,
    args: string[],
    env: Record<string, string | undefined>,
  ) {
    this.proc = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(this.proc);
    const collect = (d: Buffer): void => void (this.output += d.toString('utf8'));
    this.proc.stdout!.on('data', collect);
    this.proc.stderr!.on('data', collect);
    this.exited = new Promise((r) => this.proc.once('exit', (code) => r(code)));
    onCleanup(() => {
      if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    });
  }

  describe(): string {
    return `--- ${this.name} output ---\n${this.output}--- end ---`;
  }

  async waitForLog(re: RegExp, ms = 20_000): Promise<RegExpMatchArray> {
    return waitFor(
      `${re} from ${this.name}`,
      () => {
        if (this.proc.exitCode !== null) throw new Error(`${this.name} exited\n${this.describe()}`);
        return re.exec(this.output) ?? undefined;
      },
      ms,
      () => this.describe(),
    );
  }

  async stop(ms = 20_000): Promise<number | null> {
    this.proc.kill('SIGTERM');
    return within(this.exited, ms, `${this.name} to exit`, () => this.describe());
  }
}
