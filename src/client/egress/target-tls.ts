/**
 * TLS to the real site for resigned requests (docs/decisions/0016-tls-resigning.md). The server terminated the
 * browser's TLS and sends the requests as `:scheme https` (or a CONNECT stream marked x-sluice-tls for wss://), so
 * `sc` makes the TLS itself and verifies the site's certificate, as the browser would have: against the system's
 * CA files, Node's own roots and --cacert-file. Node 20 has no --use-system-ca, so the files are read here.
 *
 * A handshake or verification failure is a TargetTlsError: 502 target_tls_failed, the detail naming the cause.
 */
import fs from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { Target } from './pipeline.js';

export class TargetTlsError extends Error {
  readonly code = 'ESC_TARGET_TLS';
}

/** Bundles that distributions keep the system's trusted CAs in (the first one found is read). */
const SYSTEM_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Alpine
  '/etc/pki/tls/certs/ca-bundle.crt', // Fedora, RHEL
  '/etc/ssl/ca-bundle.pem', // openSUSE
  '/etc/ssl/cert.pem', // macOS, Alpine
];

/**
 * The system's CA certificates as PEM texts: $SSL_CERT_FILE, else the distribution's bundle, else every .pem/.crt
 * in $SSL_CERT_DIR or /etc/ssl/certs. Empty when there are none (then Node's roots and --cacert-file remain).
 */
export function systemCaCerts(env: NodeJS.ProcessEnv = process.env): string[] {
  const read = (f: string): string | undefined => {
    try {
      return fs.readFileSync(f, 'utf8');
    } catch {
      return undefined;
    }
  };
  const bundle = [env['SSL_CERT_FILE'], ...SYSTEM_BUNDLES].filter((f): f is string => !!f).map(read);
  const found = bundle.find((b) => b !== undefined && b.includes('-----BEGIN CERTIFICATE-----'));
  if (found) return [found];
  const dir = env['SSL_CERT_DIR'] ?? '/etc/ssl/certs';
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /\.(pem|crt)$/.test(n))
    .map((n) => read(path.join(dir, n)))
    .filter((t): t is string => t !== undefined && t.includes('-----BEGIN CERTIFICATE-----'));
}

/** The trust store for real sites: system CA files, Node's roots and the --cacert-file certificates. */
export function targetSecureContext(extraCa: readonly string[], env?: NodeJS.ProcessEnv): tls.SecureContext {
  return tls.createSecureContext({
    ca: [...systemCaCerts(env), ...tls.rootCertificates, ...extraCa],
    minVersion: 'TLSv1.2',
  });
}

export interface TargetTlsOptions {
  secureContext: tls.SecureContext;
  /** --http-tls-handshake-timeout (ms; 0 = none). */
  handshakeTimeoutMs: number;
  /** --http-tls-keylog-file's writer. */
  keylog?: (line: Buffer) => void;
}

/** Why a handshake failed, for the 502's body: the verification error's text and code, or the socket error. */
function reason(err: NodeJS.ErrnoException): string {
  const code = err.code && !err.message.includes(err.code) ? ` (${err.code})` : '';
  return `${err.message}${code}`;
}

/** TLS over a connected socket to `target`, verified; resolves once the handshake is done. */
export function handshake(
  raw: import('node:net').Socket,
  target: Target,
  o: TargetTlsOptions,
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tls.connect({
      socket: raw,
      servername: isIP(target.host) ? undefined : target.host,
      secureContext: o.secureContext,
      ALPNProtocols: ['http/1.1'],
      rejectUnauthorized: true,
    });
    if (o.keylog) secure.on('keylog', o.keylog);
    let timer: NodeJS.Timeout | undefined;
    const onError = (err: NodeJS.ErrnoException): void => fail(reason(err));
    const onClose = (): void => fail('the target closed the connection during the handshake');
    function fail(why: string): void {
      clearTimeout(timer);
      secure.off('close', onClose);
      secure.destroy();
      raw.destroy();
      reject(new TargetTlsError(`TLS to ${target.key} failed: ${why}`));
    }
    if (o.handshakeTimeoutMs > 0) {
      timer = setTimeout(() => fail('handshake timed out'), o.handshakeTimeoutMs);
    }
    secure.once('error', onError);
    secure.once('close', onClose);
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      secure.off('error', onError);
      secure.off('close', onClose);
      // Until the pipeline attaches its own listeners (a microtask later), an error must not go unhandled.
      secure.on('error', () => undefined);
      resolve(secure);
    });
  });
}
