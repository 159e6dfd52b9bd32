/**
 * `sc ready`: one probe of the local API's /readyz, for container HEALTHCHECKs and scripts. Exit 0 and "ready"
 * on 200; exit 1 and one line saying why otherwise; exit 2 on bad flags, env or config file.
 *
 * The address comes from --api-address, SAUCE_API_ADDRESS or the config file's `api-address` (the same
 * precedence as `sc run`), else ":8032", the address SC5's images and charts use. A host that means "all
 * interfaces" (empty, 0.0.0.0, ::) is probed on loopback.
 */
import http from 'node:http';
import { resolve } from 'node:path';
import { ConfigError, envName, parseDuration } from '../../options/index.js';
import { basicAuth, hostPort } from '../../options/checks.js';
import { readConfigFile } from '../../options/config-file.js';
import { ExitCode } from '../exit-codes.js';

export const READY_DEFAULT_ADDRESS = ':8032';

export const READY_HELP = `Probe the local API of a running "sc run" once: exit 0 when /readyz answers 200, else 1.
For container HEALTHCHECKs and scripts that wait for the tunnel.

Usage:
  sc ready [flags]

Flags:
      --api-address host:port       Address of the local API (default ${READY_DEFAULT_ADDRESS}) [SAUCE_API_ADDRESS]
      --api-basic-auth user[:pass]  Credentials of the local API, if it requires them [SAUCE_API_BASIC_AUTH]
  -c, --config-file path            Read api-address and api-basic-auth from this sc config file [SAUCE_CONFIG_FILE]
      --timeout duration            Give up on the probe after this long (default 5s)
`;

interface ReadyOptions {
  apiAddress: string;
  apiBasicAuth: string;
  timeoutMs: number;
}

const FLAGS = ['api-address', 'api-basic-auth', 'config-file', 'timeout'] as const;
type Flag = (typeof FLAGS)[number];

function readArgv(argv: string[]): Map<Flag, string> {
  const out = new Map<Flag, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let name: string;
    let value: string | undefined;
    if (arg === '-c') name = 'config-file';
    else if (arg.startsWith('-c=')) [name, value] = ['config-file', arg.slice(3)];
    else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = arg.slice(2, eq < 0 ? undefined : eq);
      if (eq >= 0) value = arg.slice(eq + 1);
    } else throw new ConfigError(`unexpected argument "${arg}": sc ready takes only flags`);
    if (!(FLAGS as readonly string[]).includes(name))
      throw new ConfigError(`unknown flag ${arg.split('=')[0]} for ready (see "sc ready --help")`);
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new ConfigError(`flag --${name} needs a value`);
      value = argv[++i]!;
    }
    out.set(name as Flag, value);
  }
  return out;
}

export function parseReadyOptions(argv: string[], env: NodeJS.ProcessEnv, cwd: string): ReadyOptions {
  const flags = readArgv(argv);
  const fromEnv = (name: Flag): string | undefined => env[envName(name)] || undefined;
  let config: Record<string, unknown> = {};
  const cfgFlag = flags.get('config-file');
  const cfgPath = cfgFlag ?? fromEnv('config-file');
  if (cfgPath) {
    const path = resolve(cwd, cfgPath);
    config = readConfigFile(path, cfgFlag !== undefined ? '--config-file' : `env ${envName('config-file')}`);
  }
  const pick = (name: 'api-address' | 'api-basic-auth'): { value: string; where: string } | null => {
    const f = flags.get(name);
    if (f !== undefined) return { value: f, where: 'the command line' };
    const e = fromEnv(name);
    if (e !== undefined) return { value: e, where: `env ${envName(name)}` };
    const c = config[name];
    if (c === undefined || c === null || c === '') return null;
    if (typeof c !== 'string') throw new ConfigError(`config file key ${name}: expected a string`);
    return { value: c, where: `the config file (key ${name})` };
  };
  const address = pick('api-address');
  const addressValue = address?.value ?? READY_DEFAULT_ADDRESS;
  const addressProblem = hostPort(addressValue);
  if (addressProblem)
    throw new ConfigError(
      `invalid value "${addressValue}" for --api-address from ${address?.where}: ${addressProblem}`,
    );
  const auth = pick('api-basic-auth');
  const authProblem = auth ? basicAuth(auth.value) : undefined;
  if (auth && authProblem)
    throw new ConfigError(`invalid value "****" for --api-basic-auth from ${auth.where}: ${authProblem}`);
  const timeoutText = flags.get('timeout') ?? '5s';
  const timeoutMs = parseDuration(timeoutText);
  if (timeoutMs === null || timeoutMs <= 0)
    throw new ConfigError(
      `invalid value "${timeoutText}" for --timeout: expected a duration like 500ms or 5s`,
    );
  return { apiAddress: addressValue, apiBasicAuth: auth?.value ?? '', timeoutMs };
}

/** host:port of the API as a client dials it: wildcard hosts become loopback, IPv6 gets brackets. */
export function probeTarget(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  let host = address.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  if (host === '' || host === '0.0.0.0') host = '127.0.0.1';
  else if (host === '::') host = '::1';
  return { host, port: Number(address.slice(i + 1)) };
}

function probe(opts: ReadyOptions): Promise<{ ok: boolean; message: string }> {
  const { host, port } = probeTarget(opts.apiAddress);
  const shown = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const headers: Record<string, string> = {};
  if (opts.apiBasicAuth) {
    const i = opts.apiBasicAuth.indexOf(':');
    const user = decodeURIComponent(i < 0 ? opts.apiBasicAuth : opts.apiBasicAuth.slice(0, i));
    const pass = i < 0 ? '' : decodeURIComponent(opts.apiBasicAuth.slice(i + 1));
    headers['authorization'] = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  }
  return new Promise((done) => {
    const req = http.get({ host, port, path: '/readyz', headers, agent: false }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      if (status === 200) done({ ok: true, message: `ready: http://${shown}/readyz answered 200` });
      else if (status === 401)
        done({ ok: false, message: `not ready: http://${shown}/readyz answered 401: set --api-basic-auth` });
      else done({ ok: false, message: `not ready: http://${shown}/readyz answered ${status}` });
    });
    req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) =>
      done({
        ok: false,
        message: `not ready: cannot reach the sc API at ${shown}: ${err.code ?? err.message}`,
      }),
    );
  });
}

export async function readyCommand(argv: string[]): Promise<void> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(READY_HELP);
    return;
  }
  let opts: ReadyOptions;
  try {
    opts = parseReadyOptions(argv, process.env, process.cwd());
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sc: ${err.message}\n`);
      process.exit(ExitCode.CONFIG);
    }
    throw err;
  }
  const result = await probe(opts);
  (result.ok ? process.stdout : process.stderr).write(result.message + '\n');
  process.exitCode = result.ok ? ExitCode.OK : ExitCode.INTERNAL;
}
