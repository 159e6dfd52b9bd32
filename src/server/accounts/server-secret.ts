/**
 * The server secret keys every stored hash (access keys, tunnel tokens). It lives in DIR/server-secret, mode
 * 0600, beside but not inside the database, so a copy of sluice.db alone is not enough to check guesses.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SECRET_FILE = 'server-secret';
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
