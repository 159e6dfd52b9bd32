/**
 * Property: `sc run` with a bad flag value, an unknown flag or a bad YAML config file, and `sc-server start` with
 * a bad flag, exit 2 within a bound with a message naming the flag (or the config file / key), never a stack
 * trace. Seed and runs: test/fuzz/settings.ts.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { cleanup, closedPort, tempDir } from '../../kit/index.js';
import { scBadArgv, scBadConfig, serverBadArgv } from '../../fuzz/argv.js';
import { runCli, type CliResult } from '../../fuzz/run-cli.js';
import { assertProperty, params } from '../../fuzz/settings.js';

after(cleanup);

const STACK = /\n\s+at [^\n]+:\d+:\d+/;
let dir: string;
let base: string[];
let baseYaml: [string, string][];

before(async () => {
  dir = await tempDir('sluice-fuzz-flags-');
  const port = await closedPort();
  base = [
    'run',
    '--username',
    'u',
    '--access-key',
    'k',
    '--region',
    'us-west',
    '--tunnel-name',
    't',
    '--rest-url',
    `https://127.0.0.1:${port}/rest/v1`,
    '--api-address',
    '127.0.0.1:0',
  ];
  baseYaml = [];
  for (let i = 1; i < base.length; i += 2) baseYaml.push([base[i]!.slice(2), base[i + 1]!]);
});

function checkExit(r: CliResult, names: string, label: string): void {
  const out = r.stdout + r.stderr;
  assert.equal(r.timedOut, false, `no exit within the bound: ${label}\n${out}`);
  assert.equal(r.code, 2, `exit ${r.code} for: ${label}\n${out}`);
  assert.ok(
    out.toLowerCase().includes(names.toLowerCase()),
    `message does not name ${names}: ${label}\n${out}`,
  );
  assert.doesNotMatch(out, STACK, `a stack trace for: ${label}\n${out}`);
}

test('sc run: bad flags exit 2 naming the flag', async () => {
  await assertProperty(
    fc.asyncProperty(fc.array(scBadArgv, { minLength: 4, maxLength: 4 }), async (batch) => {
      const results = await Promise.all(batch.map((b) => runCli('sc', [...base, ...b.args])));
      results.forEach((r, i) => checkExit(r, batch[i]!.names, batch[i]!.label));
    }),
    params('sc flags', 4),
  );
});

test('sc run: bad config files exit 2 naming the file or key', async () => {
  let n = 0;
  await assertProperty(
    fc.asyncProperty(fc.array(scBadConfig, { minLength: 4, maxLength: 4 }), async (batch) => {
      const results = await Promise.all(
        batch.map(async (c) => {
          const file = join(dir, `config-${n++}.yaml`);
          // A bad key goes into an otherwise valid file (flags would override it); a broken file stands alone.
          const key = c.yaml.slice(0, c.yaml.indexOf(':'));
          const valid = baseYaml.filter(([k]) => k !== key).map(([k, v]) => `${k}: ${JSON.stringify(v)}\n`);
          await writeFile(file, c.whole ? c.yaml : valid.join('') + c.yaml);
          return runCli('sc', ['run', '--config-file', file]);
        }),
      );
      results.forEach((r, i) => checkExit(r, batch[i]!.names, batch[i]!.label));
    }),
    params('sc config files', 3),
  );
});

test('sc-server start: bad flags exit 2 naming the flag', async () => {
  let n = 0;
  await assertProperty(
    fc.asyncProperty(fc.array(serverBadArgv, { minLength: 4, maxLength: 4 }), async (batch) => {
      const results = await Promise.all(
        batch.map((b) =>
          runCli('sc-server', [
            'start',
            '--data-dir',
            join(dir, `data-${n++}`),
            '--rest-address',
            '127.0.0.1:0',
            '--edge-address',
            '127.0.0.1:0',
            '--proxy-address',
            '127.0.0.1:0',
            ...b.args,
          ]),
        ),
      );
      results.forEach((r, i) => checkExit(r, batch[i]!.names, batch[i]!.label));
    }),
    params('sc-server flags', 3),
  );
});
