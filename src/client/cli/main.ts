#!/usr/bin/env node
/**
 * `sc` entry point (interim version by the lead so the tunnel can run end to end; the flag registry work
 * replaces the parsing here). Reads flags and SAUCE_* env, runs the client, owns signals and the exit code.
 */
import http from 'node:http';
import os from 'node:os';
import { createLogger } from '../../observability/log.js';
import type { RunOptions } from '../../options/run-options.js';
import { VERSION } from '../../version.js';
import { createClientMetrics } from '../api/metrics.js';
import { ExitCode } from '../exit-codes.js';
import { startClient } from '../run.js';

const DEFAULTS: RunOptions = {
  username: '',
  accessKey: '',
  region: '',
  tunnelName: '',
  tunnelPool: false,
  shared: '',
  metadata: {},
  configFile: '',
  restUrl: '',
  tunnelConnections: Math.min(16, 4 * os.cpus().length),
  tunnelMaxConcurrentStreams: 256,
  tunnelDomains: [],
  directDomains: [],
  denyDomains: [],
  tlsResignDomains: ['.*'],
  tlsPassthroughDomains: [],
  proxy: '',
  pac: '',
  proxySauce: '',
  proxySauceEnableKerberosAuth: false,
  proxyLocalhost: 'deny',
  auth: [],
  header: [],
  debugAddress: '',
  dnsServer: [],
  dnsRoundRobin: false,
  dnsTimeout: 5000,
  cacertFile: [],
  httpDialAttempts: 3,
  httpDialBackoff: 1000,
  httpDialTimeout: 25_000,
  httpIdleConnTimeout: 90_000,
  httpResponseHeaderTimeout: 0,
  httpTlsHandshakeTimeout: 10_000,
  httpTlsKeylogFile: '',
  apiAddress: '',
  apiBasicAuth: '',
  apiIdleTimeout: 3_600_000,
  logFile: '',
  logLevel: 'info',
  logFormat: 'text',
  logHttp: [],
  kerberosCfgFile: '',
  kerberosKeytabFile: '',
  kerberosUserName: '',
  kerberosUserRealm: '',
  kerberosEnabledHosts: [],
  kerberosAuthUpstreamProxy: false,
  kerberosRunDiagnostics: false,
  address: '',
  tunnelKeepaliveInterval: 5000,
  tunnelKeepaliveTimeout: 15_000,
  startTimeout: 30_000,
  shutdownTimeout: 30_000,
};

class ConfigError extends Error {}

const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function duration(v: string, name: string): number {
  let total = 0;
  let used = '';
  for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    used += m[0];
  }
  if (!v || used !== v)
    throw new ConfigError(`invalid value "${v}" for ${name}: expected a duration like 5s or 1m30s`);
  return total;
}

function setOption(opts: RunOptions, flag: string, value: string, source: string): void {
  const key = camel(flag) as keyof RunOptions;
  if (!(key in DEFAULTS)) throw new ConfigError(`unknown flag --${flag} (${source})`);
  const def = DEFAULTS[key];
  const o = opts as unknown as Record<string, unknown>;
  const where = `--${flag} (${source})`;
  if (typeof def === 'boolean') {
    if (!['true', 'false', ''].includes(value))
      throw new ConfigError(`invalid value "${value}" for ${where}`);
    o[key] = value !== 'false';
  } else if (typeof def === 'number') {
    const isDuration = /timeout|interval|backoff/i.test(flag);
    const n = isDuration ? duration(value, where) : Number(value);
    if (!Number.isFinite(n) || n < 0) throw new ConfigError(`invalid value "${value}" for ${where}`);
    o[key] = n;
  } else if (Array.isArray(def)) {
    o[key] = [
      ...((o[key] as string[]) === def ? [] : (o[key] as string[])),
      ...value.split(',').filter(Boolean),
    ];
  } else if (key === 'metadata') {
    for (const kv of value.split(',')) {
      const i = kv.indexOf('=');
      if (i < 1) throw new ConfigError(`invalid value "${kv}" for ${where}: expected key=value`);
      opts.metadata[kv.slice(0, i)] = kv.slice(i + 1);
    }
  } else {
    o[key] = value;
  }
}

function parse(argv: string[], env: NodeJS.ProcessEnv): RunOptions {
  const opts: RunOptions = { ...DEFAULTS, metadata: {} };
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('SAUCE_') || value === undefined) continue;
    const flag = name.slice(6).toLowerCase().replace(/_/g, '-');
    if (camel(flag) in DEFAULTS) setOption(opts, flag, value, `env ${name}`);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new ConfigError(`unexpected argument "${arg}"`);
    const flag = m[1]!;
    let value = m[2];
    if (value === undefined) {
      const def = DEFAULTS[camel(flag) as keyof RunOptions];
      if (typeof def === 'boolean' && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--')))
        value = 'true';
      else value = argv[++i] ?? '';
    }
    setOption(opts, flag, value, 'flag');
  }
  for (const required of ['username', 'accessKey', 'region', 'tunnelName'] as const) {
    if (!opts[required])
      throw new ConfigError(
        `missing required flag --${required.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`,
      );
  }
  if (!opts.restUrl)
    throw new ConfigError(
      'no server configured: set --rest-url or SAUCE_REST_URL to your sc-server REST URL',
    );
  if (!['deny', 'allow', 'direct'].includes(opts.proxyLocalhost))
    throw new ConfigError('--proxy-localhost must be deny, allow or direct');
  return opts;
}

function startApi(
  address: string,
  handle: ReturnType<typeof startClient>,
  registryText: () => Promise<string>,
  log: ReturnType<typeof createLogger>,
): void {
  const m = /^(.*):(\d+)$/.exec(address);
  if (!m) throw new ConfigError(`invalid value "${address}" for --api-address: expected host:port`);
  const server = http.createServer((req, res) => {
    const send = (status: number, body: string, type = 'text/plain'): void => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    switch (req.url) {
      case '/readyz':
      case '/readiness':
        return handle.state.isReady() ? send(200, 'OK') : send(503, 'Service Unavailable');
      case '/healthz':
      case '/liveness':
        return send(200, 'OK');
      case '/info':
        return send(200, JSON.stringify(handle.state.info() ?? {}), 'application/json');
      case '/version':
        return send(200, JSON.stringify({ version: VERSION }), 'application/json');
      case '/metrics':
        registryText().then(
          (t) => send(200, t, 'text/plain; version=0.0.4'),
          () => send(500, 'error'),
        );
        return;
      default:
        return send(404, 'Not Found');
    }
  });
  const host = m[1] || '::';
  server.listen(Number(m[2]), host, () => {
    const a = server.address() as { address: string; port: number };
    log.info('API server listening', { address: `${a.address === '::' ? '' : a.address}:${a.port}` });
  });
  server.unref();
}

function main(): void {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === 'version') {
    process.stdout.write(`Version: ${VERSION}\n`);
    return;
  }
  if (cmd !== 'run') {
    process.stderr.write(
      'usage: sc run --username U --access-key K --region R --tunnel-name N --rest-url URL\n',
    );
    process.exit(ExitCode.CONFIG);
  }
  let opts: RunOptions;
  try {
    opts = parse(rest, process.env);
  } catch (err) {
    process.stderr.write(`sc: ${(err as Error).message}\n`);
    process.exit(ExitCode.CONFIG);
  }
  const log = createLogger({
    level: opts.logLevel,
    format: opts.logFormat,
    module: 'control',
    sink: process.stdout,
  });
  const metrics = createClientMetrics();
  const handle = startClient(opts, { log, metrics, version: VERSION });
  if (opts.apiAddress) startApi(opts.apiAddress, handle, () => metrics.registry.metrics(), log.child('api'));
  let signals = 0;
  const onSignal = (sig: string): void => {
    if (++signals > 1) {
      log.info('second signal, exiting now', { signal: sig });
      process.exit(ExitCode.INTERNAL);
    }
    handle.stop(`signal ${sig}`);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  void handle.done.then((code) => process.exit(code));
}

main();
