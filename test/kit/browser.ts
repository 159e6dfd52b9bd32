/**
 * A real Chromium (Debian's /usr/bin/chromium) driven by playwright-core, for pages served by a kit server.
 * The browser reaches loopback only: every other host name fails to resolve and any other destination is sent to
 * a closed proxy port, so nothing leaves the machine even when Chromium phones home. The server's certificate is
 * trusted by its public key (--ignore-certificate-errors-spki-list), so the page is a secure context and Secure
 * cookies work as in production. Playwright starts it with a new empty profile (--user-data-dir in a temp dir of
 * its own, removed when the browser closes). Closed by the kit's cleanup.
 */
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { chromium, type Browser } from 'playwright-core';
import { onCleanup } from './cleanup.js';
import { closedPort } from './origins.js';
import { spkiHash } from '../../src/server/gateway/resign-key.js';

export const CHROMIUM = '/usr/bin/chromium';

/** The SPKI hash (base64 SHA-256) of the certificate a TLS server presents at host:port. */
export function presentedSpki(hostPort: string): Promise<string> {
  const i = hostPort.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const s = tls.connect(
      { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)), rejectUnauthorized: false },
      () => {
        const der = s.getPeerCertificate().raw;
        s.end();
        resolve(spkiHash(new X509Certificate(der).toString()));
      },
    );
    s.on('error', reject);
  });
}

/**
 * Chromium's flags for tests and the bench: the recipe's quiet set, plus loopback only (every other name fails to
 * resolve, every other destination goes to `deadProxyPort`, a closed port) and trust in the given SPKI hashes.
 */
export function chromiumArgs(deadProxyPort: number, trustSpki: string[] = []): string[] {
  return [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
    `--proxy-server=http://127.0.0.1:${deadProxyPort}`,
    ...(trustSpki.length ? [`--ignore-certificate-errors-spki-list=${trustSpki.join(',')}`] : []),
  ];
}

export async function launchChromium(opts: { trustSpki?: string[] } = {}): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: chromiumArgs(await closedPort(), opts.trustSpki),
  });
  onCleanup(() => browser.close());
  return browser;
}
