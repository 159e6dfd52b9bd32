/**
 * `sc doctor --check-url URL`: the URL taken the way a browser's request through the tunnel would be.
 *
 *   domain rules (--tunnel-domains, --direct-domains, --deny-domains, compiled by the server's own module)
 *     deny -> FAIL; direct -> SKIP (the server fetches it, not sc)
 *   EgressPipeline.decide (--proxy-localhost), then its Dialer (--proxy or PAC, --dns-server, --http-dial-*)
 *   http:  one GET through the pipeline's Exchange (header and auth rules applied), the response status
 *   https: the CONNECT path: the dialled socket, then TLS to the target (verified: system roots + --cacert-file),
 *          then one GET, as the browser would send it
 */
import { isIP } from 'node:net';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { createLogger } from '../../observability/log.js';
import { formatDuration } from '../../options/duration.js';
import type { DoctorOptions } from '../../options/parse.js';
import { proxyErrors, type ProxyErrorCode } from '../../protocol/errors.js';
import type { ResponseHead } from '../../protocol/http1-exchange.js';
import { DomainRules, RuleSet, normaliseHost } from '../../server/routing/domain-rules.js';
import { VERSION } from '../../version.js';
import { createClientMetrics } from '../api/metrics.js';
import { requestRules } from '../egress/client-rules.js';
import { isLocalhostName } from '../egress/dialer.js';
import { egressConfig, egressDialer } from '../egress/from-options.js';
import type { PacEvaluator } from '../egress/pac.js';
import { EgressPipeline, Exchange, StickyPool, type Downstream, type Target } from '../egress/pipeline.js';
import { pacUrl } from '../egress/upstream-dialer.js';
import { parseProxyUrl, proxyLabel } from '../egress/upstream.js';
import { fail, ok, skip, type CheckResult } from './result.js';
import { within } from './network.js';

/** A URL as shown: never its user and password. */
export function shownUrl(u: URL): string {
  if (!u.username && !u.password) return u.href;
  const c = new URL(u.href);
  c.username = '****';
  c.password = '';
  return c.href;
}

/** How long one URL may take to answer when --http-response-header-timeout is 0 (wait forever). */
const ANSWER_MS = 30_000;

/** What to change for each way the egress can fail. */
const FIXES: Partial<Record<ProxyErrorCode, string>> = {
  localhost_denied:
    'set --proxy-localhost allow (or direct) to let the tunnel reach localhost and loopback addresses',
  dns_failed: 'check the host name, and --dns-server when set (sc resolves targets with it)',
  dns_timeout: 'check --dns-server (address, port, firewall) or raise --dns-timeout',
  dial_refused: 'nothing listens there: start the application, or fix the port in the URL',
  dial_timeout:
    'the host does not answer: check that this machine can reach it (firewall, route), or --http-dial-timeout',
  dial_failed: 'check that this machine can reach the host',
  upstream_proxy_auth:
    'give the upstream proxy its user and password in the --proxy URL (scheme://user:pass@host:port)',
  upstream_proxy_unreachable:
    'check the --proxy address (or the proxies the PAC script returns) and that the proxy runs',
  upstream_proxy_refused:
    'ask the proxy administrator to allow CONNECT to this host and port, or route it DIRECT',
  pac_failed: 'fix the PAC script: FindProxyForURL must return DIRECT or PROXY host:port entries',
  pac_timeout: 'make FindProxyForURL return promptly',
  response_timeout:
    'the application accepted the connection but sent no answer: check it, or raise --http-response-header-timeout',
  upstream_reset: 'the application closed the connection without an answer: check its logs',
};

/** The Downstream of doctor's one request: keeps the response status, stops at the head. */
class Probe implements Downstream {
  readonly decode = true;
  status = 0;
  error: { code: ProxyErrorCode; detail: string } | undefined;
  private resolve!: () => void;
  readonly done = new Promise<void>((r) => (this.resolve = r));
  interim(): void {}
  head(res: ResponseHead): boolean {
    this.status = res.status;
    this.resolve();
    return false; // the head is all doctor needs: the exchange is cancelled and its connection closed
  }
  body(): boolean {
    return true;
  }
  onDrain(cb: () => void): void {
    cb();
  }
  end(): void {
    this.resolve();
  }
  fail(code: ProxyErrorCode, detail: string): void {
    this.error = { code, detail };
    this.resolve();
  }
}

export interface UrlChecker {
  check(raw: string): Promise<CheckResult>;
  close(): void;
}

export function urlChecker(
  opts: DoctorOptions,
  secureContext: tls.SecureContext,
  pac: PacEvaluator | undefined,
): UrlChecker {
  const cfg = egressConfig(opts);
  if (cfg.responseHeaderTimeoutMs <= 0) cfg.responseHeaderTimeoutMs = ANSWER_MS;
  const pipeline = new EgressPipeline(cfg, {
    log: createLogger({ level: 'error', sink: { write: () => undefined } }),
    metrics: createClientMetrics(),
    dialer: egressDialer(opts, pac, secureContext),
    rules: requestRules(opts.auth, opts.header),
  });
  const pool = new StickyPool();
  let rules: DomainRules | Error;
  try {
    rules = new DomainRules(opts);
  } catch (err) {
    rules = err as Error;
  }

  /** The rule that sends `host` through the tunnel. */
  const tunnelRule = (host: string): string => {
    if (opts.tunnelDomains.length === 0)
      return opts.directDomains.length
        ? 'not in --direct-domains'
        : 'no domain rules: every host goes through the tunnel';
    return `--tunnel-domains "${new RuleSet(opts.tunnelDomains).match(normaliseHost(host)) ?? ''}"`;
  };

  /** How sc dials the target: direct, the --proxy, or what the PAC script says. */
  const route = async (t: Target): Promise<string> => {
    if (opts.proxyLocalhost === 'direct' && isLocalhostName(t.host))
      return 'direct (--proxy-localhost direct)';
    if (pac) {
      try {
        return `PAC "${await pac.find(pacUrl(t), t.host)}"`;
      } catch {
        return 'PAC (failed)';
      }
    }
    if (opts.proxy) return `through --proxy ${proxyLabel(parseProxyUrl(opts.proxy))}`;
    return 'direct';
  };

  const check = async (raw: string): Promise<CheckResult> => {
    const u = new URL(raw);
    const name = `url ${shownUrl(u)}`;
    const https = u.protocol === 'https:';
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const port = u.port ? Number(u.port) : https ? 443 : 80;
    const target: Target = { hostname: u.hostname, host, port, key: `${host}:${port}`, authority: u.host };
    if (rules instanceof Error)
      return fail(
        name,
        'the domain rules do not compile',
        rules.message,
        'fix --tunnel-domains / --direct-domains / --deny-domains',
      );
    const r = rules.decide(host);
    if (r.action === 'deny')
      return fail(
        name,
        `denied by ${r.rule.replace(/^deny_domains/, '--deny-domains')}`,
        `the server refuses requests for ${host} on this tunnel (403 denied)`,
        'remove the matching rule from --deny-domains if the tests need this host',
      );
    if (r.action === 'direct')
      return skip(
        name,
        `goes direct from sc-server (${r.rule.replace(/^direct_domains/, '--direct-domains').replace('tunnel_domains', '--tunnel-domains')}), not through sc: reachable only from the server's network`,
      );
    const rule = tunnelRule(host);
    const decision = pipeline.decide(target);
    if (decision.action === 'deny')
      return fail(
        name,
        `tunnel (${rule}); refused by sc: ${proxyErrors[decision.code].text}`,
        `${host} is a localhost name and --proxy-localhost is ${opts.proxyLocalhost}: sc answers ${proxyErrors[decision.code].status} ${decision.code}`,
        FIXES[decision.code] ?? 'check --proxy-localhost',
      );
    const via = await route(target);
    const prefix = `tunnel (${rule}); ${via}`;
    const failed = (code: ProxyErrorCode, detail: string): CheckResult =>
      fail(
        name,
        `${prefix}: ${code} (sc answers ${proxyErrors[code].status})`,
        `${proxyErrors[code].text}: ${detail}`,
        FIXES[code] ?? "check the URL and this machine's network",
      );
    if (!https) {
      const probe = new Probe();
      const path = u.pathname + u.search;
      const head = pipeline.requestHead(
        'GET',
        path,
        target,
        [
          ['User-Agent', `sluice-sc-doctor/${VERSION}`],
          ['Accept', '*/*'],
        ],
        [],
        { kind: 'none' },
      );
      const tx = pipeline.begin('GET', shownUrl(u), 'debug');
      const ex = new Exchange(
        pipeline,
        pool,
        probe,
        { method: 'GET', target, head, body: { kind: 'none' } },
        tx,
      );
      ex.start();
      ex.endBody();
      await probe.done;
      if (probe.error) return failed(probe.error.code, probe.error.detail);
      return answered(name, prefix, probe.status, '');
    }
    // https: the CONNECT path (sc pipes bytes; TLS is between the browser and the target).
    let socket: Socket;
    try {
      socket = await pipeline.dial(target);
    } catch (err) {
      return failed(pipeline.errorCode(err), (err as Error).message);
    }
    let secure: tls.TLSSocket;
    try {
      secure = await within(
        new Promise<tls.TLSSocket>((resolve, reject) => {
          const s = tls.connect({
            socket,
            servername: isIP(host) ? undefined : host,
            secureContext,
            rejectUnauthorized: false,
            ALPNProtocols: ['http/1.1'],
          });
          s.once('secureConnect', () => resolve(s));
          s.once('error', reject);
        }),
        opts.httpTlsHandshakeTimeout || 10_000,
        'ETIMEDOUT',
        `no TLS answer within ${formatDuration(opts.httpTlsHandshakeTimeout || 10_000)}`,
      );
    } catch (err) {
      socket.destroy();
      return fail(
        name,
        `${prefix}: TLS handshake with ${target.key} failed`,
        (err as Error).message,
        'check that the port speaks TLS (or use http://)',
      );
    }
    const authError = secure.authorizationError as unknown as Error | string | null;
    const trust = authError
      ? `; TLS certificate not trusted here (${typeof authError === 'string' ? authError : ((authError as NodeJS.ErrnoException).code ?? authError.message)}): browsers must trust its CA or accept insecure certificates`
      : tls.checkServerIdentity(host, secure.getPeerCertificate())
        ? `; TLS certificate does not name ${host}: browsers will warn`
        : '; TLS verified';
    try {
      const status = await within(
        new Promise<number>((resolve, reject) => {
          // The request as a browser sends it inside the CONNECT pipe; the status line is all doctor reads.
          let buf = '';
          secure.setEncoding('latin1');
          secure.on('data', (d: string) => {
            buf += d;
            const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf);
            if (m) resolve(Number(m[1]));
            else if (buf.includes('\r\n') || buf.length > 8192)
              reject(Object.assign(new Error('not an HTTP/1 answer'), { code: 'ECONNRESET' }));
          });
          secure.on('error', reject);
          secure.on('end', () =>
            reject(Object.assign(new Error('closed without an answer'), { code: 'ECONNRESET' })),
          );
          secure.write(
            `GET ${u.pathname + u.search} HTTP/1.1\r\nHost: ${u.host}\r\n` +
              `User-Agent: sluice-sc-doctor/${VERSION}\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
          );
        }),
        cfg.responseHeaderTimeoutMs,
        'ESC_RESPONSE_TIMEOUT',
        `no answer within ${formatDuration(cfg.responseHeaderTimeoutMs)}`,
      );
      return answered(name, prefix, status, trust);
    } catch (err) {
      return failed(pipeline.errorCode(err), (err as Error).message);
    } finally {
      secure.destroy();
    }
  };

  return {
    check: async (raw) => {
      try {
        return await check(raw);
      } catch (err) {
        let shown = raw;
        try {
          shown = shownUrl(new URL(raw));
        } catch {
          /* the parser checked it already */
        }
        return fail(`url ${shown}`, 'the check failed', (err as Error).message, 'check the URL');
      }
    },
    close: () => pool.destroy(),
  };
}

function answered(name: string, prefix: string, status: number, trust: string): CheckResult {
  const detail = `${prefix}: HTTP ${status}${trust}`;
  if (status >= 500)
    return fail(
      name,
      detail,
      `the application answered ${status}`,
      "check the application's logs: sc reached it",
    );
  return ok(name, detail);
}
