/**
 * Composition root of `sc run`: creates the tunnel over REST, keeps its connections, serves streams from the
 * private network, and owns the lifecycle (ready, drain, delete). Signals and exit codes stay in src/client/cli.
 *
 *   start ──REST create (retry until --start-timeout)──> links dial ──first "ready"──> "you may start your tests"
 *   stop  ──readiness 503, GOAWAY on every link──> in-flight streams finish ──REST delete──> done(0)
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import tls from 'node:tls';
import type { Logger } from '../observability/log.js';
import type { RunOptions } from '../options/run-options.js';
import type { ClientMetrics } from './api/metrics.js';
import type { ClientHandle, ClientState, TunnelInfo } from './client-handle.js';
import type { HttpLogEntry } from '../observability/http-log.js';
import type net from 'node:net';
import { openKeylog, requestRules, startDebugProxy } from './egress/client-rules.js';
import { Egress } from './egress/egress.js';
import type { Inspector } from './inspector/recorder.js';
import { egressConfig, egressDialer } from './egress/from-options.js';
import { kerberosWanted, startKerberos, type Negotiator } from './egress/kerberos.js';
import { loadPacScript, PacEvaluator } from './egress/pac.js';
import { parseProxyUrl } from './egress/upstream.js';
import { targetSecureContext } from './egress/target-tls.js';
import { ExitCode, type ExitCodeValue } from './exit-codes.js';
import { Backoff, sleep } from './supervisor/backoff.js';
import { ControlError, RestClient, type CreatedTunnel } from './supervisor/rest-client.js';
import { Supervisor } from './supervisor/supervisor.js';

export interface ClientDeps {
  log: Logger;
  metrics: ClientMetrics;
  version: string;
  /** --log-http for the proxy module: one entry per proxied request. */
  logHttp?: (e: HttpLogEntry) => void;
  /** --log-http for the control module: one entry per call to the server's REST API. */
  controlHttpLog?: (e: HttpLogEntry) => void;
  /** --inspector: every request through the tunnel recorded for the local API. */
  inspector?: Inspector;
}

/** Reads --cacert-file entries: paths or data:base64,... values. */
export async function loadCaCerts(entries: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const e of entries) {
    if (e.startsWith('data:')) {
      const b64 = e.slice(e.indexOf(',') + 1);
      out.push(Buffer.from(b64, 'base64').toString('utf8'));
    } else {
      out.push(await readFile(e, 'utf8'));
    }
  }
  return out;
}

/** The trust store of every TLS connection sc opens: the system roots plus --cacert-file. */
export async function trustContext(cacertFile: string[]): Promise<tls.SecureContext> {
  return tls.createSecureContext({
    ca: [...tls.rootCertificates, ...(await loadCaCerts(cacertFile))],
    minVersion: 'TLSv1.2',
  });
}

/** A host name as an RE2 rule matching only itself. */
function literalRule(host: string): string {
  return host.replace(/[\\.*+?^${}()|[\]-]/g, '\\$&');
}

/**
 * The TLS lists of the create body, as SC5 means them (docs/routing.md): --tls-passthrough-domains alone resigns
 * every other host (the resign default is not sent beside it: the server refuses both lists together); with
 * neither flag the default `.*` resigns everything. --auth hosts are always resigned (SC5: "hosts auto-added to the
 * resign list"), so that their credentials can be injected inside HTTPS; a `*` host adds nothing.
 */
export function tlsLists(opts: Pick<RunOptions, 'tlsResignDomains' | 'tlsPassthroughDomains' | 'auth'>): {
  tls_resign_domains: string[];
  tls_passthrough_domains: string[];
} {
  const authHosts = [
    ...new Set(
      opts.auth
        .map((a) => a.slice(a.lastIndexOf('@') + 1))
        .map((t) =>
          t
            .slice(0, t.lastIndexOf(':'))
            .replace(/^\[|\]$/g, '')
            .toLowerCase(),
        )
        .filter((h) => h !== '' && h !== '*'),
    ),
  ];
  if (opts.tlsPassthroughDomains.length > 0) {
    return {
      tls_resign_domains: [],
      tls_passthrough_domains: [...opts.tlsPassthroughDomains, ...authHosts.map((h) => `-${literalRule(h)}`)],
    };
  }
  return {
    tls_resign_domains: [...opts.tlsResignDomains, ...authHosts.map(literalRule)],
    tls_passthrough_domains: [],
  };
}

function createBody(opts: RunOptions, version: string): Record<string, unknown> {
  return {
    tunnel_identifier: opts.tunnelName,
    protocol: 'h2c',
    tunnel_pool: opts.tunnelPool,
    shared: opts.shared,
    shared_tunnel: opts.shared === 'all',
    tunnel_domains: opts.tunnelDomains,
    direct_domains: opts.directDomains,
    deny_domains: opts.denyDomains,
    ...tlsLists(opts),
    metadata: {
      hostname: os.hostname(),
      platform: process.platform,
      release: version,
      build: version,
      nofile_limit: 0,
      host_cpu: os.cpus().length,
      host_memory: os.totalmem(),
      region: opts.region,
      extra: opts.metadata,
    },
  };
}

export function startClient(opts: RunOptions, deps: ClientDeps): ClientHandle {
  const { log, metrics } = deps;
  const control = log.child('control');
  const tunnelLog = log.child('tunnel');
  let info: TunnelInfo | null = null;
  let supervisor: Supervisor | null = null;
  let rest: RestClient | null = null;
  let egress: Egress | null = null;
  let debugProxy: net.Server | null = null;
  let pac: PacEvaluator | undefined;
  let alive = true;
  let stopping = false;
  const stopSignal = new AbortController();

  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  let resolveDone!: (c: ExitCodeValue) => void;
  const done = new Promise<ExitCodeValue>((r) => (resolveDone = r));
  const finish = (code: ExitCodeValue): void => {
    alive = false;
    metrics.tunnelConnections.set(0);
    resolveDone(code);
  };

  const state: ClientState = {
    isReady: () => !stopping && (supervisor?.isReady() ?? false),
    isAlive: () => alive,
    info: () => info,
    connections: () => ({ active: supervisor?.active() ?? 0, wanted: opts.tunnelConnections }),
  };

  /** Creates the tunnel, retrying what can be retried until --start-timeout. */
  const create = async (client: RestClient): Promise<CreatedTunnel> => {
    const deadline = Date.now() + opts.startTimeout;
    const backoff = new Backoff(250, 5000);
    for (;;) {
      try {
        return await client.createTunnel(createBody(opts, deps.version));
      } catch (err) {
        if (!(err instanceof ControlError) || !err.retryable || stopSignal.signal.aborted) throw err;
        const wait = backoff.next();
        if (Date.now() + wait > deadline) {
          throw new ControlError(
            `${err.message}; gave up after ${Math.round(opts.startTimeout / 1000)}s (--start-timeout)`,
            err.exitCode,
            false,
          );
        }
        control.info('server not reachable yet, retrying', { error: err.message, backoff: `${wait}ms` });
        await sleep(wait, stopSignal.signal);
      }
    }
  };

  const shutdown = async (reason: string, deleteTunnel: boolean, code: ExitCodeValue): Promise<void> => {
    if (stopping) return;
    stopping = true;
    stopSignal.abort();
    control.info('shutting down', { reason });
    const deadline = Date.now() + opts.shutdownTimeout;
    if (supervisor && deleteTunnel && rest && info) {
      // Jobs (WebDriver gateway sessions) still use the tunnel: keep routing for them until they end, up to
      // --shutdown-timeout (readiness is already 503: nothing new should start).
      const id = info.tunnel_id;
      let jobs = await rest.numJobs(id).catch(() => 0);
      if (jobs > 0) control.info('waiting for running jobs', { count: jobs });
      while (jobs > 0 && Date.now() < deadline) {
        await sleep(500);
        jobs = await rest.numJobs(id).catch(() => 0);
      }
      if (jobs > 0) control.info('shutdown timeout: jobs still running', { count: jobs });
    }
    if (supervisor) {
      supervisor.drain();
      // Spliced browser connections: each closes after its next response, or after a short grace when idle.
      egress?.drain();
      while (supervisor.inFlight() > 0 && Date.now() < deadline) await sleep(50);
      if (supervisor.inFlight() > 0)
        control.info('shutdown timeout: closing requests still in flight', { count: supervisor.inFlight() });
    }
    if (deleteTunnel && rest && info) {
      try {
        await rest.deleteTunnel(info.tunnel_id, reason.replace(/[^\w.-]+/g, '_').slice(0, 64) || 'shutdown');
        control.info('tunnel deleted', { id: info.tunnel_id });
      } catch (err) {
        control.error('could not delete the tunnel on the server', { error: (err as Error).message });
      }
    }
    supervisor?.close();
    debugProxy?.close();
    egress?.close();
    pac?.close();
    rest?.close();
    control.info('goodbye');
    finish(code);
  };

  const main = async (): Promise<void> => {
    control.info('Sluice sc starting', { version: deps.version });
    // SC5 logs "please wait for 'you may start your tests' ...", but scripts grep for that phrase: quoting it
    // here made a grep match at once, before the tunnel existed. The phrase appears only in the ready line.
    control.info('please wait for the ready line before running your tests');
    // One trust store for every TLS connection: parsing ~150 root certificates per connection cost more CPU at
    // start than the whole handshake.
    const secureContext = await trustContext(opts.cacertFile);
    // Kerberos (docs/kerberos.md): loaded only when a flag asks for it; a wrong keytab or an expired ticket stops
    // sc here, before a tunnel exists.
    let krb: Negotiator | undefined;
    if (kerberosWanted(opts)) {
      try {
        krb = await startKerberos(opts, control, (u) => parseProxyUrl(u).host);
      } catch (err) {
        const config = (err as { config?: boolean }).config === true;
        throw new ControlError((err as Error).message, config ? ExitCode.CONFIG : ExitCode.AUTH, false);
      }
    } else if (opts.kerberosKeytabFile || opts.kerberosUserName || opts.kerberosCfgFile)
      control.warn(
        'Kerberos credentials are set but nothing uses them: add --kerberos-enabled-hosts, ' +
          '--kerberos-auth-upstream-proxy or --proxy-sauce-enable-kerberos-auth',
      );
    const negotiate = krb ? (host: string): Promise<string> => krb.header(host) : undefined;
    // --pac compiles before anything else happens, so a broken script stops sc at start.
    if (opts.pac) {
      try {
        pac = await PacEvaluator.start(await loadPacScript(opts.pac, process.cwd()));
      } catch (err) {
        throw new ControlError(`--pac: ${(err as Error).message}`, ExitCode.CONFIG, false);
      }
    }
    const proxySauce = opts.proxySauce
      ? {
          ...parseProxyUrl(opts.proxySauce),
          ...(opts.proxySauceEnableKerberosAuth && negotiate ? { negotiate } : {}),
        }
      : undefined;
    rest = new RestClient(
      opts.restUrl,
      opts.username,
      opts.accessKey,
      secureContext,
      `sluice-sc/${deps.version}`,
      undefined,
      proxySauce,
    );
    // --http-tls-keylog-file: the keys of sc's own TLS (REST calls and tunnel connections; see docs/egress.md).
    let keylog: ((line: Buffer) => void) | undefined;
    if (opts.httpTlsKeylogFile) {
      try {
        keylog = openKeylog(opts.httpTlsKeylogFile);
      } catch (err) {
        throw new ControlError((err as Error).message, ExitCode.CONFIG, false);
      }
      rest.agent.on('keylog', keylog);
    }
    const onDialRetry = (target: string, attempt: number, error: string): void =>
      log.child('proxy').debug('dial failed, retrying', {
        target,
        attempt,
        of: opts.httpDialAttempts,
        error,
        backoff: `${opts.httpDialBackoff}ms`,
      });
    // The egress (and --debug-address) exist before the tunnel: a bad --debug-address fails the start before
    // anything is created on the server.
    egress = new Egress(
      {
        ...egressConfig(opts),
        onRetry: onDialRetry,
        // Resigned HTTPS: sc verifies the real site against the system's CA files, Node's roots and --cacert-file.
        targetTls: {
          secureContext: targetSecureContext(await loadCaCerts(opts.cacertFile)),
          handshakeTimeoutMs: opts.httpTlsHandshakeTimeout,
          keylog,
        },
      },
      {
        log: log.child('proxy'),
        metrics,
        logHttp: deps.logHttp,
        rules: requestRules(
          opts.auth,
          opts.header,
          negotiate ? { hosts: opts.kerberosEnabledHosts, header: negotiate } : undefined,
        ),
        inspector: deps.inspector,
        dialer: egressDialer(
          opts,
          pac,
          secureContext,
          onDialRetry,
          opts.kerberosAuthUpstreamProxy ? negotiate : undefined,
        ),
      },
    );
    if (opts.debugAddress) {
      try {
        debugProxy = await startDebugProxy(opts.debugAddress, egress, log.child('proxy'));
      } catch (err) {
        throw new ControlError((err as Error).message, ExitCode.CONFIG, false);
      }
    }
    control.info('provisioning tunnel', { region: opts.region, name: opts.tunnelName, server: opts.restUrl });
    const created = await create(rest);
    for (const m of created.messages?.info ?? []) control.info(m);
    for (const m of created.messages?.warning ?? []) control.info(`warning: ${m}`);
    info = {
      tunnel_id: created.id,
      tunnel_name: opts.tunnelName,
      tunnel_server: created.edge_address,
      tunnel_host: created.host,
    };
    metrics.tunnelInfo.set(
      { addr: created.edge_address, hostname: created.host, id: created.id, name: opts.tunnelName },
      1,
    );
    control.info('tunnel running', { id: created.id });
    if (stopping) {
      // A signal arrived while the create call was in flight: do not leave the new tunnel behind.
      await rest.deleteTunnel(created.id, 'shutdown').catch(() => undefined);
      return;
    }
    const eg = egress;
    const nodes = RestClient.nodeAddresses(created);
    if (nodes.length > 0) control.info('server nodes', { nodes: nodes.join(',') });
    const links = Array.from({ length: opts.tunnelConnections }, (_, index) => ({
      edgeAddress: created.edge_address,
      nodes,
      tunnelId: created.id,
      token: created.connection_token,
      index,
      maxStreams: opts.tunnelMaxConcurrentStreams,
      secureContext,
      keepaliveIntervalMs: opts.tunnelKeepaliveInterval,
      keepaliveTimeoutMs: opts.tunnelKeepaliveTimeout,
      handshakeTimeoutMs: Math.max(opts.httpTlsHandshakeTimeout, 1000),
      clientVersion: deps.version,
      keylog,
      proxy: proxySauce,
    }));
    supervisor = new Supervisor(
      links,
      {
        firstReady: () => {
          control.info('Sluice tunnel is up, you may start your tests', { id: created.id });
          resolveReady();
        },
        ended: (reason, message, clean) => {
          if (clean) control.info('tunnel stopped by the server', { reason, message });
          else control.error('tunnel refused by the server', { reason, message });
          void shutdown(`server: ${reason}`, false, clean ? ExitCode.OK : ExitCode.REFUSED);
        },
        stream: (s, h) => eg.handle(s, h),
      },
      tunnelLog,
      metrics,
    );
    supervisor.start();
  };

  main().catch((err: unknown) => {
    const code = err instanceof ControlError ? err.exitCode : ExitCode.INTERNAL;
    control.error(`fatal error exiting: create tunnel: ${(err as Error).message}`);
    if (!(err instanceof ControlError)) control.debug('stack', { stack: (err as Error).stack });
    stopping = true;
    supervisor?.destroy();
    debugProxy?.close();
    egress?.close();
    rest?.close();
    finish(code);
  });

  return {
    state,
    ready,
    done,
    stop: (reason) => void shutdown(reason, true, ExitCode.OK),
    abort: (reason) => {
      control.info('aborting', { reason });
      stopping = true;
      supervisor?.destroy();
      egress?.close();
      rest?.close();
      finish(ExitCode.INTERNAL);
    },
  };
}
