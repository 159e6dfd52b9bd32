/**
 * `npm run build:deb`: one .deb for each program, built with `dpkg-deb --build` into build/deb/:
 *
 *   sluice-sc         /usr/bin/sc, the single executable (build/sea/sc: run build-sea first); no Node needed
 *   sluice-sc-server  /usr/lib/sluice-sc-server/{node,app/} (this node binary, the staged server package and
 *                     the node_modules it needs, with better-sqlite3's compiled binding), /usr/bin/sc-server a
 *                     small wrapper; Debian 12's own nodejs (18) is too old
 *
 * Each installs its systemd unit (deploy/systemd/), its environment file /etc/sluice/<program>.env as a
 * conffile, LICENSE, README and docs. docs/decisions/0009-packages.md says why; docs/install.md how to use them.
 * SLUICE_DEB_COMPRESSION picks dpkg-deb's compressor (default gzip: a release may prefer xz, slower).
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { BUILD, freshDir, ROOT, rootPackage, stageServer, writeNotices } from './pack-lib.js';

const DEB_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };
const arch = DEB_ARCH[process.arch];
if (!arch) throw new Error(`no Debian architecture for ${process.arch}`);
const version = rootPackage().version;
const compression = process.env['SLUICE_DEB_COMPRESSION'] || 'gzip';
const MAINTAINER = 'Sluice developers <sluice@localhost>';
/** What Node's official Linux binary (and so the single executable) links against. */
const NODE_DEPENDS = 'libc6 (>= 2.28), libgcc-s1, libstdc++6';
/** Packages a dependency needs only to install (download or compile its binding), never at run time. */
const INSTALL_ONLY = new Set(['prebuild-install']);

const out = freshDir(join(BUILD, 'deb'));

function write(file: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, mode);
}

function copy(from: string, to: string, mode?: number): void {
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to, { recursive: true });
  if (mode !== undefined) chmodSync(to, mode);
}

/** Directories 0755, files 0644 or 0755 when executable by their owner: what dpkg expects, whatever umask. */
function normalizeModes(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isSymbolicLink()) continue;
    if (e.isDirectory()) {
      chmodSync(p, 0o755);
      normalizeModes(p);
    } else chmodSync(p, statSync(p).mode & 0o100 ? 0o755 : 0o644);
  }
}

function duKib(dir: string): number {
  return Number(execFileSync('du', ['-sk', '--exclude=DEBIAN', dir], { encoding: 'utf8' }).split('\t')[0]);
}

/** The parts both packages share: unit, environment file (a conffile), docs, maintainer scripts. */
function common(root: string, pkg: string, program: string): void {
  copy(
    join(ROOT, 'deploy/systemd', `${program}.service`),
    join(root, 'lib/systemd/system', `${program}.service`),
  );
  copy(join(ROOT, 'deploy/systemd', `${program}.env`), join(root, 'etc/sluice', `${program}.env`));
  const doc = join(root, 'usr/share/doc', pkg);
  copy(join(ROOT, 'LICENSE'), join(doc, 'copyright'));
  copy(join(ROOT, 'README.md'), join(doc, 'README.md'));
  copy(join(ROOT, 'docs'), join(doc, 'docs'));
  normalizeModes(root);
  // The environment file holds an access key.
  chmodSync(join(root, 'etc/sluice', `${program}.env`), 0o640);
  const reload = `#!/bin/sh
set -e
# The unit is installed, not enabled: configure /etc/sluice/${program}.env, then systemctl enable --now ${program}
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || true; fi
`;
  write(join(root, 'DEBIAN/conffiles'), `/etc/sluice/${program}.env\n`);
  write(join(root, 'DEBIAN/postinst'), reload, 0o755);
  write(join(root, 'DEBIAN/postrm'), reload, 0o755);
}

function control(root: string, fields: Record<string, string>): void {
  const all: Record<string, string> = {
    ...fields,
    Version: version,
    Architecture: arch!,
    Maintainer: MAINTAINER,
    Section: 'net',
    Priority: 'optional',
    'Installed-Size': String(duKib(root)),
  };
  const order = [
    'Package',
    'Version',
    'Architecture',
    'Maintainer',
    'Installed-Size',
    'Depends',
    'Conflicts',
  ];
  const keys = [...order.filter((k) => k in all), ...Object.keys(all).filter((k) => !order.includes(k))];
  write(join(root, 'DEBIAN/control'), keys.map((k) => `${k}: ${all[k]}`).join('\n') + '\n');
}

function dpkgBuild(root: string, name: string): string {
  const file = join(out, `${name}_${version}_${arch}.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', `-Z${compression}`, '--build', root, file], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  process.stdout.write(file + '\n');
  return file;
}

// --- sluice-sc: the single executable ---
const sea = join(BUILD, 'sea', 'sc');
if (!existsSync(sea)) throw new Error(`${sea} is missing: run "npm run build:sea" first`);
const client = freshDir(join(BUILD, 'debroot', 'sluice-sc'));
copy(sea, join(client, 'usr/bin/sc'));
copy(
  join(BUILD, 'sea', 'THIRD-PARTY-NOTICES.txt'),
  join(client, 'usr/share/doc/sluice-sc/THIRD-PARTY-NOTICES.txt'),
);
common(client, 'sluice-sc', 'sc');
control(client, {
  Package: 'sluice-sc',
  Depends: NODE_DEPENDS,
  // Debian's spreadsheet calculator "sc" also installs /usr/bin/sc.
  Conflicts: 'sc',
  Description:
    'Sluice tunnel client (sc)\n' +
    ' A self-hosted secure tunnel for browser testing. sc takes the command line of\n' +
    ' Sauce Connect Proxy 5 and dials out to a Sluice sc-server. One executable with\n' +
    ' Node.js inside, and a systemd unit (sc.service).',
});
dpkgBuild(client, 'sluice-sc');

// --- sluice-sc-server: node, the app and its node_modules ---
const server = freshDir(join(BUILD, 'debroot', 'sluice-sc-server'));
const lib = join(server, 'usr/lib/sluice-sc-server');
const app = join(lib, 'app');
const graph = await stageServer(app);
copyModules(Object.keys(graph.dependencies), ROOT, app);
copy(process.execPath, join(lib, 'node'));
// The packages under app/node_modules keep their own license files; Node's goes with the docs.
writeNotices(join(server, 'usr/share/doc/sluice-sc-server/THIRD-PARTY-NOTICES.txt'), null, process.execPath);
write(
  join(server, 'usr/bin/sc-server'),
  `#!/bin/sh
# sc-server with the Node.js that this package ships (found relative to this script, so an unpacked copy runs too).
here=$(dirname "$(readlink -f "$0")")
lib="$here/../lib/sluice-sc-server"
exec "$lib/node" "$lib/app/dist/src/server/cli/main.js" "$@"
`,
  0o755,
);
common(server, 'sluice-sc-server', 'sc-server');
control(server, {
  Package: 'sluice-sc-server',
  Depends: NODE_DEPENDS,
  Description:
    'Sluice tunnel server (sc-server)\n' +
    ' The server side of Sluice: accounts and access keys, the tunnels REST API,\n' +
    ' the tunnel edge and the proxy entry for browsers, with an embedded store.\n' +
    ` Ships Node.js ${process.version} and a systemd unit (sc-server.service).`,
});
dpkgBuild(server, 'sluice-sc-server');

/**
 * Copies the named packages and what they depend on from this checkout's node_modules (built for this node
 * binary) into APP, in the same layout (so Node resolves them the same way), keeping only what runs:
 * better-sqlite3 without its C sources and build intermediates, and no install-time-only dependencies.
 */
function copyModules(names: string[], from: string, app: string, seen = new Set<string>()): void {
  for (const name of names) {
    if (INSTALL_ONLY.has(name)) continue;
    const dir = findPackage(name, from);
    if (seen.has(dir)) continue;
    seen.add(dir);
    cpSync(dir, join(app, relative(ROOT, dir)), {
      recursive: true,
      filter: (src) => {
        const rel = relative(dir, src);
        if (rel === 'node_modules' || rel.startsWith('node_modules/')) return false; // copied when needed
        if (name !== 'better-sqlite3') return true;
        return !/^(deps|src|docs|benchmark|test)(\/|$)|^build\/(?!Release(\/better_sqlite3\.node)?$)/.test(
          rel,
        );
      },
    });
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    copyModules(Object.keys(pkg.dependencies ?? {}), dir, app, seen);
  }
}

/** Node's lookup: the nearest node_modules/NAME going up from DIR. */
function findPackage(name: string, dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    const p = join(d, 'node_modules', name);
    if (existsSync(join(p, 'package.json'))) return p;
    if (dirname(d) === d) throw new Error(`${name} is not installed (run npm ci)`);
  }
}
