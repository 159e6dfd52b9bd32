/**
 * Stamps the build: writes dist/src/build-info.js (over the placeholder that tsc compiled from
 * src/build-info.ts) with the commit from `git rev-parse HEAD` and the build time. Run by `npm run build`.
 *
 * SLUICE_GIT_COMMIT overrides the commit (a build from a source tarball, outside any git checkout);
 * SOURCE_DATE_EPOCH (seconds) fixes the time, for reproducible builds. "unknown" only when neither git nor
 * the variable can say.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null; // not a git checkout, or no git
  }
}

function gitCommit(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['SLUICE_GIT_COMMIT']?.trim();
  if (fromEnv) return fromEnv;
  const head = git(['rev-parse', 'HEAD']);
  if (!head) return 'unknown';
  const changed = git(['status', '--porcelain', '--untracked-files=no']);
  return changed ? `${head}-dirty` : head;
}

function buildTime(env: NodeJS.ProcessEnv = process.env): string {
  const epoch = env['SOURCE_DATE_EPOCH'];
  if (epoch !== undefined && /^\d+$/.test(epoch)) return new Date(Number(epoch) * 1000).toISOString();
  return new Date().toISOString();
}

const info = { commit: gitCommit(), time: buildTime() };
writeFileSync(
  join(ROOT, 'dist', 'src', 'build-info.js'),
  `/** Written by scripts/build-info.ts at build time. */\nexport const BUILD_INFO = ${JSON.stringify(info)};\n`,
);
