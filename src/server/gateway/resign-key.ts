/**
 * The key that TLS resigning will sign with (a later issue builds the resigning itself). Browsers started by the
 * gateway are told to accept certificates of this key and no others (`--ignore-certificate-errors-spki-list`),
 * instead of `--ignore-certificate-errors`. Kept in the data dir beside the CA, mode 0600, used for nothing else.
 */
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const RESIGN_KEY_FILE = 'resign-key.pem';

/** Base64 SHA-256 of a public key's DER SubjectPublicKeyInfo: the form Chrome's SPKI list takes. */
export function spkiHash(keyOrCertPem: string): string {
  const der = createPublicKey(keyOrCertPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

export async function loadOrCreateResignKey(dataDir: string): Promise<{ path: string; spki: string }> {
  const path = join(dataDir, RESIGN_KEY_FILE);
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    // 'wx': two processes starting on one data dir do not overwrite each other's key.
    await writeFile(path, pem, { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
      pem = await readFile(path, 'utf8');
    });
  }
  return { path, spki: spkiHash(pem) };
}
