/**
 * How many runs each property gets, and from which seed. In `npm test` the seed is fixed (FIXED_SEED) and the
 * runs few, so CI is repeatable and quick; `npm run fuzz` sets FUZZ_LONG=1 for many more runs from FUZZ_SEED or a
 * random seed, printed so that a failure can be replayed with `FUZZ_SEED=<seed> npm run fuzz`.
 */
import fc, { type Parameters } from 'fast-check';

export const FIXED_SEED = 20261202;
export const LONG = process.env['FUZZ_LONG'] === '1';

function seed(): number {
  const given = process.env['FUZZ_SEED'];
  if (given !== undefined && given !== '') {
    const n = Number(given);
    if (!Number.isSafeInteger(n))
      throw new Error(`FUZZ_SEED must be an integer, not ${JSON.stringify(given)}`);
    return n;
  }
  return LONG ? Math.floor(Math.random() * 2 ** 31) : FIXED_SEED;
}

export const SEED = seed();

/** fast-check parameters: `ciRuns` in npm test, `ciRuns * FUZZ_FACTOR` (default 20) in the long run. */
export function params<T>(name: string, ciRuns: number): Parameters<T> {
  const factor = Number(process.env['FUZZ_FACTOR'] ?? 20) || 20;
  const numRuns = LONG ? ciRuns * factor : ciRuns;
  process.stdout.write(`# fuzz ${name}: seed ${SEED}, ${numRuns} runs\n`);
  return { seed: SEED, numRuns, endOnFailure: true, interruptAfterTimeLimit: LONG ? undefined : 120_000 };
}

/** fc.assert, but the failure message carries the property's own error (what failed, with process logs). */
export async function assertProperty<Ts>(prop: fc.IAsyncProperty<Ts>, p: Parameters<Ts>): Promise<void> {
  const out = await fc.check(prop, p);
  if (out.failed) {
    const cause = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
    throw new Error(`${cause}\n\n${fc.defaultReportMessage(out) ?? ''}`);
  }
}
