/** `sc version` and the local API's /version. */
import { GIT_COMMIT, VERSION } from '../../version.js';

export function versionInfo(): Record<string, string> {
  return {
    version: VERSION,
    commit: GIT_COMMIT,
    time: process.env['SLUICE_BUILD_TIME'] ?? 'unknown',
    node_version: process.version,
    os: process.platform,
    arch: process.arch,
  };
}

export function versionText(): string {
  const v = versionInfo();
  return (
    `Version: ${v.version}\nBuild time: ${v.time}\nGit commit: ${v.commit}\n` +
    `Node Version: ${v.node_version}\nOS: ${v.os}\nArch: ${v.arch}\n`
  );
}
