/**
 * Two network namespaces joined by a veth pair, for browser tests: `priv` (the private app and `sc`) and `cloud`
 * (sc-server, chromedriver, Chromium). Neither has a route out, so Chromium's calls home go nowhere, and the
 * private app on priv's 127.0.0.1 is reachable from cloud only through the tunnel. Names and the 10.x/30 pair are
 * unique per run; cleanup deletes both namespaces (which removes the veth pair), also after a failure.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { onCleanup, trackChild, waitFor, within } from '../kit/index.js';

export interface Namespaces {
  priv: string;
  cloud: string;
  /** priv's and cloud's address on the veth pair (only meaningful inside the namespaces). */
  privAddr: string;
  cloudAddr: string;
}

const ip = (...args: string[]): void => {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
};

export function makeNamespaces(): Namespaces {
  const tag = randomBytes(3).toString('hex');
  const priv = `sl-gw-p-${tag}`;
  const cloud = `sl-gw-c-${tag}`;
  const subnet = `10.${randomInt(200, 250)}.${randomInt(0, 256)}.${randomInt(0, 64) * 4}`;
  const base = subnet.split('.').map(Number);
  const privAddr = `${base[0]}.${base[1]}.${base[2]}.${base[3]! + 1}`;
  const cloudAddr = `${base[0]}.${base[1]}.${base[2]}.${base[3]! + 2}`;
  ip('netns', 'add', priv);
  onCleanup(async () => {
    execFileSync('ip', ['netns', 'del', priv], { stdio: 'ignore' });
  });
  ip('netns', 'add', cloud);
  onCleanup(async () => {
    execFileSync('ip', ['netns', 'del', cloud], { stdio: 'ignore' });
  });
  const vp = `vgp${tag}`;
  const vc = `vgc${tag}`;
  ip('link', 'add', vp, 'type', 'veth', 'peer', 'name', vc);
  ip('link', 'set', vp, 'netns', priv);
  ip('link', 'set', vc, 'netns', cloud);
  ip('-n', priv, 'addr', 'add', `${privAddr}/30`, 'dev', vp);
  ip('-n', cloud, 'addr', 'add', `${cloudAddr}/30`, 'dev', vc);
  for (const [ns, dev] of [
    [priv, vp],
    [cloud, vc],
  ] as const) {
    ip('-n', ns, 'link', 'set', dev, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  return { priv, cloud, privAddr, cloudAddr };
}

/** A process run inside a namespace, its output collected. */
export class NsProcess {
  readonly proc: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private out = '';
  private readonly watchers = new Set<() => void>();

  constructor(
    readonly name: string,
    ns: string,
    cmd: string,
    args: string[],
    env: Record<string, string | undefined> = process.env,
  ) {
    this.proc = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(this.proc);
    const collect = (d: Buffer): void => {
      this.out += d.toString('utf8');
      for (const w of this.watchers) w();
    };
    this.proc.stdout!.on('data', collect);
    this.proc.stderr!.on('data', collect);
    this.exited = new Promise((r) => this.proc.once('exit', (code, signal) => r({ code, signal })));
    onCleanup(() => this.stop());
  }

  logs(): string {
    return this.out;
  }

  describe(): string {
    const out = this.out.length > 20_000 ? '...' + this.out.slice(-20_000) : this.out;
    return `--- ${this.name} output ---\n${out}--- end ---`;
  }

  waitForLog(re: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const found = new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = (): void => {
        const m = re.exec(this.out);
        if (m) {
          this.watchers.delete(check);
          resolve(m);
        }
      };
      this.watchers.add(check);
      check();
      void this.exited.then(() => {
        const m = re.exec(this.out);
        if (m) resolve(m);
        else reject(new Error(`${this.name} exited before logging ${re}\n${this.describe()}`));
      });
    });
    return within(found, timeoutMs, `${this.name} to log ${re}`, () => this.describe());
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(t);
    }
  }
}

/** Runs a command inside a namespace to its end; resolves with its exit code and output. */
export async function runIn(
  ns: string,
  cmd: string,
  args: string[],
  env: Record<string, string | undefined> = process.env,
  timeoutMs = 60_000,
): Promise<{ code: number | null; out: string }> {
  const p = new NsProcess(cmd, ns, cmd, args, env);
  const exit = await within(p.exited, timeoutMs, `${cmd} to finish`, () => p.describe());
  return { code: exit.code, out: p.logs() };
}

/** What the browser tests read of a server's server.json. */
export interface NsServerInfo {
  rest_url: string;
  proxy_address: string;
  ca_cert: string;
  /** The port of rest_url. */
  restPort: number;
}

/** Waits for the server.json an sc-server writes into `dataDir` once it listens (30 s, then `describe()`). */
export function serverInfo(dataDir: string, describe: () => string): Promise<NsServerInfo> {
  return waitFor(
    'server.json',
    async () => {
      try {
        const info = JSON.parse(await readFile(join(dataDir, 'server.json'), 'utf8')) as NsServerInfo;
        return { ...info, restPort: Number(/:(\d+)\/rest/.exec(info.rest_url)![1]) };
      } catch {
        return undefined;
      }
    },
    30_000,
    describe,
  );
}
