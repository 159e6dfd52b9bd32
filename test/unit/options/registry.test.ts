/** The registry covers RunOptions exactly, and derived names follow SC5's rules. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  defaultRunOptions,
  envName,
  propertyName,
  RUN_FLAGS,
  type RunOptions,
} from '../../../src/options/index.js';

// The compiler refuses this object if RunOptions gains or loses a property: keep it in step with the registry.
const PROPERTIES: Record<keyof RunOptions, true> = {
  username: true,
  accessKey: true,
  region: true,
  tunnelName: true,
  tunnelPool: true,
  shared: true,
  metadata: true,
  configFile: true,
  restUrl: true,
  tunnelConnections: true,
  tunnelMaxConcurrentStreams: true,
  tunnelDomains: true,
  directDomains: true,
  denyDomains: true,
  tlsResignDomains: true,
  tlsPassthroughDomains: true,
  proxy: true,
  pac: true,
  proxySauce: true,
  proxySauceEnableKerberosAuth: true,
  proxyLocalhost: true,
  auth: true,
  header: true,
  debugAddress: true,
  dnsServer: true,
  dnsRoundRobin: true,
  dnsTimeout: true,
  cacertFile: true,
  httpDialAttempts: true,
  httpDialBackoff: true,
  httpDialTimeout: true,
  httpIdleConnTimeout: true,
  httpResponseHeaderTimeout: true,
  httpTlsHandshakeTimeout: true,
  httpTlsKeylogFile: true,
  apiAddress: true,
  apiBasicAuth: true,
  apiIdleTimeout: true,
  inspector: true,
  inspectorMaxRequests: true,
  inspectorMaxMemory: true,
  logFile: true,
  logLevel: true,
  logFormat: true,
  logHttp: true,
  kerberosCfgFile: true,
  kerberosKeytabFile: true,
  kerberosUserName: true,
  kerberosUserRealm: true,
  kerberosEnabledHosts: true,
  kerberosAuthUpstreamProxy: true,
  kerberosRunDiagnostics: true,
  address: true,
  tunnelKeepaliveInterval: true,
  tunnelKeepaliveTimeout: true,
  startTimeout: true,
  shutdownTimeout: true,
};

test('one flag per RunOptions property, no more, no less', () => {
  const fromRegistry = RUN_FLAGS.map((f) => propertyName(f.name)).sort();
  assert.deepEqual(fromRegistry, Object.keys(PROPERTIES).sort());
  assert.deepEqual(Object.keys(defaultRunOptions()).sort(), Object.keys(PROPERTIES).sort());
});

test('names, short aliases and env names are unique and follow SC5', () => {
  const shorts = RUN_FLAGS.flatMap((f) => (f.short ? [f.short] : []));
  assert.equal(new Set(shorts).size, shorts.length);
  assert.equal(new Set(RUN_FLAGS.map((f) => f.name)).size, RUN_FLAGS.length);
  assert.equal(envName('tunnel-max-concurrent-streams'), 'SAUCE_TUNNEL_MAX_CONCURRENT_STREAMS');
  const short = Object.fromEntries(RUN_FLAGS.filter((f) => f.short).map((f) => [f.name, f.short]));
  assert.deepEqual(short, {
    username: 'u',
    'access-key': 'k',
    region: 'r',
    'tunnel-name': 'i',
    'tunnel-pool': 't',
    shared: 's',
    metadata: 'M',
    'config-file': 'c',
    'tunnel-domains': 'T',
    'direct-domains': 'D',
    'deny-domains': 'F',
    'tls-resign-domains': 'b',
    'tls-passthrough-domains': 'B',
    proxy: 'x',
    pac: 'p',
    auth: 'a',
    header: 'H',
    'dns-server': 'n',
  });
});

test('hidden flags of this product stay out of help but are in the registry', () => {
  const hidden = RUN_FLAGS.filter((f) => f.hidden).map((f) => f.name);
  assert.deepEqual(hidden.sort(), [
    'address',
    'rest-url',
    'shutdown-timeout',
    'start-timeout',
    'tunnel-keepalive-interval',
    'tunnel-keepalive-timeout',
  ]);
  for (const f of RUN_FLAGS) assert.ok(f.description.length > 10, `${f.name} has a description`);
});
