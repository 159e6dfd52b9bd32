/**
 * The product version (kept in step with package.json by a test) and the build's commit and time (stamped into
 * dist/ by scripts/build-info.ts), shared by both programs.
 */
import { BUILD_INFO } from './build-info.js';

export const VERSION = '0.1.0';
/** `git rev-parse HEAD` of the build, with `-dirty` when tracked files differed from it; else "unknown". */
export const GIT_COMMIT = BUILD_INFO.commit;
/** ISO 8601 UTC time of the build, or "unknown". */
export const BUILD_TIME = BUILD_INFO.time;

/** `sc version --format json`, the local API's /version, and the source of {@link versionText}. */
export function versionInfo(): Record<string, string> {
  return {
    version: VERSION,
    commit: GIT_COMMIT,
    time: BUILD_TIME,
    node_version: process.version,
    os: process.platform,
    arch: process.arch,
  };
}

/** What `sc version` and `sc-server version` print, in SC5's layout. */
export function versionText(): string {
  const v = versionInfo();
  return (
    `Version: ${v.version}\nBuild time: ${v.time}\nGit commit: ${v.commit}\n` +
    `Node Version: ${v.node_version}\nOS: ${v.os}\nArch: ${v.arch}\n`
  );
}
