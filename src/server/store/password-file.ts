/** Reading --store-password-file, for `sc-server start` and `sc-server admin` (kept apart: no store modules). */
import { readFileSync } from 'node:fs';

/** The --store-password-file's content without its trailing newline; throws a message naming the file. */
export function readStorePasswordFile(file: string): string {
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new Error(`cannot read --store-password-file ${file}: ${(err as NodeJS.ErrnoException).code}`, {
      cause: err,
    });
  }
}
