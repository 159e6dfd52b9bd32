/**
 * The egress as `sc run` builds it from its options: the pipeline's config (localhost policy, dial and DNS
 * settings) and its Dialer (--proxy or --pac, else direct). `sc run` (run.ts) and `sc doctor` (doctor/) both
 * build it here, so doctor's --check-url goes exactly the way the tunnel's traffic would.
 */
import type { SecureContext } from 'node:tls';
import type { RunOptions } from '../../options/run-options.js';
import { proxyCredentials, targetResolver } from './client-rules.js';
import type { PacEvaluator } from './pac.js';
import type { Dialer, EgressConfig } from './pipeline.js';
import { parseProxyUrl } from './upstream.js';
import { upstreamDialer } from './upstream-dialer.js';

export function egressConfig(opts: RunOptions): EgressConfig {
  return {
    proxyLocalhost: opts.proxyLocalhost,
    dialTimeoutMs: opts.httpDialTimeout,
    dialAttempts: opts.httpDialAttempts,
    dialBackoffMs: opts.httpDialBackoff,
    idleConnTimeoutMs: opts.httpIdleConnTimeout,
    responseHeaderTimeoutMs: opts.httpResponseHeaderTimeout,
    resolve: targetResolver(opts.dnsServer, opts.dnsRoundRobin, opts.dnsTimeout),
  };
}

/** The Dialer for --proxy or --pac; undefined (the pipeline's direct dial) when neither is set. */
export function egressDialer(
  opts: RunOptions,
  pac: PacEvaluator | undefined,
  secureContext: SecureContext,
  onRetry?: EgressConfig['onRetry'],
  negotiate?: (host: string) => Promise<string>,
): Dialer | undefined {
  if (!pac && !opts.proxy) return undefined;
  return upstreamDialer({
    policy: {
      proxyLocalhost: opts.proxyLocalhost,
      dialTimeoutMs: opts.httpDialTimeout,
      dialAttempts: opts.httpDialAttempts,
      dialBackoffMs: opts.httpDialBackoff,
      onRetry,
    },
    proxy: opts.proxy ? parseProxyUrl(opts.proxy) : undefined,
    pac,
    secureContext,
    negotiate,
    // --auth entries also give upstream proxies their credentials (SC5's matching order).
    credentials: proxyCredentials(opts.auth),
  });
}
