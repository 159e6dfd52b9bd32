/**
 * What `npm run pack`, `npm run build:sea` and `npm run build:deb` share: where things are, the client bundle,
 * the server's module graph, and the staged package directories. See docs/decisions/0009-packages.md for the
 * layout and docs/install.md for using the results. Everything is built from the compiled dist/ (run
 * `npm run build` first) into build/ (not committed), or into SLUICE_BUILD_DIR when set.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where the outputs go: build/, or SLUICE_BUILD_DIR (the tests build into temp dirs). */
export const BUILD = resolve(process.env['SLUICE_BUILD_DIR'] || join(ROOT, 'build'));
export const CLIENT_ENTRY = 'dist/src/client/cli/main.js';
export const PAC_WORKER_ENTRY = 'dist/src/client/egress/pac-worker.js';
export const SERVER_ENTRY = 'dist/src/server/cli/main.js';
/** The web console's static files (docs/console.md), shipped beside the server's modules. */
export const CONSOLE_STATIC = 'dist/src/server/console/static';

/** npm package names; the .deb names are these with the `sluice-` prefix (see the decision record). */
export const CLIENT_PACKAGE = 'opentunnel-sc';
export const SERVER_PACKAGE = 'opentunnel-sc-server';

interface RootPackage {
  version: string;
  license: string;
  engines: Record<string, string>;
  dependencies: Record<string, string>;
}

export function rootPackage(): RootPackage {
  return JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as RootPackage;
}

export function requireDist(): void {
  for (const entry of [CLIENT_ENTRY, SERVER_ENTRY])
    if (!existsSync(join(ROOT, entry))) throw new Error(`${entry} is missing: run "npm run build" first`);
}

/** A fresh empty directory. */
export function freshDir(dir: string): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Modules that are never the client's: the server's code and its native driver. */
const CLIENT_FORBIDDEN = [/^dist\/src\/server\//, /(^|\/)node_modules\/better-sqlite3\//];

/**
 * Bundles `sc` with every dependency into one CommonJS file (what the npm client package ships and what the
 * single executable embeds), and refuses a bundle that reached the server's code or its native driver.
 */
export async function bundleClient(outfile: string): Promise<Metafile> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [CLIENT_ENTRY],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    metafile: true,
    logLevel: 'warning',
    // pac.ts reads import.meta.url only to find its worker, and falls back to __filename in this bundle.
    logOverride: { 'empty-import-meta': 'silent' },
    legalComments: 'eof',
  });
  // The --pac sandbox runs in a worker thread from its own file, with QuickJS's WebAssembly beside it
  // (src/client/egress/pac.ts finds both next to the bundle).
  const worker = await build({
    absWorkingDir: ROOT,
    entryPoints: [PAC_WORKER_ENTRY],
    outfile: join(dirname(outfile), 'pac-worker.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    metafile: true,
    logLevel: 'error',
    legalComments: 'eof',
  });
  cpSync(join(ROOT, 'node_modules', 'quickjs-wasi', 'quickjs.wasm'), join(dirname(outfile), 'quickjs.wasm'));
  Object.assign(result.metafile.inputs, worker.metafile.inputs);
  const inputs = Object.keys(result.metafile.inputs);
  const bad = inputs.filter((i) => CLIENT_FORBIDDEN.some((re) => re.test(i)));
  if (bad.length > 0) throw new Error(`the client bundle reached server-only modules: ${bad.join(', ')}`);
  return result.metafile;
}

export interface ServerGraph {
  /** dist/ files (repo-relative) that sc-server can load, static and dynamic imports alike. */
  files: string[];
  /** npm packages it imports, with the ranges from the root package.json. */
  dependencies: Record<string, string>;
}

/** Follows sc-server's imports from its entry point without bundling, to know which files and packages to ship. */
export async function serverGraph(): Promise<ServerGraph> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [SERVER_ENTRY],
    bundle: true,
    write: false,
    outdir: join(BUILD, 'tmp-server-graph'),
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    metafile: true,
    logLevel: 'warning',
  });
  const builtins = new Set(builtinModules);
  const { dependencies: ranges } = rootPackage();
  const dependencies: Record<string, string> = {};
  for (const input of Object.values(result.metafile.inputs))
    for (const imp of input.imports) {
      if (!imp.external || imp.path.startsWith('node:') || builtins.has(imp.path)) continue;
      const name = packageName(imp.path);
      const range = ranges[name];
      if (range === undefined)
        throw new Error(`sc-server imports ${name}, which is not in package.json dependencies`);
      dependencies[name] = range;
    }
  return { files: Object.keys(result.metafile.inputs).sort(), dependencies: sortKeys(dependencies) };
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

/** LICENSE, README.md and docs/ into a package directory (both packages and both .debs carry them). */
export function copyDocs(dest: string): void {
  cpSync(join(ROOT, 'LICENSE'), join(dest, 'LICENSE'));
  cpSync(join(ROOT, 'README.md'), join(dest, 'README.md'));
  cpSync(join(ROOT, 'docs'), join(dest, 'docs'), { recursive: true });
}

export function writeJson(file: string, value: unknown): void {
  writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

/** Where the license of a node binary is: beside an official build, or where Debian-style packages put it. */
export function nodeLicense(node: string): string | null {
  const candidates = [
    join(dirname(dirname(node)), 'LICENSE'),
    '/usr/share/doc/nodejs/LICENSE',
    '/usr/share/doc/nodejs/copyright',
  ];
  return candidates.find((c) => existsSync(c)) ?? null;
}

/**
 * THIRD-PARTY-NOTICES.txt: the license of every package the bundle holds (from its metafile), and of the
 * node binary when NODE is given (the single executable and the server .deb carry one).
 */
export function writeNotices(file: string, meta: Metafile | null, node: string | null): void {
  const dirs = new Set<string>();
  for (const input of Object.keys(meta?.inputs ?? {})) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(m[1]!);
  }
  const parts = [
    'Sluice is licensed under the Apache License 2.0 (LICENSE). It includes the following third-party software.\n',
  ];
  if (node) {
    const license = nodeLicense(node);
    parts.push(
      `=== Node.js ${process.version} (the runtime inside this program) ===\n` +
        (license
          ? readFileSync(license, 'utf8')
          : `MIT License and the licenses of its dependencies: https://github.com/nodejs/node/blob/${process.version}/LICENSE\n`),
    );
  }
  for (const dir of [...dirs].sort()) {
    const pkg = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as {
      name: string;
      version: string;
      license?: string;
    };
    const licenseFile = readdirSync(join(ROOT, dir)).find((f) => /^(licen[cs]e|copying)/i.test(f));
    parts.push(
      `=== ${pkg.name}@${pkg.version} (${pkg.license ?? 'see below'}) ===\n` +
        (licenseFile
          ? readFileSync(join(ROOT, dir, licenseFile), 'utf8')
          : `License: ${pkg.license ?? 'unknown'}\n`),
    );
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, parts.join('\n'));
}

/** Stages the client package: one bundled file, no dependencies, nothing to compile. */
export async function stageClient(dir: string): Promise<Metafile> {
  freshDir(dir);
  const root = rootPackage();
  const meta = await bundleClient(join(dir, 'bin', 'sc.cjs'));
  copyDocs(dir);
  writeNotices(join(dir, 'THIRD-PARTY-NOTICES.txt'), meta, null);
  writeJson(join(dir, 'package.json'), {
    name: CLIENT_PACKAGE,
    version: root.version,
    description:
      'Sluice client `sc`: a self-hosted secure tunnel for browser testing with the SC5 command line.',
    license: root.license,
    bin: { sc: 'bin/sc.cjs' },
    files: ['bin', 'docs', 'README.md', 'LICENSE', 'THIRD-PARTY-NOTICES.txt'],
    engines: root.engines,
  });
  return meta;
}

/** Stages the server package: the dist/ files sc-server loads, and only the packages they import. */
export async function stageServer(dir: string): Promise<ServerGraph> {
  freshDir(dir);
  const root = rootPackage();
  const graph = await serverGraph();
  for (const file of graph.files) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(join(ROOT, file), join(dir, file));
  }
  // The web console's static files are read from disk, not imported (scripts/build-console.ts puts them here).
  if (!existsSync(join(ROOT, CONSOLE_STATIC, 'index.html')))
    throw new Error(`${CONSOLE_STATIC} is missing: run "npm run build" first`);
  cpSync(join(ROOT, CONSOLE_STATIC), join(dir, CONSOLE_STATIC), { recursive: true });
  copyDocs(dir);
  writeJson(join(dir, 'package.json'), {
    name: SERVER_PACKAGE,
    version: root.version,
    description: 'Sluice server `sc-server`: accounts, tunnels REST API, tunnel edge and proxy entry.',
    license: root.license,
    type: 'module',
    bin: { 'sc-server': SERVER_ENTRY },
    files: ['dist', 'docs', 'README.md', 'LICENSE'],
    engines: root.engines,
    dependencies: graph.dependencies,
    // better-sqlite3's install step fetches or compiles its binding; npm asks that it be allowed.
    allowScripts: { 'better-sqlite3': true },
  });
  return graph;
}

/** `npm pack` of a staged directory into DEST; returns the tarball's path. */
export function npmPack(dir: string, dest: string): string {
  mkdirSync(dest, { recursive: true });
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dest], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [info] = JSON.parse(out) as { filename: string }[];
  return join(dest, info!.filename);
}

/** Files under DIR, relative to it, sorted (for manifests and tests). */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}
