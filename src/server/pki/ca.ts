/**
 * The server's own certificate authority. A fresh server makes a CA (kept in its data dir) and signs the
 * certificate its REST API and tunnel edge present; `sc` trusts the CA through --cacert-file. ECDSA P-256 keys:
 * generated in milliseconds, and the cheapest handshakes.
 */
import { createPublicKey, X509Certificate, webcrypto } from 'node:crypto';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 24 * 3600 * 1000;

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

export interface ServerPki {
  ca: KeyPairPem;
  caPath: string;
  server: KeyPairPem;
  /** SHA-256 fingerprint of the CA certificate, colon-separated hex. */
  fingerprint: string;
}

async function keyToPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  const b64 = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64.trimEnd()}\n-----END PRIVATE KEY-----\n`;
}

async function pemToKey(pem: string): Promise<CryptoKey> {
  const b64 = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  return webcrypto.subtle.importKey('pkcs8', Buffer.from(b64, 'base64'), alg, true, ['sign']);
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
    .toString('hex')
    .replace(/^[89a-f]/, '1');
}

/** A self-signed CA; used by the server and by tests that need a private-side TLS app. */
export async function createCa(commonName: string, years = 10): Promise<KeyPairPem> {
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + years * 365 * DAY),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await keyToPem(keys.privateKey) };
}

/**
 * A leaf certificate for `names` (DNS names or IP addresses) signed by `ca`. `days` may be negative (an expired
 * certificate, for tests). With `keyPem` the leaf carries that key (TLS resigning: one leaf key for every host)
 * instead of a new one.
 */
export async function issueCertificate(
  ca: KeyPairPem,
  names: string[],
  days = 825,
  keyPem?: string,
): Promise<KeyPairPem> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await pemToKey(ca.keyPem);
  const keys = keyPem
    ? { privateKey: await pemToKey(keyPem), publicKey: await publicKeyOf(keyPem) }
    : await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const notAfter = new Date(Date.now() + days * DAY);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${names[0] ?? 'localhost'}`,
    issuer: caCert.subject,
    notBefore: new Date(Math.min(Date.now() - DAY, notAfter.getTime() - DAY)),
    notAfter,
    signingAlgorithm: alg,
    signingKey: caKey,
    publicKey: keys.publicKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        names.map((n) => (isIP(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n })),
      ),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: keyPem ?? (await keyToPem(keys.privateKey)) };
}

/** The public half of a PKCS#8 P-256 private key, as a WebCrypto key. */
async function publicKeyOf(keyPem: string): Promise<CryptoKey> {
  const der = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
  return webcrypto.subtle.importKey('spki', der, alg, true, ['verify']);
}

export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

export async function readPair(certPath: string, keyPath: string): Promise<KeyPairPem | null> {
  try {
    return { certPem: await readFile(certPath, 'utf8'), keyPem: await readFile(keyPath, 'utf8') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function writePair(pair: KeyPairPem, certPath: string, keyPath: string): Promise<void> {
  await writeFile(keyPath, pair.keyPem, { mode: 0o600 });
  await chmod(keyPath, 0o600);
  await writeFile(certPath, pair.certPem);
}

/**
 * Loads the CA and server certificate from `dir`, creating what is missing. The server certificate is reissued
 * when the wanted names change (a new --public-host), so the CA that clients trust stays the same.
 */
export async function loadOrCreatePki(
  dir: string,
  names: string[],
): Promise<ServerPki & { created: boolean }> {
  const caPath = join(dir, 'ca.pem');
  let created = false;
  const stored = await readPair(caPath, join(dir, 'ca-key.pem'));
  // After rotate-ca, ca.pem is a bundle: the current CA first, then the one before (clients trust either).
  let ca = stored ? { ...stored, certPem: firstPem(stored.certPem) } : null;
  if (!ca) {
    ca = await createCa('Sluice tunnel server CA');
    await writePair(ca, caPath, join(dir, 'ca-key.pem'));
    created = true;
  }
  const namesPath = join(dir, 'server-names.json');
  let server = await readPair(join(dir, 'server.pem'), join(dir, 'server-key.pem'));
  const prevNames = await readFile(namesPath, 'utf8').catch(() => '');
  if (!server || created || prevNames !== JSON.stringify(names)) {
    server = await issueCertificate(ca, names);
    await writePair(server, join(dir, 'server.pem'), join(dir, 'server-key.pem'));
    await writeFile(namesPath, JSON.stringify(names));
  }
  return { ca, caPath, server, fingerprint: fingerprintOf(ca.certPem), created };
}

function firstPem(text: string): string {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/.exec(text);
  return m ? m[0].replace(/\n?$/, '\n') : text;
}

const NEXT_CERT = 'ca-next.pem';
const NEXT_KEY = 'ca-next-key.pem';

/**
 * `sc-server admin rotate-ca`, in two steps so no client is cut off (a CA with path length 0, as ours are,
 * cannot cross-sign its successor):
 *  1. start: a new CA is made and ca.pem becomes a bundle, current CA first, new one second. The server still
 *     presents its certificate from the current CA; give the bundle to every client (--cacert-file).
 *  2. finish: the new CA becomes the current one (ca.pem = new, then old) and signs the server certificate from
 *     the next start. Clients with the bundle trust both.
 * Returns the new CA's fingerprint.
 */
export async function rotateCa(dir: string, step: 'start' | 'finish'): Promise<string> {
  const caPath = join(dir, 'ca.pem');
  const stored = await readPair(caPath, join(dir, 'ca-key.pem'));
  if (!stored) throw new Error(`no CA in ${dir} to rotate (start sc-server once first)`);
  const current = { ...stored, certPem: firstPem(stored.certPem) };
  const pending = await readPair(join(dir, NEXT_CERT), join(dir, NEXT_KEY));
  if (step === 'start') {
    if (pending) throw new Error('a CA rotation is already under way: run "rotate-ca --finish" first');
    const next = await createCa(`Sluice tunnel server CA ${new Date().toISOString().slice(0, 19)}`);
    await writePair(next, join(dir, NEXT_CERT), join(dir, NEXT_KEY));
    await writeFile(caPath, current.certPem + next.certPem, { mode: 0o600 });
    return fingerprintOf(next.certPem);
  }
  if (!pending) throw new Error('no CA rotation under way: run "rotate-ca" first');
  await writePair(
    { certPem: pending.certPem + current.certPem, keyPem: pending.keyPem },
    caPath,
    join(dir, 'ca-key.pem'),
  );
  await rm(join(dir, NEXT_CERT), { force: true });
  await rm(join(dir, NEXT_KEY), { force: true });
  // The server certificate is reissued by the new CA at the next start.
  await writeFile(join(dir, 'server-names.json'), '');
  return fingerprintOf(pending.certPem);
}
