#!/usr/bin/env node
/**
 * sc-server: the platform side. `sc-server start` runs the REST API, tunnel edge and proxy entry on an embedded
 * store; `sc-server admin ...` manages accounts and keys. This is the only server file that reads argv, env or
 * signals, and the only one that exits. The options of `start` come from the shared registry
 * (src/options/server-flags.ts), parsed by the same parser as `sc run`.
 */
import { readFileSync } from 'node:fs';
import { createLogger, type LogSink } from '../../observability/log.js';
import { LogFile } from '../../observability/log-file.js';
import {
  changedOptions,
  ConfigError,
  parseServerOptions,
  secretValues,
  SERVER_FLAGS,
  serverStartHelp,
  type ParsedServerOptions,
} from '../../options/index.js';
import { VERSION, versionText } from '../../version.js';
import { parseListenAddress } from '../address.js';
import type { ServerConfig } from '../run.js';
import { gatewayFromOptions } from '../gateway/flags.js';
import { tuneHeapGrowth } from '../../runtime/heap.js';
import { loadTlsPair, TlsPairError, type LoadedPair } from './tls-pair.js';
import { maskedArgv } from '../../options/redact.js';
import { readStorePasswordFile } from '../store/password-file.js';

const USAGE = `sc-server ${VERSION}: the Sluice tunnel server

Usage:
  sc-server start [flags]     run the REST API, tunnel edge and proxy entry ("sc-server start --help": flags)
  sc-server admin <command>   manage users, teams and access keys ("sc-server admin help")
  sc-server version           print the version (also --version, -v)
  sc-server help              this text (also --help, -h)

Every flag of start is also an env var (SLUICE_SERVER_ + NAME) and a key of the --config-file (YAML).
See docs/server.md and docs/server-cli.md.
`;

/** A usage or configuration problem: printed without a stack, exit 2. */
class UsageError extends Error {}

function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '-h' || a === '--help');
}

function listenAddress(value: string, flag: string): ServerConfig['rest'] {
  try {
    return parseListenAddress(value, flag);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The --store-password-file's content without its trailing newline ('' when not set). */
function storePassword(file: string): string {
  if (!file) return '';
  try {
    return readStorePasswordFile(file);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function toConfig(parsed: ParsedServerOptions, tls: LoadedPair | null, password: string): ServerConfig {
  const o = parsed.options;
  return {
    dataDir: o.dataDir,
    store: {
      url: o.store === 'sqlite' ? '' : o.store,
      password: password || undefined,
      poolSize: o.storePoolSize,
      connectTimeoutMs: o.storeConnectTimeout,
      statementTimeoutMs: o.storeStatementTimeout,
      startRetryMs: o.storeStartRetry,
    },
    rest: listenAddress(o.restAddress, '--rest-address'),
    edge: listenAddress(o.edgeAddress, '--edge-address'),
    proxy: listenAddress(o.proxyAddress, '--proxy-address'),
    metrics: o.metricsAddress ? listenAddress(o.metricsAddress, '--metrics-address') : null,
    restMetrics: o.restMetrics,
    publicHost: o.publicHost,
    adminUsername: o.adminUsername || undefined,
    adminAccessKey: o.adminAccessKey || undefined,
    keepaliveIntervalMs: o.tunnelKeepaliveInterval,
    keepaliveTimeoutMs: o.tunnelKeepaliveTimeout,
    tunnelGraceMs: o.tunnelGrace,
    queueTimeoutMs: o.queueTimeout,
    maxHeaderSize: o.maxHeaderSize,
    proxySplice: o.proxySplice === 'true',
    proxyHeaderTimeoutMs: o.proxyHeaderTimeout,
    proxyIdleTimeoutMs: o.proxyIdleTimeout,
    maxConnectionsPerSource: o.proxyMaxConnectionsPerSource,
    trustedProxies: o.trustedProxies,
    quotas: { perUser: o.maxTunnelsPerUser, perOrg: o.maxTunnelsPerOrg },
    historyRetentionMs: o.tunnelHistoryRetention,
    directAllowNetworks: o.directAllowNetworks,
    memberSharing: o.teamMemberSharing,
    gateway: gatewayFromOptions(o),
    cluster: o.nodeAddress
      ? {
          nodeAddress: listenAddress(o.nodeAddress, '--node-address'),
          advertiseAddress: o.nodeAdvertiseAddress || undefined,
          publicAddress: o.nodePublicAddress,
          drainTimeoutMs: o.drainTimeout,
          leaseMs: o.nodeLease,
          heartbeatMs: Math.max(200, Math.floor(o.nodeLease / 5)),
        }
      : null,
    tls,
    version: VERSION,
  };
}

async function start(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(serverStartHelp());
    return 0;
  }
  let parsed: ParsedServerOptions;
  try {
    parsed = parseServerOptions(argv, process.env, process.cwd());
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  const o = parsed.options;
  let tls: LoadedPair | null = null;
  try {
    if (o.tlsCert) tls = loadTlsPair(o.tlsCert, o.tlsKey);
  } catch (err) {
    if (err instanceof TlsPairError) throw new UsageError(err.message);
    throw err;
  }
  const password = storePassword(o.storePasswordFile);
  const cfg = toConfig(parsed, tls, password);
  let logFile: LogFile | null = null;
  if (o.logFile) {
    try {
      logFile = new LogFile(o.logFile);
    } catch (err) {
      throw new UsageError(`cannot open --log-file ${o.logFile}: ${(err as Error).message}`);
    }
  }
  const sink: LogSink = logFile ?? process.stdout;
  const log = createLogger({
    level: o.logLevel,
    format: o.logFormat,
    module: 'server',
    sink,
    redact: [
      ...secretValues(o, SERVER_FLAGS),
      ...[password, o.store ? (process.env['PGPASSWORD'] ?? '') : ''].filter((p) => p.length >= 4),
    ],
  });
  log.info('Sluice sc-server starting', { version: VERSION, data_dir: cfg.dataDir });
  log.info('options', changedOptions(o, parsed.sources, SERVER_FLAGS));
  const core = coreDumpLimit();
  if (core !== null && core !== '0') {
    log.warn('core dumps are enabled: a dump would hold access keys and the server secret', {
      max_core_file_size: core,
      fix: 'ulimit -c 0, systemd LimitCORE=0 or docker --ulimit core=0 (docs/security.md)',
    });
  }
  if (parsed.sources['admin-access-key'] === 'flag')
    log.warn(
      '--admin-access-key on the command line is visible to other users of this machine: ' +
        'prefer SLUICE_SERVER_ADMIN_ACCESS_KEY or the config file',
    );
  if (tls) log.info('loaded --tls-cert', { path: tls.certPath, names: tls.names, valid_to: tls.validTo });
  // Loaded here so that `sc-server admin` does not pay for the whole server's modules.
  const { startServer, StartupError } = await import('../run.js');
  tuneHeapGrowth();
  let server;
  try {
    server = await startServer(cfg, log);
  } catch (err) {
    logFile?.close();
    if (err instanceof StartupError) throw new UsageError(err.message);
    throw err;
  }
  if (server.generatedAdmin) {
    // Printed once, on the start that created it; the store keeps only a keyed hash.
    process.stdout.write(
      `\nAdmin account created. Save this access key now; it is not shown again.\n` +
        `  username:   ${server.generatedAdmin.username}\n  access key: ${server.generatedAdmin.accessKey}\n\n`,
    );
  }
  const running = server;
  // SIGHUP: reopen the log file (logrotate), reload the operator's certificate; a failure keeps the old ones.
  process.on('SIGHUP', () => {
    if (logFile) {
      try {
        logFile.reopen();
        log.info('log file reopened', { path: logFile.path });
      } catch (err) {
        log.error('cannot reopen the log file', { path: logFile.path, error: (err as Error).message });
      }
    }
    if (o.tlsCert) {
      try {
        const pair = loadTlsPair(o.tlsCert, o.tlsKey);
        running.reloadTls(pair);
        log.info('reloaded --tls-cert', { path: pair.certPath, names: pair.names, valid_to: pair.validTo });
      } catch (err) {
        log.error('cannot reload --tls-cert/--tls-key, keeping the current certificate', {
          error: (err as Error).message,
        });
      }
    }
  });
  return new Promise((resolveExit) => {
    let stopping = false;
    const stop = (sig: string): void => {
      if (stopping) {
        log.info('second signal, exiting now', { signal: sig });
        process.exit(1);
      }
      stopping = true;
      log.info('shutting down', { signal: sig });
      running.close().then(
        () => {
          logFile?.close();
          resolveExit(0);
        },
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

/** The soft RLIMIT_CORE from /proc/self/limits ('0' = off, 'unlimited', bytes); null where not readable. */
function coreDumpLimit(): string | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max core file size'));
    return line?.slice('Max core file size'.length).trim().split(/\s+/)[0] ?? null;
  } catch {
    return null;
  }
}

async function main(argv: string[]): Promise<number> {
  // Files this process creates (store, WAL, keys, CA) are private to its user from the start; and no core dump
  // could carry keys out of memory: see docs/security.md for how the unit/container turns them off (RLIMIT_CORE).
  process.umask(0o077);
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'start':
      return start(rest);
    case 'admin':
      return (await import('./admin.js')).runAdmin(rest);
    case 'version':
    case '--version':
    case '-v':
      process.stdout.write(versionText());
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      if (cmd === 'help' && rest[0] === 'start') process.stdout.write(serverStartHelp());
      else process.stdout.write(USAGE);
      return 0;
    default:
      throw new UsageError(`unknown command "${cmd}"; try "sc-server help"`);
  }
}

const STORAGE_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO']);

// Keep --admin-access-key out of `ps` (docs/security.md).
process.title = ['sc-server', ...maskedArgv(process.argv.slice(2), SERVER_FLAGS)].join(' ');
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`sc-server: ${err.message}\n`);
      process.exit(2);
    }
    const e = err as NodeJS.ErrnoException;
    // A full, read-only or failing disk under --data-dir is the operator's to fix: name it, no stack trace.
    const storage =
      typeof e.code === 'string' && (STORAGE_ERRORS.has(e.code) || e.code.startsWith('SQLITE_'));
    const known =
      e.code === 'EADDRINUSE'
        ? `address in use: ${e.message}`
        : e.name === 'SqliteDriverError' || // the native store driver is missing: its message says what to do
            e.name === 'StoreInUseError' || // another server holds the embedded store
            e.name === 'PostgresDriverError' || // pg missing: its message says what to do
            e.name === 'StoreRefusedError' || // wrong PostgreSQL user, password or database name
            e.name === 'StoreUnavailableError' // PostgreSQL unreachable past --store-start-retry (no password)
          ? e.message
          : storage
            ? `cannot write the data directory: ${e.message} (check free space and permissions of --data-dir)`
            : undefined;
    process.stderr.write(`sc-server: fatal: ${known ?? e.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
