/**
 * `--tls-cert` / `--tls-key`: reads the operator's PEM certificate (chain) and private key and checks that they
 * load and belong together, so a bad pair is refused with a message naming the problem: at start (exit 2) and on
 * SIGHUP (logged, the old pair kept). Never prints key material.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { TlsPair } from '../run.js';

export class TlsPairError extends Error {
  override readonly name = 'TlsPairError';
}

function read(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new TlsPairError(`${flag} ${path}: ${e.code === 'ENOENT' ? 'file not found' : e.message}`);
  }
}

export interface LoadedPair extends TlsPair {
  /** First certificate's subject alternative names and expiry, for the log. */
  names: string;
  validTo: string;
}

export function loadTlsPair(certPath: string, keyPath: string, now = new Date()): LoadedPair {
  const certPem = read(certPath, '--tls-cert');
  const keyPem = read(keyPath, '--tls-key');
  if (!certPem.includes('-----BEGIN CERTIFICATE-----'))
    throw new TlsPairError(`--tls-cert ${certPath}: no PEM certificate found`);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new TlsPairError(`--tls-cert ${certPath}: not a valid certificate (${(err as Error).message})`);
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new TlsPairError(`--tls-key ${keyPath}: not a PEM private key (an encrypted key is not supported)`);
  }
  if (!cert.checkPrivateKey(key))
    throw new TlsPairError(`--tls-key ${keyPath} is not the private key of --tls-cert ${certPath}`);
  if (new Date(cert.validTo) < now)
    throw new TlsPairError(`--tls-cert ${certPath} expired on ${cert.validTo}`);
  if (new Date(cert.validFrom) > now)
    throw new TlsPairError(`--tls-cert ${certPath} is not valid before ${cert.validFrom}`);
  try {
    createSecureContext({ cert: certPem, key: keyPem });
  } catch (err) {
    throw new TlsPairError(`--tls-cert/--tls-key cannot be used: ${(err as Error).message}`);
  }
  return { certPem, keyPem, certPath, names: cert.subjectAltName ?? cert.subject, validTo: cert.validTo };
}
