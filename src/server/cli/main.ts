#!/usr/bin/env node
/**
 * sc-server: the platform side. `sc-server start` runs the REST API, tunnel edge and proxy entry on an embedded
 * store; `sc-server admin ...` manages accounts and keys. This is the only server file that reads argv, env or
 * signals, and the only one that exits.
 */
import { parseArgs } from 'node:util';
import { createLogger, type LogFormat, type LogLevel } from '../../observability/log.js';
import { parseDuration } from '../../options/duration.js';
import { VERSION } from '../../version.js';
import { parseListenAddress } from '../address.js';
import type { ServerConfig } from '../run.js';
import { tuneHeapGrowth } from '../../runtime/heap.js';
import { gatewayConfig, WEBDRIVER_FLAGS } from '../gateway/flags.js';

const USAGE = `sc-server ${VERSION}: the Sluice tunnel server

Usage:
  sc-server start [flags]     run the REST API, tunnel edge and proxy entry
  sc-server admin <command>   manage users, teams and access keys (sc-server admin help)
  sc-server version

Flags of start (env in brackets):
  --data-dir DIR                 data directory, created if missing (SC_DATA_DIR; default ./sluice-data)
  --rest-address HOST:PORT       REST API, HTTPS (SC_REST_ADDRESS; default 127.0.0.1:8443)
  --edge-address HOST:PORT       tunnel edge where sc connects, TLS (SC_EDGE_ADDRESS; default 127.0.0.1:8444)
  --proxy-address HOST:PORT      proxy entry for browsers, HTTP (SC_PROXY_ADDRESS; default 127.0.0.1:8080)
  --public-host NAME             host name clients use to reach this server; added to the certificate
                                 (SC_PUBLIC_HOST; default localhost)
  --tunnel-keepalive-interval D  PING interval on tunnel connections (default 5s)
  --tunnel-keepalive-timeout D   close a connection whose PING is unanswered this long (default 10s)
  --tunnel-grace D               end a tunnel whose client stays disconnected this long (default 60s)
  --queue-timeout D              how long a request waits for a free tunnel stream before 503 (default 10s)
  --max-header-size BYTES        largest request header block the proxy entry accepts, else 431 (default 16384)
  --proxy-splice true|false      carry a browser's keep-alive connection of plain http:// requests to its own
                                 tunnel over one stream, relayed by sc (default true; docs/decisions/0006)
  --webdriver-upstream URL       WebDriver gateway: a browser node or Grid where sessions run; repeat for several,
                                 used in turn (SC_WEBDRIVER_UPSTREAM, comma-separated; default none: sessions
                                 refused). docs/gateway.md
  --webdriver-proxy-ports N|A-B  proxy ports, one per live session: N free ports (one node), or the range A-B that
                                 every node listens on (SC_WEBDRIVER_PROXY_PORTS; default 16)
  --webdriver-proxy-host NAME    host browsers reach those ports on (SC_WEBDRIVER_PROXY_HOST; default the proxy
                                 entry's host, or --public-host when it binds all interfaces)
  --webdriver-trust-spki HASH    base64 SHA-256 SPKI the browser also accepts certificates of; repeatable
                                 (SC_WEBDRIVER_TRUST_SPKI, comma-separated)
  --webdriver-new-session-timeout D  W3C error when the upstream has not started a session by then
                                 (SC_WEBDRIVER_NEW_SESSION_TIMEOUT; default 60s)
  --webdriver-command-timeout D  W3C error when the upstream has not answered a command by then
                                 (SC_WEBDRIVER_COMMAND_TIMEOUT; default 330s)
  --webdriver-idle-timeout D     end a session with no command for this long (SC_WEBDRIVER_IDLE_TIMEOUT; default 90s)
  --log-level error|info|debug   (SC_LOG_LEVEL; default info)
  --log-format text|json         (SC_LOG_FORMAT; default text)
First start creates an admin account from SC_ADMIN_USERNAME / SC_ADMIN_ACCESS_KEY, or generates one and prints
its access key once. Port 0 picks a free port; DIR/server.json records the real addresses.
`;

class UsageError extends Error {}

function duration(value: string, flag: string): number {
  const ms = parseDuration(value);
  if (ms === null || ms < 0) throw new UsageError(`${flag}: "${value}" is not a duration (like 5s, 1m30s)`);
  return ms;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`${flag}: "${value}" is not one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function parseStart(
  argv: string[],
  env: NodeJS.ProcessEnv,
): { cfg: ServerConfig; level: LogLevel; format: LogFormat } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'data-dir': { type: 'string' },
        'rest-address': { type: 'string' },
        'edge-address': { type: 'string' },
        'proxy-address': { type: 'string' },
        'public-host': { type: 'string' },
        'tunnel-keepalive-interval': { type: 'string' },
        'tunnel-keepalive-timeout': { type: 'string' },
        'tunnel-grace': { type: 'string' },
        'queue-timeout': { type: 'string' },
        'max-header-size': { type: 'string' },
        'proxy-splice': { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        ...WEBDRIVER_FLAGS,
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = (flag: string, envName: string | null, def: string): string =>
    (values as Record<string, string | undefined>)[flag] ?? (envName ? env[envName] : undefined) ?? def;
  const maxHeader = Number(v('max-header-size', null, '16384'));
  if (!Number.isInteger(maxHeader) || maxHeader < 1024 || maxHeader > 1 << 20) {
    throw new UsageError('--max-header-size: must be an integer from 1024 to 1048576');
  }
  const publicHost = v('public-host', 'SC_PUBLIC_HOST', 'localhost');
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(publicHost))
    throw new UsageError(`--public-host: "${publicHost}" is not a host name`);
  const wrap = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  };
  const cfg: ServerConfig = {
    dataDir: v('data-dir', 'SC_DATA_DIR', './sluice-data'),
    rest: wrap(() =>
      parseListenAddress(v('rest-address', 'SC_REST_ADDRESS', '127.0.0.1:8443'), '--rest-address'),
    ),
    edge: wrap(() =>
      parseListenAddress(v('edge-address', 'SC_EDGE_ADDRESS', '127.0.0.1:8444'), '--edge-address'),
    ),
    proxy: wrap(() =>
      parseListenAddress(v('proxy-address', 'SC_PROXY_ADDRESS', '127.0.0.1:8080'), '--proxy-address'),
    ),
    publicHost,
    adminUsername: env['SC_ADMIN_USERNAME'] || undefined,
    adminAccessKey: env['SC_ADMIN_ACCESS_KEY'] || undefined,
    keepaliveIntervalMs: duration(v('tunnel-keepalive-interval', null, '5s'), '--tunnel-keepalive-interval'),
    keepaliveTimeoutMs: duration(v('tunnel-keepalive-timeout', null, '10s'), '--tunnel-keepalive-timeout'),
    tunnelGraceMs: duration(v('tunnel-grace', null, '60s'), '--tunnel-grace'),
    queueTimeoutMs: duration(v('queue-timeout', null, '10s'), '--queue-timeout'),
    maxHeaderSize: maxHeader,
    proxySplice:
      oneOf(v('proxy-splice', null, 'true'), ['true', 'false'] as const, '--proxy-splice') === 'true',
    gateway: wrap(() =>
      gatewayConfig(values as Record<string, string | string[] | undefined>, env, duration),
    ),
    version: VERSION,
  };
  const level = oneOf(
    v('log-level', 'SC_LOG_LEVEL', 'info'),
    ['error', 'info', 'debug'] as const,
    '--log-level',
  );
  const format = oneOf(v('log-format', 'SC_LOG_FORMAT', 'text'), ['text', 'json'] as const, '--log-format');
  return { cfg, level, format };
}

async function start(argv: string[]): Promise<number> {
  const { cfg, level, format } = parseStart(argv, process.env);
  const log = createLogger({ level, format, module: 'server', sink: process.stdout });
  log.info('Sluice sc-server starting', { version: VERSION, data_dir: cfg.dataDir });
  // Loaded here so that `sc-server admin` does not pay for the whole server's modules.
  const { startServer } = await import('../run.js');
  tuneHeapGrowth();
  const server = await startServer(cfg, log);
  if (server.generatedAdmin) {
    // Printed once, on the start that created it; the store keeps only a keyed hash.
    process.stdout.write(
      `\nAdmin account created. Save this access key now; it is not shown again.\n` +
        `  username:   ${server.generatedAdmin.username}\n  access key: ${server.generatedAdmin.accessKey}\n\n`,
    );
  }
  return new Promise((resolveExit) => {
    let stopping = false;
    const stop = (sig: string): void => {
      if (stopping) {
        log.info('second signal, exiting now', { signal: sig });
        process.exit(1);
      }
      stopping = true;
      log.info('shutting down', { signal: sig });
      server.close().then(
        () => resolveExit(0),
        (err: unknown) => {
          log.error('shutdown failed', { error: err });
          resolveExit(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'start':
      return start(rest);
    case 'admin':
      return (await import('./admin.js')).runAdmin(rest);
    case 'version':
    case '--version':
      process.stdout.write(`sc-server ${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      throw new UsageError(`unknown command "${cmd}"; try "sc-server help"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`sc-server: ${err.message}\n`);
      process.exit(2);
    }
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(
      `sc-server: fatal: ${e.code === 'EADDRINUSE' ? `address in use: ${e.message}` : (e.stack ?? String(err))}\n`,
    );
    process.exit(1);
  },
);
