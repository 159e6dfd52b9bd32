/**
 * `sc run`: parse options, set up logging, metrics and the local API, start the client, and own the process:
 * signals (first SIGINT/SIGTERM drains, a second aborts; SIGHUP reopens --log-file) and the exit code.
 */
import type { Server } from 'node:http';
import { createHttpLogger, logHttpModes, type HttpLogEntry } from '../../observability/http-log.js';
import { createLogger, type Logger, type LogSink } from '../../observability/log.js';
import { LogFile } from '../../observability/log-file.js';
import {
  changedOptions,
  ConfigError,
  envHints,
  parseRunOptions,
  redactedConfig,
  renderConfigTemplate,
  RUN_FLAGS,
  secretValues,
  type ParsedRunOptions,
} from '../../options/index.js';
import { VERSION } from '../../version.js';
import { createApiServer, inspectorProblem, listenApiServer } from '../api/api-server.js';
import { createClientMetrics } from '../api/metrics.js';
import { checkKerberosOptions, kerberosDiagnostics, kerberosWanted } from '../egress/kerberos.js';
import { parseProxyUrl } from '../egress/upstream.js';
import type { ClientHandle, ClientState } from '../client-handle.js';
import { ExitCode } from '../exit-codes.js';
import { Inspector, MAX_BODY } from '../inspector/recorder.js';
import { startClient } from '../run.js';
import { runHelp } from './help.js';
import { versionInfo } from './version-info.js';
import { tuneHeapGrowth } from '../../runtime/heap.js';

function fail(message: string, code: number = ExitCode.CONFIG): never {
  process.stderr.write(`sc: ${message}\n`);
  process.exit(code);
}

function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '-h' || a === '--help');
}

/** What a wrapper of `sc run` (`sc legacy`) may add: called once the options are valid and logging is set up,
 * and once the tunnel is ready. */
export interface RunHooks {
  started?(log: Logger): void;
  ready?(log: Logger): void;
}

export async function runCommand(argv: string[], hooks: RunHooks = {}): Promise<void> {
  if (argv[0] === 'config-file') {
    if (argv.length > 1) fail(`unexpected argument "${argv[1]}" after config-file`);
    process.stdout.write(renderConfigTemplate());
    return;
  }
  if (wantsHelp(argv)) {
    process.stdout.write(runHelp());
    return;
  }
  let parsed: ParsedRunOptions;
  try {
    parsed = parseRunOptions(argv, process.env, process.cwd());
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const { options: opts, sources } = parsed;
  if (kerberosWanted(opts) && !opts.kerberosRunDiagnostics) {
    // The Kerberos flags together (and their files), before anything is logged, like every other flag error.
    try {
      checkKerberosOptions(opts);
    } catch (err) {
      fail((err as Error).message);
    }
  }
  tuneHeapGrowth();

  let logFile: LogFile | null = null;
  if (opts.logFile) {
    try {
      logFile = new LogFile(opts.logFile);
    } catch (err) {
      fail(`cannot open --log-file ${opts.logFile}: ${(err as Error).message}`);
    }
  }
  const sink: LogSink = logFile ?? process.stdout;
  const log = createLogger({
    level: opts.logLevel,
    format: opts.logFormat,
    module: 'control',
    sink,
    redact: secretValues(opts),
  });
  log.info('options', changedOptions(opts, sources));
  hooks.started?.(log);
  const flagNames = RUN_FLAGS.map((f) => f.name);
  for (const hint of envHints(process.env, flagNames)) log.warn(`ignoring env: ${hint}`);
  if (sources['access-key'] === 'flag')
    log.warn(
      'the access key was given on the command line, where other users of this machine can read it; ' +
        'prefer env SAUCE_ACCESS_KEY or the config file',
    );

  let inspector: Inspector | undefined;
  if (opts.inspector) {
    const problem = inspectorProblem(opts.apiAddress, opts.apiBasicAuth);
    if (problem) fail(problem);
    inspector = new Inspector({
      maxRequests: opts.inspectorMaxRequests,
      maxBytes: opts.inspectorMaxMemory * 1024 * 1024,
      maxBody: MAX_BODY,
      secrets: secretValues(opts),
    });
  }

  if (opts.kerberosRunDiagnostics) {
    // SC5's --kerberos-run-diagnostics: report and exit, no tunnel (docs/kerberos.md).
    const ok = await kerberosDiagnostics(opts, log.child('kerberos'), (u) => parseProxyUrl(u).host);
    logFile?.close();
    process.exit(ok ? ExitCode.OK : ExitCode.CONFIG);
  }

  const httpModes = logHttpModes(opts.logHttp);
  const metrics = createClientMetrics();
  const proxyHttp = createHttpLogger(log.child('proxy'), httpModes.proxy);
  const controlHttp = createHttpLogger(log.child('control'), httpModes.control);
  const deps = {
    log,
    metrics,
    version: VERSION,
    logHttp: httpModes.proxy === 'none' ? undefined : (e: HttpLogEntry) => proxyHttp.log(e),
    controlHttpLog: httpModes.control === 'none' ? undefined : (e: HttpLogEntry) => controlHttp.log(e),
    inspector,
  };
  // The API listens before the client starts, so a taken address fails before any tunnel exists.
  let handle: ClientHandle | null = null;
  const state: ClientState = {
    isReady: () => handle?.state.isReady() ?? false,
    isAlive: () => handle?.state.isAlive() ?? true,
    info: () => handle?.state.info() ?? null,
    connections: () => handle?.state.connections() ?? { active: 0, wanted: opts.tunnelConnections },
  };
  let api: Server | null = null;
  if (opts.apiAddress) {
    const apiLog = log.child('api');
    api = createApiServer(
      { basicAuth: opts.apiBasicAuth, idleTimeoutMs: opts.apiIdleTimeout, tunnelName: opts.tunnelName },
      {
        state,
        metrics,
        configz: () => redactedConfig(opts),
        version: versionInfo(),
        httpLog: httpModes.api === 'none' ? undefined : createHttpLogger(apiLog, httpModes.api),
        inspector,
      },
    );
    try {
      const address = await listenApiServer(api, opts.apiAddress);
      apiLog.info('API server listening', { address });
      if (inspector) apiLog.info('inspector at /inspector/', { address });
    } catch (err) {
      apiLog.error('cannot start the API server', {
        address: opts.apiAddress,
        error: (err as Error).message,
      });
      fail(`cannot listen on --api-address ${opts.apiAddress}: ${(err as Error).message}`);
    }
  }
  const client = startClient(opts, deps);
  handle = client;
  if (hooks.ready)
    client.ready.then(
      () => hooks.ready!(log),
      () => undefined,
    );

  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (++signals > 1) {
      log.info('second signal, exiting now', { signal: sig });
      client.abort(`second signal ${sig}`);
      process.exit(ExitCode.INTERNAL);
    }
    log.info('signal received, shutting down', { signal: sig });
    client.stop(`signal ${sig}`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', () => {
    if (!logFile) return;
    try {
      logFile.reopen();
      log.info('log file reopened', { path: logFile.path });
    } catch (err) {
      log.error('cannot reopen the log file', { path: logFile.path, error: (err as Error).message });
    }
  });

  const code = await client.done;
  api?.closeAllConnections();
  api?.close();
  logFile?.close();
  process.exit(code);
}
