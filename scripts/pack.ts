/**
 * `npm run pack`: the two npm packages from the one compiled dist/ (docs/decisions/0009-packages.md):
 *   build/packages/opentunnel-sc-<v>.tgz         `sc`: one bundled file, no dependencies, no native code
 *   build/packages/opentunnel-sc-server-<v>.tgz  `sc-server`: its dist/ files and the packages it imports
 * Staged under build/pkg/{client,server}; the client bundle's esbuild metafile goes to
 * build/pkg/client-meta.json (the packaging test reads it).
 */
import { join } from 'node:path';
import { BUILD, freshDir, npmPack, requireDist, stageClient, stageServer, writeJson } from './pack-lib.js';

requireDist();
const dest = freshDir(join(BUILD, 'packages'));
const meta = await stageClient(join(BUILD, 'pkg', 'client'));
writeJson(join(BUILD, 'pkg', 'client-meta.json'), meta);
await stageServer(join(BUILD, 'pkg', 'server'));
for (const side of ['client', 'server']) process.stdout.write(npmPack(join(BUILD, 'pkg', side), dest) + '\n');
