/**
 * scripts/build-info.ts, the build's stamp: the commit and time it writes, run on a copy outside any git
 * checkout (so the real dist/ is left alone).
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cleanup, ROOT, tempDir } from '../../kit/index.js';
import { headCommit, ok, run } from './helpers.js';

after(cleanup);

async function stamp(env: Record<string, string>): Promise<{ commit: string; time: string }> {
  const dir = await tempDir('sluice-build-info-');
  mkdirSync(join(dir, 'dist', 'scripts'), { recursive: true });
  mkdirSync(join(dir, 'dist', 'src'), { recursive: true });
  cpSync(join(ROOT, 'dist', 'scripts', 'build-info.js'), join(dir, 'dist', 'scripts', 'build-info.js'));
  // GIT_CEILING_DIRECTORIES keeps git from finding a repository above the temp dir.
  ok(
    run(process.execPath, [join(dir, 'dist', 'scripts', 'build-info.js')], {
      GIT_CEILING_DIRECTORIES: dir,
      SLUICE_GIT_COMMIT: '',
      SOURCE_DATE_EPOCH: '',
      ...env,
    }),
    'build-info',
  );
  const text = readFileSync(join(dir, 'dist', 'src', 'build-info.js'), 'utf8');
  return JSON.parse(/BUILD_INFO = (\{.*\});/.exec(text)![1]!) as { commit: string; time: string };
}

test('outside a git checkout the commit is "unknown" and the time is the build time', async () => {
  const before = Date.now();
  const info = await stamp({});
  assert.equal(info.commit, 'unknown');
  assert.ok(Date.parse(info.time) >= before - 1000, info.time);
});

test('SLUICE_GIT_COMMIT and SOURCE_DATE_EPOCH set the stamp', async () => {
  const info = await stamp({ SLUICE_GIT_COMMIT: 'abc123', SOURCE_DATE_EPOCH: '1700000000' });
  assert.deepEqual(info, { commit: 'abc123', time: '2023-11-14T22:13:20.000Z' });
});

test("npm run build stamped this checkout's commit into dist/", async () => {
  const { BUILD_INFO } = (await import(join(ROOT, 'dist', 'src', 'build-info.js'))) as {
    BUILD_INFO: { commit: string };
  };
  assert.match(BUILD_INFO.commit, new RegExp(`^${headCommit()}(-dirty)?$`));
});
