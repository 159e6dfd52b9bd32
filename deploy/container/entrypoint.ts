// Entry point of the sc image (compiled to dist/deploy/container/entrypoint.js): `sc <command>` with the image's defaults for what `sc run` requires but a CI
// background step often leaves out (docs/deploy.md, "Container images"):
//   tunnel name  SAUCE_TUNNEL_NAME, else the config file's tunnel-name, else the container's host name
//   region       SAUCE_REGION, else the config file's region, else SLUICE_DEFAULT_REGION (image: us-west)
// A flag on the command line still wins (flags beat env). Nothing here touches the access key.
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { readConfigFile } from '../../src/options/config-file.js';

const args = process.argv.slice(2);
const env = process.env;

function configFilePath(): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') break;
    if (a === '-c' || a === '--config-file') return args[i + 1];
    if (a.startsWith('--config-file=')) return a.slice('--config-file='.length);
    if (a.startsWith('-c=')) return a.slice(3);
  }
  return env.SAUCE_CONFIG_FILE || undefined;
}

if (args[0] === 'run' && !args.includes('-h') && !args.includes('--help') && args[1] !== 'config-file') {
  let config: Record<string, unknown> = {};
  const path = configFilePath();
  try {
    if (path) config = readConfigFile(resolve(path), 'config file');
  } catch {
    // sc run reports an unreadable config file itself, with the reason.
  }
  const unset = (key: string): boolean =>
    !env[`SAUCE_${key.toUpperCase().replaceAll('-', '_')}`] && !config[key];
  if (unset('tunnel-name')) env.SAUCE_TUNNEL_NAME = hostname();
  if (unset('region')) env.SAUCE_REGION = env.SLUICE_DEFAULT_REGION || 'us-west';
}
await import('../../src/client/cli/main.js');
