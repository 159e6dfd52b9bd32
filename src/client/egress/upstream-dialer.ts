/**
 * The pipeline's Dialer when --proxy or --pac is set: each target is reached through the fixed upstream proxy, or
 * through the routes the PAC script returns for it, tried in order until one connects (SC5's fallback lists).
 * With --proxy-localhost direct, localhost targets bypass the upstream proxy.
 */
import type net from 'node:net';
import type { SecureContext } from 'node:tls';
import { connect, isLocalhostName, type DialPolicy } from './dialer.js';
import type { PacEvaluator, PacRoute } from './pac.js';
import { labelRoute, type Dialer, type Target } from './pipeline.js';
import { connectVia, proxyLabel, type ProxyCredentials, type UpstreamProxy } from './upstream.js';

export interface UpstreamDialerConfig {
  policy: DialPolicy;
  /** --proxy */
  proxy?: UpstreamProxy;
  /** --pac (takes precedence over --proxy, which SC5 does not allow together anyway). */
  pac?: PacEvaluator;
  /** Credentials for proxies without userinfo (the --auth hook). */
  credentials?: ProxyCredentials;
  /** Trust for https:// proxies: system roots plus --cacert-file. */
  secureContext?: SecureContext;
  /** --kerberos-auth-upstream-proxy: SPNEGO to every HTTP(S) proxy, the fixed one and PAC results alike. */
  negotiate?: UpstreamProxy['negotiate'];
}

/** The URL handed to FindProxyForURL: the pipeline knows host and port only, so 443 means https. */
export function pacUrl(t: Target): string {
  const scheme = t.port === 443 ? 'https' : 'http';
  const dflt = t.port === 443 || t.port === 80;
  return `${scheme}://${t.hostname}${dflt ? '' : `:${t.port}`}/`;
}

export function upstreamDialer(cfg: UpstreamDialerConfig): Dialer {
  const direct = (t: Target): Promise<net.Socket> => connect(cfg.policy, t.host, t.port);
  return async (t: Target) => {
    if (cfg.policy.proxyLocalhost === 'direct' && isLocalhostName(t.host))
      return labelRoute(await direct(t), 'direct (--proxy-localhost direct)');
    let routes: PacRoute[];
    if (cfg.pac) routes = await cfg.pac.routes(pacUrl(t), t.host);
    else if (cfg.proxy) routes = [{ kind: 'proxy', proxy: cfg.proxy }];
    else routes = [{ kind: 'direct' }];
    let last: unknown;
    for (const r of routes) {
      try {
        const how = cfg.pac ? 'pac: ' : '';
        if (r.kind === 'direct') return labelRoute(await direct(t), `${how}direct`);
        const proxy =
          cfg.negotiate && r.proxy.kind !== 'socks5' ? { ...r.proxy, negotiate: cfg.negotiate } : r.proxy;
        const socket = await connectVia(proxy, t.host, t.port, {
          timeoutMs: cfg.policy.dialTimeoutMs,
          credentials: cfg.credentials,
          secureContext: cfg.secureContext,
        });
        return labelRoute(socket, `${how}proxy ${proxyLabel(r.proxy)}`);
      } catch (err) {
        last = err;
      }
    }
    throw last;
  };
}
