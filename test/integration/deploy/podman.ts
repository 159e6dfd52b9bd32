/** Helpers of the deploy tests: podman and commands run to completion, the images built once per file. */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { onCleanup, ROOT } from '../../kit/index.js';

/**
 * The readiness loop of the CI background step in SC5's docs (seed 003), byte for byte as a YAML block scalar
 * holds it, so `''%{http_code}''` stays doubled: bash joins the empty strings around the format.
 */
export const SEED_READINESS_LOOP = `until [ "$(curl -s -o /dev/null -w ''%{http_code}'' localhost:8032/readiness)" == "200" ]
do
  sleep 2
done
echo "SC ready"`;

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], timeoutMs = 120_000, env?: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((done) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20, env }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** podman's healthcheck timers want systemd, which these machines do not run: drop that noise. */
export const quiet = (text: string): string =>
  text
    .split('\n')
    .filter((l) => !/systemd/.test(l))
    .join('\n');

export async function must(cmd: string, args: string[], timeoutMs?: number): Promise<string> {
  const r = await run(cmd, args, timeoutMs);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${quiet(r.stderr)}`);
  return r.stdout;
}

export const PODMAN_RUN_FLAGS = [
  '--runtime',
  'runc',
  '--ulimit',
  'nofile=1024:1024',
  '--ulimit',
  'nproc=1024:1024',
];

export async function requirePodman(): Promise<void> {
  const r = await run('podman', ['--version']);
  if (r.code !== 0)
    throw new Error(
      'podman is not installed: run scripts/setup-debian.sh (as root) to install podman and runc',
    );
}

/** Builds both images under names unique to this run; cleanup removes them (and their containers first). */
export async function buildImages(): Promise<{ client: string; server: string; id: string }> {
  const id = randomBytes(4).toString('hex');
  const client = `localhost/sluice-sc-test-${id}:t`;
  const server = `localhost/sluice-server-test-${id}:t`;
  onCleanup(async () => {
    await run('podman', ['rmi', '-f', client, server]);
  });
  await must(
    resolve(ROOT, 'deploy/container/build.sh'),
    ['--client-image', client, '--server-image', server],
    300_000,
  );
  return { client, server, id };
}

/** Registers removal of a container by name (before the images go: cleanups run newest first). */
export function containerCleanup(name: string): void {
  onCleanup(async () => {
    await run('podman', ['rm', '-f', '-t', '5', name]);
  });
}

/** The code block that follows `<!-- recipe: NAME ... -->` in docs/deploy.md. */
export function recipe(name: string): string {
  const doc = readFileSync(resolve(ROOT, 'docs/deploy.md'), 'utf8');
  const at = doc.indexOf(`<!-- recipe: ${name}`);
  if (at < 0) throw new Error(`docs/deploy.md has no recipe ${name}`);
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(doc.slice(at));
  if (!m) throw new Error(`recipe ${name} has no code block`);
  return m[1]!;
}
