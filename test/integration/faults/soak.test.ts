/**
 * Issue 13, point 3: the soak (bench/soak.ts, `npm run soak`) for 60 s in CI. It runs real sc-server and four sc
 * under mixed load and exits 1 on any failed request or corrupted body; this test runs it and checks its report.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ROOT, cleanup, tempDir } from '../../kit/index.js';

after(cleanup);

test(
  'soak for 60 s: every request answered, no body corrupted, RSS reported',
  { timeout: 170_000 },
  async () => {
    const out = join(await tempDir('sluice-soak-'), 'soak.json');
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        [
          join(ROOT, 'dist/bench/soak.js'),
          '--duration',
          process.env['SLUICE_SOAK_DURATION'] ?? '60s',
          '--json',
          out,
        ],
        { timeout: 160_000, maxBuffer: 16 << 20 },
        (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin?.end();
    });
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    const report = JSON.parse(await readFile(out, 'utf8')) as {
      totals: { requests: number; errors: number; corrupted: number };
      by_kind: Record<string, { requests: number }>;
      samples: unknown[];
    };
    assert.equal(report.totals.errors, 0);
    assert.equal(report.totals.corrupted, 0);
    for (const kind of ['small', 'bulk', 'upload', 'connect', 'ws'])
      assert.ok(report.by_kind[kind]!.requests > 0, `${kind} ran`);
    assert.ok(report.samples.length >= 2, 'RSS was sampled');
    process.stdout.write(result.stdout);
  },
);
