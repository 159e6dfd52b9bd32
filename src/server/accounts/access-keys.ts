/**
 * Access keys look like Sauce Labs' (a v4 UUID: 122 random bits) so existing tooling that validates the shape
 * accepts them. The store never sees a key, only its HMAC under the server secret: a stolen database alone does
 * not let anyone log in, and the hash cannot be brute-forced offline without the secret file too.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

export function generateAccessKey(): string {
  return randomUUID();
}

/** HMAC-SHA256 of the key under the server secret, lower-case hex. */
export function hashAccessKey(secret: Buffer, key: string): string {
  return createHmac('sha256', secret).update(key, 'utf8').digest('hex');
}

/** Equal-length hex strings compared without an early exit (timingSafeEqual needs equal lengths). */
export function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** What a caller may pass as an access key: printable ASCII, bounded, so junk is refused before hashing. */
export function isPlausibleAccessKey(key: string): boolean {
  return /^[\x21-\x7e]{8,256}$/.test(key);
}
