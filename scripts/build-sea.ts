/**
 * `npm run build:sea`: `sc` as one executable file, build/sea/sc, through Node's single executable applications
 * (https://nodejs.org/docs/latest-v20.x/api/single-executable-applications.html): the client bundled into one
 * CommonJS file, a preparation blob from `node --experimental-sea-config`, injected with postject into a copy of
 * the node binary running this script (or SLUICE_SEA_NODE). It runs on the platform that node binary is for, with
 * no Node installed; docs/install.md says how to build it on macOS and Windows.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { SEA_WASM_ASSET, SEA_WORKER_ASSET } from '../src/client/egress/pac.js';
import { BUILD, bundleClient, freshDir, requireDist, writeJson, writeNotices } from './pack-lib.js';

/** The fuse that Node's SEA support looks for (from Node's docs; the same in every Node 20+ binary). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

type Inject = (
  file: string,
  resource: string,
  data: Buffer,
  opts: { sentinelFuse: string; machoSegmentName?: string },
) => Promise<void>;

requireDist();
const dir = freshDir(join(BUILD, 'sea'));
const exe = join(dir, process.platform === 'win32' ? 'sc.exe' : 'sc');
const node = process.env['SLUICE_SEA_NODE'] || process.execPath;
if (!readFileSync(node).includes(SEA_FUSE))
  throw new Error(
    `${node} has no single-executable support (its SEA fuse is missing): use an official Node 20 build`,
  );

const meta = await bundleClient(join(dir, 'sc.cjs'));
writeNotices(join(dir, 'THIRD-PARTY-NOTICES.txt'), meta, node);
writeJson(join(dir, 'sea-config.json'), {
  main: join(dir, 'sc.cjs'),
  output: join(dir, 'sea-prep.blob'),
  disableExperimentalSEAWarning: true,
  // --pac's worker and QuickJS's WebAssembly travel inside the executable (src/client/egress/pac.ts reads them).
  assets: {
    [SEA_WORKER_ASSET]: join(dir, 'pac-worker.cjs'),
    [SEA_WASM_ASSET]: join(dir, 'quickjs.wasm'),
  },
  // Code cache and snapshot tie the blob to this exact node binary; plain source keeps it portable.
  useCodeCache: false,
  useSnapshot: false,
});
execFileSync(node, ['--experimental-sea-config', join(dir, 'sea-config.json')], { stdio: 'inherit' });
copyFileSync(node, exe);
chmodSync(exe, 0o755);
// macOS refuses a binary whose signature no longer matches: drop node's before, sign ad hoc after (untested
// here; docs/install.md).
if (process.platform === 'darwin')
  execFileSync('codesign', ['--remove-signature', exe], { stdio: 'inherit' });
const { inject } = createRequire(import.meta.url)('postject') as { inject: Inject };
await inject(exe, 'NODE_SEA_BLOB', readFileSync(join(dir, 'sea-prep.blob')), {
  sentinelFuse: SEA_FUSE,
  ...(process.platform === 'darwin' ? { machoSegmentName: 'NODE_SEA' } : {}),
});
if (process.platform === 'darwin') execFileSync('codesign', ['--sign', '-', exe], { stdio: 'inherit' });
process.stdout.write(exe + '\n');
