/**
 * A throw-away npm registry on 127.0.0.1 port 0 that serves the packages installed in this checkout's
 * node_modules (the closure of the names asked for), so a packed package with dependencies installs with no
 * network. The npm cache cannot do that: `npm ci` stores tarballs but no packuments, and an install of a
 * tarball resolves its dependencies' ranges from packuments. Use it with a private `--cache` dir.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  [k: string]: unknown;
}

export interface LocalRegistry {
  url: string;
  /** name@version of every package served. */
  packages: string[];
  close(): Promise<void>;
}

/**
 * Serves NAMES and everything they depend on, as installed under ROOT/node_modules, packed into TMP.
 * `exclude(name, relPath)` leaves files out of a package's tarball (e.g. a compiled binding, which the real
 * registry does not carry either).
 */
export async function startLocalRegistry(
  root: string,
  names: string[],
  tmp: string,
  exclude: (name: string) => string[] = () => [],
): Promise<LocalRegistry> {
  const versions = new Map<string, Map<string, { manifest: Manifest; tarball: Buffer }>>();
  const seen = new Set<string>();
  const visit = (name: string, from: string, optional: boolean): void => {
    const dir = findPackage(name, from);
    if (dir === null) {
      if (optional) return;
      throw new Error(`${name} (needed from ${from}) is not installed under ${root}`);
    }
    if (seen.has(dir)) return;
    seen.add(dir);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
    const file = join(tmp, `${name.replace('/', '+')}-${manifest.version}.tgz`);
    execFileSync('tar', [
      '-czf',
      file,
      '--exclude=./node_modules',
      ...exclude(name).map((e) => `--exclude=./${e}`),
      '--transform=s,^\\.,package,',
      '-C',
      dir,
      '.',
    ]);
    const byVersion = versions.get(name) ?? new Map();
    versions.set(name, byVersion);
    byVersion.set(manifest.version, { manifest, tarball: readFileSync(file) });
    for (const dep of Object.keys(manifest.dependencies ?? {})) visit(dep, dir, false);
    for (const dep of Object.keys(manifest.optionalDependencies ?? {})) visit(dep, dir, true);
    for (const dep of Object.keys(manifest.peerDependencies ?? {})) visit(dep, dir, true);
  };
  for (const name of names) visit(name, root, false);

  let base = '';
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!.slice(1));
    const tgz = /^(.+)\/-\/(.+)-(\d[^/]*)\.tgz$/.exec(path);
    if (tgz) {
      const entry = versions.get(tgz[1]!)?.get(tgz[3]!);
      if (entry) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(entry.tarball);
        return;
      }
    } else if (versions.has(path)) {
      const byVersion = versions.get(path)!;
      const docs: Record<string, unknown> = {};
      for (const [v, { manifest, tarball }] of byVersion)
        docs[v] = {
          ...manifest,
          dist: {
            tarball: `${base}/${path}/-/${path.split('/').pop()}-${v}.tgz`,
            shasum: createHash('sha1').update(tarball).digest('hex'),
            integrity: 'sha512-' + createHash('sha512').update(tarball).digest('base64'),
          },
        };
      const latest = [...byVersion.keys()].pop()!;
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ name: path, 'dist-tags': { latest }, versions: docs }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base + '/',
    packages: [...versions].flatMap(([n, vs]) => [...vs.keys()].map((v) => `${n}@${v}`)),
    close: () => new Promise((r) => server.close(() => r())),
  };

  function findPackage(name: string, dir: string): string | null {
    for (let d = dir; d.startsWith(root); d = dirname(d)) {
      const p = join(d, 'node_modules', name);
      if (existsSync(join(p, 'package.json'))) return p;
    }
    return null;
  }
}
