/**
 * The server secret keys every stored hash (access keys, tunnel tokens). It lives in DIR/server-secret, mode
 * 0600, beside but not inside the database, so a copy of sluice.db alone is not enough to check guesses.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SECRET_FILE = 'server-secret';
/** Secrets replaced by `sc-server admin rotate-secret`, newest first, one hex line each (verification only). */
export const PREVIOUS_SECRETS_FILE = 'server-secret.previous';
const SECRET_BYTES = 32;

/** Reads DIR/server-secret, creating it (32 random bytes, hex, 0600) on first start. */
export async function loadOrCreateSecret(dir: string): Promise<Buffer> {
  const path = join(dir, SECRET_FILE);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    // 'wx' fails if the file exists, so two processes starting at once agree on one secret.
    const fh = await open(path, 'wx', 0o600);
    try {
      await fh.writeFile(randomBytes(SECRET_BYTES).toString('hex') + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await chmod(path, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // A racing creator may not have written yet: retry briefly until the content is there.
  for (let attempt = 0; ; attempt++) {
    const text = (await readFile(path, 'utf8')).trim();
    if (/^[0-9a-f]{64}$/.test(text)) return Buffer.from(text, 'hex');
    if (text !== '' || attempt >= 50) {
      throw new Error(`${path} is not a valid server secret (expected ${SECRET_BYTES * 2} hex characters)`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The secrets that came before the current one (rotate-secret), newest first; [] when never rotated. */
export async function loadPreviousSecrets(dir: string): Promise<Buffer[]> {
  const text = await readFile(join(dir, PREVIOUS_SECRETS_FILE), 'utf8').catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    },
  );
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  for (const l of lines) {
    if (!/^[0-9a-f]{64}$/.test(l))
      throw new Error(`${join(dir, PREVIOUS_SECRETS_FILE)} has a malformed line`);
  }
  return lines.map((l) => Buffer.from(l, 'hex'));
}

/**
 * Replaces the server secret with a new random one; the old one moves to the head of server-secret.previous, so
 * keys hashed under it still verify and are rehashed under the new secret on their next successful use
 * (AccountService.authenticate), and tunnel tokens issued before still connect. Takes effect at the next start.
 */
export async function rotateSecret(dir: string): Promise<void> {
  const current = await loadOrCreateSecret(dir);
  const previous = await loadPreviousSecrets(dir);
  const prevPath = join(dir, PREVIOUS_SECRETS_FILE);
  const lines = [current, ...previous].map((b) => b.toString('hex') + '\n').join('');
  await writeFile(prevPath + '.tmp', lines, { mode: 0o600 });
  await rename(prevPath + '.tmp', prevPath);
  const path = join(dir, SECRET_FILE);
  await writeFile(path + '.tmp', randomBytes(SECRET_BYTES).toString('hex') + '\n', { mode: 0o600 });
  await rename(path + '.tmp', path);
}
